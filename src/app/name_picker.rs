//! Picking a display name. A plain form posting to a server function, so it works before
//! (and without) JavaScript; once hydrated it updates the page in place.

use leptos::prelude::*;

use crate::app::api::ChooseName;
use crate::app::Chat;
use crate::protocol::MAX_NAME_CHARS;

#[component]
pub fn NamePicker() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
    let choose = ServerAction::<ChooseName>::new();
    Effect::new(move |_| {
        if let Some(Ok(user)) = choose.value().get() {
            chat.me.set(Some(user));
            chat.named.set(true);
            // The server reads the name from the cookie at the upgrade: reconnect to use it.
            chat.reconnect();
        }
    });
    let error = move || match choose.value().get() {
        Some(Err(err)) => Some(err.to_string()),
        _ => None,
    };
    view! {
        <ActionForm action=choose attr:class="name-picker">
            <label>
                {t.pick_a_name}
                <input
                    type="text"
                    name="name"
                    aria-label=t.display_name
                    required
                    maxlength=MAX_NAME_CHARS.to_string()
                    autocomplete="nickname"
                />
            </label>
            <button type="submit">{t.join_chat}</button>
            <p class="notice" role="alert">{error}</p>
        </ActionForm>
    }
}
