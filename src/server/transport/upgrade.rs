//! The WebSocket opening handshake (RFC 6455 §4.2), as an extractor. Huddle serves HTTP/1.1
//! (behind a proxy too: nginx speaks HTTP/1.1 to its upstreams), so that is the only
//! handshake it takes.
//!
//! Huddle upgrades connections itself rather than through axum's `WebSocketUpgrade` because
//! axum's socket hides the stream under it, and the hub's deliveries are written to that
//! stream directly ([`crate::server::transport::wire_socket`]).

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocketConfig};

use crate::server::transport::wire_socket::WireSocket;

/// A request to open a WebSocket, checked; answering it with [`SocketUpgrade::on_upgrade`]
/// switches protocols.
pub struct SocketUpgrade {
    on_upgrade: OnUpgrade,
    /// The answer to the client's `Sec-WebSocket-Key`.
    accept: HeaderValue,
}

/// Why a request cannot become a WebSocket.
#[derive(Debug, PartialEq, Eq)]
pub struct NotAnUpgrade {
    status: StatusCode,
    why: &'static str,
}

impl IntoResponse for NotAnUpgrade {
    fn into_response(self) -> Response {
        (self.status, self.why).into_response()
    }
}

fn refused(status: StatusCode, why: &'static str) -> NotAnUpgrade {
    NotAnUpgrade { status, why }
}

impl<S: Send + Sync> FromRequestParts<S> for SocketUpgrade {
    type Rejection = NotAnUpgrade;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, NotAnUpgrade> {
        let accept = check_request(&parts.method, parts.version, &parts.headers)?;
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(refused(
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded\n",
        ))?;
        Ok(SocketUpgrade { on_upgrade, accept })
    }
}

/// Checks an opening handshake; returns the `Sec-WebSocket-Accept` to answer it with.
pub fn check_request(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<HeaderValue, NotAnUpgrade> {
    if version != Version::HTTP_11 {
        return Err(refused(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "a WebSocket opens with an HTTP/1.1 upgrade\n",
        ));
    }
    if method != Method::GET {
        return Err(refused(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket opens with GET\n",
        ));
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "the Connection header must include \"upgrade\"\n",
        ));
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "the Upgrade header must be \"websocket\"\n",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|version| version.as_bytes() != b"13")
    {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Version must be 13\n",
        ));
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or(refused(
        StatusCode::BAD_REQUEST,
        "the Sec-WebSocket-Key header is missing\n",
    ))?;
    let accept = derive_accept_key(key.as_bytes());
    Ok(HeaderValue::from_str(&accept).expect("base64 is a valid header value"))
}

/// Whether the comma-separated header `name` lists `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&byte| byte == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

impl SocketUpgrade {
    /// Answers the handshake and, once the connection has switched, runs `connection` on it
    /// in a task of its own.
    ///
    /// The task that waits for the switch ends as soon as it has spawned the connection's: a
    /// future keeps the state it was created with for as long as it runs, and a chat
    /// connection runs for hours, mostly idle.
    pub fn on_upgrade<C, F>(self, config: WebSocketConfig, connection: C) -> Response
    where
        C: FnOnce(WireSocket) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let stream = WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        Role::Server,
                        Some(config),
                    )
                    .await;
                    tokio::spawn(connection(WireSocket::new(stream)));
                }
                Err(err) => tracing::debug!(%err, "websocket upgrade failed"),
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, self.accept)
            .body(Body::empty())
            .expect("a valid response")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    const VALID: &[(&str, &str)] = &[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ];

    fn check_http1(method: Method, pairs: &[(&str, &str)]) -> Result<HeaderValue, NotAnUpgrade> {
        check_request(&method, Version::HTTP_11, &headers(pairs))
    }

    #[test]
    fn a_valid_handshake_gets_the_rfc_accept_key() {
        // The example of RFC 6455 §1.3.
        let accept = check_http1(Method::GET, VALID).unwrap();
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn each_missing_piece_is_refused_with_its_reason() {
        let without = |name: &str| -> Vec<(&str, &str)> {
            VALID.iter().copied().filter(|(n, _)| *n != name).collect()
        };
        let status = |result: Result<HeaderValue, NotAnUpgrade>| result.unwrap_err().status;
        assert_eq!(
            status(check_http1(Method::POST, VALID)),
            StatusCode::METHOD_NOT_ALLOWED
        );
        for name in [
            "connection",
            "upgrade",
            "sec-websocket-key",
            "sec-websocket-version",
        ] {
            let refusal = check_http1(Method::GET, &without(name)).unwrap_err();
            assert_eq!(refusal.status, StatusCode::BAD_REQUEST, "{name}");
        }
        let mut old_version = without("sec-websocket-version");
        old_version.push(("sec-websocket-version", "8"));
        assert!(check_http1(Method::GET, &old_version)
            .unwrap_err()
            .why
            .contains("13"));
        // "upgrade" must be a token of Connection, not a substring of one.
        let mut lookalike = without("connection");
        lookalike.push(("connection", "no-upgrade"));
        assert_eq!(
            status(check_http1(Method::GET, &lookalike)),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn only_an_http1_upgrade_opens_a_socket() {
        for version in [Version::HTTP_10, Version::HTTP_2] {
            let refusal = check_request(&Method::GET, version, &headers(VALID)).unwrap_err();
            assert_eq!(refusal.status, StatusCode::HTTP_VERSION_NOT_SUPPORTED);
        }
    }
}
