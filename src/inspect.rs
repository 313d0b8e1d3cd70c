//! Inspection of a downloaded source tarball (SPEC 5 item 5): well formed, every
//! entry under `NAME-BUILD_ID/`, no `..`, no absolute path, no link leaving the
//! tree, and the commit id of git's pax header. Reads a stream once; holds no entry.

use std::io::Read;

/// What the inspection found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspection {
    /// Entries read (the pax header included).
    pub entries: usize,
    /// The `comment` of git's pax global header: the commit id.
    pub commit: Option<String>,
    /// The top folder of the first entry, e.g. `evse-20260115-1614-9121078/`.
    pub top: Option<String>,
    /// Every problem, by entry.
    pub problems: Vec<String>,
}

const MAX_PROBLEMS: usize = 20;

/// Reads a gzip tar stream and checks every entry against `prefix` (`NAME-ID/`); with
/// no prefix, the top folder of the first entry is taken as the prefix.
pub fn inspect_tar_gz<R: Read>(reader: R, prefix: Option<&str>) -> Inspection {
    let mut found = Inspection::default();
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(reader));
    // Every gzip member is read: devices' tar readers extract them all.
    let mut symlinks: Vec<String> = Vec::new();
    let entries = match archive.entries() {
        Ok(entries) => entries,
        Err(e) => {
            found
                .problems
                .push(format!("not a well-formed tar.gz: {e}"));
            return found;
        }
    };
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problem(&mut found, format!("not a well-formed tar.gz: {e}"));
                return found;
            }
        };
        found.entries += 1;
        let kind = entry.header().entry_type();
        if kind == tar::EntryType::XGlobalHeader {
            let mut body = Vec::new();
            if entry
                .by_ref()
                .take(64 * 1024)
                .read_to_end(&mut body)
                .is_ok()
            {
                found.commit = pax_comment(&body).or(found.commit.take());
            }
            continue;
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if path.starts_with('/') {
            problem(&mut found, format!("`{path}` is an absolute path"));
            continue;
        }
        if path.split('/').any(|c| c == "..") {
            problem(&mut found, format!("`{path}` climbs out with `..`"));
            continue;
        }
        let top = match path.split_once('/') {
            Some((top, _)) => format!("{top}/"),
            None => format!("{path}/"),
        };
        let expected = prefix
            .map(str::to_owned)
            .or_else(|| found.top.clone())
            .unwrap_or_else(|| top.clone());
        found.top.get_or_insert(top);
        let under = path
            .strip_prefix(expected.as_str())
            .or_else(|| (format!("{path}/") == expected).then_some(""));
        let Some(inner) = under else {
            problem(&mut found, format!("`{path}` is not under `{expected}`"));
            continue;
        };
        // An entry below a symlink would be written through it, wherever it points.
        if let Some(link) = symlinks.iter().find(|l| path.starts_with(&format!("{l}/"))) {
            problem(
                &mut found,
                format!("`{path}` lies under the symlink `{link}`"),
            );
            continue;
        }
        match kind {
            tar::EntryType::Regular | tar::EntryType::Directory | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink => {
                symlinks.push(path.trim_end_matches('/').to_owned());
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                if let Err(why) = link_stays_inside(inner, &target) {
                    problem(&mut found, format!("symlink `{path}` -> `{target}` {why}"));
                }
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                if !target.starts_with(expected.as_str()) || target.split('/').any(|c| c == "..") {
                    problem(
                        &mut found,
                        format!("hard link `{path}` -> `{target}` leaves the tree"),
                    );
                }
            }
            other => problem(
                &mut found,
                format!("`{path}` is a {other:?} entry, which a source tarball never holds"),
            ),
        }
    }
    found
}

/// Records a problem, up to a limit.
fn problem(found: &mut Inspection, text: String) {
    if found.problems.len() < MAX_PROBLEMS {
        found.problems.push(text);
    } else if found.problems.len() == MAX_PROBLEMS {
        found.problems.push("… and more".to_owned());
    }
}

/// The `comment` record of a pax header body (`"<len> comment=<value>\n"` records).
fn pax_comment(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.lines().find_map(|record| {
        let (_, kv) = record.split_once(' ')?;
        kv.strip_prefix("comment=").map(str::to_owned)
    })
}

/// Whether a symlink at `inner` (relative to the top folder) pointing at `target`
/// resolves inside the top folder.
fn link_stays_inside(inner: &str, target: &str) -> Result<(), &'static str> {
    if target.starts_with('/') {
        return Err("points to an absolute path");
    }
    let mut depth: Vec<&str> = inner
        .trim_end_matches('/')
        .split('/')
        .filter(|c| !c.is_empty())
        .collect();
    depth.pop(); // the link itself
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                if depth.pop().is_none() {
                    return Err("leaves the tree");
                }
            }
            other => depth.push(other),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links() {
        assert!(link_stays_inside("a/b", "c").is_ok());
        assert!(link_stays_inside("a/b", "../c").is_ok());
        assert!(link_stays_inside("a/b", "../../c").is_err());
        assert!(link_stays_inside("b", "./x/../y").is_ok());
        assert!(link_stays_inside("b", "/etc/passwd").is_err());
    }

    #[test]
    fn pax() {
        assert_eq!(
            pax_comment(b"52 comment=9121078aa\n").as_deref(),
            Some("9121078aa")
        );
        assert_eq!(pax_comment(b"20 path=x\n"), None);
    }
}
