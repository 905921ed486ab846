//! What a lottery round offers, for the pages where residents choose their wishes and read
//! results: the facilities with rooms in the round, the open slots of those rooms at one
//! facility on one day, and labels (facility, room, time) for any slot ids. Reads only; the
//! rules of applying stay in services::lottery.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::calendar::tokyo;
use crate::entities::{facility, lottery_round_room, room, slot};

/// A facility with rooms in the round.
#[derive(Debug, Clone)]
pub struct OfferedFacility {
    pub id: i32,
    pub name: String,
    pub name_en: String,
}

/// A slot to wish for.
#[derive(Debug, Clone)]
pub struct OfferedSlot {
    pub id: i64,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
}

/// A room of the round at a facility, with its open slots on the day asked for.
#[derive(Debug, Clone)]
pub struct OfferedRoom {
    pub id: i32,
    pub name: String,
    pub name_en: String,
    pub capacity: i32,
    /// Drawn for registered groups only.
    pub requires_group: bool,
    pub slots: Vec<OfferedSlot>,
}

/// Where and when a slot is.
#[derive(Debug, Clone)]
pub struct SlotLabel {
    pub facility: String,
    pub facility_en: String,
    pub room: String,
    pub room_en: String,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
}

async fn room_ids(db: &impl ConnectionTrait, round_id: i32) -> Result<Vec<i32>, DbErr> {
    Ok(lottery_round_room::Entity::find()
        .filter(lottery_round_room::Column::RoundId.eq(round_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.room_id)
        .collect())
}

/// The facilities with rooms in the round, by name.
pub async fn facilities(
    db: &impl ConnectionTrait,
    round_id: i32,
) -> Result<Vec<OfferedFacility>, DbErr> {
    let rooms = room::Entity::find()
        .filter(room::Column::Id.is_in(room_ids(db, round_id).await?))
        .all(db)
        .await?;
    let ids: Vec<i32> = rooms.iter().map(|r| r.facility_id).collect();
    Ok(facility::Entity::find()
        .filter(facility::Column::Id.is_in(ids))
        .order_by_asc(facility::Column::WardId)
        .order_by_asc(facility::Column::NameKana)
        .all(db)
        .await?
        .into_iter()
        .map(|f| OfferedFacility {
            id: f.id,
            name: f.name,
            name_en: f.name_en,
        })
        .collect())
}

/// The round's rooms at `facility_id` with their open slots on `day`, in time order. A slot
/// another booking already holds is left out: it cannot be won.
pub async fn rooms_on(
    db: &impl ConnectionTrait,
    round_id: i32,
    facility_id: i32,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<OfferedRoom>, DbErr> {
    let rooms = room::Entity::find()
        .filter(room::Column::Id.is_in(room_ids(db, round_id).await?))
        .filter(room::Column::FacilityId.eq(facility_id))
        .order_by_asc(room::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rooms.len());
    for r in rooms {
        let slots = crate::services::availability::room_slots(db, r.id, day, day, now)
            .await
            .map_err(|error| DbErr::Custom(error.to_string()))?;
        use crate::views::availability::SlotState;
        out.push(OfferedRoom {
            id: r.id,
            name: r.name,
            name_en: r.name_en,
            capacity: r.capacity,
            requires_group: r.requires_group,
            slots: slots
                .into_iter()
                .filter(|s| matches!(s.state, SlotState::Lottery | SlotState::Available))
                .map(|s| OfferedSlot {
                    id: s.id,
                    starts_at: s.starts_at,
                    ends_at: s.ends_at,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// Labels for slot ids (unknown ids are left out).
pub async fn labels(
    db: &impl ConnectionTrait,
    slot_ids: &[i64],
) -> Result<HashMap<i64, SlotLabel>, DbErr> {
    if slot_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut slots = Vec::new();
    // Results can name many slots: ask in chunks the databases' parameter limits allow.
    for chunk in slot_ids.chunks(500) {
        slots.extend(
            slot::Entity::find()
                .filter(slot::Column::Id.is_in(chunk.to_vec()))
                .all(db)
                .await?,
        );
    }
    let room_ids: Vec<i32> = slots.iter().map(|s| s.room_id).collect();
    let rooms: BTreeMap<i32, room::Model> = room::Entity::find()
        .filter(room::Column::Id.is_in(room_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let facility_ids: Vec<i32> = rooms.values().map(|r| r.facility_id).collect();
    let facilities: BTreeMap<i32, facility::Model> = facility::Entity::find()
        .filter(facility::Column::Id.is_in(facility_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    Ok(slots
        .into_iter()
        .filter_map(|s| {
            let r = rooms.get(&s.room_id)?;
            let f = facilities.get(&r.facility_id)?;
            Some((
                s.id,
                SlotLabel {
                    facility: f.name.clone(),
                    facility_en: f.name_en.clone(),
                    room: r.name.clone(),
                    room_en: r.name_en.clone(),
                    starts_at: s.starts_at.with_timezone(&tokyo()),
                    ends_at: s.ends_at.with_timezone(&tokyo()),
                },
            ))
        })
        .collect())
}
