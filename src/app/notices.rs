//! Notices pushed by backends (`POST /api/notify`), shown apart from the conversation: a
//! stack of toasts, each with who sent it and a button to dismiss it.

use leptos::prelude::*;

use crate::app::chat::Notice;
use crate::app::Chat;

#[component]
pub fn Notices() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
    view! {
        <section class="notices" aria-label=t.notices aria-live="assertive">
            <For
                each=move || chat.notices.get()
                key=|notice| notice.key
                children=move |notice: Notice| {
                    let key = notice.key;
                    view! {
                        <div class="toast" data-testid="notice">
                            <strong class="from">{notice.from}</strong>
                            <span class="text">{notice.text}</span>
                            <button
                                type="button"
                                aria-label=t.dismiss_notice
                                on:click=move |_| chat.dismiss_notice(key)
                            >
                                "×"
                            </button>
                        </div>
                    }
                }
            />
        </section>
    }
}
