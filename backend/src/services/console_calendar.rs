//! The console's calendar, closures and blocks, scoped by role and facility.
//!
//! - [`calendar`]: a facility's rooms × days with every slot's state and, for taken slots, the
//!   booking, its holder's name, paid or not and checked in or not. Showing names is a view of
//!   personal data, so it is audited in the transaction that reads them.
//! - [`preview_closure`] / [`create_closure`]: a manager closes a room (with its halves or whole)
//!   or the whole facility for days. The preview lists the bookings that would be cancelled and
//!   the refund total; the confirmation must repeat the booking ids it was shown, and is refused
//!   when the affected set changed in between. Then one write transaction records the closure,
//!   takes the slots out of sale (`status = closed`, `closure_id`), cancels the bookings with a
//!   full refund and a mail (`cancellations::cancel_in_full_within`) and writes the audit row.
//!   Slot generation reads `closures`, so the closed days stay closed when slots are generated
//!   later.
//! - [`create_block`] / [`lift_block`]: official use (公用) takes free slots of a room out of
//!   public sale for days and a time of day without cancelling anyone. A booked slot in the range
//!   refuses the block (409 `slots_booked`, naming the bookings): the manager closes instead, or
//!   narrows the block.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::booking::{BookingState, RefundPolicy};
use crate::domain::calendar::{parse_minute_of_day, tokyo, tokyo_date, tokyo_instant};
use crate::domain::console_calendar::{
    ClosureKind, Invalid, MAX_CALENDAR_DAYS, MAX_CLOSURE_DAYS, check_range, check_reason, floor_of,
    same_bookings, within_block,
};
use crate::domain::kinds::RoomKind;
use crate::domain::roles::Role;
use crate::entities::{booking, booking_checkin, closure, facility, room, slot, slot_block, user};
use crate::services::cancellations::{
    FacilityCancellation, FacilitySide, Outcome, cancel_in_full_within,
};
use crate::services::staff_scope::{FacilityScope, facility_scope};
use crate::services::{audit, lottery, payments};
use crate::views::console_calendar::{
    AffectedBooking, BlockItem, BlockRequest, BlockResponse, CalendarBooking, CalendarQuery,
    CalendarResponse, CalendarRoom, CalendarSlot, CalendarSlotState, CancelledBooking, ClosureItem,
    ClosureList, ClosurePreview, ClosureRequest, ClosureResponse, FacilityChoice,
};

/// Who acts: user id and role.
pub type Actor = (i32, Role);

/// Why a console request of the calendar area was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("only staff assigned to the facility, its manager or an administrator may do this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("some fields are not valid")]
    Invalid(Vec<Invalid>),
    #[error(
        "the closure cancels {0} booking(s): confirm with `confirm: true` and the booking ids of the preview"
    )]
    ConfirmationRequired(usize),
    #[error(
        "the bookings affected changed since the preview: preview again and confirm what it shows"
    )]
    AffectedSetChanged { now: Vec<i64> },
    #[error("booked slots lie in the range: close the room instead, or narrow the block")]
    SlotsBooked(Vec<i64>),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<Invalid> for ConsoleError {
    fn from(invalid: Invalid) -> Self {
        ConsoleError::Invalid(vec![invalid])
    }
}

/// Managers and administrators run closures, blocks and slot setup; staff only look.
pub fn ensure_manager(role: Role) -> Result<(), ConsoleError> {
    match role {
        Role::Manager | Role::Admin => Ok(()),
        _ => Err(ConsoleError::Forbidden),
    }
}

/// The facilities a person may choose in the console, in id order.
pub async fn facilities_of(
    db: &impl ConnectionTrait,
    actor: Actor,
) -> Result<Vec<facility::Model>, DbErr> {
    let scope = facility_scope(db, actor.0, actor.1).await?;
    let mut query = facility::Entity::find().order_by_asc(facility::Column::Id);
    if let Some(ids) = scope.facility_ids() {
        query = query.filter(facility::Column::Id.is_in(ids.to_vec()));
    }
    query.all(db).await
}

/// The facility asked for (or the person's first), if the person may act on it.
pub async fn facility_in_scope(
    db: &impl ConnectionTrait,
    actor: Actor,
    facility_id: Option<i32>,
) -> Result<facility::Model, ConsoleError> {
    let scope = facility_scope(db, actor.0, actor.1).await?;
    let id = match (facility_id, &scope) {
        (Some(id), _) => id,
        (None, FacilityScope::Only(ids)) => *ids.iter().min().ok_or(ConsoleError::Forbidden)?,
        (None, FacilityScope::All) => facility::Entity::find()
            .order_by_asc(facility::Column::Id)
            .one(db)
            .await?
            .map(|f| f.id)
            .ok_or(ConsoleError::NotFound("facility"))?,
    };
    if !scope.allows(id) {
        return Err(ConsoleError::Forbidden);
    }
    facility::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ConsoleError::NotFound("facility"))
}

/// The facility of a room, if the person may act on it.
pub async fn room_in_scope(
    db: &impl ConnectionTrait,
    actor: Actor,
    room_id: i32,
) -> Result<(room::Model, facility::Model), ConsoleError> {
    let scope = facility_scope(db, actor.0, actor.1).await?;
    let r = room::Entity::find_by_id(room_id).one(db).await?;
    // Staff learn nothing about rooms elsewhere: an unknown room and another facility's room
    // answer alike for them.
    let Some(r) = r else {
        return Err(match scope {
            FacilityScope::All => ConsoleError::NotFound("room"),
            FacilityScope::Only(_) => ConsoleError::Forbidden,
        });
    };
    if !scope.allows(r.facility_id) {
        return Err(ConsoleError::Forbidden);
    }
    let f = facility::Entity::find_by_id(r.facility_id)
        .one(db)
        .await?
        .ok_or(ConsoleError::NotFound("facility"))?;
    Ok((r, f))
}

fn choice(f: &facility::Model) -> FacilityChoice {
    FacilityChoice {
        id: f.id,
        name: f.name.clone(),
        name_en: f.name_en.clone(),
    }
}

async fn rooms_of(db: &impl ConnectionTrait, facility_id: i32) -> Result<Vec<room::Model>, DbErr> {
    room::Entity::find()
        .filter(room::Column::FacilityId.eq(facility_id))
        .order_by_asc(room::Column::Id)
        .all(db)
        .await
}

fn parents(rooms: &[room::Model]) -> Vec<(i32, Option<i32>)> {
    rooms.iter().map(|r| (r.id, r.parent_room_id)).collect()
}

/// Minutes of the day (Japan time) of an instant.
fn minute_of(at: DateTime<Utc>) -> i16 {
    let local = at.with_timezone(&tokyo());
    (local.hour() * 60 + local.minute()) as i16
}

/// The slots of `rooms` on the days `from`..=`to`, by room and start.
async fn slots_between(
    db: &impl ConnectionTrait,
    rooms: &[i32],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<slot::Model>, DbErr> {
    slot::Entity::find()
        .filter(slot::Column::RoomId.is_in(rooms.to_vec()))
        .filter(slot::Column::StartsAt.gte(tokyo_instant(from, 0)))
        .filter(slot::Column::StartsAt.lt(tokyo_instant(to, 1440)))
        .order_by_asc(slot::Column::RoomId)
        .order_by_asc(slot::Column::StartsAt)
        .all(db)
        .await
}

/// Which booking takes each (room, start) of `rooms`: a claim on any unit the room covers (a
/// half's booking takes its whole, a whole's both halves). A room's own booking wins over a
/// neighbour's.
async fn takers(
    db: &impl ConnectionTrait,
    rooms: &[i32],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<(i32, DateTime<Utc>), i64>, DbErr> {
    let (claims, rooms_of_unit) =
        crate::services::availability::claims_touching(db, rooms, from, to).await?;
    let claimed_slot_rooms: HashMap<i64, i32> = slot::Entity::find()
        .filter(slot::Column::Id.is_in(claims.iter().map(|c| c.slot_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.room_id))
        .collect();
    let mut taken = HashMap::new();
    for claim in claims {
        let own_room = claimed_slot_rooms.get(&claim.slot_id).copied();
        for r in rooms_of_unit.get(&claim.unit_id).into_iter().flatten() {
            let entry = taken
                .entry((*r, claim.starts_at))
                .or_insert(claim.booking_id);
            if own_room == Some(*r) {
                *entry = claim.booking_id;
            }
        }
    }
    Ok(taken)
}

/// The calendar of one facility (see the module docs). Staff, managers and administrators, at
/// the facilities they may act on.
pub async fn calendar(
    db: &DatabaseConnection,
    actor: Actor,
    query: CalendarQuery,
    now: DateTime<Utc>,
) -> Result<CalendarResponse, ConsoleError> {
    let mut problems = Vec::new();
    let from = query.from.unwrap_or_else(|| tokyo_date(now));
    let to = query.to.unwrap_or(from + chrono::Duration::days(6));
    if let Err(e) = check_range("to", from, to, MAX_CALENDAR_DAYS) {
        problems.push(e);
    }
    let kind = match query.kind.as_deref() {
        None => None,
        Some(code) => match code.parse::<RoomKind>() {
            Ok(kind) => Some(kind),
            Err(_) => {
                problems.push(Invalid::new("kind", "not a kind of room"));
                None
            }
        },
    };
    if !problems.is_empty() {
        return Err(ConsoleError::Invalid(problems));
    }
    let txn = begin_write(db).await?;
    let f = match query.room_id {
        Some(room_id) => {
            let (_, f) = room_in_scope(&txn, actor, room_id).await?;
            if query.facility_id.is_some_and(|id| id != f.id) {
                return Err(Invalid::new("room_id", "not a room of this facility").into());
            }
            f
        }
        None => facility_in_scope(&txn, actor, query.facility_id).await?,
    };
    let all_rooms = rooms_of(&txn, f.id).await?;
    let floor = query.room_id.map(|id| floor_of(id, &parents(&all_rooms)));
    let rooms: Vec<&room::Model> = all_rooms
        .iter()
        .filter(|r| floor.as_ref().is_none_or(|ids| ids.contains(&r.id)))
        .filter(|r| kind.is_none_or(|k| r.kind == k.code()))
        .collect();
    let room_ids: Vec<i32> = rooms.iter().map(|r| r.id).collect();
    let slots = slots_between(&txn, &room_ids, from, to).await?;
    let taken = takers(&txn, &room_ids, from, to).await?;
    let booking_ids: Vec<i64> = taken
        .values()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let bookings: HashMap<i64, booking::Model> = booking::Entity::find()
        .filter(booking::Column::Id.is_in(booking_ids.clone()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    let names: HashMap<i32, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(bookings.values().map(|b| b.user_id).collect::<Vec<_>>()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect();
    let checked_in: HashSet<i64> = booking_checkin::Entity::find()
        .filter(booking_checkin::Column::BookingId.is_in(booking_ids.clone()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|c| c.booking_id)
        .collect();
    let blocks = slot_block::Entity::find()
        .filter(slot_block::Column::FacilityId.eq(f.id))
        .filter(slot_block::Column::StartsOn.lte(to))
        .filter(slot_block::Column::EndsOn.gte(from))
        .all(&txn)
        .await?;
    let block_floors: Vec<(slot_block::Model, Vec<i32>)> = blocks
        .into_iter()
        .map(|b| {
            let floor = floor_of(b.room_id, &parents(&all_rooms));
            (b, floor)
        })
        .collect();
    let lottery = lottery::months_held(&txn, &room_ids, now).await?;
    let mut by_room: HashMap<i32, Vec<CalendarSlot>> = HashMap::new();
    for s in &slots {
        let taker = taken
            .get(&(s.room_id, s.starts_at))
            .and_then(|id| bookings.get(id));
        let block = block_floors.iter().find(|(b, floor)| {
            floor.contains(&s.room_id)
                && b.starts_on <= s.service_date
                && s.service_date <= b.ends_on
                && within_block(
                    minute_of(s.starts_at),
                    minute_of(s.ends_at),
                    b.starts_minute,
                    b.ends_minute,
                )
        });
        let month = chrono::Datelike::with_day(&s.service_date, 1).unwrap_or(s.service_date);
        let state = if taker.is_some() {
            CalendarSlotState::Booked
        } else if s.status == "closed" && s.closure_id.is_none() && block.is_some() {
            CalendarSlotState::Blocked
        } else if s.status == "closed" {
            CalendarSlotState::Closed
        } else if lottery.contains(&(s.room_id, month)) {
            CalendarSlotState::Lottery
        } else {
            CalendarSlotState::Free
        };
        let booking = taker.map(|b| {
            let state: Option<BookingState> = b.state.parse().ok();
            CalendarBooking {
                id: b.id,
                room_id: b.room_id,
                state: b.state.clone(),
                holder_name: names.get(&b.user_id).cloned().unwrap_or_default(),
                paid: matches!(
                    state,
                    Some(BookingState::Confirmed | BookingState::CheckedIn)
                ),
                checked_in: checked_in.contains(&b.id) || state == Some(BookingState::CheckedIn),
                channel: b.channel.clone(),
            }
        });
        by_room.entry(s.room_id).or_default().push(CalendarSlot {
            id: s.id,
            date: s.service_date,
            starts_at: s.starts_at.with_timezone(&tokyo()),
            ends_at: s.ends_at.with_timezone(&tokyo()),
            band: s.band.clone(),
            state,
            booking,
            closure_id: s.closure_id,
            block_id: block
                .filter(|_| state == CalendarSlotState::Blocked)
                .map(|(b, _)| b.id),
        });
    }
    if !bookings.is_empty() {
        let mut shown: Vec<i64> = bookings.keys().copied().collect();
        shown.sort_unstable();
        audit::record(
            &txn,
            actor.0,
            "calendar.view",
            ("facility", Some(i64::from(f.id))),
            json!({"from": from, "to": to, "room_id": query.room_id, "bookings": shown}),
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(CalendarResponse {
        facility: choice(&f),
        from,
        to,
        days: from.iter_days().take_while(|d| *d <= to).collect(),
        rooms: rooms
            .into_iter()
            .map(|r| CalendarRoom {
                id: r.id,
                name: r.name.clone(),
                name_en: r.name_en.clone(),
                kind: r.kind.clone(),
                parent_room_id: r.parent_room_id,
                slots: by_room.remove(&r.id).unwrap_or_default(),
            })
            .collect(),
    })
}

/// A closure request, checked.
struct ClosurePlan {
    facility: facility::Model,
    kind: ClosureKind,
    reason: String,
    floor: Vec<i32>,
    rooms: Vec<room::Model>,
}

/// Check a closure request and the person's right to make it (inside `txn`).
async fn plan_closure(
    txn: &impl ConnectionTrait,
    actor: Actor,
    req: &ClosureRequest,
    now: DateTime<Utc>,
) -> Result<ClosurePlan, ConsoleError> {
    ensure_manager(actor.1)?;
    let mut problems = Vec::new();
    let kind = ClosureKind::parse(&req.kind);
    if kind.is_none() {
        problems.push(Invalid::new("kind", "one of maintenance, weather, event"));
    }
    let reason = check_reason("reason", &req.reason)
        .map_err(|e| problems.push(e))
        .ok();
    if req.starts_on < tokyo_date(now) {
        problems.push(Invalid::new("starts_on", "must be today or later"));
    }
    if let Err(e) = check_range("ends_on", req.starts_on, req.ends_on, MAX_CLOSURE_DAYS) {
        problems.push(e);
    }
    let f = facility_in_scope(txn, actor, Some(req.facility_id)).await?;
    let rooms = rooms_of(txn, f.id).await?;
    let floor = match req.room_id {
        None => rooms.iter().map(|r| r.id).collect(),
        Some(id) if rooms.iter().any(|r| r.id == id) => floor_of(id, &parents(&rooms)),
        Some(_) => {
            problems.push(Invalid::new("room_id", "not a room of this facility"));
            Vec::new()
        }
    };
    match (kind, reason) {
        (Some(kind), Some(reason)) if problems.is_empty() => Ok(ClosurePlan {
            facility: f,
            kind,
            reason,
            floor,
            rooms,
        }),
        _ => Err(ConsoleError::Invalid(problems)),
    }
}

/// The bookings a closure of `floor` over the days cancels: still to end, and awaiting payment
/// or confirmed (a checked-in booking has been used).
async fn affected_bookings(
    txn: &impl ConnectionTrait,
    floor: &[i32],
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<booking::Model>, DbErr> {
    booking::Entity::find()
        .filter(booking::Column::RoomId.is_in(floor.to_vec()))
        .filter(booking::Column::ServiceDate.between(from, to))
        .filter(booking::Column::State.is_in([
            BookingState::AwaitingPayment.code(),
            BookingState::Confirmed.code(),
        ]))
        .filter(booking::Column::EndsAt.gt(now))
        .order_by_asc(booking::Column::StartsAt)
        .order_by_asc(booking::Column::Id)
        .all(txn)
        .await
}

async fn open_slot_count(
    txn: &impl ConnectionTrait,
    floor: &[i32],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    slot::Entity::find()
        .filter(slot::Column::RoomId.is_in(floor.to_vec()))
        .filter(slot::Column::ServiceDate.between(from, to))
        .filter(slot::Column::ClosureId.is_null())
        .count(txn)
        .await
}

/// What a closure would do: the bookings it cancels (with their holders and refunds) and the
/// slots it takes out of sale. Showing the holders is audited.
pub async fn preview_closure(
    db: &DatabaseConnection,
    actor: Actor,
    req: &ClosureRequest,
    now: DateTime<Utc>,
) -> Result<ClosurePreview, ConsoleError> {
    let txn = begin_write(db).await?;
    let plan = plan_closure(&txn, actor, req, now).await?;
    let affected = affected_bookings(&txn, &plan.floor, req.starts_on, req.ends_on, now).await?;
    let names: HashMap<i32, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(affected.iter().map(|b| b.user_id).collect::<Vec<_>>()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect();
    let mut items = Vec::with_capacity(affected.len());
    for b in &affected {
        let r = plan.rooms.iter().find(|r| r.id == b.room_id);
        items.push(AffectedBooking {
            id: b.id,
            room_id: b.room_id,
            room_name: r.map(|r| r.name.clone()).unwrap_or_default(),
            room_name_en: r.map(|r| r.name_en.clone()).unwrap_or_default(),
            starts_at: b.starts_at.with_timezone(&tokyo()),
            ends_at: b.ends_at.with_timezone(&tokyo()),
            holder_name: names.get(&b.user_id).cloned().unwrap_or_default(),
            state: b.state.clone(),
            refund_yen: payments::refundable_yen_within(&txn, b.id).await?,
        });
    }
    let slots_to_close = open_slot_count(&txn, &plan.floor, req.starts_on, req.ends_on).await?;
    if !items.is_empty() {
        audit::record(
            &txn,
            actor.0,
            "closure.preview",
            ("facility", Some(i64::from(plan.facility.id))),
            json!({
                "room_id": req.room_id, "starts_on": req.starts_on, "ends_on": req.ends_on,
                "bookings": items.iter().map(|b| b.id).collect::<Vec<_>>(),
            }),
            now,
        )
        .await?;
    }
    txn.commit().await?;
    let refund_total_yen = items.iter().map(|b| b.refund_yen).sum();
    Ok(ClosurePreview {
        facility_id: plan.facility.id,
        room_id: req.room_id,
        room_ids: plan.floor,
        starts_on: req.starts_on,
        ends_on: req.ends_on,
        kind: plan.kind.code().to_owned(),
        slots_to_close,
        affected_count: items.len() as u64,
        needs_confirmation: !items.is_empty(),
        affected: items,
        refund_total_yen,
    })
}

/// Close for the days, cancelling and refunding the affected bookings, in one transaction (see
/// the module docs). The caller makes the refunds through the provider after this returns
/// (`payments::after_booking_ended` for each cancelled booking).
pub async fn create_closure(
    db: &DatabaseConnection,
    actor: Actor,
    policy: &RefundPolicy,
    req: &ClosureRequest,
    now: DateTime<Utc>,
) -> Result<ClosureResponse, ConsoleError> {
    let txn = begin_write(db).await?;
    let plan = plan_closure(&txn, actor, req, now).await?;
    let affected = affected_bookings(&txn, &plan.floor, req.starts_on, req.ends_on, now).await?;
    let ids: Vec<i64> = affected.iter().map(|b| b.id).collect();
    if !ids.is_empty() && !req.confirm {
        return Err(ConsoleError::ConfirmationRequired(ids.len()));
    }
    let expected = req.expected_booking_ids.as_deref().unwrap_or_default();
    if (!ids.is_empty() || req.expected_booking_ids.is_some()) && !same_bookings(expected, &ids) {
        return Err(ConsoleError::AffectedSetChanged { now: ids });
    }
    let record = closure::Entity::insert(closure::ActiveModel {
        id: NotSet,
        facility_id: Set(plan.facility.id),
        room_id: Set(req.room_id),
        starts_on: Set(req.starts_on),
        ends_on: Set(req.ends_on),
        kind: Set(plan.kind.code().to_owned()),
        reason: Set(plan.reason.clone()),
        created_by: Set(Some(actor.0)),
        created_at: Set(now),
    })
    .exec_with_returning(&txn)
    .await?;
    // A slot an earlier closure took keeps that closure; blocked slots become this closure's.
    let slots_closed = slot::Entity::update_many()
        .col_expr(slot::Column::Status, Expr::value("closed"))
        .col_expr(slot::Column::ClosureId, Expr::value(record.id))
        .filter(slot::Column::RoomId.is_in(plan.floor.clone()))
        .filter(slot::Column::ServiceDate.between(req.starts_on, req.ends_on))
        .filter(slot::Column::ClosureId.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    let how = FacilityCancellation {
        side: FacilitySide::Closure,
        actor: Some(actor.0),
        reason: &plan.reason,
    };
    let outcomes = cancel_in_full_within(&txn, policy, &ids, how, now).await?;
    let cancelled: Vec<CancelledBooking> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Cancelled {
                booking_id,
                refund_yen,
            } => Some(CancelledBooking {
                id: *booking_id,
                refund_yen: *refund_yen,
            }),
            _ => None,
        })
        .collect();
    let refund_total_yen = cancelled.iter().map(|c| c.refund_yen).sum();
    audit::record(
        &txn,
        actor.0,
        "closure.create",
        ("closure", Some(i64::from(record.id))),
        json!({
            "facility_id": plan.facility.id, "room_id": req.room_id,
            "starts_on": req.starts_on, "ends_on": req.ends_on, "kind": plan.kind.code(),
            "slots_closed": slots_closed,
            "cancelled": cancelled.iter().map(|c| c.id).collect::<Vec<_>>(),
            "refund_total_yen": refund_total_yen,
        }),
        now,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(
        closure.id = record.id,
        facility.id = plan.facility.id,
        bookings.cancelled = cancelled.len(),
        "closure made"
    );
    Ok(ClosureResponse {
        closure: record.into(),
        slots_closed,
        cancelled,
        refund_total_yen,
    })
}

/// A facility's closures and blocks that have not ended, soonest first. Managers and
/// administrators.
pub async fn list_closures(
    db: &DatabaseConnection,
    actor: Actor,
    facility_id: Option<i32>,
    now: DateTime<Utc>,
) -> Result<ClosureList, ConsoleError> {
    ensure_manager(actor.1)?;
    let f = facility_in_scope(db, actor, facility_id).await?;
    let today = tokyo_date(now);
    let closures = closure::Entity::find()
        .filter(closure::Column::FacilityId.eq(f.id))
        .filter(closure::Column::EndsOn.gte(today))
        .order_by_asc(closure::Column::StartsOn)
        .order_by_asc(closure::Column::Id)
        .all(db)
        .await?;
    let blocks = slot_block::Entity::find()
        .filter(slot_block::Column::FacilityId.eq(f.id))
        .filter(slot_block::Column::EndsOn.gte(today))
        .order_by_asc(slot_block::Column::StartsOn)
        .order_by_asc(slot_block::Column::Id)
        .all(db)
        .await?;
    Ok(ClosureList {
        facility: choice(&f),
        closures: closures.into_iter().map(ClosureItem::from).collect(),
        blocks: blocks.into_iter().map(BlockItem::from).collect(),
    })
}

/// Slots of `floor` on the block's days wholly inside its times.
fn in_block(s: &slot::Model, starts_minute: i16, ends_minute: i16) -> bool {
    within_block(
        minute_of(s.starts_at),
        minute_of(s.ends_at),
        starts_minute,
        ends_minute,
    )
}

/// Block free slots of a room (with its halves or whole) for official use: see the module docs.
pub async fn create_block(
    db: &DatabaseConnection,
    actor: Actor,
    req: &BlockRequest,
    now: DateTime<Utc>,
) -> Result<BlockResponse, ConsoleError> {
    ensure_manager(actor.1)?;
    let mut problems = Vec::new();
    let starts = parse_minute_of_day(req.starts.trim());
    let ends = parse_minute_of_day(req.ends.trim());
    if starts.is_none() {
        problems.push(Invalid::new("starts", "a time as HH:MM"));
    }
    if ends.is_none() {
        problems.push(Invalid::new("ends", "a time as HH:MM"));
    }
    if let (Some(s), Some(e)) = (starts, ends)
        && s >= e
    {
        problems.push(Invalid::new("ends", "must be after the start"));
    }
    let reason = check_reason("reason", &req.reason)
        .map_err(|e| problems.push(e))
        .ok();
    if req.starts_on < tokyo_date(now) {
        problems.push(Invalid::new("starts_on", "must be today or later"));
    }
    if let Err(e) = check_range("ends_on", req.starts_on, req.ends_on, MAX_CLOSURE_DAYS) {
        problems.push(e);
    }
    let (r, f) = room_in_scope(db, actor, req.room_id).await?;
    let (Some(starts), Some(ends), Some(reason)) = (starts, ends, reason) else {
        return Err(ConsoleError::Invalid(problems));
    };
    if !problems.is_empty() {
        return Err(ConsoleError::Invalid(problems));
    }
    // The slots must exist to be taken out of sale: generation inserts only missing slots and
    // never reopens a closed one, so blocked slots stay blocked when it runs later.
    crate::services::slots::generate(db, req.starts_on, req.ends_on, Some(f.id)).await?;
    let txn = begin_write(db).await?;
    let rooms = rooms_of(&txn, f.id).await?;
    let floor = floor_of(r.id, &parents(&rooms));
    let candidates: Vec<slot::Model> = slots_between(&txn, &floor, req.starts_on, req.ends_on)
        .await?
        .into_iter()
        .filter(|s| s.starts_at > now && in_block(s, starts, ends))
        .collect();
    let taken = takers(&txn, &floor, req.starts_on, req.ends_on).await?;
    let mut booked: Vec<i64> = candidates
        .iter()
        .filter_map(|s| taken.get(&(s.room_id, s.starts_at)).copied())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if !booked.is_empty() {
        booked.sort_unstable();
        return Err(ConsoleError::SlotsBooked(booked));
    }
    let record = slot_block::Entity::insert(slot_block::ActiveModel {
        id: NotSet,
        facility_id: Set(f.id),
        room_id: Set(r.id),
        starts_on: Set(req.starts_on),
        ends_on: Set(req.ends_on),
        starts_minute: Set(starts),
        ends_minute: Set(ends),
        reason: Set(reason),
        created_by: Set(Some(actor.0)),
        created_at: Set(now),
    })
    .exec_with_returning(&txn)
    .await?;
    let open: Vec<i64> = candidates
        .iter()
        .filter(|s| s.status == "open")
        .map(|s| s.id)
        .collect();
    let mut slots_blocked = 0;
    for chunk in open.chunks(500) {
        slots_blocked += slot::Entity::update_many()
            .col_expr(slot::Column::Status, Expr::value("closed"))
            .filter(slot::Column::Id.is_in(chunk.to_vec()))
            .filter(slot::Column::Status.eq("open"))
            .exec(&txn)
            .await?
            .rows_affected;
    }
    audit::record(
        &txn,
        actor.0,
        "block.create",
        ("slot_block", Some(i64::from(record.id))),
        json!({"room_id": r.id, "starts_on": req.starts_on, "ends_on": req.ends_on,
               "starts": req.starts.trim(), "ends": req.ends.trim(), "slots_blocked": slots_blocked}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(BlockResponse {
        block: record.into(),
        slots_blocked,
    })
}

/// Lift a block: its slots still to come go back on sale (those a closure took stay closed).
pub async fn lift_block(
    db: &DatabaseConnection,
    actor: Actor,
    block_id: i32,
    now: DateTime<Utc>,
) -> Result<u64, ConsoleError> {
    ensure_manager(actor.1)?;
    let txn = begin_write(db).await?;
    let b = slot_block::Entity::find_by_id(block_id)
        .one(&txn)
        .await?
        .ok_or(ConsoleError::NotFound("block"))?;
    let scope = facility_scope(&txn, actor.0, actor.1).await?;
    if !scope.allows(b.facility_id) {
        return Err(ConsoleError::Forbidden);
    }
    let rooms = rooms_of(&txn, b.facility_id).await?;
    let floor = floor_of(b.room_id, &parents(&rooms));
    // Another block over the same slots keeps them out of sale.
    let others: Vec<(slot_block::Model, Vec<i32>)> = slot_block::Entity::find()
        .filter(slot_block::Column::FacilityId.eq(b.facility_id))
        .filter(slot_block::Column::Id.ne(b.id))
        .filter(slot_block::Column::StartsOn.lte(b.ends_on))
        .filter(slot_block::Column::EndsOn.gte(b.starts_on))
        .all(&txn)
        .await?
        .into_iter()
        .map(|o| {
            let floor = floor_of(o.room_id, &parents(&rooms));
            (o, floor)
        })
        .collect();
    let still_blocked = |s: &slot::Model| {
        others.iter().any(|(o, floor)| {
            floor.contains(&s.room_id)
                && o.starts_on <= s.service_date
                && s.service_date <= o.ends_on
                && in_block(s, o.starts_minute, o.ends_minute)
        })
    };
    let reopen: Vec<i64> = slots_between(&txn, &floor, b.starts_on, b.ends_on)
        .await?
        .into_iter()
        .filter(|s| {
            s.status == "closed"
                && s.closure_id.is_none()
                && s.starts_at > now
                && in_block(s, b.starts_minute, b.ends_minute)
                && !still_blocked(s)
        })
        .map(|s| s.id)
        .collect();
    let mut reopened = 0;
    for chunk in reopen.chunks(500) {
        reopened += slot::Entity::update_many()
            .col_expr(slot::Column::Status, Expr::value("open"))
            .filter(slot::Column::Id.is_in(chunk.to_vec()))
            .filter(slot::Column::ClosureId.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
    }
    slot_block::Entity::delete_by_id(block_id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor.0,
        "block.lift",
        ("slot_block", Some(i64::from(block_id))),
        json!({"room_id": b.room_id, "starts_on": b.starts_on, "ends_on": b.ends_on,
               "slots_reopened": reopened}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(reopened)
}

/// A facility's rooms for the console's choice lists, if the person may act on it.
pub async fn rooms_for_choice(
    db: &DatabaseConnection,
    actor: Actor,
    facility_id: i32,
) -> Result<Vec<room::Model>, ConsoleError> {
    let f = facility_in_scope(db, actor, Some(facility_id)).await?;
    Ok(rooms_of(db, f.id).await?)
}
