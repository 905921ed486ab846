//! Booking requests and responses.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::pricing::{Purpose, Quote, Residency};

/// One piece of equipment to rent with the room.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct EquipmentRequest {
    /// The equipment's code (see the room's `equipment`).
    pub code: String,
    /// How many, at least 1.
    pub quantity: i32,
}

/// `POST /bookings` (and `POST /bookings/quote`, which prices without booking).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBookingRequest {
    pub room_id: i32,
    /// One or more consecutive slots of the room, in any order.
    pub slot_ids: Vec<i64>,
    /// What the room is used for (e.g. バドミントン練習), shown to staff.
    pub purpose: String,
    /// How many people will come.
    pub attendees: i32,
    /// The registered group (団体) the booking is for; only its representative may name it.
    /// Rooms that require a group (e.g. baseball fields) need one.
    #[serde(default)]
    pub group_id: Option<i32>,
    /// `ordinary` (default), `admission_event` or `commercial`; prices differ.
    #[serde(default)]
    pub purpose_kind: Option<Purpose>,
    #[serde(default)]
    pub equipment: Vec<EquipmentRequest>,
}

/// A booking.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BookingResponse {
    pub id: i64,
    /// The group the booking is for, if any.
    pub group_id: Option<i32>,
    /// `awaiting_payment`, `confirmed`, `cancelled`, `expired`, `checked_in` or `no_show`.
    pub state: String,
    pub room_id: i32,
    pub slot_ids: Vec<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: DateTime<FixedOffset>,
    pub purpose: String,
    pub purpose_kind: Purpose,
    pub attendees: i32,
    pub residency: Residency,
    pub total_yen: i64,
    /// The fee breakdown.
    pub quote: Quote,
    /// Unpaid bookings are cancelled after this instant and their slots released.
    #[schema(value_type = String, format = DateTime)]
    pub pay_by: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<FixedOffset>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<DateTime<FixedOffset>>,
    /// What the cancellation rules give back.
    pub refund_yen: Option<i64>,
    /// `online` (booked by the person) or `counter` (booked by staff at the facility's counter
    /// on the person's behalf).
    #[serde(default = "online")]
    pub channel: String,
}

/// Answers stored before `channel` existed were all online bookings.
fn online() -> String {
    "online".to_owned()
}

/// The result of a cancellation.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelResponse {
    pub booking: BookingResponse,
    /// Percent of the paid amount given back under the refund tiers.
    pub refund_percent: u32,
    /// Yen given back (0 when nothing was paid yet).
    pub refund_yen: i64,
}

/// The price of a booking before making it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteResponse {
    pub room_id: i32,
    /// In time order.
    pub slot_ids: Vec<i64>,
    /// How the person is priced.
    pub residency: Residency,
    pub total_yen: i64,
    /// The fee breakdown, line by line.
    pub quote: Quote,
    /// When it would have to be paid if booked now.
    #[schema(value_type = String, format = DateTime)]
    pub pay_by: DateTime<FixedOffset>,
}
