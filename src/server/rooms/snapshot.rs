//! What a room page shows before any socket is open, for one viewer: the room as their list
//! has it, its latest page of history, and their room list with unread counts.

use crate::protocol::{
    is_dm_room, mentions, HistoryPage, RoomEntry, RoomKind, RoomSnapshot, User, Viewer, LOBBY,
    PAGE_SIZE,
};
use crate::server::auth::{Identity, IdentityKind};
use std::collections::HashMap;

use crate::server::rooms::access::{authorize_read, ReadDenied};
use crate::server::rooms::directory::Directory;
use crate::server::rooms::heads::room_head;
use crate::server::state::Core;
use crate::server::store::StoreError;

/// Everything the room page shows, for `identity` (`None`: an anonymous visitor), once the
/// read check passed: the latest page of history, or the one before seq `before` (a reader
/// without JavaScript paging back).
pub async fn room_snapshot(
    core: &Core,
    identity: Option<Identity>,
    room: &str,
    before: Option<u64>,
) -> Result<RoomSnapshot, ReadDenied> {
    authorize_read(&core.auth, &core.directory, room, identity.as_ref()).await?;
    let history = history_page(core, room, before).await?;
    let rooms = match &identity {
        Some(identity) => {
            let memberships = core.directory.memberships(&identity.user).await?;
            let mut heads = HashMap::new();
            for name in memberships
                .iter()
                .map(|membership| membership.room.as_str())
                .chain([LOBBY])
            {
                heads.insert(name.to_owned(), room_head(core, name).await?);
            }
            let mut rooms = Directory::list(memberships, |name| heads[name]);
            count_mentions(core, &identity.user, &mut rooms).await?;
            rooms
        }
        None => Vec::new(),
    };
    let listed = rooms.iter().find(|entry| entry.name == room).cloned();
    let current = match listed {
        Some(entry) => entry,
        None => RoomEntry {
            name: room.to_owned(),
            kind: if is_dm_room(room) {
                RoomKind::Dm
            } else {
                RoomKind::Public
            },
            with: None,
            unread: 0,
            mentions: 0,
            head: room_head(core, room).await?,
        },
    };
    Ok(RoomSnapshot {
        me: identity.map(|identity| Viewer {
            account: identity.kind == IdentityKind::Account,
            user: identity.user,
        }),
        room: current,
        history,
        rooms,
        guests_allowed: core.auth.allow_guests,
        accounts_allowed: core.auth.allow_accounts,
    })
}

/// Most unread messages of one room read to count the mentions among them: a person back after
/// a month does not make the page read a month of history. Beyond it, older mentions are
/// not counted (the unread count still is).
const MENTIONS_COUNTED_AMONG: u64 = 500;

/// Sets each room's `mentions`: its unread messages, from others, that mention `me`.
async fn count_mentions(core: &Core, me: &User, rooms: &mut [RoomEntry]) -> Result<(), StoreError> {
    for entry in rooms.iter_mut().filter(|entry| entry.unread > 0) {
        let after = entry.head - entry.unread.min(MENTIONS_COUNTED_AMONG);
        let unread = core.store.range(&entry.name, after, entry.head).await?;
        entry.mentions = unread
            .iter()
            .filter(|message| message.user.id != me.id && mentions(&message.text, &me.name))
            .count() as u64;
    }
    Ok(())
}

/// A room's latest page (or the one before `before`), [`PAGE_SIZE`] messages.
pub async fn history_page(
    core: &Core,
    room: &str,
    before: Option<u64>,
) -> Result<HistoryPage, StoreError> {
    core.store.page(room, before, PAGE_SIZE).await
}
