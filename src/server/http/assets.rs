//! How the site's files travel: compressed when the browser accepts it, and cached for a year
//! when their names carry their content's hash (cargo-leptos `hash-files`), since such a name
//! never serves other bytes; otherwise browsers revalidate them on every load.
//!
//! Pages, scripts and styles are compressed as they are sent. The wasm is not: compressing a
//! megabyte costs tens of milliseconds of CPU per page load. The release build compresses it
//! once (`cargo leptos build --release --precompress` writes `.br` and `.gz` beside it), and
//! `/pkg` serves those files to browsers that accept them; a debug build's wasm goes as it is.

use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::middleware::Next;
use axum::response::Response;
use leptos::prelude::LeptosOptions;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

/// A year: what "never changes" is allowed to mean to a cache.
const FOREVER: &str = "public, max-age=31536000, immutable";
/// Unhashed names may serve new bytes after a rebuild: ask the server each time (cheap, it
/// answers 304 when nothing changed).
const REVALIDATE: &str = "no-cache";

/// Compresses pages, scripts and styles (gzip or brotli, as the browser accepts); never the
/// wasm (see above), and never a protocol switch: the WebSocket upgrade's 101 has no body to
/// compress, and its headers must stay as the handshake wrote them.
pub fn compression() -> CompressionLayer<impl Predicate> {
    let worth_it = |status: StatusCode, _: Version, headers: &HeaderMap, _: &_| {
        status != StatusCode::SWITCHING_PROTOCOLS
            && headers.get(CONTENT_TYPE) != Some(&HeaderValue::from_static("application/wasm"))
    };
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        .compress_when(DefaultPredicate::new().and(worth_it))
}

/// The site's package files (`/pkg/…`), with the build's `.br` and `.gz` copies for browsers
/// that accept them.
pub fn package_files(options: &LeptosOptions) -> ServeDir {
    let dir: PathBuf = Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    ServeDir::new(dir).precompressed_br().precompressed_gzip()
}

/// Sets how long the site's package files (`/pkg/…`) may be cached.
pub async fn cache_headers(hashed: bool, request: Request, next: Next) -> Response {
    let is_package = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    if is_package && response.status() == StatusCode::OK {
        let policy = if hashed { FOREVER } else { REVALIDATE };
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// Turns on hashed file names when the site on disk was built with them: cargo-leptos writes
/// the hashes to a file beside the server binary, and the package's script must exist under
/// its hashed name (a stale hash file left by another build is ignored). `cargo leptos
/// watch` says so itself; a binary started directly (a deployment, the tests) learns it here.
pub fn detect_hashed_files(options: &mut LeptosOptions) {
    if options.hash_files {
        return;
    }
    let Some(hash_file) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(options.hash_file.as_ref())))
    else {
        return;
    };
    let Ok(hashes) = std::fs::read_to_string(&hash_file) else {
        return;
    };
    let js_hash = hashes.lines().find_map(|line| {
        let (kind, hash) = line.split_once(':')?;
        (kind.trim() == "js").then(|| hash.trim().to_owned())
    });
    let Some(js_hash) = js_hash else {
        return;
    };
    let script = Path::new(options.site_root.as_ref())
        .join(options.site_pkg_dir.as_ref())
        .join(format!("{}.{js_hash}.js", options.output_name));
    if script.is_file() {
        options.hash_files = true;
    }
}
