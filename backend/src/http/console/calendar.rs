//! The console's calendar area (施設管理): the rooms × days calendar with every slot's state, closures and blocks (previewed, then confirmed, with full refunds), and slot templates, seasons and equipment with regeneration that shows what changed.

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
