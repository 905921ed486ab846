//! Request and response types of the console's calendar area: the rooms × days calendar,
//! closures (preview, then confirm), blocks for official use, and slot setup (templates,
//! seasons, equipment, regeneration with its preview).

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::console_calendar::PeriodInput;

/// `GET /admin/calendar` parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CalendarQuery {
    /// The facility (default: the first one this person is assigned to; an administrator's
    /// first facility).
    pub facility_id: Option<i32>,
    /// Only this room (and its halves or whole).
    pub room_id: Option<i32>,
    /// Only rooms of this kind (`gymnasium`, `hall`, …).
    pub kind: Option<String>,
    /// First day, `YYYY-MM-DD` (default: today in Japan).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (default: six days after `from`; at most 31 days in all).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// What a slot is, as staff see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CalendarSlotState {
    /// On sale and not taken.
    Free,
    /// Taken by a booking (`booking` says whose, paid or not, checked in or not).
    Booked,
    /// Closed by a closure (`closure_id`), or no longer on sale.
    Closed,
    /// Blocked for official use (`block_id`).
    Blocked,
    /// Free but held for a lottery round of its month: residents apply, they do not book.
    Lottery,
}

impl CalendarSlotState {
    pub fn code(self) -> &'static str {
        match self {
            CalendarSlotState::Free => "free",
            CalendarSlotState::Booked => "booked",
            CalendarSlotState::Closed => "closed",
            CalendarSlotState::Blocked => "blocked",
            CalendarSlotState::Lottery => "lottery",
        }
    }
}

/// The booking that takes a slot (personal data: showing it is audited).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarBooking {
    pub id: i64,
    /// The room booked: this room, or its whole or a half that shares the floor.
    pub room_id: i32,
    /// `awaiting_payment`, `confirmed`, `checked_in`.
    pub state: String,
    /// The holder's name.
    pub holder_name: String,
    /// Paid (or nothing to pay): the booking is confirmed or checked in.
    pub paid: bool,
    pub checked_in: bool,
    /// `online` or `counter`.
    pub channel: String,
}

/// One slot of the calendar.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarSlot {
    pub id: i64,
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: DateTime<FixedOffset>,
    pub band: String,
    pub state: CalendarSlotState,
    pub booking: Option<CalendarBooking>,
    pub closure_id: Option<i32>,
    pub block_id: Option<i32>,
}

/// One room's row of the calendar.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarRoom {
    pub id: i32,
    pub name: String,
    pub name_en: String,
    pub kind: String,
    pub parent_room_id: Option<i32>,
    pub slots: Vec<CalendarSlot>,
}

/// A facility in the console's choice list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FacilityChoice {
    pub id: i32,
    pub name: String,
    pub name_en: String,
}

/// `GET /admin/calendar`: rooms × days.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarResponse {
    pub facility: FacilityChoice,
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// Every day from `from` to `to`.
    #[schema(value_type = Vec<String>)]
    pub days: Vec<NaiveDate>,
    pub rooms: Vec<CalendarRoom>,
}

/// `POST /admin/closures/preview` and `POST /admin/closures`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureRequest {
    pub facility_id: i32,
    /// One room (with its halves or whole); absent closes the whole facility.
    pub room_id: Option<i32>,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    /// Inclusive; at most 366 days after `starts_on`.
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    /// `maintenance`, `weather` or `event`.
    pub kind: String,
    /// Mailed to the holders of the cancelled bookings (1–200 characters).
    pub reason: String,
    /// Required (true) when the preview listed bookings: they will be cancelled and refunded.
    #[serde(default)]
    pub confirm: bool,
    /// The booking ids the preview listed; the closure is refused (409 `affected_set_changed`)
    /// when the bookings affected now are not exactly these.
    #[serde(default)]
    pub expected_booking_ids: Option<Vec<i64>>,
}

/// A booking a closure cancels (personal data: the preview is audited).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AffectedBooking {
    pub id: i64,
    pub room_id: i32,
    pub room_name: String,
    pub room_name_en: String,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: DateTime<FixedOffset>,
    pub holder_name: String,
    pub state: String,
    /// What is refunded in full (all that was paid and not yet refunded).
    pub refund_yen: i64,
}

/// What a closure would do.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClosurePreview {
    pub facility_id: i32,
    pub room_id: Option<i32>,
    /// Every room that closes (a half takes its whole, a whole both halves).
    pub room_ids: Vec<i32>,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    pub kind: String,
    /// Slots taken out of sale.
    pub slots_to_close: u64,
    pub affected: Vec<AffectedBooking>,
    pub affected_count: u64,
    pub refund_total_yen: i64,
    /// Whether confirming needs `confirm: true` and `expected_booking_ids`.
    pub needs_confirmation: bool,
}

/// A closure as recorded.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClosureItem {
    pub id: i32,
    pub facility_id: i32,
    pub room_id: Option<i32>,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    pub kind: String,
    pub reason: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<crate::entities::closure::Model> for ClosureItem {
    fn from(c: crate::entities::closure::Model) -> Self {
        ClosureItem {
            id: c.id,
            facility_id: c.facility_id,
            room_id: c.room_id,
            starts_on: c.starts_on,
            ends_on: c.ends_on,
            kind: c.kind,
            reason: c.reason,
            created_at: c.created_at,
        }
    }
}

/// A booking the closure cancelled.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CancelledBooking {
    pub id: i64,
    pub refund_yen: i64,
}

/// `POST /admin/closures`: what was done.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClosureResponse {
    pub closure: ClosureItem,
    pub slots_closed: u64,
    pub cancelled: Vec<CancelledBooking>,
    pub refund_total_yen: i64,
}

/// `GET /admin/closures` and `GET /admin/blocks` parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FacilityQuery {
    /// The facility (default: the first one this person may manage).
    pub facility_id: Option<i32>,
}

/// `POST /admin/blocks`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    pub room_id: i32,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    /// Inclusive.
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    /// `HH:MM`: slots wholly inside `starts`–`ends` are blocked.
    pub starts: String,
    pub ends: String,
    pub reason: String,
}

/// A block for official use.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BlockItem {
    pub id: i32,
    pub facility_id: i32,
    pub room_id: i32,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    pub starts: String,
    pub ends: String,
    pub reason: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<crate::entities::slot_block::Model> for BlockItem {
    fn from(b: crate::entities::slot_block::Model) -> Self {
        use crate::domain::calendar::format_minute_of_day;
        BlockItem {
            id: b.id,
            facility_id: b.facility_id,
            room_id: b.room_id,
            starts_on: b.starts_on,
            ends_on: b.ends_on,
            starts: format_minute_of_day(b.starts_minute),
            ends: format_minute_of_day(b.ends_minute),
            reason: b.reason,
            created_at: b.created_at,
        }
    }
}

/// `POST /admin/blocks`: the block and how many slots it took out of sale.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BlockResponse {
    pub block: BlockItem,
    pub slots_blocked: u64,
}

/// `GET /admin/closures`: the facility's closures and blocks still to come.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClosureList {
    pub facility: FacilityChoice,
    pub closures: Vec<ClosureItem>,
    pub blocks: Vec<BlockItem>,
}

/// A slot template as a room uses it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: i32,
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// Other rooms (outside this room and its halves) use it too: editing the room's periods
    /// gives the room a copy of its own first, so the others do not change.
    pub shared: bool,
}

/// A rentable item (付帯設備).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EquipmentView {
    pub id: i32,
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub fee_yen: i32,
    pub quantity: i32,
}

impl From<crate::entities::equipment::Model> for EquipmentView {
    fn from(e: crate::entities::equipment::Model) -> Self {
        EquipmentView {
            id: e.id,
            code: e.code,
            name: e.name,
            name_en: e.name_en,
            fee_yen: e.fee_yen,
            quantity: e.quantity,
        }
    }
}

/// A room's slot setup: template, periods (with their seasons), priced bands, equipment.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RoomSetup {
    pub id: i32,
    pub name: String,
    pub name_en: String,
    pub kind: String,
    /// Its halves (they follow the whole's template).
    pub half_ids: Vec<i32>,
    pub template: TemplateView,
    #[schema(value_type = Vec<Object>)]
    pub periods: Vec<PeriodInput>,
    /// The bands the room has a price for; a period's band must be one of them.
    pub bands: Vec<String>,
    pub equipment: Vec<EquipmentView>,
}

/// `GET /admin/setup`: a facility's rooms with their setup.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FacilitySetup {
    pub facility: FacilityChoice,
    pub rooms: Vec<RoomSetup>,
}

/// `PUT /admin/rooms/{id}/periods`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodsRequest {
    /// Each `{season_from: "MM-DD", season_to, day_type: any|weekday|weekend_holiday,
    /// starts: "HH:MM", ends, band, lighting}`.
    #[schema(value_type = Vec<Object>)]
    pub periods: Vec<PeriodInput>,
}

/// `POST /admin/rooms/{id}/equipment` and `PUT /admin/equipment/{id}`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EquipmentRequest {
    /// Only when adding: a short code unique in the room (letters, digits, `_`, `-`).
    pub code: Option<String>,
    pub name: String,
    pub name_en: String,
    /// Per slot, whole yen, 0–1,000,000.
    pub fee_yen: i32,
    /// How many the room has, 1–1,000.
    pub quantity: i32,
}

/// `POST /admin/regeneration/preview` and `POST /admin/regeneration`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerationRequest {
    pub facility_id: i32,
    /// Only this room (and its halves).
    pub room_id: Option<i32>,
    /// Default tomorrow; never before it (slots of today and before are history).
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Default: the end of the slot window (`slot_window_days` ahead).
    #[schema(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// A slot regeneration keeps because a booking held it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct KeptSlot {
    pub slot_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: DateTime<FixedOffset>,
}

/// What regeneration changes in one room.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RoomChanges {
    pub room_id: i32,
    pub name: String,
    pub name_en: String,
    pub to_add: u64,
    pub to_remove: u64,
    pub kept: Vec<KeptSlot>,
}

/// What regeneration would change (preview) or changed (apply).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RegenerationReport {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub applied: bool,
    pub to_add: u64,
    pub to_remove: u64,
    pub kept: u64,
    /// Rooms with a change or a kept slot.
    pub rooms: Vec<RoomChanges>,
}
