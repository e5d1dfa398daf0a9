//! The connection status line and the Connect/Disconnect toggle.

use leptos::prelude::*;

use crate::app::chat::ready_state;
use crate::app::Chat;

/// What a person reads for a readyState.
fn describe(state: u16, wants_connection: bool) -> &'static str {
    match state {
        ready_state::CONNECTING => "Connecting…",
        ready_state::OPEN => "Connected",
        ready_state::CLOSING => "Disconnecting…",
        _ if wants_connection => "Disconnected — reconnecting…",
        _ => "Disconnected",
    }
}

#[component]
pub fn ConnectionStatus() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let state = chat.ready_state;
    let wants = chat.wants_connection;
    let toggle = move |_| {
        if wants.get_untracked() {
            chat.disconnect();
        } else {
            chat.connect();
        }
    };
    view! {
        <div class="status">
            <span
                role="status"
                data-ready-state=move || state.get().to_string()
                class=move || format!("ready-state ready-state-{}", state.get())
            >
                {move || describe(state.get(), wants.get())}
            </span>
            <button type="button" class="toggle" on:click=toggle>
                {move || if wants.get() { "Disconnect" } else { "Connect" }}
            </button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ready_state_has_words() {
        assert_eq!(describe(0, true), "Connecting…");
        assert_eq!(describe(1, true), "Connected");
        assert_eq!(describe(2, false), "Disconnecting…");
        assert_eq!(describe(3, true), "Disconnected — reconnecting…");
        assert_eq!(describe(3, false), "Disconnected");
    }
}
