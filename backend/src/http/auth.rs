//! `POST /auth/login`, `/auth/refresh`, `/auth/logout` and `GET /me`.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::{AppError, ErrorResponse, codes};
use super::extract::{AuthUser, ValidJson};
use crate::services::sessions;
use crate::state::AppState;
use crate::views::session::{LoginRequest, MeResponse, RefreshRequest, TokenResponse};

/// Sign in with email and password.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "A field is missing or malformed", body = ErrorResponse),
        (status = 401, description = "`invalid_credentials`: never says whether the email is registered", body = ErrorResponse),
        (status = 403, description = "`email_not_verified`", body = ErrorResponse),
        (status = 429, description = "`too_many_attempts`, with Retry-After", body = ErrorResponse),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ValidJson(request): ValidJson<LoginRequest>,
) -> Result<Json<TokenResponse>, Response> {
    if let Err(wait) = state.login_throttle.check(&request.email, peer.ip()) {
        let error = AppError::client(
            StatusCode::TOO_MANY_REQUESTS,
            codes::TOO_MANY_ATTEMPTS,
            format!(
                "too many sign-in attempts; try again in {} seconds",
                wait.as_secs()
            ),
        );
        let mut response = error.into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        return Err(response);
    }
    sessions::login(&state.db, &state.keys, &request.email, &request.password)
        .await
        .map(Json)
        .map_err(|e| AppError::from(e).into_response())
}

/// Exchange a refresh token for a new pair. Each refresh token works once.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "`invalid_refresh_token`, or `refresh_token_reused` (the session is ended everywhere)", body = ErrorResponse),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    ValidJson(request): ValidJson<RefreshRequest>,
) -> Result<Json<TokenResponse>, AppError> {
    Ok(Json(
        sessions::refresh(&state.db, &state.keys, &request.refresh_token).await?,
    ))
}

/// Sign out: the session's refresh tokens stop working on every device.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out (also when already signed out)"))
)]
pub async fn logout(
    State(state): State<AppState>,
    ValidJson(request): ValidJson<RefreshRequest>,
) -> Result<StatusCode, AppError> {
    sessions::logout(&state.db, &request.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in person.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 401, description = "`unauthorized` or `token_expired`", body = ErrorResponse),
    )
)]
pub async fn me(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<MeResponse>, AppError> {
    Ok(Json(sessions::me(&state.db, user.id).await?))
}
