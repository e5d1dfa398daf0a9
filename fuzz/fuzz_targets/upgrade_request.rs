//! A request head as `GET /ws` reads it: parsed by the HTTP parser hyper uses, then the
//! handshake check, the Origin check and the client address (X-Forwarded-For behind a
//! trusted proxy). None may panic, whatever the headers hold.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use huddle::server::http::client_address::{client_address, quota_key, TrustedProxy};
use huddle::server::http::origin::is_allowed;
use huddle::server::transport::upgrade::check_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    if request.parse(data).is_err() {
        return;
    }
    let (Some(method), Some(version)) = (request.method, request.version) else {
        return;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let version = if version == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    // As hyper does: a header whose name or value is not valid is refused before routing.
    let mut map = HeaderMap::new();
    for header in request.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(header.name.as_bytes()),
            HeaderValue::from_bytes(header.value),
        ) else {
            return;
        };
        map.append(name, value);
    }
    if let Ok(accept) = check_request(&method, version, &map) {
        // The answer is a base64 SHA-1: always a valid header value of 28 bytes.
        assert_eq!(accept.len(), 28);
    }
    let _ = is_allowed(&map, &[]);
    let _ = is_allowed(&map, &["https://chat.example.com".to_owned()]);
    let proxy: TrustedProxy = "127.0.0.0/8".parse().unwrap();
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let _ = quota_key(client_address(peer, &map, &[proxy]));
});
