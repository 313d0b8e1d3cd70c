//! Assertions on what a command printed.

/// Panics, showing `text`, unless `needle` is in it.
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "`{needle}` is not in:\n{text}");
}
