//! 無断キャンセルのペナルティ: no-shows, penalty points and the suspension of booking they lead
//! to. Pure: the caller reads a person's points and passes "now".
//!
//! # The rules
//!
//! 1. A paid booking not checked in by the end of its last slot plus `no_show_grace_minutes`
//!    becomes a no-show and earns `points_per_no_show` points, dated at the end of the booking
//!    (not when the job noticed), so the outcome does not depend on when the job ran.
//! 2. Points are counted in a sliding window of `window_days`. When the points within the window
//!    reach `threshold`, booking is suspended for `suspension_days` from that no-show, and the
//!    points that caused it are used up: they do not count towards a next suspension.
//! 3. A voided point (staff accepted that the person came after all) is simply left out, so the
//!    suspension is always what the remaining points say ([`standing`]).
//!
//! With the defaults: 3 no-shows within 90 days suspend booking for 90 days (PRODUCT.md's
//! "3 points in 3 months → 3 months' suspension").

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Penalty settings (`[penalties]` in the configuration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PenaltyRules {
    /// Points for one no-show.
    pub points_per_no_show: u32,
    /// Points within the window that suspend booking.
    pub threshold: u32,
    /// The sliding window points are counted in, in days.
    pub window_days: u32,
    /// How long booking is suspended, in days.
    pub suspension_days: u32,
    /// Minutes after a booking's end before it counts as a no-show (time for a late check-in,
    /// and for offline scanners to sync).
    pub no_show_grace_minutes: u32,
}

impl Default for PenaltyRules {
    fn default() -> Self {
        PenaltyRules {
            points_per_no_show: 1,
            threshold: 3,
            window_days: 90,
            suspension_days: 90,
            no_show_grace_minutes: 60,
        }
    }
}

impl PenaltyRules {
    /// Check the configuration; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                "points_per_no_show",
                (1..=100).contains(&self.points_per_no_show),
                "from 1 to 100",
            ),
            (
                "threshold",
                (1..=1000).contains(&self.threshold),
                "from 1 to 1000",
            ),
            (
                "window_days",
                (1..=3660).contains(&self.window_days),
                "from 1 to 3660",
            ),
            (
                "suspension_days",
                (1..=3660).contains(&self.suspension_days),
                "from 1 to 3660",
            ),
            (
                "no_show_grace_minutes",
                self.no_show_grace_minutes <= 7 * 24 * 60,
                "at most 10080 (a week)",
            ),
        ];
        match checks.into_iter().find(|(_, ok, _)| !ok) {
            Some((field, _, message)) => Err(format!("penalties.{field}: {message}")),
            None => Ok(()),
        }
    }

    /// When a booking ending at `ends_at` becomes a no-show if nobody checked in.
    pub fn no_show_after(&self, ends_at: DateTime<Utc>) -> DateTime<Utc> {
        ends_at + Duration::minutes(i64::from(self.no_show_grace_minutes))
    }

    fn window(&self) -> Duration {
        Duration::days(i64::from(self.window_days))
    }

    fn suspension(&self) -> Duration {
        Duration::days(i64::from(self.suspension_days))
    }
}

/// One penalty that counts (voided ones are left out by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Penalty {
    pub at: DateTime<Utc>,
    pub points: u32,
}

/// A suspension of booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Suspension {
    /// The no-show that reached the threshold.
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Where a person stands at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// Points within the window at `now` that have not been used up by a suspension.
    pub points: u32,
    /// The latest suspension the points caused (it may have ended: compare with `now`).
    pub latest_suspension: Option<Suspension>,
}

impl Standing {
    /// The suspension in force at `now`, if any.
    pub fn suspended_at(&self, now: DateTime<Utc>) -> Option<Suspension> {
        self.latest_suspension
            .filter(|s| s.from <= now && now < s.until)
    }
}

/// Apply the rules to `penalties` (any order) as of `now`.
pub fn standing(penalties: &[Penalty], rules: &PenaltyRules, now: DateTime<Utc>) -> Standing {
    let mut sorted: Vec<Penalty> = penalties.iter().copied().filter(|p| p.at <= now).collect();
    sorted.sort_by_key(|p| p.at);
    let mut counted: Vec<Penalty> = Vec::new();
    let mut latest_suspension = None;
    for penalty in sorted {
        counted.retain(|p| p.at > penalty.at - rules.window());
        counted.push(penalty);
        let sum: u32 = counted.iter().map(|p| p.points).sum();
        if sum >= rules.threshold {
            latest_suspension = Some(Suspension {
                from: penalty.at,
                until: penalty.at + rules.suspension(),
            });
            // Used up: the next suspension needs new points.
            counted.clear();
        }
    }
    counted.retain(|p| p.at > now - rules.window());
    Standing {
        points: counted.iter().map(|p| p.points).sum(),
        latest_suspension,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(n: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap() + Duration::days(n)
    }

    fn one(at: i64) -> Penalty {
        Penalty {
            at: day(at),
            points: 1,
        }
    }

    #[test]
    fn three_no_shows_within_ninety_days_suspend_booking_for_ninety_days() {
        let rules = PenaltyRules::default();
        let points = [one(0), one(30), one(60)];
        let s = standing(&points, &rules, day(61));
        assert_eq!(
            s.suspended_at(day(61)),
            Some(Suspension {
                from: day(60),
                until: day(150)
            })
        );
        assert_eq!(s.points, 0, "the points were used up");
        assert_eq!(s.suspended_at(day(150)), None);
    }

    #[test]
    fn points_older_than_the_window_no_longer_count() {
        let rules = PenaltyRules::default();
        let points = [one(0), one(30), one(95)];
        let s = standing(&points, &rules, day(96));
        assert_eq!(s.latest_suspension, None);
        assert_eq!(s.points, 2);
        assert_eq!(standing(&points, &rules, day(200)).points, 0);
    }

    #[test]
    fn two_points_are_not_yet_a_suspension_and_a_voided_one_is_left_out() {
        let rules = PenaltyRules::default();
        let s = standing(&[one(0), one(1)], &rules, day(2));
        assert_eq!((s.points, s.latest_suspension), (2, None));
    }

    #[test]
    fn a_heavier_no_show_can_reach_the_threshold_at_once() {
        let rules = PenaltyRules {
            points_per_no_show: 3,
            ..PenaltyRules::default()
        };
        let s = standing(
            &[Penalty {
                at: day(0),
                points: 3,
            }],
            &rules,
            day(0),
        );
        assert!(s.suspended_at(day(0)).is_some());
    }

    #[test]
    fn penalties_after_now_are_ignored_and_order_does_not_matter() {
        let rules = PenaltyRules::default();
        let s = standing(&[one(60), one(0), one(30)], &rules, day(61));
        assert!(s.suspended_at(day(61)).is_some());
        let early = standing(&[one(60), one(0), one(30)], &rules, day(31));
        assert_eq!((early.points, early.latest_suspension), (2, None));
    }

    #[test]
    fn the_grace_period_moves_the_no_show_past_the_end_of_the_booking() {
        let rules = PenaltyRules::default();
        assert_eq!(rules.no_show_after(day(0)), day(0) + Duration::minutes(60));
        assert_eq!(rules.validate(), Ok(()));
        let bad = PenaltyRules {
            threshold: 0,
            ..PenaltyRules::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            "penalties.threshold: from 1 to 1000"
        );
    }
}
