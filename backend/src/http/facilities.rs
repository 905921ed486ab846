//! `GET /facilities`, `/facilities/{id}`, `/facilities/{id}/rooms`, `/rooms/{id}`, `/wards`.

use axum::Json;
use axum::extract::State;

use super::error::{AppError, ErrorResponse};
use super::extract::{IdParam, ValidPath, ValidQuery};
use crate::services::facilities::{self, FacilityFilter};
use crate::state::AppState;
use crate::views::ListResponse;
use crate::views::facility::{
    FacilityQuery, FacilityResponse, FacilitySummary, RoomResponse, WardResponse,
};

const DEFAULT_PER_PAGE: u64 = 100;
const MAX_PER_PAGE: u64 = 200;
/// Far beyond any real list; keeps the offset arithmetic in range.
const MAX_PAGE: u64 = 100_000;

/// List facilities, filtered by ward, kind and free text.
#[utoipa::path(
    get, path = "/api/v1/facilities", tag = "facilities",
    params(FacilityQuery),
    responses(
        (status = 200, description = "Facilities that match", body = ListResponse<FacilitySummary>),
        (status = 400, description = "A filter is malformed or unknown; `fields` names it", body = ErrorResponse),
    )
)]
pub async fn list_facilities(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<FacilityQuery>,
) -> Result<Json<ListResponse<FacilitySummary>>, AppError> {
    let filter = facility_filter(query)?;
    let (items, total) = facilities::list_facilities(&state.db, &filter).await?;
    Ok(Json(ListResponse { items, total }))
}

fn facility_filter(query: FacilityQuery) -> Result<FacilityFilter, AppError> {
    let page = query.page.unwrap_or(1);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(AppError::invalid_field(
            "page",
            format!("pages are numbered from 1 to {MAX_PAGE}"),
        ));
    }
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(AppError::invalid_field(
            "per_page",
            format!("must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    let text = query
        .q
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    Ok(FacilityFilter {
        ward: query.ward,
        kind: query.kind,
        text,
        page,
        per_page,
    })
}

/// One facility.
#[utoipa::path(
    get, path = "/api/v1/facilities/{id}", tag = "facilities",
    params(("id" = i32, Path, description = "Facility id")),
    responses(
        (status = 200, body = FacilityResponse),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 404, description = "No such facility", body = ErrorResponse),
    )
)]
pub async fn get_facility(
    State(state): State<AppState>,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
) -> Result<Json<FacilityResponse>, AppError> {
    Ok(Json(facilities::get_facility(&state.db, id).await?))
}

/// A facility's rooms: each divisible whole is followed by its halves.
#[utoipa::path(
    get, path = "/api/v1/facilities/{id}/rooms", tag = "facilities",
    params(("id" = i32, Path, description = "Facility id")),
    responses(
        (status = 200, body = ListResponse<RoomResponse>),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 404, description = "No such facility", body = ErrorResponse),
    )
)]
pub async fn list_facility_rooms(
    State(state): State<AppState>,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
) -> Result<Json<ListResponse<RoomResponse>>, AppError> {
    let items = facilities::list_rooms(&state.db, id).await?;
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}

/// One room.
#[utoipa::path(
    get, path = "/api/v1/rooms/{id}", tag = "facilities",
    params(("id" = i32, Path, description = "Room id")),
    responses(
        (status = 200, body = RoomResponse),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 404, description = "No such room", body = ErrorResponse),
    )
)]
pub async fn get_room(
    State(state): State<AppState>,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
) -> Result<Json<RoomResponse>, AppError> {
    Ok(Json(facilities::get_room(&state.db, id).await?))
}

/// The city's wards.
#[utoipa::path(
    get, path = "/api/v1/wards", tag = "facilities",
    responses((status = 200, body = ListResponse<WardResponse>))
)]
pub async fn list_wards(
    State(state): State<AppState>,
) -> Result<Json<ListResponse<WardResponse>>, AppError> {
    let items = facilities::list_wards(&state.db).await?;
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}
