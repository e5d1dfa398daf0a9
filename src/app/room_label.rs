//! A room's name on the page, the same in its header and in the room list.

use crate::i18n::Catalogue;
use crate::protocol::{RoomEntry, RoomKind};

/// "# rust", or "@ Ada" for a DM.
pub fn room_label(entry: &RoomEntry, t: &Catalogue) -> String {
    match (&entry.kind, &entry.with) {
        (RoomKind::Dm, Some(with)) => format!("@ {}", with.name),
        (RoomKind::Dm, None) => format!("@ {}", t.direct_message),
        (RoomKind::Public, _) => format!("# {}", entry.name),
    }
}
