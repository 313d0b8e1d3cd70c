//! The single integration test binary: each module runs the real `otactl` binary
//! against files, keys and git repositories made on the fly.

mod support;

mod bad_input;
mod help;
mod key;
mod lint;
mod manifest;
mod tar;
mod vectors;
