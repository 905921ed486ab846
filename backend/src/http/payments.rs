//! Payments at the HTTP edge: `POST /bookings/{id}/checkout`, the booking's ledger, the Stripe
//! webhook, counter payments, counter refunds handed back, cancellation by staff with a full
//! refund, and the daily reconciliation (JSON or CSV); the embedded provider's
//! checkout page, the return pages and the printable receipt (HTML).

use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::bookings::BookingIdParam;
use super::error::{AppError, ErrorResponse, FieldError, codes};
use super::extract::{AuthUser, ValidJson, ValidPath, ValidQuery};
use crate::domain::calendar::tokyo;
use crate::domain::payments::Provider;
use crate::payments::{ProviderError, signature, webhook_secrets};
use crate::services::cancellations::{self, CancelError};
use crate::services::payments::{self, PageOutcome, PaymentError};
use crate::state::AppState;
use crate::views::booking::CancelResponse;
use crate::views::payment::{
    CheckoutResponse, CounterPaymentRequest, CounterPaymentResponse, LedgerResponse,
    ReconciliationResponse, RefundView, StaffCancelRequest,
};

impl From<PaymentError> for AppError {
    fn from(error: PaymentError) -> Self {
        let message = error.to_string();
        match error {
            PaymentError::NotFound => AppError::not_found("booking"),
            PaymentError::RefundNotFound => AppError::not_found("refund"),
            PaymentError::NotACounterRefund => {
                AppError::client(StatusCode::CONFLICT, codes::NOT_A_COUNTER_REFUND, message)
            }
            PaymentError::RefundNotPending(_) => {
                AppError::client(StatusCode::CONFLICT, codes::REFUND_NOT_PENDING, message)
            }
            PaymentError::NotPayable(_) => {
                AppError::client(StatusCode::CONFLICT, codes::BOOKING_NOT_PAYABLE, message)
            }
            PaymentError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            PaymentError::InvalidInput { field, message } => {
                AppError::invalid_field(field, message)
            }
            PaymentError::Mismatch(_) => AppError::Client {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: codes::AMOUNT_MISMATCH,
                message: message.clone(),
                fields: vec![FieldError {
                    field: "amount_yen".into(),
                    message,
                }],
            },
            PaymentError::Provider(ProviderError::Config(detail)) => {
                AppError::Internal(anyhow::anyhow!("payment settings: {detail}"))
            }
            PaymentError::Provider(_) => AppError::client(
                StatusCode::BAD_GATEWAY,
                codes::PAYMENT_PROVIDER_UNAVAILABLE,
                "the payment service could not be reached; please try again in a moment",
            ),
            PaymentError::Db(db) => db.into(),
        }
    }
}

/// Pay for one of my bookings: opens a checkout (Stripe Checkout, or the embedded test-mode
/// page when no Stripe key is configured) and says where to go. Each call opens a new one; a
/// second payment for the same booking is refunded in full.
#[utoipa::path(
    post, path = "/api/v1/bookings/{id}/checkout", tag = "payments",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = CheckoutResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "`booking_not_payable`: not awaiting payment, free, or past `pay_by`", body = ErrorResponse),
        (status = 502, description = "`payment_provider_unavailable`", body = ErrorResponse),
    )
)]
pub async fn create_checkout(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(BookingIdParam { id }): ValidPath<BookingIdParam>,
) -> Result<Json<CheckoutResponse>, AppError> {
    Ok(Json(
        payments::start_checkout(&state.db, &state.payments, user.id, id, Utc::now()).await?,
    ))
}

/// The payments and refunds of one of my bookings.
#[utoipa::path(
    get, path = "/api/v1/bookings/{id}/payments", tag = "payments",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = LedgerResponse), (status = 404, body = ErrorResponse))
)]
pub async fn booking_payments(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(BookingIdParam { id }): ValidPath<BookingIdParam>,
) -> Result<Json<LedgerResponse>, AppError> {
    Ok(Json(
        payments::booking_ledger(&state.db, user.id, id).await?,
    ))
}

/// Stripe's webhook. The `Stripe-Signature` header is checked against the raw body
/// (HMAC-SHA256, 5-minute tolerance, any `v1` against any configured secret); a bad one is 400
/// `invalid_signature`. Each event id is applied once: a repeated delivery answers 200
/// `duplicate`. Unknown event types are acknowledged and ignored.
#[utoipa::path(
    post, path = "/api/v1/payments/stripe/webhook", tag = "payments",
    params(("Stripe-Signature" = String, Header)),
    request_body(content = String, content_type = "application/json", description = "A Stripe event"),
    responses(
        (status = 200, description = "`{\"received\": true, \"outcome\": …}`"),
        (status = 400, description = "`invalid_signature`, or `invalid_input` for a body that is not an event", body = ErrorResponse),
    )
)]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let now = Utc::now();
    if let Err(error) = signature::verify(
        header,
        &body,
        &webhook_secrets(&state.settings),
        now.timestamp(),
    ) {
        tracing::warn!(error = %error, "webhook refused");
        return Err(AppError::client(
            StatusCode::BAD_REQUEST,
            codes::INVALID_SIGNATURE,
            error.to_string(),
        ));
    }
    let outcome =
        payments::handle_stripe_event(&state.db, &body, state.payments.base_url(), now).await?;
    if let Some(booking_id) = outcome.refund_booking {
        payments::after_booking_ended(&state.db, &state.payments, booking_id, now).await;
    }
    Ok(Json(json!({"received": true, "outcome": outcome.outcome})).into_response())
}

/// Record a payment taken at the counter (cash or card terminal) for a booking awaiting
/// payment at a facility I am assigned to (administrators: any). The booking is confirmed and
/// the receipt number returned; audited.
#[utoipa::path(
    post, path = "/api/v1/admin/bookings/{id}/counter-payment", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = CounterPaymentRequest,
    responses(
        (status = 201, body = CounterPaymentResponse),
        (status = 403, description = "`forbidden`: a resident, or staff not assigned to the facility", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "`booking_not_payable`", body = ErrorResponse),
        (status = 422, description = "`amount_mismatch`: not the booking's total", body = ErrorResponse),
    )
)]
pub async fn record_counter_payment(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(BookingIdParam { id }): ValidPath<BookingIdParam>,
    ValidJson(request): ValidJson<CounterPaymentRequest>,
) -> Result<(StatusCode, Json<CounterPaymentResponse>), AppError> {
    let recorded = payments::record_counter_payment(
        &state.db,
        (user.id, user.role),
        id,
        &request,
        state.payments.base_url(),
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}

/// A facility in the path.
#[derive(Debug, Deserialize)]
pub struct FacilityIdParam {
    pub id: i32,
}

/// How the reconciliation is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    /// UTF-8 with a byte order mark, for Excel.
    Csv,
}

/// `?date=&format=` of the reconciliation.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationQuery {
    /// `YYYY-MM-DD` in Japan time; today when left out.
    pub date: Option<NaiveDate>,
    /// `json` (the default) or `csv`.
    pub format: Option<ReportFormat>,
}

/// A facility's payments and refunds on one day, by payment method: count, yen, refunds and
/// net. `?format=csv` sends the same figures as a CSV file (UTF-8 with a BOM, one row per method
/// and a total). Staff and managers of the facility, and administrators.
#[utoipa::path(
    get, path = "/api/v1/admin/facilities/{id}/reconciliation", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path), ReconciliationQuery),
    responses(
        (status = 200, body = ReconciliationResponse, description = "JSON, or `text/csv` with `format=csv`"),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    )
)]
pub async fn daily_reconciliation(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(FacilityIdParam { id }): ValidPath<FacilityIdParam>,
    ValidQuery(query): ValidQuery<ReconciliationQuery>,
) -> Result<Response, AppError> {
    let date = query
        .date
        .unwrap_or_else(|| crate::domain::calendar::tokyo_date(Utc::now()));
    let report = payments::daily_reconciliation(&state.db, (user.id, user.role), id, date).await?;
    if query.format.unwrap_or_default() == ReportFormat::Json {
        return Ok(Json(report).into_response());
    }
    let disposition = format!(
        "attachment; filename=\"reconciliation-{}-{}.csv\"",
        report.facility_id, report.date
    );
    let mut response = report.to_csv().into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&disposition) {
        headers.insert(axum::http::header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// A refund in the path.
#[derive(Debug, Deserialize)]
pub struct RefundIdParam {
    pub id: i64,
}

/// Record that a pending refund of a counter payment (cash or terminal) was handed back at the
/// counter, by me, now. Staff and managers of the booking's facility, and administrators;
/// audited, and the holder is mailed. Online refunds go through the provider and cannot be
/// handed back.
#[utoipa::path(
    post, path = "/api/v1/admin/refunds/{id}/hand-back", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = RefundView),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "`refund_not_pending` (already handed back or failed), or `not_a_counter_refund`", body = ErrorResponse),
    )
)]
pub async fn hand_back_refund(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(RefundIdParam { id }): ValidPath<RefundIdParam>,
) -> Result<Json<RefundView>, AppError> {
    Ok(Json(
        payments::hand_back_counter_refund(&state.db, (user.id, user.role), id, Utc::now()).await?,
    ))
}

impl From<CancelError> for AppError {
    fn from(error: CancelError) -> Self {
        let message = error.to_string();
        match error {
            CancelError::NotFound => AppError::not_found("booking"),
            CancelError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            CancelError::InvalidInput { field, message } => AppError::invalid_field(field, message),
            CancelError::NotCancellable(_) => AppError::client(
                StatusCode::CONFLICT,
                codes::BOOKING_NOT_CANCELLABLE,
                message,
            ),
            CancelError::Db(db) => db.into(),
        }
    }
}

/// Cancel a booking for the facility, with a reason the holder is mailed: whatever was paid is
/// refunded in full (through the online provider; a counter payment waits to be handed back),
/// an unpaid booking is simply cancelled, and its slots are free at once. Staff and managers of
/// the booking's facility, and administrators; audited.
#[utoipa::path(
    post, path = "/api/v1/admin/bookings/{id}/cancel", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = StaffCancelRequest,
    responses(
        (status = 200, body = CancelResponse),
        (status = 400, description = "`invalid_input`: `reason` missing, blank or too long", body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "`booking_not_cancellable` (already cancelled, expired or used)", body = ErrorResponse),
    )
)]
pub async fn cancel_booking_by_staff(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(BookingIdParam { id }): ValidPath<BookingIdParam>,
    ValidJson(request): ValidJson<StaffCancelRequest>,
) -> Result<Json<CancelResponse>, AppError> {
    let now = Utc::now();
    let cancelled = cancellations::cancel_by_staff(
        &state.db,
        &state.booking_rules().refunds,
        (user.id, user.role),
        id,
        &request.reason,
        now,
    )
    .await?;
    // After the commit: end open checkouts and give the money back through the provider.
    payments::after_booking_ended(&state.db, &state.payments, id, now).await;
    Ok(Json(cancelled))
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

fn render(page: impl Template, status: StatusCode) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "template failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// ¥ amounts with thousands separators: 12,340.
pub fn yen(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if amount < 0 { format!("-{out}") } else { out }
}

fn when(starts: chrono::DateTime<Utc>, ends: chrono::DateTime<Utc>) -> String {
    format!(
        "{}–{}",
        starts.with_timezone(&tokyo()).format("%Y-%m-%d %H:%M"),
        ends.with_timezone(&tokyo()).format("%H:%M")
    )
}

/// The embedded provider's checkout page (always test mode).
#[derive(Template)]
#[template(path = "checkout.html")]
pub struct CheckoutPage {
    pub token: String,
    pub booking_id: i64,
    pub facility_name: String,
    pub room_name: String,
    pub when: String,
    pub expires: String,
    pub amount: String,
    pub open: bool,
}

/// A page that says how a payment went.
#[derive(Template)]
#[template(path = "payment-result.html")]
pub struct ResultPage {
    pub title: &'static str,
    pub message: &'static str,
    pub test_mode: bool,
}

fn result(title: &'static str, message: &'static str, test_mode: bool) -> Response {
    render(
        ResultPage {
            title,
            message,
            test_mode,
        },
        StatusCode::OK,
    )
}

fn not_found_page(test_mode: bool) -> Response {
    render(
        ResultPage {
            title: "お支払いページが見つかりません",
            message: "リンクが正しいか確かめてください。/ This checkout link is not valid.",
            test_mode,
        },
        StatusCode::NOT_FOUND,
    )
}

/// `GET /pay/{token}`: the embedded checkout page.
pub async fn checkout_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Some(page) = payments::embedded_checkout(&state.db, &token).await? else {
        return Ok(not_found_page(true));
    };
    let open = page.attempt.state == "open" && page.attempt.expires_at > Utc::now();
    Ok(render(
        CheckoutPage {
            token,
            booking_id: page.booking.id,
            facility_name: page.facility.name,
            room_name: page.room.name,
            when: when(page.booking.starts_at, page.booking.ends_at),
            expires: page
                .attempt
                .expires_at
                .with_timezone(&tokyo())
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            amount: yen(page.attempt.amount_yen),
            open,
        },
        StatusCode::OK,
    ))
}

/// `POST /pay/{token}/complete`: pay on the embedded page. The form is bound to the page's
/// unguessable token, which stands in for a CSRF token.
pub async fn complete_checkout(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    match payments::complete_embedded(&state.db, &state.payments, &token, Utc::now()).await {
        Ok(PageOutcome::Paid) => Ok(Redirect::to("/pay/complete").into_response()),
        Ok(PageOutcome::Refunded) => Ok(result(
            "予約は終了していました",
            "お支払いの前に予約が取消または期限切れになっていたため、全額を返金しました。/ The booking had ended; the payment was refunded in full.",
            true,
        )),
        Ok(PageOutcome::Closed | PageOutcome::Abandoned) => Ok(result(
            "このお支払いは終了しています",
            "完了済み・期限切れ・中止のお支払いページです。/ This checkout is no longer open.",
            true,
        )),
        Err(PaymentError::NotFound) => Ok(not_found_page(true)),
        Err(error) => Err(error.into()),
    }
}

/// `POST /pay/{token}/abandon`: leave without paying; the booking keeps waiting until `pay_by`.
pub async fn abandon_checkout(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    match payments::abandon_embedded(&state.db, &token).await {
        Ok(()) => Ok(Redirect::to("/pay/cancelled").into_response()),
        Err(PaymentError::NotFound) => Ok(not_found_page(true)),
        Err(error) => Err(error.into()),
    }
}

/// `GET /pay/complete`: where a finished checkout returns.
pub async fn payment_complete(State(state): State<AppState>) -> Response {
    result(
        "お支払いを受け付けました",
        "予約が確定すると予約一覧に表示されます。/ Thank you: the booking is confirmed once the payment is recorded.",
        state.payments.is_test_mode(),
    )
}

/// `GET /pay/cancelled`: where an abandoned checkout returns.
pub async fn payment_cancelled(State(state): State<AppState>) -> Response {
    result(
        "お支払いを中止しました",
        "予約はお支払い期限まで保持されます。/ Not paid: the booking is held until its payment deadline.",
        state.payments.is_test_mode(),
    )
}

/// The printable receipt (領収書).
#[derive(Template)]
#[template(path = "receipt.html")]
pub struct ReceiptPage {
    pub number: String,
    pub issued_on: String,
    pub payer: String,
    pub amount: String,
    pub facility_name: String,
    pub facility_address: String,
    pub room_name: String,
    pub when: String,
    pub booking_id: i64,
    pub method: &'static str,
    pub paid_at: String,
    pub refunded: i64,
    pub refunded_text: String,
    pub test_mode: bool,
}

/// `GET /bookings/{id}/receipt`: the receipt of one of my paid bookings, to print (a group's
/// booking is made out to the group). 404 for a booking that is not mine or has no payment.
pub async fn receipt_page(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(BookingIdParam { id }): ValidPath<BookingIdParam>,
) -> Result<Response, AppError> {
    let Some(receipt) = payments::receipt(&state.db, user.id, id).await? else {
        return Err(AppError::not_found("paid booking"));
    };
    let provider: Provider = receipt
        .payment
        .provider
        .parse()
        .unwrap_or(Provider::Embedded);
    let number = receipt
        .payment
        .receipt_number
        .clone()
        .unwrap_or_else(|| format!("W{:08}", receipt.payment.id));
    let paid_at = receipt.payment.paid_at.with_timezone(&tokyo());
    let mut response = render(
        ReceiptPage {
            number,
            issued_on: crate::domain::calendar::tokyo_date(Utc::now()).to_string(),
            payer: receipt.payer_name,
            amount: yen(receipt.payment.amount_yen),
            facility_name: receipt.facility.name,
            facility_address: receipt.facility.address,
            room_name: receipt.room.name,
            when: when(receipt.booking.starts_at, receipt.booking.ends_at),
            booking_id: receipt.booking.id,
            method: provider.label_ja(),
            paid_at: paid_at.format("%Y-%m-%d %H:%M").to_string(),
            refunded: receipt.payment.refunded_yen,
            refunded_text: yen(receipt.payment.refunded_yen),
            test_mode: provider == Provider::Embedded,
        },
        StatusCode::OK,
    );
    // Personal data: never kept by a shared cache.
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::yen;

    #[test]
    fn yen_amounts_have_thousands_separators() {
        assert_eq!(yen(0), "0");
        assert_eq!(yen(420), "420");
        assert_eq!(yen(4200), "4,200");
        assert_eq!(yen(1_234_567), "1,234,567");
        assert_eq!(yen(-4200), "-4,200");
    }
}
