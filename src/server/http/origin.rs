//! Which web pages may open a socket: the defence against cross-site WebSocket hijacking.
//!
//! Browsers send cookies with a WebSocket upgrade whatever page started it, and the
//! WebSocket API has no CORS: without this check, any site a person visits could open a
//! socket as them and read their rooms. Browsers always send `Origin` on an upgrade, so the
//! server compares it with its own host (same-origin, the default) or an explicit allowlist.
//! A request without `Origin` is not from a browser page (websocat, a bot): it carries no
//! ambient cookies to abuse, and is let through.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether the upgrade's `Origin` may connect. `allowed` holds origins such as
/// `https://chat.example.com`; empty means same-origin only.
pub fn is_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if !allowed.is_empty() {
        return allowed
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin));
    }
    // Same origin: the page's host (and port) is the one this request was sent to.
    let Some((_scheme, authority)) = origin.split_once("://") else {
        return false; // "null" (a sandboxed frame, a file:// page) and other opaque origins
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    host.is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

/// Middleware: a cross-site POST (a form on another site posting to our log in, log out or
/// name forms) is refused with 403. `SameSite=Lax` keeps the cookie off such requests, but
/// the browser would still take a `Set-Cookie` from the answer: logging the victim in as the
/// attacker, or out. Requests with a bearer token (the push API) carry no ambient
/// credentials and are left alone.
pub async fn refuse_cross_site_posts(
    allowed: Vec<String>,
    request: Request,
    next: Next,
) -> Response {
    let cookie_authenticated = !request.headers().contains_key(header::AUTHORIZATION);
    if request.method() == Method::POST
        && cookie_authenticated
        && !is_allowed(request.headers(), &allowed)
    {
        return (StatusCode::FORBIDDEN, "cross-site request refused\n").into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn same_origin_by_default() {
        assert!(is_allowed(
            &headers(Some("http://chat.local:3000"), "chat.local:3000"),
            &[]
        ));
        assert!(is_allowed(
            &headers(Some("https://Chat.Local"), "chat.local"),
            &[]
        ));
        assert!(!is_allowed(
            &headers(Some("https://evil.example"), "chat.local"),
            &[]
        ));
        assert!(!is_allowed(
            &headers(Some("http://chat.local:3001"), "chat.local:3000"),
            &[]
        ));
        assert!(!is_allowed(&headers(Some("null"), "chat.local"), &[]));
        assert!(
            is_allowed(&headers(None, "chat.local"), &[]),
            "not a browser"
        );
    }

    #[test]
    fn an_allowlist_replaces_same_origin() {
        let allowed = vec!["https://app.example.com".to_owned()];
        assert!(is_allowed(
            &headers(Some("https://app.example.com"), "chat.internal"),
            &allowed
        ));
        assert!(!is_allowed(
            &headers(Some("https://chat.internal"), "chat.internal"),
            &allowed
        ));
    }
}
