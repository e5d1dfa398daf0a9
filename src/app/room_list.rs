//! The person's rooms, with unread counts, and a way to open another room.
//!
//! Links are full page loads (`rel="external"`): each room's page renders on the server with
//! its history, and the new page's one socket joins all the rooms again.

use leptos::prelude::*;

use crate::app::room_label::room_label;
use crate::app::Chat;
use crate::protocol::{check_room_name, RoomEntry};

#[component]
pub fn RoomList() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
    let current = chat.room.get_value();
    let new_room = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let open = move |ev: leptos::ev::SubmitEvent| {
        let name = new_room.get_untracked().trim().to_lowercase();
        if check_room_name(&name).is_err() || crate::protocol::is_dm_room(&name) {
            ev.prevent_default();
            problem.set(Some(t.room_name_rule.to_owned()));
        }
        // Otherwise the form's GET to /r/{name} goes ahead: see `action` below.
    };
    view! {
        <nav class="room-list" aria-label=t.rooms>
            <h2>{t.rooms}</h2>
            <ul>
                <For
                    each=move || chat.rooms.get()
                    key=|room| (room.name.clone(), room.unread, room.mentions)
                    children=move |room: RoomEntry| {
                        let is_current = room.name == current;
                        view! { <RoomLink room is_current/> }
                    }
                />
            </ul>
            <form
                class="open-room"
                method="get"
                // With JavaScript, straight to the room; without, to /r?room=NAME (the server
                // sends the browser on to the room).
                action=move || match new_room.get().trim().to_lowercase() {
                    name if name.is_empty() => "/r".to_owned(),
                    name => format!("/r/{name}"),
                }
                on:submit=open
            >
                <label>
                    {t.open_a_room}
                    <input
                        type="text"
                        name="room"
                        aria-label=t.room_name
                        placeholder="team-chat"
                        maxlength="64"
                        prop:value=move || new_room.get()
                        on:input=move |ev| new_room.set(event_target_value(&ev))
                    />
                </label>
                <button type="submit">{t.open}</button>
                <p class="notice" role="alert">{move || problem.get()}</p>
            </form>
        </nav>
    }
}

#[component]
fn RoomLink(room: RoomEntry, is_current: bool) -> impl IntoView {
    let t = expect_context::<Chat>().t();
    let label = room_label(&room, t);
    let unread = room.unread;
    let mentions = room.mentions;
    let mentions_label = (t.mentions_of_you)(mentions);
    view! {
        <li>
            <a
                href=format!("/r/{}", room.name)
                rel="external"
                aria-current=is_current.then_some("page")
                data-room=room.name.clone()
            >
                {label}
            </a>
            <Show when=move || { unread > 0 && !is_current }>
                <span class="unread" aria-label=(t.unread)(unread)>{unread}</span>
            </Show>
            <Show when=move || { mentions > 0 && !is_current }>
                <span class="mentions" aria-label=mentions_label.clone()>"@" {mentions}</span>
            </Show>
        </li>
    }
}
