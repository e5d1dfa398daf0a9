//! Rooms: which exist, their kinds, who may use them, people's room lists, and where a
//! room's history ends.

pub mod access;
pub mod directory;
pub mod heads;
pub mod snapshot;
