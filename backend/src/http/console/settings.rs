//! The console's settings: prices, reductions (減免), limits, penalty rules, booking phases and the lottery calendar, edited as configuration that is validated, takes effect from a date, and keeps its history.

use axum::Router;
use utoipa::OpenApi;

use crate::state::AppState;

/// The area's JSON routes, nested under `/api/v1`.
pub fn api() -> Router<AppState> {
    Router::new()
}

/// The area's pages, under `/staff/` (and public pages where the area has them).
pub fn pages() -> Router<AppState> {
    Router::new()
}

/// The area's part of the OpenAPI description.
#[derive(OpenApi)]
#[openapi()]
pub struct Api;
