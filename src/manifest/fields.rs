//! The rules of single manifest values (SPEC 2.1): the characters a string may hold,
//! `artifact.sha256`, `created_utc`, `artifact.url` and the typed OCI reference of an
//! `oci://` URL. Pure: each function looks at one value.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use super::ArtifactKind;
use crate::text::code;

/// Whether SPEC 2.1 forbids `c` in a manifest string: a control character (C0,
/// DEL, C1) or a bidirectional override or isolate.
pub(crate) fn is_forbidden_char(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The first forbidden character of `s`, as a finding's message part:
/// `the control character U+0085 at character 3`.
pub(crate) fn describe_forbidden(s: &str) -> Option<(String, &'static str)> {
    let (pos, c) = s.chars().enumerate().find(|(_, c)| is_forbidden_char(*c))?;
    let (what, hint) = if is_bidi_control(c) {
        (
            "the bidirectional override",
            "remove it; manifest strings may not contain bidirectional overrides (they make text show in another order than it is stored)",
        )
    } else {
        (
            "the control character",
            "remove it; manifest strings may not contain control characters",
        )
    };
    Some((
        format!("{what} U+{:04X} at character {}", c as u32, pos + 1),
        hint,
    ))
}

/// `s` with every forbidden character written as `\u{202e}`.
pub fn escape_forbidden(s: &str) -> std::borrow::Cow<'_, str> {
    crate::text::escape_where(s, is_forbidden_char)
}

/// Whether `s` is 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(crate) fn describe_hex(s: &str) -> String {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        "uppercase hex digits".to_owned()
    } else {
        format!("{} characters", s.chars().count())
    }
}

/// Checks `created_utc`: `YYYY-MM-DDTHH:MM:SSZ`, a real instant.
pub fn check_created_utc(s: &str) -> Result<OffsetDateTime, String> {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    // Byte positions: the value may hold any text, so never slice it.
    let at19 = s.as_bytes().get(19).copied();
    if at19 == Some(b'.') {
        return Err("has a fraction of a second".into());
    }
    if s.len() >= 19 && !s.ends_with('Z') {
        return Err(if matches!(at19, Some(b'+' | b'-')) {
            "has a UTC offset instead of `Z`".into()
        } else {
            "does not end with `Z`".into()
        });
    }
    if s.len() != 20 {
        return Err("is not in the required form".into());
    }
    time::PrimitiveDateTime::parse(s, format)
        .map(time::PrimitiveDateTime::assume_utc)
        .map_err(|_| "is not a real date and time".into())
}

/// Checks `artifact.url` against the URL rules of SPEC 2.1 and the artifact kind.
pub fn check_url(s: &str, kind: Option<ArtifactKind>) -> Result<(), String> {
    if s.chars().any(char::is_whitespace) {
        return Err("contains white space".into());
    }
    let shown = code(without_userinfo(s));
    let url = url::Url::parse(s).map_err(|e| format!("{shown} is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not carry a user name or password; use a token or registry credentials instead"
                .into(),
        );
    }
    // A device's URL library must read the same URL: accept only the normalised
    // spelling (`https:host/x`, backslashes, `127.1`, upper-case hosts are refused).
    if !s.starts_with(&format!("{}://", url.scheme()))
        || (url.scheme() != "oci" && url.as_str() != s)
    {
        return Err(format!(
            "{shown} is not in normalised form; write it as {}",
            code(url.as_str())
        ));
    }
    let is_oci = url.scheme() == "oci";
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                return Err(format!(
                    "{shown} uses plain http; use https (http is accepted only for loopback hosts)"
                ));
            }
        }
        "file" => {
            if url.path().len() <= 1 {
                return Err(format!("{shown} names no file"));
            }
        }
        "oci" => check_oci_url(s)?,
        other => {
            return Err(format!(
                "has the scheme `{other}`; use `https://`, `file://` or `oci://REGISTRY/REPOSITORY:TAG`"
            ));
        }
    }
    if !is_oci && url.host_str().is_none_or(str::is_empty) && url.scheme() != "file" {
        return Err(format!("{shown} names no host"));
    }
    match kind {
        Some(ArtifactKind::Oci) if !is_oci => {
            Err("must be `oci://REGISTRY/REPOSITORY:TAG` for `artifact.kind` `oci`".into())
        }
        Some(k) if is_oci && k != ArtifactKind::Oci => Err(format!(
            "is an `oci://` URL but `artifact.kind` is `{k}`; use kind `oci`"
        )),
        _ => Ok(()),
    }
}

/// A URL as an error may show it: a user name or password before the host is
/// replaced by `…` (the URL may not even parse, so this works on the text).
pub fn without_userinfo(s: &str) -> std::borrow::Cow<'_, str> {
    let Some((scheme, rest)) = s.split_once("://") else {
        return std::borrow::Cow::Borrowed(s);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => std::borrow::Cow::Owned(format!("{scheme}://…@{}", &rest[at + 1..])),
        None => std::borrow::Cow::Borrowed(s),
    }
}

fn check_oci_url(s: &str) -> Result<(), String> {
    OciRef::from_url(s).map(drop)
}

/// An OCI artifact's place: `REGISTRY/REPOSITORY:TAG` (SPEC 2.1, 8), as an
/// `oci://` URL of a manifest or a `--ref` of `publish oci` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciRef {
    /// The registry host, with its port when there is one.
    pub registry: String,
    /// The repository: lowercase path parts of letters, digits, `.`, `_`, `-`.
    pub repository: String,
    /// The tag: at most 128 letters, digits, `.`, `_`, `-`, not starting with `.`
    /// or `-`.
    pub tag: String,
}

impl OciRef {
    /// Reads `oci://REGISTRY/REPOSITORY:TAG`.
    pub fn from_url(s: &str) -> Result<OciRef, String> {
        let bad = || {
            format!(
                "{} is not of the form `oci://REGISTRY/REPOSITORY:TAG`",
                code(without_userinfo(s))
            )
        };
        s.strip_prefix("oci://")
            .ok_or_else(bad)?
            .parse()
            .map_err(|_: String| bad())
    }

    /// The `oci://` URL of the reference.
    pub fn url(&self) -> String {
        format!("oci://{self}")
    }
}

impl FromStr for OciRef {
    type Err = String;

    /// Reads `REGISTRY/REPOSITORY:TAG`.
    fn from_str(s: &str) -> Result<OciRef, String> {
        let bad = || format!("{} is not of the form `REGISTRY/REPOSITORY:TAG`", code(s));
        let (registry, path) = s.split_once('/').ok_or_else(bad)?;
        let (repository, tag) = path.rsplit_once(':').ok_or_else(bad)?;
        let repo_ok = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
                    && part.as_bytes()[0].is_ascii_alphanumeric()
            });
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.as_bytes()[0] != b'.'
            && tag.as_bytes()[0] != b'-'
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if registry.is_empty() || registry.contains('@') || !repo_ok || !tag_ok {
            return Err(bad());
        }
        Ok(OciRef {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.to_owned(),
        })
    }
}

impl fmt::Display for OciRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository, self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rules() {
        assert!(
            check_url(
                "https://ota.example.com/a?b=1&c=2",
                Some(ArtifactKind::Firmware)
            )
            .is_ok()
        );
        assert!(check_url("http://127.0.0.1:8080/a", None).is_ok());
        assert!(check_url("http://localhost/a", None).is_ok());
        assert!(check_url("http://[::1]/a", None).is_ok());
        assert!(
            check_url("http://ota.example.com/a", None)
                .unwrap_err()
                .contains("plain http")
        );
        assert!(
            check_url("https://user:pw@ota.example.com/a", None)
                .unwrap_err()
                .contains("user name or password")
        );
        assert!(
            check_url("https://token@ota.example.com/a", None)
                .unwrap_err()
                .contains("user name or password")
        );
        assert!(
            check_url("ftp://ota.example.com/a", None)
                .unwrap_err()
                .contains("scheme `ftp`")
        );
        assert!(check_url("file:///srv/ota/x.tar.gz", None).is_ok());
        assert!(
            check_url(
                "oci://registry.example.com/my-repository/esp32:0.1.2",
                Some(ArtifactKind::Oci)
            )
            .is_ok()
        );
        assert!(
            check_url(
                "oci://registry.example.com:5000/esp32:0.1.2",
                Some(ArtifactKind::Oci)
            )
            .is_ok()
        );
        assert!(check_url("oci://registry.example.com/esp32", Some(ArtifactKind::Oci)).is_err());
        assert!(check_url("https://a.example/x", Some(ArtifactKind::Oci)).is_err());
        assert!(check_url("oci://r.example/esp32:1.0.0", Some(ArtifactKind::Firmware)).is_err());
        assert!(check_url(" https://a.example/x", None).is_err());
        assert!(
            check_url("https:ota.example.com/a", None)
                .unwrap_err()
                .contains("normalised")
        );
        assert!(check_url("https:///a", None).is_err());
        assert!(check_url("https://ota.example.com\\a", None).is_err());
        assert!(
            check_url("http://127.1/a", None)
                .unwrap_err()
                .contains("normalised")
        );
        assert!(
            check_url("https://OTA.example.com/a", None)
                .unwrap_err()
                .contains("normalised")
        );
        assert!(check_url("oci:ş", None).is_err());
    }

    #[test]
    fn url_errors_never_show_credentials() {
        for url in [
            "https://user:hunter2@HOST.example/x",
            "https://user:hunter2@[::1/x",
            "http://user:hunter2@ota.example.com/x",
            "oci://u:hunter2@reg.example/x",
        ] {
            let e = check_url(url, None).unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
        }
        assert_eq!(without_userinfo("https://a:b@h/p@q"), "https://…@h/p@q");
        assert_eq!(without_userinfo("https://h/p@q"), "https://h/p@q");
    }

    #[test]
    fn oci_references() {
        let r =
            OciRef::from_url("oci://registry.example.com:5000/my-repository/esp32:0.1.2").unwrap();
        assert_eq!(r.registry, "registry.example.com:5000");
        assert_eq!(r.repository, "my-repository/esp32");
        assert_eq!(r.tag, "0.1.2");
        assert_eq!(
            r.url(),
            "oci://registry.example.com:5000/my-repository/esp32:0.1.2"
        );
        assert_eq!(
            "r.example/a:1".parse::<OciRef>().unwrap().to_string(),
            "r.example/a:1"
        );
        for bad in [
            "r.example/a",
            "r.example/A:1",
            "/a:1",
            "r.example/a:-1",
            "r.example/a:",
        ] {
            assert!(bad.parse::<OciRef>().is_err(), "{bad}");
        }
        assert!(OciRef::from_url("https://r.example/a:1").is_err());
    }

    #[test]
    fn sha256_and_created_utc() {
        assert!(is_sha256_hex(&"a".repeat(64)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
        assert_eq!(describe_hex(&"A".repeat(64)), "uppercase hex digits");
        assert!(check_created_utc("2026-01-15T13:55:03Z").is_ok());
        assert_eq!(
            check_created_utc("2026-01-15T13:55:03.5Z").unwrap_err(),
            "has a fraction of a second"
        );
        assert_eq!(
            check_created_utc("2026-02-30T13:55:03Z").unwrap_err(),
            "is not a real date and time"
        );
    }

    #[test]
    fn forbidden_characters_are_named_and_escaped() {
        let (what, _) = describe_forbidden("ab\u{202e}").unwrap();
        assert_eq!(what, "the bidirectional override U+202E at character 3");
        assert_eq!(escape_forbidden("a\u{85}b"), "a\\u{0085}b");
        assert!(describe_forbidden("plain ş").is_none());
    }
}
