//! 支払と還付の決まり: the pure rules of the payment ledger.
//!
//! No I/O and no clock: "now" is a parameter. Money is whole yen: JPY is a zero-decimal
//! currency, so ¥4,200 is the integer 4200 everywhere, in the database and at Stripe alike.
//!
//! 1. **Who took the money** ([`Provider`]): Stripe, the embedded test-mode provider, or the
//!    counter (cash or a card terminal).
//! 2. **What a payment does** ([`on_arrival`]): a payment confirms a booking that is awaiting
//!    payment, through the booking state machine ([`transition`]). A payment for a booking that
//!    cannot take it any more (cancelled, expired, or already paid) is kept in the ledger and
//!    refunded in full: money is never silently kept for nothing.
//! 3. **A payment must match the booking** ([`check_amount`]): the same yen, in JPY. A mismatch
//!    is refused and left for a person to resolve.
//! 4. **How long a Stripe Checkout Session lives** ([`checkout_expires_at`]): until the booking's
//!    `pay_by`, but Stripe accepts only 30 minutes to 24 hours after creation, so the time is
//!    clamped into that range (with a minute's margin each side for the trip to Stripe).
//! 5. **Refunds never exceed what was paid** ([`allocate_refund`]): a refund is spread over the
//!    booking's applied payments, each up to what is left of it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use utoipa::ToSchema;

use crate::domain::booking::{BookingEvent, BookingState, CancelReason, transition};

/// A code that is not one of ours.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown payment code `{0}`")]
pub struct UnknownPaymentCode(pub String);

macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code stored in the database and used in the API.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }

        impl FromStr for $name {
            type Err = UnknownPaymentCode;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.code() == s)
                    .ok_or_else(|| UnknownPaymentCode(s.to_owned()))
            }
        }
    };
}

coded_enum!(
    /// Who took the money.
    Provider {
        /// Card (or konbini) through Stripe Checkout.
        Stripe => "stripe",
        /// The embedded test-mode provider (no Stripe key configured): no real money.
        Embedded => "embedded",
        /// Cash at the facility's counter (窓口現金).
        CounterCash => "counter_cash",
        /// A card terminal at the counter (窓口端末).
        CounterTerminal => "counter_terminal",
    }
);

impl Provider {
    /// Whether the money came in at the counter (refunds are handed back there).
    pub fn is_counter(self) -> bool {
        matches!(self, Provider::CounterCash | Provider::CounterTerminal)
    }

    /// The name on a receipt.
    pub fn label_ja(self) -> &'static str {
        match self {
            Provider::Stripe => "クレジットカード等（オンライン）",
            Provider::Embedded => "テスト決済（テストモード）",
            Provider::CounterCash => "現金（窓口）",
            Provider::CounterTerminal => "カード端末（窓口）",
        }
    }
}

coded_enum!(
    /// Where a checkout attempt is.
    AttemptState {
        /// Recorded, the provider not yet asked (or its answer lost).
        Creating => "creating",
        /// The person can pay.
        Open => "open",
        /// Paid.
        Completed => "completed",
        /// Ran out, was abandoned, or was ended because the booking ended.
        Expired => "expired",
        /// The provider refused to create it, or the payment failed.
        Failed => "failed",
    }
);

coded_enum!(
    /// Where a refund is.
    RefundState {
        /// Recorded; the provider has not confirmed it yet (the refund job retries).
        Pending => "pending",
        Succeeded => "succeeded",
        /// The provider refused it for good; a person must resolve it.
        Failed => "failed",
    }
);

coded_enum!(
    /// Why money was given back.
    RefundReason {
        CancelledByResident => "cancelled_by_resident",
        CancelledByStaff => "cancelled_by_staff",
        CancelledByClosure => "cancelled_by_closure",
        /// The payment arrived for a booking that had ended (or was already paid).
        LatePayment => "late_payment",
        /// Made at the provider directly (e.g. in Stripe's dashboard) and learnt from its event.
        External => "external",
    }
);

impl From<CancelReason> for RefundReason {
    fn from(reason: CancelReason) -> Self {
        match reason {
            CancelReason::Resident => RefundReason::CancelledByResident,
            CancelReason::Staff => RefundReason::CancelledByStaff,
            CancelReason::Closure => RefundReason::CancelledByClosure,
        }
    }
}

/// What a payment that arrives does to its booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The booking was awaiting payment: it becomes confirmed.
    Confirm,
    /// The booking cannot take a payment (cancelled, expired, already paid, …): the payment is
    /// recorded and refunded in full.
    RefundInFull,
}

/// What a payment arriving for a booking in `state` does. Decided by the booking state machine:
/// only a booking awaiting payment can be paid.
pub fn on_arrival(state: BookingState) -> Arrival {
    match transition(state, BookingEvent::Paid) {
        Ok(_) => Arrival::Confirm,
        Err(_) => Arrival::RefundInFull,
    }
}

/// A payment that does not match its booking.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Mismatch {
    #[error("the payment is in `{0}`, not jpy")]
    Currency(String),
    #[error("the payment is {paid} yen, but the booking costs {expected} yen")]
    Amount { paid: i64, expected: i64 },
}

/// The payment must be the booking's total, in JPY (a zero-decimal currency: no ×100).
pub fn check_amount(paid_yen: i64, currency: &str, expected_yen: i64) -> Result<(), Mismatch> {
    if !currency.eq_ignore_ascii_case("jpy") {
        return Err(Mismatch::Currency(currency.to_owned()));
    }
    if paid_yen != expected_yen {
        return Err(Mismatch::Amount {
            paid: paid_yen,
            expected: expected_yen,
        });
    }
    Ok(())
}

/// The shortest life Stripe accepts for a Checkout Session, after creation.
pub const STRIPE_MIN_SESSION: Duration = Duration::minutes(30);
/// The longest.
pub const STRIPE_MAX_SESSION: Duration = Duration::hours(24);
/// Margin for the trip to Stripe: our `now` is a little before Stripe's creation time.
const MARGIN: Duration = Duration::minutes(1);

/// When a checkout opened at `now` for a booking due by `pay_by` expires: `pay_by`, clamped to
/// 31 minutes … 23 h 59 min from now (Stripe's 30 min – 24 h with a minute's margin). A
/// booking due within 31 minutes gets the 31: a payment that then arrives after the deadline job
/// expired the booking is refunded in full ([`on_arrival`]); one that arrives before keeps it.
/// Returns `None` once `pay_by` has passed: the booking cannot be paid any more.
pub fn checkout_expires_at(now: DateTime<Utc>, pay_by: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if pay_by <= now {
        return None;
    }
    let earliest = now + STRIPE_MIN_SESSION + MARGIN;
    let latest = now + STRIPE_MAX_SESSION - MARGIN;
    Some(pay_by.clamp(earliest, latest))
}

/// One payment's share of a refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refundable {
    pub payment_id: i64,
    pub amount_yen: i64,
    /// Already committed to refunds.
    pub refunded_yen: i64,
}

/// Refunding more than is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("a refund of {requested} yen is more than the {available} yen left to refund")]
pub struct OverRefund {
    pub requested: i64,
    pub available: i64,
}

/// Spread a refund of `amount_yen` over `payments` in their order, each up to what is left of
/// it. Returns (payment id, yen) pairs with positive amounts; refuses to give back more than is
/// left in all. A refund of 0 yen is no refund (an empty list).
pub fn allocate_refund(
    payments: &[Refundable],
    amount_yen: i64,
) -> Result<Vec<(i64, i64)>, OverRefund> {
    let available: i64 = payments
        .iter()
        .map(|p| (p.amount_yen - p.refunded_yen).max(0))
        .sum();
    if amount_yen > available || amount_yen < 0 {
        return Err(OverRefund {
            requested: amount_yen,
            available,
        });
    }
    let mut left = amount_yen;
    let mut shares = Vec::new();
    for p in payments {
        if left == 0 {
            break;
        }
        let share = (p.amount_yen - p.refunded_yen).max(0).min(left);
        if share > 0 {
            shares.push((p.payment_id, share));
            left -= share;
        }
    }
    Ok(shares)
}

/// The receipt number (領収番号) of a counter payment: the local date and the booking, e.g.
/// `R20261210-000123`. A booking is paid at most once (a database rule), so it is unique.
pub fn counter_receipt_number(local_date: NaiveDate, booking_id: i64) -> String {
    format!("R{}-{booking_id:06}", local_date.format("%Y%m%d"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
    }

    #[test]
    fn codes_match_the_database_check_lists() {
        let codes = |all: Vec<&'static str>| all;
        assert_eq!(
            codes(Provider::ALL.iter().map(|p| p.code()).collect()),
            migration::m20261123_000010_payments::PAYMENT_PROVIDERS
        );
        assert_eq!(
            codes(AttemptState::ALL.iter().map(|p| p.code()).collect()),
            migration::m20261123_000010_payments::ATTEMPT_STATES
        );
        assert_eq!(
            codes(RefundState::ALL.iter().map(|p| p.code()).collect()),
            migration::m20261123_000010_payments::REFUND_STATES
        );
        assert_eq!(
            codes(RefundReason::ALL.iter().map(|p| p.code()).collect()),
            migration::m20261123_000010_payments::REFUND_REASONS
        );
        for p in Provider::ALL {
            assert_eq!(p.code().parse::<Provider>(), Ok(*p));
        }
    }

    #[test]
    fn only_a_booking_awaiting_payment_is_confirmed_by_a_payment() {
        assert_eq!(on_arrival(BookingState::AwaitingPayment), Arrival::Confirm);
        for state in [
            BookingState::Confirmed,
            BookingState::Cancelled,
            BookingState::Expired,
            BookingState::CheckedIn,
            BookingState::NoShow,
        ] {
            assert_eq!(on_arrival(state), Arrival::RefundInFull, "{state}");
        }
    }

    #[test]
    fn amounts_are_whole_yen_in_jpy() {
        assert_eq!(check_amount(4200, "jpy", 4200), Ok(()));
        assert_eq!(check_amount(4200, "JPY", 4200), Ok(()));
        assert_eq!(
            check_amount(420_000, "jpy", 4200),
            Err(Mismatch::Amount {
                paid: 420_000,
                expected: 4200
            })
        );
        assert!(matches!(
            check_amount(4200, "usd", 4200),
            Err(Mismatch::Currency(_))
        ));
    }

    #[test]
    fn a_checkout_expires_at_pay_by_clamped_to_what_stripe_accepts() {
        let now = at(1, 0);
        // Days away: 24 h less the margin.
        let far = now + Duration::days(6);
        assert_eq!(
            checkout_expires_at(now, far),
            Some(now + Duration::hours(24) - Duration::minutes(1))
        );
        // Two hours away: pay_by itself.
        let near = now + Duration::hours(2);
        assert_eq!(checkout_expires_at(now, near), Some(near));
        // Ten minutes away: Stripe's minimum plus the margin.
        let soon = now + Duration::minutes(10);
        assert_eq!(
            checkout_expires_at(now, soon),
            Some(now + Duration::minutes(31))
        );
        // Passed: no checkout.
        assert_eq!(checkout_expires_at(now, now), None);
        assert_eq!(checkout_expires_at(now, at(0, 59)), None);
    }

    #[test]
    fn refunds_are_spread_over_payments_and_never_exceed_them() {
        let payments = [
            Refundable {
                payment_id: 1,
                amount_yen: 3000,
                refunded_yen: 1000,
            },
            Refundable {
                payment_id: 2,
                amount_yen: 500,
                refunded_yen: 0,
            },
        ];
        assert_eq!(allocate_refund(&payments, 0), Ok(vec![]));
        assert_eq!(allocate_refund(&payments, 1500), Ok(vec![(1, 1500)]));
        assert_eq!(
            allocate_refund(&payments, 2500),
            Ok(vec![(1, 2000), (2, 500)])
        );
        assert_eq!(
            allocate_refund(&payments, 2501),
            Err(OverRefund {
                requested: 2501,
                available: 2500
            })
        );
        assert!(allocate_refund(&payments, -1).is_err());
    }

    #[test]
    fn receipt_numbers_carry_the_date_and_booking() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
        assert_eq!(counter_receipt_number(date, 123), "R20261210-000123");
    }

    #[test]
    fn cancellation_reasons_map_to_refund_reasons() {
        assert_eq!(
            RefundReason::from(CancelReason::Closure),
            RefundReason::CancelledByClosure
        );
    }
}
