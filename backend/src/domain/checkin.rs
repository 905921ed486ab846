//! 受付 (check-in): which of a person's bookings a scan at a facility checks in, and what the
//! scanner is told. Pure: the caller reads the bookings and passes the scan time.
//!
//! # The rules
//!
//! 1. A booking can be checked in from `opens_minutes_before` before its first slot until its
//!    last slot ends ([`CheckinRules`]); a scan checks in every booking of the holder at that
//!    facility whose window contains the scan time and whose state allows it
//!    ([`transition`](crate::domain::booking::transition) with `checked_in`).
//! 2. A booking already checked in is not checked in again: the answer is "already checked in at
//!    HH:MM" with the first check-in's time.
//! 3. A booking still awaiting payment cannot be checked in (check-in needs a paid booking): the
//!    scanner says payment is due, and staff take a counter payment first.
//! 4. A booking later today is "not yet" with the time check-in opens; one that has ended is
//!    shown but not checked in.
//! 5. A booking the no-show job marked while an offline scan made in its window was still
//!    queued is checked in when that scan arrives ([`BookingEvent::CheckedInLate`]); the caller
//!    withdraws its penalty.
//!
//! The overall [`ScanResult`] is the most useful single answer, in this order: `checked_in`,
//! `already_checked_in`, `payment_due`, `not_yet`, `no_booking`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::booking::{BookingEvent, BookingState, transition};

/// Card and check-in settings (`[checkin]` in the configuration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckinRules {
    /// How long a card token is valid; the card page refreshes it whenever it is online. Long
    /// enough for a phone kept offline for a few days (a basement gym, a week without data),
    /// short enough that a revoked card's old tokens die soon and the revocation list stays small.
    pub card_token_ttl_days: u32,
    /// Clock difference tolerated when checking a token's `iat`/`exp`, in seconds.
    pub token_leeway_seconds: u32,
    /// A booking can be checked in from this many minutes before its first slot.
    pub opens_minutes_before: u32,
    /// An offline scan older than this (by its `scanned_at`) is refused at sync.
    pub offline_scan_max_age_hours: u32,
}

impl Default for CheckinRules {
    fn default() -> Self {
        CheckinRules {
            card_token_ttl_days: 7,
            token_leeway_seconds: 300,
            opens_minutes_before: 60,
            offline_scan_max_age_hours: 72,
        }
    }
}

impl CheckinRules {
    /// How long a card token lives.
    pub fn token_ttl(&self) -> Duration {
        Duration::days(i64::from(self.card_token_ttl_days))
    }

    /// Check the configuration; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=30).contains(&self.card_token_ttl_days) {
            return Err("checkin.card_token_ttl_days: from 1 to 30 days".into());
        }
        if self.token_leeway_seconds > 3600 {
            return Err("checkin.token_leeway_seconds: at most 3600".into());
        }
        if self.opens_minutes_before > 24 * 60 {
            return Err("checkin.opens_minutes_before: at most 1440".into());
        }
        if !(1..=24 * 30).contains(&self.offline_scan_max_age_hours) {
            return Err("checkin.offline_scan_max_age_hours: from 1 to 720".into());
        }
        Ok(())
    }
}

/// What a scan ended in. The codes are stored in `checkin_scans.result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanResult {
    /// At least one booking was checked in by this scan.
    CheckedIn,
    /// Nothing new: a booking was already checked in (the answer gives the time).
    AlreadyCheckedIn,
    /// A booking is in its check-in window but not paid yet.
    PaymentDue,
    /// A booking today, but its check-in window has not opened.
    NotYet,
    /// No booking of the holder at this facility today (or all have ended).
    NoBooking,
    /// The card was refused (an offline scan synced later; online refusals are errors).
    Refused,
}

impl ScanResult {
    pub const ALL: &'static [ScanResult] = &[
        ScanResult::CheckedIn,
        ScanResult::AlreadyCheckedIn,
        ScanResult::NotYet,
        ScanResult::PaymentDue,
        ScanResult::NoBooking,
        ScanResult::Refused,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            ScanResult::CheckedIn => "checked_in",
            ScanResult::AlreadyCheckedIn => "already_checked_in",
            ScanResult::PaymentDue => "payment_due",
            ScanResult::NotYet => "not_yet",
            ScanResult::NoBooking => "no_booking",
            ScanResult::Refused => "refused",
        }
    }

    /// From a stored code.
    pub fn from_code(code: &str) -> Option<ScanResult> {
        Self::ALL.iter().copied().find(|r| r.code() == code)
    }
}

/// One of the holder's bookings at the facility on the day of the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookingAtScan {
    pub id: i64,
    pub state: BookingState,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// When it was checked in, if it was.
    pub checked_in_at: Option<DateTime<Utc>>,
}

/// What a scan does to one booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BookingAction {
    /// Check it in now.
    CheckIn,
    /// Already checked in at that instant.
    AlreadyCheckedIn { at: DateTime<Utc> },
    /// In its window, but not paid.
    PaymentDue,
    /// Check-in opens at that instant.
    NotYet { opens_at: DateTime<Utc> },
    /// Over, or in a state that cannot be checked in.
    Nothing,
}

/// The decision for one scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanDecision {
    pub result: ScanResult,
    /// One action per booking, in the order given.
    pub actions: Vec<(i64, BookingAction)>,
    /// For `already_checked_in`: the check-in time to show.
    pub already_at: Option<DateTime<Utc>>,
    /// For `not_yet`: when the earliest window opens.
    pub opens_at: Option<DateTime<Utc>>,
}

/// The event that checks in a booking in `state`, if any: `checked_in` for a confirmed booking,
/// `checked_in_late` for one marked a no-show before the (offline) scan reached the server.
pub fn checkin_event(state: BookingState) -> Option<BookingEvent> {
    [BookingEvent::CheckedIn, BookingEvent::CheckedInLate]
        .into_iter()
        .find(|&event| transition(state, event).is_ok())
}

/// Decide what a scan at `at` does to `bookings` (the holder's bookings at this facility that
/// day). See the module rules.
pub fn decide(at: DateTime<Utc>, bookings: &[BookingAtScan], rules: &CheckinRules) -> ScanDecision {
    let before = Duration::minutes(i64::from(rules.opens_minutes_before));
    let actions: Vec<(i64, BookingAction)> = bookings
        .iter()
        .map(|b| {
            let opens_at = b.starts_at - before;
            let in_window = at >= opens_at && at < b.ends_at;
            let action = if let Some(checked) = b.checked_in_at {
                BookingAction::AlreadyCheckedIn { at: checked }
            } else if b.state == BookingState::CheckedIn {
                // Checked in without a record (should not happen): still never twice.
                BookingAction::AlreadyCheckedIn { at: b.starts_at }
            } else if at < opens_at && b.state.is_active() {
                BookingAction::NotYet { opens_at }
            } else if in_window && checkin_event(b.state).is_some() {
                BookingAction::CheckIn
            } else if in_window && b.state == BookingState::AwaitingPayment {
                BookingAction::PaymentDue
            } else {
                BookingAction::Nothing
            };
            (b.id, action)
        })
        .collect();
    let any = |f: &dyn Fn(&BookingAction) -> bool| actions.iter().any(|(_, a)| f(a));
    let already_at = actions
        .iter()
        .filter_map(|(_, a)| match a {
            BookingAction::AlreadyCheckedIn { at } => Some(*at),
            _ => None,
        })
        .max();
    let opens_at = actions
        .iter()
        .filter_map(|(_, a)| match a {
            BookingAction::NotYet { opens_at } => Some(*opens_at),
            _ => None,
        })
        .min();
    let result = if any(&|a| matches!(a, BookingAction::CheckIn)) {
        ScanResult::CheckedIn
    } else if already_at.is_some() {
        ScanResult::AlreadyCheckedIn
    } else if any(&|a| matches!(a, BookingAction::PaymentDue)) {
        ScanResult::PaymentDue
    } else if opens_at.is_some() {
        ScanResult::NotYet
    } else {
        ScanResult::NoBooking
    };
    ScanDecision {
        result,
        actions,
        already_at,
        opens_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::tokyo;
    use chrono::TimeZone;

    fn jst(h: u32, m: u32) -> DateTime<Utc> {
        tokyo()
            .with_ymd_and_hms(2027, 3, 1, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn booking(id: i64, state: BookingState, from: u32, to: u32) -> BookingAtScan {
        BookingAtScan {
            id,
            state,
            starts_at: jst(from, 0),
            ends_at: jst(to, 0),
            checked_in_at: None,
        }
    }

    #[test]
    fn a_paid_booking_is_checked_in_from_an_hour_before_until_it_ends() {
        let rules = CheckinRules::default();
        let b = [booking(1, BookingState::Confirmed, 9, 12)];
        assert_eq!(decide(jst(7, 59), &b, &rules).result, ScanResult::NotYet);
        assert_eq!(decide(jst(7, 59), &b, &rules).opens_at, Some(jst(8, 0)));
        assert_eq!(decide(jst(8, 0), &b, &rules).result, ScanResult::CheckedIn);
        assert_eq!(
            decide(jst(11, 59), &b, &rules).result,
            ScanResult::CheckedIn
        );
        assert_eq!(decide(jst(12, 0), &b, &rules).result, ScanResult::NoBooking);
    }

    #[test]
    fn a_second_scan_says_when_the_first_checked_in() {
        let mut b = booking(1, BookingState::CheckedIn, 9, 12);
        b.checked_in_at = Some(jst(8, 47));
        let decision = decide(jst(9, 30), &[b], &CheckinRules::default());
        assert_eq!(decision.result, ScanResult::AlreadyCheckedIn);
        assert_eq!(decision.already_at, Some(jst(8, 47)));
    }

    #[test]
    fn a_no_show_is_checked_in_late_only_by_a_scan_made_in_its_window() {
        let rules = CheckinRules::default();
        let b = [booking(1, BookingState::NoShow, 9, 12)];
        // An offline scan made at 9:10, synced after the job marked the booking.
        assert_eq!(decide(jst(9, 10), &b, &rules).result, ScanResult::CheckedIn);
        // A scan after the end (every online scan of a no-show) changes nothing.
        assert_eq!(
            decide(jst(12, 30), &b, &rules).result,
            ScanResult::NoBooking
        );
        assert_eq!(
            checkin_event(BookingState::NoShow),
            Some(BookingEvent::CheckedInLate)
        );
        assert_eq!(checkin_event(BookingState::Cancelled), None);
    }

    #[test]
    fn an_unpaid_booking_is_not_checked_in() {
        let b = [booking(1, BookingState::AwaitingPayment, 9, 12)];
        let decision = decide(jst(9, 0), &b, &CheckinRules::default());
        assert_eq!(decision.result, ScanResult::PaymentDue);
        assert_eq!(decision.actions, vec![(1, BookingAction::PaymentDue)]);
    }

    #[test]
    fn only_the_booking_in_its_window_is_checked_in_and_the_evening_waits() {
        let b = [
            booking(1, BookingState::Confirmed, 9, 12),
            booking(2, BookingState::Confirmed, 18, 21),
        ];
        let decision = decide(jst(9, 10), &b, &CheckinRules::default());
        assert_eq!(decision.result, ScanResult::CheckedIn);
        assert_eq!(
            decision.actions,
            vec![
                (1, BookingAction::CheckIn),
                (
                    2,
                    BookingAction::NotYet {
                        opens_at: jst(17, 0)
                    }
                )
            ]
        );
    }

    #[test]
    fn cancelled_bookings_and_no_bookings_check_nothing_in() {
        let b = [booking(1, BookingState::Cancelled, 9, 12)];
        assert_eq!(
            decide(jst(9, 0), &b, &CheckinRules::default()).result,
            ScanResult::NoBooking
        );
        assert_eq!(
            decide(jst(9, 0), &[], &CheckinRules::default()).result,
            ScanResult::NoBooking
        );
    }

    #[test]
    fn scan_results_match_the_database_check_constraint() {
        let codes: Vec<_> = ScanResult::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(
            codes,
            migration::m20261123_000011_cards_and_checkins::SCAN_RESULTS
        );
    }

    #[test]
    fn the_defaults_are_valid_and_nonsense_is_refused() {
        assert_eq!(CheckinRules::default().validate(), Ok(()));
        let rules = CheckinRules {
            card_token_ttl_days: 0,
            ..CheckinRules::default()
        };
        assert!(
            rules
                .validate()
                .unwrap_err()
                .contains("card_token_ttl_days")
        );
    }
}
