//! `GET /healthz` (the process is up) and `GET /readyz` (the database answers and the instance
//! is not shutting down).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{AppError, ErrorResponse, codes};
use crate::state::AppState;

/// Health status.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthResponse)))]
pub async fn healthz() -> Json<HealthResponse> {
    Json(HealthResponse { status: "ok" })
}

/// The database is reachable and the instance takes new work.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, body = HealthResponse),
        (status = 503, description = "The database does not answer (`unavailable`), or the instance is shutting down (`draining`)", body = ErrorResponse),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<HealthResponse>, AppError> {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(AppError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::DRAINING,
            "shutting down; send new requests to another instance",
        ));
    }
    match state.db.ping().await {
        Ok(()) => Ok(Json(HealthResponse { status: "ok" })),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check: database unreachable");
            Err(AppError::client(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::UNAVAILABLE,
                "database unreachable",
            ))
        }
    }
}
