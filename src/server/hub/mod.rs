//! Local fan-out: the rooms of this process and their members ([`fanout`]), each
//! connection's bounded queue ([`mailbox`]), and the registry of live connections by person
//! ([`registry`]).

pub mod fanout;
pub mod mailbox;
pub mod registry;
