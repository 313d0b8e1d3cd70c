//! otactl: publish, sign, verify and lint OTA channel manifests.
//!
//! Layers, from the inside out:
//! - the pure core: [`manifest`] (types, strict reader, canonical bytes),
//!   [`build_id`], [`keys`], [`lint`] and [`config`] merging — no files, clock or
//!   network; time is a parameter;
//! - the edges: [`fsx`] (atomic writes), [`hash`], [`git`], [`output`];
//! - [`cli`]: one file per command, turning flags into calls of the above.

pub mod build_id;
pub mod checklist;
pub mod cli;
pub mod config;
pub mod error;
pub mod fsx;
pub mod git;
pub mod hash;
pub mod inspect;
pub mod keys;
pub mod lint;
pub mod manifest;
pub mod ops;
pub mod output;
pub mod progress;
pub mod remote;
pub mod repo;
pub mod secrets;
pub mod settings;
pub mod tarball;
pub mod text;

pub use error::{Error, ExitCode, Result};
