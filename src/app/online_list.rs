//! Who is online in this room (each person once, however many tabs), with a button to
//! message them directly.

use leptos::prelude::*;

use crate::app::Chat;
use crate::protocol::User;

#[component]
pub fn OnlineList() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
    view! {
        <section class="online" aria-label=t.online>
            <h2>{t.online} " " <span class="count">{move || chat.online.with(Vec::len)}</span></h2>
            <ul>
                <For
                    each=move || chat.online.get()
                    key=|user| user.id.clone()
                    children=move |user: User| view! { <Person user/> }
                />
            </ul>
        </section>
    }
}

#[component]
fn Person(user: User) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
    let id = user.id.clone();
    let is_me = move || chat.is_mine(&id);
    let target = user.id.clone();
    let name = user.name.clone();
    view! {
        <li data-user=user.id.clone()>
            <span class="name">{user.name.clone()}</span>
            // Opening a DM needs a session: only a person who picked a name (or logged in)
            // gets the button. The server refuses a DM with an anonymous raw client.
            <Show when=move || !is_me() && chat.named.get()>
                {
                    let target = target.clone();
                    let name = name.clone();
                    view! {
                        <button
                            type="button"
                            class="dm"
                            aria-label=(t.message_person)(&name)
                            on:click=move |_| chat.open_dm(target.clone())
                        >
                            {t.message_button}
                        </button>
                    }
                }
            </Show>
        </li>
    }
}
