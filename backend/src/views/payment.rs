//! Payment requests and responses: checkout, counter payments, the booking's ledger and the
//! daily reconciliation.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::csv::field as csv_field;
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

/// `POST /admin/bookings/{id}/cancel`: staff cancel a booking for the facility.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffCancelRequest {
    /// Why, in 1–200 characters: mailed to the holder and kept in the booking's history.
    pub reason: String,
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
    /// A counter refund: the staff member (user id) who handed the money back.
    pub handed_back_by: Option<i32>,
    /// A counter refund: when it was handed back.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub handed_back_at: Option<DateTime<FixedOffset>>,
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
    pub facility_name: String,
    pub date: NaiveDate,
    pub paid_yen: i64,
    pub refunded_yen: i64,
    pub net_yen: i64,
    pub by_provider: Vec<ProviderTotals>,
    pub payments: Vec<PaymentView>,
    pub refunds: Vec<RefundView>,
}

impl ReconciliationResponse {
    /// The column names of [`ReconciliationResponse::to_csv`].
    pub const CSV_HEADER: &'static str = "date,facility_id,facility_name,method,method_ja,payments,paid_yen,refunds,refunded_yen,net_yen,pending_refunds,pending_refund_yen";

    /// The report as CSV for a spreadsheet: UTF-8 with a byte order mark (so Excel reads the
    /// Japanese names), CRLF line ends, one row per payment method and a `total` row.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("\u{FEFF}");
        out.push_str(Self::CSV_HEADER);
        out.push_str("\r\n");
        let lead = format!(
            "{},{},{}",
            self.date,
            self.facility_id,
            csv_field(&self.facility_name)
        );
        for t in &self.by_provider {
            out.push_str(&format!(
                "{lead},{},{},{},{},{},{},{},{},{}\r\n",
                t.provider.code(),
                csv_field(t.provider.label_ja()),
                t.payments,
                t.paid_yen,
                t.refunds,
                t.refunded_yen,
                t.net_yen,
                t.pending_refunds,
                t.pending_refund_yen
            ));
        }
        let sum = |f: fn(&ProviderTotals) -> i64| self.by_provider.iter().map(f).sum::<i64>();
        out.push_str(&format!(
            "{lead},total,合計,{},{},{},{},{},{},{}\r\n",
            sum(|t| i64::from(t.payments)),
            self.paid_yen,
            sum(|t| i64::from(t.refunds)),
            self.refunded_yen,
            self.net_yen,
            sum(|t| i64::from(t.pending_refunds)),
            sum(|t| t.pending_refund_yen)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(provider: Provider, paid: i64, refunded: i64) -> ProviderTotals {
        ProviderTotals {
            provider,
            payments: 1,
            paid_yen: paid,
            refunds: u32::from(refunded > 0),
            refunded_yen: refunded,
            net_yen: paid - refunded,
            pending_refunds: 0,
            pending_refund_yen: 0,
        }
    }

    #[test]
    fn the_reconciliation_csv_has_a_bom_a_row_per_method_and_a_total() {
        let report = ReconciliationResponse {
            facility_id: 7,
            facility_name: "鶴見スポーツセンター, 本館".into(),
            date: NaiveDate::from_ymd_opt(2026, 12, 10).unwrap(),
            paid_yen: 5200,
            refunded_yen: 1000,
            net_yen: 4200,
            by_provider: vec![
                totals(Provider::Stripe, 4200, 0),
                totals(Provider::CounterCash, 1000, 1000),
            ],
            payments: Vec::new(),
            refunds: Vec::new(),
        };
        let csv = report.to_csv();
        assert!(csv.starts_with('\u{FEFF}'));
        let lines: Vec<&str> = csv.trim_start_matches('\u{FEFF}').split("\r\n").collect();
        assert_eq!(lines[0], ReconciliationResponse::CSV_HEADER);
        assert_eq!(
            lines[1],
            "2026-12-10,7,\"鶴見スポーツセンター, 本館\",stripe,クレジットカード等（オンライン）,1,4200,0,0,4200,0,0"
        );
        assert_eq!(
            lines[2],
            "2026-12-10,7,\"鶴見スポーツセンター, 本館\",counter_cash,現金（窓口）,1,1000,1,1000,0,0,0"
        );
        assert_eq!(
            lines[3],
            "2026-12-10,7,\"鶴見スポーツセンター, 本館\",total,合計,2,5200,1,1000,4200,0,0"
        );
        assert_eq!(lines[4], "", "the last row ends with CRLF");
    }
}
