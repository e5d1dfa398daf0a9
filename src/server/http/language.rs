//! The reader's language: which one a request gets, and `GET /lang/{tag}?back=PATH`, the
//! page's language switch, which remembers the choice in a cookie and goes back.
//!
//! A link rather than a script: it works without JavaScript, and the new page renders on the
//! server in the new language, so its render and its hydration agree.

use axum::extract::{Path, Query};
use axum::http::header::{ACCEPT_LANGUAGE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::i18n::{Locale, LANGUAGE_COOKIE};
use crate::server::auth::cookie;

/// How long the choice is kept: a year.
const REMEMBERED_SECS: u64 = 365 * 24 * 60 * 60;

/// The language a request gets: the one picked on the page, else the browser's, else English.
pub fn request_locale(headers: &HeaderMap) -> Locale {
    let picked = cookie(headers, LANGUAGE_COOKIE);
    let accepted = headers
        .get(ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok());
    Locale::for_request(picked, accepted)
}

#[derive(Debug, serde::Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// `GET /lang/{tag}?back=/r/rust`: sets the language cookie and sends the browser back.
pub async fn switch(Path(tag): Path<String>, Query(Back { back }): Query<Back>) -> Response {
    let Some(locale) = Locale::from_tag(&tag) else {
        let spoken: Vec<&str> = Locale::ALL.iter().map(|locale| locale.tag()).collect();
        return (
            StatusCode::NOT_FOUND,
            format!(
                "Huddle does not speak {tag:?}; it speaks {}.\n",
                spoken.join(", ")
            ),
        )
            .into_response();
    };
    let cookie = format!(
        "{LANGUAGE_COOKIE}={}; Path=/; Max-Age={REMEMBERED_SECS}; SameSite=Lax",
        locale.tag()
    );
    let back = back
        .filter(|path| is_local_path(path))
        .unwrap_or_else(|| "/".to_owned());
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    // Both are ASCII: a tag of ours, and a path that is checked below.
    if let (Ok(cookie), Ok(back)) = (HeaderValue::from_str(&cookie), HeaderValue::from_str(&back)) {
        headers.insert(SET_COOKIE, cookie);
        headers.insert(LOCATION, back);
    }
    response
}

/// A path on this site, so the switch cannot send anyone elsewhere (`//evil.example` and
/// `/\evil.example` are other sites to a browser).
fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.bytes().all(|byte| byte.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::COOKIE;

    #[test]
    fn only_paths_on_this_site_are_gone_back_to() {
        assert!(is_local_path("/r/rust"));
        assert!(is_local_path("/"));
        assert!(!is_local_path("//evil.example/"));
        assert!(!is_local_path("/\\evil.example"));
        assert!(!is_local_path("https://evil.example/"));
        assert!(!is_local_path("/r/x\r\nSet-Cookie: a=b"));
        assert!(!is_local_path(""));
    }

    #[test]
    fn the_cookie_is_read_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("en-US,en;q=0.9"));
        assert_eq!(request_locale(&headers), Locale::En);
        headers.insert(
            COOKIE,
            HeaderValue::from_static("huddle_session=abc; huddle_lang=zh-CN"),
        );
        assert_eq!(request_locale(&headers), Locale::ZhCn);
    }
}
