//! The console's counter area (窓口): booking on behalf of a resident found by card number, name and date of birth, or phone, with counter payment and same-day walk-ins; the registration approval queue with its document viewer; and the audit log viewer.

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
