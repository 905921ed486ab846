//! The console's reports (occupancy, revenue, refunds, no-shows, lottery demand: tables, SVG charts, CSV) and the open data anyone may read without signing in (公共施設一覧 CSV, availability as JSON and iCalendar).

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
