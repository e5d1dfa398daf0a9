//! The message box: Enter sends (unless an IME composition is in progress), Shift+Enter
//! starts a new line.

use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;

use crate::app::Chat;

#[component]
pub fn Composer() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let text = RwSignal::new(String::new());
    let submit = move || {
        let current = text.get_untracked();
        if current.trim().is_empty() {
            return;
        }
        // The text stays in the box unless it was handed to the socket.
        if chat.send(&current) {
            text.set(String::new());
            chat.notice.set(None);
        }
    };
    let on_keydown = move |ev: KeyboardEvent| {
        // While composing (Chinese, Japanese…), Enter confirms the candidate; it must not send
        // half-typed text. keyCode 229 covers browsers that report the composition that way.
        #[allow(deprecated)]
        let composing = ev.is_composing() || ev.key_code() == 229;
        if ev.key() == "Enter" && !ev.shift_key() && !composing {
            ev.prevent_default();
            submit();
        }
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        submit();
    };
    view! {
        <form class="composer" on:submit=on_submit>
            <textarea
                aria-label="Message"
                placeholder="Write a message"
                rows="2"
                maxlength=crate::protocol::MAX_TEXT_CHARS.to_string()
                prop:value=move || text.get()
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    if !value.trim().is_empty() {
                        chat.typing();
                    }
                    text.set(value);
                }
                on:keydown=on_keydown
            ></textarea>
            <button type="submit">"Send"</button>
            <p class="notice" aria-live="polite">{move || chat.notice.get()}</p>
        </form>
    }
}
