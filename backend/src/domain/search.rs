//! Folding Japanese and Latin text so that a search in hiragana, katakana, full-width or
//! half-width characters, or any letter case, finds the same facility.
//!
//! We fold with Unicode NFKC (full-width Latin and half-width katakana become their usual forms),
//! then map katakana to hiragana and lower-case Latin letters. Both the stored `search_text` and
//! the query are folded the same way, so `スポーツ`, `すぽーつ` and `ｽﾎﾟｰﾂ` match each other.

use unicode_normalization::UnicodeNormalization;

/// Fold `text` for searching (see the module docs).
pub fn fold(text: &str) -> String {
    text.nfkc()
        .map(katakana_to_hiragana)
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Katakana ァ..ヶ sit exactly 0x60 above their hiragana; the long mark ー and others stay.
fn katakana_to_hiragana(c: char) -> char {
    match c {
        // Place names write 鶴ヶ峰 and 鶴ケ峰 alike: the small ヶ/ヵ read as plain け/か.
        'ヶ' | 'ゖ' => 'け',
        'ヵ' | 'ゕ' => 'か',
        'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        'ヽ' | 'ヾ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        _ => c,
    }
}

/// Whether a folded haystack contains every word of a folded query.
pub fn matches(folded_haystack: &str, folded_query: &str) -> bool {
    folded_query
        .split(' ')
        .filter(|w| !w.is_empty())
        .all(|word| folded_haystack.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn katakana_and_hiragana_fold_to_the_same_text() {
        assert_eq!(fold("スポーツセンター"), fold("すぽーつせんたー"));
    }

    #[test]
    fn half_width_katakana_folds_like_full_width() {
        assert_eq!(fold("ｽﾎﾟｰﾂ"), "すぽーつ");
    }

    #[test]
    fn full_width_latin_and_case_fold_away() {
        assert_eq!(fold("Ｔｓｕｒｕｍｉ  SPORTS"), "tsurumi sports");
    }

    #[test]
    fn small_ke_and_plain_ke_fold_alike_in_place_names() {
        assert_eq!(fold("鶴ヶ峰"), fold("鶴ケ峰"));
        assert_eq!(fold("保土ケ谷"), fold("保土ヶ谷"));
    }

    #[test]
    fn kanji_is_kept_as_it_is() {
        assert_eq!(fold("鶴見区"), "鶴見区");
    }

    #[test]
    fn every_query_word_must_match() {
        let hay = fold("鶴見スポーツセンター つるみすぽーつせんたー Tsurumi Sports Center");
        assert!(matches(&hay, &fold("つるみ スポーツ")));
        assert!(!matches(&hay, &fold("つるみ プール")));
    }
}
