//! `POST /bookings`, `GET /bookings`, `GET /bookings/{id}`, `POST /bookings/{id}/cancel`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::error::{AppError, ErrorResponse};
use super::extract::{AuthUser, ValidJson, ValidPath};
use crate::services::bookings;
use crate::state::AppState;
use crate::views::ListResponse;
use crate::views::booking::{BookingResponse, CancelResponse, CreateBookingRequest, QuoteResponse};

/// A booking id in the path.
#[derive(Debug, serde::Deserialize)]
pub struct BookingIdParam {
    pub id: i64,
}

/// Book one or more consecutive slots of a room.
///
/// Send an `Idempotency-Key` header (1–255 characters, e.g. a UUID): a retry with the same key and
/// body returns the first booking (with `Idempotent-Replayed: true`) and never books twice; the
/// same key with another body is refused. Failed attempts are not stored, so retrying after a
/// `slot_taken` tries again.
#[utoipa::path(
    post, path = "/api/v1/bookings", tag = "bookings",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per intended booking")),
    request_body = CreateBookingRequest,
    responses(
        (status = 201, body = BookingResponse),
        (status = 400, description = "A field is malformed (`fields` names it)", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 409, description = "`slot_taken`, or `limit_reached` naming the limit", body = ErrorResponse),
        (status = 422, description = "`slots_not_consecutive`, `slots_of_other_room`, `slot_in_past`, `booking_not_open`, `booking_closed`, `lottery_period`, `slot_closed`, `unknown_slots`, `unknown_room`, `price_missing`, `idempotency_key_reused`", body = ErrorResponse),
    )
)]
pub async fn create_booking(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ValidJson(request): ValidJson<CreateBookingRequest>,
) -> Result<Response, AppError> {
    let (booking, replayed) = bookings::create_booking(
        &state.db,
        &state.booking_rules(),
        user.id,
        idempotency_key(&headers),
        &request,
        Utc::now(),
    )
    .await?;
    Ok(booking_created(booking, replayed))
}

/// The request's `Idempotency-Key` (empty when missing: the service then refuses it by name).
pub fn idempotency_key(headers: &HeaderMap) -> &str {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default()
}

/// 201 with the booking; a replay of the same key and body says so in `Idempotent-Replayed`.
pub fn booking_created(booking: BookingResponse, replayed: bool) -> Response {
    let mut response = (StatusCode::CREATED, Json(booking)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// My bookings, newest first.
#[utoipa::path(
    get, path = "/api/v1/bookings", tag = "bookings",
    security(("bearer" = [])),
    responses((status = 200, body = ListResponse<BookingResponse>), (status = 401, body = ErrorResponse))
)]
pub async fn list_bookings(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<ListResponse<BookingResponse>>, AppError> {
    let items = bookings::list_bookings(&state.db, user.id).await?;
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}

/// One of my bookings.
#[utoipa::path(
    get, path = "/api/v1/bookings/{id}", tag = "bookings",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = BookingResponse), (status = 404, body = ErrorResponse))
)]
pub async fn get_booking(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(BookingIdParam { id }): ValidPath<BookingIdParam>,
) -> Result<Json<BookingResponse>, AppError> {
    Ok(Json(bookings::get_booking(&state.db, user.id, id).await?))
}

/// Cancel one of my bookings: the refund follows the tier table, the slots are free at once.
#[utoipa::path(
    post, path = "/api/v1/bookings/{id}/cancel", tag = "bookings",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = CancelResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "`booking_not_cancellable` (already cancelled or expired)", body = ErrorResponse),
    )
)]
pub async fn cancel_booking(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(BookingIdParam { id }): ValidPath<BookingIdParam>,
) -> Result<Json<CancelResponse>, AppError> {
    let now = Utc::now();
    let cancelled =
        bookings::cancel_booking(&state.db, &state.booking_rules(), user.id, id, now).await?;
    // After the commit: end open checkouts and give the money back through the provider.
    crate::services::payments::after_booking_ended(&state.db, &state.payments, id, now).await;
    Ok(Json(cancelled))
}

/// What a booking would cost, line by line, and when it would have to be paid, without booking.
/// It runs the same checks as booking, so it refuses what booking would refuse.
#[utoipa::path(
    post, path = "/api/v1/bookings/quote", tag = "bookings",
    security(("bearer" = [])),
    request_body = CreateBookingRequest,
    responses(
        (status = 200, body = QuoteResponse),
        (status = 400, body = ErrorResponse),
        (status = 409, description = "`limit_reached`", body = ErrorResponse),
        (status = 422, body = ErrorResponse),
    )
)]
pub async fn quote_booking(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(request): ValidJson<CreateBookingRequest>,
) -> Result<Json<QuoteResponse>, AppError> {
    Ok(Json(
        bookings::quote_booking(
            &state.db,
            &state.booking_rules(),
            user.id,
            &request,
            Utc::now(),
        )
        .await?,
    ))
}
