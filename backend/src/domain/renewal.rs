//! 登録更新: when a registration can be renewed online, until when the renewed registration
//! runs, which reminder before expiry is due, and when a registration has expired.
//!
//! The rules the city can read:
//! - A registration is valid up to and including its `valid_until` date (Japan time).
//! - Renewal opens `opens_days_before` days before that date (90 by default). Earlier, the answer
//!   is "not yet, from this date".
//! - Renewed on or before `valid_until`, the registration runs three more years **from the old
//!   expiry** (2029-11-22 → 2032-11-22), so renewing early never costs the person days.
//! - Renewed after it expired but within `grace_days` (90 by default), it runs three years from
//!   the day of renewal, to the day before (as a new approval does): the gap is not back-dated.
//! - Later than that, online renewal gives way to staff review: identity and residency are
//!   checked again, as for a new registration, because years may have passed.
//! - A change of residency category always goes to staff review (it changes the fee).
//! - Reminders go out at each configured number of days before expiry (60 and 14 by default).
//!   If the job missed one (it was down), only the most urgent threshold reached is sent, not a
//!   burst of stale ones.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How many years a registration (or a renewal) runs.
pub const VALID_YEARS: i32 = 3;

/// The renewal and reminder settings (`[renewal]` in the config file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenewalRules {
    /// Renewal opens this many days before the registration expires.
    pub opens_days_before: u32,
    /// After expiry, online renewal stays possible this many days; later, staff review it.
    pub grace_days: u32,
    /// Reminder mails, in days before expiry.
    pub reminder_days_before: Vec<u32>,
}

impl Default for RenewalRules {
    fn default() -> Self {
        RenewalRules {
            opens_days_before: 90,
            grace_days: 90,
            reminder_days_before: vec![60, 14],
        }
    }
}

/// A renewal setting that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("renewal.{field}: {message}")]
pub struct InvalidRenewalRules {
    pub field: &'static str,
    pub message: String,
}

impl RenewalRules {
    /// Check every field; the error names the first wrong one.
    pub fn validate(&self) -> Result<(), InvalidRenewalRules> {
        let invalid = |field, message: &str| InvalidRenewalRules {
            field,
            message: message.to_owned(),
        };
        if !(1..=366).contains(&self.opens_days_before) {
            return Err(invalid("opens_days_before", "from 1 to 366 days"));
        }
        if self.grace_days > 366 {
            return Err(invalid("grace_days", "at most 366 days"));
        }
        let mut seen = Vec::new();
        for &days in &self.reminder_days_before {
            // A reminder before renewal opens would ask for something the person cannot do yet.
            if days > self.opens_days_before {
                return Err(invalid(
                    "reminder_days_before",
                    "each at most opens_days_before (renewal must be open when the reminder arrives)",
                ));
            }
            if seen.contains(&days) {
                return Err(invalid("reminder_days_before", "each number once"));
            }
            seen.push(days);
        }
        Ok(())
    }
}

/// What a renewal request on `today` leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenewalDecision {
    /// Too early: renewal opens on this date.
    NotYetOpen { opens_on: NaiveDate },
    /// Renewed online; the registration is valid until this date.
    Renew { valid_until: NaiveDate },
    /// Expired beyond the grace period: staff check identity and residency again.
    ReviewRequired,
}

/// Decide a renewal of a registration valid until `valid_until`, asked for on `today`.
pub fn decide(valid_until: NaiveDate, today: NaiveDate, rules: &RenewalRules) -> RenewalDecision {
    let opens_on = valid_until - Duration::days(i64::from(rules.opens_days_before));
    if today < opens_on {
        RenewalDecision::NotYetOpen { opens_on }
    } else if today <= valid_until + Duration::days(i64::from(rules.grace_days)) {
        RenewalDecision::Renew {
            valid_until: renewed_until(valid_until, today),
        }
    } else {
        RenewalDecision::ReviewRequired
    }
}

/// The new expiry of a registration valid until `valid_until`, renewed (online, or approved by
/// staff after review) on `today`: three years from the old expiry while it has not passed,
/// otherwise three years from today.
pub fn renewed_until(valid_until: NaiveDate, today: NaiveDate) -> NaiveDate {
    if today <= valid_until {
        add_years(valid_until, VALID_YEARS)
    } else {
        fresh_until(today)
    }
}

/// Three years from `today`, to the day before: a registration approved on 2026-11-23 runs to
/// 2029-11-22.
pub fn fresh_until(today: NaiveDate) -> NaiveDate {
    let anniversary = add_years(today, VALID_YEARS);
    anniversary.pred_opt().unwrap_or(anniversary)
}

/// The same day `years` later; 29 February becomes 28 February.
pub fn add_years(date: NaiveDate, years: i32) -> NaiveDate {
    let year = date.year() + years;
    date.with_year(year)
        .or_else(|| NaiveDate::from_ymd_opt(year, date.month(), 28))
        .unwrap_or(date)
}

/// Whether a registration valid until `valid_until` has expired on `today`.
pub fn is_expired(valid_until: NaiveDate, today: NaiveDate) -> bool {
    today > valid_until
}

/// The reminder due on `today` for a registration valid until `valid_until`: the smallest
/// threshold that has been reached (days left ≤ threshold). `None` before the first threshold
/// and once the registration has expired.
pub fn due_reminder(valid_until: NaiveDate, today: NaiveDate, thresholds: &[u32]) -> Option<u32> {
    let days_left = (valid_until - today).num_days();
    if days_left < 0 {
        return None;
    }
    thresholds
        .iter()
        .copied()
        .filter(|&t| days_left <= i64::from(t))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn renewing_before_expiry_extends_three_years_from_the_old_expiry() {
        let rules = RenewalRules::default();
        assert_eq!(
            decide(d("2029-11-22"), d("2029-10-01"), &rules),
            RenewalDecision::Renew {
                valid_until: d("2032-11-22")
            }
        );
        // On the last valid day too.
        assert_eq!(
            decide(d("2029-11-22"), d("2029-11-22"), &rules),
            RenewalDecision::Renew {
                valid_until: d("2032-11-22")
            }
        );
    }

    #[test]
    fn renewal_opens_ninety_days_before_expiry() {
        let rules = RenewalRules::default();
        assert_eq!(
            decide(d("2029-11-22"), d("2029-08-23"), &rules),
            RenewalDecision::NotYetOpen {
                opens_on: d("2029-08-24")
            }
        );
        assert!(matches!(
            decide(d("2029-11-22"), d("2029-08-24"), &rules),
            RenewalDecision::Renew { .. }
        ));
    }

    #[test]
    fn renewing_within_the_grace_period_runs_three_years_from_today() {
        let rules = RenewalRules::default();
        assert_eq!(
            decide(d("2029-11-22"), d("2029-12-01"), &rules),
            RenewalDecision::Renew {
                valid_until: d("2032-11-30")
            }
        );
        assert!(matches!(
            decide(d("2029-11-22"), d("2030-02-20"), &rules),
            RenewalDecision::Renew { .. }
        ));
        assert_eq!(
            decide(d("2029-11-22"), d("2030-02-21"), &rules),
            RenewalDecision::ReviewRequired
        );
    }

    #[test]
    fn the_twenty_ninth_of_february_falls_back_to_the_twenty_eighth() {
        assert_eq!(add_years(d("2028-02-29"), 3), d("2031-02-28"));
        assert_eq!(
            renewed_until(d("2028-02-29"), d("2028-01-10")),
            d("2031-02-28")
        );
        assert_eq!(fresh_until(d("2026-11-23")), d("2029-11-22"));
    }

    #[test]
    fn the_most_urgent_threshold_reached_is_the_one_due() {
        let t = [60, 14];
        let until = d("2030-03-31");
        assert_eq!(due_reminder(until, until - Duration::days(61), &t), None);
        assert_eq!(
            due_reminder(until, until - Duration::days(60), &t),
            Some(60)
        );
        assert_eq!(
            due_reminder(until, until - Duration::days(15), &t),
            Some(60)
        );
        assert_eq!(
            due_reminder(until, until - Duration::days(14), &t),
            Some(14)
        );
        assert_eq!(due_reminder(until, until, &t), Some(14));
        assert_eq!(due_reminder(until, until + Duration::days(1), &t), None);
        assert_eq!(due_reminder(until, until, &[]), None);
    }

    #[test]
    fn a_registration_expires_the_day_after_its_last_valid_day() {
        assert!(!is_expired(d("2029-11-22"), d("2029-11-22")));
        assert!(is_expired(d("2029-11-22"), d("2029-11-23")));
    }

    #[test]
    fn unusable_settings_are_named() {
        assert!(RenewalRules::default().validate().is_ok());
        let early_reminder = RenewalRules {
            reminder_days_before: vec![120],
            ..RenewalRules::default()
        };
        assert_eq!(
            early_reminder.validate().unwrap_err().field,
            "reminder_days_before"
        );
        let never_opens = RenewalRules {
            opens_days_before: 0,
            ..RenewalRules::default()
        };
        assert_eq!(
            never_opens.validate().unwrap_err().field,
            "opens_days_before"
        );
    }
}
