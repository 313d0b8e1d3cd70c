//! The single integration test binary: each module runs the real `otactl` binary
//! against files, keys and git repositories made on the fly.

// Tests read fixtures with std::fs, unwrap freely and build strings as they go.
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::format_push_string,
    clippy::items_after_statements,
    clippy::too_many_lines,
    clippy::doc_markdown,
    clippy::missing_panics_doc
)]

mod support;

mod action;
mod bad_input;
mod github_server;
mod help;
mod hostile_files;
mod hostile_local;
mod hostile_server;
mod hostile_tar;
mod house;
mod init;
mod key;
mod lint;
mod manifest_new;
mod manifest_sign;
mod manifest_verify;
mod oci_hostile;
mod open_items;
mod pr;
mod pre_commit;
mod promote;
mod publish_dir;
mod publish_github;
mod publish_oci;
mod real_repo;
mod registry_support;
mod release;
mod release_resume;
mod release_terminal;
mod rollback;
mod secrets;
mod shell;
mod step_summary;
mod tar;
mod terminal_manners;
mod vectors;
mod verify;
mod verify_github;
