//! Slots and free-slot search results as the API shows them.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::kinds::RoomKind;

/// What a slot can be booked as right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlotState {
    /// Free to book.
    Available,
    /// Taken by a booking that awaits payment.
    Held,
    /// Taken by a paid booking.
    Booked,
    /// Not bookable: a closure, already begun, or no price set.
    Closed,
    /// Allocated by lottery; first-come booking has not opened.
    Lottery,
    /// Booking for this date has not opened yet.
    NotOpen,
}

/// One slot (コマ).
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotResponse {
    pub id: i64,
    /// RFC 3339 in Japan time (+09:00).
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: DateTime<FixedOffset>,
    /// Price band (e.g. `morning`, `day`, `night`).
    pub band: String,
    /// Needs lighting (夜間照明).
    pub lighting: bool,
    pub state: SlotState,
    /// What a resident pays for this slot for ordinary use (weekend and holiday rates applied);
    /// non-residents and other purposes are quoted at booking.
    pub price_yen: Option<i64>,
}

/// `GET /rooms/{id}/slots` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlotQuery {
    /// First date, `YYYY-MM-DD` (default: today in Japan).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last date, inclusive (default: a week after `from`; at most 62 days after it).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// `GET /availability` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// Kind of room, e.g. `court`.
    pub kind: Option<RoomKind>,
    /// Ward (code, English or Japanese name).
    pub ward: Option<String>,
    /// First date, `YYYY-MM-DD` (default: today in Japan).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last date, inclusive (default: `from`; at most 7 days after it).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    /// Slots starting at or after this local time, `HH:MM` (e.g. `09:00` for "morning").
    pub starts_after: Option<String>,
    /// Slots ending at or before this local time, `HH:MM` (e.g. `12:00`).
    pub ends_before: Option<String>,
    /// Rooms holding at least this many people.
    pub min_capacity: Option<i32>,
}

/// A room with free slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityRoom {
    pub room_id: i32,
    pub room_name: String,
    pub room_name_en: String,
    pub kind: RoomKind,
    pub capacity: i32,
    pub facility_id: i32,
    pub facility_name: String,
    pub facility_name_en: String,
    pub ward_code: String,
    pub ward_name: String,
    pub slots: Vec<SlotResponse>,
}
