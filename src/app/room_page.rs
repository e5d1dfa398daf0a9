//! The chat room page: the room's recent messages, rendered on the server, then kept live.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::account::AccountPanel;
use crate::app::composer::Composer;
use crate::app::connection::ask;
use crate::app::language_switch::LanguageSwitch;
use crate::app::message_list::MessageList;
use crate::app::name_picker::NamePicker;
use crate::app::notices::Notices;
use crate::app::online_list::OnlineList;
use crate::app::room_label::room_label;
use crate::app::room_list::RoomList;
use crate::app::status::ConnectionStatus;
use crate::app::typing_indicator::TypingIndicator;
use crate::app::{Chat, Locale, RoomSnapshot};
use crate::i18n::use_catalogue;
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
    let t = use_catalogue();
    let loaded = SharedValue::new(|| match use_context::<LoadedRoom>() {
        Some(LoadedRoom(loaded)) => loaded,
        None => Err(t.page_without_room.to_owned()),
    })
    .into_inner();
    match loaded {
        Ok(snapshot) => view! { <Room snapshot/> }.into_any(),
        Err(err) => {
            view! { <p class="error" role="alert">{(t.room_not_loaded)(&err)}</p> }.into_any()
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
    let locale = use_context::<Locale>().unwrap_or_default();
    let t = locale.catalogue();
    let title = room_label(&entry, t);
    let mut chat = Chat::with_rooms(me.map(|viewer| viewer.user), history, rooms);
    chat.locale = locale;
    provide_context(chat);
    // Browser only: effects do not run during server rendering.
    Effect::new(move |_| {
        ask(|connection| {
            connection.restore_outbox(chat);
        });
        chat.connect();
        // From now on times are the reader's: the server's render could not know their zone.
        chat.local_times.set(true);
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
    let tab_title = move || (t.tab_title)(chat.mentions_elsewhere());
    view! {
        <Title text=tab_title/>
        <div class="layout">
            <aside class="sidebar">
                <LanguageSwitch/>
                <AccountPanel account accounts_allowed/>
                <RoomList/>
                <OnlineList/>
            </aside>
            <main class="room">
                <header class="room-header">
                    <h1>{title}</h1>
                    <Show when=move || leavable && chat.named.get()>
                        <button type="button" class="leave" on:click=move |_| chat.leave()>
                            {t.leave_room}
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
                                fallback=move || view! { <p class="hint">{t.log_in_to_chat}</p> }
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
