//! The languages of the web pages: Japanese (the default) and English. Every string a page shows
//! comes from the locale files, compiled into the binary with `include_str!`: the resident pages'
//! `web/locales/ja.toml` and `en.toml`, and one pair per staff console area
//! (`web/locales/console-<area>.ja.toml`, so that areas are edited apart). A language's files
//! are read as one table; a key defined twice is a bug the tests catch. A test keeps both
//! languages holding the same keys, and every key the templates use present in them.
//!
//! The language of a request is, in this order: the switch (`?lang=` on the URL, which the
//! header's language link sets through `/language`), the `yoyaku_lang` cookie it leaves, then
//! the browser's `Accept-Language`, then Japanese.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::LazyLock;

use axum::http::{HeaderMap, header};

/// The cookie that remembers the language chosen with the switch.
pub const LANG_COOKIE: &str = "yoyaku_lang";

/// A language of the pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    /// Every language, in the order the switch offers them.
    pub const ALL: [Lang; 2] = [Lang::Ja, Lang::En];

    /// The BCP 47 code (`lang` attributes, `Content-Language`, the cookie).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// `ja` or `en` (a region such as `en-GB` counts), otherwise `None`.
    pub fn parse(text: &str) -> Option<Lang> {
        let primary = text.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language's own name, for the switch (always written in that language).
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Ja => "日本語",
            Lang::En => "English",
        }
    }

    /// The other language.
    pub fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    fn table(self) -> &'static HashMap<String, String> {
        match self {
            Lang::Ja => &JA,
            Lang::En => &EN,
        }
    }

    /// The string for `key`. A key missing from the table (the tests forbid it) shows as the key
    /// itself, so a page never fails to render because of one string.
    pub fn t(self, key: &str) -> &'static str {
        match self.table().get(key) {
            Some(text) => text.as_str(),
            None => {
                tracing::warn!(locale.key = key, "missing locale string");
                match Lang::Ja.table().get_key_value(key) {
                    Some((k, _)) => k.as_str(),
                    None => "?",
                }
            }
        }
    }

    /// The string for `key` with `{0}` replaced by `arg`.
    pub fn f(self, key: &str, arg: impl Display) -> String {
        self.t(key).replace("{0}", &arg.to_string())
    }

    /// The string for `key` with `{0}` and `{1}` replaced.
    pub fn f2(self, key: &str, a: impl Display, b: impl Display) -> String {
        self.t(key)
            .replace("{0}", &a.to_string())
            .replace("{1}", &b.to_string())
    }
}

/// Every locale file of a language, as `(file name, text)`.
macro_rules! locale_files {
    ($lang:literal, [$($area:literal),*]) => {
        &[
            (concat!($lang, ".toml"), include_str!(concat!("../../../../web/locales/", $lang, ".toml"))),
            $((
                concat!("console-", $area, ".", $lang, ".toml"),
                include_str!(concat!("../../../../web/locales/console-", $area, ".", $lang, ".toml")),
            ),)*
        ]
    };
}

/// Japanese: the resident pages, then each console area.
pub const JA_FILES: &[(&str, &str)] = locale_files!(
    "ja",
    ["common", "calendar", "counter", "reports", "settings"]
);
/// English: the same files.
pub const EN_FILES: &[(&str, &str)] = locale_files!(
    "en",
    ["common", "calendar", "counter", "reports", "settings"]
);
/// The resident pages' Japanese file alone.
pub const JA_SOURCE: &str = JA_FILES[0].1;
/// The resident pages' English file alone.
pub const EN_SOURCE: &str = EN_FILES[0].1;

static JA: LazyLock<HashMap<String, String>> = LazyLock::new(|| flatten_all(JA_FILES));
static EN: LazyLock<HashMap<String, String>> = LazyLock::new(|| flatten_all(EN_FILES));

/// A language's files as one table.
pub fn flatten_all(files: &[(&str, &str)]) -> HashMap<String, String> {
    files
        .iter()
        .flat_map(|(_, source)| flatten(source))
        .collect()
}

/// `[section] key = "text"` becomes `section.key`. A file that does not parse is a bug caught by
/// the tests; at run time it leaves the table empty rather than stopping the server.
pub fn flatten(source: &str) -> HashMap<String, String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
        for (key, value) in table {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::Table(inner) => walk(&name, inner, out),
                toml::Value::String(text) => {
                    out.insert(name, text.clone());
                }
                other => {
                    out.insert(name, other.to_string());
                }
            }
        }
    }
    let mut out = HashMap::new();
    match source.parse::<toml::Table>() {
        Ok(table) => walk("", &table, &mut out),
        Err(error) => tracing::error!(error = %error, "a locale file does not parse"),
    }
    out
}

/// The language of a request: `?lang=` (the switch), then the cookie, then `Accept-Language`.
pub fn negotiate(query_lang: Option<&str>, headers: &HeaderMap) -> Lang {
    if let Some(lang) = query_lang.and_then(Lang::parse) {
        return lang;
    }
    if let Some(lang) = super::super::web_session::cookie_value(headers, LANG_COOKIE)
        .as_deref()
        .and_then(Lang::parse)
    {
        return lang;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(from_accept_language)
        .unwrap_or(Lang::Ja)
}

/// The language the browser prefers most among ours (`q` weights honoured; ties keep order).
pub fn from_accept_language(value: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::parse) else {
            continue;
        };
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((lang, q));
        }
    }
    best.map(|(lang, _)| lang)
}

/// The `lang` value of a raw query string, if any.
pub fn query_lang(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(files: &[(&str, &str)]) -> BTreeSet<String> {
        flatten_all(files).into_keys().collect()
    }

    #[test]
    fn no_key_is_defined_in_two_files() {
        for files in [JA_FILES, EN_FILES] {
            let mut seen: HashMap<String, &str> = HashMap::new();
            for (name, source) in files {
                for key in flatten(source).into_keys() {
                    if let Some(first) = seen.insert(key.clone(), name) {
                        panic!("{key} is in both {first} and {name}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_locale_file_parses() {
        for (name, source) in JA_FILES.iter().chain(EN_FILES) {
            if let Err(error) = source.parse::<toml::Table>() {
                panic!("{name}: {error}");
            }
        }
    }

    #[test]
    fn every_locale_has_every_key() {
        let ja = keys(JA_FILES);
        let en = keys(EN_FILES);
        assert!(!ja.is_empty(), "ja.toml parses and has strings");
        let only_ja: Vec<_> = ja.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&ja).collect();
        assert!(only_ja.is_empty(), "missing in en.toml: {only_ja:?}");
        assert!(only_en.is_empty(), "missing in ja.toml: {only_en:?}");
        for (key, text) in flatten_all(EN_FILES) {
            assert!(!text.trim().is_empty(), "en.toml: {key} is empty");
        }
        for (key, text) in flatten_all(JA_FILES) {
            assert!(!text.trim().is_empty(), "ja.toml: {key} is empty");
        }
    }

    #[test]
    fn placeholders_agree_between_locales() {
        let en = flatten_all(EN_FILES);
        for (key, ja) in flatten_all(JA_FILES) {
            let en = &en[&key];
            for mark in ["{0}", "{1}"] {
                assert_eq!(ja.contains(mark), en.contains(mark), "{key}: {mark}");
            }
        }
    }

    /// Every `t("…")`, `f("…"` and `f2("…"` in the templates and the page handlers names a key
    /// that exists, so no page shows a raw key.
    #[test]
    fn every_key_used_exists() {
        let ja = keys(JA_FILES);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut sources = Vec::new();
        // Folders are read with their subfolders (templates/console/, http/console/).
        let mut folders: Vec<_> = [
            "web/templates",
            "backend/src/http/web",
            "backend/src/http/console",
        ]
        .iter()
        .map(|dir| root.join(dir))
        .collect();
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    sources.push((
                        path.display().to_string(),
                        std::fs::read_to_string(&path).unwrap(),
                    ));
                }
            }
        }
        sources.push((
            "web.rs".into(),
            std::fs::read_to_string(root.join("backend/src/http/web.rs")).unwrap(),
        ));
        let mut missing = Vec::new();
        for (name, text) in &sources {
            for opener in ["t(\"", "f(\"", "f2(\""] {
                for (index, _) in text.match_indices(opener) {
                    let rest = &text[index + opener.len()..];
                    let key = rest.split('"').next().unwrap_or_default();
                    let looks_like_key = key.contains('.')
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                    if looks_like_key && !ja.contains(key) {
                        missing.push(format!("{name}: {key}"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "keys used but not defined: {missing:?}");
    }

    #[test]
    fn accept_language_weights_are_honoured() {
        assert_eq!(
            from_accept_language("en-US,en;q=0.9,ja;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            from_accept_language("fr, ja;q=0.5, en;q=0.4"),
            Some(Lang::Ja)
        );
        assert_eq!(
            from_accept_language("ja;q=0.2, en-GB;q=0.7"),
            Some(Lang::En)
        );
        assert_eq!(from_accept_language("de, fr"), None);
        assert_eq!(from_accept_language("en;q=0"), None);
    }

    #[test]
    fn the_switch_beats_the_cookie_which_beats_the_browser() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, "en".parse().unwrap());
        assert_eq!(negotiate(None, &headers), Lang::En);
        headers.insert(header::COOKIE, "yoyaku_lang=ja".parse().unwrap());
        assert_eq!(negotiate(None, &headers), Lang::Ja);
        assert_eq!(negotiate(Some("en"), &headers), Lang::En);
        assert_eq!(negotiate(Some("xx"), &headers), Lang::Ja);
        assert_eq!(negotiate(None, &HeaderMap::new()), Lang::Ja);
    }
}
