//! Which slots (コマ) a room has on a day: its template's periods for the season and kind of day,
//! inside the facility's opening hours, unless the facility is closed that day (regular closing
//! day, a public holiday where it closes on them, the year-end closure, or a manager's closure).
//!
//! Pure: the slot generation job feeds it from the database and writes what it plans.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};

use super::calendar::{ClosingRule, DayType, in_season, is_year_end_closure};

/// Which days a template period applies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodDays {
    Any,
    Weekday,
    WeekendHoliday,
}

impl PeriodDays {
    /// Parse the stored code (`any`, `weekday`, `weekend_holiday`).
    pub fn from_code(code: &str) -> Option<PeriodDays> {
        match code {
            "any" => Some(PeriodDays::Any),
            "weekday" => Some(PeriodDays::Weekday),
            "weekend_holiday" => Some(PeriodDays::WeekendHoliday),
            _ => None,
        }
    }

    fn includes(self, day: DayType) -> bool {
        match self {
            PeriodDays::Any => true,
            PeriodDays::Weekday => day == DayType::Weekday,
            PeriodDays::WeekendHoliday => day == DayType::WeekendHoliday,
        }
    }
}

/// One period of a slot template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplatePeriod {
    /// Season as month*100+day, inclusive, possibly wrapping the year.
    pub season_from_md: i16,
    pub season_to_md: i16,
    pub days: PeriodDays,
    pub starts_minute: i16,
    pub ends_minute: i16,
    pub band: String,
    pub lighting: bool,
}

/// A manager's closure, by inclusive dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosureSpan {
    pub id: i32,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

/// What decides whether and when a facility is open.
#[derive(Clone, Debug, Default)]
pub struct FacilityCalendar {
    pub opens_minute: i16,
    pub closes_minute: i16,
    pub closes_on_holidays: bool,
    pub year_end_closure: bool,
    pub closing_rules: Vec<ClosingRule>,
    /// Closures of the facility, or of a room sharing floor with the room being planned.
    pub closures: Vec<ClosureSpan>,
}

/// Why a facility is closed on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosedBecause {
    RegularClosingDay,
    PublicHoliday,
    YearEnd,
    Closure(i32),
}

/// A slot to materialise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedSlot {
    pub date: NaiveDate,
    pub starts_minute: i16,
    pub ends_minute: i16,
    pub band: String,
    pub lighting: bool,
}

/// Whether (and why) the facility is closed on `date`.
pub fn closed_because(
    date: NaiveDate,
    calendar: &FacilityCalendar,
    is_holiday: bool,
) -> Option<ClosedBecause> {
    if calendar.year_end_closure && is_year_end_closure(date) {
        return Some(ClosedBecause::YearEnd);
    }
    if calendar.closes_on_holidays && is_holiday {
        return Some(ClosedBecause::PublicHoliday);
    }
    if calendar
        .closing_rules
        .iter()
        .any(|rule| rule.closes_on(date))
    {
        return Some(ClosedBecause::RegularClosingDay);
    }
    calendar
        .closures
        .iter()
        .find(|c| c.starts_on <= date && date <= c.ends_on)
        .map(|c| ClosedBecause::Closure(c.id))
}

/// The slots of one day, in start order; none when the facility is closed.
pub fn plan_day(
    date: NaiveDate,
    periods: &[TemplatePeriod],
    calendar: &FacilityCalendar,
    is_holiday: bool,
) -> Vec<PlannedSlot> {
    if closed_because(date, calendar, is_holiday).is_some() {
        return Vec::new();
    }
    let month_day = (date.month() * 100 + date.day()) as i16;
    let day_type = DayType::of(date, is_holiday);
    let mut slots: Vec<PlannedSlot> = periods
        .iter()
        .filter(|p| in_season(month_day, p.season_from_md, p.season_to_md))
        .filter(|p| p.days.includes(day_type))
        // A period must fit inside opening hours: a field without lights that closes at 17:00 has
        // no evening slots.
        .filter(|p| {
            calendar.opens_minute <= p.starts_minute && p.ends_minute <= calendar.closes_minute
        })
        .map(|p| PlannedSlot {
            date,
            starts_minute: p.starts_minute,
            ends_minute: p.ends_minute,
            band: p.band.clone(),
            lighting: p.lighting,
        })
        .collect();
    slots.sort_by_key(|s| s.starts_minute);
    slots
}

/// The slots of every day from `from` to `to` inclusive.
pub fn plan_range(
    from: NaiveDate,
    to: NaiveDate,
    periods: &[TemplatePeriod],
    calendar: &FacilityCalendar,
    holidays: &HashSet<NaiveDate>,
) -> Vec<PlannedSlot> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .flat_map(|date| plan_day(date, periods, calendar, holidays.contains(&date)))
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Weekday;

    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn period(
        from: i16,
        to: i16,
        days: PeriodDays,
        start: &str,
        end: &str,
        band: &str,
    ) -> TemplatePeriod {
        let minutes = |t: &str| crate::domain::calendar::parse_minute_of_day(t).unwrap();
        TemplatePeriod {
            season_from_md: from,
            season_to_md: to,
            days,
            starts_minute: minutes(start),
            ends_minute: minutes(end),
            band: band.into(),
            lighting: band == "night",
        }
    }

    fn hall_template() -> Vec<TemplatePeriod> {
        vec![
            period(101, 1231, PeriodDays::Any, "09:00", "12:00", "morning"),
            period(101, 1231, PeriodDays::Any, "13:00", "17:00", "afternoon"),
            period(101, 1231, PeriodDays::Any, "18:00", "21:30", "evening"),
        ]
    }

    fn sports_center() -> FacilityCalendar {
        FacilityCalendar {
            opens_minute: 540,
            closes_minute: 1290,
            closes_on_holidays: false,
            year_end_closure: true,
            closing_rules: vec![ClosingRule {
                weekday: Weekday::Mon,
                nth: Some(3),
            }],
            closures: vec![],
        }
    }

    fn bands(slots: &[PlannedSlot]) -> Vec<&str> {
        slots.iter().map(|s| s.band.as_str()).collect()
    }

    #[test]
    fn an_ordinary_day_has_every_period_of_the_template() {
        let slots = plan_day(d("2026-11-24"), &hall_template(), &sports_center(), false);
        assert_eq!(bands(&slots), ["morning", "afternoon", "evening"]);
    }

    #[test]
    fn the_regular_closing_day_has_no_slots() {
        // 16 November 2026 is the third Monday.
        assert!(plan_day(d("2026-11-16"), &hall_template(), &sports_center(), false).is_empty());
        assert_eq!(
            closed_because(d("2026-11-16"), &sports_center(), false),
            Some(ClosedBecause::RegularClosingDay)
        );
    }

    #[test]
    fn a_holiday_closes_only_facilities_that_close_on_holidays() {
        // 23 November 2026 is 勤労感謝の日.
        let open = plan_day(d("2026-11-23"), &hall_template(), &sports_center(), true);
        assert_eq!(open.len(), 3);
        let community = FacilityCalendar {
            closes_on_holidays: true,
            ..sports_center()
        };
        assert!(plan_day(d("2026-11-23"), &hall_template(), &community, true).is_empty());
    }

    #[test]
    fn the_year_end_closure_runs_from_29_december_to_3_january() {
        let holidays = HashSet::new();
        let slots = plan_range(
            d("2026-12-27"),
            d("2027-01-05"),
            &hall_template(),
            &sports_center(),
            &holidays,
        );
        let days: Vec<_> = slots
            .iter()
            .map(|s| s.date.to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(
            days,
            ["2026-12-27", "2026-12-28", "2027-01-04", "2027-01-05"]
        );
    }

    #[test]
    fn a_managers_closure_removes_its_days_only() {
        let calendar = FacilityCalendar {
            closures: vec![ClosureSpan {
                id: 7,
                starts_on: d("2026-11-25"),
                ends_on: d("2026-11-26"),
            }],
            ..sports_center()
        };
        assert!(plan_day(d("2026-11-25"), &hall_template(), &calendar, false).is_empty());
        assert!(plan_day(d("2026-11-26"), &hall_template(), &calendar, false).is_empty());
        assert_eq!(
            plan_day(d("2026-11-27"), &hall_template(), &calendar, false).len(),
            3
        );
        assert_eq!(
            closed_because(d("2026-11-25"), &calendar, false),
            Some(ClosedBecause::Closure(7))
        );
    }

    #[test]
    fn periods_outside_opening_hours_are_not_generated() {
        let field_without_lights = FacilityCalendar {
            opens_minute: 420,
            closes_minute: 1020,
            ..sports_center()
        };
        let template = vec![
            period(101, 1231, PeriodDays::Any, "15:00", "17:00", "day"),
            period(101, 1231, PeriodDays::Any, "17:00", "19:00", "night"),
        ];
        assert_eq!(
            bands(&plan_day(
                d("2026-11-24"),
                &template,
                &field_without_lights,
                false
            )),
            ["day"]
        );
    }

    #[test]
    fn seasons_and_kinds_of_day_choose_the_periods() {
        let outdoor = vec![
            period(
                401,
                930,
                PeriodDays::WeekendHoliday,
                "07:00",
                "09:00",
                "day",
            ),
            period(401, 930, PeriodDays::Any, "17:00", "19:00", "day"),
            period(1001, 331, PeriodDays::Any, "17:00", "19:00", "night"),
        ];
        let calendar = FacilityCalendar {
            opens_minute: 420,
            closes_minute: 1260,
            ..sports_center()
        };
        // A summer Saturday has the early slot; a summer Tuesday does not.
        assert_eq!(
            plan_day(d("2026-07-04"), &outdoor, &calendar, false).len(),
            2
        );
        assert_eq!(
            plan_day(d("2026-07-07"), &outdoor, &calendar, false).len(),
            1
        );
        // A public holiday counts as a weekend day (みどりの日, a Monday that is not the third).
        assert_eq!(
            plan_day(d("2026-05-04"), &outdoor, &calendar, true).len(),
            2
        );
        // In winter the 17:00 slot is a lit night slot.
        let winter = plan_day(d("2026-12-01"), &outdoor, &calendar, false);
        assert_eq!(bands(&winter), ["night"]);
        assert!(winter[0].lighting);
    }

    #[test]
    fn slots_come_in_start_order() {
        let mut template = hall_template();
        template.reverse();
        let slots = plan_day(d("2026-11-24"), &template, &sports_center(), false);
        assert!(
            slots
                .windows(2)
                .all(|w| w[0].starts_minute < w[1].starts_minute)
        );
    }
}
