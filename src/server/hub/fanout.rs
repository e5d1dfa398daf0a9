//! The broadcast hub: rooms, their members, and the seq each room has published up to.
//!
//! The hub fans out messages that are already stored (the committer hands them over in seq
//! order). Publishing serializes a message once; every member's queue receives the same
//! batch of bytes, shared. The hub never waits on a connection: a member a queue's length
//! behind is evicted (see [`crate::server::hub::mailbox`]), so one slow client cannot hold up a room.
//!
//! Joining returns the room's published head under the same lock that publishing takes: every
//! message up to that head must come from the store, every later one arrives in the mailbox.
//! That seam is what makes resume gap-free and duplicate-free.
//!
//! Presence rides on the same lock: a room counts each person's connections, and says so
//! (`presence`) only when a person's first connection joins or their last one leaves, so
//! one person with three tabs is one person online. In rooms larger than the presence limit
//! nobody is told about each coming and going, nor about typing: those frames would grow with
//! the square of the room's size (Slack and Discord stop them in large rooms too).
//!
//! With several nodes (the Redis broker), a room's members on this node are only some of its
//! people: the room also knows who is online on other nodes ([`Hub::remote_presence`]), tells
//! its members only when a person's first device anywhere arrives or their last one leaves,
//! and reports each local coming and going to the broker ([`Hub::observe_presence`]). Batches
//! from other nodes may arrive late or not at all, so the broker publishes with
//! [`Hub::publish_in_order`], which never lets a member see a seq gap.
//!
//! Rooms come into being when first published to, or joined once their head is known
//! ([`Hub::restore`], from the store), and leave memory when nobody uses them
//! ([`crate::server::hub::residency`]). The set of rooms sits behind a read-write lock that
//! only a room's arrival or departure writes; each room then has its own mutex, so rooms
//! never wait on one another.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;

use crate::server::config::DEFAULT_PRESENCE_LIMIT;
use crate::server::transport::encoded_frame::EncodedFrame;

use crate::protocol::{ChatMessage, ServerFrame, User, LOBBY};
use crate::server::hub::mailbox::{
    ConnectionId, Delivery, Frame, Offer, RoomId, Subscriber, Wake, TO_CONNECTION, UNSEQUENCED,
};

pub struct Hub {
    pub(super) rooms: RwLock<HashMap<Arc<str>, Arc<Room>>>,
    /// The number the next new room gets. A room that leaves memory and comes back gets a new
    /// one: a connection still holding the old number for it has left it.
    next_room_id: AtomicU32,
    /// Rooms with more members than this get no presence or typing frames.
    presence_limit: usize,
    /// Most rooms a join may bring into memory ([`Hub::restore`]); `usize::MAX`: no limit.
    pub(super) max_rooms: usize,
    /// Where local comings and goings are reported, once someone asks
    /// ([`Hub::observe_presence`]): the Redis broker tells the other nodes.
    presence_observer: OnceLock<mpsc::UnboundedSender<LocalPresence>>,
    /// Where what the rooms queue is counted, once the server's metrics ask
    /// ([`Hub::count_into`]).
    counted: OnceLock<Queued>,
}

/// The counters the hub adds to: once per room per batch, by members that took it, so that a
/// fan-out to a thousand members costs one addition each, not a thousand.
struct Queued {
    frames: Counter,
    deliveries: Counter,
}

/// Another node, as named in what it publishes.
pub type NodeId = Arc<str>;

/// A person's first connection on this node joined a room (`online`), or their last one here
/// left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalPresence {
    pub room: Arc<str>,
    pub user: Arc<User>,
    pub online: bool,
}

/// Messages of `room` after `after` through `through` that this node has not published: a
/// batch arrived whose first seq is not the one after the room's head. They are in the store
/// (a batch is published only after its commit, and seqs are committed in order), so the
/// broker reads them from there and publishes them with [`Hub::publish_in_order`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    pub room: Arc<str>,
    pub after: u64,
    pub through: u64,
}

/// A join found the room out of memory, or in memory for other nodes' presence only: its head
/// must come from the store first ([`Hub::restore`]), then the join is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the room's head is not in memory")]
pub struct NotInMemory;

/// What a connection learns by joining a room.
#[derive(Debug, PartialEq, Eq)]
pub struct Joined {
    /// The room's number, which its deliveries carry.
    pub id: RoomId,
    /// The room's name, shared with the hub (connections keep it instead of a copy).
    pub room: Arc<str>,
    /// The last seq it will *not* receive from the hub (it reads up to here from history).
    pub head: u64,
    /// Who is online in the room, itself included, each person once.
    pub online: Vec<User>,
}

/// One room. A single mutex covers members and head so that joining and publishing are
/// ordered: a joiner either gets a message from the store (seq ≤ the head it saw) or in its
/// mailbox (seq > head), never both and never neither.
pub(super) struct Room {
    id: RoomId,
    pub(super) name: Arc<str>,
    state: Mutex<RoomState>,
}

pub(super) struct RoomState {
    /// In connection order (ids are handed out in turn), so every batch wakes the members'
    /// tasks, and they write, in the same order, oldest connection first. In a hash map's
    /// order, at 10,000 members, the benchmark's reader processes sharing the cores were
    /// each woken for nearly every write rather than once per run of their own sockets: four
    /// times the context switches, and completion p99 166–179 ms instead of 115–138
    /// (docs/performance.md).
    members: BTreeMap<ConnectionId, Member>,
    /// Each person online here, with how many of their connections are members.
    online: HashMap<Person, u32>,
    /// Each person online in this room on other nodes, with those nodes.
    remote: HashMap<Person, BTreeSet<NodeId>>,
    /// Seq of the last message published.
    pub(super) head: u64,
    /// Whether every message after `head` will be published here: true once the head came
    /// from the store or a publish; false for a room that only other nodes' presence
    /// brought into memory (its head of 0 says nothing about its history).
    pub(super) head_known: bool,
    /// When a message, a join or a leave last touched the room: rooms long untouched and
    /// without members leave memory first.
    pub(super) last_used: Instant,
    /// Taken out of memory: whoever locked it after that must look the room up again.
    pub(super) evicted: bool,
}

impl RoomState {
    /// Whether the room may leave memory: nobody is in it, here or on another node.
    pub(super) fn is_unused(&self) -> bool {
        self.members.is_empty() && self.remote.is_empty()
    }

    /// Everyone online in the room, here or on another node, each person once.
    fn people(&self) -> impl Iterator<Item = &Person> {
        let remote_only = self
            .remote
            .keys()
            .filter(|person| !self.online.contains_key(person.0.id.as_str()));
        self.online.keys().chain(remote_only)
    }

    fn is_remote(&self, user_id: &str) -> bool {
        self.remote.contains_key(user_id)
    }

    /// Online here or on another node.
    fn is_online(&self, user_id: &str) -> bool {
        self.online.contains_key(user_id) || self.is_remote(user_id)
    }
}

struct Member {
    subscriber: Subscriber,
    user: Arc<User>,
}

/// A person as a map key: their user, shared with the member entries (no copy of the id),
/// compared and hashed by id, so a lookup by id finds them.
struct Person(Arc<User>);

impl PartialEq for Person {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for Person {}

impl std::hash::Hash for Person {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that `Borrow<str>` lookups agree.
        self.0.id.as_str().hash(state);
    }
}

impl std::borrow::Borrow<str> for Person {
    fn borrow(&self) -> &str {
        &self.0.id
    }
}

impl Hub {
    /// A hub that knows the heads the store reports, so a room that already has history
    /// continues from its last seq. The lobby always exists.
    pub fn new(heads: &[(String, u64)]) -> Self {
        Self::with_presence_limit(heads, DEFAULT_PRESENCE_LIMIT)
    }

    /// Like [`Hub::new`], with rooms above `presence_limit` members getting no presence or
    /// typing frames.
    pub fn with_presence_limit(heads: &[(String, u64)], presence_limit: usize) -> Self {
        let lobby = (LOBBY.to_owned(), 0);
        let next_room_id = AtomicU32::new(TO_CONNECTION + 1);
        let rooms = std::iter::once(&lobby)
            .chain(heads)
            .map(|(name, head)| {
                let id = next_room_id.fetch_add(1, Ordering::Relaxed);
                let room = Room::new(id, name, Some(*head));
                (room.name.clone(), Arc::new(room))
            })
            .collect();
        Hub {
            rooms: RwLock::new(rooms),
            next_room_id,
            presence_limit,
            max_rooms: usize::MAX,
            presence_observer: OnceLock::new(),
            counted: OnceLock::new(),
        }
    }

    /// From now on, every frame a room queues for its members is added to `frames`, and every
    /// stored message among them to `deliveries` (one per member). The first call counts.
    pub fn count_into(&self, frames: Counter, deliveries: Counter) {
        let _ = self.counted.set(Queued { frames, deliveries });
    }

    /// From now on, every local coming and going (a person's first connection on this node
    /// joining a room, their last one leaving it, evictions included) is also sent to the
    /// returned receiver. Only the first caller gets one.
    pub fn observe_presence(&self) -> Option<mpsc::UnboundedReceiver<LocalPresence>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.presence_observer.set(sender).ok().map(|()| receiver)
    }

    fn report(&self, room: &Room, user: &Arc<User>, online: bool) {
        if let Some(observer) = self.presence_observer.get() {
            let _ = observer.send(LocalPresence {
                room: room.name.clone(),
                user: user.clone(),
                online,
            });
        }
    }

    /// The room called `name`, brought into memory (empty, its head not known) if it is not.
    /// Names are checked by the protocol before they get here.
    pub(super) fn room(&self, name: &str) -> Arc<Room> {
        if let Some(room) = self.existing(name) {
            return room;
        }
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        rooms
            .entry(Arc::from(name))
            .or_insert_with(|| {
                let id = self.next_room_id.fetch_add(1, Ordering::Relaxed);
                Arc::new(Room::new(id, name, None))
            })
            .clone()
    }

    fn existing(&self, name: &str) -> Option<Arc<Room>> {
        let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
        rooms.get(name).cloned()
    }

    /// Runs `f` on room `name` under its lock: the room in memory, or (`bring_in`) brought
    /// into memory if it is not; `None` if it is not and may stay out. A room found just as
    /// it left memory is looked up again, so nothing is ever done to a room that is gone.
    pub(super) fn with_room<R>(
        &self,
        name: &str,
        bring_in: bool,
        f: impl FnOnce(&Room, &mut RoomState) -> R,
    ) -> Option<R> {
        loop {
            let room = if bring_in {
                self.room(name)
            } else {
                self.existing(name)?
            };
            let mut state = room.lock();
            if state.evicted {
                continue;
            }
            return Some(f(&room, &mut state));
        }
    }

    /// Whether `name` is in memory: joined, published to, or known to other nodes' presence.
    pub fn has_room(&self, name: &str) -> bool {
        self.existing(name).is_some()
    }

    /// Adds (or re-adds) a connection of `user` to a room. It receives every message
    /// published after this call. If it is the person's first connection here, the other
    /// members are told they came online.
    ///
    /// A room whose head is not in memory is not joined ([`NotInMemory`]): the caller reads
    /// the head from the store, gives it to [`Hub::restore`] and joins again.
    pub fn join(
        &self,
        room: &str,
        subscriber: Subscriber,
        user: &Arc<User>,
    ) -> Result<Joined, NotInMemory> {
        self.with_room(room, false, |room, state| {
            if !state.head_known {
                return Err(NotInMemory);
            }
            Ok(self.add_member(room, state, subscriber, user))
        })
        .unwrap_or(Err(NotInMemory))
    }

    fn add_member(
        &self,
        room: &Room,
        state: &mut RoomState,
        subscriber: Subscriber,
        user: &Arc<User>,
    ) -> Joined {
        state.last_used = Instant::now();
        let id = subscriber.id;
        let rejoined = state.members.contains_key(&id);
        state.members.insert(
            id,
            Member {
                subscriber,
                user: user.clone(),
            },
        );
        if !rejoined {
            let connections = state.online.entry(Person(user.clone())).or_insert(0);
            *connections += 1;
            if *connections == 1 {
                self.report(room, user, true);
                if !state.is_remote(&user.id) {
                    self.announce(room, state, user, true, Some(id));
                }
            }
        }
        let online = if state.members.len() <= self.presence_limit {
            state
                .people()
                .map(|person| User::clone(&person.0))
                .collect()
        } else {
            Vec::new()
        };
        Joined {
            id: room.id,
            room: room.name.clone(),
            head: state.head,
            online,
        }
    }

    /// Removes a connection from the given rooms (the connection task calls this when it ends,
    /// with the rooms it joined, and on `leave`).
    pub fn leave<'a>(&self, rooms: impl IntoIterator<Item = &'a str>, connection: ConnectionId) {
        for name in rooms {
            self.with_room(name, false, |room, state| {
                state.last_used = Instant::now();
                self.remove_member(room, state, connection);
            });
        }
    }

    /// `user` is typing in `room`: every member but the typist's own connections is told.
    pub fn typing(&self, room: &str, user: &User) {
        if !self.has_room(room) {
            return;
        }
        // Serialized once, outside the lock, like a message.
        let frame = EncodedFrame::text(
            ServerFrame::Typing {
                room: room.to_owned(),
                user: user.clone(),
            }
            .to_json(),
        );
        self.with_room(room, false, |room, state| {
            if state.members.len() > self.presence_limit {
                return;
            }
            self.offer_all(
                room,
                state,
                Arc::from([(UNSEQUENCED, frame)]),
                &[],
                |member| member.user.id != user.id,
            );
        });
    }

    /// Takes a connection out of a room; if it was the person's last one there, the others
    /// are told they went offline.
    fn remove_member(&self, room: &Room, state: &mut RoomState, connection: ConnectionId) {
        let Some(member) = state.members.remove(&connection) else {
            return;
        };
        let gone = match state.online.get_mut(member.user.id.as_str()) {
            Some(connections) => {
                *connections -= 1;
                *connections == 0
            }
            None => false,
        };
        if gone {
            state.online.remove(member.user.id.as_str());
            self.report(room, &member.user, false);
            if !state.is_remote(&member.user.id) {
                self.announce(room, state, &member.user, false, None);
            }
        }
    }

    /// `node` says `user` came online in `room` there (their first connection on that node
    /// joined it) or went offline there. The room's members here are told only if that
    /// changes whether the person is online anywhere.
    pub fn remote_presence(&self, node: &NodeId, room: &str, user: &User, online: bool) {
        // Someone leaving a room that is not here changes nothing here.
        self.with_room(room, online, |room, state| {
            self.set_remote(room, state, node, user, online);
        });
    }

    fn set_remote(
        &self,
        room: &Room,
        state: &mut RoomState,
        node: &NodeId,
        user: &User,
        online: bool,
    ) {
        let id = user.id.as_str();
        let was_online = state.is_online(id);
        if online {
            match state.remote.get_mut(id) {
                Some(nodes) => {
                    nodes.insert(node.clone());
                }
                None => {
                    let person = Person(Arc::new(user.clone()));
                    state.remote.insert(person, BTreeSet::from([node.clone()]));
                }
            }
        } else if let Some(nodes) = state.remote.get_mut(id) {
            nodes.remove(node);
            if nodes.is_empty() {
                state.remote.remove(id);
            }
        }
        let is_online = state.is_online(id);
        if was_online != is_online {
            self.announce(room, state, user, is_online, None);
        }
    }

    /// Makes `node`'s people here exactly `rooms` (room → who is online in it on that node):
    /// its periodic snapshot, which corrects any coming or going whose message was lost, and
    /// an empty one when the node is gone.
    pub fn replace_remote(&self, node: &NodeId, rooms: &BTreeMap<String, Vec<User>>) {
        let known: Vec<Arc<Room>> = {
            let all = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
            all.values().cloned().collect()
        };
        let unknown = rooms
            .keys()
            .filter(|name| !known.iter().any(|room| room.name.as_ref() == name.as_str()))
            .map(|name| self.room(name))
            .collect::<Vec<_>>();
        for room in known.iter().chain(&unknown) {
            let there = rooms.get(room.name.as_ref()).map_or(&[][..], Vec::as_slice);
            let mut state = room.lock();
            if state.evicted {
                // It left memory once its last remote person left; whoever is there now is
                // brought in below, in the room that replaced it.
                if !there.is_empty() {
                    self.with_room(&room.name, true, |room, state| {
                        for user in there {
                            self.set_remote(room, state, node, user, true);
                        }
                    });
                }
                continue;
            }
            let departed: Vec<User> = state
                .remote
                .iter()
                .filter(|(person, nodes)| {
                    nodes.contains(node) && !there.iter().any(|user| user.id == person.0.id)
                })
                .map(|(person, _)| User::clone(&person.0))
                .collect();
            for user in &departed {
                self.set_remote(room, &mut state, node, user, false);
            }
            for user in there {
                let listed = state
                    .remote
                    .get(user.id.as_str())
                    .is_some_and(|nodes| nodes.contains(node));
                if !listed {
                    self.set_remote(room, &mut state, node, user, true);
                }
            }
        }
    }

    /// Who is online on this node, room by room (rooms with nobody left out): what this node
    /// tells the others in its snapshot.
    pub fn local_presence(&self) -> BTreeMap<String, Vec<User>> {
        let rooms: Vec<Arc<Room>> = {
            let all = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
            all.values().cloned().collect()
        };
        rooms
            .into_iter()
            .filter_map(|room| {
                let state = room.lock();
                let people: Vec<User> = state
                    .online
                    .keys()
                    .map(|person| User::clone(&person.0))
                    .collect();
                (!people.is_empty()).then(|| (room.name.to_string(), people))
            })
            .collect()
    }

    /// Moves `room`'s head to `through` if nobody here is in the room (nothing to deliver:
    /// a joiner reads up to the head from the store). False if it has members.
    /// A room that is not in memory has nothing to deliver either: it stays out.
    pub fn skip_unwatched(&self, room: &str, through: u64) -> bool {
        self.with_room(room, false, |_, state| {
            if !state.members.is_empty() {
                return false;
            }
            state.head = state.head.max(through);
            true
        })
        .unwrap_or(true)
    }

    /// Every room's head, as this node has published them.
    pub fn heads(&self) -> Vec<(Arc<str>, u64)> {
        let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
        rooms
            .values()
            .map(|room| (room.name.clone(), room.lock().head))
            .collect()
    }

    /// Tells the room's members (but `except`) that `user` came online or went offline.
    fn announce(
        &self,
        room: &Room,
        state: &mut RoomState,
        user: &User,
        online: bool,
        except: Option<ConnectionId>,
    ) {
        if state.members.len() > self.presence_limit {
            return;
        }
        let frame = ServerFrame::Presence {
            room: room.name.to_string(),
            user: user.clone(),
            online,
        };
        let frame = EncodedFrame::text(frame.to_json());
        self.offer_all(
            room,
            state,
            Arc::from([(UNSEQUENCED, frame)]),
            &[],
            |member| Some(member.subscriber.id) != except,
        );
    }

    /// Queues `frames` for every member `to` accepts, all of them at once per member and
    /// shared by all; evicts those already a queue's length behind and forgets those that
    /// are gone (which may announce departures in turn). Members in `answered` are not woken
    /// ([`Wake::ByAnswer`]).
    fn offer_all(
        &self,
        room: &Room,
        state: &mut RoomState,
        frames: Arc<[Frame]>,
        answered: &[ConnectionId],
        to: impl Fn(&Member) -> bool,
    ) -> usize {
        let delivery = Delivery::batch(room.id, frames);
        let mut departed = Vec::new();
        let mut queued = 0;
        for (id, member) in &state.members {
            if !to(member) {
                continue;
            }
            // A binary search of a few numbers, not a hash per member: this runs once per
            // member of the room for every batch.
            let wake = if answered.binary_search(id).is_ok() {
                Wake::ByAnswer
            } else {
                Wake::Now
            };
            match member.subscriber.offer_with(delivery.clone(), wake) {
                Offer::Queued => queued += 1,
                Offer::Evicted => {
                    tracing::warn!(connection = *id, room = %room.name, "evicting slow consumer: a queue's length behind");
                    departed.push(*id);
                }
                Offer::Gone => departed.push(*id),
            }
        }
        if let Some(counted) = self.counted.get() {
            let frames = delivery.frames.len() as u64;
            let messages = delivery
                .frames
                .iter()
                .filter(|(seq, _)| *seq != UNSEQUENCED)
                .count() as u64;
            counted.frames.inc_by(frames * queued as u64);
            counted.deliveries.inc_by(messages * queued as u64);
        }
        for id in departed {
            self.remove_member(room, state, id);
        }
        queued
    }

    /// Queues a stored message for every member of its room, the sender included. Messages
    /// must come in seq order; one at or below the head was already published and is skipped.
    /// (The server publishes whole batches; tests publish one message at a time.)
    #[cfg(test)]
    pub(crate) fn publish(&self, message: &ChatMessage) {
        self.publish_all([message], &[]);
    }

    /// Publishes a batch of stored messages (the committer's group commit), each room's in
    /// seq order. Each member of a room is handed all of the room's new messages at once, so
    /// it wakes once and writes them with one `send`, instead of once per message.
    /// `answered` (sorted) are the connections the caller wakes next with the answers to
    /// their sends: their copies are queued without a wake-up of their own (see
    /// [`Wake::ByAnswer`]).
    /// Returns how many member queues took a batch.
    pub fn publish_all<'a>(
        &self,
        messages: impl IntoIterator<Item = &'a ChatMessage>,
        answered: &[ConnectionId],
    ) -> usize {
        self.publish_rooms(messages, answered, None)
    }

    /// Like [`Hub::publish_all`], for batches that may come out of order or with messages
    /// missing (from other nodes, through Redis). In a room with members here, only messages
    /// that follow its head without a gap are published; the rest are left for the caller to
    /// fill from the store, and returned as [`Gap`]s. A room with no members here just moves
    /// its head: whoever joins it next reads everything up to the head from the store.
    pub fn publish_in_order<'a>(
        &self,
        messages: impl IntoIterator<Item = &'a ChatMessage>,
        answered: &[ConnectionId],
        gaps: &mut Vec<Gap>,
    ) -> usize {
        self.publish_rooms(messages, answered, Some(gaps))
    }

    fn publish_rooms<'a>(
        &self,
        messages: impl IntoIterator<Item = &'a ChatMessage>,
        answered: &[ConnectionId],
        mut gaps: Option<&mut Vec<Gap>>,
    ) -> usize {
        debug_assert!(answered.is_sorted(), "answered must be sorted");
        // Serialized once each, outside any lock; every member shares the room's batch.
        let mut by_room: Vec<(&str, Vec<Frame>)> = Vec::new();
        let mut slot_of: HashMap<&str, usize> = HashMap::new();
        for message in messages {
            let slot = *slot_of.entry(message.room.as_str()).or_insert_with(|| {
                by_room.push((message.room.as_str(), Vec::new()));
                by_room.len() - 1
            });
            by_room[slot]
                .1
                .push((message.seq, EncodedFrame::text(message.to_frame_json())));
        }
        let mut queued = 0;
        for (name, frames) in by_room {
            // Brought into memory if need be: a joiner that read the room's head from the
            // store before this batch was committed must still find the batch's head here.
            let gaps = gaps.as_deref_mut();
            queued += self
                .with_room(name, true, |room, state| {
                    self.publish_room(room, state, frames, answered, gaps)
                })
                .unwrap_or(0);
        }
        queued
    }

    /// Publishes one room's part of a batch (see [`Hub::publish_rooms`]).
    fn publish_room(
        &self,
        room: &Room,
        state: &mut RoomState,
        mut frames: Vec<Frame>,
        answered: &[ConnectionId],
        gaps: Option<&mut Vec<Gap>>,
    ) -> usize {
        let head = state.head;
        frames.retain(|(seq, _)| *seq > head);
        let Some(&(last, _)) = frames.last() else {
            return 0;
        };
        if let Some(gaps) = gaps {
            if !state.members.is_empty() {
                // The first message that does not follow the one before it (or the head).
                let follows = std::iter::once(head)
                    .chain(frames.iter().map(|(seq, _)| *seq))
                    .zip(frames.iter().map(|(seq, _)| *seq))
                    .take_while(|(before, seq)| *seq == before + 1)
                    .count();
                if follows < frames.len() {
                    let after = if follows == 0 {
                        head
                    } else {
                        frames[follows - 1].0
                    };
                    gaps.push(Gap {
                        room: room.name.clone(),
                        after,
                        through: last,
                    });
                    frames.truncate(follows);
                }
            }
        }
        let Some(&(last, _)) = frames.last() else {
            return 0;
        };
        state.head = last;
        state.head_known = true;
        state.last_used = Instant::now();
        self.offer_all(room, state, frames.into(), answered, |_| true)
    }

    /// The last seq published to `room` (0 for a room not in memory: see
    /// [`Hub::head_in_memory`]).
    pub fn head(&self, room: &str) -> u64 {
        self.head_in_memory(room).unwrap_or(0)
    }

    /// The last seq published to `room`, if the room is in memory and its head known there;
    /// otherwise the store has it.
    pub fn head_in_memory(&self, room: &str) -> Option<u64> {
        self.with_room(room, false, |_, state| {
            state.head_known.then_some(state.head)
        })
        .flatten()
    }

    /// How many distinct people are online in `room`.
    pub fn online_count(&self, room: &str) -> usize {
        self.with_room(room, false, |_, state| state.people().count())
            .unwrap_or(0)
    }

    /// Members of `room` (0 for a room not in memory).
    pub fn member_count(&self, room: &str) -> usize {
        self.with_room(room, false, |_, state| state.members.len())
            .unwrap_or(0)
    }
}

impl Room {
    /// A room at `head`, or (`None`) one whose head is not known yet.
    fn new(id: RoomId, name: &str, head: Option<u64>) -> Self {
        Room {
            id,
            name: Arc::from(name),
            state: Mutex::new(RoomState {
                members: BTreeMap::new(),
                online: HashMap::new(),
                remote: HashMap::new(),
                head: head.unwrap_or(0),
                head_known: head.is_some(),
                last_used: Instant::now(),
                evicted: false,
            }),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, RoomState> {
        // A panic while holding the lock leaves plain data behind, still consistent enough to
        // keep serving: recover instead of poisoning the room forever.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ServerFrame, User};
    use crate::server::hub::mailbox::{mailbox, Mailbox, Received, Stop};
    use std::collections::VecDeque;

    fn message(seq: u64) -> ChatMessage {
        ChatMessage {
            room: "lobby".into(),
            seq,
            id: format!("m{seq}"),
            client_id: format!("c{seq}"),
            user: User {
                id: "u-ada".into(),
                name: "Ada".into(),
            },
            text: seq.to_string(),
            ts: 0,
        }
    }

    /// A hub whose rooms carry messages only (no presence or typing frames), for the tests
    /// about message delivery.
    fn quiet(heads: &[(String, u64)]) -> Hub {
        Hub::with_presence_limit(heads, 0)
    }

    fn person(n: u64) -> Arc<User> {
        Arc::new(User {
            id: format!("u-{n}"),
            name: format!("P{n}"),
        })
    }

    fn joined(hub: &Hub, id: ConnectionId, capacity: usize) -> (u64, Mailbox) {
        let (sub, mailbox) = mailbox(id, capacity);
        let head = hub.join("lobby", sub, &person(id)).unwrap().head;
        (head, mailbox)
    }

    fn next_message(mailbox: &mut Mailbox) -> ChatMessage {
        let delivery = mailbox.try_recv().expect("a queued frame");
        match serde_json::from_str(delivery.frame.as_str()).unwrap() {
            ServerFrame::Message(m) => {
                assert_eq!(m.seq, delivery.seq);
                m
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn every_member_gets_one_copy_sender_included() {
        let hub = quiet(&[]);
        let (_, mut a) = joined(&hub, 1, 8);
        let (_, mut b) = joined(&hub, 2, 8);
        hub.publish(&message(1));
        assert_eq!(next_message(&mut a), message(1));
        assert_eq!(next_message(&mut b), message(1));
        assert!(a.try_recv().is_none());
        assert!(b.try_recv().is_none());
    }

    #[test]
    fn broadcast_is_serialized_once_and_shared() {
        let hub = quiet(&[]);
        let (_, mut a) = joined(&hub, 1, 8);
        let (_, mut b) = joined(&hub, 2, 8);
        hub.publish(&message(1));
        let fa = a.try_recv().unwrap().frame;
        let fb = b.try_recv().unwrap().frame;
        assert_eq!(
            fa.as_str().as_ptr(),
            fb.as_str().as_ptr(),
            "both must point at one buffer"
        );
    }

    #[test]
    fn a_batch_reaches_every_member_as_one_shared_delivery() {
        use futures_util::FutureExt;
        let hub = quiet(&[]);
        let (_, mut a) = joined(&hub, 1, 8);
        let (_, mut b) = joined(&hub, 2, 8);
        let reached = hub.publish_all([&message(1), &message(2), &message(3)], &[]);
        assert_eq!(
            reached, 2,
            "two member queues took the batch (the commit's fan-out)"
        );
        let take = |mailbox: &mut Mailbox| {
            let mut batch = VecDeque::new();
            let received = mailbox.recv_many(&mut batch, 64).now_or_never();
            assert_eq!(received, Some(Received::Frames(3)));
            assert_eq!(batch.len(), 1, "one queue entry for the whole batch");
            batch.pop_front().unwrap()
        };
        let (da, db) = (take(&mut a), take(&mut b));
        let seqs: Vec<u64> = da.frames.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        assert!(
            Arc::ptr_eq(&da.frames, &db.frames),
            "members share the batch instead of a copy each"
        );
    }

    #[test]
    fn a_batch_larger_than_the_queue_reaches_members_that_are_not_behind() {
        // The committer stores up to MAX_BATCH messages at once, more than a queue holds: a
        // member that has read everything is not a slow consumer because of that.
        let hub = quiet(&[]);
        let (_, mut reader) = joined(&hub, 1, 4);
        let batch: Vec<ChatMessage> = (1..=6).map(message).collect();
        hub.publish_all(&batch, &[]);
        assert_eq!(hub.member_count("lobby"), 1, "not evicted");
        assert_eq!(reader.stopped(), None);
        for seq in 1..=6 {
            assert_eq!(next_message(&mut reader).seq, seq);
        }
        // One already a queue's length behind is, whatever the size of what comes next.
        hub.publish_all(&(7..=10).map(message).collect::<Vec<_>>(), &[]);
        hub.publish(&message(11));
        assert_eq!(reader.stopped(), Some(Stop::TooSlow));
        assert_eq!(hub.member_count("lobby"), 0);
    }

    #[test]
    fn join_reports_the_head_and_receives_only_what_follows() {
        let hub = quiet(&[("lobby".to_owned(), 7)]);
        let (head, mut a) = joined(&hub, 1, 8);
        assert_eq!(head, 7);
        hub.publish(&message(8));
        let (head, mut b) = joined(&hub, 2, 8);
        assert_eq!(head, 8);
        hub.publish(&message(9));
        assert_eq!(next_message(&mut a).seq, 8);
        assert_eq!(next_message(&mut a).seq, 9);
        assert_eq!(next_message(&mut b).seq, 9);
        assert!(b.try_recv().is_none());
    }

    #[test]
    fn an_already_published_seq_is_not_sent_again() {
        let hub = quiet(&[]);
        let (_, mut a) = joined(&hub, 1, 8);
        hub.publish(&message(1));
        hub.publish(&message(1));
        next_message(&mut a);
        assert!(a.try_recv().is_none());
    }

    #[test]
    fn slow_member_is_evicted_and_others_keep_receiving() {
        let hub = quiet(&[]);
        let (_, mut fast) = joined(&hub, 1, 16);
        let (_, slow) = joined(&hub, 2, 2);
        for seq in 1..=5 {
            hub.publish(&message(seq));
            assert_eq!(next_message(&mut fast).seq, seq);
        }
        assert_eq!(
            slow.stopped(),
            Some(Stop::TooSlow),
            "the slow member must be told, not skipped"
        );
        assert_eq!(hub.member_count("lobby"), 1);
    }

    /// Records, in one log shared by several mailboxes, which connection was woken when.
    struct WakeLog {
        id: ConnectionId,
        log: Arc<Mutex<Vec<ConnectionId>>>,
    }

    impl std::task::Wake for WakeLog {
        fn wake(self: Arc<Self>) {
            self.log.lock().unwrap().push(self.id);
        }
    }

    #[test]
    fn members_are_woken_in_connection_order_whatever_order_they_joined_in() {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};
        let hub = quiet(&[]);
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut mailboxes = Vec::new();
        for id in [5, 2, 9, 1, 7, 3, 8, 4, 6] {
            let (_, mut mailbox) = joined(&hub, id, 8);
            let waker = Waker::from(Arc::new(WakeLog {
                id,
                log: log.clone(),
            }));
            let mut batch = VecDeque::new();
            let waiting = std::pin::pin!(mailbox.recv_many(&mut batch, 8))
                .poll(&mut Context::from_waker(&waker));
            assert!(matches!(waiting, Poll::Pending));
            mailboxes.push(mailbox);
        }
        hub.publish(&message(1));
        assert_eq!(*log.lock().unwrap(), (1..=9).collect::<Vec<_>>());
    }

    #[test]
    fn departed_members_are_pruned_on_publish() {
        let hub = quiet(&[]);
        let _a = joined(&hub, 1, 8);
        drop(joined(&hub, 2, 8));
        hub.publish(&message(1));
        assert_eq!(hub.member_count("lobby"), 1);
    }

    #[test]
    fn rooms_come_into_being_on_first_use_and_keep_apart() {
        let hub = quiet(&[("old".to_owned(), 3)]);
        assert!(hub.has_room("old"));
        assert!(!hub.has_room("new"));
        let (sub, mut in_new) = mailbox(1, 8);
        hub.restore("new", 0).unwrap(); // the store has nothing for it
        assert_eq!(hub.join("new", sub, &person(1)).unwrap().head, 0);
        assert!(hub.has_room("new"));
        let (sub, mut in_old) = mailbox(2, 8);
        assert_eq!(
            hub.join("old", sub, &person(2)).unwrap().head,
            3,
            "history continues where the store left off"
        );
        let mut m = message(1);
        m.room = "new".into();
        hub.publish(&m);
        assert_eq!(in_new.try_recv().unwrap().seq, 1);
        assert!(in_old.try_recv().is_none(), "another room's message");
        // Publishing to a room nobody joined creates it at that head.
        let mut m = message(5);
        m.room = "quiet".into();
        hub.publish(&m);
        let (sub, _mailbox) = mailbox(3, 8);
        assert_eq!(hub.join("quiet", sub, &person(3)).unwrap().head, 5);
    }

    fn frame(mailbox: &mut Mailbox) -> ServerFrame {
        let delivery = mailbox.try_recv().expect("a queued frame");
        serde_json::from_str(delivery.frame.as_str()).unwrap()
    }

    #[test]
    fn a_person_with_two_connections_is_online_once_and_leaves_with_the_last() {
        let hub = Hub::new(&[]);
        let (watcher, mut watching) = mailbox(1, 8);
        hub.join("lobby", watcher, &person(1)).unwrap();
        let ada = person(2);
        let (tab1, _t1) = mailbox(2, 8);
        let (tab2, _t2) = mailbox(3, 8);
        let first = hub.join("lobby", tab1, &ada).unwrap();
        assert_eq!(first.online.len(), 2, "the watcher and Ada");
        let second = hub.join("lobby", tab2, &ada).unwrap();
        assert_eq!(second.online.len(), 2, "Ada's second tab adds nobody");
        assert_eq!(hub.online_count("lobby"), 2);
        assert_eq!(
            frame(&mut watching),
            ServerFrame::Presence {
                room: "lobby".into(),
                user: User::clone(&ada),
                online: true
            }
        );
        assert!(watching.try_recv().is_none(), "one notice for two tabs");
        hub.leave(["lobby"], 2);
        assert!(watching.try_recv().is_none(), "one tab left: still online");
        hub.leave(["lobby"], 3);
        assert_eq!(
            frame(&mut watching),
            ServerFrame::Presence {
                room: "lobby".into(),
                user: User::clone(&ada),
                online: false
            }
        );
        assert_eq!(hub.online_count("lobby"), 1);
    }

    #[test]
    fn typing_reaches_the_others_but_not_the_typists_own_tabs() {
        let hub = Hub::new(&[]);
        let ada = person(1);
        let (a1, mut ada_tab1) = mailbox(1, 8);
        let (a2, mut ada_tab2) = mailbox(2, 8);
        let (b, mut bob) = mailbox(3, 8);
        hub.join("lobby", a1, &ada).unwrap();
        hub.join("lobby", a2, &ada).unwrap();
        hub.join("lobby", b, &person(3)).unwrap();
        while ada_tab1.try_recv().is_some() {} // Bob's arrival
        while ada_tab2.try_recv().is_some() {}
        hub.typing("lobby", &ada);
        assert_eq!(
            frame(&mut bob),
            ServerFrame::Typing {
                room: "lobby".into(),
                user: User::clone(&ada)
            }
        );
        assert!(ada_tab1.try_recv().is_none());
        assert!(ada_tab2.try_recv().is_none());
    }

    #[test]
    fn rooms_above_the_presence_limit_get_no_presence_or_typing_frames() {
        let hub = Hub::with_presence_limit(&[], 2);
        let (a, mut first) = mailbox(1, 8);
        hub.join("lobby", a, &person(1)).unwrap();
        let (b, _second) = mailbox(2, 8);
        hub.join("lobby", b, &person(2)).unwrap();
        assert!(matches!(frame(&mut first), ServerFrame::Presence { .. }));
        let (c, _third) = mailbox(3, 8);
        let crowded = hub.join("lobby", c, &person(3)).unwrap();
        assert!(crowded.online.is_empty(), "no member list above the limit");
        hub.typing("lobby", &person(2));
        assert!(
            first.try_recv().is_none(),
            "no presence nor typing above the limit"
        );
    }

    #[test]
    fn leave_removes_the_connection_from_the_rooms_named() {
        let hub = Hub::new(&[]);
        let _a = joined(&hub, 1, 8);
        let (sub, _b) = mailbox(1, 8);
        hub.restore("other", 0).unwrap();
        hub.join("other", sub, &person(1)).unwrap();
        hub.leave(["lobby", "other", "never-used"], 1);
        assert_eq!(hub.member_count("lobby"), 0);
        assert_eq!(hub.member_count("other"), 0);
        assert!(!hub.has_room("never-used"), "leaving creates nothing");
    }

    fn seqs(mailbox: &mut Mailbox) -> Vec<u64> {
        let mut seqs = Vec::new();
        while let Some(delivery) = mailbox.try_recv() {
            seqs.push(delivery.seq);
        }
        seqs
    }

    #[test]
    fn publishing_in_order_holds_back_what_follows_a_gap_and_names_the_gap() {
        let hub = quiet(&[]);
        let (_, mut member) = joined(&hub, 1, 16);
        let mut gaps = Vec::new();
        hub.publish_in_order([&message(1), &message(2)], &[], &mut gaps);
        assert!(gaps.is_empty());
        // 3 and 4 were lost or are late: 5 and 6 wait for them.
        hub.publish_in_order([&message(5), &message(6)], &[], &mut gaps);
        assert_eq!(
            gaps,
            [Gap {
                room: "lobby".into(),
                after: 2,
                through: 6
            }]
        );
        assert_eq!(hub.head("lobby"), 2, "the head stays before the gap");
        // A gap inside one batch: what precedes it is published.
        gaps.clear();
        hub.publish_in_order([&message(3), &message(5)], &[], &mut gaps);
        assert_eq!(gaps[0].after, 3);
        assert_eq!(hub.head("lobby"), 3);
        // The catch-up from the store fills it; late copies are skipped.
        gaps.clear();
        hub.publish_in_order([&message(4), &message(5), &message(6)], &[], &mut gaps);
        hub.publish_in_order([&message(5)], &[], &mut gaps);
        assert!(gaps.is_empty());
        assert_eq!(seqs(&mut member), [1, 2, 3, 4, 5, 6], "no gap, no repeat");
    }

    #[test]
    fn a_room_nobody_here_is_in_just_moves_its_head_past_a_gap() {
        let hub = quiet(&[]);
        let mut gaps = Vec::new();
        hub.publish_in_order([&message(7)], &[], &mut gaps);
        assert!(
            gaps.is_empty(),
            "nobody to deliver to: a joiner reads the store"
        );
        assert_eq!(hub.head("lobby"), 7);
        assert!(hub.skip_unwatched("lobby", 9));
        assert_eq!(hub.head("lobby"), 9);
        let (_, _member) = joined(&hub, 1, 4);
        assert!(
            !hub.skip_unwatched("lobby", 12),
            "a member needs the messages"
        );
        assert_eq!(hub.head("lobby"), 9);
    }

    #[test]
    fn people_on_other_nodes_are_online_here_and_announced_only_on_real_changes() {
        let hub = Hub::new(&[]);
        let (watcher, mut watching) = mailbox(1, 16);
        hub.join("lobby", watcher, &person(1)).unwrap();
        let ada = person(2);
        let (one, two): (NodeId, NodeId) = (Arc::from("n1"), Arc::from("n2"));
        hub.remote_presence(&one, "lobby", &ada, true);
        assert!(matches!(
            frame(&mut watching),
            ServerFrame::Presence { online: true, .. }
        ));
        hub.remote_presence(&two, "lobby", &ada, true);
        assert!(watching.try_recv().is_none(), "a second node adds nobody");
        assert_eq!(hub.online_count("lobby"), 2);
        // Ada's tab here: still one person, no notice; a joiner sees her once.
        let (tab, _tab) = mailbox(3, 8);
        hub.join("lobby", tab, &ada).unwrap();
        assert!(watching.try_recv().is_none());
        let (late, _late) = mailbox(4, 8);
        let joined = hub.join("lobby", late, &person(4)).unwrap();
        assert_eq!(joined.online.len(), 3, "watcher, Ada once, the joiner");
        while watching.try_recv().is_some() {} // the joiner's arrival
        hub.leave(["lobby"], 3);
        hub.remote_presence(&one, "lobby", &ada, false);
        assert!(watching.try_recv().is_none(), "still online on n2");
        // n2's snapshot no longer lists her (its message was lost): now she is gone.
        hub.replace_remote(&two, &BTreeMap::new());
        assert_eq!(
            frame(&mut watching),
            ServerFrame::Presence {
                room: "lobby".into(),
                user: User::clone(&ada),
                online: false
            }
        );
        // A snapshot also brings people in, in rooms this node had not seen.
        let rooms = BTreeMap::from([("elsewhere".to_owned(), vec![User::clone(&ada)])]);
        hub.replace_remote(&one, &rooms);
        assert_eq!(hub.online_count("elsewhere"), 1);
        assert!(!hub.local_presence().contains_key("elsewhere"), "not local");
        assert_eq!(
            hub.local_presence()["lobby"].len(),
            2,
            "the watcher, the joiner"
        );
    }

    #[test]
    fn local_comings_and_goings_are_reported_to_the_observer_evictions_included() {
        let hub = Hub::new(&[]);
        let mut changes = hub.observe_presence().expect("the first observer");
        assert!(hub.observe_presence().is_none(), "only one");
        let ada = person(1);
        let (tab1, _t1) = mailbox(1, 8);
        let (tab2, _t2) = mailbox(2, 8);
        hub.join("lobby", tab1, &ada).unwrap();
        hub.join("lobby", tab2, &ada).unwrap();
        let first = changes.try_recv().unwrap();
        assert_eq!((first.room.as_ref(), first.online), ("lobby", true));
        assert!(changes.try_recv().is_err(), "a second tab is no change");
        hub.leave(["lobby"], 1);
        assert!(changes.try_recv().is_err());
        // Bob's queue holds one batch: the second evicts him, which is a departure too.
        let (slow, _slow) = mailbox(3, 1);
        hub.join("lobby", slow, &person(3)).unwrap();
        assert!(changes.try_recv().unwrap().online);
        hub.publish(&message(1));
        hub.publish(&message(2));
        let gone = changes.try_recv().unwrap();
        assert_eq!((gone.user.id.as_str(), gone.online), ("u-3", false));
        hub.leave(["lobby"], 2);
        assert!(!changes.try_recv().unwrap().online, "Ada's last tab");
    }
}
