//! The chat room page: the room's recent messages, rendered on the server, then kept live.

use leptos::prelude::*;

use crate::app::api::load_room;
use crate::app::composer::Composer;
use crate::app::message_list::MessageList;
use crate::app::name_picker::NamePicker;
use crate::app::status::ConnectionStatus;
use crate::app::{Chat, RoomSnapshot};
use crate::protocol::LOBBY;

#[component]
pub fn RoomPage() -> impl IntoView {
    // `/r/{room}`, or the lobby at `/`.
    let params = leptos_router::hooks::use_params_map();
    let room = move || {
        params
            .read()
            .get("room")
            .unwrap_or_else(|| LOBBY.to_owned())
    };
    let snapshot = Resource::new(room, load_room);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the room…"</p> }>
            {move || Suspend::new(async move {
                match snapshot.await {
                    Ok(snapshot) => view! { <Room snapshot/> }.into_any(),
                    Err(err) => {
                        view! { <p class="error" role="alert">"The room could not be loaded: " {err.to_string()}</p> }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn Room(snapshot: RoomSnapshot) -> impl IntoView {
    let RoomSnapshot { me, history, .. } = snapshot;
    let room = history.room.clone();
    let chat = Chat::new(me.map(|viewer| viewer.user), history);
    provide_context(chat);
    // Browser only: effects do not run during server rendering.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            chat.utc_offset_minutes
                .set(Some(crate::client::utc_offset_minutes()));
            crate::client::socket::restore_outbox(chat);
        }
        chat.connect();
    });
    // Keep the outbox in browser storage as it changes (the first run has nothing new).
    Effect::new(move |previous: Option<()>| {
        chat.pending.track();
        #[cfg(feature = "hydrate")]
        if previous.is_some() {
            crate::client::socket::persist_outbox(chat);
        }
        let _ = previous;
    });
    view! {
        <main class="room">
            <header class="room-header">
                <h1>"# " {room}</h1>
                <ConnectionStatus/>
            </header>
            <MessageList/>
            <Show when=move || chat.named.get() fallback=|| view! { <NamePicker/> }>
                <Composer/>
            </Show>
        </main>
    }
}
