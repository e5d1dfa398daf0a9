//! The checks on what people name and write: room names, display names, text, client ids
//! and mentions. Each decides without panicking, and what it lets through keeps its promise.
#![no_main]

use huddle::protocol::{
    check_client_id, check_room_name, check_text, is_dm_room, mention_ranges, normalize_name,
    MAX_NAME_CHARS, MAX_ROOM_NAME_LEN, MAX_TEXT_CHARS,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is a name, the rest the text it may be mentioned in.
    let (name, text) = input.split_once('\n').unwrap_or((input, input));
    if check_room_name(name).is_ok() {
        assert!(!name.is_empty() && name.len() <= MAX_ROOM_NAME_LEN);
        // Safe in a URL path and a log line as it is.
        assert!(name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let _ = is_dm_room(name);
    }
    if let Some(normalized) = normalize_name(name) {
        assert!(!normalized.is_empty() && normalized.chars().count() <= MAX_NAME_CHARS);
        assert!(!normalized.chars().any(char::is_control));
        assert_eq!(
            normalize_name(&normalized).as_deref(),
            Some(normalized.as_str())
        );
    }
    if check_text(text).is_ok() {
        assert!(text.chars().count() <= MAX_TEXT_CHARS && !text.contains('\0'));
    }
    let _ = check_client_id(name);
    let mut last_end = 0;
    for range in mention_ranges(text, name) {
        // Ranges are in order, apart, on character boundaries, and start with the `@`.
        assert!(range.start >= last_end && range.end <= text.len());
        assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
        assert_eq!(&text[range.start..range.start + 1], "@");
        last_end = range.end;
    }
});
