//! The operations behind the commands, as library calls (cargo's commands-over-ops
//! shape): each takes a [`Repo`](crate::repo::Repo), a request, the clock through
//! the repository and a [`Reporter`](crate::progress::Reporter) for long transfers,
//! and returns a value for the command to print. Nothing here prints or reads flags;
//! `release`, `promote` and `pr` are compositions of these.

pub mod key;
pub mod lint;
pub mod manifest;
pub mod verify;
