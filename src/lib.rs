//! Huddle: a self-hosted real-time group chat.
//!
//! - [`protocol`]: wire types shared by the server and the browser.
//! - [`backoff`]: reconnect delays, pure so that they are tested natively.
//! - [`i18n`]: every word the page and the server's refusals say, in English and Chinese.
//! - [`app`]: the Leptos UI, rendered on the server and hydrated in the browser.
//! - `client` (feature `hydrate`): the browser's WebSocket connection and its reading of
//!   server frames.
//! - `server` (feature `ssr`): axum routes, the connection task and the broadcast hub.

// A release build keeps the page's full view types (debug builds erase them, cargo-leptos's
// `--cfg erase_components`), and the room page's is deeper than the default limit of 128.
#![recursion_limit = "256"]

pub mod app;
pub mod backoff;
pub mod i18n;
pub mod protocol;

// Native tests cover the browser's reading of server frames (client::frames).
#[cfg(any(feature = "hydrate", test))]
pub mod client;

#[cfg(feature = "ssr")]
pub mod server;

/// Browser entry point, called by the script cargo-leptos generates.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    app::connection::install(Box::new(client::BrowserConnection));
    leptos::mount::hydrate_body(app::App);
}
