//! `GET /rooms/{id}/slots` and `GET /availability`.

use axum::Json;
use axum::extract::State;
use chrono::{Duration, NaiveDate, Utc};

use super::error::{AppError, ErrorResponse};
use super::extract::{IdParam, ValidPath, ValidQuery};
use crate::domain::calendar::{parse_minute_of_day, tokyo_date};
use crate::services::availability::{self, MAX_LISTING_DAYS, MAX_SEARCH_DAYS, SlotSearch};
use crate::services::facilities::find_ward;
use crate::state::AppState;
use crate::views::ListResponse;
use crate::views::availability::{AvailabilityQuery, AvailabilityRoom, SlotQuery, SlotResponse};

/// Check `from..=to` and fill defaults: `from` today, `to` from + `default_days`.
fn date_range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    default_days: i64,
    max_days: i64,
) -> Result<(NaiveDate, NaiveDate), AppError> {
    let from = from.unwrap_or_else(|| tokyo_date(Utc::now()));
    let to = to.unwrap_or(from + Duration::days(default_days));
    if to < from {
        return Err(AppError::invalid_field("to", "must not be before `from`"));
    }
    if (to - from).num_days() > max_days {
        return Err(AppError::invalid_field(
            "to",
            format!("at most {max_days} days after `from`"),
        ));
    }
    Ok((from, to))
}

/// A room's slots with their state and resident price.
#[utoipa::path(
    get, path = "/api/v1/rooms/{id}/slots", tag = "availability",
    params(("id" = i32, Path, description = "Room id"), SlotQuery),
    responses(
        (status = 200, body = ListResponse<SlotResponse>),
        (status = 400, description = "Malformed id or dates; `fields` names them", body = ErrorResponse),
        (status = 404, description = "No such room", body = ErrorResponse),
    )
)]
pub async fn list_room_slots(
    State(state): State<AppState>,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
    ValidQuery(query): ValidQuery<SlotQuery>,
) -> Result<Json<ListResponse<SlotResponse>>, AppError> {
    let (from, to) = date_range(query.from, query.to, 6, MAX_LISTING_DAYS)?;
    let items = availability::room_slots(&state.db, id, from, to, Utc::now()).await?;
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}

/// Free slots across the city, by kind of room, ward, dates, time of day and capacity.
#[utoipa::path(
    get, path = "/api/v1/availability", tag = "availability",
    params(AvailabilityQuery),
    responses(
        (status = 200, description = "Rooms with free slots, each with those slots", body = ListResponse<AvailabilityRoom>),
        (status = 400, description = "A filter is malformed; `fields` names it", body = ErrorResponse),
    )
)]
pub async fn search_availability(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<AvailabilityQuery>,
) -> Result<Json<ListResponse<AvailabilityRoom>>, AppError> {
    let (from, to) = date_range(query.from, query.to, 0, MAX_SEARCH_DAYS)?;
    let minute = |field: &str, value: Option<String>| -> Result<Option<i16>, AppError> {
        value
            .map(|v| {
                parse_minute_of_day(&v)
                    .ok_or_else(|| AppError::invalid_field(field, "must be a time HH:MM"))
            })
            .transpose()
    };
    let ward_id = match &query.ward {
        Some(key) => Some(find_ward(&state.db, key).await?.id),
        None => None,
    };
    if query.min_capacity.is_some_and(|c| c < 1) {
        return Err(AppError::invalid_field(
            "min_capacity",
            "must be at least 1",
        ));
    }
    let search = SlotSearch {
        kind: query.kind,
        ward_id,
        from,
        to,
        starts_after_minute: minute("starts_after", query.starts_after)?,
        ends_before_minute: minute("ends_before", query.ends_before)?,
        min_capacity: query.min_capacity,
    };
    let items = availability::search_free_slots(&state.db, &search, Utc::now()).await?;
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}
