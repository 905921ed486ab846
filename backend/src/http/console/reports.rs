//! The console's reports (occupancy, revenue, refunds, no-shows, lottery demand: tables, SVG charts, CSV) and the open data anyone may read without signing in (公共施設一覧 CSV, availability as JSON and iCalendar).
//!
//! JSON and CSV under `/api/v1/admin/reports/…` (managers of the facility, administrators), the
//! page `/staff/reports`, and the open data under `/api/v1/opendata/…` (no sign-in). Handlers
//! only extract, call `services::reports` / `services::opendata` and shape the answer.

mod opendata;
mod page;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use crate::http::error::{AppError, ErrorResponse, FieldError, codes};
use crate::http::extract::{AuthUser, ValidQuery};
use crate::http::payments::ReportFormat;
use crate::services::reports::{self, ReportError, ReportRequest, ReportScope};
use crate::state::AppState;
use crate::views::reports::{
    LotteryDemandRow, NoShowRow, OccupancyRow, RefundRow, ReportKey, ReportResponse, RevenueRow,
    TableRow, to_csv,
};

/// The area's JSON routes, nested under `/api/v1`.
pub fn api() -> Router<AppState> {
    Router::new()
        .route("/admin/reports/occupancy", get(occupancy_report))
        .route("/admin/reports/revenue", get(revenue_report))
        .route("/admin/reports/refunds", get(refunds_report))
        .route("/admin/reports/no-shows", get(no_shows_report))
        .route("/admin/reports/lottery-demand", get(lottery_demand_report))
        .route(
            "/opendata/facilities.csv",
            get(opendata::facilities_list_csv),
        )
        .route(
            "/opendata/rooms/{id}/availability.json",
            get(opendata::room_availability_json),
        )
        .route(
            "/opendata/rooms/{id}/availability.ics",
            get(opendata::room_availability_ics),
        )
}

/// The area's pages, under `/staff/` (and public pages where the area has them).
pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/staff/reports", get(page::reports_page))
        .route("/opendata", get(opendata::opendata_page))
}

/// The area's part of the OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    paths(
        occupancy_report,
        revenue_report,
        refunds_report,
        no_shows_report,
        lottery_demand_report,
        opendata::facilities_list_csv,
        opendata::room_availability_json,
        opendata::room_availability_ics
    ),
    components(schemas(
        ReportKey,
        OccupancyRow,
        RevenueRow,
        RefundRow,
        NoShowRow,
        LotteryDemandRow,
        ReportFormat,
        crate::views::opendata::OpenAvailability,
        crate::views::opendata::OpenSlot
    )),
    tags(
        (name = "reports", description = "Managers' and administrators' reports per facility, kind of room and month of use, as JSON or CSV"),
        (name = "opendata", description = "Open data without sign-in: the facility list (公共施設一覧 CSV) and room availability (JSON, iCalendar)")
    )
)]
pub struct Api;

impl From<ReportError> for AppError {
    fn from(error: ReportError) -> Self {
        match error {
            ReportError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, error.to_string())
            }
            ReportError::Invalid(problems) => {
                let fields: Vec<FieldError> = problems
                    .into_iter()
                    .map(|p| FieldError {
                        field: p.field.to_owned(),
                        message: p.message,
                    })
                    .collect();
                let message = fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                AppError::Client {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: codes::INVALID_INPUT,
                    message,
                    fields,
                }
            }
            ReportError::Db(db) => db.into(),
        }
    }
}

/// `?facility_id=&room_kind=&from=&to=&format=` of every report.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// One facility (a manager's own); every facility in scope when left out.
    pub facility_id: Option<i32>,
    /// A kind of room (`RoomKind` code, e.g. `gymnasium`).
    pub room_kind: Option<String>,
    /// First month of use, `YYYY-MM`; 11 months before `to` when left out.
    pub from: Option<String>,
    /// Last month of use, `YYYY-MM` (included); the current month (or `from` + 11) when left
    /// out. At most 24 months in all.
    pub to: Option<String>,
    /// `json` (the default) or `csv`.
    pub format: Option<ReportFormat>,
}

impl ReportQuery {
    fn request(&self) -> ReportRequest {
        ReportRequest {
            facility_id: self.facility_id,
            room_kind: self.room_kind.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
}

/// The report as JSON, or as a CSV download named after the report and its months.
fn answer<T: TableRow + serde::Serialize + utoipa::ToSchema>(
    name: &str,
    query: &ReportQuery,
    scope: &ReportScope,
    rows: Vec<T>,
) -> Response {
    if query.format.unwrap_or_default() == ReportFormat::Json {
        return Json(ReportResponse {
            from: scope.range.from.to_string(),
            to: scope.range.to.to_string(),
            facility_id: query.facility_id,
            room_kind: scope.room_kind.map(|k| k.code().to_owned()),
            rows,
        })
        .into_response();
    }
    let mut response = to_csv(&rows).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!(
        "attachment; filename=\"{name}-{}-{}.csv\"",
        scope.range.from, scope.range.to
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    // Internal figures of the city: not for shared caches.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// Occupancy per facility, kind of room and month of use: unit-hours offered (open slots of
/// whole and plain rooms, each unit of a divisible room counted) and booked (held, paid, used
/// and no-show bookings; a half takes one unit, the whole all), and their ratio. Managers of
/// the facility and administrators; `?format=csv` for a CSV file (UTF-8 with BOM).
#[utoipa::path(
    get, path = "/api/v1/admin/reports/occupancy", tag = "reports",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, body = ReportResponse<OccupancyRow>, description = "JSON, or `text/csv` with `format=csv`"),
        (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse, description = "staff, residents, or another facility"),
        (status = 422, body = ErrorResponse, description = "a bad range, kind or facility; `fields` names it"),
    )
)]
pub async fn occupancy_report(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<ReportQuery>,
) -> Result<Response, AppError> {
    let scope = reports::authorize(
        &state.db,
        (user.id, user.role),
        &query.request(),
        Utc::now(),
    )
    .await?;
    let rows = reports::occupancy(&state.db, &scope).await?;
    Ok(answer("occupancy", &query, &scope, rows))
}

/// Revenue per facility, kind of room, month of use and payment method: payments, yen paid,
/// yen refunded (made or pending) and net. Managers of the facility and administrators.
#[utoipa::path(
    get, path = "/api/v1/admin/reports/revenue", tag = "reports",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, body = ReportResponse<RevenueRow>, description = "JSON, or `text/csv` with `format=csv`"),
        (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 422, body = ErrorResponse),
    )
)]
pub async fn revenue_report(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<ReportQuery>,
) -> Result<Response, AppError> {
    let scope = reports::authorize(
        &state.db,
        (user.id, user.role),
        &query.request(),
        Utc::now(),
    )
    .await?;
    let rows = reports::revenue(&state.db, &scope).await?;
    Ok(answer("revenue", &query, &scope, rows))
}

/// Refunds (made or pending) per facility, kind of room, month of use and reason. Managers of
/// the facility and administrators.
#[utoipa::path(
    get, path = "/api/v1/admin/reports/refunds", tag = "reports",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, body = ReportResponse<RefundRow>, description = "JSON, or `text/csv` with `format=csv`"),
        (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 422, body = ErrorResponse),
    )
)]
pub async fn refunds_report(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<ReportQuery>,
) -> Result<Response, AppError> {
    let scope = reports::authorize(
        &state.db,
        (user.id, user.role),
        &query.request(),
        Utc::now(),
    )
    .await?;
    let rows = reports::refunds(&state.db, &scope).await?;
    Ok(answer("refunds", &query, &scope, rows))
}

/// The no-show rate per facility, kind of room and month of use: no-shows over the bookings
/// that reached their time (checked in, no-show, or confirmed and started). Managers of the
/// facility and administrators.
#[utoipa::path(
    get, path = "/api/v1/admin/reports/no-shows", tag = "reports",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, body = ReportResponse<NoShowRow>, description = "JSON, or `text/csv` with `format=csv`"),
        (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 422, body = ErrorResponse),
    )
)]
pub async fn no_shows_report(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<ReportQuery>,
) -> Result<Response, AppError> {
    let now = Utc::now();
    let scope = reports::authorize(&state.db, (user.id, user.role), &query.request(), now).await?;
    let rows = reports::no_shows(&state.db, &scope, now).await?;
    Ok(answer("no-shows", &query, &scope, rows))
}

/// Lottery demand per facility, kind of room and month of use: submitted applications, wishes,
/// first wishes, slots and rooms wished for, wishes per slot and per room. Managers of the
/// facility and administrators.
#[utoipa::path(
    get, path = "/api/v1/admin/reports/lottery-demand", tag = "reports",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, body = ReportResponse<LotteryDemandRow>, description = "JSON, or `text/csv` with `format=csv`"),
        (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 422, body = ErrorResponse),
    )
)]
pub async fn lottery_demand_report(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<ReportQuery>,
) -> Result<Response, AppError> {
    let scope = reports::authorize(
        &state.db,
        (user.id, user.role),
        &query.request(),
        Utc::now(),
    )
    .await?;
    let rows = reports::lottery_demand(&state.db, &scope).await?;
    Ok(answer("lottery-demand", &query, &scope, rows))
}
