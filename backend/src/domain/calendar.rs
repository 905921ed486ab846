//! Local time in Asia/Tokyo (UTC+9, no daylight saving), times of day, and the rules that close a
//! facility on a day: regular closing days (休館日), public holidays and the year-end closure.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

/// Japan Standard Time. Japan has no daylight saving, so a fixed offset is exact.
pub fn tokyo() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// The local date in Tokyo at an instant.
pub fn tokyo_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tokyo()).date_naive()
}

/// The instant of a local Tokyo date and minute of the day (1440 is the next midnight).
pub fn tokyo_instant(date: NaiveDate, minute_of_day: i16) -> DateTime<Utc> {
    let midnight = tokyo()
        .from_local_datetime(&date.and_time(NaiveTime::MIN))
        .single()
        .expect("a fixed offset has exactly one local time");
    (midnight + chrono::Duration::minutes(i64::from(minute_of_day))).with_timezone(&Utc)
}

/// Parse `HH:MM` (00:00..=24:00) into minutes after midnight.
pub fn parse_minute_of_day(text: &str) -> Option<i16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i16, i16) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    ((0..60).contains(&m) && (0..=1440).contains(&minutes)).then_some(minutes)
}

/// Format minutes after midnight as `HH:MM`.
pub fn format_minute_of_day(minutes: i16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A regular closing day: every week on `weekday`, or the `nth` such weekday of each month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosingRule {
    pub weekday: Weekday,
    /// 1..=5; `None` for every week.
    pub nth: Option<u8>,
}

impl ClosingRule {
    /// Whether the rule closes the facility on `date`.
    pub fn closes_on(&self, date: NaiveDate) -> bool {
        if date.weekday() != self.weekday {
            return false;
        }
        match self.nth {
            None => true,
            Some(nth) => u32::from(nth) == (date.day() - 1) / 7 + 1,
        }
    }
}

/// The year-end closure (年末年始): 29 December to 3 January inclusive.
pub fn is_year_end_closure(date: NaiveDate) -> bool {
    matches!((date.month(), date.day()), (12, 29..=31) | (1, 1..=3))
}

/// ISO weekday number (1 = Monday … 7 = Sunday), as stored in the database.
pub fn weekday_from_iso(number: i16) -> Option<Weekday> {
    match number {
        1 => Some(Weekday::Mon),
        2 => Some(Weekday::Tue),
        3 => Some(Weekday::Wed),
        4 => Some(Weekday::Thu),
        5 => Some(Weekday::Fri),
        6 => Some(Weekday::Sat),
        7 => Some(Weekday::Sun),
        _ => None,
    }
}

/// Parse a weekday written `mon`..`sun`.
pub fn parse_weekday(text: &str) -> Option<Weekday> {
    text.parse().ok()
}

/// Which fee and template rules a date falls under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayType {
    Weekday,
    /// Saturday, Sunday or a public holiday.
    WeekendHoliday,
}

impl DayType {
    /// The day type of `date`, given whether it is a public holiday.
    pub fn of(date: NaiveDate, is_public_holiday: bool) -> DayType {
        if is_public_holiday || matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            DayType::WeekendHoliday
        } else {
            DayType::Weekday
        }
    }
}

/// Whether month-day `md` (month*100+day) falls in the inclusive season `from..=to`, which may wrap
/// the year (e.g. 1001..=0331 is October to March).
pub fn in_season(md: i16, from: i16, to: i16) -> bool {
    if from <= to {
        (from..=to).contains(&md)
    } else {
        md >= from || md <= to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_third_monday_rule_closes_only_the_third_monday() {
        let rule = ClosingRule {
            weekday: Weekday::Mon,
            nth: Some(3),
        };
        // November 2026: Mondays are 2, 9, 16, 23, 30.
        assert!(rule.closes_on(d(2026, 11, 16)));
        assert!(!rule.closes_on(d(2026, 11, 9)));
        assert!(!rule.closes_on(d(2026, 11, 23)));
        assert!(!rule.closes_on(d(2026, 11, 17)));
    }

    #[test]
    fn a_weekly_rule_closes_every_such_weekday() {
        let rule = ClosingRule {
            weekday: Weekday::Tue,
            nth: None,
        };
        assert!(rule.closes_on(d(2026, 11, 3)));
        assert!(rule.closes_on(d(2026, 11, 24)));
        assert!(!rule.closes_on(d(2026, 11, 25)));
    }

    #[test]
    fn year_end_closure_runs_from_29_december_to_3_january() {
        assert!(!is_year_end_closure(d(2026, 12, 28)));
        assert!(is_year_end_closure(d(2026, 12, 29)));
        assert!(is_year_end_closure(d(2027, 1, 3)));
        assert!(!is_year_end_closure(d(2027, 1, 4)));
    }

    #[test]
    fn tokyo_instants_are_nine_hours_ahead_of_utc() {
        let at = tokyo_instant(d(2026, 11, 23), 9 * 60);
        assert_eq!(at.to_rfc3339(), "2026-11-23T00:00:00+00:00");
        assert_eq!(
            tokyo_date(tokyo_instant(d(2026, 11, 23), 30)),
            d(2026, 11, 23)
        );
    }

    #[test]
    fn times_of_day_parse_and_refuse_nonsense() {
        assert_eq!(parse_minute_of_day("09:00"), Some(540));
        assert_eq!(parse_minute_of_day("21:30"), Some(1290));
        assert_eq!(parse_minute_of_day("24:00"), Some(1440));
        assert_eq!(parse_minute_of_day("24:30"), None);
        assert_eq!(parse_minute_of_day("9:00"), None);
        assert_eq!(parse_minute_of_day("09:60"), None);
        assert_eq!(format_minute_of_day(1290), "21:30");
    }

    #[test]
    fn weekends_and_holidays_share_a_day_type() {
        assert_eq!(DayType::of(d(2026, 11, 21), false), DayType::WeekendHoliday);
        assert_eq!(DayType::of(d(2026, 11, 23), true), DayType::WeekendHoliday);
        assert_eq!(DayType::of(d(2026, 11, 24), false), DayType::Weekday);
    }

    #[test]
    fn seasons_may_wrap_the_year() {
        assert!(in_season(1115, 1001, 331));
        assert!(in_season(215, 1001, 331));
        assert!(!in_season(715, 1001, 331));
        assert!(in_season(715, 401, 930));
    }
}
