//! "Ada is typing…": shown while `typing` frames keep coming, gone a few seconds after the
//! last one (or at once when that person's message arrives).

use leptos::prelude::*;

use crate::app::Chat;

#[component]
pub fn TypingIndicator() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
    let words = move || {
        chat.typing.with(|typing| {
            let names: Vec<&str> = typing.iter().map(|(user, _)| user.name.as_str()).collect();
            (t.typing)(&names)
        })
    };
    view! {
        <p class="typing" aria-live="polite" data-testid="typing">{words}</p>
        <p class="presence-note" aria-live="polite" data-testid="presence-note">
            {move || chat.presence_note.get()}
        </p>
    }
}
