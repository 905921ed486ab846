//! Pure rules of the console's calendar area: how long a calendar or a closure may be, which
//! rooms share a floor with a closed or blocked room, whether a slot lies inside a block, the
//! checks on a slot template's periods, and what regenerating a room's slots would change.
//!
//! No I/O: `services::console_calendar` and `services::slot_setup` feed these from the database.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::calendar::{format_minute_of_day, in_season, parse_minute_of_day};
use super::slotgen::{PeriodDays, PlannedSlot, TemplatePeriod};

/// The longest calendar one request shows (rooms × days stay a readable table).
pub const MAX_CALENDAR_DAYS: i64 = 31;
/// The longest closure or block one action makes; longer ones are made in steps, each previewed.
pub const MAX_CLOSURE_DAYS: i64 = 366;
/// The longest reason (mailed to the holders of cancelled bookings).
pub const MAX_REASON_CHARS: usize = 200;
/// The most periods one template may have.
pub const MAX_PERIODS: usize = 24;

/// One field at fault, named as the client sent it (`to`, `periods[2].starts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `from`..=`to` must be in order and at most `max_days` days long; `to_field` is blamed.
pub fn check_range(
    to_field: &str,
    from: NaiveDate,
    to: NaiveDate,
    max_days: i64,
) -> Result<(), Invalid> {
    if to < from {
        return Err(Invalid::new(to_field, "must not be before the first day"));
    }
    let days = (to - from).num_days() + 1;
    if days > max_days {
        return Err(Invalid::new(
            to_field,
            format!("at most {max_days} days at once (asked for {days})"),
        ));
    }
    Ok(())
}

/// A reason staff give: 1–200 characters after trimming.
pub fn check_reason(field: &str, reason: &str) -> Result<String, Invalid> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(Invalid::new(
            field,
            format!("say why in 1–{MAX_REASON_CHARS} characters; the holders of bookings read it"),
        ));
    }
    Ok(reason.to_owned())
}

/// Why a facility or room closes. (`official_use` is the block's, not a closure's: a block takes
/// out free slots only and cancels nobody.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosureKind {
    /// 保守点検・工事
    Maintenance,
    /// 荒天
    Weather,
    /// 行事 (the facility's own event)
    Event,
}

impl ClosureKind {
    pub const ALL: [ClosureKind; 3] = [
        ClosureKind::Maintenance,
        ClosureKind::Weather,
        ClosureKind::Event,
    ];

    /// The code stored in `closures.kind` and used in the API.
    pub fn code(self) -> &'static str {
        match self {
            ClosureKind::Maintenance => "maintenance",
            ClosureKind::Weather => "weather",
            ClosureKind::Event => "event",
        }
    }

    pub fn parse(code: &str) -> Option<ClosureKind> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// The rooms that lose their floor when `room_id` is closed or blocked: itself, its whole (a
/// half), and its halves (a whole). `rooms` is `(id, parent_room_id)` of the facility's rooms.
pub fn floor_of(room_id: i32, rooms: &[(i32, Option<i32>)]) -> Vec<i32> {
    let parent = rooms
        .iter()
        .find(|(id, _)| *id == room_id)
        .and_then(|(_, p)| *p);
    let mut out: Vec<i32> = rooms
        .iter()
        .filter(|(id, p)| *id == room_id || Some(*id) == parent || *p == Some(room_id))
        .map(|(id, _)| *id)
        .collect();
    out.sort_unstable();
    out
}

/// Whether the bookings a preview showed are exactly those affected now (order does not matter).
pub fn same_bookings(expected: &[i64], actual: &[i64]) -> bool {
    let expected: HashSet<i64> = expected.iter().copied().collect();
    let actual_set: HashSet<i64> = actual.iter().copied().collect();
    expected == actual_set
}

/// Whether a slot from `start` to `end` (minutes of its day) lies inside a block's times.
/// A slot only partly inside is not blocked: it is sold whole or not at all, and a block that
/// half-covers a slot is a mistake the form points out (it shows what the block takes).
pub fn within_block(start: i16, end: i16, block_start: i16, block_end: i16) -> bool {
    block_start <= start && end <= block_end
}

/// A template period as typed: season `MM-DD`, day type code, times `HH:MM`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct PeriodInput {
    pub season_from: String,
    pub season_to: String,
    pub day_type: String,
    pub starts: String,
    pub ends: String,
    pub band: String,
    #[serde(default)]
    pub lighting: bool,
}

/// `MM-DD` as month×100+day (29 February allowed).
pub fn parse_month_day(text: &str) -> Option<i16> {
    let (m, d) = text.trim().split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    NaiveDate::from_ymd_opt(2024, m, d).map(|_| (m * 100 + d) as i16)
}

/// month×100+day as `MM-DD`.
pub fn format_month_day(md: i16) -> String {
    format!("{:02}-{:02}", md / 100, md % 100)
}

/// A stored period back as typed.
pub fn period_input(p: &TemplatePeriod) -> PeriodInput {
    PeriodInput {
        season_from: format_month_day(p.season_from_md),
        season_to: format_month_day(p.season_to_md),
        day_type: match p.days {
            PeriodDays::Any => "any",
            PeriodDays::Weekday => "weekday",
            PeriodDays::WeekendHoliday => "weekend_holiday",
        }
        .to_owned(),
        starts: format_minute_of_day(p.starts_minute),
        ends: format_minute_of_day(p.ends_minute),
        band: p.band.clone(),
        lighting: p.lighting,
    }
}

/// Check a template's periods: each field well-formed, the start before the end, the band one
/// the room has a price for (a slot without a price cannot be booked), and no two periods that
/// can apply on the same day overlapping in time (bookings claim a room unit per slot start,
/// which is only sound when a day's slots are disjoint). Every problem is reported at once.
pub fn validate_periods(
    periods: &[PeriodInput],
    priced_bands: &[String],
) -> Result<Vec<TemplatePeriod>, Vec<Invalid>> {
    let mut problems = Vec::new();
    if periods.is_empty() || periods.len() > MAX_PERIODS {
        problems.push(Invalid::new(
            "periods",
            format!("give 1–{MAX_PERIODS} periods"),
        ));
        return Err(problems);
    }
    let mut parsed = Vec::new();
    for (i, p) in periods.iter().enumerate() {
        let field = |name: &str| format!("periods[{i}].{name}");
        let from = parse_month_day(&p.season_from);
        let to = parse_month_day(&p.season_to);
        let days = PeriodDays::from_code(&p.day_type);
        let starts = parse_minute_of_day(p.starts.trim());
        let ends = parse_minute_of_day(p.ends.trim());
        if from.is_none() {
            problems.push(Invalid::new(field("season_from"), "a date as MM-DD"));
        }
        if to.is_none() {
            problems.push(Invalid::new(field("season_to"), "a date as MM-DD"));
        }
        if days.is_none() {
            problems.push(Invalid::new(
                field("day_type"),
                "one of any, weekday, weekend_holiday",
            ));
        }
        if starts.is_none() {
            problems.push(Invalid::new(field("starts"), "a time as HH:MM"));
        }
        if ends.is_none() {
            problems.push(Invalid::new(field("ends"), "a time as HH:MM"));
        }
        if let (Some(s), Some(e)) = (starts, ends)
            && s >= e
        {
            problems.push(Invalid::new(field("ends"), "must be after the start"));
        }
        if !priced_bands.iter().any(|b| b == p.band.trim()) {
            problems.push(Invalid::new(
                field("band"),
                format!(
                    "one of the room's priced bands: {}",
                    priced_bands.join(", ")
                ),
            ));
        }
        if let (Some(from), Some(to), Some(days), Some(s), Some(e)) = (from, to, days, starts, ends)
        {
            parsed.push((
                i,
                TemplatePeriod {
                    season_from_md: from,
                    season_to_md: to,
                    days,
                    starts_minute: s,
                    ends_minute: e,
                    band: p.band.trim().to_owned(),
                    lighting: p.lighting,
                },
            ));
        }
    }
    for (n, (i, a)) in parsed.iter().enumerate() {
        for (j, b) in &parsed[n + 1..] {
            let days_meet =
                a.days == PeriodDays::Any || b.days == PeriodDays::Any || a.days == b.days;
            let seasons_meet = in_season(b.season_from_md, a.season_from_md, a.season_to_md)
                || in_season(a.season_from_md, b.season_from_md, b.season_to_md);
            let times_meet = a.starts_minute < b.ends_minute && b.starts_minute < a.ends_minute;
            if days_meet && seasons_meet && times_meet && a.starts_minute < a.ends_minute {
                problems.push(Invalid::new(
                    format!("periods[{j}].starts"),
                    format!("overlaps period {} on the same days", i + 1),
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(parsed.into_iter().map(|(_, p)| p).collect())
    } else {
        Err(problems)
    }
}

/// A slot that exists, as regeneration sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExistingSlot {
    pub id: i64,
    pub date: NaiveDate,
    pub starts_minute: i16,
    pub ends_minute: i16,
    pub band: String,
    pub lighting: bool,
    /// `open`, or `closed` (a closure or a block: left alone).
    pub open: bool,
    /// A booking has ever held it (its history and receipt refer to it).
    pub ever_booked: bool,
}

/// What regenerating one room would do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotDiff {
    /// Planned slots that do not exist yet.
    pub add: Vec<PlannedSlot>,
    /// Open slots no booking ever held that the plan no longer has.
    pub remove: Vec<ExistingSlot>,
    /// Slots the plan no longer has that stay because a booking held them.
    pub kept: Vec<ExistingSlot>,
}

/// A stretch of a day that a slot which stays (booked once, or closed) holds.
pub type Held = (NaiveDate, i16, i16);

/// Whether `existing` stays whatever the plan says: a booking held it, or a closure or block
/// took it out of sale.
pub fn stays(e: &ExistingSlot) -> bool {
    !e.open || e.ever_booked
}

/// Whether a planned slot would overlap a held stretch with other times (the same times are the
/// same slot). Slot generation uses it so that a template change never lays a new slot across
/// one that stays.
pub fn overlaps_held(p: &PlannedSlot, held: &[Held]) -> bool {
    held.iter().any(|(date, start, end)| {
        *date == p.date
            && p.starts_minute < *end
            && *start < p.ends_minute
            && (*start, *end) != (p.starts_minute, p.ends_minute)
    })
}

/// Compare a room's plan with its slots. A slot matches a planned one when the day, times, band
/// and lighting agree. Closed slots (closures, blocks) are never touched, booked ones are kept,
/// and a planned slot is not added where it would overlap a slot that stays, in this room or in
/// `floor_held` (the staying slots of the rooms sharing its floor: a whole and its halves):
/// bookings claim a unit per slot start, which is sound only while slots never overlap.
pub fn diff_slots(
    planned: &[PlannedSlot],
    existing: &[ExistingSlot],
    floor_held: &[Held],
) -> SlotDiff {
    type Key = (NaiveDate, i16, i16, String, bool);
    let planned_keys: HashSet<Key> = planned
        .iter()
        .map(|p| {
            (
                p.date,
                p.starts_minute,
                p.ends_minute,
                p.band.clone(),
                p.lighting,
            )
        })
        .collect();
    let mut diff = SlotDiff::default();
    let mut matched: HashSet<Key> = HashSet::new();
    let mut held: HashMap<NaiveDate, Vec<(i16, i16)>> = HashMap::new();
    for (date, start, end) in floor_held {
        held.entry(*date).or_default().push((*start, *end));
    }
    for e in existing {
        let key = (
            e.date,
            e.starts_minute,
            e.ends_minute,
            e.band.clone(),
            e.lighting,
        );
        if planned_keys.contains(&key) {
            matched.insert(key);
            held.entry(e.date)
                .or_default()
                .push((e.starts_minute, e.ends_minute));
        } else if stays(e) {
            held.entry(e.date)
                .or_default()
                .push((e.starts_minute, e.ends_minute));
            if e.open {
                diff.kept.push(e.clone());
            }
        } else {
            diff.remove.push(e.clone());
        }
    }
    for p in planned {
        let key = (
            p.date,
            p.starts_minute,
            p.ends_minute,
            p.band.clone(),
            p.lighting,
        );
        let overlaps = held.get(&p.date).is_some_and(|spans| {
            spans
                .iter()
                .any(|(s, e)| p.starts_minute < *e && *s < p.ends_minute)
        });
        if !matched.contains(&key) && !overlaps {
            diff.add.push(p.clone());
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn period(starts: &str, ends: &str, day_type: &str, band: &str) -> PeriodInput {
        PeriodInput {
            season_from: "01-01".into(),
            season_to: "12-31".into(),
            day_type: day_type.into(),
            starts: starts.into(),
            ends: ends.into(),
            band: band.into(),
            lighting: false,
        }
    }

    fn bands() -> Vec<String> {
        vec!["morning".into(), "afternoon".into()]
    }

    #[test]
    fn a_calendar_of_31_days_is_allowed_and_32_is_refused_naming_to() {
        assert!(check_range("to", d("2026-12-01"), d("2026-12-31"), MAX_CALENDAR_DAYS).is_ok());
        let error =
            check_range("to", d("2026-12-01"), d("2027-01-01"), MAX_CALENDAR_DAYS).unwrap_err();
        assert_eq!(error.field, "to");
        assert!(check_range("to", d("2026-12-02"), d("2026-12-01"), 31).is_err());
    }

    #[test]
    fn a_reason_must_say_something_and_not_too_much() {
        assert_eq!(check_reason("reason", "  点検  ").unwrap(), "点検");
        assert!(check_reason("reason", "   ").is_err());
        assert!(check_reason("reason", &"あ".repeat(201)).is_err());
    }

    #[test]
    fn closure_kinds_parse_their_codes_and_official_use_is_not_a_closure() {
        for kind in ClosureKind::ALL {
            assert_eq!(ClosureKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(ClosureKind::parse("official_use"), None);
    }

    #[test]
    fn closing_a_half_takes_its_whole_and_closing_a_whole_takes_both_halves() {
        let rooms = [(1, None), (2, Some(1)), (3, Some(1)), (4, None)];
        assert_eq!(floor_of(2, &rooms), vec![1, 2]);
        assert_eq!(floor_of(1, &rooms), vec![1, 2, 3]);
        assert_eq!(floor_of(4, &rooms), vec![4]);
    }

    #[test]
    fn the_affected_set_compares_as_a_set() {
        assert!(same_bookings(&[3, 1], &[1, 3]));
        assert!(!same_bookings(&[1, 3], &[1, 4]));
        assert!(!same_bookings(&[], &[1]));
    }

    #[test]
    fn a_block_takes_only_slots_wholly_inside_its_times() {
        assert!(within_block(540, 720, 540, 720));
        assert!(!within_block(540, 720, 600, 720));
        assert!(within_block(780, 1020, 540, 1080));
    }

    #[test]
    fn good_periods_parse_and_every_bad_field_is_named() {
        let ok = validate_periods(
            &[
                period("09:00", "12:00", "any", "morning"),
                period("13:00", "17:00", "any", "afternoon"),
            ],
            &bands(),
        )
        .unwrap();
        assert_eq!(ok[1].starts_minute, 780);
        let mut bad = period("25:00", "12:00", "holiday", "night");
        bad.season_from = "13-01".into();
        let problems = validate_periods(&[bad], &bands()).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "periods[0].season_from",
                "periods[0].day_type",
                "periods[0].starts",
                "periods[0].band"
            ]
        );
        assert!(validate_periods(&[], &bands()).is_err());
        let backwards =
            validate_periods(&[period("12:00", "09:00", "any", "morning")], &bands()).unwrap_err();
        assert_eq!(backwards[0].field, "periods[0].ends");
    }

    #[test]
    fn periods_overlapping_on_the_same_days_are_refused_but_not_on_other_days() {
        let clash = validate_periods(
            &[
                period("09:00", "12:00", "any", "morning"),
                period("11:00", "13:00", "weekday", "afternoon"),
            ],
            &bands(),
        )
        .unwrap_err();
        assert_eq!(clash[0].field, "periods[1].starts");
        assert!(
            validate_periods(
                &[
                    period("09:00", "12:00", "weekday", "morning"),
                    period("11:00", "13:00", "weekend_holiday", "afternoon"),
                ],
                &bands(),
            )
            .is_ok()
        );
    }

    #[test]
    fn month_days_round_trip() {
        assert_eq!(parse_month_day("02-29"), Some(229));
        assert_eq!(parse_month_day("2-29"), None);
        assert_eq!(parse_month_day("04-31"), None);
        assert_eq!(format_month_day(1231), "12-31");
    }

    fn planned(date: &str, start: i16, end: i16, band: &str) -> PlannedSlot {
        PlannedSlot {
            date: d(date),
            starts_minute: start,
            ends_minute: end,
            band: band.into(),
            lighting: false,
        }
    }

    fn existing(id: i64, start: i16, end: i16, open: bool, ever_booked: bool) -> ExistingSlot {
        ExistingSlot {
            id,
            date: d("2026-12-01"),
            starts_minute: start,
            ends_minute: end,
            band: "morning".into(),
            lighting: false,
            open,
            ever_booked,
        }
    }

    #[test]
    fn regeneration_adds_new_periods_removes_free_old_ones_and_keeps_booked_ones() {
        let plan = [
            planned("2026-12-01", 540, 660, "morning"),
            planned("2026-12-01", 660, 780, "morning"),
        ];
        let slots = [
            existing(1, 540, 720, true, false),
            existing(2, 780, 960, true, true),
            existing(3, 1080, 1200, false, false),
        ];
        let diff = diff_slots(&plan, &slots, &[]);
        assert_eq!(
            diff.remove.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(diff.kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![2]);
        assert_eq!(diff.add.len(), 2);
    }

    #[test]
    fn regeneration_never_adds_a_slot_overlapping_one_that_stays_here_or_on_the_floor() {
        let plan = [planned("2026-12-01", 540, 660, "morning")];
        let booked_here = [existing(1, 600, 720, true, true)];
        let diff = diff_slots(&plan, &booked_here, &[]);
        assert!(diff.add.is_empty());
        assert_eq!(diff.kept.len(), 1);
        let blocked_here = [existing(2, 540, 600, false, false)];
        assert!(diff_slots(&plan, &blocked_here, &[]).add.is_empty());
        // The whole's booked 10:00–12:00 holds its halves' floor too.
        let floor = [(d("2026-12-01"), 600, 720)];
        assert!(diff_slots(&plan, &[], &floor).add.is_empty());
        let unchanged = diff_slots(&plan, &[existing(3, 540, 660, true, false)], &[]);
        assert_eq!(unchanged, SlotDiff::default());
    }

    #[test]
    fn a_planned_slot_overlaps_a_held_stretch_only_with_other_times_on_the_same_day() {
        let p = planned("2026-12-01", 540, 720, "morning");
        assert!(overlaps_held(&p, &[(d("2026-12-01"), 660, 780)]));
        assert!(!overlaps_held(&p, &[(d("2026-12-01"), 540, 720)]));
        assert!(!overlaps_held(&p, &[(d("2026-12-02"), 660, 780)]));
        assert!(!overlaps_held(&p, &[(d("2026-12-01"), 720, 780)]));
    }
}
