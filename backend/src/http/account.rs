//! The signed-in person's own account: `POST /me/registration/renew`, `GET /me/export` and
//! `POST /me/delete`.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::error::{AppError, ErrorResponse};
use super::extract::{AuthUser, ValidJson};
use crate::services::document_store::DocumentStore;
use crate::services::{account, renewal};
use crate::state::AppState;
use crate::views::account::{
    DataExport, DeleteAccountRequest, DeletionResponse, RenewRegistrationRequest, RenewalResponse,
};

/// Renew my registration, confirming my address, phone and residency category. Unchanged
/// category: renewed at once, three years from the old expiry (from today if it has already
/// expired, within the grace period). A new category, or an expiry beyond the grace period,
/// goes to staff review.
#[utoipa::path(
    post, path = "/api/v1/me/registration/renew", tag = "account",
    security(("bearer" = [])),
    request_body = RenewRegistrationRequest,
    responses(
        (status = 200, description = "`outcome` is `renewed` or `pending_review`", body = RenewalResponse),
        (status = 400, description = "`invalid_input` naming every field at fault", body = ErrorResponse),
        (status = 401, description = "`unauthorized` (also for a deleted account)", body = ErrorResponse),
        (status = 403, description = "`forbidden`: staff accounts have no registration to renew", body = ErrorResponse),
        (status = 409, description = "`renewal_not_open` (too early; the message gives the date) or `renewal_not_allowed` (not approved, already under review, …)", body = ErrorResponse),
    )
)]
pub async fn renew_registration(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(request): ValidJson<RenewRegistrationRequest>,
) -> Result<Json<RenewalResponse>, AppError> {
    Ok(Json(
        renewal::renew(
            &state.db,
            &state.settings.renewal,
            user.id,
            &request,
            Utc::now(),
        )
        .await?,
    ))
}

/// Download everything Yoyaku holds about me, as one JSON document (an attachment).
#[utoipa::path(
    get, path = "/api/v1/me/export", tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A download (`Content-Disposition: attachment`)", body = DataExport),
        (status = 401, body = ErrorResponse),
    )
)]
pub async fn export_my_data(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Response, AppError> {
    let now = Utc::now();
    let document = account::export(&state.db, user.id, now).await?;
    let filename = format!(
        "attachment; filename=\"yoyaku-data-{}-{}.json\"",
        user.id,
        now.format("%Y%m%d")
    );
    let mut response = Json(document).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    // Personal data: never kept by a shared cache or the browser's.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Delete my account. The password is asked again. Unpaid future bookings are cancelled; paid
/// bookings are kept for the city's accounts without my personal data; I am signed out
/// everywhere and a confirmation is mailed. Refused while a paid booking is still to come.
#[utoipa::path(
    post, path = "/api/v1/me/delete", tag = "account",
    security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 200, body = DeletionResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 403, description = "`password_incorrect` (naming `password`), or `forbidden` for staff accounts", body = ErrorResponse),
        (status = 409, description = "`paid_bookings_ahead`: `fields` lists the bookings to cancel first; `represents_group`: dissolve the group first", body = ErrorResponse),
        (status = 429, description = "`too_many_attempts`, with Retry-After", body = ErrorResponse),
    )
)]
pub async fn delete_my_account(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    user: AuthUser,
    ValidJson(request): ValidJson<DeleteAccountRequest>,
) -> Result<Json<DeletionResponse>, Response> {
    let store = DocumentStore::new(state.settings.documents_path());
    match account::delete_account(
        &state.db,
        &store,
        &state.login_throttle,
        peer.ip(),
        user.id,
        &request.password,
        Utc::now(),
    )
    .await
    {
        Ok(done) => Ok(Json(done)),
        Err(account::AccountError::TooManyAttempts(wait)) => {
            let mut response =
                AppError::from(account::AccountError::TooManyAttempts(wait)).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
            Err(response)
        }
        Err(other) => Err(AppError::from(other).into_response()),
    }
}
