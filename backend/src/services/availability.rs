//! What residents see before booking: a room's slots with their state and price, and a city-wide
//! search for free slots ("free tennis courts on Saturday morning in any ward").

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};

use crate::domain::booking::BookingState;
use crate::domain::calendar::{tokyo, tokyo_instant};
use crate::domain::kinds::RoomKind;
use crate::entities::{booking, facility, room, room_unit_coverage, slot, slot_claim, ward};
use crate::services::facilities::CatalogError;
use crate::services::prices::PriceBook;
use crate::views::availability::{AvailabilityRoom, SlotResponse, SlotState};

/// The longest range one slot listing covers.
pub const MAX_LISTING_DAYS: i64 = 62;
/// The longest range a city-wide search covers.
pub const MAX_SEARCH_DAYS: i64 = 7;

/// The state a slot shows: taken (held while unpaid, booked once paid) when any unit of its room
/// is claimed at its start; closed for a closure or once it has begun; otherwise available.
/// (Booking phases add `lottery` and `not_open` with the lottery work.)
fn state_of(
    slot: &slot::Model,
    now: DateTime<Utc>,
    taken: &HashMap<(i32, DateTime<Utc>), SlotState>,
) -> SlotState {
    if let Some(state) = taken.get(&(slot.room_id, slot.starts_at)) {
        return *state;
    }
    if slot.status == "closed" || slot.starts_at <= now {
        SlotState::Closed
    } else {
        SlotState::Available
    }
}

/// The claims on any unit `rooms` cover whose slot starts between `from` and `to` (Tokyo days,
/// inclusive), and for each claimed unit the rooms among `rooms` that cover it: what a room's
/// availability needs, since a half's booking takes its whole and a whole's both halves.
pub(crate) async fn claims_touching(
    db: &impl ConnectionTrait,
    rooms: &[i32],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Vec<slot_claim::Model>, HashMap<i32, Vec<i32>>), DbErr> {
    let coverage = room_unit_coverage::Entity::find()
        .filter(room_unit_coverage::Column::RoomId.is_in(rooms.to_vec()))
        .all(db)
        .await?;
    let units: Vec<i32> = coverage
        .iter()
        .map(|c| c.unit_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let claims = slot_claim::Entity::find()
        .filter(slot_claim::Column::UnitId.is_in(units))
        .filter(slot_claim::Column::StartsAt.gte(tokyo_instant(from, 0)))
        .filter(slot_claim::Column::StartsAt.lt(tokyo_instant(to, 1440)))
        .all(db)
        .await?;
    let mut rooms_of_unit: HashMap<i32, Vec<i32>> = HashMap::new();
    for c in &coverage {
        rooms_of_unit.entry(c.unit_id).or_default().push(c.room_id);
    }
    Ok((claims, rooms_of_unit))
}

/// Which (room, start) pairs are taken, for `rooms` between `from` and `to`: a room is taken when
/// any unit it covers is claimed (a half's booking takes its whole, a whole's both halves).
async fn taken_slots(
    db: &impl ConnectionTrait,
    rooms: &[i32],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<(i32, DateTime<Utc>), SlotState>, DbErr> {
    let (claims, rooms_of_unit) = claims_touching(db, rooms, from, to).await?;
    let booking_ids: Vec<i64> = claims
        .iter()
        .map(|c| c.booking_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let paid: HashSet<i64> = booking::Entity::find()
        .filter(booking::Column::Id.is_in(booking_ids))
        .filter(booking::Column::State.ne(BookingState::AwaitingPayment.code()))
        .all(db)
        .await?
        .into_iter()
        .map(|b| b.id)
        .collect();
    let mut taken = HashMap::new();
    for claim in claims {
        let state = if paid.contains(&claim.booking_id) {
            SlotState::Booked
        } else {
            SlotState::Held
        };
        for room in rooms_of_unit.get(&claim.unit_id).into_iter().flatten() {
            let entry = taken.entry((*room, claim.starts_at)).or_insert(state);
            if state == SlotState::Booked {
                *entry = SlotState::Booked;
            }
        }
    }
    Ok(taken)
}

fn to_response(slot: &slot::Model, state: SlotState, price_yen: Option<i64>) -> SlotResponse {
    SlotResponse {
        id: slot.id,
        starts_at: slot.starts_at.with_timezone(&tokyo()),
        ends_at: slot.ends_at.with_timezone(&tokyo()),
        band: slot.band.clone(),
        lighting: slot.lighting,
        state,
        price_yen,
    }
}

/// A room's slots from `from` to `to` inclusive, in time order.
pub async fn room_slots(
    db: &impl ConnectionTrait,
    room_id: i32,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<SlotResponse>, CatalogError> {
    if room::Entity::find_by_id(room_id).one(db).await?.is_none() {
        return Err(CatalogError::NotFound("room"));
    }
    let slots = slot::Entity::find()
        .filter(slot::Column::RoomId.eq(room_id))
        .filter(slot::Column::ServiceDate.between(from, to))
        .filter(starts_within(from, to))
        .order_by_asc(slot::Column::StartsAt)
        .all(db)
        .await?;
    let prices = PriceBook::load(db, vec![room_id], from, to).await?;
    let taken = taken_slots(db, &[room_id], from, to).await?;
    let lottery = crate::services::lottery::months_held(db, &[room_id], now).await?;
    Ok(slots
        .iter()
        .map(|s| {
            let state = state_of(s, now, &taken);
            // A free slot in a month a lottery round holds: apply through the lottery.
            let month = chrono::Datelike::with_day(&s.service_date, 1).unwrap_or(s.service_date);
            let state = if state == SlotState::Available && lottery.contains(&(s.room_id, month)) {
                SlotState::Lottery
            } else {
                state
            };
            let price = prices.resident_price(s);
            // Without a price a slot cannot be booked.
            let state = if price.is_none() && state == SlotState::Available {
                SlotState::Closed
            } else {
                state
            };
            to_response(s, state, price)
        })
        .collect())
}

/// Slots that start on the days `from`..=`to` (Japan time). Said as well as the service date
/// because it is what the `(room_id, starts_at)` index can use: with only the date, a room's
/// every future slot (half a year of them) is read and most thrown away.
fn starts_within(from: NaiveDate, to: NaiveDate) -> Condition {
    Condition::all()
        .add(slot::Column::StartsAt.gte(tokyo_instant(from, 0)))
        .add(slot::Column::StartsAt.lt(tokyo_instant(to, 1440)))
}

/// A city-wide search for free slots.
#[derive(Debug, Clone)]
pub struct SlotSearch {
    pub kind: Option<RoomKind>,
    pub ward_id: Option<i32>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Minutes of the day: slots that start at or after this time.
    pub starts_after_minute: Option<i16>,
    /// Minutes of the day: slots that end at or before this time.
    pub ends_before_minute: Option<i16>,
    pub min_capacity: Option<i32>,
}

/// Rooms with free slots matching `search`, each with those slots, ordered by ward and facility.
///
/// The rooms that match (a few hundred at most, from the small catalogue tables) are read first,
/// then their open slots in one query on the `(room_id, starts_at)` index. Joining rooms to every
/// slot row instead decoded the same room again for each of its slots, most of the search's time.
pub async fn search_free_slots(
    db: &impl ConnectionTrait,
    search: &SlotSearch,
    now: DateTime<Utc>,
) -> Result<Vec<AvailabilityRoom>, CatalogError> {
    let mut room_condition = Condition::all();
    if let Some(kind) = search.kind {
        room_condition = room_condition.add(room::Column::Kind.eq(kind.code()));
    }
    if let Some(min) = search.min_capacity {
        room_condition = room_condition.add(room::Column::Capacity.gte(min));
    }
    if let Some(ward_id) = search.ward_id {
        room_condition = room_condition.add(facility::Column::WardId.eq(ward_id));
    }
    let rooms: HashMap<i32, room::Model> = room::Entity::find()
        .join(sea_orm::JoinType::InnerJoin, room::Relation::Facility.def())
        .filter(room_condition)
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    if rooms.is_empty() {
        return Ok(Vec::new());
    }
    let room_ids: Vec<i32> = rooms.keys().copied().collect();
    let in_time_window = |s: &slot::Model| {
        let starts = tokyo_instant(s.service_date, search.starts_after_minute.unwrap_or(0));
        let ends = tokyo_instant(s.service_date, search.ends_before_minute.unwrap_or(1440));
        s.starts_at >= starts && s.ends_at <= ends
    };
    let slots: Vec<slot::Model> = slot::Entity::find()
        .filter(slot::Column::RoomId.is_in(room_ids.clone()))
        .filter(slot::Column::ServiceDate.between(search.from, search.to))
        .filter(starts_within(search.from, search.to))
        .filter(slot::Column::Status.eq("open"))
        .filter(slot::Column::StartsAt.gt(now))
        .all(db)
        .await?
        .into_iter()
        .filter(in_time_window)
        .collect();
    let facility_ids: Vec<i32> = rooms
        .values()
        .map(|r| r.facility_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let facilities: HashMap<i32, (facility::Model, Option<ward::Model>)> = facility::Entity::find()
        .filter(facility::Column::Id.is_in(facility_ids))
        .find_also_related(ward::Entity)
        .all(db)
        .await?
        .into_iter()
        .map(|(f, w)| (f.id, (f, w)))
        .collect();
    let taken = taken_slots(db, &room_ids, search.from, search.to).await?;
    let prices = PriceBook::load(db, room_ids, search.from, search.to).await?;
    // Ordered by ward, facility, room and time, as the list reads.
    let mut rows: Vec<(&slot::Model, &room::Model, Option<i32>)> = slots
        .iter()
        .filter_map(|s| {
            let r = rooms.get(&s.room_id)?;
            let ward = facilities.get(&r.facility_id).map(|(f, _)| f.ward_id);
            Some((s, r, ward))
        })
        .collect();
    rows.sort_by_key(|(s, r, ward)| (*ward, r.facility_id, r.id, s.starts_at));
    let mut results: Vec<AvailabilityRoom> = Vec::new();
    for (s, r, _) in rows {
        if taken.contains_key(&(r.id, s.starts_at)) {
            continue;
        }
        let Some(price) = prices.resident_price(s) else {
            continue;
        };
        let slot = to_response(s, SlotState::Available, Some(price));
        match results.last_mut() {
            Some(last) if last.room_id == r.id => last.slots.push(slot),
            _ => {
                let Some((f, w)) = facilities.get(&r.facility_id) else {
                    continue;
                };
                results.push(AvailabilityRoom {
                    room_id: r.id,
                    room_name: r.name.clone(),
                    room_name_en: r.name_en.clone(),
                    kind: r.kind.parse().unwrap_or(RoomKind::MeetingRoom),
                    capacity: r.capacity,
                    facility_id: f.id,
                    facility_name: f.name.clone(),
                    facility_name_en: f.name_en.clone(),
                    ward_code: w.as_ref().map(|w| w.code.clone()).unwrap_or_default(),
                    ward_name: w.as_ref().map(|w| w.name.clone()).unwrap_or_default(),
                    slots: vec![slot],
                });
            }
        }
    }
    Ok(results)
}

/// Slots by id, in time order (the web pages label a booking's or a quote's lines with their
/// times). Unknown ids are left out.
pub async fn slots_by_id(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<slot::Model>, DbErr> {
    slot::Entity::find()
        .filter(slot::Column::Id.is_in(ids.to_vec()))
        .order_by_asc(slot::Column::StartsAt)
        .all(db)
        .await
}
