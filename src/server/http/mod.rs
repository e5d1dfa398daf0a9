//! HTTP: the router, the server-rendered pages, the history and push APIs, the `/ws`
//! admission, the cross-site checks, and the diagnostic echo route.

pub mod echo;
pub mod history_api;
pub mod origin;
pub mod pages;
pub mod push_api;
pub mod router;
pub mod socket_admission;
