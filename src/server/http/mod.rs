//! HTTP: the router, the server-rendered pages, how the site's files are compressed and cached, the history and push APIs, the `/ws`
//! admission, the language switch, the cross-site checks, whose address a request is from,
//! the health endpoints, the metrics listener, tidy redirects after plain form posts, the security headers, and the diagnostic echo route.

pub mod assets;
pub mod client_address;
pub mod echo;
pub mod form_redirect;
pub mod health;
pub mod history_api;
pub mod language;
pub mod metrics_listener;
pub mod origin;
pub mod pages;
pub mod push_api;
pub mod router;
pub mod security_headers;
pub mod socket_admission;
