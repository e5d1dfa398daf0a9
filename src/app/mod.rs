//! The Leptos UI: the HTML shell and the chat room page.

mod account;
pub mod api;
pub mod chat;
mod composer;
pub mod connection;
mod language_switch;
mod message_list;
mod name_picker;
mod notices;
mod online_list;
mod room_label;
mod room_list;
pub mod room_page;
mod status;
mod typing_indicator;

pub use crate::i18n::Locale;
pub use crate::protocol::RoomSnapshot;
pub use api::ChooseName;
pub use chat::Chat;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let locale = use_context::<Locale>().unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang=locale.tag()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // No favicon yet: an empty data URL spares every page load a 404.
                <link rel="icon" href="data:,"/>
                // In the shell, which knows the site's options: with hashed file names
                // (Cargo.toml `hash-files`) the stylesheet's name carries its hash too.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
                // Outside the hydrated tree: with scripting on, browsers parse a noscript's
                // content as text, which hydration would not expect inside <App/>.
                <noscript>
                    <p class="hint">{locale.catalogue().noscript_hint}</p>
                </noscript>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Chosen by the server for this request (server::http::language), rendered into the page
    // and read back while hydrating: both renders speak the same language.
    let locale = SharedValue::new(|| use_context::<Locale>().unwrap_or_default()).into_inner();
    provide_context(locale);
    let t = locale.catalogue();
    view! {
        <Title text="Huddle"/>
        <Router>
            <Routes fallback=move || view! { <p class="not-found">{t.page_not_found}</p> }>
                // The server loads each page's room before rendering it (server::pages), so
                // the whole page, history included, is in the first response.
                <Route path=path!("/") view=room_page::RoomPage/>
                <Route path=path!("/r/:room") view=room_page::RoomPage/>
            </Routes>
        </Router>
    }
}
