//! What each frame from the server means for the page: the [`Chat`] updates it makes, and
//! what the connection must do next ([`Reaction`]).
//!
//! Nothing here touches the browser: the connection ([`crate::client::connection`]) reads
//! the socket, hands each frame to [`apply`], and carries out the reaction (a reply, a timer,
//! a navigation). That keeps the page's reading of the protocol testable without a browser.

use std::collections::HashMap;
use std::time::Duration;

use leptos::prelude::{GetUntracked, Set, Update, WithUntracked, WithValue};

use crate::app::Chat;
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame, LOBBY, TYPING_SHOWN_MS};

/// How long a rate-limited page waits to resend when the server's refusal says no wait.
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// The last seq the page knows of each of the person's other rooms, to count what arrives
/// there as unread.
pub type RoomHeads = HashMap<String, u64>;

/// What the connection does after a frame has updated the page.
#[derive(Debug, PartialEq)]
pub enum Reaction {
    /// Nothing more.
    Done,
    /// Write this frame back on the socket.
    Reply(ClientFrame),
    /// The open room got news: tell the server, soon, how far it has been read.
    MarkRead,
    /// The page's copy of the open room cannot be caught up message by message: reload its
    /// latest page, then join from there.
    ReloadLatest,
    /// Sends were refused for now: resend the outbox after this wait.
    ResendAfter(Duration),
    /// Go to this room's page.
    GoTo(String),
    /// Take the pushed notice with this key down after a while.
    ExpireNotice(u64),
    /// The server's heartbeat: silence longer than this (ms) means the socket is dead.
    SilenceLimit(f64),
}

/// Applies one frame from the server (`now` is Date.now() in ms) to the page.
pub fn apply(chat: Chat, heads: &mut RoomHeads, frame: ServerFrame, now: f64) -> Reaction {
    let here = |room: &str| chat.room.with_value(|active| active == room);
    match frame {
        ServerFrame::Message(message) if !here(&message.room) => {
            // One's own message, sent from another tab, is read already.
            if chat.is_mine_untracked(&message.user.id) {
                heads.insert(message.room.clone(), message.seq);
            } else if note_head(chat, heads, &message.room, message.seq)
                && chat.mentions_me_untracked(&message.text)
            {
                chat.count_mention(&message.room);
            }
            Reaction::Done
        }
        ServerFrame::Message(message) => {
            chat.receive(message);
            Reaction::MarkRead
        }
        ServerFrame::Joined { room, head } if !here(&room) => {
            // What a join catches up on is counted as unread; its texts are not sent, so
            // mentions among them show once the room's page is loaded.
            note_head(chat, heads, &room, head);
            Reaction::Done
        }
        ServerFrame::Joined { .. } => Reaction::MarkRead,
        ServerFrame::Members { room, mut online } if here(&room) => {
            online.sort_by_key(|p| p.name.to_lowercase());
            chat.online.set(online);
            Reaction::Done
        }
        ServerFrame::Presence { room, user, online } if here(&room) => {
            chat.set_online(user, online);
            Reaction::Done
        }
        ServerFrame::Typing { room, user } if here(&room) => {
            if !chat.is_mine_untracked(&user.id) {
                chat.show_typing(user, now + TYPING_SHOWN_MS as f64);
            }
            Reaction::Done
        }
        // Presence and typing of rooms other than the open one are not shown.
        ServerFrame::Members { .. } | ServerFrame::Presence { .. } | ServerFrame::Typing { .. } => {
            Reaction::Done
        }
        ServerFrame::Notice { text, from, .. } => {
            chat.add_notice(text, from);
            let key = chat
                .notices
                .with_untracked(|n| n.last().map_or(0, |n| n.key));
            Reaction::ExpireNotice(key)
        }
        ServerFrame::RoomAdded { room } => {
            let name = room.name.clone();
            heads.entry(name.clone()).or_insert(room.head);
            let with = room.with.as_ref().map(|w| w.id.clone());
            chat.add_room(room);
            if with.is_some() && chat.opening_dm.get_untracked() == with {
                // The DM this page asked for is open: go there.
                chat.opening_dm.set(None);
                return Reaction::GoTo(name);
            }
            Reaction::Reply(ClientFrame::Join {
                room: name,
                since: None,
            })
        }
        ServerFrame::Left { room } => {
            chat.rooms.update(|rooms| rooms.retain(|r| r.name != room));
            if here(&room) {
                Reaction::GoTo(LOBBY.to_owned())
            } else {
                Reaction::Done
            }
        }
        ServerFrame::Welcome {
            user, heartbeat, ..
        } => {
            if !chat.named.get_untracked() {
                chat.me.set(Some(user));
            }
            Reaction::SilenceLimit((heartbeat.interval_ms + heartbeat.timeout_ms) as f64)
        }
        ServerFrame::Ack { client_id, .. } => {
            chat.acknowledge(&client_id);
            Reaction::Done
        }
        ServerFrame::Ping { t } => Reaction::Reply(ClientFrame::Pong { t }),
        ServerFrame::Pong { t } => {
            chat.rtt_ms.set(Some((now - t as f64).max(0.0) as u32));
            Reaction::Done
        }
        ServerFrame::Resync { .. }
        | ServerFrame::Error {
            code: ErrorCode::SeqBeyondHead,
            ..
        } => Reaction::ReloadLatest,
        ServerFrame::Error {
            code: ErrorCode::RateLimited,
            message,
        } => Reaction::ResendAfter(rate_limit_wait(&message)),
        ServerFrame::Error { code, message } => {
            chat.notice
                .set(Some((chat.t().error_frame)(code, &message)));
            Reaction::Done
        }
    }
}

/// Counts what another room received since its last known seq as unread. The page's room
/// list says each room's head as it was rendered, so nothing between the render and the
/// socket's join is missed. Returns whether `head` was news (a message seen twice is not).
fn note_head(chat: Chat, heads: &mut RoomHeads, room: &str, head: u64) -> bool {
    let rendered = chat
        .rooms
        .with_untracked(|rooms| rooms.iter().find(|r| r.name == room).map(|r| r.head));
    let known = heads
        .entry(room.to_owned())
        .or_insert(rendered.unwrap_or(head));
    let previous = std::mem::replace(known, head.max(*known));
    if head > previous {
        chat.count_unread(room, head - previous);
    }
    head > previous
}

/// The wait a rate-limit refusal names ("… retry in 250 ms …").
fn rate_limit_wait(message: &str) -> Duration {
    message
        .split("retry in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|ms| ms.parse::<u64>().ok())
        .map_or(RATE_LIMIT_WAIT, Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use leptos::prelude::Owner;

    use super::*;
    use crate::protocol::{ChatMessage, HeartbeatSettings, HistoryPage, RoomEntry, RoomKind, User};

    fn user(id: &str) -> User {
        User {
            id: id.into(),
            name: id.to_uppercase(),
        }
    }

    fn message(room: &str, seq: u64, from: &str) -> ChatMessage {
        ChatMessage {
            room: room.into(),
            seq,
            id: format!("m{seq}"),
            client_id: format!("c{seq}"),
            user: user(from),
            text: "hi".into(),
            ts: 0,
        }
    }

    fn entry(name: &str, head: u64) -> RoomEntry {
        RoomEntry {
            name: name.into(),
            kind: RoomKind::Public,
            with: None,
            unread: 0,
            mentions: 0,
            head,
        }
    }

    /// A page on room `open`, signed in as "me", with "other" (rendered at head 4) on its list.
    fn page(open: &str) -> Chat {
        let history = HistoryPage {
            room: open.into(),
            messages: Vec::new(),
            has_more: false,
        };
        Chat::with_rooms(
            Some(user("me")),
            history,
            vec![entry(open, 0), entry("other", 4)],
        )
    }

    fn unread(chat: Chat, room: &str) -> u64 {
        chat.rooms
            .get_untracked()
            .iter()
            .find(|r| r.name == room)
            .map_or(0, |r| r.unread)
    }

    #[test]
    fn a_message_here_is_shown_and_marked_read_soon() {
        Owner::new().with(|| {
            let chat = page("lobby");
            let reaction = apply(
                chat,
                &mut RoomHeads::new(),
                ServerFrame::Message(message("lobby", 1, "ada")),
                0.0,
            );
            assert_eq!(reaction, Reaction::MarkRead);
            assert_eq!(chat.messages.get_untracked().len(), 1);
        });
    }

    #[test]
    fn messages_elsewhere_count_as_unread_from_the_rendered_head_but_ones_own_do_not() {
        Owner::new().with(|| {
            let chat = page("lobby");
            let mut heads = RoomHeads::new();
            // Rendered at head 4; the join says 6: two arrived between render and join.
            let joined = ServerFrame::Joined {
                room: "other".into(),
                head: 6,
            };
            assert_eq!(apply(chat, &mut heads, joined, 0.0), Reaction::Done);
            assert_eq!(unread(chat, "other"), 2);
            let theirs = ServerFrame::Message(message("other", 7, "ada"));
            apply(chat, &mut heads, theirs.clone(), 0.0);
            assert_eq!(unread(chat, "other"), 3);
            apply(chat, &mut heads, theirs, 0.0);
            assert_eq!(unread(chat, "other"), 3, "a message seen twice counts once");
            let mine = ServerFrame::Message(message("other", 8, "me"));
            apply(chat, &mut heads, mine, 0.0);
            assert_eq!(unread(chat, "other"), 3, "one's own message is read");
            assert!(chat.messages.get_untracked().is_empty(), "not shown here");
        });
    }

    #[test]
    fn a_mention_elsewhere_counts_once_toward_its_rooms_badge_and_the_title() {
        Owner::new().with(|| {
            let chat = page("lobby");
            let mut heads = RoomHeads::new();
            let said = |seq, from: &str, text: &str| {
                let mut said = message("other", seq, from);
                said.text = text.into();
                ServerFrame::Message(said)
            };
            let mentions = |chat: Chat| {
                chat.rooms
                    .get_untracked()
                    .iter()
                    .find(|r| r.name == "other")
                    .map_or(0, |r| r.mentions)
            };
            apply(chat, &mut heads, said(5, "ada", "@me look"), 0.0);
            assert_eq!((unread(chat, "other"), mentions(chat)), (1, 1));
            apply(chat, &mut heads, said(5, "ada", "@me look"), 0.0);
            assert_eq!(mentions(chat), 1, "a message seen twice counts once");
            apply(chat, &mut heads, said(6, "ada", "@meg look"), 0.0);
            assert_eq!(
                (unread(chat, "other"), mentions(chat)),
                (2, 1),
                "@meg is someone else"
            );
            apply(chat, &mut heads, said(7, "me", "@me notes to self"), 0.0);
            assert_eq!(mentions(chat), 1, "one's own message is no mention");
            // In the open room a mention is read as it arrives.
            let here = ServerFrame::Message(ChatMessage {
                text: "@me here".into(),
                ..message("lobby", 1, "ada")
            });
            apply(chat, &mut heads, here, 0.0);
            assert_eq!(chat.mentions_elsewhere(), 1);
        });
    }

    #[test]
    fn presence_and_typing_show_only_for_the_open_room_and_never_ones_own_typing() {
        Owner::new().with(|| {
            let chat = page("lobby");
            let mut heads = RoomHeads::new();
            let online = |room: &str| ServerFrame::Presence {
                room: room.into(),
                user: user("ada"),
                online: true,
            };
            apply(chat, &mut heads, online("other"), 0.0);
            assert!(chat.online.get_untracked().is_empty());
            apply(chat, &mut heads, online("lobby"), 0.0);
            assert_eq!(chat.online.get_untracked(), vec![user("ada")]);
            let typing = |who: &str| ServerFrame::Typing {
                room: "lobby".into(),
                user: user(who),
            };
            apply(chat, &mut heads, typing("me"), 1_000.0);
            assert!(
                chat.typing.get_untracked().is_empty(),
                "one's own other tab"
            );
            apply(chat, &mut heads, typing("ada"), 1_000.0);
            let shown = chat.typing.get_untracked();
            assert_eq!(shown.len(), 1);
            assert_eq!(shown[0].1, 1_000.0 + TYPING_SHOWN_MS as f64);
        });
    }

    #[test]
    fn the_dm_asked_for_is_gone_to_and_other_new_rooms_are_joined() {
        Owner::new().with(|| {
            let chat = page("lobby");
            let mut heads = RoomHeads::new();
            chat.opening_dm.set(Some("ada".into()));
            let dm = RoomEntry {
                name: "dm:ada:me".into(),
                kind: RoomKind::Dm,
                with: Some(user("ada")),
                unread: 0,
                mentions: 0,
                head: 0,
            };
            let added = ServerFrame::RoomAdded { room: dm };
            assert_eq!(
                apply(chat, &mut heads, added, 0.0),
                Reaction::GoTo("dm:ada:me".into())
            );
            assert_eq!(chat.opening_dm.get_untracked(), None);
            let added = ServerFrame::RoomAdded {
                room: entry("news", 3),
            };
            assert_eq!(
                apply(chat, &mut heads, added, 0.0),
                Reaction::Reply(ClientFrame::Join {
                    room: "news".into(),
                    since: None
                })
            );
            assert_eq!(heads.get("news"), Some(&3));
            assert_eq!(chat.rooms.get_untracked().len(), 4);
        });
    }

    #[test]
    fn leaving_the_open_room_goes_to_the_lobby() {
        Owner::new().with(|| {
            let chat = page("team");
            let mut heads = RoomHeads::new();
            let left = |room: &str| ServerFrame::Left { room: room.into() };
            assert_eq!(apply(chat, &mut heads, left("other"), 0.0), Reaction::Done);
            assert_eq!(
                apply(chat, &mut heads, left("team"), 0.0),
                Reaction::GoTo(LOBBY.into())
            );
            assert!(chat.rooms.get_untracked().is_empty());
        });
    }

    #[test]
    fn heartbeat_pings_acks_and_round_trips() {
        Owner::new().with(|| {
            let history = HistoryPage {
                room: LOBBY.into(),
                messages: Vec::new(),
                has_more: false,
            };
            let chat = Chat::new(None, history);
            let mut heads = RoomHeads::new();
            let welcome = ServerFrame::Welcome {
                user: user("guest-1"),
                room: LOBBY.into(),
                heartbeat: HeartbeatSettings {
                    interval_ms: 20_000,
                    timeout_ms: 5_000,
                },
            };
            assert_eq!(
                apply(chat, &mut heads, welcome, 0.0),
                Reaction::SilenceLimit(25_000.0)
            );
            assert_eq!(
                chat.me.get_untracked(),
                Some(user("guest-1")),
                "unnamed: the guest"
            );
            assert_eq!(
                apply(chat, &mut heads, ServerFrame::Ping { t: 7 }, 0.0),
                Reaction::Reply(ClientFrame::Pong { t: 7 })
            );
            apply(chat, &mut heads, ServerFrame::Pong { t: 1_000 }, 1_042.0);
            assert_eq!(chat.rtt_ms.get_untracked(), Some(42));
            chat.add_pending("c1".into(), "hi".into());
            let ack = ServerFrame::Ack {
                client_id: "c1".into(),
                room: LOBBY.into(),
                seq: 1,
                id: "m1".into(),
            };
            apply(chat, &mut heads, ack, 0.0);
            assert!(chat.unacknowledged().is_empty());
        });
    }

    #[test]
    fn refusals_resync_resend_after_the_named_wait_or_show_the_reason() {
        Owner::new().with(|| {
            let chat = page("lobby");
            let mut heads = RoomHeads::new();
            let error = |code, message: &str| ServerFrame::Error {
                code,
                message: message.into(),
            };
            let resync = ServerFrame::Resync {
                room: "lobby".into(),
                head: 900,
            };
            assert_eq!(apply(chat, &mut heads, resync, 0.0), Reaction::ReloadLatest);
            let beyond = error(ErrorCode::SeqBeyondHead, "since 9 is beyond");
            assert_eq!(apply(chat, &mut heads, beyond, 0.0), Reaction::ReloadLatest);
            let limited = error(
                ErrorCode::RateLimited,
                "rate limited: at most 20 frames/s, bursts of 40; retry in 250 ms",
            );
            assert_eq!(
                apply(chat, &mut heads, limited, 0.0),
                Reaction::ResendAfter(Duration::from_millis(250))
            );
            let vague = error(ErrorCode::RateLimited, "slow down");
            assert_eq!(
                apply(chat, &mut heads, vague, 0.0),
                Reaction::ResendAfter(RATE_LIMIT_WAIT)
            );
            let forbidden = error(ErrorCode::Forbidden, "not a member of this room");
            assert_eq!(apply(chat, &mut heads, forbidden, 0.0), Reaction::Done);
            assert_eq!(
                chat.notice.get_untracked().as_deref(),
                Some("not a member of this room")
            );
        });
    }

    #[test]
    fn a_pushed_notice_is_shown_and_expires_by_its_key() {
        Owner::new().with(|| {
            let chat = page("lobby");
            let notice = ServerFrame::Notice {
                text: "deploy at 5".into(),
                from: "ops".into(),
                ts: 0,
            };
            let reaction = apply(chat, &mut RoomHeads::new(), notice, 0.0);
            let key = chat.notices.get_untracked()[0].key;
            assert_eq!(reaction, Reaction::ExpireNotice(key));
        });
    }
}
