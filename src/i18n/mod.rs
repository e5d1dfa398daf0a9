//! Every word the page shows and the server says to people, in one place: the [`Catalogue`] of each language Huddle speaks
//! (English and Simplified Chinese), and how a request's language is chosen.
//!
//! A catalogue is a Rust value, not a file read at run time: a language missing a string does
//! not compile, a string with a count or a name is a function that places them where the
//! language wants them, and the wasm carries no parser. The language is chosen on the server
//! (the `huddle_lang` cookie, else `Accept-Language`), rendered into the page, and read back
//! while hydrating, so the server's render and the browser's agree.

mod catalogue;
mod en;
mod locale;
mod problem;
mod zh_cn;

pub use catalogue::Catalogue;
pub use locale::{Locale, LANGUAGE_COOKIE};
pub use problem::{Burst, Problem};

use leptos::prelude::use_context;

/// The catalogue of the page being rendered (English outside a page).
pub fn use_catalogue() -> &'static Catalogue {
    use_context::<Locale>().unwrap_or_default().catalogue()
}
