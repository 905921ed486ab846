//! The staff registration queue: `GET /admin/registrations`, `POST …/{id}/approve`, `…/reject`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;

use super::error::{AppError, ErrorResponse};
use super::extract::{AuthUser, IdParam, ValidJson, ValidPath, ValidQuery};
use crate::domain::registration::RegistrationState;
use crate::services::review;
use crate::state::AppState;
use crate::views::ListResponse;
use crate::views::review::{
    ApprovalResponse, RegistrationQuery, RegistrationReview, RejectRequest,
};

/// Registrations by state (default: waiting for review), oldest first. Staff, managers and
/// admins only; every view is written to the audit log.
#[utoipa::path(
    get, path = "/api/v1/admin/registrations", tag = "admin",
    security(("bearer" = [])),
    params(RegistrationQuery),
    responses(
        (status = 200, body = ListResponse<RegistrationReview>),
        (status = 403, description = "`forbidden` for residents", body = ErrorResponse),
    )
)]
pub async fn list_registrations(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<RegistrationQuery>,
) -> Result<Json<ListResponse<RegistrationReview>>, AppError> {
    let wanted = match query.state.as_deref() {
        None => RegistrationState::PendingReview,
        Some(code) => code.parse().map_err(|_| {
            AppError::invalid_field(
                "state",
                "one of email_unverified, pending_review, approved, rejected, expired",
            )
        })?,
    };
    let items = review::queue(&state.db, (user.id, user.role), wanted, Utc::now()).await?;
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}

/// Approve a registration waiting for review: it gets a card number and is valid three years.
#[utoipa::path(
    post, path = "/api/v1/admin/registrations/{id}/approve", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The person's user id")),
    responses(
        (status = 200, body = ApprovalResponse),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "`not_pending`", body = ErrorResponse),
    )
)]
pub async fn approve_registration(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
) -> Result<Json<ApprovalResponse>, AppError> {
    Ok(Json(
        review::approve(&state.db, (user.id, user.role), id, Utc::now()).await?,
    ))
}

/// Reject a registration waiting for review; the reason is mailed to the person.
#[utoipa::path(
    post, path = "/api/v1/admin/registrations/{id}/reject", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The person's user id")),
    request_body = RejectRequest,
    responses(
        (status = 204, description = "Rejected"),
        (status = 400, description = "`invalid_input` naming `reason`", body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 409, description = "`not_pending`", body = ErrorResponse),
    )
)]
pub async fn reject_registration(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
    ValidJson(request): ValidJson<RejectRequest>,
) -> Result<StatusCode, AppError> {
    review::reject(
        &state.db,
        (user.id, user.role),
        id,
        &request.reason,
        Utc::now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
