//! The languages Huddle speaks, and which one a request gets.

use serde::{Deserialize, Serialize};

use super::Catalogue;

/// The cookie that remembers the language a person picked on the page (`/lang/{tag}`).
pub const LANGUAGE_COOKIE: &str = "huddle_lang";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    En,
    ZhCn,
}

impl Locale {
    /// Every language, in the order the page offers them.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    /// The BCP 47 tag: `<html lang>`, the switch's URL, the cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// The language's name in itself, as the switch shows it.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::ZhCn => "中文",
        }
    }

    pub fn catalogue(self) -> &'static Catalogue {
        match self {
            Locale::En => &super::en::EN,
            Locale::ZhCn => &super::zh_cn::ZH_CN,
        }
    }

    /// One of [`Locale::tag`]'s tags, in any case.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        Locale::ALL
            .into_iter()
            .find(|locale| locale.tag().eq_ignore_ascii_case(tag.trim()))
    }

    /// The language a language range asks for, by its primary subtag: `en-GB` is English,
    /// `zh`, `zh-Hans` and `zh-TW` are Chinese (the one Chinese catalogue is the nearest).
    fn from_range(range: &str) -> Option<Locale> {
        let primary = range.split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "en" => Some(Locale::En),
            "zh" => Some(Locale::ZhCn),
            _ => None,
        }
    }

    /// The reader's first choice among Huddle's languages from an `Accept-Language` header
    /// (`zh-CN,zh;q=0.9,en;q=0.8`): ranges by falling `q`, the header's order among equals;
    /// `q=0` means "not this"; `None` when nothing asked for is spoken here.
    pub fn negotiate(accept_language: &str) -> Option<Locale> {
        let mut ranges: Vec<(u16, &str)> = accept_language
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let range = parts.next()?.trim();
                let quality = parts
                    .find_map(|param| param.trim().strip_prefix("q="))
                    .map_or(Some(1000), parse_quality)?;
                (!range.is_empty() && quality > 0).then_some((quality, range))
            })
            .collect();
        // Stable: among equal weights the header's order stands.
        ranges.sort_by_key(|&(quality, _)| std::cmp::Reverse(quality));
        ranges
            .into_iter()
            .find_map(|(_, range)| Locale::from_range(range))
    }

    /// The language for a request: the one picked on the page (its cookie), else the
    /// browser's preference, else English.
    pub fn for_request(cookie: Option<&str>, accept_language: Option<&str>) -> Locale {
        cookie
            .and_then(Locale::from_tag)
            .or_else(|| accept_language.and_then(Locale::negotiate))
            .unwrap_or_default()
    }
}

/// A `q` value (`0.8`) in thousandths; `None` for one that is not a weight.
fn parse_quality(text: &str) -> Option<u16> {
    let value: f32 = text.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heaviest_spoken_range_wins() {
        assert_eq!(
            Locale::negotiate("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Locale::ZhCn)
        );
        assert_eq!(
            Locale::negotiate("en-US,en;q=0.9,zh;q=0.8"),
            Some(Locale::En)
        );
        assert_eq!(
            Locale::negotiate("fr;q=1, zh-TW;q=0.5, en;q=0.4"),
            Some(Locale::ZhCn)
        );
        assert_eq!(
            Locale::negotiate("en;q=0.2, zh-Hans;q=0.7"),
            Some(Locale::ZhCn)
        );
        // Equal weights: the header's order.
        assert_eq!(Locale::negotiate("zh, en"), Some(Locale::ZhCn));
    }

    #[test]
    fn refused_unknown_and_malformed_ranges_choose_nothing() {
        assert_eq!(Locale::negotiate("zh;q=0, fr"), None);
        assert_eq!(Locale::negotiate("de-DE,fr;q=0.5"), None);
        assert_eq!(Locale::negotiate(""), None);
        assert_eq!(Locale::negotiate("zh;q=abc, en;q=2"), None);
        assert_eq!(Locale::negotiate("*"), None);
    }

    #[test]
    fn the_picked_language_beats_the_browsers() {
        assert_eq!(Locale::for_request(Some("zh-CN"), Some("en")), Locale::ZhCn);
        assert_eq!(Locale::for_request(Some("en"), Some("zh-CN")), Locale::En);
        assert_eq!(
            Locale::for_request(Some("klingon"), Some("zh")),
            Locale::ZhCn
        );
        assert_eq!(Locale::for_request(None, None), Locale::En);
    }

    #[test]
    fn tags_round_trip() {
        for locale in Locale::ALL {
            assert_eq!(Locale::from_tag(locale.tag()), Some(locale));
        }
        assert_eq!(Locale::from_tag("ZH-cn"), Some(Locale::ZhCn));
        assert_eq!(Locale::from_tag("zh"), None);
    }
}
