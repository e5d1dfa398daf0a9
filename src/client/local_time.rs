//! A message's time as the reader reads times: the browser's `Intl` knows their time zone and
//! how their locale writes a time (`2:05 PM` in the US, `14:05` in Britain and China).

use wasm_bindgen::JsValue;

use crate::i18n::Locale;

/// `unix_ms` in the reader's zone: the time of day, with the month and day in front when it
/// is not today.
pub fn local_time(unix_ms: i64, locale: Locale) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(unix_ms as f64));
    let today = js_sys::Date::new_0().to_date_string() == date.to_date_string();
    let options = js_sys::Object::new();
    let set = |key: &str, value: &str| {
        let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
    };
    set("hour", "numeric");
    set("minute", "2-digit");
    if !today {
        set("month", "short");
        set("day", "numeric");
    }
    date.to_locale_string(&reader_locale(locale), &options)
        .into()
}

/// The browser's own locale when it is a variant of the page's language (`en-GB` for an
/// English page), else the page's: the words and the way of writing times agree.
fn reader_locale(page: Locale) -> String {
    let browser = web_sys::window().and_then(|window| window.navigator().language());
    let primary = |tag: &str| {
        tag.split('-')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    match browser {
        Some(browser) if primary(&browser) == primary(page.tag()) => browser,
        _ => page.tag().to_owned(),
    }
}
