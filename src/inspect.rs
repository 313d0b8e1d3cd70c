//! Inspection of a downloaded source tarball (SPEC 5 item 5): well formed, every
//! entry under `NAME-BUILD_ID/`, no `..`, no absolute path, no link leaving the
//! tree, and the commit id of git's pax header.
//!
//! The stream is read once, in bounded memory, whatever it holds. The tar reader
//! runs in raw mode, so that no extension entry (GNU long names `L`/`K`, pax `x`/`g`)
//! is read whole behind our back: each is refused over [`MAX_EXTENSION`] before it
//! is read, and the names they carry are applied here to the entry they describe,
//! so the names checked are the names an extractor uses. The inflated size is
//! limited while inflating (`--max-unpacked`). Links are resolved against every
//! symlink of the archive once it has been read, the way a file system resolves
//! them after extraction.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::Read;
use std::rc::Rc;

use crate::text::code;

/// What the inspection found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspection {
    /// Entries read (extension headers included).
    pub entries: usize,
    /// The `comment` of git's pax global header: the commit id.
    pub commit: Option<String>,
    /// The top folder of the first entry, e.g. `evse-20260115-1614-9121078/`.
    pub top: Option<String>,
    /// Bytes inflated.
    pub unpacked: u64,
    /// Every problem, by entry.
    pub problems: Vec<String>,
}

/// The largest extension entry (long name, pax header) read: 64 KiB.
pub const MAX_EXTENSION: u64 = 64 * 1024;

/// The default limit on the inflated size (SPEC 6): 64 times the compressed size,
/// but at least 1 GiB and at most 16 GiB.
pub fn default_max_unpacked(compressed: u64) -> u64 {
    compressed.saturating_mul(64).clamp(1 << 30, 16 << 30)
}

/// How much the inflated stream may grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnpackLimit {
    /// A fixed number of bytes (`--max-unpacked`).
    Fixed(u64),
    /// [`default_max_unpacked`] of the compressed size: the announced length when
    /// there is one, else what has been read so far.
    Default {
        /// `Content-Length` or the file size.
        announced: Option<u64>,
    },
}

impl UnpackLimit {
    fn allowance(self, compressed_so_far: u64) -> u64 {
        match self {
            UnpackLimit::Fixed(n) => n,
            UnpackLimit::Default { announced } => {
                default_max_unpacked(compressed_so_far.max(announced.unwrap_or(0)))
            }
        }
    }
}

const MAX_PROBLEMS: usize = 20;

/// Reads a gzip tar stream and checks every entry against `prefix` (`NAME-ID/`); with
/// no prefix, the top folder of the first entry is taken as the prefix.
pub fn inspect_tar_gz<R: Read>(reader: R, prefix: Option<&str>, limit: UnpackLimit) -> Inspection {
    let compressed = Rc::new(Cell::new(0u64));
    let counted = Counting {
        inner: reader,
        count: Rc::clone(&compressed),
    };
    // Every gzip member is read: devices' tar readers extract them all.
    let inflated = Inflated {
        inner: flate2::read::MultiGzDecoder::new(counted),
        compressed,
        limit,
        unpacked: 0,
        over: Rc::new(Cell::new(None)),
    };
    let over = Rc::clone(&inflated.over);
    let mut archive = tar::Archive::new(inflated);
    let mut found = Inspection::default();
    let mut walk = Walk::new(prefix);
    match archive.entries() {
        Ok(entries) => {
            for entry in entries.raw(true) {
                let step = entry.map_err(|e| e.to_string()).and_then(|mut entry| {
                    found.entries += 1;
                    walk.entry(&mut entry, &mut found)
                });
                match step {
                    Ok(Flow::Go) => {}
                    Ok(Flow::Stop) => break,
                    Err(e) => {
                        if over.get().is_none() {
                            problem(&mut found, format!("not a well-formed tar.gz: {e}"));
                        }
                        break;
                    }
                }
            }
        }
        Err(e) => problem(&mut found, format!("not a well-formed tar.gz: {e}")),
    }
    if walk.pending.is_some() {
        problem(
            &mut found,
            "the archive ends with an extension header that describes no entry".to_owned(),
        );
    }
    let top = walk
        .prefix
        .map(str::to_owned)
        .or_else(|| found.top.clone())
        .unwrap_or_default();
    for link_problem in walk.links.problems(&top) {
        problem(&mut found, link_problem);
    }
    let inflated = archive.into_inner();
    found.unpacked = inflated.unpacked;
    if let Some(limit) = over.get() {
        // This one comes first: the other problems may be its consequences.
        found.problems.insert(
            0,
            format!("the tarball inflates to more than {limit} bytes (`--max-unpacked`)"),
        );
    }
    found
}

enum Flow {
    Go,
    Stop,
}

/// What the extension headers read so far say about the next entry.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Pax>,
}

/// The records of a pax header that change what an extractor does.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    comment: Option<String>,
}

/// The state of one pass over the entries.
struct Walk<'p> {
    prefix: Option<&'p str>,
    pending: Option<Pending>,
    links: LinkTree,
}

impl<'p> Walk<'p> {
    fn new(prefix: Option<&'p str>) -> Walk<'p> {
        Walk {
            prefix,
            pending: None,
            links: LinkTree::default(),
        }
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        found: &mut Inspection,
    ) -> Result<Flow, String> {
        let kind = entry.header().entry_type();
        let size = entry.header().entry_size().map_err(|e| e.to_string())?;
        let extension = match kind {
            tar::EntryType::GNULongName => Some("GNU long name (`L`)"),
            tar::EntryType::GNULongLink => Some("GNU long link name (`K`)"),
            tar::EntryType::XHeader => Some("pax header (`x`)"),
            tar::EntryType::XGlobalHeader => Some("pax global header (`g`)"),
            _ => None,
        };
        if let Some(what) = extension {
            if size > MAX_EXTENSION {
                problem(
                    found,
                    format!(
                        "a {what} entry of {size} bytes is larger than the {MAX_EXTENSION} bytes a source tarball needs; not read"
                    ),
                );
                return Ok(Flow::Stop);
            }
            let mut body = Vec::new();
            (&mut *entry)
                .take(MAX_EXTENSION)
                .read_to_end(&mut body)
                .map_err(|e| e.to_string())?;
            return Ok(self.extension(kind, what, body, found));
        }
        let pending = self.pending.take().unwrap_or_default();
        let pax = pending.pax.unwrap_or_default();
        if let Some(pax_size) = pax.size
            && pax_size != size
        {
            problem(
                found,
                format!(
                    "a pax header gives the entry {} a size of {pax_size} bytes, its tar header {size}: extractors would read the archive differently; not read further",
                    code(lossy(&entry.path_bytes()))
                ),
            );
            return Ok(Flow::Stop);
        }
        let path = pax
            .path
            .or(pending.long_name)
            .unwrap_or_else(|| entry.path_bytes().into_owned());
        let target = pax
            .linkpath
            .or(pending.long_link)
            .or_else(|| entry.link_name_bytes().map(std::borrow::Cow::into_owned));
        self.check(kind, &path, target.as_deref(), found);
        Ok(Flow::Go)
    }

    /// Takes in one extension header (at most [`MAX_EXTENSION`] bytes).
    fn extension(
        &mut self,
        kind: tar::EntryType,
        what: &str,
        body: Vec<u8>,
        found: &mut Inspection,
    ) -> Flow {
        if kind == tar::EntryType::XGlobalHeader {
            match parse_pax(&body) {
                Ok(pax) => {
                    if pax.path.is_some() || pax.linkpath.is_some() || pax.size.is_some() {
                        problem(
                            found,
                            "a pax global header sets `path`, `linkpath` or `size`, which extractors apply differently".to_owned(),
                        );
                    }
                    if pax.comment.is_some() {
                        found.commit = pax.comment;
                    }
                }
                Err(why) => problem(found, format!("a {what} is malformed: {why}")),
            }
            return Flow::Go;
        }
        let pending = self.pending.get_or_insert_with(Pending::default);
        let twice = match kind {
            tar::EntryType::GNULongName => pending.long_name.replace(c_string(body)).is_some(),
            tar::EntryType::GNULongLink => pending.long_link.replace(c_string(body)).is_some(),
            _ => match parse_pax(&body) {
                Ok(pax) => pending.pax.replace(pax).is_some(),
                Err(why) => {
                    problem(found, format!("a {what} is malformed: {why}"));
                    return Flow::Stop;
                }
            },
        };
        if twice {
            problem(
                found,
                format!(
                    "two {what} entries describe one entry; extractors disagree on which counts"
                ),
            );
        }
        Flow::Go
    }

    /// Checks one entry by the names an extractor would use.
    fn check(
        &mut self,
        kind: tar::EntryType,
        path_bytes: &[u8],
        target: Option<&[u8]>,
        found: &mut Inspection,
    ) {
        let path = lossy(path_bytes);
        if path_bytes.contains(&0) || target.is_some_and(|t| t.contains(&0)) {
            problem(found, format!("{} has a NUL byte in its name", code(&path)));
            return;
        }
        if path.starts_with('/') {
            problem(found, format!("{} is an absolute path", code(&path)));
            return;
        }
        if path.split('/').any(|c| c == "..") {
            problem(found, format!("{} climbs out with `..`", code(&path)));
            return;
        }
        let top = match path.split_once('/') {
            Some((top, _)) => format!("{top}/"),
            None => format!("{path}/"),
        };
        let expected = self
            .prefix
            .map(str::to_owned)
            .or_else(|| found.top.clone())
            .unwrap_or_else(|| top.clone());
        found.top.get_or_insert(top);
        let inner = match path.strip_prefix(expected.as_str()) {
            Some(inner) => inner.trim_end_matches('/'),
            None if format!("{path}/") == expected => "",
            None => {
                problem(
                    found,
                    format!("{} is not under {}", code(&path), code(&expected)),
                );
                return;
            }
        };
        // An entry below a symlink would be written through it, wherever it points.
        if let Some(link) = self.links.symlink_above(inner) {
            problem(
                found,
                format!(
                    "{} lies under the symlink {}",
                    code(&path),
                    code(format!("{expected}{link}"))
                ),
            );
            return;
        }
        let target = target.map(lossy).unwrap_or_default();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Directory | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink => {
                if inner.is_empty() {
                    problem(
                        found,
                        format!("the top folder {} is a symlink", code(&path)),
                    );
                } else if let Err(why) = self.links.add_symlink(inner, &target) {
                    problem(
                        found,
                        format!("symlink {} -> {} {why}", code(&path), code(&target)),
                    );
                }
            }
            tar::EntryType::Link => {
                let stays = target
                    .strip_prefix(expected.as_str())
                    .filter(|t| !t.split('/').any(|c| c == ".."));
                match stays {
                    Some(inner_target) => {
                        if let Err(why) = self.links.add_hard_link(inner, inner_target) {
                            problem(
                                found,
                                format!("hard link {} -> {} {why}", code(&path), code(&target)),
                            );
                        }
                    }
                    None => problem(
                        found,
                        format!(
                            "hard link {} -> {} leaves the tree",
                            code(&path),
                            code(&target)
                        ),
                    ),
                }
            }
            other => problem(
                found,
                format!(
                    "{} is a {other:?} entry, which a source tarball never holds",
                    code(&path)
                ),
            ),
        }
    }
}

/// The links of an archive, checked once all of them are known (a link may pass
/// through a symlink that comes later in the archive: the file system resolves it
/// after extraction).
#[derive(Default)]
pub struct LinkTree {
    symlinks: HashMap<String, String>,
    hard_links: Vec<(String, String)>,
    stored: usize,
    full: bool,
}

/// How many bytes of link names a [`LinkTree`] keeps (memory stays bounded).
const MAX_LINK_BYTES: usize = 16 << 20;

/// How many symlinks one resolution may pass through, as Linux allows.
const MAX_HOPS: usize = 40;

impl LinkTree {
    /// Records a symlink at `inner` (relative to the top folder) pointing at `target`.
    pub fn add_symlink(&mut self, inner: &str, target: &str) -> Result<(), &'static str> {
        if target.starts_with('/') {
            return Err("points to an absolute path");
        }
        if target.is_empty() {
            return Err("has an empty target");
        }
        self.keep(inner, target);
        self.symlinks
            .insert(inner.trim_end_matches('/').to_owned(), target.to_owned());
        Ok(())
    }

    /// Records a hard link at `inner` to `target` (both relative to the top folder).
    pub fn add_hard_link(&mut self, inner: &str, target: &str) -> Result<(), &'static str> {
        if target.is_empty() {
            return Err("links to the top folder");
        }
        self.keep(inner, target);
        self.hard_links.push((inner.to_owned(), target.to_owned()));
        Ok(())
    }

    fn keep(&mut self, inner: &str, target: &str) {
        self.stored += inner.len() + target.len();
        if self.stored > MAX_LINK_BYTES {
            self.full = true;
            self.symlinks.clear();
            self.hard_links.clear();
        }
    }

    /// The symlink that `inner`, or a folder above it, is (as seen so far).
    fn symlink_above(&self, inner: &str) -> Option<&str> {
        if self.symlinks.is_empty() {
            return None;
        }
        let mut end = 0;
        while let Some(at) = inner[end..].find('/') {
            end += at;
            if let Some((link, _)) = self.symlinks.get_key_value(&inner[..end]) {
                return Some(link);
            }
            end += 1;
        }
        None
    }

    /// Every link that, once extracted, resolves outside the top folder `top`
    /// (`NAME-ID/`, shown before each name).
    pub fn problems(&self, top: &str) -> Vec<String> {
        if self.full {
            return vec![format!(
                "the archive's links hold more than {MAX_LINK_BYTES} bytes of names; too many to check"
            )];
        }
        let mut problems = Vec::new();
        let mut symlinks: Vec<(&String, &String)> = self.symlinks.iter().collect();
        symlinks.sort();
        for (link, target) in symlinks {
            let parent = link.rsplit_once('/').map_or("", |(p, _)| p);
            if let Err(why) = self.resolve(parent, target, true) {
                problems.push(format!(
                    "symlink {} -> {} {why} once extracted",
                    code(format!("{top}{link}")),
                    code(target)
                ));
            }
        }
        for (link, target) in &self.hard_links {
            if let Err(why) = self.resolve("", target, false) {
                problems.push(format!(
                    "hard link {} -> {} {why} once extracted",
                    code(format!("{top}{link}")),
                    code(format!("{top}{target}"))
                ));
            }
        }
        problems
    }

    /// Resolves `target` from the folder `from` (both relative to the top folder)
    /// through the archive's symlinks; `follow_last`: whether a symlink in the
    /// last place is followed too (a symlink's target is; a hard link's is not).
    fn resolve(&self, from: &str, target: &str, follow_last: bool) -> Result<(), &'static str> {
        let mut at: Vec<String> = components(from).map(str::to_owned).collect();
        let mut rest: Vec<String> = components(target).rev().map(str::to_owned).collect();
        let mut hops = 0;
        while let Some(part) = rest.pop() {
            match part.as_str() {
                "." => {}
                ".." => {
                    if at.pop().is_none() {
                        return Err("leaves the tree");
                    }
                }
                name => {
                    at.push(name.to_owned());
                    if !follow_last && rest.is_empty() {
                        break;
                    }
                    if let Some(next) = self.symlinks.get(&at.join("/")) {
                        hops += 1;
                        if hops > MAX_HOPS {
                            return Err("loops through symlinks");
                        }
                        if next.starts_with('/') {
                            return Err("passes through a symlink to an absolute path");
                        }
                        at.pop();
                        rest.extend(components(next).rev().map(str::to_owned));
                    }
                }
            }
        }
        Ok(())
    }
}

fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// Records a problem, up to a limit.
fn problem(found: &mut Inspection, text: String) {
    if found.problems.len() < MAX_PROBLEMS {
        found.problems.push(text);
    } else if found.problems.len() == MAX_PROBLEMS {
        found.problems.push("… and more".to_owned());
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A GNU long name body: the name up to its first NUL.
fn c_string(mut body: Vec<u8>) -> Vec<u8> {
    if let Some(end) = body.iter().position(|b| *b == 0) {
        body.truncate(end);
    }
    body
}

/// The records of a pax header body: `"<len> <key>=<value>\n"`, where `<len>` counts
/// the whole record.
fn parse_pax(body: &[u8]) -> Result<Pax, String> {
    let mut pax = Pax::default();
    let mut rest = body;
    while !rest.is_empty() {
        if rest.iter().all(|b| *b == 0) {
            break;
        }
        let space = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or("a record has no length")?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("a record length is not a number")?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err("a record length does not match the record".to_owned());
        }
        let record = &rest[space + 1..len - 1];
        rest = &rest[len..];
        let eq = record
            .iter()
            .position(|b| *b == b'=')
            .ok_or("a record has no `=`")?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" => pax.path = Some(value.to_vec()),
            b"linkpath" => pax.linkpath = Some(value.to_vec()),
            b"size" => {
                pax.size = Some(
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or("the `size` record is not a number")?,
                );
            }
            b"comment" => pax.comment = Some(lossy(value)),
            _ => {}
        }
    }
    Ok(pax)
}

/// Counts the compressed bytes read.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// The inflated stream, which fails once it grows past its limit.
struct Inflated<R> {
    inner: R,
    compressed: Rc<Cell<u64>>,
    limit: UnpackLimit,
    unpacked: u64,
    over: Rc<Cell<Option<u64>>>,
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.unpacked += n as u64;
        let allowance = self.limit.allowance(self.compressed.get());
        if self.unpacked > allowance {
            self.over.set(Some(allowance));
            return Err(std::io::Error::other("the inflated size is over its limit"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(links: &[(&str, &str)]) -> LinkTree {
        let mut tree = LinkTree::default();
        for (link, target) in links {
            tree.add_symlink(link, target).unwrap();
        }
        tree
    }

    #[test]
    fn symlinks_inside_and_out() {
        assert!(tree(&[("a/b", "c")]).problems("").is_empty());
        assert!(tree(&[("a/b", "../c")]).problems("").is_empty());
        assert_eq!(tree(&[("a/b", "../../c")]).problems("").len(), 1);
        assert!(tree(&[("b", "./x/../y")]).problems("").is_empty());
        assert!(LinkTree::default().add_symlink("b", "/etc/passwd").is_err());
    }

    #[test]
    fn a_chain_of_symlinks_that_leaves_is_caught() {
        // `a/b -> ..` stays inside (it is the top folder); `c -> a/b/..` resolves to
        // the top folder's parent once `a/b` is followed.
        let problems = tree(&[("a/b", ".."), ("c", "a/b/..")]).problems("");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("leaves the tree"));
        // Order in the archive does not matter.
        assert_eq!(
            tree(&[("c", "a/b/.."), ("a/b", "..")]).problems("").len(),
            1
        );
        // A chain that stays inside is fine.
        assert!(
            tree(&[("lib", "src/lib"), ("x", "lib/y")])
                .problems("")
                .is_empty()
        );
    }

    #[test]
    fn symlink_loops_end() {
        let problems = tree(&[("a", "b"), ("b", "a")]).problems("");
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains("loops"));
    }

    #[test]
    fn hard_link_through_a_symlink_chain() {
        let mut t = tree(&[("a/b", ".."), ("c", "a/b/..")]);
        t.add_hard_link("h", "c/etc/passwd").unwrap();
        let problems = t.problems("");
        assert!(
            problems.iter().any(|p| p.starts_with("hard link")),
            "{problems:?}"
        );
        // A hard link to a symlink itself is not followed.
        let mut t = tree(&[("s", "x")]);
        t.add_hard_link("h", "s").unwrap();
        assert!(t.problems("").is_empty());
    }

    #[test]
    fn pax_records() {
        let record = format!("52 comment={}\n", "9121078a".repeat(5));
        let pax = parse_pax(record.as_bytes()).unwrap();
        assert_eq!(pax.comment, Some("9121078a".repeat(5)));
        let pax = parse_pax(b"13 path=../x\n12 size=100\n").unwrap();
        assert_eq!(pax.path.as_deref(), Some(&b"../x"[..]));
        assert_eq!(pax.size, Some(100));
        assert!(parse_pax(b"99 path=x\n").is_err());
        assert!(parse_pax(b"x path=x\n").is_err());
    }

    #[test]
    fn default_unpacked_limit() {
        assert_eq!(default_max_unpacked(1000), 1 << 30);
        assert_eq!(default_max_unpacked(100 << 20), 6400 << 20);
        assert_eq!(default_max_unpacked(1 << 40), 16 << 30);
    }
}
