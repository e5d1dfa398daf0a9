//! Who is on the other end of a request: a display name remembered in cookies, or a guest.
//!
//! Nothing here is secret yet (accounts come later): the cookies only carry the name a person
//! picked and a random id, so that a reload keeps both and one's own messages can be told
//! apart. They are HttpOnly anyway, so page scripts never handle them, and never go in a URL.

use axum::http::HeaderMap;
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};

use crate::protocol::{normalize_name, User};

pub const NAME_COOKIE: &str = "huddle_name";
pub const ID_COOKIE: &str = "huddle_uid";
/// How long the browser remembers the name: one year.
const COOKIE_MAX_AGE_SECS: u64 = 365 * 24 * 60 * 60;

/// The user named by the request's cookies, if both are present and valid.
pub fn from_headers(headers: &HeaderMap) -> Option<User> {
    let id = cookie(headers, ID_COOKIE)?;
    let valid_id = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid_id {
        return None;
    }
    let raw = cookie(headers, NAME_COOKIE)?;
    let name = normalize_name(&percent_decode_str(raw).decode_utf8().ok()?)?;
    Some(User {
        id: id.to_owned(),
        name,
    })
}

/// The value of the first cookie called `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// A fresh identity for a client that did not pick a name (a raw WebSocket client).
pub fn guest() -> User {
    let id = uuid::Uuid::new_v4();
    let short = &id.simple().to_string()[..4];
    User {
        id: format!("guest-{id}"),
        name: format!("guest-{short}"),
    }
}

/// The identity to remember for someone who picked `name`, keeping their id if they had one.
pub fn named(name: &str, existing: Option<&User>) -> Option<User> {
    let name = normalize_name(name)?;
    let id = existing
        .map(|u| u.id.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    Some(User { id, name })
}

/// `Set-Cookie` values that make the browser remember `user`.
pub fn set_cookie_headers(user: &User) -> [String; 2] {
    let cookie = |name: &str, value: &str| {
        format!("{name}={value}; Path=/; Max-Age={COOKIE_MAX_AGE_SECS}; HttpOnly; SameSite=Lax")
    };
    let encoded_name = utf8_percent_encode(&user.name, NON_ALPHANUMERIC).to_string();
    [
        cookie(ID_COOKIE, &user.id),
        cookie(NAME_COOKIE, &encoded_name),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::COOKIE;

    fn headers_with(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, cookie.parse().unwrap());
        headers
    }

    #[test]
    fn set_cookies_round_trip_through_a_request() {
        let user = named("  Zoë & <Friends>  ", None).unwrap();
        assert_eq!(user.name, "Zoë & <Friends>");
        let pairs: Vec<String> = set_cookie_headers(&user)
            .iter()
            .map(|c| c.split(';').next().unwrap().to_owned())
            .collect();
        assert!(set_cookie_headers(&user)[0].contains("HttpOnly"));
        let back = from_headers(&headers_with(&pairs.join("; "))).unwrap();
        assert_eq!(back, user);
    }

    #[test]
    fn renaming_keeps_the_id() {
        let first = named("Ada", None).unwrap();
        let second = named("Ada L.", Some(&first)).unwrap();
        assert_eq!(first.id, second.id);
    }

    #[test]
    fn bad_cookies_are_ignored() {
        assert_eq!(from_headers(&HeaderMap::new()), None);
        assert_eq!(from_headers(&headers_with("huddle_uid=abc")), None);
        assert_eq!(
            from_headers(&headers_with("huddle_uid=a;b; huddle_name=%20%20")),
            None
        );
        assert_eq!(
            from_headers(&headers_with("huddle_uid=<script>; huddle_name=x")),
            None
        );
    }

    #[test]
    fn guests_get_distinct_generated_names() {
        let (a, b) = (guest(), guest());
        assert!(a.name.starts_with("guest-"));
        assert_ne!(a.id, b.id);
    }
}
