//! Cancellation by the facility: by staff (one booking, with a reason) or for a closure decided
//! by the city (weather, maintenance; many bookings at once). Unlike a resident's cancellation
//! there is no tier table: whatever was paid is refunded in full (`RefundPolicy::refund` gives
//! 100 % for `CancelReason::Staff` and `::Closure`).
//!
//! [`cancel_in_full_within`] does the work inside the caller's write transaction, so a closure can
//! cancel a list of bookings all or nothing: each booking's row is locked (PostgreSQL; SQLite
//! writers are serial), moved through the booking state machine with a conditional UPDATE (the
//! payment deadline job and a racing payment see the same rule), its slots freed, its history
//! written with the reason, the full refund committed to the ledger, and its holder mailed
//! through the outbox. The money moves after the commit (`payments::after_booking_ended`, or
//! `jobs::refunds`), never inside the transaction; counter payments are handed back at the
//! counter (`payments::hand_back_counter_refund`).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::booking::{BookingEvent, BookingState, CancelReason, RefundPolicy, transition};
use crate::domain::payments::RefundReason;
use crate::domain::roles::Role;
use crate::services::bookings::{self, BookingError, Ending, end_booking};
use crate::services::payments::{
    PaymentError, ensure_assigned, holder_of, lock_booking, refundable_yen_within,
    schedule_refund_within,
};
use crate::services::{audit, mail};
use crate::views::booking::CancelResponse;

/// The longest reason staff may give (it is mailed to the holder and kept in the history).
pub const MAX_REASON_CHARS: usize = 200;

/// Who on the facility's side cancels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FacilitySide {
    /// A staff member, manager or administrator decided it.
    Staff,
    /// The room or facility closes (a closure decided by the city).
    Closure,
}

impl FacilitySide {
    fn event(self) -> BookingEvent {
        match self {
            FacilitySide::Staff => BookingEvent::CancelledByStaff,
            FacilitySide::Closure => BookingEvent::CancelledByClosure,
        }
    }

    fn reason(self) -> CancelReason {
        match self {
            FacilitySide::Staff => CancelReason::Staff,
            FacilitySide::Closure => CancelReason::Closure,
        }
    }
}

/// A cancellation by the facility.
#[derive(Clone, Copy, Debug)]
pub struct FacilityCancellation<'a> {
    pub side: FacilitySide,
    /// The user who decided it (`None` for a job).
    pub actor: Option<i32>,
    /// Why, in words the holder reads (mailed and kept in the booking's history).
    pub reason: &'a str,
}

/// What happened to one booking of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Cancelled; `refund_yen` (all that was paid and not yet refunded) is committed to refunds.
    Cancelled { booking_id: i64, refund_yen: i64 },
    /// Left as it was: it had already ended or been used (`state`).
    Unchanged { booking_id: i64, state: String },
    /// No such booking.
    Missing { booking_id: i64 },
}

/// Cancel `booking_ids` for the facility inside the caller's write transaction, refunding each
/// in full (see the module docs). Bookings that cannot be cancelled any more are left alone and
/// reported, so a closure over a range skips what already ended. The ids are handled in
/// ascending order, so two such lists lock rows in the same order.
pub async fn cancel_in_full_within(
    txn: &impl ConnectionTrait,
    policy: &RefundPolicy,
    booking_ids: &[i64],
    how: FacilityCancellation<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<Outcome>, DbErr> {
    let mut ids = booking_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let history = match how.side {
        FacilitySide::Staff => format!("cancelled by staff: {}", how.reason),
        FacilitySide::Closure => format!("cancelled for a closure: {}", how.reason),
    };
    let mut outcomes = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(b) = lock_booking(txn, id).await? else {
            outcomes.push(Outcome::Missing { booking_id: id });
            continue;
        };
        let unchanged = || Outcome::Unchanged {
            booking_id: id,
            state: b.state.clone(),
        };
        let Ok(from) = b.state.parse::<BookingState>() else {
            outcomes.push(unchanged());
            continue;
        };
        let Ok(to) = transition(from, how.side.event()) else {
            outcomes.push(unchanged());
            continue;
        };
        let paid_yen = refundable_yen_within(txn, id).await?;
        let decision = policy.refund(paid_yen, now, b.starts_at, how.side.reason());
        let ending = Ending {
            from,
            to,
            actor: how.actor,
            reason: &history,
            refund_yen: Some(i32::try_from(decision.amount_yen).unwrap_or(i32::MAX)),
        };
        if !end_booking(txn, id, ending, now).await? {
            outcomes.push(unchanged());
            continue;
        }
        let refund_yen = schedule_refund_within(
            txn,
            id,
            decision.amount_yen,
            RefundReason::from(how.side.reason()),
            how.actor,
            now,
        )
        .await?;
        if let Some(holder) = holder_of(txn, &b).await? {
            let message = mail::booking_cancelled_by_facility(
                &holder.locale,
                id,
                &holder.place,
                &holder.when,
                how.reason,
                refund_yen,
            );
            mail::enqueue(txn, &holder.email, &holder.locale, message, now).await?;
        }
        tracing::info!(
            booking.id = id,
            refund.yen = refund_yen,
            "booking cancelled by the facility"
        );
        outcomes.push(Outcome::Cancelled {
            booking_id: id,
            refund_yen,
        });
    }
    Ok(outcomes)
}

/// Why a staff cancellation was refused.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("booking not found")]
    NotFound,
    #[error("only staff assigned to the booking's facility (or an administrator) may do this")]
    Forbidden,
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("a booking that is {0} cannot be cancelled")]
    NotCancellable(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<PaymentError> for CancelError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::Db(db) => CancelError::Db(db),
            PaymentError::NotFound => CancelError::NotFound,
            _ => CancelError::Forbidden,
        }
    }
}

/// Staff (assigned to the booking's facility; administrators anywhere) cancel a booking with a
/// reason: a full refund of what was paid, nothing for an unpaid booking; audited. The caller
/// makes the refund through the provider after this returns
/// (`payments::after_booking_ended`).
pub async fn cancel_by_staff(
    db: &DatabaseConnection,
    policy: &RefundPolicy,
    actor: (i32, Role),
    booking_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<CancelResponse, CancelError> {
    if actor.1 == Role::Resident {
        return Err(CancelError::Forbidden);
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(CancelError::InvalidInput {
            field: "reason".into(),
            message: format!(
                "say why the booking is cancelled, in 1–{MAX_REASON_CHARS} characters; the holder reads it"
            ),
        });
    }
    let txn = begin_write(db).await?;
    let b = lock_booking(&txn, booking_id)
        .await?
        .ok_or(CancelError::NotFound)?;
    let facility_id = crate::entities::room::Entity::find_by_id(b.room_id)
        .one(&txn)
        .await?
        .map(|r| r.facility_id)
        .ok_or(CancelError::NotFound)?;
    ensure_assigned(&txn, actor, facility_id).await?;
    let how = FacilityCancellation {
        side: FacilitySide::Staff,
        actor: Some(actor.0),
        reason,
    };
    let outcome = cancel_in_full_within(&txn, policy, &[booking_id], how, now).await?;
    let refund_yen = match outcome.as_slice() {
        [Outcome::Cancelled { refund_yen, .. }] => *refund_yen,
        [Outcome::Missing { .. }] => return Err(CancelError::NotFound),
        _ => return Err(CancelError::NotCancellable(b.state)),
    };
    audit::record(
        &txn,
        actor.0,
        "booking.cancel_by_staff",
        ("booking", Some(booking_id)),
        json!({"reason": reason, "refund_yen": refund_yen, "from_state": b.state}),
        now,
    )
    .await?;
    let booking = bookings::get_booking(&txn, b.user_id, booking_id)
        .await
        .map_err(|error| match error {
            BookingError::Db(db) => CancelError::Db(db),
            _ => CancelError::NotFound,
        })?;
    txn.commit().await?;
    Ok(CancelResponse {
        booking,
        refund_percent: 100,
        refund_yen,
    })
}
