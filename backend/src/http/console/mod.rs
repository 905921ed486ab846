//! The staff and manager console (管理画面): web pages under `/staff/` and the JSON API behind
//! them under `/api/v1/admin/`, scoped by role and by the facilities a person is assigned to
//! (`services::staff_scope`). Each area is its own module with its own routes, OpenAPI part and
//! locale file (`web/locales/console-<area>.<lang>.toml`), so that areas grow apart:
//!
//! - [`calendar`]: the calendar, closures and blocks, templates, seasons and equipment;
//! - [`counter`]: counter and walk-in booking, the approval queue, the audit log;
//! - [`reports`]: reports and open data;
//! - [`settings`]: configuration with effective dates and history.
//!
//! Who may do what (checked by the services, not only hidden in the menu):
//! staff (受付) see the calendar, book at the counter, scan cards and review registrations at
//! their facilities; managers (施設管理者) also run templates, closures, blocks, room prices and
//! reports of their facilities; administrators (所管課) do everything everywhere, including the
//! city-wide rules and the audit log.

pub mod calendar;
pub mod counter;
pub mod reports;
pub mod settings;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use utoipa::OpenApi;

use crate::http::web::page::{Chrome, SignedIn};
use crate::state::AppState;

/// Every area's JSON routes, nested under `/api/v1` by the router.
pub fn api() -> Router<AppState> {
    Router::new()
        .merge(calendar::api())
        .merge(counter::api())
        .merge(reports::api())
        .merge(settings::api())
}

/// Every area's pages, and the console's home page `/staff`.
pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/staff", get(home))
        .merge(calendar::pages())
        .merge(counter::pages())
        .merge(reports::pages())
        .merge(settings::pages())
}

/// Every area's part of the OpenAPI description, to merge into the API's.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = calendar::Api::openapi();
    doc.merge(counter::Api::openapi());
    doc.merge(reports::Api::openapi());
    doc.merge(settings::Api::openapi());
    doc
}

/// The signed-in staff member, manager or administrator of a console page: otherwise the
/// sign-in page (not signed in) or a 403 page (a resident).
#[allow(clippy::result_large_err)]
pub fn require_console_user(c: &Chrome) -> Result<&SignedIn, Response> {
    let user = c.require_user()?;
    if !crate::services::staff_scope::is_console_role(user.role) {
        return Err(c.error(StatusCode::FORBIDDEN, c.t("console.staff_only")));
    }
    Ok(user)
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage<'a> {
    c: &'a Chrome,
}

/// `GET /staff`: the console's home, linking the areas this person may use.
async fn home(c: Chrome) -> Response {
    if let Err(response) = require_console_user(&c) {
        return response;
    }
    c.respond(StatusCode::OK, &HomePage { c: &c })
}
