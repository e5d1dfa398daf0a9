//! The message box: Enter sends (unless an IME composition is in progress), Shift+Enter
//! starts a new line.
//!
//! One form for both kinds of page. With JavaScript, submitting it sends through the socket
//! (outbox, acks). Without, the browser posts it as it is to the `post_message` server
//! function, which stores the message and sends the browser back to the room.

use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;

use crate::app::api::PostMessage;
use crate::app::Chat;

#[component]
pub fn Composer() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
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
    // The answer to a post without JavaScript comes back in the URL the browser is sent to.
    let posted = ServerAction::<PostMessage>::new();
    let refused = move || match posted.value().get() {
        Some(Err(err)) => Some(err.to_string()),
        _ => None,
    };
    let room = chat.room.get_value();
    const POST_MESSAGE_PATH: &str = <PostMessage as leptos::server_fn::ServerFn>::PATH;
    view! {
        <form
            class="composer"
            method="post"
            action=POST_MESSAGE_PATH
            on:submit=on_submit
        >
            <input type="hidden" name="room" value=room/>
            <input type="hidden" name="client_id" value=form_client_id()/>
            <textarea
                name="text"
                required
                aria-label=t.message
                placeholder=t.write_a_message
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
            <button type="submit">{t.send}</button>
            <p class="notice" aria-live="polite">{move || chat.notice.get().or_else(refused)}</p>
        </form>
    }
}

/// The `client_id` of the form's plain post, fresh for every page the server renders: a form
/// sent twice (a double click, a resent request) is stored once. A page with JavaScript
/// never posts the form, so the browser makes none.
fn form_client_id() -> String {
    #[cfg(feature = "ssr")]
    {
        format!("form-{}", uuid::Uuid::now_v7().simple())
    }
    #[cfg(not(feature = "ssr"))]
    {
        String::new()
    }
}
