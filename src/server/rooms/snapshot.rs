//! What a room page shows before any socket is open, for one viewer: the room as their list
//! has it, its latest page of history, and their room list with unread counts.

use crate::protocol::{
    is_dm_room, HistoryPage, RoomEntry, RoomKind, RoomSnapshot, Viewer, PAGE_SIZE,
};
use crate::server::auth::{Identity, IdentityKind};
use crate::server::rooms::access::{authorize_read, ReadDenied};
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
            core.directory
                .room_list(&identity.user, |name| core.hub.head(name))
                .await?
        }
        None => Vec::new(),
    };
    let current = rooms
        .iter()
        .find(|entry| entry.name == room)
        .cloned()
        .unwrap_or_else(|| RoomEntry {
            name: room.to_owned(),
            kind: if is_dm_room(room) {
                RoomKind::Dm
            } else {
                RoomKind::Public
            },
            with: None,
            unread: 0,
            head: core.hub.head(room),
        });
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

/// A room's latest page (or the one before `before`), [`PAGE_SIZE`] messages; a room nobody
/// has used is empty, without asking the store.
pub async fn history_page(
    core: &Core,
    room: &str,
    before: Option<u64>,
) -> Result<HistoryPage, StoreError> {
    if !core.hub.has_room(room) {
        return Ok(HistoryPage {
            room: room.to_owned(),
            messages: Vec::new(),
            has_more: false,
        });
    }
    core.store.page(room, before, PAGE_SIZE).await
}
