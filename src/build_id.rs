//! Build ids, `YYYYMMDD-HHMM-<gitsha>`, and their ordering (SPEC 2.2).
//!
//! Build ids compare by their time part only; the hash never orders two builds. Pure:
//! the current time is always a parameter.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A validated build id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BuildId {
    raw: String,
    time: PrimitiveDateTime,
}

/// Why a string is not a build id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} is not a build id: {reason}; expected `YYYYMMDD-HHMM-<gitsha>` (UTC, 7 to 40 lowercase hex digits)",
    crate::text::code(value)
)]
pub struct BuildIdError {
    value: String,
    reason: String,
}

impl BuildId {
    /// Builds the id of a commit made at `at` (converted to UTC).
    pub fn from_parts(at: OffsetDateTime, sha: &str) -> Result<BuildId, BuildIdError> {
        let at = at.to_offset(time::UtcOffset::UTC);
        let raw = format!(
            "{:04}{:02}{:02}-{:02}{:02}-{}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            sha
        );
        raw.parse()
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The time part, `YYYYMMDD-HHMM`.
    pub fn time_part(&self) -> &str {
        &self.raw[..13]
    }

    /// The git sha part.
    pub fn sha(&self) -> &str {
        &self.raw[14..]
    }

    /// The instant of the time part, in UTC.
    pub fn time(&self) -> OffsetDateTime {
        self.time.assume_utc()
    }

    /// Compares two build ids by their time part only.
    pub fn cmp_time(&self, other: &BuildId) -> Ordering {
        self.time.cmp(&other.time)
    }

    /// Reads a build id as an old manifest may carry it: a valid id, or a legacy one
    /// whose suffix is not a git sha, e.g. `20260113-1917-ota1` (the real channel
    /// repository's first deployed build). The time part must be a real one; the
    /// suffix is 1 to 40 ASCII letters, digits, `.`, `_` or `-`. A legacy id orders by
    /// its time part like any other (SPEC 2.2), but is never valid in a new manifest.
    /// A suffix of hex digits only (too short, or upper-case) is a mistyped sha, not a
    /// legacy id.
    pub fn parse_legacy(s: &str) -> Result<BuildId, BuildIdError> {
        let strict = s.parse::<BuildId>();
        if strict.is_ok() {
            return strict;
        }
        let err = |reason: String| BuildIdError {
            value: s.to_owned(),
            reason,
        };
        let (Some(time_part), Some(suffix)) = (s.get(..13), s.get(14..)) else {
            return strict;
        };
        // A suffix of hex digits (too short, or upper-case) is a mistyped sha, not a
        // legacy id.
        if s.as_bytes()[13] != b'-'
            || suffix.is_empty()
            || suffix.len() > 40
            || suffix.bytes().all(|b| b.is_ascii_hexdigit())
            || !suffix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return strict;
        }
        // The time part is checked as the time part of a valid id.
        let probe: BuildId = format!("{time_part}-0000000")
            .parse()
            .map_err(|e: BuildIdError| err(e.reason))?;
        Ok(BuildId {
            raw: s.to_owned(),
            time: probe.time,
        })
    }

    /// Whether this is a legacy id (see [`BuildId::parse_legacy`]): its suffix is not
    /// 7 to 40 lowercase hex digits.
    pub fn is_legacy(&self) -> bool {
        let sha = self.sha();
        !(7..=40).contains(&sha.len())
            || !sha
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    /// Whether the id lies more than a day after `now` (SPEC 2.2 refuses those).
    pub fn is_too_far_in_future(&self, now: OffsetDateTime) -> bool {
        self.time() > now + time::Duration::days(1)
    }
}

impl FromStr for BuildId {
    type Err = BuildIdError;

    fn from_str(s: &str) -> Result<BuildId, BuildIdError> {
        let err = |reason: &str| BuildIdError {
            value: s.to_owned(),
            reason: reason.to_owned(),
        };
        let bytes = s.as_bytes();
        if bytes.len() < 14 + 7 || bytes[8] != b'-' || bytes[13] != b'-' {
            return Err(err(
                "it does not have the three parts `YYYYMMDD`, `HHMM` and a git sha",
            ));
        }
        if !bytes[..8]
            .iter()
            .chain(&bytes[9..13])
            .all(u8::is_ascii_digit)
        {
            return Err(err("the date and time must be digits"));
        }
        let sha = &s[14..];
        if sha.len() > 40 {
            return Err(err("the git sha is longer than 40 hex digits"));
        }
        if !sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(err("the git sha must be lowercase hex digits"));
        }
        let num = |range: std::ops::Range<usize>| -> u32 { s[range].parse().unwrap_or(u32::MAX) };
        let (year, month, day, hour, minute) =
            (num(0..4), num(4..6), num(6..8), num(9..11), num(11..13));
        let month = u8::try_from(month)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or_else(|| err(&format!("month {month:02} does not exist")))?;
        let date = Date::from_calendar_date(
            i32::try_from(year).unwrap_or(0),
            month,
            u8::try_from(day).unwrap_or(0),
        )
        .map_err(|_| {
            err(&format!(
                "day {day:02} does not exist in {year:04}-{:02}",
                u8::from(month)
            ))
        })?;
        if hour > 23 {
            return Err(err(&format!("hour {hour:02} does not exist")));
        }
        if minute > 59 {
            return Err(err(&format!("minute {minute:02} does not exist")));
        }
        let time = Time::from_hms(
            u8::try_from(hour).unwrap_or(0),
            u8::try_from(minute).unwrap_or(0),
            0,
        )
        .map_err(|_| err("the time does not exist"))?;
        Ok(BuildId {
            raw: s.to_owned(),
            time: PrimitiveDateTime::new(date, time),
        })
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl serde::Serialize for BuildId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> BuildId {
        s.parse().unwrap()
    }

    fn reason(s: &str) -> String {
        s.parse::<BuildId>().unwrap_err().reason
    }

    #[test]
    fn parses_valid_ids() {
        let b = id("20260115-1614-9121078");
        assert_eq!(b.time_part(), "20260115-1614");
        assert_eq!(b.sha(), "9121078");
        id("20240229-2359-0123456789abcdef0123456789abcdef01234567");
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(reason("20261315-1614-9121078"), "month 13 does not exist");
        assert_eq!(reason("20260115-2414-9121078"), "hour 24 does not exist");
        assert_eq!(reason("20260115-1660-9121078"), "minute 60 does not exist");
        assert_eq!(
            reason("20230229-1614-9121078"),
            "day 29 does not exist in 2023-02"
        );
        assert_eq!(
            reason("20260115-1614-912107A"),
            "the git sha must be lowercase hex digits"
        );
        assert_eq!(
            reason("20260115-1614-912107"),
            "it does not have the three parts `YYYYMMDD`, `HHMM` and a git sha"
        );
        assert_eq!(
            reason("20260115-9121078"),
            "it does not have the three parts `YYYYMMDD`, `HHMM` and a git sha"
        );
        assert_eq!(
            reason(&format!("20260115-1614-{}", "a".repeat(41))),
            "the git sha is longer than 40 hex digits"
        );
        assert_eq!(
            reason("2026011a-1614-9121078"),
            "the date and time must be digits"
        );
        assert!(
            "".parse::<BuildId>()
                .unwrap_err()
                .to_string()
                .contains("expected `YYYYMMDD-HHMM-<gitsha>`")
        );
    }

    #[test]
    fn orders_by_time_part_only() {
        let a = id("20260115-1614-fffffff");
        let b = id("20260115-1615-0000000");
        let c = id("20260115-1614-0000000");
        assert_eq!(a.cmp_time(&b), Ordering::Less);
        assert_eq!(b.cmp_time(&a), Ordering::Greater);
        assert_eq!(a.cmp_time(&c), Ordering::Equal);
    }

    #[test]
    fn legacy_ids_keep_their_time_part() {
        let legacy = BuildId::parse_legacy("20260113-1917-ota1").unwrap();
        assert!(legacy.is_legacy());
        assert_eq!(legacy.as_str(), "20260113-1917-ota1");
        assert_eq!(legacy.time_part(), "20260113-1917");
        assert_eq!(legacy.sha(), "ota1");
        assert_eq!(
            legacy.cmp_time(&id("20260113-2017-722fd33")),
            Ordering::Less
        );
        assert_eq!(
            legacy.cmp_time(&id("20260113-1917-abcdef0")),
            Ordering::Equal
        );
        // A valid id reads as itself and is not legacy.
        let valid = BuildId::parse_legacy("20260115-1614-9121078").unwrap();
        assert_eq!(valid, id("20260115-1614-9121078"));
        assert!(!valid.is_legacy());
        // Strictly, a legacy id is no build id.
        assert_eq!(
            reason("20260113-1917-ota1"),
            "it does not have the three parts `YYYYMMDD`, `HHMM` and a git sha"
        );
        assert_eq!(
            reason("20260113-1917-release1"),
            "the git sha must be lowercase hex digits"
        );
        assert!(
            BuildId::parse_legacy("20260113-1917-release1")
                .unwrap()
                .is_legacy()
        );
        // The time part must still be real, and the suffix plain, not hex digits only.
        let e = BuildId::parse_legacy("20260113-2517-ota1").unwrap_err();
        assert_eq!(e.reason, "hour 25 does not exist");
        assert_eq!(e.value, "20260113-2517-ota1");
        for bad in [
            "",
            "20260113-1917-",
            "20260113-1917",
            "20260113-1917-ota 1",
            "20260113-1917-ota/1",
            "2026011ş-1917-ota1",
            "20260113x1917-ota1",
            "20260113-1917-912107",
            "20260113-1917-912107A",
        ] {
            assert!(BuildId::parse_legacy(bad).is_err(), "{bad}");
        }
        assert!(BuildId::parse_legacy(&format!("20260113-1917-{}", "x".repeat(41))).is_err());
    }

    #[test]
    fn future_limit_is_one_day() {
        let now = time::macros::datetime!(2026-01-15 12:00 UTC);
        assert!(!id("20260116-1200-9121078").is_too_far_in_future(now));
        assert!(id("20260116-1201-9121078").is_too_far_in_future(now));
    }

    #[test]
    fn from_parts_uses_utc() {
        let at = time::macros::datetime!(2026-01-15 23:30 -02:00);
        assert_eq!(
            BuildId::from_parts(at, "9121078").unwrap().as_str(),
            "20260116-0130-9121078"
        );
    }
}
