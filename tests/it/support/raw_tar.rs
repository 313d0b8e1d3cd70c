//! Hostile tarballs written header by header: any entry type, any name bytes (`..`,
//! NUL, escapes), extension entries of any declared size, bodies streamed into gzip
//! so that a bomb of gigabytes costs the test a few megabytes.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::write::GzEncoder;

/// A gzip tar stream under construction.
pub struct RawTar {
    gz: GzEncoder<Vec<u8>>,
}

impl Default for RawTar {
    fn default() -> Self {
        RawTar::new()
    }
}

impl RawTar {
    pub fn new() -> RawTar {
        RawTar {
            gz: GzEncoder::new(Vec::new(), Compression::best()),
        }
    }

    /// git's pax global header: `comment=<commit>`.
    pub fn commit(mut self, commit: &str) -> RawTar {
        let body = pax_record("comment", commit.as_bytes());
        self.entry(
            tar::EntryType::XGlobalHeader,
            b"pax_global_header",
            b"",
            &body,
        );
        self
    }

    /// A folder entry.
    pub fn dir(mut self, name: &str) -> RawTar {
        self.entry(tar::EntryType::Directory, name.as_bytes(), b"", b"");
        self
    }

    /// A regular file with a small body.
    pub fn file(mut self, name: &[u8], body: &[u8]) -> RawTar {
        self.entry(tar::EntryType::Regular, name, b"", body);
        self
    }

    /// A symlink.
    pub fn symlink(mut self, name: &str, target: &str) -> RawTar {
        self.entry(
            tar::EntryType::Symlink,
            name.as_bytes(),
            target.as_bytes(),
            b"",
        );
        self
    }

    /// A hard link.
    pub fn hard_link(mut self, name: &str, target: &str) -> RawTar {
        self.entry(
            tar::EntryType::Link,
            name.as_bytes(),
            target.as_bytes(),
            b"",
        );
        self
    }

    /// A pax `x` header for the next entry with these records.
    pub fn pax(mut self, records: &[(&str, &[u8])]) -> RawTar {
        let body: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
        self.entry(tar::EntryType::XHeader, b"PaxHeader/x", b"", &body);
        self
    }

    /// A GNU long name (`L`) for the next entry.
    pub fn long_name(mut self, name: &[u8]) -> RawTar {
        let body = [name, b"\0"].concat();
        self.entry(tar::EntryType::GNULongName, b"././@LongLink", b"", &body);
        self
    }

    /// An entry of `kind` whose body is `size` copies of `byte`, streamed.
    pub fn repeated(mut self, kind: tar::EntryType, name: &[u8], size: u64, byte: u8) -> RawTar {
        self.header(kind, name, b"", size);
        std::io::copy(&mut std::io::repeat(byte).take(size), &mut self.gz).unwrap();
        self.pad(size);
        self
    }

    /// The finished `.tar.gz` bytes (two zero blocks end the archive).
    pub fn finish(mut self) -> Vec<u8> {
        self.gz.write_all(&[0u8; 1024]).unwrap();
        self.gz.finish().unwrap()
    }

    fn entry(&mut self, kind: tar::EntryType, name: &[u8], link: &[u8], body: &[u8]) {
        self.header(kind, name, link, body.len() as u64);
        self.gz.write_all(body).unwrap();
        self.pad(body.len() as u64);
    }

    fn header(&mut self, kind: tar::EntryType, name: &[u8], link: &[u8], size: u64) {
        let mut header = tar::Header::new_ustar();
        {
            let raw = header.as_ustar_mut().unwrap();
            raw.name[..name.len()].copy_from_slice(name);
            raw.linkname[..link.len()].copy_from_slice(link);
        }
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_mtime(1_768_493_640);
        header.set_cksum();
        self.gz.write_all(header.as_bytes()).unwrap();
    }

    fn pad(&mut self, size: u64) {
        let rest = (512 - size % 512) % 512;
        std::io::copy(&mut std::io::repeat(0).take(rest), &mut self.gz).unwrap();
    }
}

/// One pax record, `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut record = format!("{len} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}
