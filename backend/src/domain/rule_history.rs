//! The city-wide rules as a timeline: the configuration file gives each section's starting
//! values, and versions saved in the console take over from their `effective_from` day (Tokyo
//! time). Pure: parsing and checking an edit, and answering "which rules are in force on D".
//!
//! Three sections are versioned this way: `booking` (phases and the online window, payment,
//! refund tiers, per-person limits), `penalties` (no-show points and suspension) and `lottery`
//! (the monthly calendar and the caps). An edit is the whole section written as the
//! configuration file's `[section]` would hold it, so what staff edit, what the file holds and
//! what the database stores are one format, checked by the same `validate`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::booking::BookingRules;
use super::lottery::LotteryRules;
use super::penalties::PenaltyRules;

/// A section of the configuration that is edited with history.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleSection {
    Booking,
    Penalties,
    Lottery,
}

impl RuleSection {
    /// Every section, in the order the console lists them.
    pub const ALL: [RuleSection; 3] = [
        RuleSection::Booking,
        RuleSection::Penalties,
        RuleSection::Lottery,
    ];

    /// The code stored in the database and used in URLs.
    pub fn code(self) -> &'static str {
        match self {
            RuleSection::Booking => "booking",
            RuleSection::Penalties => "penalties",
            RuleSection::Lottery => "lottery",
        }
    }
}

impl fmt::Display for RuleSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for RuleSection {
    type Err = super::kinds::UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleSection::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| super::kinds::UnknownKind(s.to_owned()))
    }
}

/// One section's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleBody {
    Booking(BookingRules),
    Penalties(PenaltyRules),
    Lottery(LotteryRules),
}

impl RuleBody {
    pub fn section(&self) -> RuleSection {
        match self {
            RuleBody::Booking(_) => RuleSection::Booking,
            RuleBody::Penalties(_) => RuleSection::Penalties,
            RuleBody::Lottery(_) => RuleSection::Lottery,
        }
    }

    /// The section as JSON, the form the database stores.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            RuleBody::Booking(r) => serde_json::to_value(r),
            RuleBody::Penalties(r) => serde_json::to_value(r),
            RuleBody::Lottery(r) => serde_json::to_value(r),
        };
        // These are plain structs of numbers, strings and lists: serialising cannot fail.
        value.unwrap_or(serde_json::Value::Null)
    }

    /// The section as the configuration file's TOML (without the `[section]` header), for the
    /// console's editor.
    pub fn to_toml(&self) -> String {
        let text = match self {
            RuleBody::Booking(r) => toml::to_string_pretty(r),
            RuleBody::Penalties(r) => toml::to_string_pretty(r),
            RuleBody::Lottery(r) => toml::to_string_pretty(r),
        };
        text.unwrap_or_default()
    }

    /// Read a stored version back (`None` if the row no longer matches the code: a version
    /// written by a newer release, say; the timeline then skips it rather than guess).
    pub fn from_json(section: RuleSection, value: &serde_json::Value) -> Option<RuleBody> {
        let value = value.clone();
        match section {
            RuleSection::Booking => serde_json::from_value(value).ok().map(RuleBody::Booking),
            RuleSection::Penalties => serde_json::from_value(value).ok().map(RuleBody::Penalties),
            RuleSection::Lottery => serde_json::from_value(value).ok().map(RuleBody::Lottery),
        }
    }
}

/// Why an edit was refused; `field` is the form or JSON field to blame (`toml` for the text,
/// or `toml.<path>` for a rule inside it, `effective_from`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleEditError {
    pub field: String,
    pub message: String,
}

impl RuleEditError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> RuleEditError {
        RuleEditError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleEditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// How far ahead a version may be scheduled: a city plans its fees for the next fiscal year,
/// not for a decade.
pub const MAX_MONTHS_AHEAD: u32 = 24;

/// Parse and check an edit of `section` written as TOML. Unknown keys are refused (a typo must
/// not silently keep the old value); a missing key takes the built-in default, as in the file.
pub fn parse_edit(section: RuleSection, text: &str) -> Result<RuleBody, RuleEditError> {
    fn read<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, RuleEditError> {
        toml::from_str(text).map_err(|e| RuleEditError::new("toml", e.message().to_owned()))
    }
    let body = match section {
        RuleSection::Booking => RuleBody::Booking(read(text)?),
        RuleSection::Penalties => RuleBody::Penalties(read(text)?),
        RuleSection::Lottery => RuleBody::Lottery(read(text)?),
    };
    check_body(&body)?;
    Ok(body)
}

/// Check a section's values with the same rules the configuration file is checked by.
pub fn check_body(body: &RuleBody) -> Result<(), RuleEditError> {
    match body {
        RuleBody::Booking(r) => r
            .validate()
            .map_err(|e| RuleEditError::new(format!("toml.{}", e.field), e.message)),
        RuleBody::Penalties(r) => r.validate().map_err(|message| {
            // PenaltyRules names its field first: "penalties.threshold: from 1 to 1000".
            let (field, text) = message.split_once(':').unwrap_or(("", message.as_str()));
            let field = field.trim().trim_start_matches("penalties.");
            RuleEditError::new(format!("toml.{field}"), text.trim())
        }),
        RuleBody::Lottery(r) => r
            .validate()
            .map_err(|e| RuleEditError::new(format!("toml.{}", e.field), e.message)),
    }
}

/// A version may take effect today (an urgent correction) or on a later day, up to
/// [`MAX_MONTHS_AHEAD`] months ahead; never in the past, which would rewrite what was in force.
pub fn check_effective_from(
    effective_from: NaiveDate,
    today: NaiveDate,
) -> Result<(), RuleEditError> {
    if effective_from < today {
        return Err(RuleEditError::new(
            "effective_from",
            format!("must be today ({today}) or later: rules in force in the past cannot change"),
        ));
    }
    let limit = today
        .checked_add_months(Months::new(MAX_MONTHS_AHEAD))
        .unwrap_or(NaiveDate::MAX);
    if effective_from > limit {
        return Err(RuleEditError::new(
            "effective_from",
            format!("must be within {MAX_MONTHS_AHEAD} months (by {limit})"),
        ));
    }
    Ok(())
}

/// Whether a saved version can still be replaced: only before its day comes.
pub fn is_still_scheduled(effective_from: NaiveDate, today: NaiveDate) -> bool {
    effective_from > today
}

/// The rules in force on one day, shared cheaply (each section behind an `Arc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSet {
    pub booking: Arc<BookingRules>,
    pub penalties: Arc<PenaltyRules>,
    pub lottery: Arc<LotteryRules>,
}

/// A saved version on the timeline.
#[derive(Clone, Debug)]
pub struct Version {
    pub id: i32,
    pub effective_from: NaiveDate,
    pub body: RuleBody,
}

/// The starting values and every saved version, ready to answer "in force on D".
#[derive(Clone, Debug)]
pub struct RuleTimeline {
    base: RuleSet,
    /// Per section, oldest day first.
    booking: Vec<(NaiveDate, Arc<BookingRules>)>,
    penalties: Vec<(NaiveDate, Arc<PenaltyRules>)>,
    lottery: Vec<(NaiveDate, Arc<LotteryRules>)>,
}

impl RuleTimeline {
    /// The configuration file's values alone.
    pub fn from_base(base: RuleSet) -> RuleTimeline {
        RuleTimeline {
            base,
            booking: Vec::new(),
            penalties: Vec::new(),
            lottery: Vec::new(),
        }
    }

    /// The base with `versions` laid over it (in any order).
    pub fn new(base: RuleSet, versions: impl IntoIterator<Item = Version>) -> RuleTimeline {
        let mut timeline = RuleTimeline::from_base(base);
        for v in versions {
            match v.body {
                RuleBody::Booking(r) => timeline.booking.push((v.effective_from, Arc::new(r))),
                RuleBody::Penalties(r) => timeline.penalties.push((v.effective_from, Arc::new(r))),
                RuleBody::Lottery(r) => timeline.lottery.push((v.effective_from, Arc::new(r))),
            }
        }
        timeline.booking.sort_by_key(|(d, _)| *d);
        timeline.penalties.sort_by_key(|(d, _)| *d);
        timeline.lottery.sort_by_key(|(d, _)| *d);
        timeline
    }

    /// The rules in force on `day`: per section, the latest version whose day has come, else
    /// the configuration file's.
    pub fn in_force(&self, day: NaiveDate) -> RuleSet {
        fn latest<T>(versions: &[(NaiveDate, Arc<T>)], day: NaiveDate, base: &Arc<T>) -> Arc<T> {
            versions
                .iter()
                .rfind(|(from, _)| *from <= day)
                .map_or_else(|| base.clone(), |(_, r)| r.clone())
        }
        RuleSet {
            booking: latest(&self.booking, day, &self.base.booking),
            penalties: latest(&self.penalties, day, &self.base.penalties),
            lottery: latest(&self.lottery, day, &self.base.lottery),
        }
    }

    /// The configuration file's values.
    pub fn base(&self) -> &RuleSet {
        &self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn base() -> RuleSet {
        RuleSet {
            booking: Arc::new(BookingRules::default()),
            penalties: Arc::new(PenaltyRules::default()),
            lottery: Arc::new(LotteryRules::default()),
        }
    }

    fn penalties(threshold: u32) -> RuleBody {
        RuleBody::Penalties(PenaltyRules {
            threshold,
            ..PenaltyRules::default()
        })
    }

    #[test]
    fn sections_match_the_database_check_constraint() {
        let codes: Vec<_> = RuleSection::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(
            codes,
            migration::m20261123_000019_rule_history::RULE_SECTIONS
        );
        for s in RuleSection::ALL {
            assert_eq!(s.code().parse::<RuleSection>().unwrap(), s);
        }
        assert!("prices".parse::<RuleSection>().is_err());
    }

    #[test]
    fn a_version_takes_over_on_its_day_and_not_before() {
        let timeline = RuleTimeline::new(
            base(),
            [
                Version {
                    id: 2,
                    effective_from: day("2027-04-01"),
                    body: penalties(5),
                },
                Version {
                    id: 1,
                    effective_from: day("2027-01-01"),
                    body: penalties(4),
                },
            ],
        );
        assert_eq!(timeline.in_force(day("2026-12-31")).penalties.threshold, 3);
        assert_eq!(timeline.in_force(day("2027-01-01")).penalties.threshold, 4);
        assert_eq!(timeline.in_force(day("2027-03-31")).penalties.threshold, 4);
        assert_eq!(timeline.in_force(day("2027-04-01")).penalties.threshold, 5);
        // Other sections keep the file's values.
        assert_eq!(
            *timeline.in_force(day("2027-04-01")).booking,
            BookingRules::default()
        );
    }

    #[test]
    fn an_edit_round_trips_through_toml_and_json() {
        for body in [
            RuleBody::Booking(BookingRules::default()),
            penalties(7),
            RuleBody::Lottery(LotteryRules::default()),
        ] {
            let parsed = parse_edit(body.section(), &body.to_toml()).unwrap();
            assert_eq!(parsed, body);
            assert_eq!(
                RuleBody::from_json(body.section(), &body.to_json()).unwrap(),
                body
            );
        }
    }

    #[test]
    fn an_unknown_key_or_a_bad_value_names_the_field() {
        let typo = parse_edit(RuleSection::Penalties, "treshold = 4\n").unwrap_err();
        assert_eq!(typo.field, "toml");
        assert!(typo.message.contains("treshold"), "{typo}");

        let zero = parse_edit(RuleSection::Penalties, "threshold = 0\n").unwrap_err();
        assert_eq!(zero.field, "toml.threshold", "{zero}");

        let wishes = parse_edit(RuleSection::Lottery, "max_wishes = 0\n").unwrap_err();
        assert_eq!(wishes.field, "toml.max_wishes", "{wishes}");

        let window = parse_edit(
            RuleSection::Booking,
            "[window]\nfirst_come_opens_months_before = 99\n",
        )
        .unwrap_err();
        assert_eq!(window.field, "toml.window.first_come_opens_months_before");

        let not_toml = parse_edit(RuleSection::Booking, "[window\n").unwrap_err();
        assert_eq!(not_toml.field, "toml");
    }

    #[test]
    fn versions_start_today_or_later_and_at_most_two_years_ahead() {
        let today = day("2026-11-23");
        assert!(check_effective_from(today, today).is_ok());
        assert!(check_effective_from(day("2028-11-23"), today).is_ok());
        assert_eq!(
            check_effective_from(day("2026-11-22"), today)
                .unwrap_err()
                .field,
            "effective_from"
        );
        assert!(check_effective_from(day("2028-11-24"), today).is_err());
        assert!(is_still_scheduled(day("2026-11-24"), today));
        assert!(!is_still_scheduled(today, today));
    }
}
