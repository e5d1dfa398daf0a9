//! The connection status line and the Connect/Disconnect toggle.

use leptos::prelude::*;

use crate::app::chat::ready_state;
use crate::app::Chat;
use crate::i18n::Catalogue;

/// What a person reads for a readyState, with the countdown to the next attempt if any.
fn describe(
    t: &Catalogue,
    state: u16,
    wants_connection: bool,
    retry_in_secs: Option<u32>,
) -> String {
    match state {
        ready_state::CONNECTING => t.connecting.into(),
        ready_state::OPEN => t.connected.into(),
        ready_state::CLOSING => t.disconnecting.into(),
        _ if wants_connection => match retry_in_secs {
            Some(secs) if secs > 0 => (t.reconnecting_in)(secs),
            _ => t.reconnecting.into(),
        },
        _ => t.disconnected.into(),
    }
}

/// "3 messages waiting to send", plus the bytes the socket still holds while it drains.
fn describe_outbox(t: &Catalogue, waiting: usize, buffered_bytes: u32) -> Option<String> {
    match (waiting, buffered_bytes) {
        (0, 0) => None,
        (0, bytes) => Some((t.bytes_buffered)(bytes)),
        (n, 0) => Some((t.waiting_to_send)(n)),
        (n, bytes) => Some(format!(
            "{} ({})",
            (t.waiting_to_send)(n),
            (t.bytes_buffered)(bytes)
        )),
    }
}

#[component]
pub fn ConnectionStatus() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
    let state = chat.ready_state;
    let wants = chat.wants_connection;
    let waiting = move || chat.pending.with(|p| p.iter().filter(|p| !p.acked).count());
    let outbox = move || describe_outbox(t, waiting(), chat.buffered_bytes.get());
    let can_retry = move || state.get() == ready_state::CLOSED && wants.get();
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
                {move || describe(t, state.get(), wants.get(), chat.retry_in_secs.get())}
            </span>
            <Show when=move || state.get() == ready_state::OPEN && chat.rtt_ms.get().is_some()>
                <span class="rtt" title=t.round_trip_time>{move || chat.rtt_ms.get().map(|ms| format!("{ms} ms"))}</span>
            </Show>
            <Show when=can_retry>
                <button type="button" class="retry" on:click=move |_| chat.retry_now()>{t.retry_now}</button>
            </Show>
            <Show when=move || outbox().is_some()>
                <span class="outbox" data-pending=move || waiting().to_string()>{outbox}</span>
            </Show>
            <button type="button" class="toggle" on:click=toggle>
                {move || if wants.get() { t.disconnect } else { t.connect }}
            </button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use crate::app::Locale;

    /// The tests read the English words.
    fn describe(state: u16, wants_connection: bool, retry_in_secs: Option<u32>) -> String {
        super::describe(
            Locale::En.catalogue(),
            state,
            wants_connection,
            retry_in_secs,
        )
    }

    fn describe_outbox(waiting: usize, buffered_bytes: u32) -> Option<String> {
        super::describe_outbox(Locale::En.catalogue(), waiting, buffered_bytes)
    }

    #[test]
    fn every_ready_state_has_words() {
        assert_eq!(describe(0, true, None), "Connecting…");
        assert_eq!(describe(1, true, None), "Connected");
        assert_eq!(describe(2, false, None), "Disconnecting…");
        assert_eq!(describe(3, true, None), "Disconnected — reconnecting…");
        assert_eq!(
            describe(3, true, Some(4)),
            "Disconnected — reconnecting in 4 s"
        );
        assert_eq!(describe(3, false, Some(4)), "Disconnected");
    }

    #[test]
    fn the_outbox_is_described_only_when_it_holds_something() {
        assert_eq!(describe_outbox(0, 0), None);
        assert_eq!(
            describe_outbox(1, 0).as_deref(),
            Some("1 message waiting to send")
        );
        assert_eq!(
            describe_outbox(3, 120).as_deref(),
            Some("3 messages waiting to send (120 bytes buffered)")
        );
        assert_eq!(describe_outbox(0, 64).as_deref(), Some("64 bytes buffered"));
    }
}
