//! The operations behind the commands, as library calls (cargo's commands-over-ops
//! shape): each takes a [`Repo`](crate::repo::Repo), a request, the clock through
//! the repository and a [`Reporter`](crate::progress::Reporter) for long transfers,
//! and returns a value for the command to print. Nothing here prints or reads flags;
//! `release`, `promote` and `pr` are compositions of these.

pub mod init;
pub mod key;
pub mod lint;
pub mod manifest;
pub mod pr;
pub mod promote;
pub mod publish;
pub mod release;
pub mod rollback;
pub mod status;
pub mod tar;
pub mod verify;

use crate::error::Error;

/// An error of resolving `--ref` in `--source`, as a bad value of the flag at fault.
pub(crate) fn source_or_ref(e: Error) -> Error {
    if matches!(e, Error::NotARepository { .. }) {
        e.for_flag("--source")
    } else {
        e.for_flag("--ref")
    }
}
