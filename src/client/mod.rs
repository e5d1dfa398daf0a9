//! Browser-only code (feature `hydrate`).

pub mod outbox;
pub mod socket;

/// The browser's offset from UTC in minutes (east positive).
pub fn utc_offset_minutes() -> i32 {
    // getTimezoneOffset is west-positive.
    -(js_sys::Date::new_0().get_timezone_offset() as i32)
}
