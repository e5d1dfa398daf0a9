//! Local fan-out: the rooms of this process and their members ([`fanout`]), each
//! connection's bounded queue ([`mailbox`]), the registry of live connections by person
//! ([`registry`]), the caps on how many sockets a person or an address may hold
//! ([`socket_quota`]), and which rooms stay in memory ([`residency`]).

pub mod fanout;
pub mod mailbox;
pub mod registry;
pub mod residency;
pub mod socket_quota;
