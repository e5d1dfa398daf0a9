//! Headers every answer carries, and the Content-Security-Policy that lets a page run only the
//! scripts this server sent.
//!
//! A chat shows text strangers wrote. Views escape it, so markup in a message is text; the
//! policy is the second wall, for the day a bug lets some through: a page may run scripts only
//! from this site or bearing this response's nonce (the one inline script, Leptos's hydration
//! bootstrap, carries it; no `unsafe-inline`), connect only to this site, and be framed by no
//! one (clickjacking a "log out everywhere" button).

use axum::extract::Request;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};

/// What a response that is not a page may do if a browser renders it: nothing.
const NOT_A_PAGE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Middleware: gives the request a fresh nonce for the page to render with (see
/// [`provide_request_nonce`]) and sets the security headers on its answer. `reload_port` is
/// cargo-leptos's live-reload socket under `cargo leptos watch`, which a page must be allowed
/// to reach; `None` otherwise.
pub async fn add(reload_port: Option<u32>, mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let is_page = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let policy = if is_page {
        page_policy(&nonce, reload_port)
    } else {
        NOT_A_PAGE_POLICY.to_owned()
    };
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    // A script or style is run as what its Content-Type says, never sniffed from its bytes.
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Room names are in the paths: other sites linked from a message do not learn them.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // `frame-ancestors` for current browsers, this for old ones.
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The policy of a page rendered with `nonce`.
///
/// `wasm-unsafe-eval` lets the page compile its WebAssembly (and nothing else: no `eval`);
/// `'self'` in `connect-src` covers the `ws:`/`wss:` socket to this host; `form-action
/// 'self'` keeps the plain forms (posting without JavaScript) from being pointed elsewhere.
pub fn page_policy(nonce: &Nonce, reload_port: Option<u32>) -> String {
    let reload = reload_port
        .map(|port| format!(" ws://*:{port}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'{reload}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Inside a server render: makes the request's nonce (from [`add`]) the one Leptos writes on
/// its inline scripts, in place of the random one it would pick itself and the header would
/// not name. Leptos's integration provides the request's parts before the render's own
/// context, so they are there to read.
pub fn provide_request_nonce() {
    let nonce = use_context::<Parts>().and_then(|parts| parts.extensions.get::<Nonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_may_run_only_its_own_and_nonced_scripts() {
        let nonce = Nonce::from_value("abc123");
        let policy = page_policy(&nonce, None);
        let script_src = policy
            .split(';')
            .map(str::trim)
            .find(|directive| directive.starts_with("script-src"))
            .unwrap();
        assert_eq!(
            script_src,
            "script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"
        );
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("ws://"), "{policy}");
    }

    #[test]
    fn under_cargo_leptos_watch_the_page_may_reach_the_reload_socket() {
        let policy = page_policy(&Nonce::from_value("n"), Some(3001));
        assert!(
            policy.contains("connect-src 'self' ws://*:3001;"),
            "{policy}"
        );
    }
}
