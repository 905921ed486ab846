//! Open data over HTTP, no sign-in: `GET /api/v1/opendata/facilities.csv` (公共施設一覧),
//! `GET /api/v1/opendata/rooms/{id}/availability.json` and `….ics`, and the page `/opendata`
//! that lists them. Public data may be cached by anyone for a few minutes and read from any
//! origin (`Access-Control-Allow-Origin: *`: it needs no credentials).

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::calendar::tokyo_date;
use crate::domain::opendata::availability_range;
use crate::http::error::{AppError, codes};
use crate::http::extract::{ValidPath, ValidQuery};
use crate::http::web::page::Chrome;
use crate::services::opendata::{self, OpenDataError};
use crate::state::AppState;
use crate::views::opendata::{OpenAvailability, availability_ics, facilities_csv};

/// How long anyone may cache the facility list (it changes when the city edits a facility).
const LIST_CACHE: &str = "public, max-age=3600";
/// How long anyone may cache availability (it changes with every booking; a few minutes of
/// staleness is the price of letting caches and calendar apps poll cheaply).
const AVAILABILITY_CACHE: &str = "public, max-age=300";

impl From<OpenDataError> for AppError {
    fn from(error: OpenDataError) -> Self {
        match error {
            OpenDataError::Db(db) => db.into(),
            other => AppError::Internal(anyhow::anyhow!(other)),
        }
    }
}

/// Headers every open-data answer carries.
fn public(mut response: Response, content_type: &'static str, cache: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The city's facilities as 公共施設一覧 CSV (自治体標準オープンデータセット, Digital Agency): 29
/// columns in the published order, UTF-8 with a BOM, CRLF; 全国地方公共団体コード is the six-digit
/// code with its check digit. No sign-in.
#[utoipa::path(
    get, path = "/api/v1/opendata/facilities.csv", tag = "opendata",
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "公共施設一覧 CSV"),
    )
)]
pub async fn facilities_list_csv(State(state): State<AppState>) -> Result<Response, AppError> {
    let (publisher, entries) = opendata::facility_list(&state.db).await?;
    let body = facilities_csv(&publisher, &entries, &state.settings.public_base_url());
    let mut response = public(body.into_response(), "text/csv; charset=utf-8", LIST_CACHE);
    let disposition = format!(
        "inline; filename=\"{}_public_facility.csv\"",
        publisher.code
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `?from=&to=` of the availability feeds.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OpenAvailabilityQuery {
    /// First day, `YYYY-MM-DD` (Japan time); today when left out.
    pub from: Option<NaiveDate>,
    /// Last day, included; 13 days after `from` when left out; at most 62 days in all.
    pub to: Option<NaiveDate>,
}

/// A room in the path.
#[derive(Debug, Deserialize)]
pub struct RoomPath {
    pub id: i32,
}

async fn load(
    state: &AppState,
    id: i32,
    query: &OpenAvailabilityQuery,
) -> Result<(opendata::RoomAvailability, NaiveDate, NaiveDate), AppError> {
    let now = Utc::now();
    let (from, to) =
        availability_range(query.from, query.to, tokyo_date(now)).map_err(|(field, message)| {
            AppError::Client {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: codes::INVALID_INPUT,
                message: format!("{field}: {message}"),
                fields: vec![crate::http::error::FieldError {
                    field: field.into(),
                    message,
                }],
            }
        })?;
    let data = opendata::room_availability(&state.db, id, from, to, now).await?;
    Ok((data, from, to))
}

/// A room's slots from `from` to `to`, each free or not (free: bookable first-come now). No
/// personal data, no sign-in; cacheable for five minutes.
#[utoipa::path(
    get, path = "/api/v1/opendata/rooms/{id}/availability.json", tag = "opendata",
    params(("id" = i32, Path, description = "Room id"), OpenAvailabilityQuery),
    responses(
        (status = 200, body = OpenAvailability),
        (status = 400, body = crate::http::error::ErrorResponse, description = "a malformed id or date; `fields` names it"),
        (status = 404, body = crate::http::error::ErrorResponse),
        (status = 422, body = crate::http::error::ErrorResponse, description = "`to` before `from`, or over 62 days"),
    )
)]
pub async fn room_availability_json(
    State(state): State<AppState>,
    ValidPath(RoomPath { id }): ValidPath<RoomPath>,
    ValidQuery(query): ValidQuery<OpenAvailabilityQuery>,
) -> Result<Response, AppError> {
    let (data, from, to) = load(&state, id, &query).await?;
    let body = OpenAvailability::new(&data, from, to, Utc::now());
    Ok(public(
        Json(body).into_response(),
        "application/json",
        AVAILABILITY_CACHE,
    ))
}

/// The same as iCalendar (RFC 5545) to subscribe to: one event per FREE slot (busy, closed
/// and lottery slots are left out), times in UTC, UID `slot-<id>@<host>` stable per slot.
#[utoipa::path(
    get, path = "/api/v1/opendata/rooms/{id}/availability.ics", tag = "opendata",
    params(("id" = i32, Path, description = "Room id"), OpenAvailabilityQuery),
    responses(
        (status = 200, content_type = "text/calendar", body = String, description = "iCalendar of the free slots"),
        (status = 400, body = crate::http::error::ErrorResponse),
        (status = 404, body = crate::http::error::ErrorResponse),
        (status = 422, body = crate::http::error::ErrorResponse),
    )
)]
pub async fn room_availability_ics(
    State(state): State<AppState>,
    ValidPath(RoomPath { id }): ValidPath<RoomPath>,
    ValidQuery(query): ValidQuery<OpenAvailabilityQuery>,
) -> Result<Response, AppError> {
    let (data, _, _) = load(&state, id, &query).await?;
    let body = availability_ics(&data, &state.settings.public_base_url(), Utc::now());
    Ok(public(
        body.into_response(),
        "text/calendar; charset=utf-8",
        AVAILABILITY_CACHE,
    ))
}

#[derive(Template)]
#[template(path = "opendata.html")]
struct OpenDataPage<'a> {
    c: &'a Chrome,
}

/// `GET /opendata`: what is published and where, for people and for integrators.
pub async fn opendata_page(c: Chrome) -> Response {
    c.respond(StatusCode::OK, &OpenDataPage { c: &c })
}
