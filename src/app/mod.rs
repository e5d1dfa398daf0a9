//! The Leptos UI: the HTML shell and the chat room page.

mod account;
pub mod api;
pub mod chat;
mod composer;
pub mod connection;
mod message_list;
mod name_picker;
mod notices;
mod online_list;
mod room_list;
pub mod room_page;
mod status;
mod typing_indicator;

pub use crate::protocol::RoomSnapshot;
pub use api::ChooseName;
pub use chat::Chat;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // No favicon yet: an empty data URL spares every page load a 404.
                <link rel="icon" href="data:,"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
                // Outside the hydrated tree: with scripting on, browsers parse a noscript's
                // content as text, which hydration would not expect inside <App/>.
                <noscript>
                    <p class="hint">"Live updates need JavaScript; this page shows the recent messages."</p>
                </noscript>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/huddle.css"/>
        <Title text="Huddle"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                // The server loads each page's room before rendering it (server::pages), so
                // the whole page, history included, is in the first response.
                <Route path=path!("/") view=room_page::RoomPage/>
                <Route path=path!("/r/:room") view=room_page::RoomPage/>
            </Routes>
        </Router>
    }
}
