//! Publishing targets and downloads: the release folder (`dir`) and plain
//! `file://`/`http(s)://` reads (`fetch`). GitHub and OCI targets join them here.

pub mod dir;
pub mod fetch;
