//! The open-data facility list in the Digital Agency's recommended layout, 公共施設一覧 of the
//! 自治体標準オープンデータセット: its columns in order, and the pure conversions its cells need
//! (katakana names, the days and notes of use from the closing-day rules, the bounded date range
//! of the availability feeds).

use chrono::{Duration, NaiveDate};

/// The columns of 公共施設一覧, in the published order.
pub const FACILITY_COLUMNS: [&str; 29] = [
    "全国地方公共団体コード",
    "ID",
    "地方公共団体名",
    "名称",
    "名称_カナ",
    "名称_英字",
    "種類",
    "住所",
    "方書",
    "緯度",
    "経度",
    "利用可能曜日",
    "開始時間",
    "終了時間",
    "利用可能日時特記事項",
    "料金（基本）",
    "料金（詳細）",
    "説明",
    "バリアフリー情報",
    "電話番号",
    "内線番号",
    "FAX番号",
    "法人番号",
    "団体名",
    "郵便番号",
    "画像",
    "画像_ライセンス",
    "URL",
    "備考",
];

/// Full-width katakana for a name kept in hiragana (the dataset asks for 全角カナ). The
/// long-vowel mark and everything else is kept.
pub fn katakana(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            // ぁ..ゖ and ゝゞ map 0x60 up to ァ..ヶ and ヽヾ.
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
                char::from_u32(c as u32 + 0x60).unwrap_or(c)
            }
            c => c,
        })
        .collect()
}

const WEEKDAYS_JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

/// A regular closing day: ISO weekday (1 = Monday) and, for "the nth of the month", n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosingDay {
    pub weekday: i16,
    pub nth_of_month: Option<i16>,
}

/// 利用可能曜日: the weekdays the facility opens at all (a day closed only on its nth week
/// still opens in the others; that goes in the notes), and 祝 unless it closes on holidays.
pub fn available_days(closing: &[ClosingDay], closes_on_holidays: bool) -> String {
    let mut days: String = (1..=7i16)
        .filter(|day| {
            !closing
                .iter()
                .any(|c| c.weekday == *day && c.nth_of_month.is_none())
        })
        .map(|day| WEEKDAYS_JA[(day - 1) as usize])
        .collect();
    if !closes_on_holidays {
        days.push('祝');
    }
    days
}

/// 利用可能日時特記事項: the closing days in words (毎週月曜日, 第3月曜日, 祝日, 年末年始).
pub fn closing_notes(closing: &[ClosingDay], closes_on_holidays: bool, year_end: bool) -> String {
    let mut parts: Vec<String> = closing
        .iter()
        .filter(|c| (1..=7).contains(&c.weekday))
        .map(|c| {
            let day = WEEKDAYS_JA[(c.weekday - 1) as usize];
            match c.nth_of_month {
                Some(n) => format!("第{n}{day}曜日"),
                None => format!("毎週{day}曜日"),
            }
        })
        .collect();
    if closes_on_holidays {
        parts.push("祝日".into());
    }
    if year_end {
        parts.push("年末年始（12月29日〜1月3日）".into());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("休館日: {}", parts.join("、"))
    }
}

/// The longest span one availability request covers, in days (both ends counted).
pub const MAX_AVAILABILITY_DAYS: i64 = 62;

/// How many days an availability request covers when `to` is left out.
pub const DEFAULT_AVAILABILITY_DAYS: i64 = 14;

/// `from`..=`to` of an availability feed: `from` defaults to `today`, `to` to two weeks on.
/// Refuses `to` before `from` and spans over [`MAX_AVAILABILITY_DAYS`], naming `to`.
pub fn availability_range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), (&'static str, String)> {
    let from = from.unwrap_or(today);
    let to = to.unwrap_or(from + Duration::days(DEFAULT_AVAILABILITY_DAYS - 1));
    if to < from {
        return Err(("to", "must not be before `from`".into()));
    }
    if (to - from).num_days() + 1 > MAX_AVAILABILITY_DAYS {
        return Err((
            "to",
            format!("at most {MAX_AVAILABILITY_DAYS} days from `from`, both included"),
        ));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hiragana_becomes_katakana() {
        assert_eq!(katakana("つるみすぽーつせんたー"), "ツルミスポーツセンター");
        assert_eq!(katakana("ABC 体育館"), "ABC 体育館");
    }

    #[test]
    fn days_of_use_leave_out_weekly_closing_days_and_holidays_when_closed() {
        let third_monday = ClosingDay {
            weekday: 1,
            nth_of_month: Some(3),
        };
        let tuesdays = ClosingDay {
            weekday: 2,
            nth_of_month: None,
        };
        assert_eq!(available_days(&[third_monday], false), "月火水木金土日祝");
        assert_eq!(available_days(&[tuesdays], true), "月水木金土日");
        assert_eq!(
            closing_notes(&[third_monday, tuesdays], true, true),
            "休館日: 第3月曜日、毎週火曜日、祝日、年末年始（12月29日〜1月3日）"
        );
        assert_eq!(closing_notes(&[], false, false), "");
    }

    #[test]
    fn the_availability_range_is_bounded_and_names_to() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let today = d("2026-04-01");
        assert_eq!(
            availability_range(None, None, today),
            Ok((today, d("2026-04-14")))
        );
        assert!(availability_range(Some(today), Some(d("2026-06-01")), today).is_ok());
        assert_eq!(
            availability_range(Some(today), Some(d("2026-06-02")), today)
                .unwrap_err()
                .0,
            "to"
        );
        assert_eq!(
            availability_range(Some(today), Some(d("2026-03-31")), today)
                .unwrap_err()
                .0,
            "to"
        );
    }

    #[test]
    fn the_layout_has_29_columns_starting_with_the_code() {
        assert_eq!(FACILITY_COLUMNS[0], "全国地方公共団体コード");
        assert_eq!(FACILITY_COLUMNS[28], "備考");
    }
}
