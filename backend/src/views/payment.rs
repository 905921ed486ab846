//! Payment requests and responses: checkout, counter payments, the booking's ledger and the
//! daily reconciliation.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::booking::BookingState;
use crate::domain::payments::{Provider, RefundReason, RefundState};

/// Where to send the payer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutResponse {
    /// Stripe's hosted checkout, or the embedded test-mode page.
    pub checkout_url: String,
    /// The checkout's own end (the booking's `pay_by`, clamped to 30 min – 24 h for Stripe).
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<FixedOffset>,
    pub provider: Provider,
    /// True with the embedded provider: no real money moves.
    pub test_mode: bool,
    pub amount_yen: i64,
}

/// `POST /admin/bookings/{id}/counter-payment`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterPaymentRequest {
    /// `cash` or `terminal`.
    pub method: String,
    /// What was taken: must be the booking's `total_yen`.
    pub amount_yen: i64,
}

/// A refund of a payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub id: i64,
    pub payment_id: i64,
    pub amount_yen: i64,
    pub reason: RefundReason,
    /// `pending` until the provider confirms it (counter refunds: until staff hand it back).
    pub state: RefundState,
    pub provider_refund_id: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<FixedOffset>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<DateTime<FixedOffset>>,
}

/// A payment in the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: i64,
    pub booking_id: i64,
    pub provider: Provider,
    /// Stripe's PaymentIntent id (or the embedded provider's).
    pub provider_payment_id: Option<String>,
    /// Stripe's Checkout Session id (or the embedded provider's).
    pub provider_session_id: Option<String>,
    pub amount_yen: i64,
    /// Committed to refunds so far.
    pub refunded_yen: i64,
    /// True if it paid the booking; false if it arrived after the booking ended and was
    /// refunded in full.
    pub applied: bool,
    /// 領収番号 of a counter payment.
    pub receipt_number: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub paid_at: DateTime<FixedOffset>,
    pub refunds: Vec<RefundView>,
}

/// The result of a counter payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CounterPaymentResponse {
    pub payment: PaymentView,
    pub booking_state: BookingState,
}

/// A booking's payments and refunds.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerResponse {
    pub booking_id: i64,
    pub booking_state: BookingState,
    pub total_yen: i64,
    /// Applied payments.
    pub paid_yen: i64,
    /// Refunds made or pending (not failed).
    pub refunded_yen: i64,
    pub payments: Vec<PaymentView>,
}

/// One provider's figures in a day's reconciliation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderTotals {
    pub provider: Provider,
    pub payments: u32,
    pub paid_yen: i64,
    /// Refunds the provider confirmed that day.
    pub refunds: u32,
    pub refunded_yen: i64,
    /// `paid_yen - refunded_yen`.
    pub net_yen: i64,
    /// Refunds still pending (any day).
    pub pending_refunds: u32,
    pub pending_refund_yen: i64,
}

/// A facility's payments and refunds on one day (Japan time).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationResponse {
    pub facility_id: i32,
    pub date: NaiveDate,
    pub paid_yen: i64,
    pub refunded_yen: i64,
    pub net_yen: i64,
    pub by_provider: Vec<ProviderTotals>,
    pub payments: Vec<PaymentView>,
    pub refunds: Vec<RefundView>,
}
