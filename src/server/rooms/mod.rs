//! Rooms: which exist, their kinds, who may use them, and people's room lists.

pub mod access;
pub mod directory;
pub mod snapshot;
