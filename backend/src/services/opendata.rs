//! Open data, readable without signing in: the facility list (公共施設一覧) and each room's
//! availability. Nothing here touches personal data: the list is the facilities' public
//! details, and availability says only whether each slot is free, never who holds it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::local_government_code::{CodeError, with_check_digit};
use crate::domain::opendata::ClosingDay;
use crate::entities::{city, facility, regular_closing_day, room};
use crate::services::availability;
use crate::services::facilities::CatalogError;
use crate::views::availability::SlotResponse;

/// Why the open data could not be made.
#[derive(Debug, thiserror::Error)]
pub enum OpenDataError {
    /// The deployment has no city row (it was never seeded).
    #[error("no city is configured")]
    NoCity,
    /// The city's stored code is not a valid 全国地方公共団体コード.
    #[error("the city's code: {0}")]
    CityCode(#[from] CodeError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The city that publishes the data, with its six-digit code checked.
#[derive(Clone, Debug)]
pub struct Publisher {
    /// 全国地方公共団体コード, six digits with the check digit.
    pub code: String,
    pub city: city::Model,
}

/// One facility of the list, with what its cells are made from.
#[derive(Clone, Debug)]
pub struct FacilityEntry {
    pub facility: facility::Model,
    pub closing_days: Vec<ClosingDay>,
    /// The names of its rooms (wholes and plain rooms, not halves), in code order.
    pub rooms: Vec<String>,
}

/// The publisher and every facility, in code order (three queries whatever their number).
pub async fn facility_list(
    db: &impl ConnectionTrait,
) -> Result<(Publisher, Vec<FacilityEntry>), OpenDataError> {
    let city = city::Entity::find()
        .one(db)
        .await?
        .ok_or(OpenDataError::NoCity)?;
    let code = with_check_digit(&city.code)?;
    let facilities = facility::Entity::find()
        .order_by_asc(facility::Column::Code)
        .all(db)
        .await?;
    let mut closing: BTreeMap<i32, Vec<ClosingDay>> = BTreeMap::new();
    for day in regular_closing_day::Entity::find()
        .order_by_asc(regular_closing_day::Column::Id)
        .all(db)
        .await?
    {
        closing
            .entry(day.facility_id)
            .or_default()
            .push(ClosingDay {
                weekday: day.weekday,
                nth_of_month: day.nth_of_month,
            });
    }
    let mut rooms: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for r in room::Entity::find()
        .filter(room::Column::ParentRoomId.is_null())
        .order_by_asc(room::Column::Code)
        .all(db)
        .await?
    {
        rooms.entry(r.facility_id).or_default().push(r.name);
    }
    let entries = facilities
        .into_iter()
        .map(|f| FacilityEntry {
            closing_days: closing.remove(&f.id).unwrap_or_default(),
            rooms: rooms.remove(&f.id).unwrap_or_default(),
            facility: f,
        })
        .collect();
    Ok((Publisher { code, city }, entries))
}

/// A room's availability for the open-data feeds.
#[derive(Debug)]
pub struct RoomAvailability {
    pub room: room::Model,
    pub facility: facility::Model,
    /// Every slot of the days asked for, with its state (free is `available`).
    pub slots: Vec<SlotResponse>,
}

/// The slots of `room_id` from `from` to `to` (inclusive), as the resident's calendar sees
/// them (`services::availability::room_slots`), with the room and its facility.
pub async fn room_availability(
    db: &impl ConnectionTrait,
    room_id: i32,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<RoomAvailability, CatalogError> {
    let room = room::Entity::find_by_id(room_id)
        .one(db)
        .await?
        .ok_or(CatalogError::NotFound("room"))?;
    let facility = facility::Entity::find_by_id(room.facility_id)
        .one(db)
        .await?
        .ok_or(CatalogError::NotFound("facility"))?;
    let slots = availability::room_slots(db, room_id, from, to, now).await?;
    Ok(RoomAvailability {
        room,
        facility,
        slots,
    })
}
