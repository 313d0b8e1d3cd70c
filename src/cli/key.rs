//! `otactl key generate` and `otactl key show`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::Serialize;

use super::{Ctx, display};
use crate::error::{Error, ExitCode, Result};
use crate::fsx::{self, Existing};
use crate::git;
use crate::keys::{AnyKey, PrivateKey};

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
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum ShowFormat {
    Text,
    Json,
}

#[derive(Serialize)]
struct ShowReport {
    file: String,
    kind: &'static str,
    key_id: String,
    public_key_pem: String,
}

impl KeyCommand {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            KeyCommand::Generate { private, public } => generate(ctx, &private, &public),
            KeyCommand::Show { file, format } => show(ctx, &file, format),
        }
    }
}

fn generate(ctx: &Ctx, private: &Path, public: &Path) -> Result<ExitCode> {
    if let Some(worktree) = git::enclosing_work_tree(private) {
        return Err(Error::KeyInWorkTree {
            path: private.to_owned(),
            worktree,
        });
    }
    for path in [private, public] {
        if fsx::exists(path) {
            return Err(Error::KeyExists {
                path: path.to_owned(),
            });
        }
    }
    if std::path::absolute(private).ok() == std::path::absolute(public).ok() {
        return Err(Error::InvalidArg {
            flag: "--public",
            message: "must name another file than `--private`".into(),
        });
    }
    if let Some(parent) = private.parent().filter(|p| !p.as_os_str().is_empty()) {
        fsx::create_private_dir_all(parent)?;
    }
    if let Some(parent) = public.parent().filter(|p| !p.as_os_str().is_empty()) {
        fsx::create_dir_all(parent)?;
    }
    let key = PrivateKey::generate();
    let public_key = key.public_key();
    fsx::write_atomic(
        private,
        key.to_pem().as_bytes(),
        Some(0o600),
        Existing::Refuse,
    )?;
    if let Err(e) = fsx::write_atomic(
        public,
        public_key.to_pem().as_bytes(),
        Some(0o644),
        Existing::Refuse,
    ) {
        // Nothing half-made stays behind: the private key was created by this run.
        let _ = fsx::remove_file(private);
        return Err(e);
    }
    ctx.printer.status(&format!(
        "wrote private key `{}` (mode 0600; keep it offline)",
        display(private)
    ));
    ctx.printer
        .status(&format!("wrote public key `{}`", display(public)));
    ctx.printer.data(&public_key.key_id());
    Ok(ExitCode::Success)
}

fn show(ctx: &Ctx, file: &Path, format: ShowFormat) -> Result<ExitCode> {
    let bytes = zeroize::Zeroizing::new(fsx::read_limited(file, 64 * 1024, "a key file")?);
    let key = AnyKey::from_bytes(&bytes).map_err(|message| Error::Key {
        path: file.to_owned(),
        message,
    })?;
    let kind = match key {
        AnyKey::Private(_) => "private",
        AnyKey::Public(_) => "public",
    };
    let public = key.public_key();
    match format {
        ShowFormat::Text => {
            ctx.printer.data(public.to_pem().trim_end());
            ctx.printer.status(&format!(
                "key id {} ({kind} key file `{}`)",
                public.key_id(),
                display(file)
            ));
        }
        ShowFormat::Json => {
            let report = ShowReport {
                file: display(file),
                kind,
                key_id: public.key_id(),
                public_key_pem: public.to_pem(),
            };
            ctx.printer
                .data(&serde_json::to_string_pretty(&report).unwrap_or_default());
        }
    }
    Ok(ExitCode::Success)
}
