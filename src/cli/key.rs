//! `otactl key generate` and `otactl key show`.

use std::path::PathBuf;

use clap::Subcommand;

use super::{Ctx, display};
use crate::error::{ExitCode, Result};
use crate::ops::key;
use crate::output::Format;

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Make a new Ed25519 key pair.
    ///
    /// The private key is written as PKCS#8 PEM with mode 0600, the public key as
    /// `SubjectPublicKeyInfo` PEM (what `openssl genpkey -algorithm ed25519` and
    /// `openssl pkey -pubout` write). Neither file is ever overwritten, and the
    /// private key is never written inside a git work tree.
    Generate {
        /// Where to write the private key (outside every git work tree).
        #[arg(long, value_name = "FILE")]
        private: PathBuf,
        /// Where to write the public key, e.g. `keys/ota_pubkey.pem` in the channel repository.
        #[arg(long, value_name = "FILE")]
        public: PathBuf,
    },
    /// Print the public key PEM and key id of a private or public key file.
    ///
    /// The PEM goes to stdout (redirect it to make a public key file), the key id
    /// to stderr; `--format json` prints both as one JSON document.
    Show {
        /// A private or public Ed25519 key, PEM or DER.
        file: PathBuf,
        /// Output format.
        #[arg(long, default_value = "text", value_parser = Format::parser(Format::DATA))]
        format: Format,
    },
}

impl KeyCommand {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            KeyCommand::Generate { private, public } => {
                let generated = key::generate(&private, &public)?;
                ctx.printer.status(&format!(
                    "wrote private key `{}` (mode 0600; keep it offline)",
                    display(&private)
                ));
                ctx.printer
                    .status(&format!("wrote public key `{}`", display(&public)));
                ctx.printer.data(&generated.key_id);
            }
            KeyCommand::Show { file, format } => {
                let shown = key::show(&file)?;
                if format == Format::Json {
                    ctx.printer.json(&shown)?;
                } else {
                    ctx.printer.data(shown.public_key_pem.trim_end());
                    ctx.printer.status(&format!(
                        "key id {} ({} key file `{}`)",
                        shown.key_id, shown.kind, shown.file
                    ));
                }
            }
        }
        Ok(ExitCode::Success)
    }
}
