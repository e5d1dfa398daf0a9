//! "Ada is typing…": shown while `typing` frames keep coming, gone a few seconds after the
//! last one (or at once when that person's message arrives).

use leptos::prelude::*;

use crate::app::Chat;

#[component]
pub fn TypingIndicator() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let words = move || {
        chat.typing.with(|typing| {
            let names: Vec<&str> = typing.iter().map(|(user, _)| user.name.as_str()).collect();
            match names.as_slice() {
                [] => String::new(),
                [one] => format!("{one} is typing…"),
                [one, two] => format!("{one} and {two} are typing…"),
                [one, two, ..] => format!("{one}, {two} and others are typing…"),
            }
        })
    };
    view! {
        <p class="typing" aria-live="polite" data-testid="typing">{words}</p>
        <p class="presence-note" aria-live="polite" data-testid="presence-note">
            {move || chat.presence_note.get()}
        </p>
    }
}
