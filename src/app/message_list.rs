//! The list of messages (`role="log"`): sender, time and text, one's own marked.

use leptos::prelude::*;

use crate::app::chat::PendingMessage;
use crate::app::Chat;
use crate::protocol::ChatMessage;

#[component]
pub fn MessageList() -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
    let loading = RwSignal::new(false);
    let load_older = move |ev: leptos::ev::MouseEvent| {
        // Without JavaScript, the button submits its form: the page before `before`.
        ev.prevent_default();
        loading.set(true);
        let room = chat.room.with_value(Clone::clone);
        let before = chat.first_seq();
        leptos::task::spawn_local(async move {
            match crate::app::api::load_older(room, before).await {
                Ok(page) => chat.prepend(page),
                Err(err) => chat
                    .notice
                    .set(Some((t.could_not_load_older)(&err.to_string()))),
            }
            loading.set(false);
        });
    };
    view! {
        <Show when=move || chat.has_more.get()>
            <form class="load-older" method="get">
                <input
                    type="hidden"
                    name="before"
                    value=move || chat.first_seq().map(|seq| seq.to_string())
                />
                <button type="submit" on:click=load_older disabled=move || loading.get()>
                    {t.load_older}
                </button>
            </form>
        </Show>
        // A log announces what is added, politely: a new message is read, never the history
        // again (the lists below insert items, and leave those shown in place). The log is
        // around the list, so that the list stays a list to assistive technology.
        <div
            class="messages"
            role="log"
            aria-live="polite"
            aria-relevant="additions"
            aria-label=t.messages
        >
            <ol class="message-items">
            <For
                each=move || chat.messages.get()
                key=|message| message.seq
                children=move |message: ChatMessage| view! { <MessageItem message/> }
            />
            <For
                each=move || chat.pending.get()
                key=|pending| (pending.client_id.clone(), pending.acked)
                children=move |pending: PendingMessage| view! { <PendingItem pending/> }
            />
            </ol>
        </div>
    }
}

#[component]
fn MessageItem(message: ChatMessage) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
    let author_id = message.user.id.clone();
    let mine = Memo::new(move |_| chat.is_mine(&author_id));
    // The text with each `@name` that mentions the reader marked, unless the reader wrote it.
    let text = message.text.clone();
    let parts = Memo::new(move |_| {
        let name = chat.me.with(|me| me.as_ref().map(|me| me.name.clone()));
        match name {
            Some(name) if !mine.get() => split_mentions(&text, &name),
            _ => vec![(false, text.clone())],
        }
    });
    let mentioned = move || parts.with(|parts| parts.iter().any(|(mention, _)| *mention));
    let ts = message.ts;
    let time = move || chat.show_time(ts);
    view! {
        <li
            class="message"
            class:mine=move || mine.get()
            class:mentions-me=mentioned
            data-seq=message.seq.to_string()
            data-state="sent"
        >
            <span class="author">{message.user.name}</span>
            {move || mine.get().then(|| view! { <span class="you">{t.you}</span> })}
            <time datetime=iso_utc(ts)>{time}</time>
            {move || {
                mine.get()
                    .then(|| {
                        view! {
                            <span class="delivery" title=t.stored_by_the_server>{t.sent}</span>
                        }
                    })
            }}
            // Plain text: Leptos escapes it, so markup in a message is shown, never run; a
            // mention is a <mark> around its text, escaped all the same.
            <p class="text">
                {move || {
                    parts
                        .get()
                        .into_iter()
                        .map(|(mention, part)| match mention {
                            true => view! { <mark class="mention">{part}</mark> }.into_any(),
                            false => part.into_any(),
                        })
                        .collect_view()
                }}
            </p>
        </li>
    }
}

/// One of our messages on its way: "sending…" until the server has stored it.
#[component]
fn PendingItem(pending: PendingMessage) -> impl IntoView {
    let chat = expect_context::<Chat>();
    let t = chat.t();
    let name = move || {
        chat.me
            .with(|me| me.as_ref().map(|me| me.name.clone()).unwrap_or_default())
    };
    let (state, label) = if pending.acked {
        ("sent", t.sent)
    } else {
        ("pending", t.sending)
    };
    view! {
        <li class="message mine pending" data-state=state>
            <span class="author">{name}</span>
            <span class="you">{t.you}</span>
            <span class="delivery">{label}</span>
            <p class="text">{pending.text}</p>
        </li>
    }
}

/// `text` cut into its runs of plain text and its mentions of `name`, in order.
pub fn split_mentions(text: &str, name: &str) -> Vec<(bool, String)> {
    let mut parts = Vec::new();
    let mut from = 0;
    for range in crate::protocol::mention_ranges(text, name) {
        if range.start > from {
            parts.push((false, text[from..range.start].to_owned()));
        }
        parts.push((true, text[range.clone()].to_owned()));
        from = range.end;
    }
    if from < text.len() || parts.is_empty() {
        parts.push((false, text[from..].to_owned()));
    }
    parts
}

/// "14:05": the time of day in UTC, which the server renders (it cannot know the reader's
/// zone; the page shows local times once it runs).
pub fn utc_clock(unix_ms: i64) -> String {
    let of_day = unix_ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02}", of_day / 60, of_day % 60)
}

/// The instant as ISO 8601 in UTC, for the `datetime` attribute.
fn iso_utc(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let ms_of_day = unix_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_utc_clock_is_the_time_of_day() {
        // 2023-11-14T22:13:20Z
        assert_eq!(utc_clock(1_700_000_000_000), "22:13");
        assert_eq!(utc_clock(0), "00:00");
        // Before 1970, the day still runs forwards.
        assert_eq!(utc_clock(-60_000), "23:59");
    }

    #[test]
    fn iso_dates_are_correct() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso_utc(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
