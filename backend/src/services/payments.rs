//! The payment ledger and what payments do to bookings: checkout, recording a payment (online or
//! at the counter), refunds, provider webhooks, the daily reconciliation and receipts.
//!
//! The rules (`domain::payments`, `domain::booking::transition`) decide; this module writes.
//!
//! - **A booking is confirmed only in the transaction that records its payment.** The booking's
//!   row is locked first (PostgreSQL; SQLite writers are serial), its state read, and the change
//!   made with a conditional UPDATE (`state = 'awaiting_payment'`). The payment deadline job
//!   expires with the same condition, so a payment and an expiry racing end in exactly one
//!   outcome: confirmed, or expired with the payment refunded in full.
//! - **A payment for a booking that cannot take it** (cancelled, expired, already paid) is
//!   recorded as `returned` with a full refund in the same transaction; a partial unique index
//!   allows one `applied` payment per booking.
//! - **Refunds are written first, made after.** A refund row (`pending`, with its idempotency
//!   key) and the payment's `refunded_yen` (CHECK ≤ amount) change in the transaction that
//!   decides the refund; [`settle_refunds`] then calls the provider with that key after the
//!   commit, and `jobs::refunds` retries what is left pending. Counter payments are refunded at
//!   the counter: their refunds stay `pending` for staff.
//! - **Webhooks are idempotent by event id.** The event's row is inserted (`ON CONFLICT DO
//!   NOTHING`) in the transaction that applies it: a repeated delivery inserts nothing and
//!   changes nothing; a concurrent one waits for the first's commit (PostgreSQL's unique index,
//!   SQLite's single writer) and then finds the row.
//! - **A payment that does not match its booking** (amount or currency) is not applied: the event
//!   is kept with outcome `mismatch` and logged for a person to resolve.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use crate::db::begin_write;
use crate::domain::booking::{BookingEvent, BookingState, transition};
use crate::domain::calendar::{tokyo, tokyo_date, tokyo_instant};
use crate::domain::payments::{
    Arrival, AttemptState, Mismatch, Provider, RefundReason, RefundState, Refundable,
    allocate_refund, check_amount, checkout_expires_at, counter_receipt_number, on_arrival,
};
use crate::domain::roles::Role;
use crate::entities::{
    booking, booking_event, checkout_attempt, counter_refund_handover, facility, payment, refund,
    room, staff_assignment, user, webhook_event,
};
use crate::payments::{
    CheckoutRequest, PaymentProvider, Payments, ProviderError, RefundRequest,
    embedded::payment_id_for_session,
};
use crate::services::{audit, mail};
use crate::views::payment::{
    CheckoutResponse, CounterPaymentRequest, CounterPaymentResponse, LedgerResponse, PaymentView,
    ProviderTotals, ReconciliationResponse, RefundView,
};

/// Why a payment request was refused.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("booking not found")]
    NotFound,
    #[error("refund not found")]
    RefundNotFound,
    #[error("{0}")]
    NotPayable(String),
    /// The refund was made through the online provider: there is nothing to hand back.
    #[error("this refund goes back through the online payment provider, not at the counter")]
    NotACounterRefund,
    /// Already handed back (or failed): a refund is handed back once.
    #[error("this refund is {0}, not pending")]
    RefundNotPending(String),
    #[error("only staff assigned to the booking's facility (or an administrator) may do this")]
    Forbidden,
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error(transparent)]
    Mismatch(#[from] Mismatch),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn is_postgres(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() == DatabaseBackend::Postgres
}

/// The booking, its row locked for this transaction on PostgreSQL.
pub(crate) async fn lock_booking(
    txn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<booking::Model>, DbErr> {
    let mut query = booking::Entity::find_by_id(id);
    if is_postgres(txn) {
        query = query.lock_exclusive();
    }
    query.one(txn).await
}

fn state_of(b: &booking::Model) -> Result<BookingState, DbErr> {
    b.state
        .parse()
        .map_err(|_| DbErr::Custom(format!("booking {} has an unknown state", b.id)))
}

async fn record_event(
    db: &impl ConnectionTrait,
    booking_id: i64,
    actor: Option<i32>,
    from: BookingState,
    to: BookingState,
    reason: String,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    booking_event::Entity::insert(booking_event::ActiveModel {
        id: NotSet,
        booking_id: Set(booking_id),
        at: Set(at),
        actor_user_id: Set(actor),
        from_state: Set(Some(from.code().to_owned())),
        to_state: Set(to.code().to_owned()),
        reason: Set(reason),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Move a booking that is still awaiting payment to confirmed. False if it moved meanwhile.
async fn confirm_paid(txn: &impl ConnectionTrait, booking_id: i64) -> Result<bool, DbErr> {
    let to = transition(BookingState::AwaitingPayment, BookingEvent::Paid)
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let changed = booking::Entity::update_many()
        .col_expr(booking::Column::State, Expr::value(to.code()))
        .filter(booking::Column::Id.eq(booking_id))
        .filter(booking::Column::State.eq(BookingState::AwaitingPayment.code()))
        .exec(txn)
        .await?
        .rows_affected;
    Ok(changed == 1)
}

// ---------------------------------------------------------------------------------------------
// Checkout
// ---------------------------------------------------------------------------------------------

/// Open a checkout for one of the person's bookings: a checkout attempt is written, the provider
/// asked with the attempt's idempotency key (outside any transaction), and the answer recorded.
pub async fn start_checkout(
    db: &DatabaseConnection,
    payments: &Payments,
    user_id: i32,
    booking_id: i64,
    now: DateTime<Utc>,
) -> Result<CheckoutResponse, PaymentError> {
    let b = booking::Entity::find_by_id(booking_id)
        .filter(booking::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(PaymentError::NotFound)?;
    if state_of(&b)? != BookingState::AwaitingPayment || b.total_yen <= 0 {
        return Err(PaymentError::NotPayable(format!(
            "a booking that is {} has nothing to pay",
            b.state
        )));
    }
    let expires_at = checkout_expires_at(now, b.pay_by).ok_or_else(|| {
        PaymentError::NotPayable("the payment deadline of this booking has passed".into())
    })?;
    let key = format!("checkout-{booking_id}-{}", uuid::Uuid::new_v4().simple());
    let amount = i64::from(b.total_yen);
    let attempt = checkout_attempt::Entity::insert(checkout_attempt::ActiveModel {
        id: NotSet,
        booking_id: Set(booking_id),
        provider: Set(payments.kind().code().to_owned()),
        provider_session_id: Set(None),
        idempotency_key: Set(key.clone()),
        amount_yen: Set(amount),
        state: Set(AttemptState::Creating.code().to_owned()),
        checkout_url: Set(None),
        expires_at: Set(expires_at),
        created_at: Set(now),
        created_by: Set(Some(user_id)),
    })
    .exec_with_returning(db)
    .await?;
    let request = CheckoutRequest {
        booking_id,
        amount_yen: amount,
        description: format!("施設使用料（予約番号 {booking_id}）"),
        expires_at,
        idempotency_key: key,
    };
    let created = match payments.create_checkout(&request).await {
        Ok(created) => created,
        Err(error) => {
            tracing::warn!(booking.id = booking_id, error = %error, "checkout could not be opened");
            set_attempt_state(db, attempt.id, AttemptState::Failed).await?;
            return Err(error.into());
        }
    };
    checkout_attempt::Entity::update_many()
        .col_expr(
            checkout_attempt::Column::ProviderSessionId,
            Expr::value(created.session_id.clone()),
        )
        .col_expr(
            checkout_attempt::Column::State,
            Expr::value(AttemptState::Open.code()),
        )
        // The embedded page's link holds its secret token: only Stripe's hosted URL is kept.
        .col_expr(
            checkout_attempt::Column::CheckoutUrl,
            Expr::value(match payments {
                Payments::Stripe(_) => Some(created.url.clone()),
                Payments::Embedded(_) => None,
            }),
        )
        .filter(checkout_attempt::Column::Id.eq(attempt.id))
        .filter(checkout_attempt::Column::State.eq(AttemptState::Creating.code()))
        .exec(db)
        .await?;
    Ok(CheckoutResponse {
        checkout_url: created.url,
        expires_at: expires_at.with_timezone(&tokyo()),
        provider: payments.kind(),
        test_mode: payments.is_test_mode(),
        amount_yen: amount,
    })
}

async fn set_attempt_state(
    db: &impl ConnectionTrait,
    attempt_id: i64,
    state: AttemptState,
) -> Result<(), DbErr> {
    checkout_attempt::Entity::update_many()
        .col_expr(checkout_attempt::Column::State, Expr::value(state.code()))
        .filter(checkout_attempt::Column::Id.eq(attempt_id))
        .filter(
            checkout_attempt::Column::State
                .is_in([AttemptState::Creating.code(), AttemptState::Open.code()]),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// An embedded checkout page: the attempt and its booking, by the page's token.
pub struct EmbeddedCheckout {
    pub attempt: checkout_attempt::Model,
    pub booking: booking::Model,
    pub room: room::Model,
    pub facility: facility::Model,
}

/// The embedded checkout a page token stands for, if any.
pub async fn embedded_checkout(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<EmbeddedCheckout>, DbErr> {
    let session = crate::payments::embedded::session_id_for_token(token);
    let Some(attempt) = checkout_attempt::Entity::find()
        .filter(checkout_attempt::Column::ProviderSessionId.eq(session))
        .filter(checkout_attempt::Column::Provider.eq(Provider::Embedded.code()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(b) = booking::Entity::find_by_id(attempt.booking_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let (room, facility) = room_and_facility(db, b.room_id).await?;
    Ok(Some(EmbeddedCheckout {
        attempt,
        booking: b,
        room,
        facility,
    }))
}

async fn room_and_facility(
    db: &impl ConnectionTrait,
    room_id: i32,
) -> Result<(room::Model, facility::Model), DbErr> {
    let r = room::Entity::find_by_id(room_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("room".into()))?;
    let f = facility::Entity::find_by_id(r.facility_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("facility".into()))?;
    Ok((r, f))
}

/// What happened when a person finished an embedded checkout page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageOutcome {
    /// Paid; the booking is confirmed.
    Paid,
    /// Paid, but the booking had ended: the payment is refunded in full.
    Refunded,
    /// The page had already been used or had run out.
    Closed,
    /// The person abandoned the checkout.
    Abandoned,
}

/// The person pays on the embedded page: the same path as a Stripe payment.
pub async fn complete_embedded(
    db: &DatabaseConnection,
    payments: &Payments,
    token: &str,
    now: DateTime<Utc>,
) -> Result<PageOutcome, PaymentError> {
    let Some(page) = embedded_checkout(db, token).await? else {
        return Err(PaymentError::NotFound);
    };
    let session_id = page.attempt.provider_session_id.clone().unwrap_or_default();
    if page.attempt.state != AttemptState::Open.code() || page.attempt.expires_at <= now {
        return Ok(PageOutcome::Closed);
    }
    let txn = begin_write(db).await?;
    let recorded = record_online_payment_within(
        &txn,
        &Arrived {
            provider: Provider::Embedded,
            session_id: session_id.clone(),
            payment_id: payment_id_for_session(&session_id),
            amount_yen: page.attempt.amount_yen,
            currency: "jpy".into(),
        },
        payments.base_url(),
        now,
    )
    .await?;
    txn.commit().await?;
    let outcome = match recorded {
        Recorded::Confirmed { .. } => PageOutcome::Paid,
        Recorded::Returned { booking_id, .. } => {
            settle_refunds(db, payments, Some(booking_id), now).await?;
            PageOutcome::Refunded
        }
        _ => PageOutcome::Closed,
    };
    Ok(outcome)
}

/// The person abandons the embedded page: the attempt ends; the booking keeps waiting.
pub async fn abandon_embedded(db: &DatabaseConnection, token: &str) -> Result<(), PaymentError> {
    let Some(page) = embedded_checkout(db, token).await? else {
        return Err(PaymentError::NotFound);
    };
    set_attempt_state(db, page.attempt.id, AttemptState::Expired).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Recording a payment
// ---------------------------------------------------------------------------------------------

/// A payment reported by a provider.
#[derive(Clone, Debug)]
pub struct Arrived {
    pub provider: Provider,
    /// The checkout session it completes.
    pub session_id: String,
    /// The provider's payment id (Stripe's PaymentIntent).
    pub payment_id: String,
    pub amount_yen: i64,
    pub currency: String,
}

/// What recording a payment did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The booking is confirmed.
    Confirmed { booking_id: i64, payment_id: i64 },
    /// The booking could not take it: recorded and refunded in full (refund pending).
    Returned { booking_id: i64, payment_id: i64 },
    /// This payment (or session) is already in the ledger: nothing changed.
    AlreadyRecorded,
    /// No checkout attempt has this session id.
    UnknownSession,
    /// Amount or currency differ from the booking's: not applied; a person must resolve it.
    Mismatch(Mismatch),
}

impl Recorded {
    fn outcome(&self) -> &'static str {
        match self {
            Recorded::Confirmed { .. } => "confirmed",
            Recorded::Returned { .. } => "refunded_late_payment",
            Recorded::AlreadyRecorded => "already_recorded",
            Recorded::UnknownSession => "unknown_session",
            Recorded::Mismatch(_) => "mismatch",
        }
    }
}

/// Record an online payment inside the caller's write transaction (see the module docs).
/// `base_url` is this service's, for the receipt link in the mail that confirms the payment.
pub async fn record_online_payment_within(
    txn: &impl ConnectionTrait,
    arrived: &Arrived,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<Recorded, DbErr> {
    let Some(attempt) = checkout_attempt::Entity::find()
        .filter(checkout_attempt::Column::ProviderSessionId.eq(arrived.session_id.as_str()))
        .one(txn)
        .await?
    else {
        return Ok(Recorded::UnknownSession);
    };
    // Lock the booking before looking at the ledger: concurrent reports of one payment (or a
    // payment and the deadline job) are decided one after the other.
    let Some(b) = lock_booking(txn, attempt.booking_id).await? else {
        return Ok(Recorded::UnknownSession);
    };
    let known = payment::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(payment::Column::ProviderSessionId.eq(arrived.session_id.as_str()))
                .add(payment::Column::ProviderPaymentId.eq(arrived.payment_id.as_str())),
        )
        .one(txn)
        .await?;
    if known.is_some() {
        return Ok(Recorded::AlreadyRecorded);
    }
    let expected = attempt.amount_yen;
    if let Err(mismatch) = check_amount(arrived.amount_yen, &arrived.currency, expected)
        .and_then(|()| check_amount(expected, "jpy", i64::from(b.total_yen)))
    {
        tracing::error!(
            booking.id = b.id,
            payment.provider = arrived.provider.code(),
            error = %mismatch,
            "a payment does not match its booking; not applied, a person must resolve it"
        );
        return Ok(Recorded::Mismatch(mismatch));
    }
    let from = state_of(&b)?;
    let confirmed = on_arrival(from) == Arrival::Confirm && confirm_paid(txn, b.id).await?;
    let disposition = if confirmed { "applied" } else { "returned" };
    let saved = payment::Entity::insert(payment::ActiveModel {
        id: NotSet,
        booking_id: Set(b.id),
        provider: Set(arrived.provider.code().to_owned()),
        checkout_attempt_id: Set(Some(attempt.id)),
        provider_session_id: Set(Some(arrived.session_id.clone())),
        provider_payment_id: Set(Some(arrived.payment_id.clone())),
        amount_yen: Set(arrived.amount_yen),
        currency: Set("jpy".to_owned()),
        refunded_yen: Set(if confirmed { 0 } else { arrived.amount_yen }),
        disposition: Set(disposition.to_owned()),
        receipt_number: Set(None),
        paid_at: Set(now),
        created_at: Set(now),
        recorded_by: Set(None),
    })
    .exec_with_returning(txn)
    .await?;
    set_attempt_state(txn, attempt.id, AttemptState::Completed).await?;
    if confirmed {
        record_event(
            txn,
            b.id,
            None,
            from,
            BookingState::Confirmed,
            format!(
                "paid online ({}), {} yen",
                arrived.provider, arrived.amount_yen
            ),
            now,
        )
        .await?;
        mail_payment_confirmed(txn, &b, arrived.amount_yen, base_url, now).await?;
        tracing::info!(booking.id = b.id, payment.id = saved.id, "booking paid");
        return Ok(Recorded::Confirmed {
            booking_id: b.id,
            payment_id: saved.id,
        });
    }
    insert_refund(
        txn,
        saved.id,
        arrived.amount_yen,
        RefundReason::LatePayment,
        None,
        now,
    )
    .await?;
    record_event(
        txn,
        b.id,
        None,
        from,
        from,
        format!(
            "a payment of {} yen arrived for a booking that was {from}; refunded in full",
            arrived.amount_yen
        ),
        now,
    )
    .await?;
    tracing::warn!(
        booking.id = b.id,
        payment.id = saved.id,
        "late payment refunded in full"
    );
    Ok(Recorded::Returned {
        booking_id: b.id,
        payment_id: saved.id,
    })
}

/// A counter payment by staff (cash or terminal), with a receipt number; audited. The holder is
/// mailed the receipt link (`base_url` is this service's).
pub async fn record_counter_payment(
    db: &DatabaseConnection,
    actor: (i32, Role),
    booking_id: i64,
    request: &CounterPaymentRequest,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<CounterPaymentResponse, PaymentError> {
    if actor.1 == Role::Resident {
        return Err(PaymentError::Forbidden);
    }
    let provider = match request.method.as_str() {
        "cash" => Provider::CounterCash,
        "terminal" => Provider::CounterTerminal,
        _ => {
            return Err(PaymentError::InvalidInput {
                field: "method".into(),
                message: "`cash` or `terminal`".into(),
            });
        }
    };
    let txn = begin_write(db).await?;
    let b = lock_booking(&txn, booking_id)
        .await?
        .ok_or(PaymentError::NotFound)?;
    let (_, f) = room_and_facility(&txn, b.room_id).await?;
    ensure_assigned(&txn, actor, f.id).await?;
    let from = state_of(&b)?;
    if on_arrival(from) != Arrival::Confirm {
        return Err(PaymentError::NotPayable(format!(
            "a booking that is {from} cannot be paid"
        )));
    }
    check_amount(request.amount_yen, "jpy", i64::from(b.total_yen))?;
    if request.amount_yen <= 0 {
        return Err(PaymentError::NotPayable("this booking is free".into()));
    }
    if !confirm_paid(&txn, b.id).await? {
        return Err(PaymentError::NotPayable(
            "the booking changed; reload it".into(),
        ));
    }
    let receipt_number = counter_receipt_number(tokyo_date(now), b.id);
    let saved = payment::Entity::insert(payment::ActiveModel {
        id: NotSet,
        booking_id: Set(b.id),
        provider: Set(provider.code().to_owned()),
        checkout_attempt_id: Set(None),
        provider_session_id: Set(None),
        provider_payment_id: Set(None),
        amount_yen: Set(request.amount_yen),
        currency: Set("jpy".to_owned()),
        refunded_yen: Set(0),
        disposition: Set("applied".to_owned()),
        receipt_number: Set(Some(receipt_number.clone())),
        paid_at: Set(now),
        created_at: Set(now),
        recorded_by: Set(Some(actor.0)),
    })
    .exec_with_returning(&txn)
    .await?;
    record_event(
        &txn,
        b.id,
        Some(actor.0),
        from,
        BookingState::Confirmed,
        format!("paid at the counter ({provider}), receipt {receipt_number}"),
        now,
    )
    .await?;
    audit::record(
        &txn,
        actor.0,
        "payment.counter",
        ("booking", Some(b.id)),
        json!({"payment_id": saved.id, "provider": provider.code(), "amount_yen": saved.amount_yen, "receipt_number": receipt_number}),
        now,
    )
    .await?;
    mail_payment_confirmed(&txn, &b, saved.amount_yen, base_url, now).await?;
    txn.commit().await?;
    Ok(CounterPaymentResponse {
        payment: payment_view(saved, Vec::new()),
        booking_state: BookingState::Confirmed,
    })
}

/// Staff and managers act on the facilities they are assigned to; administrators everywhere.
pub(crate) async fn ensure_assigned(
    db: &impl ConnectionTrait,
    actor: (i32, Role),
    facility_id: i32,
) -> Result<(), PaymentError> {
    match actor.1 {
        Role::Admin => Ok(()),
        Role::Resident => Err(PaymentError::Forbidden),
        Role::Staff | Role::Manager => {
            let assigned = staff_assignment::Entity::find_by_id((actor.0, facility_id))
                .one(db)
                .await?
                .is_some();
            if assigned {
                Ok(())
            } else {
                Err(PaymentError::Forbidden)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Refunds
// ---------------------------------------------------------------------------------------------

async fn insert_refund(
    txn: &impl ConnectionTrait,
    payment_id: i64,
    amount_yen: i64,
    reason: RefundReason,
    requested_by: Option<i32>,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let saved = refund::Entity::insert(refund::ActiveModel {
        id: NotSet,
        payment_id: Set(payment_id),
        amount_yen: Set(amount_yen),
        reason: Set(reason.code().to_owned()),
        state: Set(RefundState::Pending.code().to_owned()),
        idempotency_key: Set(format!(
            "refund-{payment_id}-{}",
            uuid::Uuid::new_v4().simple()
        )),
        provider_refund_id: Set(None),
        failure: Set(None),
        attempts: Set(0),
        created_at: Set(now),
        completed_at: Set(None),
        requested_by: Set(requested_by),
    })
    .exec_with_returning(txn)
    .await?;
    Ok(saved.id)
}

/// What is left to refund of a booking's applied payments (paid less refunds committed).
pub async fn refundable_yen_within(
    txn: &impl ConnectionTrait,
    booking_id: i64,
) -> Result<i64, DbErr> {
    Ok(applied_payments(txn, booking_id)
        .await?
        .iter()
        .map(|p| std::cmp::max(p.amount_yen - p.refunded_yen, 0))
        .sum())
}

async fn applied_payments(
    db: &impl ConnectionTrait,
    booking_id: i64,
) -> Result<Vec<payment::Model>, DbErr> {
    payment::Entity::find()
        .filter(payment::Column::BookingId.eq(booking_id))
        .filter(payment::Column::Disposition.eq("applied"))
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await
}

/// Commit `amount_yen` of refunds for a booking inside the caller's transaction: spread over
/// its applied payments, each payment's `refunded_yen` raised with a conditional UPDATE (never
/// past its amount, also under a race), a pending refund row each. Returns the yen scheduled.
pub async fn schedule_refund_within(
    txn: &impl ConnectionTrait,
    booking_id: i64,
    amount_yen: i64,
    reason: RefundReason,
    requested_by: Option<i32>,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let payments = applied_payments(txn, booking_id).await?;
    let refundable: Vec<Refundable> = payments
        .iter()
        .map(|p| Refundable {
            payment_id: p.id,
            amount_yen: p.amount_yen,
            refunded_yen: p.refunded_yen,
        })
        .collect();
    let shares =
        allocate_refund(&refundable, amount_yen).map_err(|e| DbErr::Custom(e.to_string()))?;
    let mut scheduled = 0;
    for (payment_id, share) in shares {
        let raised = payment::Entity::update_many()
            .col_expr(
                payment::Column::RefundedYen,
                Expr::col(payment::Column::RefundedYen).add(share),
            )
            .filter(payment::Column::Id.eq(payment_id))
            .filter(
                Expr::col(payment::Column::RefundedYen)
                    .add(share)
                    .lte(Expr::col(payment::Column::AmountYen)),
            )
            .exec(txn)
            .await?
            .rows_affected;
        if raised != 1 {
            return Err(DbErr::Custom(format!(
                "payment {payment_id} has less left to refund than {share} yen"
            )));
        }
        insert_refund(txn, payment_id, share, reason, requested_by, now).await?;
        scheduled += share;
    }
    Ok(scheduled)
}

/// Make the pending refunds (of one booking, or all) through the provider, each with its
/// idempotency key, after their transaction committed. Refunds of counter payments are handed
/// back at the counter and are left for staff; refunds of another provider's payments (the
/// configuration changed) are left too. Returns how many succeeded.
pub async fn settle_refunds(
    db: &DatabaseConnection,
    payments: &Payments,
    booking_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let mut query = refund::Entity::find()
        .filter(refund::Column::State.eq(RefundState::Pending.code()))
        .order_by_asc(refund::Column::Id);
    if let Some(booking_id) = booking_id {
        let ids: Vec<i64> = payment::Entity::find()
            .select_only()
            .column(payment::Column::Id)
            .filter(payment::Column::BookingId.eq(booking_id))
            .into_tuple()
            .all(db)
            .await?;
        query = query.filter(refund::Column::PaymentId.is_in(ids));
    }
    let pending = query.limit(100).all(db).await?;
    let mut succeeded = 0;
    for r in pending {
        let Some(p) = payment::Entity::find_by_id(r.payment_id).one(db).await? else {
            continue;
        };
        let (Some(provider_payment_id), true) = (
            p.provider_payment_id.clone(),
            p.provider == payments.kind().code(),
        ) else {
            continue;
        };
        let request = RefundRequest {
            refund_id: r.id,
            payment_id: provider_payment_id,
            amount_yen: r.amount_yen,
            idempotency_key: r.idempotency_key.clone(),
        };
        match payments.refund(&request).await {
            Ok(created) => {
                let txn = begin_write(db).await?;
                let mut update = refund::Entity::update_many()
                    .col_expr(
                        refund::Column::ProviderRefundId,
                        Expr::value(created.provider_refund_id),
                    )
                    .col_expr(
                        refund::Column::Attempts,
                        Expr::col(refund::Column::Attempts).add(1),
                    );
                if created.succeeded {
                    update = update
                        .col_expr(
                            refund::Column::State,
                            Expr::value(RefundState::Succeeded.code()),
                        )
                        .col_expr(refund::Column::CompletedAt, Expr::value(now));
                }
                let changed = update
                    .filter(refund::Column::Id.eq(r.id))
                    .filter(refund::Column::State.eq(RefundState::Pending.code()))
                    .exec(&txn)
                    .await?
                    .rows_affected;
                // Mailed once, by whoever moved it to succeeded (this, or `charge.refunded`).
                if created.succeeded && changed == 1 {
                    mail_refund_made(&txn, &p, r.amount_yen, now).await?;
                    succeeded += 1;
                }
                txn.commit().await?;
            }
            Err(ProviderError::Refused(message)) => {
                tracing::error!(refund.id = r.id, error = %message, "the provider refused a refund; a person must resolve it");
                fail_refund(db, &r, &message).await?;
            }
            Err(error) => {
                tracing::warn!(refund.id = r.id, error = %error, "refund not made yet; will retry");
                refund::Entity::update_many()
                    .col_expr(
                        refund::Column::Attempts,
                        Expr::col(refund::Column::Attempts).add(1),
                    )
                    .col_expr(refund::Column::Failure, Expr::value(error.to_string()))
                    .filter(refund::Column::Id.eq(r.id))
                    .exec(db)
                    .await?;
            }
        }
    }
    Ok(succeeded)
}

/// A refund refused for good: marked failed, and its yen released from the payment.
async fn fail_refund(
    db: &DatabaseConnection,
    r: &refund::Model,
    message: &str,
) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    let changed = refund::Entity::update_many()
        .col_expr(
            refund::Column::State,
            Expr::value(RefundState::Failed.code()),
        )
        .col_expr(refund::Column::Failure, Expr::value(message.to_owned()))
        .filter(refund::Column::Id.eq(r.id))
        .filter(refund::Column::State.eq(RefundState::Pending.code()))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed == 1 {
        payment::Entity::update_many()
            .col_expr(
                payment::Column::RefundedYen,
                Expr::col(payment::Column::RefundedYen).sub(r.amount_yen),
            )
            .filter(payment::Column::Id.eq(r.payment_id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await
}

/// Staff hand back, at the counter, a pending refund of a payment taken at the counter (cash or
/// terminal): such refunds are never sent to the online provider. Who and when are recorded
/// (`counter_refund_handovers`, whose key allows one hand-back per refund), the refund becomes
/// `succeeded`, the action is audited and the holder mailed, in one transaction.
pub async fn hand_back_counter_refund(
    db: &DatabaseConnection,
    actor: (i32, Role),
    refund_id: i64,
    now: DateTime<Utc>,
) -> Result<RefundView, PaymentError> {
    if actor.1 == Role::Resident {
        return Err(PaymentError::Forbidden);
    }
    let txn = begin_write(db).await?;
    let r = refund::Entity::find_by_id(refund_id)
        .one(&txn)
        .await?
        .ok_or(PaymentError::RefundNotFound)?;
    let p = payment::Entity::find_by_id(r.payment_id)
        .one(&txn)
        .await?
        .ok_or(PaymentError::RefundNotFound)?;
    // The booking's lock orders this after a concurrent cancellation of the same booking.
    let b = lock_booking(&txn, p.booking_id)
        .await?
        .ok_or(PaymentError::RefundNotFound)?;
    let (_, f) = room_and_facility(&txn, b.room_id).await?;
    ensure_assigned(&txn, actor, f.id).await?;
    let at_counter = p
        .provider
        .parse::<Provider>()
        .is_ok_and(Provider::is_counter);
    if !at_counter {
        return Err(PaymentError::NotACounterRefund);
    }
    let changed = refund::Entity::update_many()
        .col_expr(
            refund::Column::State,
            Expr::value(RefundState::Succeeded.code()),
        )
        .col_expr(refund::Column::CompletedAt, Expr::value(now))
        .filter(refund::Column::Id.eq(r.id))
        .filter(refund::Column::State.eq(RefundState::Pending.code()))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed != 1 {
        // Read again: a hand-back a moment ago changed it after our first read.
        let now_state = refund::Entity::find_by_id(r.id)
            .one(&txn)
            .await?
            .map_or(r.state, |fresh| fresh.state);
        return Err(PaymentError::RefundNotPending(now_state));
    }
    counter_refund_handover::Entity::insert(counter_refund_handover::ActiveModel {
        refund_id: Set(r.id),
        handed_back_by: Set(actor.0),
        handed_back_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        actor.0,
        "refund.hand_back",
        ("booking", Some(b.id)),
        json!({"refund_id": r.id, "payment_id": p.id, "provider": p.provider, "amount_yen": r.amount_yen}),
        now,
    )
    .await?;
    mail_refund_made(&txn, &p, r.amount_yen, now).await?;
    let saved = refund::Entity::find_by_id(r.id)
        .one(&txn)
        .await?
        .ok_or(PaymentError::RefundNotFound)?;
    let handovers = handovers_of(&txn, [r.id]).await?;
    txn.commit().await?;
    Ok(refund_view(saved, &handovers))
}

// ---------------------------------------------------------------------------------------------
// Mails about payments (written to the outbox in the transaction that causes them)
// ---------------------------------------------------------------------------------------------

/// Where a mail about a booking goes, and how it names the booking.
pub(crate) struct Holder {
    pub email: String,
    pub locale: String,
    /// Facility and room.
    pub place: String,
    /// `2026-12-10 09:00–11:00`, Japan time.
    pub when: String,
}

/// The holder of a booking, for a mail about it; `None` once the account was deleted (it has no
/// address any more).
pub(crate) async fn holder_of(
    db: &impl ConnectionTrait,
    b: &booking::Model,
) -> Result<Option<Holder>, DbErr> {
    let Some(person) = user::Entity::find_by_id(b.user_id).one(db).await? else {
        return Ok(None);
    };
    if person.deleted_at.is_some() {
        return Ok(None);
    }
    let (r, f) = room_and_facility(db, b.room_id).await?;
    Ok(Some(Holder {
        email: person.email,
        locale: person.locale,
        place: format!("{} {}", f.name, r.name),
        when: format!(
            "{}–{}",
            b.starts_at.with_timezone(&tokyo()).format("%Y-%m-%d %H:%M"),
            b.ends_at.with_timezone(&tokyo()).format("%H:%M")
        ),
    }))
}

async fn mail_payment_confirmed(
    txn: &impl ConnectionTrait,
    b: &booking::Model,
    amount_yen: i64,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let Some(h) = holder_of(txn, b).await? else {
        return Ok(());
    };
    let link = format!(
        "{}/bookings/{}/receipt",
        base_url.trim_end_matches('/'),
        b.id
    );
    let message = mail::payment_confirmed(&h.locale, b.id, &h.place, &h.when, amount_yen, &link);
    mail::enqueue(txn, &h.email, &h.locale, message, now).await
}

async fn mail_refund_made(
    txn: &impl ConnectionTrait,
    p: &payment::Model,
    amount_yen: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let Some(b) = booking::Entity::find_by_id(p.booking_id).one(txn).await? else {
        return Ok(());
    };
    let Some(h) = holder_of(txn, &b).await? else {
        return Ok(());
    };
    let at_counter = p
        .provider
        .parse::<Provider>()
        .is_ok_and(Provider::is_counter);
    let message = mail::refund_made(&h.locale, b.id, amount_yen, at_counter);
    mail::enqueue(txn, &h.email, &h.locale, message, now).await
}

/// After a booking ended (cancelled or expired): end its open checkouts at the provider, so it
/// can no longer be paid, and make its pending refunds. Failures are logged; the refund job
/// retries, and a payment that still arrives is refunded in full.
pub async fn after_booking_ended(
    db: &DatabaseConnection,
    payments: &Payments,
    booking_id: i64,
    now: DateTime<Utc>,
) {
    if let Err(error) = expire_open_checkouts(db, payments, Some(booking_id)).await {
        tracing::warn!(booking.id = booking_id, error = %error, "open checkouts not ended");
    }
    if let Err(error) = settle_refunds(db, payments, Some(booking_id), now).await {
        tracing::warn!(booking.id = booking_id, error = %error, "refunds not made yet");
    }
}

/// End the open checkouts of bookings that can no longer be paid (of one booking, or all).
pub async fn expire_open_checkouts(
    db: &DatabaseConnection,
    payments: &Payments,
    booking_id: Option<i64>,
) -> Result<usize, PaymentError> {
    let mut query = checkout_attempt::Entity::find()
        .filter(checkout_attempt::Column::State.eq(AttemptState::Open.code()))
        .filter(checkout_attempt::Column::Provider.eq(payments.kind().code()));
    if let Some(id) = booking_id {
        query = query.filter(checkout_attempt::Column::BookingId.eq(id));
    }
    let open = query.limit(100).all(db).await?;
    let mut ended = 0;
    for attempt in open {
        let Some(b) = booking::Entity::find_by_id(attempt.booking_id)
            .one(db)
            .await?
        else {
            continue;
        };
        if state_of(&b)? == BookingState::AwaitingPayment {
            continue;
        }
        if let Some(session) = &attempt.provider_session_id {
            payments.expire_checkout(session).await?;
        }
        set_attempt_state(db, attempt.id, AttemptState::Expired).await?;
        ended += 1;
    }
    Ok(ended)
}

// ---------------------------------------------------------------------------------------------
// Stripe webhooks
// ---------------------------------------------------------------------------------------------

/// What a webhook delivery did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// `duplicate` for an event already processed; otherwise what processing did.
    pub outcome: String,
    /// A booking whose refunds should be made now.
    pub refund_booking: Option<i64>,
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// Apply one verified Stripe event (the signature is checked by the caller), once.
/// `base_url` is this service's, for links in the mails it causes.
pub async fn handle_stripe_event(
    db: &DatabaseConnection,
    payload: &[u8],
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<WebhookOutcome, PaymentError> {
    let event: Value = serde_json::from_slice(payload).map_err(|e| PaymentError::InvalidInput {
        field: "body".into(),
        message: format!("not a Stripe event: {e}"),
    })?;
    let (Some(event_id), Some(event_type)) = (text(&event, "id"), text(&event, "type")) else {
        return Err(PaymentError::InvalidInput {
            field: "body".into(),
            message: "a Stripe event has an id and a type".into(),
        });
    };
    let object = event
        .get("data")
        .and_then(|d| d.get("object"))
        .cloned()
        .unwrap_or(Value::Null);
    let txn = begin_write(db).await?;
    let inserted = webhook_event::Entity::insert(webhook_event::ActiveModel {
        event_id: Set(event_id.to_owned()),
        event_type: Set(event_type.to_owned()),
        outcome: Set("processing".to_owned()),
        received_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(webhook_event::Column::EventId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted != 1 {
        txn.commit().await?;
        return Ok(WebhookOutcome {
            outcome: "duplicate".into(),
            refund_booking: None,
        });
    }
    let mut refund_booking = None;
    let outcome: String = match event_type {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            // Konbini and other delayed methods complete the session unpaid; they are applied
            // at `async_payment_succeeded`.
            if text(&object, "payment_status") != Some("paid") {
                "awaiting_async_payment".into()
            } else {
                let arrived = Arrived {
                    provider: Provider::Stripe,
                    session_id: text(&object, "id").unwrap_or_default().to_owned(),
                    payment_id: object
                        .get("payment_intent")
                        .and_then(|pi| pi.as_str().or_else(|| text(pi, "id")))
                        .unwrap_or_default()
                        .to_owned(),
                    amount_yen: object
                        .get("amount_total")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    currency: text(&object, "currency").unwrap_or_default().to_owned(),
                };
                if arrived.payment_id.is_empty() {
                    "missing_payment_intent".into()
                } else {
                    let recorded =
                        record_online_payment_within(&txn, &arrived, base_url, now).await?;
                    if let Recorded::Returned { booking_id, .. } = recorded {
                        refund_booking = Some(booking_id);
                    }
                    recorded.outcome().into()
                }
            }
        }
        "checkout.session.async_payment_failed" | "checkout.session.expired" => {
            let state = if event_type.ends_with("failed") {
                AttemptState::Failed
            } else {
                AttemptState::Expired
            };
            let session = text(&object, "id").unwrap_or_default();
            match checkout_attempt::Entity::find()
                .filter(checkout_attempt::Column::ProviderSessionId.eq(session))
                .one(&txn)
                .await?
            {
                Some(attempt) => {
                    set_attempt_state(&txn, attempt.id, state).await?;
                    state.code().into()
                }
                None => "unknown_session".into(),
            }
        }
        "charge.refunded" => reconcile_charge_refunds(&txn, &object, now).await?,
        _ => "ignored".into(),
    };
    webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::Outcome, Expr::value(outcome.clone()))
        .filter(webhook_event::Column::EventId.eq(event_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(WebhookOutcome {
        outcome,
        refund_booking,
    })
}

/// `charge.refunded`: mark our refunds done, and record refunds made at Stripe directly (the
/// dashboard) so the ledger still accounts for every yen, never beyond the payment.
async fn reconcile_charge_refunds(
    txn: &impl ConnectionTrait,
    charge: &Value,
    now: DateTime<Utc>,
) -> Result<String, DbErr> {
    let Some(intent) = charge
        .get("payment_intent")
        .and_then(|pi| pi.as_str().or_else(|| text(pi, "id")))
    else {
        return Ok("missing_payment_intent".into());
    };
    let Some(p) = payment::Entity::find()
        .filter(payment::Column::ProviderPaymentId.eq(intent))
        .one(txn)
        .await?
    else {
        return Ok("unknown_payment".into());
    };
    let listed: Vec<Value> = charge
        .get("refunds")
        .and_then(|r| r.get("data"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut outcome = "refunds_reconciled";
    for item in listed {
        let (Some(refund_id), Some(amount)) = (
            text(&item, "id"),
            item.get("amount").and_then(Value::as_i64),
        ) else {
            continue;
        };
        let done = text(&item, "status") == Some("succeeded");
        let ours: Option<i64> = item
            .get("metadata")
            .and_then(|m| text(m, "yoyaku_refund_id"))
            .and_then(|id| id.parse().ok());
        let existing = match ours {
            Some(id) => refund::Entity::find_by_id(id).one(txn).await?,
            None => {
                refund::Entity::find()
                    .filter(refund::Column::ProviderRefundId.eq(refund_id))
                    .one(txn)
                    .await?
            }
        };
        if let Some(r) = existing {
            if done && r.state == RefundState::Pending.code() {
                let changed = refund::Entity::update_many()
                    .col_expr(
                        refund::Column::State,
                        Expr::value(RefundState::Succeeded.code()),
                    )
                    .col_expr(
                        refund::Column::ProviderRefundId,
                        Expr::value(refund_id.to_owned()),
                    )
                    .col_expr(refund::Column::CompletedAt, Expr::value(now))
                    .filter(refund::Column::Id.eq(r.id))
                    .filter(refund::Column::State.eq(RefundState::Pending.code()))
                    .exec(txn)
                    .await?
                    .rows_affected;
                if changed == 1 {
                    mail_refund_made(txn, &p, r.amount_yen, now).await?;
                }
            }
            continue;
        }
        // A refund made at Stripe directly.
        let raised = payment::Entity::update_many()
            .col_expr(
                payment::Column::RefundedYen,
                Expr::col(payment::Column::RefundedYen).add(amount),
            )
            .filter(payment::Column::Id.eq(p.id))
            .filter(
                Expr::col(payment::Column::RefundedYen)
                    .add(amount)
                    .lte(Expr::col(payment::Column::AmountYen)),
            )
            .exec(txn)
            .await?
            .rows_affected;
        if raised != 1 {
            tracing::error!(
                payment.id = p.id,
                "Stripe reports refunds beyond what the ledger can give back; a person must resolve it"
            );
            outcome = "mismatch";
            continue;
        }
        refund::Entity::insert(refund::ActiveModel {
            id: NotSet,
            payment_id: Set(p.id),
            amount_yen: Set(amount),
            reason: Set(RefundReason::External.code().to_owned()),
            state: Set(if done {
                RefundState::Succeeded
            } else {
                RefundState::Pending
            }
            .code()
            .to_owned()),
            idempotency_key: Set(format!("stripe-{refund_id}")),
            provider_refund_id: Set(Some(refund_id.to_owned())),
            failure: Set(None),
            attempts: Set(0),
            created_at: Set(now),
            completed_at: Set(done.then_some(now)),
            requested_by: Set(None),
        })
        .exec_without_returning(txn)
        .await?;
        if done {
            mail_refund_made(txn, &p, amount, now).await?;
        }
    }
    Ok(outcome.into())
}

// ---------------------------------------------------------------------------------------------
// Reading the ledger
// ---------------------------------------------------------------------------------------------

/// Who handed back which of these refunds at the counter.
async fn handovers_of(
    db: &impl ConnectionTrait,
    refund_ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, counter_refund_handover::Model>, DbErr> {
    Ok(counter_refund_handover::Entity::find()
        .filter(counter_refund_handover::Column::RefundId.is_in(refund_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.refund_id, h))
        .collect())
}

fn refund_view(
    r: refund::Model,
    handovers: &HashMap<i64, counter_refund_handover::Model>,
) -> RefundView {
    let handover = handovers.get(&r.id);
    RefundView {
        handed_back_by: handover.map(|h| h.handed_back_by),
        handed_back_at: handover.map(|h| h.handed_back_at.with_timezone(&tokyo())),
        id: r.id,
        payment_id: r.payment_id,
        amount_yen: r.amount_yen,
        reason: r.reason.parse().unwrap_or(RefundReason::External),
        state: r.state.parse().unwrap_or(RefundState::Pending),
        provider_refund_id: r.provider_refund_id,
        created_at: r.created_at.with_timezone(&tokyo()),
        completed_at: r.completed_at.map(|t| t.with_timezone(&tokyo())),
    }
}

fn payment_view(p: payment::Model, refunds: Vec<RefundView>) -> PaymentView {
    PaymentView {
        id: p.id,
        booking_id: p.booking_id,
        provider: p.provider.parse().unwrap_or(Provider::Embedded),
        provider_payment_id: p.provider_payment_id,
        provider_session_id: p.provider_session_id,
        amount_yen: p.amount_yen,
        refunded_yen: p.refunded_yen,
        applied: p.disposition == "applied",
        receipt_number: p.receipt_number,
        paid_at: p.paid_at.with_timezone(&tokyo()),
        refunds,
    }
}

/// The ledger entries of `payments`, each with its refunds (and who handed back counter ones).
pub(crate) async fn views_of(
    db: &impl ConnectionTrait,
    payments: Vec<payment::Model>,
) -> Result<Vec<PaymentView>, DbErr> {
    let ids: Vec<i64> = payments.iter().map(|p| p.id).collect();
    let mut refunds: HashMap<i64, Vec<RefundView>> = HashMap::new();
    let rows = refund::Entity::find()
        .filter(refund::Column::PaymentId.is_in(ids))
        .order_by_asc(refund::Column::Id)
        .all(db)
        .await?;
    let handovers = handovers_of(db, rows.iter().map(|r| r.id)).await?;
    for r in rows {
        refunds
            .entry(r.payment_id)
            .or_default()
            .push(refund_view(r, &handovers));
    }
    Ok(payments
        .into_iter()
        .map(|p| {
            let mine = refunds.remove(&p.id).unwrap_or_default();
            payment_view(p, mine)
        })
        .collect())
}

/// The payments and refunds of one of the person's bookings.
pub async fn booking_ledger(
    db: &DatabaseConnection,
    user_id: i32,
    booking_id: i64,
) -> Result<LedgerResponse, PaymentError> {
    let b = booking::Entity::find_by_id(booking_id)
        .filter(booking::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(PaymentError::NotFound)?;
    let payments = payment::Entity::find()
        .filter(payment::Column::BookingId.eq(b.id))
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await?;
    let items = views_of(db, payments).await?;
    let paid_yen = items
        .iter()
        .filter(|p| p.applied)
        .map(|p| p.amount_yen)
        .sum();
    let refunded_yen = items
        .iter()
        .flat_map(|p| p.refunds.iter())
        .filter(|r| r.state != RefundState::Failed)
        .map(|r| r.amount_yen)
        .sum();
    Ok(LedgerResponse {
        booking_id: b.id,
        booking_state: b.state.parse().unwrap_or(BookingState::Cancelled),
        total_yen: i64::from(b.total_yen),
        paid_yen,
        refunded_yen,
        payments: items,
    })
}

/// Everything a receipt (領収書) shows: the booking's applied payment, the room and facility.
pub struct Receipt {
    pub booking: booking::Model,
    pub payment: payment::Model,
    pub room: room::Model,
    pub facility: facility::Model,
    pub payer_name: String,
}

/// The receipt of one of the person's paid bookings, or `None` if it has no applied payment.
pub async fn receipt(
    db: &DatabaseConnection,
    user_id: i32,
    booking_id: i64,
) -> Result<Option<Receipt>, DbErr> {
    let Some(b) = booking::Entity::find_by_id(booking_id)
        .filter(booking::Column::UserId.eq(user_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(p) = applied_payments(db, b.id).await?.into_iter().next() else {
        return Ok(None);
    };
    let (r, f) = room_and_facility(db, b.room_id).await?;
    // A group's treasurer needs the group's name on it; a person's, their own.
    let group_name = crate::entities::group_booking::Entity::find_by_id(b.id)
        .one(db)
        .await?;
    let payer_name = match group_name {
        Some(g) => crate::entities::group_registration::Entity::find_by_id(g.group_id)
            .one(db)
            .await?
            .map(|g| g.name),
        None => None,
    };
    let payer_name = match payer_name {
        Some(name) => name,
        None => crate::entities::user::Entity::find_by_id(b.user_id)
            .one(db)
            .await?
            .map(|u| u.display_name)
            .unwrap_or_default(),
    };
    Ok(Some(Receipt {
        booking: b,
        payment: p,
        room: r,
        facility: f,
        payer_name,
    }))
}

/// The day's payments and refunds at one facility, by provider (Japan time, `date` 00:00 to
/// the next day's 00:00). Payments count when paid; refunds when the provider confirmed them,
/// and pending ones are listed apart (counter refunds wait there for staff).
pub async fn daily_reconciliation(
    db: &DatabaseConnection,
    actor: (i32, Role),
    facility_id: i32,
    date: NaiveDate,
) -> Result<ReconciliationResponse, PaymentError> {
    if actor.1 == Role::Resident {
        return Err(PaymentError::Forbidden);
    }
    let f = facility::Entity::find_by_id(facility_id)
        .one(db)
        .await?
        .ok_or(PaymentError::NotFound)?;
    ensure_assigned(db, actor, f.id).await?;
    let from = tokyo_instant(date, 0);
    let to = from + Duration::days(1);
    let rooms: Vec<i32> = room::Entity::find()
        .select_only()
        .column(room::Column::Id)
        .filter(room::Column::FacilityId.eq(f.id))
        .into_tuple()
        .all(db)
        .await?;
    let bookings_here = |ids: Vec<i64>| {
        booking::Entity::find()
            .select_only()
            .column(booking::Column::Id)
            .filter(booking::Column::Id.is_in(ids))
            .filter(booking::Column::RoomId.is_in(rooms.clone()))
            .into_tuple::<i64>()
            .all(db)
    };
    let paid = payment::Entity::find()
        .filter(payment::Column::PaidAt.gte(from))
        .filter(payment::Column::PaidAt.lt(to))
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await?;
    let here: std::collections::HashSet<i64> =
        bookings_here(paid.iter().map(|p| p.booking_id).collect())
            .await?
            .into_iter()
            .collect();
    let paid: Vec<payment::Model> = paid
        .into_iter()
        .filter(|p| here.contains(&p.booking_id))
        .collect();
    let refunds = refund::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(
                    sea_orm::Condition::all()
                        .add(refund::Column::CompletedAt.gte(from))
                        .add(refund::Column::CompletedAt.lt(to)),
                )
                .add(refund::Column::State.eq(RefundState::Pending.code())),
        )
        .order_by_asc(refund::Column::Id)
        .all(db)
        .await?;
    let refunded_payments: HashMap<i64, payment::Model> = payment::Entity::find()
        .filter(payment::Column::Id.is_in(refunds.iter().map(|r| r.payment_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let here_refunds: std::collections::HashSet<i64> =
        bookings_here(refunded_payments.values().map(|p| p.booking_id).collect())
            .await?
            .into_iter()
            .collect();
    let mut totals: std::collections::BTreeMap<&'static str, ProviderTotals> =
        std::collections::BTreeMap::new();
    let blank = |provider: Provider| ProviderTotals {
        provider,
        payments: 0,
        paid_yen: 0,
        refunds: 0,
        refunded_yen: 0,
        net_yen: 0,
        pending_refunds: 0,
        pending_refund_yen: 0,
    };
    for p in &paid {
        let provider: Provider = p.provider.parse().unwrap_or(Provider::Embedded);
        let t = totals
            .entry(provider.code())
            .or_insert_with(|| blank(provider));
        t.payments += 1;
        t.paid_yen += p.amount_yen;
    }
    let handovers = handovers_of(db, refunds.iter().map(|r| r.id)).await?;
    let mut refund_views = Vec::new();
    for r in refunds {
        let Some(p) = refunded_payments.get(&r.payment_id) else {
            continue;
        };
        if !here_refunds.contains(&p.booking_id) {
            continue;
        }
        let provider: Provider = p.provider.parse().unwrap_or(Provider::Embedded);
        let t = totals
            .entry(provider.code())
            .or_insert_with(|| blank(provider));
        if r.state == RefundState::Succeeded.code() {
            t.refunds += 1;
            t.refunded_yen += r.amount_yen;
        } else if r.state == RefundState::Pending.code() {
            t.pending_refunds += 1;
            t.pending_refund_yen += r.amount_yen;
        }
        refund_views.push(refund_view(r, &handovers));
    }
    let mut by_provider: Vec<ProviderTotals> = totals.into_values().collect();
    for t in &mut by_provider {
        t.net_yen = t.paid_yen - t.refunded_yen;
    }
    let paid_yen = by_provider.iter().map(|t| t.paid_yen).sum();
    let refunded_yen = by_provider.iter().map(|t| t.refunded_yen).sum();
    Ok(ReconciliationResponse {
        facility_id: f.id,
        facility_name: f.name,
        date,
        paid_yen,
        refunded_yen,
        net_yen: paid_yen - refunded_yen,
        by_provider,
        payments: views_of(db, paid).await?,
        refunds: refund_views,
    })
}
