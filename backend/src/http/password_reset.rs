//! `POST /auth/password-reset` and `POST /auth/password-reset/confirm`: resetting a forgotten
//! password by mail (services::password_reset).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::error::{AppError, ErrorResponse, codes};
use super::extract::ValidJson;
use crate::services::password_reset::{self, PasswordResetError};
use crate::state::AppState;
use crate::views::password_reset::{
    PasswordResetConfirmRequest, PasswordResetConfirmResponse, PasswordResetRequest,
    PasswordResetResponse,
};

impl From<PasswordResetError> for AppError {
    fn from(error: PasswordResetError) -> Self {
        let message = error.to_string();
        match error {
            PasswordResetError::Invalid(problems) => AppError::invalid_fields(problems),
            PasswordResetError::LinkExpired => {
                AppError::client(StatusCode::BAD_REQUEST, codes::LINK_EXPIRED, message)
            }
            PasswordResetError::LinkInvalid => {
                AppError::client(StatusCode::BAD_REQUEST, codes::LINK_INVALID, message)
            }
            PasswordResetError::Hash => AppError::Internal(anyhow::anyhow!(message)),
            PasswordResetError::Db(db) => db.into(),
        }
    }
}

/// The throttle's answer: 429 with `Retry-After`. It depends on the address asked about and the
/// client, never on whether the account exists.
pub(crate) fn throttled(wait: std::time::Duration) -> Response {
    let mut response = AppError::client(
        StatusCode::TOO_MANY_REQUESTS,
        codes::TOO_MANY_ATTEMPTS,
        format!(
            "too many password reset requests; try again in {} seconds",
            wait.as_secs()
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
    response
}

/// The login throttle's key for reset requests: counted apart from sign-in attempts for the
/// same address, and together with everything else from the same client.
pub(crate) fn throttle_key(email: &str) -> String {
    format!("password-reset:{}", email.trim().to_lowercase())
}

/// Ask for a password reset link. Always 202, whether or not the address has an account; an
/// account gets at most three links an hour.
#[utoipa::path(
    post, path = "/api/v1/auth/password-reset", tag = "auth",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "If the address has an account, a mail with a link is on its way", body = PasswordResetResponse),
        (status = 400, description = "A field is missing or malformed", body = ErrorResponse),
        (status = 429, description = "`too_many_attempts`, with Retry-After", body = ErrorResponse),
    )
)]
pub async fn request_password_reset(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ValidJson(request): ValidJson<PasswordResetRequest>,
) -> Result<(StatusCode, Json<PasswordResetResponse>), Response> {
    if let Err(wait) = state
        .login_throttle
        .check(&throttle_key(&request.email), peer.ip())
    {
        return Err(throttled(wait));
    }
    password_reset::request(
        &state.db,
        &request.email,
        &state.settings.public_base_url(),
        Utc::now(),
    )
    .await
    .map_err(|e| AppError::from(e).into_response())?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PasswordResetResponse {
            status: "reset_requested",
            message: "If the address has an account, a mail with a link is on its way. Open it within an hour.",
        }),
    ))
}

/// Set a new password with the token from the mail. The token works once; every session of the
/// account is ended.
#[utoipa::path(
    post, path = "/api/v1/auth/password-reset/confirm", tag = "auth",
    request_body = PasswordResetConfirmRequest,
    responses(
        (status = 200, body = PasswordResetConfirmResponse),
        (status = 400, description = "`invalid_input` naming `password`, `link_invalid` (unknown or already used) or `link_expired`", body = ErrorResponse),
    )
)]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    ValidJson(request): ValidJson<PasswordResetConfirmRequest>,
) -> Result<Json<PasswordResetConfirmResponse>, AppError> {
    password_reset::confirm(&state.db, &request.token, &request.password, Utc::now()).await?;
    Ok(Json(PasswordResetConfirmResponse {
        status: "password_changed",
    }))
}
