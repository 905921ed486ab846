//! `POST /auth/register`, `POST /auth/verify-email`, and the demo outbox.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;

use super::error::{AppError, ErrorResponse};
use super::extract::ValidJson;
use crate::services::{mail, registration};
use crate::state::AppState;
use crate::views::ListResponse;
use crate::views::registration::{
    OutboxMail, RegisterRequest, RegisterResponse, VerifyEmailRequest, VerifyEmailResponse,
};

/// Register online. Every invalid field is named at once. The answer is the same whether or not
/// the address already has an account; the mail tells the person which.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 202, description = "Check your mail for the verification link", body = RegisterResponse),
        (status = 400, description = "`invalid_input` with every field at fault in `fields`", body = ErrorResponse),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ValidJson(request): ValidJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), AppError> {
    registration::register(
        &state.db,
        &state.keys,
        &request,
        &state.settings.public_base_url(),
        Utc::now(),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RegisterResponse {
            status: "verification_sent",
            message: "If the address can be registered, a mail with a link is on its way. Open it within 24 hours.",
        }),
    ))
}

/// Confirm the email address with the token from the mail.
#[utoipa::path(
    post, path = "/api/v1/auth/verify-email", tag = "auth",
    request_body = VerifyEmailRequest,
    responses(
        (status = 200, body = VerifyEmailResponse),
        (status = 400, description = "`link_invalid` or `link_expired`", body = ErrorResponse),
    )
)]
pub async fn verify_email(
    State(state): State<AppState>,
    ValidJson(request): ValidJson<VerifyEmailRequest>,
) -> Result<Json<VerifyEmailResponse>, AppError> {
    let registration_state =
        registration::verify_email(&state.db, &state.keys, &request.token, Utc::now()).await?;
    Ok(Json(VerifyEmailResponse {
        registration_state: registration_state.code().to_owned(),
    }))
}

/// Demo mode only: the newest mails in the outbox, so a person without a mail server can follow
/// their verification link. 404 outside demo mode.
#[utoipa::path(
    get, path = "/api/v1/dev/outbox", tag = "auth",
    responses((status = 200, body = ListResponse<OutboxMail>), (status = 404, body = ErrorResponse))
)]
pub async fn demo_outbox(
    State(state): State<AppState>,
) -> Result<Json<ListResponse<OutboxMail>>, AppError> {
    if !state.settings.demo_enabled() {
        return Err(AppError::not_found("route"));
    }
    let items: Vec<OutboxMail> = mail::recent(&state.db, 50)
        .await?
        .into_iter()
        .map(|m| OutboxMail {
            id: m.id,
            to: m.to_address,
            subject: m.subject,
            body: m.body,
            created_at: m.created_at,
            sent: m.sent_at.is_some(),
        })
        .collect();
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}
