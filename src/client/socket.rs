//! The page's WebSocket: opens it, turns its events into [`Chat`] signal updates, and reopens
//! it after an unexpected close.
//!
//! One socket per page. Each opened socket gets a generation number; events from an older
//! socket (one being replaced) are ignored, so a late `close` cannot clobber the new state.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use leptos::prelude::{set_timeout_with_handle, GetUntracked, Set, TimeoutHandle, WithValue};
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use crate::app::api::load_older;
use crate::app::chat::ready_state;
use crate::app::Chat;
use crate::protocol::{close_code, ClientFrame, ErrorCode, ServerFrame};

/// Pause before reopening after an unexpected close.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// An open (or opening) socket and the handlers it calls. The handlers must outlive every
/// call the browser can still make, so they live as long as the link.
struct Link {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Link {
    fn drop(&mut self) {
        // The socket object may outlive us in the browser; it must not call freed handlers.
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
    }
}

thread_local! {
    static WATCHING_NETWORK: Cell<bool> = const { Cell::new(false) };
    static LINK: RefCell<Option<Link>> = const { RefCell::new(None) };
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    static RECONNECT_TIMER: Cell<Option<TimeoutHandle>> = const { Cell::new(None) };
}

/// Opens a socket unless one is already connecting or open.
pub fn connect(chat: Chat) {
    watch_network(chat);
    cancel_reconnect();
    let alive = LINK.with_borrow(|link| {
        link.as_ref()
            .is_some_and(|l| l.socket.ready_state() <= ready_state::OPEN)
    });
    if alive {
        return;
    }
    match open(chat) {
        Ok(link) => LINK.set(Some(link)),
        Err(err) => {
            leptos::logging::warn!("cannot open the chat socket: {err:?}");
            chat.ready_state.set(ready_state::CLOSED);
            schedule_reconnect(chat);
        }
    }
}

/// Starts a clean close (code 1000). The close event then reports CLOSED.
pub fn disconnect(chat: Chat) {
    cancel_reconnect();
    LINK.with_borrow(|link| {
        if let Some(link) = link {
            if link.socket.ready_state() <= ready_state::OPEN {
                let _ = link
                    .socket
                    .close_with_code_and_reason(close_code::NORMAL, "bye");
            }
            chat.ready_state.set(link.socket.ready_state());
        }
    });
}

/// Sends a message if the socket is open, showing it as pending until the server has stored
/// it. Returns whether it was handed to the socket.
pub fn send(chat: Chat, text: &str) -> bool {
    let client_id = new_client_id();
    let sent = send_frame(&ClientFrame::Send {
        room: chat.room.with_value(Clone::clone),
        client_id: client_id.clone(),
        text: text.to_owned(),
    });
    if sent {
        chat.add_pending(client_id, text.to_owned());
    } else {
        chat.notice.set(Some(
            "Not connected: your message is still in the box.".to_owned(),
        ));
    }
    sent
}

/// Writes a frame if the socket is open. Returns whether it was handed to the socket.
fn send_frame(frame: &ClientFrame) -> bool {
    let Ok(json) = serde_json::to_string(frame) else {
        return false;
    };
    LINK.with_borrow(|link| {
        link.as_ref().is_some_and(|l| {
            l.socket.ready_state() == ready_state::OPEN && l.socket.send_with_str(&json).is_ok()
        })
    })
}

/// Catches up from the last message shown, then sends again whatever the server has not
/// acknowledged (the same client_id, so the server stores it at most once).
fn join_and_retry(chat: Chat) {
    send_frame(&ClientFrame::Join {
        room: chat.room.with_value(Clone::clone),
        since: Some(chat.last_seq()),
    });
    for pending in chat.unacknowledged() {
        send_frame(&ClientFrame::Send {
            room: chat.room.with_value(Clone::clone),
            client_id: pending.client_id,
            text: pending.text,
        });
    }
}

/// Too far behind, or ahead of a server that lost history: show the latest page instead of
/// catching up message by message, then join from there.
fn reload_latest(chat: Chat) {
    leptos::task::spawn_local(async move {
        match load_older(chat.room.with_value(Clone::clone), None).await {
            Ok(page) => {
                chat.replace_with(page);
                join_and_retry(chat);
            }
            Err(err) => chat
                .notice
                .set(Some(format!("Could not reload the history: {err}"))),
        }
    });
}

fn open(chat: Chat) -> Result<Link, JsValue> {
    let generation = GENERATION.get() + 1;
    GENERATION.set(generation);
    let is_current = move || GENERATION.get() == generation;

    let socket = WebSocket::new(&socket_url()?)?;
    chat.ready_state.set(socket.ready_state());

    let on_open = Closure::<dyn FnMut(Event)>::new(move |_| {
        if is_current() {
            chat.ready_state.set(ready_state::OPEN);
            chat.notice.set(None);
            join_and_retry(chat);
        }
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if let (true, Some(text)) = (is_current(), event.data().as_string()) {
            handle_frame(chat, &text);
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| {
        if is_current() {
            chat.ready_state.set(ready_state::CLOSED);
            if chat.wants_connection.get_untracked() {
                schedule_reconnect(chat);
            }
        }
    });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    Ok(Link {
        socket,
        _on_open: on_open,
        _on_message: on_message,
        _on_close: on_close,
    })
}

fn handle_frame(chat: Chat, text: &str) {
    match serde_json::from_str::<ServerFrame>(text) {
        Ok(ServerFrame::Welcome { user, .. }) => {
            if !chat.named.get_untracked() {
                chat.me.set(Some(user));
            }
        }
        Ok(ServerFrame::Message(message)) => chat.receive(message),
        Ok(ServerFrame::Ack { client_id, .. }) => chat.acknowledge(&client_id),
        Ok(ServerFrame::Joined { .. }) => {}
        Ok(ServerFrame::Resync { .. })
        | Ok(ServerFrame::Error {
            code: ErrorCode::SeqBeyondHead,
            ..
        }) => reload_latest(chat),
        Ok(ServerFrame::Error { message, .. }) => chat.notice.set(Some(message)),
        Err(err) => leptos::logging::warn!("ignoring a frame this page does not understand: {err}"),
    }
}

/// Follows the browser's network state. Going offline does not close a WebSocket by itself,
/// and one that looks open then receives nothing: drop it at once and show it. Coming back
/// online reconnects at once rather than at the next retry.
fn watch_network(chat: Chat) {
    if WATCHING_NETWORK.replace(true) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_offline = Closure::<dyn FnMut(Event)>::new(move |_| abandon(chat));
    let on_online = Closure::<dyn FnMut(Event)>::new(move |_| {
        if chat.wants_connection.get_untracked() {
            connect(chat);
        }
    });
    let _ = window.add_event_listener_with_callback("offline", on_offline.as_ref().unchecked_ref());
    let _ = window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    // These listen for the page's whole life.
    on_offline.forget();
    on_online.forget();
}

/// Gives up on the current socket without waiting for a close handshake that cannot
/// complete: its later events are ignored, and a reconnect is scheduled.
fn abandon(chat: Chat) {
    GENERATION.set(GENERATION.get() + 1);
    LINK.with_borrow(|link| {
        if let Some(link) = link {
            let _ = link.socket.close();
        }
    });
    chat.ready_state.set(ready_state::CLOSED);
    if chat.wants_connection.get_untracked() {
        schedule_reconnect(chat);
    }
}

fn schedule_reconnect(chat: Chat) {
    cancel_reconnect();
    match set_timeout_with_handle(move || connect(chat), RECONNECT_DELAY) {
        Ok(handle) => RECONNECT_TIMER.set(Some(handle)),
        Err(err) => leptos::logging::warn!("cannot schedule a reconnect: {err:?}"),
    }
}

fn cancel_reconnect() {
    if let Some(handle) = RECONNECT_TIMER.take() {
        handle.clear();
    }
}

/// `ws://host/ws` or `wss://host/ws`, following the page's scheme.
fn socket_url() -> Result<String, JsValue> {
    let location = web_sys::window()
        .ok_or_else(|| JsValue::from_str("no window"))?
        .location();
    let scheme = if location.protocol()? == "https:" {
        "wss:"
    } else {
        "ws:"
    };
    Ok(format!("{scheme}//{}/ws", location.host()?))
}

/// 128 random bits as 32 hex digits. `crypto.getRandomValues` works on plain-http pages too,
/// unlike `crypto.randomUUID`, which needs a secure context.
fn new_client_id() -> String {
    let mut bytes = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    if bytes == [0; 16] {
        // No crypto at all: fall back to Math.random, still unique enough per message.
        for byte in &mut bytes {
            *byte = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
