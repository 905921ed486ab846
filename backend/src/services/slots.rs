//! The slot inventory: materialising slots from templates for a window of days (idempotent; a
//! re-run adds what is missing and removes only open slots the plan no longer has and no booking
//! ever held).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::db::begin_write;
use crate::domain::calendar::{ClosingRule, tokyo_instant, weekday_from_iso};
use crate::domain::slotgen::{
    ClosureSpan, FacilityCalendar, PeriodDays, TemplatePeriod, plan_range,
};
use crate::entities::{
    booking_slot, closure, facility, regular_closing_day, room, slot, slot_template_period,
};

/// What a generation run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerationReport {
    pub facilities: usize,
    pub rooms: usize,
    /// Slots the plan has in the window (existing or new).
    pub planned: usize,
    /// Slots inserted by this run.
    pub created: u64,
    /// Open slots removed because the plan no longer has them (a template change or a closure).
    pub removed: u64,
}

/// Rows per INSERT: 9 columns × 500 stays far below SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 500;

/// Materialise the slots of every room (or one facility's rooms) from `from` to `to` inclusive.
/// Each facility is written in its own short transaction.
pub async fn generate(
    db: &DatabaseConnection,
    from: NaiveDate,
    to: NaiveDate,
    only_facility: Option<i32>,
) -> Result<GenerationReport, DbErr> {
    let holidays: HashSet<NaiveDate> = crate::services::holidays::between(db, from, to).await?;
    let periods = template_periods(db).await?;
    let mut facilities = facility::Entity::find().order_by_asc(facility::Column::Id);
    if let Some(id) = only_facility {
        facilities = facilities.filter(facility::Column::Id.eq(id));
    }
    let mut report = GenerationReport::default();
    for f in facilities.all(db).await? {
        let calendar = facility_calendar(db, &f).await?;
        let closures = closures_between(db, f.id, from, to).await?;
        let rooms = room::Entity::find()
            .filter(room::Column::FacilityId.eq(f.id))
            .all(db)
            .await?;
        let parent_of: HashMap<i32, Option<i32>> =
            rooms.iter().map(|r| (r.id, r.parent_room_id)).collect();
        let txn = begin_write(db).await?;
        for r in &rooms {
            let closures = applicable_closures(&closures, r, &parent_of);
            let room_calendar = FacilityCalendar {
                closures,
                ..calendar.clone()
            };
            let template = periods
                .get(&r.slot_template_id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let planned = plan_range(from, to, template, &room_calendar, &holidays);
            report.planned += planned.len();
            // A slot that stays whatever the plan says (booked once, or closed by a closure or
            // a block) must not be overlapped by a new one after a template change: bookings
            // claim a room unit per slot start, so overlapping slots could both be booked.
            let held = held_on_floor(&txn, r, &parent_of, from, to).await?;
            let planned: Vec<_> = planned
                .into_iter()
                .filter(|p| !crate::domain::console_calendar::overlaps_held(p, &held))
                .collect();
            report.created += insert_missing(&txn, r.id, &planned).await?;
            let keep: HashSet<_> = planned
                .iter()
                .map(|p| tokyo_instant(p.date, p.starts_minute))
                .collect();
            report.removed += remove_stale(&txn, r.id, from, to, &keep).await?;
        }
        txn.commit().await?;
        report.facilities += 1;
        report.rooms += rooms.len();
    }
    Ok(report)
}

async fn template_periods(
    db: &impl ConnectionTrait,
) -> Result<HashMap<i32, Vec<TemplatePeriod>>, DbErr> {
    let mut by_template: HashMap<i32, Vec<TemplatePeriod>> = HashMap::new();
    for p in slot_template_period::Entity::find().all(db).await? {
        let Some(days) = PeriodDays::from_code(&p.day_type) else {
            continue;
        };
        by_template
            .entry(p.template_id)
            .or_default()
            .push(TemplatePeriod {
                season_from_md: p.season_from_md,
                season_to_md: p.season_to_md,
                days,
                starts_minute: p.starts_minute,
                ends_minute: p.ends_minute,
                band: p.band,
                lighting: p.lighting,
            });
    }
    Ok(by_template)
}

/// A facility's opening hours and regular closing days, without closures (the caller adds the
/// ones that apply to the rooms it plans).
pub(crate) async fn facility_calendar(
    db: &impl ConnectionTrait,
    f: &facility::Model,
) -> Result<FacilityCalendar, DbErr> {
    let closing_rules = regular_closing_day::Entity::find()
        .filter(regular_closing_day::Column::FacilityId.eq(f.id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| {
            Some(ClosingRule {
                weekday: weekday_from_iso(r.weekday)?,
                nth: r.nth_of_month.map(|n| n as u8),
            })
        })
        .collect();
    Ok(FacilityCalendar {
        opens_minute: f.opens_minute,
        closes_minute: f.closes_minute,
        closes_on_holidays: f.closes_on_holidays,
        year_end_closure: f.year_end_closure,
        closing_rules,
        closures: Vec::new(),
    })
}

/// The facility's closures that touch `from`–`to`.
pub(crate) async fn closures_between(
    db: &impl ConnectionTrait,
    facility_id: i32,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<closure::Model>, DbErr> {
    closure::Entity::find()
        .filter(closure::Column::FacilityId.eq(facility_id))
        .filter(closure::Column::StartsOn.lte(to))
        .filter(closure::Column::EndsOn.gte(from))
        .all(db)
        .await
}

/// Closures that take this room's floor: the whole facility's, its own, its whole's (for a half),
/// and its halves' (for a whole, which cannot be booked while a half is closed).
pub(crate) fn applicable_closures(
    closures: &[closure::Model],
    r: &room::Model,
    parent_of: &HashMap<i32, Option<i32>>,
) -> Vec<ClosureSpan> {
    closures
        .iter()
        .filter(|c| match c.room_id {
            None => true,
            Some(closed) => {
                closed == r.id
                    || Some(closed) == r.parent_room_id
                    || parent_of.get(&closed).copied().flatten() == Some(r.id)
            }
        })
        .map(|c| ClosureSpan {
            id: c.id,
            starts_on: c.starts_on,
            ends_on: c.ends_on,
        })
        .collect()
}

/// The stretches held by slots that stay on `r`'s floor (itself, its whole, its halves):
/// closed ones and ones a booking has held. A planned slot with exactly the same times is the
/// same slot (inserting it does nothing), so only other times count as overlapping.
async fn held_on_floor(
    db: &impl ConnectionTrait,
    r: &room::Model,
    parent_of: &HashMap<i32, Option<i32>>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<crate::domain::console_calendar::Held>, DbErr> {
    use sea_orm::sea_query::ExprTrait;
    let floor: Vec<i32> = parent_of
        .iter()
        .filter(|(id, parent)| {
            **id == r.id || Some(**id) == r.parent_room_id || **parent == Some(r.id)
        })
        .map(|(id, _)| *id)
        .collect();
    // The database picks the staying slots, so the job reads a handful of rows per room.
    let slots = slot::Entity::find()
        .filter(slot::Column::RoomId.is_in(floor))
        .filter(slot::Column::ServiceDate.between(from, to))
        .filter(
            sea_orm::Condition::any()
                .add(slot::Column::Status.ne("open"))
                // Correlated, so each slot is looked up in the booking_slots slot index.
                .add(sea_orm::sea_query::Expr::exists(
                    sea_orm::sea_query::Query::select()
                        .expr(sea_orm::sea_query::Expr::val(1))
                        .from(booking_slot::Entity)
                        .and_where(
                            sea_orm::sea_query::Expr::col((
                                booking_slot::Entity,
                                booking_slot::Column::SlotId,
                            ))
                            .equals((slot::Entity, slot::Column::Id)),
                        )
                        .to_owned(),
                )),
        )
        .all(db)
        .await?;
    let minute = |at: chrono::DateTime<chrono::Utc>, date: NaiveDate| {
        let local = at.with_timezone(&crate::domain::calendar::tokyo());
        if local.date_naive() > date {
            1440
        } else {
            (chrono::Timelike::hour(&local) * 60 + chrono::Timelike::minute(&local)) as i16
        }
    };
    Ok(slots
        .iter()
        .map(|s| {
            (
                s.service_date,
                minute(s.starts_at, s.service_date),
                minute(s.ends_at, s.service_date),
            )
        })
        .collect())
}

async fn insert_missing(
    db: &impl ConnectionTrait,
    room_id: i32,
    planned: &[crate::domain::slotgen::PlannedSlot],
) -> Result<u64, DbErr> {
    let mut created = 0;
    for chunk in planned.chunks(INSERT_CHUNK) {
        let rows = chunk.iter().map(|p| slot::ActiveModel {
            id: NotSet,
            room_id: Set(room_id),
            service_date: Set(p.date),
            starts_at: Set(tokyo_instant(p.date, p.starts_minute)),
            ends_at: Set(tokyo_instant(p.date, p.ends_minute)),
            band: Set(p.band.clone()),
            lighting: Set(p.lighting),
            status: Set("open".into()),
            closure_id: Set(None),
        });
        created += slot::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([slot::Column::RoomId, slot::Column::StartsAt])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(created)
}

async fn remove_stale(
    db: &impl ConnectionTrait,
    room_id: i32,
    from: NaiveDate,
    to: NaiveDate,
    keep: &HashSet<chrono::DateTime<chrono::Utc>>,
) -> Result<u64, DbErr> {
    let existing: Vec<(i64, chrono::DateTime<chrono::Utc>)> = slot::Entity::find()
        .select_only()
        .column(slot::Column::Id)
        .column(slot::Column::StartsAt)
        .filter(slot::Column::RoomId.eq(room_id))
        .filter(slot::Column::ServiceDate.between(from, to))
        .filter(slot::Column::Status.eq("open"))
        .into_tuple()
        .all(db)
        .await?;
    let candidates: Vec<i64> = existing
        .into_iter()
        .filter(|(_, at)| !keep.contains(at))
        .map(|(id, _)| id)
        .collect();
    // A slot a booking has ever held stays: its booking, history and receipt refer to it. The
    // booking itself is dealt with by closures (cancel and refund), not by generation.
    let mut booked: HashSet<i64> = HashSet::new();
    for chunk in candidates.chunks(INSERT_CHUNK) {
        booked.extend(
            booking_slot::Entity::find()
                .select_only()
                .column(booking_slot::Column::SlotId)
                .filter(booking_slot::Column::SlotId.is_in(chunk.to_vec()))
                .into_tuple::<i64>()
                .all(db)
                .await?,
        );
    }
    let stale: Vec<i64> = candidates
        .into_iter()
        .filter(|id| !booked.contains(id))
        .collect();
    let mut removed = 0;
    for chunk in stale.chunks(INSERT_CHUNK) {
        removed += slot::Entity::delete_many()
            .filter(slot::Column::Id.is_in(chunk.to_vec()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(removed)
}
