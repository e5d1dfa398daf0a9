//! Huddle's wire protocol, version 1.
//!
//! Every frame is a JSON text frame whose `"type"` field names its kind (see docs/protocol.md).
//! These types compile into both the server and the browser (wasm), so the two sides cannot
//! disagree about a field name.

use serde::{Deserialize, Serialize};

/// The room every connection joins on connect, and where plain (non-JSON) text frames go.
pub const LOBBY: &str = "lobby";

/// Longest message text accepted, in Unicode scalar values. Discord allows 4,000 for its
/// paying users; that is enough for a paragraph-sized chat message and keeps frames far below
/// the socket's message limit.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// Longest `client_id` accepted, in bytes. A UUID is 36; the slack is for clients that prefix
/// their own ids.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// Longest display name, in Unicode scalar values.
pub const MAX_NAME_CHARS: usize = 32;
/// Shortest password an account may have (NIST SP 800-63B asks for at least 8).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted: hashing cost grows with length, so it is bounded.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// WebSocket close codes Huddle sends, and what a client should do after each
/// (docs/protocol.md has the table).
pub mod close_code {
    /// The client asked to close. Do not reconnect.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down. Reconnect.
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the WebSocket protocol (RFC 6455 §7.4.1). A client bug: do not
    /// reconnect blindly.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// The client sent a kind of data it may not (binary, where only text is taken).
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// The client broke a rule of this server (RFC 6455 §7.4.1, policy violation).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A text frame was not valid UTF-8. A client bug: do not reconnect blindly.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A message exceeded the server's size limit. A client bug: do not resend the same frame.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The server is restarting (SIGTERM). Reconnect after the `retry_after_ms` given in the
    /// close reason (`{"retry_after_ms":N}`), which spreads clients out.
    pub const SERVICE_RESTART: u16 = 1012;
    /// The server cannot serve the connection just now (its store did not answer).
    /// Reconnect with backoff.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The client did not read its messages fast enough and its queue overflowed; it missed
    /// messages. Reconnect.
    pub const TOO_SLOW: u16 = 4008;
    /// The client did not answer a heartbeat in time. Reconnect.
    pub const HEARTBEAT_TIMEOUT: u16 = 4009;
    /// The person logged out (in this tab or another): the session is gone. Do not reconnect
    /// with it; reload to continue as someone else.
    pub const LOGGED_OUT: u16 = 4001;

    /// Whether a client should reconnect after a close with `code`. After a deliberate close
    /// or a client bug, reconnecting would only repeat it.
    pub fn should_reconnect(code: u16) -> bool {
        !matches!(
            code,
            NORMAL
                | PROTOCOL_ERROR
                | INVALID_PAYLOAD
                | UNSUPPORTED_DATA
                | POLICY_VIOLATION
                | LOGGED_OUT
        )
    }
}

/// The server's heartbeat, announced in `welcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatSettings {
    pub interval_ms: u64,
    pub timeout_ms: u64,
}

/// Who wrote a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable, opaque identifier; two people may share a display name but never an id.
    pub id: String,
    /// Display name chosen by the person (or generated for guests).
    pub name: String,
}

/// A chat message as the server broadcast it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub room: String,
    /// Position in the room: 1 for its first message, then each message one more. Never reused.
    pub seq: u64,
    /// Server-assigned id, unique across rooms and time-ordered.
    pub id: String,
    /// The sender's id for this message, echoed so the sender can match its own messages.
    pub client_id: String,
    pub user: User,
    pub text: String,
    /// Server time of receipt, unix milliseconds.
    pub ts: i64,
}

/// What kind of room a room is; decides who may read and write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// Anyone who can use the server may join, read and write.
    Public,
    /// A conversation between two people: only they may join, read or write it.
    Dm,
}

/// A room in someone's room list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEntry {
    /// The room's name, as in `/r/{name}` and every frame.
    pub name: String,
    pub kind: RoomKind,
    /// For a direct message, the other person; `None` for public rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<User>,
    /// Messages after the last one this person has read.
    pub unread: u64,
    /// Of those, the ones that mention this person (`@name`, see [`mention_ranges`]).
    #[serde(default)]
    pub mentions: u64,
    /// The room's last seq when this entry was made: what arrives after it is unread too.
    #[serde(default)]
    pub head: u64,
}

/// One page of a room's history, oldest first: the answer to
/// `GET /api/rooms/{room}/messages` and the first page the room page renders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub room: String,
    pub messages: Vec<ChatMessage>,
    /// Whether older messages exist before the first one in `messages`.
    pub has_more: bool,
}

/// Frames a client sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Post `text` to `room`. `client_id` is unique per message, chosen by the client.
    Send {
        room: String,
        client_id: String,
        text: String,
    },
    /// Subscribe to `room`. With `since`, first receive every message after that seq (the
    /// last one the client holds), then live ones, with no gap and no duplicate between them.
    Join {
        room: String,
        #[serde(default)]
        since: Option<u64>,
    },
    /// Asks for a `pong` carrying the same `t` (the page measures round-trip time with it).
    Ping { t: i64 },
    /// Answers the server's `ping`.
    Pong { t: i64 },
    /// Unsubscribe from `room` and take it off your room list (DMs stay listed).
    Leave { room: String },
    /// You are typing in `room`. Send at most every few seconds while typing; others see it
    /// for [`TYPING_SHOWN_MS`] after the last one.
    Typing { room: String },
    /// You have read `room` up to `seq`: its unread count starts after it.
    Read { room: String, seq: u64 },
    /// Open (creating if needed) the direct-message room with the person whose user id is
    /// `user`; answered with `room_added`, and the other person gets one too.
    OpenDm { user: String },
}

/// Frames the server sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection: who the server thinks you are, the room you are in,
    /// and the heartbeat: the server pings every `interval_ms` and closes a connection it has
    /// not heard from `timeout_ms` after a ping. A client that hears nothing for
    /// `interval_ms + timeout_ms` may assume the connection is dead.
    Welcome {
        user: User,
        room: String,
        heartbeat: HeartbeatSettings,
    },
    /// Answer with `{"type":"pong","t":…}` carrying the same `t`.
    Ping { t: i64 },
    /// The answer to your `ping`.
    Pong { t: i64 },
    /// A message in a room you are in; the sender receives its own message too.
    Message(ChatMessage),
    /// Your message is stored (committed): `seq` and `id` are final. Sent once per `send`,
    /// and again, identical, for a retried `send` with the same `client_id`.
    Ack {
        room: String,
        client_id: String,
        id: String,
        seq: u64,
    },
    /// Your `join` is complete: every message up to `head` has been sent to you; what follows
    /// is live.
    Joined { room: String, head: u64 },
    /// You are too far behind (`since` is more than the server's resume limit before `head`):
    /// load the latest page of history over HTTP, then `join` again from its last seq.
    Resync { room: String, head: u64 },
    /// Your last frame was refused; the connection stays open.
    Error { code: ErrorCode, message: String },
    /// Who is online in `room` now; sent after `joined`. One person with several
    /// connections is listed once.
    Members { room: String, online: Vec<User> },
    /// `user` came online in `room` (their first connection joined it) or went offline
    /// (their last one left).
    Presence {
        room: String,
        user: User,
        online: bool,
    },
    /// `user` is typing in `room`; show it for [`TYPING_SHOWN_MS`] unless it comes again.
    Typing { room: String, user: User },
    /// Your `leave` is done: nothing more comes from `room`.
    Left { room: String },
    /// A room joined your room list (a direct message someone opened with you, or you with
    /// them). Join it to receive its messages.
    RoomAdded { room: RoomEntry },
    /// A notice a backend pushed (`POST /api/notify`): shown apart from chat messages, not
    /// stored, sent only to connections open at the time.
    Notice { text: String, from: String, ts: i64 },
}

/// How long a typing indicator stays up after the last `typing` frame, in milliseconds.
pub const TYPING_SHOWN_MS: u64 = 5_000;

/// Shortest time between two `typing` frames a client sends for one room.
pub const TYPING_EVERY_MS: u64 = 2_000;

/// Longest notice text, in Unicode scalar values.
pub const MAX_NOTICE_CHARS: usize = 1_000;

/// Borrowing twin of [`ServerFrame::Message`], so the server can serialize a broadcast once
/// without cloning the message.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrameRef<'a> {
    Message(&'a ChatMessage),
}

impl ChatMessage {
    /// The `{"type":"message",…}` frame for this message.
    pub fn to_frame_json(&self) -> String {
        // Serializing plain strings and integers into a String cannot fail.
        serde_json::to_string(&ServerFrameRef::Message(self)).unwrap_or_default()
    }
}

impl ServerFrame {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Why a client frame was refused. The string forms are part of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame started with `{` but is not valid JSON.
    MalformedJson,
    /// Valid JSON whose `"type"` is missing or not one this server knows.
    UnknownType,
    /// A known type with missing, extra or mistyped fields.
    InvalidFrame,
    /// Text that is empty or only whitespace.
    EmptyText,
    /// Text longer than [`MAX_TEXT_CHARS`].
    TextTooLong,
    /// Text holding U+0000 (NUL). No message may: PostgreSQL's text cannot store it, and on a
    /// server writing a batch of messages at once, one such message would fail the others.
    NulInText,
    /// A `client_id` that is empty, longer than [`MAX_CLIENT_ID_LEN`], or holds U+0000.
    InvalidClientId,
    /// A room that does not exist or that this connection has not joined.
    UnknownRoom,
    /// A binary frame: Huddle speaks text frames only.
    BinaryNotSupported,
    /// A room name that is empty, longer than [`MAX_ROOM_NAME_LEN`] bytes, or has
    /// characters other than lowercase ASCII letters, digits, `-` and `_`.
    InvalidRoom,
    /// A `since` that is not a non-negative integer.
    InvalidSeq,
    /// A `since` beyond the room's last message: the client holds messages the server never
    /// sent (another server's, or a reset database).
    SeqBeyondHead,
    /// The message could not be stored; it was not sent to anyone. Retry with the same
    /// `client_id`.
    StoreUnavailable,
    /// This person may not do that in that room (a private room or someone else's DM).
    Forbidden,
    /// Too many frames too fast; this one was not acted on. The message says when to retry;
    /// a refused `send` may be sent again with the same `client_id`.
    RateLimited,
    /// No such person (an `open_dm` for a user id the server does not know).
    UnknownUser,
    /// A `join` past the rooms one connection may be in at once
    /// (`--max-rooms-per-connection`); leave one first.
    TooManyRooms,
    /// The server has as many rooms in use as it keeps (`--max-rooms-in-memory`); the join
    /// was not done. Retry later.
    ServerBusy,
}

/// Checks message text against the protocol's rules; shared by the composer (to not send what
/// the server would refuse) and the server (which decides).
pub fn check_text(text: &str) -> Result<(), ErrorCode> {
    if text.trim().is_empty() {
        return Err(ErrorCode::EmptyText);
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ErrorCode::TextTooLong);
    }
    if text.contains('\0') {
        return Err(ErrorCode::NulInText);
    }
    Ok(())
}

/// Checks a `client_id`: 1 to [`MAX_CLIENT_ID_LEN`] bytes, without U+0000 (which no store
/// can keep as text, see [`ErrorCode::NulInText`]).
pub fn check_client_id(client_id: &str) -> Result<(), ErrorCode> {
    if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN || client_id.contains('\0') {
        return Err(ErrorCode::InvalidClientId);
    }
    Ok(())
}

/// Longest room name, in bytes.
pub const MAX_ROOM_NAME_LEN: usize = 64;

/// Checks a room name: 1 to [`MAX_ROOM_NAME_LEN`] of `a-z`, `0-9`, `-` and `_`. Names are
/// used in URLs (`/r/{room}`) and logs as they are, so nothing there needs escaping.
pub fn check_room_name(room: &str) -> Result<(), ErrorCode> {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
    if room.is_empty() || room.len() > MAX_ROOM_NAME_LEN || !room.bytes().all(allowed) {
        return Err(ErrorCode::InvalidRoom);
    }
    Ok(())
}

/// Prefix of every direct-message room's name; public rooms cannot use it.
pub const DM_ROOM_PREFIX: &str = "dm-";

/// Where `text` mentions the person named `name`: each `@name`, letters compared without
/// case, that is neither glued to a word before it (`ada@example.com` mentions nobody) nor
/// continued by a letter, digit, `_` or `-` after it (`@Al` does not mention Alice, nor
/// `@Alice` Al). Byte ranges of `text`, the `@` included. Names are matched as text, so a
/// name that looks like markup is just its characters.
pub fn mention_ranges(text: &str, name: &str) -> Vec<std::ops::Range<usize>> {
    let name = name.trim();
    if name.is_empty() {
        return Vec::new();
    }
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    text.match_indices('@')
        .filter(|(at, _)| {
            !text[..*at]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
        })
        .filter_map(|(at, _)| {
            let end = at + 1 + prefix_len_ignoring_case(&text[at + 1..], name)?;
            (!text[end..].chars().next().is_some_and(word)).then_some(at..end)
        })
        // A name with `@` in it can match again inside its own match ("@@@" in "@@@@@@");
        // ranges never overlap, so a view can cut the text at them in order.
        .fold(
            Vec::new(),
            |mut ranges: Vec<std::ops::Range<usize>>, range| {
                if ranges.last().is_none_or(|last| range.start >= last.end) {
                    ranges.push(range);
                }
                ranges
            },
        )
}

/// Whether `text` mentions the person named `name` ([`mention_ranges`]).
pub fn mentions(text: &str, name: &str) -> bool {
    !mention_ranges(text, name).is_empty()
}

/// How many bytes of `text` spell `prefix`, letters compared without case; `None` if it does
/// not start with it.
fn prefix_len_ignoring_case(text: &str, prefix: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    let mut end = 0;
    for wanted in prefix.chars() {
        let (at, found) = chars.next()?;
        if !found.to_lowercase().eq(wanted.to_lowercase()) {
            return None;
        }
        end = at + found.len_utf8();
    }
    Some(end)
}

/// Whether `room` names a direct-message room.
pub fn is_dm_room(room: &str) -> bool {
    room.starts_with(DM_ROOM_PREFIX)
}

/// Normalizes a display name: trims it, and refuses empty, over-long or control-character names.
pub fn normalize_name(name: &str) -> Option<String> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.chars().any(char::is_control);
    ok.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzz/fuzz_targets/names_and_text.rs: a name of `@`s matched inside its own
    /// matches, and the overlapping ranges would have cut the highlighted text wrongly.
    #[test]
    fn mention_ranges_never_overlap_even_for_names_made_of_at_signs() {
        assert_eq!(mention_ranges("@@@@@@@@", "@@@"), vec![0..4, 4..8]);
        let text = "\n@\u{2}\0\0@@@@@@@\u{f}a";
        let ranges = mention_ranges(text, "@@@");
        assert!(
            ranges.windows(2).all(|pair| pair[0].end <= pair[1].start),
            "{ranges:?}"
        );
    }

    #[test]
    fn a_mention_is_at_name_without_case_and_not_part_of_a_longer_word() {
        assert!(mentions("hi @Ada!", "Ada"));
        assert!(mentions("@ada, look", "Ada"), "case does not matter");
        assert!(mentions("thanks @Ada.", "Ada"), "a full stop ends the name");
        assert!(
            mentions("@Ann Lee are you there", "Ann Lee"),
            "names with spaces"
        );
        assert!(
            !mentions("hi @Adam", "Ada"),
            "a longer name is someone else"
        );
        assert!(!mentions("hi @Ad", "Ada"), "a shorter one too");
        assert!(
            !mentions("mail ada@Ada.com", "Ada"),
            "an e-mail address is no mention"
        );
        assert!(!mentions("hi Ada", "Ada"), "without @ it is no mention");
        assert!(!mentions("@", ""), "nobody has an empty name");
        assert_eq!(mention_ranges("@Ada and @ada", "Ada"), vec![0..4, 9..13]);
        // Names that look like markup are matched as the characters they are.
        assert!(mentions("hey @<b>Bo</b>", "<b>Bo</b>"));
        assert!(!mentions("hey <b>Bo</b>", "<b>Bo</b>"));
        // Letters beyond ASCII, compared without case too.
        assert_eq!(mention_ranges("你好 @小明", "小明"), vec![7..14]);
        assert!(mentions("@ÉMILE", "émile"));
    }

    fn sample() -> ChatMessage {
        ChatMessage {
            room: LOBBY.into(),
            seq: 1,
            id: "m1".into(),
            client_id: "c1".into(),
            user: User {
                id: "u1".into(),
                name: "Ada".into(),
            },
            text: "hi".into(),
            ts: 1_700_000_000_000,
        }
    }

    #[test]
    fn message_frame_is_tagged_and_round_trips() {
        let json = sample().to_frame_json();
        assert!(
            json.starts_with(r#"{"type":"message","room":"lobby""#),
            "{json}"
        );
        let back: ServerFrame = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ServerFrame::Message(sample()));
    }

    #[test]
    fn send_frame_parses_from_the_documented_shape() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"send","room":"lobby","client_id":"a","text":"hi"}"#)
                .unwrap();
        assert_eq!(
            frame,
            ClientFrame::Send {
                room: "lobby".into(),
                client_id: "a".into(),
                text: "hi".into()
            }
        );
    }

    #[test]
    fn join_frame_parses_with_and_without_since() {
        let with: ClientFrame =
            serde_json::from_str(r#"{"type":"join","room":"lobby","since":7}"#).unwrap();
        assert_eq!(
            with,
            ClientFrame::Join {
                room: "lobby".into(),
                since: Some(7)
            }
        );
        let without: ClientFrame =
            serde_json::from_str(r#"{"type":"join","room":"lobby"}"#).unwrap();
        assert_eq!(
            without,
            ClientFrame::Join {
                room: "lobby".into(),
                since: None
            }
        );
        assert!(serde_json::from_str::<ClientFrame>(
            r#"{"type":"join","room":"lobby","since":-1}"#
        )
        .is_err());
    }

    #[test]
    fn ack_frame_has_the_documented_shape() {
        let json = ServerFrame::Ack {
            room: "lobby".into(),
            client_id: "c".into(),
            id: "m".into(),
            seq: 3,
        }
        .to_json();
        assert_eq!(
            json,
            r#"{"type":"ack","room":"lobby","client_id":"c","id":"m","seq":3}"#
        );
    }

    #[test]
    fn error_frame_uses_snake_case_codes() {
        let json = ServerFrame::Error {
            code: ErrorCode::MalformedJson,
            message: "x".into(),
        }
        .to_json();
        assert_eq!(
            json,
            r#"{"type":"error","code":"malformed_json","message":"x"}"#
        );
    }

    #[test]
    fn client_id_rules() {
        assert_eq!(check_client_id("c-1"), Ok(()));
        assert_eq!(check_client_id(&"c".repeat(MAX_CLIENT_ID_LEN)), Ok(()));
        for bad in [
            String::new(),
            "c".repeat(MAX_CLIENT_ID_LEN + 1),
            "c\0".into(),
        ] {
            assert_eq!(
                check_client_id(&bad),
                Err(ErrorCode::InvalidClientId),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn text_rules() {
        assert_eq!(check_text("  \n\t"), Err(ErrorCode::EmptyText));
        assert_eq!(check_text(""), Err(ErrorCode::EmptyText));
        assert_eq!(check_text("ok"), Ok(()));
        assert_eq!(check_text(&"é".repeat(MAX_TEXT_CHARS)), Ok(()));
        assert_eq!(check_text("a\0b"), Err(ErrorCode::NulInText));
        assert_eq!(
            check_text("\0"),
            Err(ErrorCode::NulInText),
            "not blank: a NUL"
        );
        assert_eq!(
            check_text(&"é".repeat(MAX_TEXT_CHARS + 1)),
            Err(ErrorCode::TextTooLong)
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(normalize_name("  Ada  ").as_deref(), Some("Ada"));
        assert_eq!(normalize_name("   "), None);
        assert_eq!(normalize_name("a\u{0007}b"), None);
        assert_eq!(normalize_name(&"x".repeat(MAX_NAME_CHARS + 1)), None);
    }
}

/// Messages on the first page a room renders, per "Load older", and per page of the history
/// API when the request does not say.
pub const PAGE_SIZE: u32 = 50;

/// What the room page needs to render before any socket is open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    /// The person viewing, if they have a session (a guest who picked a name, or an account).
    pub me: Option<Viewer>,
    /// This room as it appears in the room list.
    pub room: RoomEntry,
    /// The latest page of history. The page joins the socket from its last seq, so nothing
    /// sent between rendering and connecting is missed.
    pub history: HistoryPage,
    /// The viewer's rooms (the lobby at least), with unread counts.
    pub rooms: Vec<RoomEntry>,
    /// What this server lets people do.
    pub guests_allowed: bool,
    pub accounts_allowed: bool,
}

/// The person viewing a page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub user: User,
    /// True for an account, false for a guest.
    pub account: bool,
}
