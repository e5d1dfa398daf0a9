//! The chat room page: the room's recent messages, rendered on the server, then kept live.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::account::AccountPanel;
use crate::app::composer::Composer;
use crate::app::connection::ask;
use crate::app::message_list::MessageList;
use crate::app::name_picker::NamePicker;
use crate::app::notices::Notices;
use crate::app::online_list::OnlineList;
use crate::app::room_list::RoomList;
use crate::app::status::ConnectionStatus;
use crate::app::typing_indicator::TypingIndicator;
use crate::app::{Chat, RoomSnapshot};
use crate::protocol::{RoomKind, LOBBY};

/// What the server loaded for a room page before rendering it: the room, or why this person
/// may not see it. The server's page handler provides it as context.
///
/// Loading first means the render has nothing to wait for, so there is no `Suspense`. Its
/// effect re-rendered the room on another thread, and when a tab was closed mid-render
/// that raced the disposal of the request's signals: the effect read them after disposal
/// and panicked (tests/binary.rs, abandoned page loads).
#[derive(Clone, Debug)]
pub struct LoadedRoom(pub Result<RoomSnapshot, String>);

#[component]
pub fn RoomPage() -> impl IntoView {
    // Rendered into the page by the server, read back from it while hydrating.
    let loaded = SharedValue::new(|| match use_context::<LoadedRoom>() {
        Some(LoadedRoom(loaded)) => loaded,
        None => Err("the page came without its room; reload it".to_owned()),
    })
    .into_inner();
    match loaded {
        Ok(snapshot) => view! { <Room snapshot/> }.into_any(),
        Err(err) => {
            view! { <p class="error" role="alert">"The room could not be loaded: " {err}</p> }
                .into_any()
        }
    }
}

#[component]
fn Room(snapshot: RoomSnapshot) -> impl IntoView {
    let RoomSnapshot {
        me,
        room: entry,
        history,
        rooms,
        guests_allowed,
        accounts_allowed,
    } = snapshot;
    let account = me.as_ref().is_some_and(|viewer| viewer.account);
    // DMs stay listed (leaving one would lock its person out); the lobby is home.
    let leavable = entry.kind == RoomKind::Public && entry.name != LOBBY;
    let title = match (&entry.kind, &entry.with) {
        (RoomKind::Dm, Some(with)) => format!("@ {}", with.name),
        (RoomKind::Dm, None) => "@ direct message".to_owned(),
        (RoomKind::Public, _) => format!("# {}", entry.name),
    };
    let chat = Chat::with_rooms(me.map(|viewer| viewer.user), history, rooms);
    provide_context(chat);
    // Browser only: effects do not run during server rendering.
    Effect::new(move |_| {
        ask(|connection| {
            chat.utc_offset_minutes
                .set(Some(connection.utc_offset_minutes()));
            connection.restore_outbox(chat);
        });
        chat.connect();
    });
    // Keep the outbox in browser storage as it changes (the first run has nothing new).
    Effect::new(move |previous: Option<()>| {
        chat.pending.track();
        if previous.is_some() {
            ask(|connection| connection.persist_outbox(chat));
        }
        let _ = previous;
    });
    // Mentions waiting in other rooms show in the tab's title, as "(@2) Huddle".
    let tab_title = move || match chat.mentions_elsewhere() {
        0 => "Huddle".to_owned(),
        n => format!("(@{n}) Huddle"),
    };
    view! {
        <Title text=tab_title/>
        <div class="layout">
            <aside class="sidebar">
                <AccountPanel account accounts_allowed/>
                <RoomList/>
                <OnlineList/>
            </aside>
            <main class="room">
                <header class="room-header">
                    <h1>{title}</h1>
                    <Show when=move || leavable && chat.named.get()>
                        <button type="button" class="leave" on:click=move |_| chat.leave()>
                            "Leave room"
                        </button>
                    </Show>
                    <ConnectionStatus/>
                </header>
                <MessageList/>
                <TypingIndicator/>
                <Show
                    when=move || chat.named.get()
                    fallback=move || {
                        view! {
                            <Show
                                when=move || guests_allowed
                                fallback=|| view! { <p class="hint">"Log in to chat."</p> }
                            >
                                <NamePicker/>
                            </Show>
                        }
                    }
                >
                    <Composer/>
                </Show>
            </main>
            <Notices/>
        </div>
    }
}
