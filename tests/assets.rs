//! How the site's files travel: compressed for browsers that accept it (the wasm as the
//! release build precompressed it, never on the fly), cached for a year when their names
//! carry their hash, revalidated otherwise; the WebSocket upgrade is never compressed.

mod common;

use common::TestServer;

/// A site directory like cargo-leptos's: a script, a stylesheet, a wasm with its `.br`/`.gz`.
fn site() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let pkg = root.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let script = "export function hydrate() { /* the page */ }\n".repeat(100);
    std::fs::write(pkg.join("huddle.abc123.js"), script).unwrap();
    std::fs::write(
        pkg.join("huddle.abc123.css"),
        "body { margin: 0 }\n".repeat(100),
    )
    .unwrap();
    std::fs::write(pkg.join("huddle.abc123.wasm"), vec![7u8; 50_000]).unwrap();
    std::fs::write(pkg.join("huddle.abc123.wasm.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("huddle.abc123.wasm.gz"), b"gzip bytes").unwrap();
    root
}

async fn get(server: &TestServer, path: &str, encoding: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap()
        .get(server.url(path))
        .header("accept-encoding", encoding)
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn hashed_files_are_cached_for_a_year_and_sent_compressed() {
    let root = site();
    let server = TestServer::serving_site(root.path(), true).await;

    let script = get(&server, "/pkg/huddle.abc123.js", "gzip, deflate, br").await;
    assert_eq!(script.status(), 200);
    assert_eq!(header(&script, "content-encoding").as_deref(), Some("br"));
    assert_eq!(
        header(&script, "cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let sent = script.bytes().await.unwrap();
    assert!(sent.len() < 4_600, "compressed: {} bytes", sent.len());

    // The wasm: the build's own compressed copies, by what the browser accepts.
    let wasm = get(&server, "/pkg/huddle.abc123.wasm", "gzip, deflate, br").await;
    assert_eq!(header(&wasm, "content-encoding").as_deref(), Some("br"));
    assert_eq!(&wasm.bytes().await.unwrap()[..], b"brotli bytes");
    let wasm = get(&server, "/pkg/huddle.abc123.wasm", "gzip").await;
    assert_eq!(header(&wasm, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(&wasm.bytes().await.unwrap()[..], b"gzip bytes");
    // A browser that takes neither gets it whole.
    let wasm = get(&server, "/pkg/huddle.abc123.wasm", "identity").await;
    assert_eq!(header(&wasm, "content-encoding"), None);
    assert_eq!(wasm.bytes().await.unwrap().len(), 50_000);

    let missing = get(&server, "/pkg/huddle.nothere.js", "gzip").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "cache-control"), None);
}

#[tokio::test]
async fn unhashed_files_are_revalidated_and_a_wasm_without_copies_goes_as_it_is() {
    let root = site();
    std::fs::remove_file(root.path().join("pkg/huddle.abc123.wasm.br")).unwrap();
    std::fs::remove_file(root.path().join("pkg/huddle.abc123.wasm.gz")).unwrap();
    let server = TestServer::serving_site(root.path(), false).await;

    let style = get(&server, "/pkg/huddle.abc123.css", "gzip").await;
    assert_eq!(header(&style, "cache-control").as_deref(), Some("no-cache"));
    assert_eq!(header(&style, "content-encoding").as_deref(), Some("gzip"));
    // Compressing a debug build's megabytes on every load would cost more than it saves.
    let wasm = get(&server, "/pkg/huddle.abc123.wasm", "gzip, br").await;
    assert_eq!(header(&wasm, "content-encoding"), None);
    assert_eq!(wasm.bytes().await.unwrap().len(), 50_000);
}

#[tokio::test]
async fn pages_are_compressed_and_the_socket_upgrade_is_not() {
    let root = site();
    // Unhashed: rendering a page with hashed names reads the hashes cargo-leptos wrote beside
    // the binary, which a test binary has not.
    let server = TestServer::serving_site(root.path(), false).await;
    let page = get(&server, "/", "gzip").await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(header(&page, "vary").as_deref(), Some("accept-encoding"));

    // A browser's upgrade offers compression too: the 101 must be left as the handshake wrote it.
    let upgrade = reqwest::Client::new()
        .get(server.url("/ws"))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(upgrade.status(), 101);
    assert_eq!(header(&upgrade, "content-encoding"), None);
    assert_eq!(
        header(&upgrade, "sec-websocket-accept").as_deref(),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
}
