//! The outbox in browser storage: messages not yet acknowledged survive a reload.

use crate::app::chat::PendingMessage;

fn key(room: &str) -> String {
    format!("huddle.outbox.{room}")
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Saves the unacknowledged messages of `room` (acknowledged ones are on the server already).
pub fn save(room: &str, pending: &[PendingMessage]) {
    let Some(storage) = storage() else { return };
    let unacked: Vec<&PendingMessage> = pending.iter().filter(|p| !p.acked).collect();
    let result = if unacked.is_empty() {
        storage.remove_item(&key(room))
    } else {
        match serde_json::to_string(&unacked) {
            Ok(json) => storage.set_item(&key(room), &json),
            Err(_) => Ok(()),
        }
    };
    if let Err(err) = result {
        leptos::logging::warn!("could not save the outbox (storage full or disabled?): {err:?}");
    }
}

/// What a previous page of `room` left unsent, oldest first.
pub fn load(room: &str) -> Vec<PendingMessage> {
    storage()
        .and_then(|storage| storage.get_item(&key(room)).ok().flatten())
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}
