//! The page's languages, each a link to `/lang/{tag}` that remembers the choice and comes back
//! to this page (server::http::language): no script needed, and the page that comes back is
//! rendered in its new language from the start.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::app::{Chat, Locale};

#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let here = use_location().pathname;
    let links = Locale::ALL.map(|locale| {
        let href = move || format!("/lang/{}?back={}", locale.tag(), query_escape(&here.get()));
        let current = locale == chat.locale;
        view! {
            <li>
                <a
                    href=href
                    rel="external"
                    hreflang=locale.tag()
                    lang=locale.tag()
                    aria-current=current.then_some("true")
                >
                    {locale.native_name()}
                </a>
            </li>
        }
    });
    view! {
        <nav class="languages" aria-label=chat.t().language>
            <ul>{links}</ul>
        </nav>
    }
}

/// `text` as a query value: everything but unreserved characters and `/` percent-encoded.
fn query_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                escaped.push(byte as char)
            }
            other => escaped.push_str(&format!("%{other:02X}")),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_path_is_kept_whole_in_the_query() {
        assert_eq!(super::query_escape("/r/team-chat"), "/r/team-chat");
        assert_eq!(super::query_escape("/r/a b&c=d"), "/r/a%20b%26c%3Dd");
        assert_eq!(super::query_escape("/r/中"), "/r/%E4%B8%AD");
    }
}
