//! The page's one connection to the server: a state machine over [`Phase`], which turns the
//! socket's events into [`Chat`] updates (through [`frames`]) and keeps it alive on real
//! networks.
//!
//! - One socket per page, and never two connection attempts at once: a phase holds at most
//!   one [`Link`], and a link given up on is dropped, so nothing it still fires is heard.
//! - After an unexpected close it reconnects with exponential backoff and full jitter
//!   ([`crate::backoff`]), or after the delay a restarting server asked for (close 1012).
//! - A socket that looks open but has been silent for longer than the server's heartbeat
//!   interval plus timeout is dead: it is dropped and replaced.
//! - Going offline drops the socket at once; coming online, or the tab becoming visible,
//!   reconnects at once.
//! - The one socket carries all of the person's rooms: the open one with history and
//!   presence, the others live only, to count what arrives there as unread.
//!
//! ```text
//! from         on                                   to
//! Idle         connect                              Connecting
//! Waiting      its timer, online, tab visible       Connecting
//! Connecting   open                                 Open
//! Connecting,  close, silence, offline              Waiting (Idle if the close code says
//!   Open                                              not to come back)
//! any socket   disconnect                           Closing
//! Closing      close                                Idle
//! Closing      connect (a new identity)             Connecting (the old socket is dropped)
//! Waiting      disconnect                           Idle
//! ```

use std::cell::{Cell, RefCell};
use std::time::Duration;

use leptos::prelude::{
    set_interval_with_handle, set_timeout_with_handle, GetUntracked, Set, TimeoutHandle,
    WithUntracked, WithValue,
};
use wasm_bindgen::prelude::*;
use web_sys::Event;

use crate::app::api::load_older;
use crate::app::chat::ready_state;
use crate::app::Chat;
use crate::backoff::{Backoff, STABLE_AFTER};
use crate::client::frames::{self, Reaction, RoomHeads};
use crate::client::link::{socket_url, Handlers, Link};
use crate::client::outbox;
use crate::protocol::{close_code, ClientFrame, ServerFrame, TYPING_EVERY_MS};

/// How often the page checks its socket (silence, countdown, buffered bytes).
const TICK: Duration = Duration::from_secs(1);
/// How often the page measures round-trip time, in ticks.
const PING_EVERY_TICKS: u32 = 10;
/// Silence allowed before the first `welcome` says the server's heartbeat: its defaults.
const DEFAULT_SILENCE_MS: f64 = 35_000.0;
/// How long after new messages the page tells the server how far the person has read:
/// one `read` frame for a burst, not one per message.
const READ_AFTER: Duration = Duration::from_millis(1_500);
/// How long a pushed notice stays up unless dismissed.
const NOTICE_SHOWN: Duration = Duration::from_secs(15);

/// Where the page's one socket stands.
enum Phase {
    /// No socket, and none planned: before the first connect, after a disconnect, or after
    /// a close that says not to come back.
    Idle,
    /// No socket; the next attempt is due at `at` (Date.now() ms).
    Waiting { timer: TimeoutHandle, at: f64 },
    /// The socket is being opened.
    Connecting(Link),
    /// The socket is open: frames flow.
    Open(Link),
    /// The page asked for a clean close (1000) and awaits the close event.
    Closing(Link),
}

impl Phase {
    fn link(&self) -> Option<&Link> {
        match self {
            Phase::Connecting(link) | Phase::Open(link) | Phase::Closing(link) => Some(link),
            Phase::Idle | Phase::Waiting { .. } => None,
        }
    }
}

/// Everything the page's one connection tracks between the browser's callbacks (socket
/// events, timers): its phase, the backoff, the watchdog, and what was last sent or seen.
/// Each part is its own cell, borrowed only for the moment it is read or written, so a
/// callback that runs while another part is in use never finds it taken.
struct Connection {
    /// Whether the watchdog and the browser's online/visibility listeners are running.
    started: Cell<bool>,
    phase: RefCell<Phase>,
    /// The number the next link gets.
    next_link: Cell<u64>,
    backoff: RefCell<Backoff>,
    stable_timer: Cell<Option<TimeoutHandle>>,
    /// When the current socket last received anything.
    last_heard: Cell<f64>,
    /// Silence after which the socket counts as dead: the server's interval plus timeout.
    silence_limit_ms: Cell<f64>,
    ticks: Cell<u32>,
    /// The last seq known of each other room, to count what arrives there as unread.
    heads: RefCell<RoomHeads>,
    /// A `read` frame is due.
    read_timer: Cell<Option<TimeoutHandle>>,
    /// When this page last said the person is typing.
    typing_sent_at: Cell<f64>,
}

thread_local! {
    /// The page's connection. The page runs on the browser's one thread; the connection lives
    /// as long as the page, so it is leaked once and every callback reaches it directly.
    static CONNECTION: &'static Connection = Box::leak(Box::new(Connection {
        started: Cell::new(false),
        phase: RefCell::new(Phase::Idle),
        next_link: Cell::new(1),
        backoff: RefCell::new(Backoff::default()),
        stable_timer: Cell::new(None),
        last_heard: Cell::new(0.0),
        silence_limit_ms: Cell::new(DEFAULT_SILENCE_MS),
        ticks: Cell::new(0),
        heads: RefCell::new(RoomHeads::new()),
        read_timer: Cell::new(None),
        typing_sent_at: Cell::new(0.0),
    }));
}

fn connection() -> &'static Connection {
    CONNECTION.with(|connection| *connection)
}

/// `LocalKey`'s borrow-for-a-closure, on a plain `RefCell`.
trait BorrowFor<T> {
    fn with_borrow<R>(&self, f: impl FnOnce(&T) -> R) -> R;
    fn with_borrow_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
}

impl<T> BorrowFor<T> for RefCell<T> {
    fn with_borrow<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.borrow())
    }

    fn with_borrow_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}

/// Opens a socket unless one is already connecting or open.
pub fn connect(chat: Chat) {
    start_watching(chat);
    cancel_reconnect(chat);
    let alive = connection().phase.with_borrow(|phase| match phase {
        Phase::Connecting(link) | Phase::Open(link) => {
            link.socket.ready_state() <= ready_state::OPEN
        }
        // A socket closing on request is not waited for: a new one replaces it.
        Phase::Closing(_) | Phase::Idle | Phase::Waiting { .. } => false,
    });
    if alive {
        return;
    }
    match open(chat) {
        Ok(link) => enter(Phase::Connecting(link)),
        Err(err) => {
            leptos::logging::warn!("cannot open the chat socket: {err:?}");
            enter(Phase::Idle);
            chat.ready_state.set(ready_state::CLOSED);
            schedule_reconnect(chat, None);
        }
    }
}

/// Starts a clean close (code 1000). The close event then reports CLOSED.
pub fn disconnect(chat: Chat) {
    cancel_reconnect(chat);
    let phase = connection().phase.replace(Phase::Idle);
    let next = match phase {
        Phase::Connecting(link) | Phase::Open(link) | Phase::Closing(link) => {
            if link.socket.ready_state() <= ready_state::OPEN {
                let _ = link
                    .socket
                    .close_with_code_and_reason(close_code::NORMAL, "bye");
            }
            chat.ready_state.set(link.socket.ready_state());
            Phase::Closing(link)
        }
        idle => idle,
    };
    enter(next);
}

/// Moves to `next`. A link the phase it leaves still held is dropped here (its handlers
/// detached), after the cell is free again: a transition that keeps the link moves it into
/// `next` instead. Leaving `Waiting` does not clear its timer: [`cancel_reconnect`] does.
fn enter(next: Phase) {
    let left = connection().phase.replace(next);
    drop(left);
}

/// Puts a message in the outbox, shown as pending, and sends it if the socket is open;
/// otherwise it goes out, with the same client_id, right after the next reconnect.
pub fn send(chat: Chat, text: &str) {
    let client_id = new_client_id();
    chat.add_pending(client_id.clone(), text.to_owned());
    send_frame(&ClientFrame::Send {
        room: chat.room.with_value(Clone::clone),
        client_id,
        text: text.to_owned(),
    });
}

/// Writes a frame if the socket is open. Returns whether it was handed to the socket.
fn send_frame(frame: &ClientFrame) -> bool {
    let Ok(json) = serde_json::to_string(frame) else {
        return false;
    };
    connection().phase.with_borrow(|phase| match phase {
        Phase::Open(link) => {
            link.socket.ready_state() == ready_state::OPEN
                && link.socket.send_with_str(&json).is_ok()
        }
        _ => false,
    })
}

/// The number of the open socket, if one is open.
fn open_link() -> Option<u64> {
    connection().phase.with_borrow(|phase| match phase {
        Phase::Open(link) => Some(link.id),
        _ => None,
    })
}

/// Says the person is typing, at most every [`TYPING_EVERY_MS`].
pub fn typing(chat: Chat) {
    let now = now_ms();
    if now - connection().typing_sent_at.get() < TYPING_EVERY_MS as f64 {
        return;
    }
    if send_frame(&ClientFrame::Typing {
        room: chat.room.with_value(Clone::clone),
    }) {
        connection().typing_sent_at.set(now);
    }
}

/// Asks the server to take the open room off the person's list; the page goes to the lobby
/// once it has (`left`).
pub fn leave(chat: Chat) {
    if !send_frame(&ClientFrame::Leave {
        room: chat.room.with_value(Clone::clone),
    }) {
        chat.notice.set(Some(chat.t().not_connected.into()));
    }
}

/// Asks the server to open a DM with `user_id`; the page goes there once it is open.
pub fn open_dm(chat: Chat, user_id: String) {
    chat.opening_dm.set(Some(user_id.clone()));
    if !send_frame(&ClientFrame::OpenDm { user: user_id }) {
        chat.notice.set(Some(chat.t().not_connected.into()));
    }
}

/// Catches up from the last message shown, then sends the outbox in order, each with its
/// original client_id, so the server stores each at most once. The person's other rooms
/// are joined live, for their unread counts.
fn join_and_retry(chat: Chat) {
    let active = chat.room.with_value(Clone::clone);
    send_frame(&ClientFrame::Join {
        room: active.clone(),
        since: Some(chat.last_seq()),
    });
    let others = chat.rooms.with_untracked(|rooms| {
        rooms
            .iter()
            .map(|r| r.name.clone())
            .filter(|name| *name != active)
            .collect::<Vec<_>>()
    });
    if let Some(link) = open_link() {
        join_paced(others, link);
    }
    resend_unacknowledged(chat);
}

/// Joins the person's other rooms (live only, for unread counts) a few at a time, below the
/// server's rate limit, so that someone with many rooms does not spend the burst their
/// outbox needs after a reconnect.
fn join_paced(mut rooms: Vec<String>, link: u64) {
    const AT_ONCE: usize = 5;
    const PAUSE: Duration = Duration::from_millis(600);
    // A new socket joins them all again itself.
    if open_link() != Some(link) || rooms.is_empty() {
        return;
    }
    let later = rooms.split_off(rooms.len().min(AT_ONCE));
    for room in rooms {
        send_frame(&ClientFrame::Join { room, since: None });
    }
    if !later.is_empty() {
        let _ = set_timeout_with_handle(move || join_paced(later, link), PAUSE);
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
                .set(Some((chat.t().could_not_reload_history)(&err.to_string()))),
        }
    });
}

/// Opens a new socket; its events drive the phase from `Connecting` on.
fn open(chat: Chat) -> Result<Link, JsValue> {
    let id = connection().next_link.get();
    connection().next_link.set(id + 1);
    let handlers = Handlers {
        on_open: Box::new(move |link| opened(chat, link)),
        on_message: Box::new(move |_, text| {
            connection().last_heard.set(now_ms());
            handle_frame(chat, &text);
        }),
        on_close: Box::new(move |_, code, reason| closed(chat, code, &reason)),
    };
    let link = Link::open(id, &socket_url()?, handlers)?;
    chat.ready_state.set(link.socket.ready_state());
    connection().last_heard.set(now_ms());
    Ok(link)
}

/// `Connecting` → `Open`: catch up, resend, and start measuring.
fn opened(chat: Chat, link: u64) {
    match connection().phase.replace(Phase::Idle) {
        Phase::Connecting(connecting) => enter(Phase::Open(connecting)),
        // Not waiting for this socket to open (a close was asked for meanwhile).
        other => {
            enter(other);
            return;
        }
    }
    chat.ready_state.set(ready_state::OPEN);
    chat.notice.set(None);
    connection().last_heard.set(now_ms());
    join_and_retry(chat);
    send_frame(&ClientFrame::Ping { t: now_ms() as i64 });
    schedule_backoff_reset(link);
}

/// The socket closed (whatever the phase): the link ends, and the close code says what next.
fn closed(chat: Chat, code: u16, reason: &str) {
    enter(Phase::Idle);
    chat.ready_state.set(ready_state::CLOSED);
    chat.rtt_ms.set(None);
    after_close(chat, code, reason);
}

/// Decides, from the close code, whether and when to come back.
fn after_close(chat: Chat, code: u16, reason: &str) {
    if !chat.wants_connection.get_untracked() {
        return;
    }
    if code == close_code::LOGGED_OUT {
        // The session is gone (logged out here or in another tab): show the page as the
        // server now sees this browser.
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
        return;
    }
    if !close_code::should_reconnect(code) {
        chat.wants_connection.set(false);
        chat.notice
            .set(Some((chat.t().server_closed)(code, reason)));
        return;
    }
    // A restarting server says when to come back, spreading its clients out.
    let asked = (code == close_code::SERVICE_RESTART)
        .then(|| serde_json::from_str::<serde_json::Value>(reason).ok())
        .flatten()
        .and_then(|reason| reason["retry_after_ms"].as_u64())
        .map(Duration::from_millis);
    schedule_reconnect(chat, asked);
}

/// Reads one frame from the server into the page ([`frames::apply`]) and does what it asks of
/// the connection.
fn handle_frame(chat: Chat, text: &str) {
    let frame = match serde_json::from_str::<ServerFrame>(text) {
        Ok(frame) => frame,
        Err(err) => {
            leptos::logging::warn!("ignoring a frame this page does not understand: {err}");
            return;
        }
    };
    let reaction = connection()
        .heads
        .with_borrow_mut(|heads| frames::apply(chat, heads, frame, now_ms()));
    match reaction {
        Reaction::Done => {}
        Reaction::Reply(frame) => {
            send_frame(&frame);
        }
        Reaction::MarkRead => schedule_read(chat),
        Reaction::ReloadLatest => reload_latest(chat),
        Reaction::ResendAfter(wait) => {
            // Sends refused for now go out again, with their client_ids, after the wait.
            let _ = set_timeout_with_handle(move || resend_unacknowledged(chat), wait);
        }
        Reaction::GoTo(room) => go_to_room(&room),
        Reaction::ExpireNotice(key) => {
            let _ = set_timeout_with_handle(move || chat.dismiss_notice(key), NOTICE_SHOWN);
        }
        Reaction::SilenceLimit(ms) => connection().silence_limit_ms.set(ms),
    }
}

/// Sends the outbox's unacknowledged messages again (same client_ids: stored once).
fn resend_unacknowledged(chat: Chat) {
    for pending in chat.unacknowledged() {
        send_frame(&ClientFrame::Send {
            room: chat.room.with_value(Clone::clone),
            client_id: pending.client_id,
            text: pending.text,
        });
    }
}

/// Tells the server, soon, that the person has read the open room up to its last message
/// (only while the page is visible: a background tab has not been read).
fn schedule_read(chat: Chat) {
    if let Some(handle) = connection().read_timer.take() {
        connection().read_timer.set(Some(handle));
        return;
    }
    let send_read = move || {
        connection().read_timer.set(None);
        let visible = web_sys::window()
            .and_then(|w| w.document())
            .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
        if visible && chat.last_seq() > 0 {
            send_frame(&ClientFrame::Read {
                room: chat.room.with_value(Clone::clone),
                seq: chat.last_seq(),
            });
        }
    };
    if let Ok(handle) = set_timeout_with_handle(send_read, READ_AFTER) {
        connection().read_timer.set(Some(handle));
    }
}

/// Full navigation to a room's page: it renders on the server with its history.
pub fn go_to_room(room: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(&format!("/r/{room}"));
    }
}

/// Once per page: the network and visibility listeners, and the one-second tick.
fn start_watching(chat: Chat) {
    if connection().started.replace(true) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    // Going offline does not close a WebSocket by itself, and one that looks open then
    // receives nothing: drop it at once and show it.
    let on_offline = Closure::<dyn FnMut(Event)>::new(move |_| abandon(chat));
    let reconnect_now = Closure::<dyn FnMut(Event)>::new(move |_| {
        let visible = web_sys::window()
            .and_then(|w| w.document())
            .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
        if visible && chat.wants_connection.get_untracked() {
            connect(chat);
        }
    });
    let listen = |target: &web_sys::EventTarget,
                  event: &str,
                  handler: &Closure<dyn FnMut(Event)>| {
        let _ = target.add_event_listener_with_callback(event, handler.as_ref().unchecked_ref());
    };
    listen(&window, "offline", &on_offline);
    listen(&window, "online", &reconnect_now);
    if let Some(document) = window.document() {
        listen(&document, "visibilitychange", &reconnect_now);
    }
    // These listen for the page's whole life.
    on_offline.forget();
    reconnect_now.forget();
    if let Err(err) = set_interval_with_handle(move || tick(chat), TICK) {
        leptos::logging::warn!("cannot start the connection watchdog: {err:?}");
    }
}

/// Every second: declare a silent socket dead, ping for round-trip time, and refresh the
/// countdown and buffered bytes shown to the person.
fn tick(chat: Chat) {
    let ticks = connection().ticks.get().wrapping_add(1);
    connection().ticks.set(ticks);
    let state = chat.ready_state.get_untracked();
    if state == ready_state::OPEN {
        if now_ms() - connection().last_heard.get() > connection().silence_limit_ms.get() {
            leptos::logging::warn!("no traffic from the server for too long; reconnecting");
            abandon(chat);
            return;
        }
        if ticks.is_multiple_of(PING_EVERY_TICKS) {
            send_frame(&ClientFrame::Ping { t: now_ms() as i64 });
        }
    }
    let buffered = connection()
        .phase
        .with_borrow(|phase| phase.link().map_or(0, |link| link.socket.buffered_amount()));
    if chat.buffered_bytes.get_untracked() != buffered {
        chat.buffered_bytes.set(buffered);
    }
    show_countdown(chat);
    chat.expire_typing(now_ms());
}

fn show_countdown(chat: Chat) {
    let seconds = connection().phase.with_borrow(|phase| match phase {
        Phase::Waiting { at, .. } => Some(((at - now_ms()).max(0.0) / 1000.0).ceil() as u32),
        _ => None,
    });
    if chat.retry_in_secs.get_untracked() != seconds {
        chat.retry_in_secs.set(seconds);
    }
}

/// Gives up on the current socket without waiting for a close handshake that cannot
/// complete: its link is dropped, so its later events are not heard, and a reconnect is
/// scheduled.
fn abandon(chat: Chat) {
    let socket = connection()
        .phase
        .with_borrow(|phase| phase.link().map(|link| link.socket.clone()));
    if let Some(socket) = socket {
        let _ = socket.close();
        enter(Phase::Idle);
    }
    chat.ready_state.set(ready_state::CLOSED);
    chat.rtt_ms.set(None);
    if chat.wants_connection.get_untracked() {
        schedule_reconnect(chat, None);
    }
}

/// Schedules the next attempt (`Waiting`): after `asked`, or the next backoff delay.
fn schedule_reconnect(chat: Chat, asked: Option<Duration>) {
    cancel_reconnect(chat);
    let delay = asked.unwrap_or_else(|| {
        connection()
            .backoff
            .with_borrow_mut(|b| b.next_delay(js_sys::Math::random()))
    });
    match set_timeout_with_handle(move || connect(chat), delay) {
        Ok(timer) => enter(Phase::Waiting {
            timer,
            at: now_ms() + delay.as_secs_f64() * 1000.0,
        }),
        Err(err) => leptos::logging::warn!("cannot schedule a reconnect: {err:?}"),
    }
    show_countdown(chat);
}

/// `Waiting` → `Idle`: the scheduled attempt will not run.
fn cancel_reconnect(chat: Chat) {
    let waiting = connection().phase.with_borrow(|phase| match phase {
        Phase::Waiting { timer, .. } => Some(*timer),
        _ => None,
    });
    if let Some(timer) = waiting {
        timer.clear();
        enter(Phase::Idle);
    }
    show_countdown(chat);
}

/// A connection that stays up for a while resets the backoff; one that drops at once does not.
fn schedule_backoff_reset(link: u64) {
    if let Some(handle) = connection().stable_timer.take() {
        handle.clear();
    }
    let reset = move || {
        if open_link() == Some(link) {
            connection().backoff.with_borrow_mut(Backoff::reset);
        }
    };
    if let Ok(handle) = set_timeout_with_handle(reset, STABLE_AFTER) {
        connection().stable_timer.set(Some(handle));
    }
}

/// Keeps the outbox in browser storage whenever it changes.
pub fn persist_outbox(chat: Chat) {
    chat.pending
        .with_untracked(|pending| outbox::save(&chat.room.with_value(Clone::clone), pending));
}

/// Puts back what an earlier page left in the outbox.
pub fn restore_outbox(chat: Chat) {
    chat.restore_pending(outbox::load(&chat.room.with_value(Clone::clone)));
}

fn now_ms() -> f64 {
    js_sys::Date::now()
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
