//! The console's counter area (窓口): booking on behalf of a resident found by card number, name and date of birth, or phone, with counter payment and same-day walk-ins; the registration approval queue with its document viewer; and the audit log viewer.
//!
//! JSON (under `/api/v1`): `GET /admin/residents` (find a person), `POST
//! /admin/residents/{id}/bookings` and `…/bookings/quote` (book or price for them at the
//! counter), `GET /admin/counter/bookings/{id}` (a booking as staff see it, with its receipt),
//! `GET /admin/audit` and `GET /admin/audit.csv` (administrators). Payment at the counter is the
//! existing `POST /admin/bookings/{id}/counter-payment`; the approval queue's API is
//! `http::review` and `http::documents`. Pages (`/staff/counter`, `/staff/registrations`,
//! `/staff/audit`) are in the submodules and call the same services.

mod audit_page;
mod pages;
mod registrations;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use utoipa::OpenApi;

use crate::domain::counter::parse_search;
use crate::http::error::{AppError, ErrorResponse, FieldError, codes};
use crate::http::extract::{AuthUser, IdParam, ValidJson, ValidPath, ValidQuery};
use crate::services::audit_log_view::{self, AuditViewError};
use crate::services::counter::{self, CounterError};
use crate::state::AppState;
use crate::views::ListResponse;
use crate::views::booking::{BookingResponse, CreateBookingRequest, QuoteResponse};
use crate::views::console_counter::{
    AuditEntry, AuditPage, AuditQuery, ResidentMatch, ResidentQuery, StaffBookingResponse,
};
use crate::views::csv::{Cell, CsvWriter};

/// 422: a search that is ambiguous or would list too many people; `fields` names what to give.
pub const SEARCH_TOO_BROAD: &str = "search_too_broad";

/// The area's JSON routes, nested under `/api/v1`.
pub fn api() -> Router<AppState> {
    Router::new()
        .route("/admin/residents", get(find_residents))
        .route("/admin/residents/{id}/bookings", post(book_for_resident))
        .route(
            "/admin/residents/{id}/bookings/quote",
            post(quote_for_resident),
        )
        .route("/admin/counter/bookings/{id}", get(booking_for_staff))
        .route("/admin/audit", get(audit_log))
        .route("/admin/audit.csv", get(audit_log_csv))
}

/// The area's pages, under `/staff/`.
pub fn pages() -> Router<AppState> {
    Router::new()
        .merge(pages::routes())
        .merge(registrations::routes())
        .merge(audit_page::routes())
}

/// The area's part of the OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    paths(
        find_residents,
        book_for_resident,
        quote_for_resident,
        booking_for_staff,
        audit_log,
        audit_log_csv
    ),
    components(schemas(ResidentMatch, StaffBookingResponse, AuditEntry, AuditPage))
)]
pub struct Api;

fn fields(problems: Vec<crate::domain::registration::FieldProblem>) -> Vec<FieldError> {
    problems
        .into_iter()
        .map(|p| FieldError {
            field: p.field.to_owned(),
            message: p.message,
        })
        .collect()
}

impl From<CounterError> for AppError {
    fn from(error: CounterError) -> Self {
        let message = error.to_string();
        match error {
            CounterError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            CounterError::NotFound(what) => AppError::not_found(what),
            CounterError::Invalid(problems) => AppError::Client {
                status: StatusCode::BAD_REQUEST,
                code: codes::INVALID_INPUT,
                message,
                fields: fields(problems),
            },
            CounterError::TooBroad(problems) => AppError::Client {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: SEARCH_TOO_BROAD,
                message,
                fields: fields(problems),
            },
            CounterError::Booking(booking) => booking.into(),
            CounterError::Catalog(catalog) => catalog.into(),
            CounterError::Db(db) => db.into(),
        }
    }
}

impl From<AuditViewError> for AppError {
    fn from(error: AuditViewError) -> Self {
        let message = error.to_string();
        match error {
            AuditViewError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            AuditViewError::Invalid { field, message } => AppError::invalid_field(field, message),
            AuditViewError::Db(db) => db.into(),
        }
    }
}

/// Find a person at the counter: by card number, by name (kanji or kana, part of it) with the
/// date of birth, or by phone — one way at a time. At most five people are shown; a search that
/// is ambiguous (a name without the date of birth, two ways at once, nothing) or matches more is
/// refused with 422 `search_too_broad` naming the field to give. Staff, managers and
/// administrators; every search that shows someone is audited (`resident.search`).
#[utoipa::path(
    get, path = "/api/v1/admin/residents", tag = "admin",
    security(("bearer" = [])),
    params(ResidentQuery),
    responses(
        (status = 200, body = ListResponse<ResidentMatch>),
        (status = 400, description = "`invalid_input`: a malformed card number (check digit), phone or date, naming it", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "`forbidden` for residents", body = ErrorResponse),
        (status = 422, description = "`search_too_broad` naming `card_number`, `name`, `date_of_birth` or `phone`", body = ErrorResponse),
    )
)]
pub async fn find_residents(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<ResidentQuery>,
) -> Result<Json<ListResponse<ResidentMatch>>, AppError> {
    let search = parse_search(
        query.card_number.as_deref(),
        query.name.as_deref(),
        query.date_of_birth.as_deref(),
        query.phone.as_deref(),
    )
    .map_err(CounterError::from)?;
    let items =
        counter::find_residents(&state.db, (user.id, user.role), &search, Utc::now()).await?;
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}

/// Book on behalf of resident `{id}` at the counter of the room's facility: the same rules,
/// limits and conflicts as `POST /bookings`, and also a date whose online booking has closed
/// (same-day walk-ins). The booking is marked `channel: counter` with the staff member in its
/// history; audited (`booking.counter`). Staff and managers of the room's facility,
/// administrators anywhere. Then take payment with `POST /admin/bookings/{id}/counter-payment`.
#[utoipa::path(
    post, path = "/api/v1/admin/residents/{id}/bookings", tag = "admin",
    security(("bearer" = [])),
    params(
        ("id" = i32, Path, description = "The resident's user id"),
        ("Idempotency-Key" = String, Header, description = "Unique per intended booking"),
    ),
    request_body = CreateBookingRequest,
    responses(
        (status = 201, body = BookingResponse),
        (status = 400, description = "A field is malformed (`fields` names it)", body = ErrorResponse),
        (status = 403, description = "`forbidden` (not assigned to the room's facility), `registration_not_approved`, `booking_suspended`", body = ErrorResponse),
        (status = 404, description = "No such resident", body = ErrorResponse),
        (status = 409, description = "`slot_taken`, or `limit_reached` naming the limit", body = ErrorResponse),
        (status = 422, description = "`booking_not_open`, `lottery_period`, `slot_in_past`, `slot_closed`, `unknown_room`, … as `POST /bookings`", body = ErrorResponse),
    )
)]
pub async fn book_for_resident(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
    ValidJson(request): ValidJson<CreateBookingRequest>,
) -> Result<Response, AppError> {
    let (booking, replayed) = counter::book_for_resident(
        &state.db,
        &state.booking_rules(),
        (user.id, user.role),
        id,
        crate::http::bookings::idempotency_key(&headers),
        &request,
        Utc::now(),
    )
    .await?;
    Ok(crate::http::bookings::booking_created(booking, replayed))
}

/// What a counter booking for resident `{id}` would cost, with the same checks as booking.
#[utoipa::path(
    post, path = "/api/v1/admin/residents/{id}/bookings/quote", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The resident's user id")),
    request_body = CreateBookingRequest,
    responses(
        (status = 200, body = QuoteResponse),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse),
        (status = 422, body = ErrorResponse),
    )
)]
pub async fn quote_for_resident(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
    ValidJson(request): ValidJson<CreateBookingRequest>,
) -> Result<Json<QuoteResponse>, AppError> {
    Ok(Json(
        counter::quote_for_resident(
            &state.db,
            &state.booking_rules(),
            (user.id, user.role),
            id,
            &request,
            Utc::now(),
        )
        .await?,
    ))
}

/// A booking id in the path.
#[derive(Debug, Deserialize)]
pub struct BookingIdParam {
    pub id: i64,
}

/// A booking at one of my facilities as staff see it: the holder, who booked it at the counter,
/// and its receipt number once paid. Audited (`booking.view`).
#[utoipa::path(
    get, path = "/api/v1/admin/counter/bookings/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = StaffBookingResponse),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    )
)]
pub async fn booking_for_staff(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(BookingIdParam { id }): ValidPath<BookingIdParam>,
) -> Result<Json<StaffBookingResponse>, AppError> {
    Ok(Json(
        counter::booking_for_staff(&state.db, (user.id, user.role), id, Utc::now()).await?,
    ))
}

/// The audit log, newest first, 50 entries a page: every staff action and every staff view of
/// personal data. `action` is exact, or a prefix ending in `.`; `from`/`to` are Japan dates,
/// inclusive. Administrators only; reading it is audited too (`audit.view`).
#[utoipa::path(
    get, path = "/api/v1/admin/audit", tag = "admin",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, description = "`invalid_input` naming the filter", body = ErrorResponse),
        (status = 403, description = "`forbidden` unless an administrator", body = ErrorResponse),
    )
)]
pub async fn audit_log(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    Ok(Json(
        audit_log_view::search(&state.db, (user.id, user.role), &query, Utc::now()).await?,
    ))
}

/// The audit log as CSV (UTF-8 with a byte-order mark, so spreadsheet software reads the
/// Japanese), with the same filters, at most 10,000 rows. Administrators only; audited.
#[utoipa::path(
    get, path = "/api/v1/admin/audit.csv", tag = "admin",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "text/csv", content_type = "text/csv", body = String),
        (status = 403, body = ErrorResponse),
    )
)]
pub async fn audit_log_csv(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<AuditQuery>,
) -> Result<Response, AppError> {
    let entries =
        audit_log_view::export(&state.db, (user.id, user.role), &query, Utc::now()).await?;
    let body = audit_csv(&entries);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

/// The entries as CSV (`views::csv`: byte order mark, CRLF, formulas defused).
fn audit_csv(entries: &[AuditEntry]) -> String {
    let mut csv = CsvWriter::new(&[
        "id",
        "at",
        "actor_user_id",
        "actor_name",
        "actor_role",
        "action",
        "subject_type",
        "subject_id",
        "detail",
    ]);
    for e in entries {
        let at = e.at.to_rfc3339();
        let actor = e.actor_user_id.map(i64::from);
        let detail = e.detail.to_string();
        csv.row([
            Cell::Int(e.id),
            Cell::Text(&at),
            actor.map_or(Cell::Text(""), Cell::Int),
            Cell::Text(e.actor_name.as_deref().unwrap_or_default()),
            Cell::Text(e.actor_role.as_deref().unwrap_or_default()),
            Cell::Text(&e.action),
            Cell::Text(&e.subject_type),
            e.subject_id.map_or(Cell::Text(""), Cell::Int),
            Cell::Text(&detail),
        ]);
    }
    csv.finish()
}
