//! The bytes that are signed (SPEC 2.3) and the house layout on disk (SPEC 2.4).
//!
//! The signed message is the OLPC canonical JSON of the manifest object without its
//! `signature` key. The reader's string rules (no control characters, NFC, strings
//! only) make these bytes equal to Python's
//! `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.

use serde::Serialize as _;
use serde_json::{Map, Value};

/// The canonical bytes of `object` with its `signature` key removed.
///
/// Fails only for values the manifest rules forbid (floating-point numbers).
pub fn signed_bytes(object: &Map<String, Value>) -> Result<Vec<u8>, String> {
    let mut unsigned = object.clone();
    unsigned.remove("signature");
    let mut buf = Vec::with_capacity(512);
    let mut ser =
        serde_json::Serializer::with_formatter(&mut buf, olpc_cjson::CanonicalFormatter::new());
    Value::Object(unsigned)
        .serialize(&mut ser)
        .map_err(|e| format!("cannot form the canonical JSON: {e}"))?;
    Ok(buf)
}

/// The house layout: sorted keys, two-space indent, final newline.
pub fn house_layout(object: &Map<String, Value>) -> Vec<u8> {
    // A `Map` of strings and objects always serialises; sorted because serde_json's
    // map is a BTreeMap.
    let mut out = serde_json::to_vec_pretty(object).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_bytes_sort_and_drop_signature() {
        let obj: Map<String, Value> = serde_json::from_str(
            r#"{"notes": "a \"q\" \\ / ş", "signature": "x", "artifact": {"url": "u", "kind": "k"}}"#,
        )
        .unwrap();
        let bytes = signed_bytes(&obj).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"artifact":{"kind":"k","url":"u"},"notes":"a \"q\" \\ / ş"}"#
        );
    }

    #[test]
    fn house_layout_is_sorted_pretty_with_newline() {
        let obj: Map<String, Value> =
            serde_json::from_str(r#"{"b": "1", "a": {"d": "2", "c": "3"}}"#).unwrap();
        assert_eq!(
            String::from_utf8(house_layout(&obj)).unwrap(),
            "{\n  \"a\": {\n    \"c\": \"3\",\n    \"d\": \"2\"\n  },\n  \"b\": \"1\"\n}\n"
        );
    }
}
