//! Slot setup of a facility, by its managers and administrators: each room's template periods
//! (times, seasons, kinds of day, bands, lighting), its rentable equipment, and regenerating the
//! future slots from the templates, with a preview of what changes.
//!
//! Templates are shared across the city (`sports_2h`, `hall_3band`). Editing the periods of one
//! room must not change other facilities' rooms, so a room whose template other rooms use gets a
//! copy of its own first (copy on write); halves always follow their whole. Editing changes no
//! slot: regeneration does, after its preview. Regeneration never removes a slot a booking has
//! held (its history and receipt refer to it) and never touches closed slots (closures and
//! blocks); it adds what the plan has and removes free slots the plan no longer has, in one
//! transaction with its audit row.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::calendar::{tokyo, tokyo_date, tokyo_instant};
use crate::domain::console_calendar::{
    ExistingSlot, Held, Invalid, PeriodInput, diff_slots, period_input, stays, validate_periods,
};
use crate::domain::slotgen::{FacilityCalendar, PeriodDays, TemplatePeriod, plan_range};
use crate::entities::{
    booking_slot, equipment, facility, room, room_price, slot, slot_template, slot_template_period,
};
use crate::services::audit;
use crate::services::console_calendar::{
    Actor, ConsoleError, ensure_manager, facility_in_scope, room_in_scope,
};
use crate::views::console_calendar::{
    EquipmentRequest, EquipmentView, FacilityChoice, FacilitySetup, KeptSlot, RegenerationReport,
    RegenerationRequest, RoomChanges, RoomSetup, TemplateView,
};

/// Rows per statement: far below SQLite's bound-parameter limit.
const CHUNK: usize = 500;

fn to_period(p: &slot_template_period::Model) -> Option<TemplatePeriod> {
    Some(TemplatePeriod {
        season_from_md: p.season_from_md,
        season_to_md: p.season_to_md,
        days: PeriodDays::from_code(&p.day_type)?,
        starts_minute: p.starts_minute,
        ends_minute: p.ends_minute,
        band: p.band.clone(),
        lighting: p.lighting,
    })
}

async fn periods_of(
    db: &impl ConnectionTrait,
    template_id: i32,
) -> Result<Vec<TemplatePeriod>, DbErr> {
    Ok(slot_template_period::Entity::find()
        .filter(slot_template_period::Column::TemplateId.eq(template_id))
        .order_by_asc(slot_template_period::Column::SeasonFromMd)
        .order_by_asc(slot_template_period::Column::StartsMinute)
        .all(db)
        .await?
        .iter()
        .filter_map(to_period)
        .collect())
}

/// The bands every room of `room_ids` has a price for (a half is priced on its own).
async fn priced_bands(db: &impl ConnectionTrait, room_ids: &[i32]) -> Result<Vec<String>, DbErr> {
    let prices = room_price::Entity::find()
        .filter(room_price::Column::RoomId.is_in(room_ids.to_vec()))
        .all(db)
        .await?;
    let mut bands: Vec<String> = prices
        .iter()
        .map(|p| p.band.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .filter(|band| {
            room_ids
                .iter()
                .all(|r| prices.iter().any(|p| p.room_id == *r && &p.band == band))
        })
        .collect();
    bands.sort();
    Ok(bands)
}

/// Whether rooms other than `own` use the template.
async fn shared_outside(
    db: &impl ConnectionTrait,
    template_id: i32,
    own: &[i32],
) -> Result<bool, DbErr> {
    let users: Vec<i32> = room::Entity::find()
        .select_only()
        .column(room::Column::Id)
        .filter(room::Column::SlotTemplateId.eq(template_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(users.iter().any(|id| !own.contains(id)))
}

async fn room_setup(
    db: &impl ConnectionTrait,
    r: &room::Model,
    halves: Vec<i32>,
) -> Result<RoomSetup, DbErr> {
    let template = slot_template::Entity::find_by_id(r.slot_template_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("slot template".into()))?;
    let mut own = halves.clone();
    own.push(r.id);
    Ok(RoomSetup {
        id: r.id,
        name: r.name.clone(),
        name_en: r.name_en.clone(),
        kind: r.kind.clone(),
        template: TemplateView {
            id: template.id,
            shared: shared_outside(db, template.id, &own).await?,
            code: template.code,
            name: template.name,
            name_en: template.name_en,
        },
        periods: periods_of(db, r.slot_template_id)
            .await?
            .iter()
            .map(period_input)
            .collect(),
        bands: priced_bands(db, &own).await?,
        equipment: equipment::Entity::find()
            .filter(equipment::Column::RoomId.eq(r.id))
            .order_by_asc(equipment::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(EquipmentView::from)
            .collect(),
        half_ids: halves,
    })
}

/// A facility's rooms (wholes and plain rooms; halves follow) with their setup.
pub async fn setup(
    db: &DatabaseConnection,
    actor: Actor,
    facility_id: Option<i32>,
) -> Result<FacilitySetup, ConsoleError> {
    ensure_manager(actor.1)?;
    let f = facility_in_scope(db, actor, facility_id).await?;
    let rooms = room::Entity::find()
        .filter(room::Column::FacilityId.eq(f.id))
        .order_by_asc(room::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for r in rooms.iter().filter(|r| r.parent_room_id.is_none()) {
        let halves = rooms
            .iter()
            .filter(|h| h.parent_room_id == Some(r.id))
            .map(|h| h.id)
            .collect();
        out.push(room_setup(db, r, halves).await?);
    }
    Ok(FacilitySetup {
        facility: FacilityChoice {
            id: f.id,
            name: f.name,
            name_en: f.name_en,
        },
        rooms: out,
    })
}

/// Replace a room's periods (see the module docs: a shared template is copied first).
pub async fn set_periods(
    db: &DatabaseConnection,
    actor: Actor,
    room_id: i32,
    periods: &[PeriodInput],
    now: DateTime<Utc>,
) -> Result<RoomSetup, ConsoleError> {
    ensure_manager(actor.1)?;
    let txn = begin_write(db).await?;
    let (r, _) = room_in_scope(&txn, actor, room_id).await?;
    if r.parent_room_id.is_some() {
        return Err(Invalid::new("room_id", "a half follows its whole: edit the whole").into());
    }
    let halves: Vec<i32> = room::Entity::find()
        .select_only()
        .column(room::Column::Id)
        .filter(room::Column::ParentRoomId.eq(r.id))
        .into_tuple()
        .all(&txn)
        .await?;
    let mut own = halves.clone();
    own.push(r.id);
    let bands = priced_bands(&txn, &own).await?;
    let parsed = validate_periods(periods, &bands).map_err(ConsoleError::Invalid)?;
    let old = slot_template::Entity::find_by_id(r.slot_template_id)
        .one(&txn)
        .await?
        .ok_or(ConsoleError::NotFound("slot template"))?;
    let template_id = if shared_outside(&txn, old.id, &own).await? {
        let code = free_code(&txn, &format!("{}@room{}", old.code, r.id)).await?;
        let copy = slot_template::Entity::insert(slot_template::ActiveModel {
            id: NotSet,
            code: Set(code),
            name: Set(format!("{}（{}）", old.name, r.name)),
            name_en: Set(format!("{} ({})", old.name_en, r.name_en)),
        })
        .exec_with_returning(&txn)
        .await?;
        room::Entity::update_many()
            .col_expr(room::Column::SlotTemplateId, Expr::value(copy.id))
            .filter(room::Column::Id.is_in(own.clone()))
            .exec(&txn)
            .await?;
        copy.id
    } else {
        slot_template_period::Entity::delete_many()
            .filter(slot_template_period::Column::TemplateId.eq(old.id))
            .exec(&txn)
            .await?;
        old.id
    };
    slot_template_period::Entity::insert_many(parsed.iter().map(|p| {
        slot_template_period::ActiveModel {
            id: NotSet,
            template_id: Set(template_id),
            season_from_md: Set(p.season_from_md),
            season_to_md: Set(p.season_to_md),
            day_type: Set(match p.days {
                PeriodDays::Any => "any",
                PeriodDays::Weekday => "weekday",
                PeriodDays::WeekendHoliday => "weekend_holiday",
            }
            .to_owned()),
            starts_minute: Set(p.starts_minute),
            ends_minute: Set(p.ends_minute),
            band: Set(p.band.clone()),
            lighting: Set(p.lighting),
        }
    }))
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        actor.0,
        "template.periods",
        ("room", Some(i64::from(r.id))),
        json!({"template_id": template_id, "previous_template_id": old.id,
               "periods": parsed.iter().map(period_input).collect::<Vec<_>>()}),
        now,
    )
    .await?;
    let r = room::Entity::find_by_id(r.id)
        .one(&txn)
        .await?
        .ok_or(ConsoleError::NotFound("room"))?;
    let view = room_setup(&txn, &r, halves).await?;
    txn.commit().await?;
    Ok(view)
}

async fn free_code(db: &impl ConnectionTrait, base: &str) -> Result<String, DbErr> {
    let mut code = base.to_owned();
    let mut n = 1;
    while slot_template::Entity::find()
        .filter(slot_template::Column::Code.eq(code.as_str()))
        .one(db)
        .await?
        .is_some()
    {
        n += 1;
        code = format!("{base}-{n}");
    }
    Ok(code)
}

fn check_equipment(req: &EquipmentRequest, adding: bool) -> Vec<Invalid> {
    let mut problems = Vec::new();
    if adding {
        let code = req.code.as_deref().unwrap_or_default().trim();
        let fine = !code.is_empty()
            && code.len() <= 32
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !fine {
            problems.push(Invalid::new(
                "code",
                "1–32 letters, digits, `_` or `-`, unique in the room",
            ));
        }
    }
    for (field, value) in [("name", &req.name), ("name_en", &req.name_en)] {
        let n = value.trim().chars().count();
        if n == 0 || n > 100 {
            problems.push(Invalid::new(field, "1–100 characters"));
        }
    }
    if !(0..=1_000_000).contains(&req.fee_yen) {
        problems.push(Invalid::new("fee_yen", "whole yen from 0 to 1,000,000"));
    }
    if !(1..=1000).contains(&req.quantity) {
        problems.push(Invalid::new("quantity", "from 1 to 1,000"));
    }
    problems
}

/// Add rentable equipment to a room.
pub async fn add_equipment(
    db: &DatabaseConnection,
    actor: Actor,
    room_id: i32,
    req: &EquipmentRequest,
    now: DateTime<Utc>,
) -> Result<EquipmentView, ConsoleError> {
    ensure_manager(actor.1)?;
    let problems = check_equipment(req, true);
    let txn = begin_write(db).await?;
    let (r, _) = room_in_scope(&txn, actor, room_id).await?;
    if !problems.is_empty() {
        return Err(ConsoleError::Invalid(problems));
    }
    let code = req.code.as_deref().unwrap_or_default().trim().to_owned();
    let exists = equipment::Entity::find()
        .filter(equipment::Column::RoomId.eq(r.id))
        .filter(equipment::Column::Code.eq(code.as_str()))
        .one(&txn)
        .await?
        .is_some();
    if exists {
        return Err(Invalid::new("code", "the room already has equipment with this code").into());
    }
    let item = equipment::Entity::insert(equipment::ActiveModel {
        id: NotSet,
        room_id: Set(r.id),
        code: Set(code),
        name: Set(req.name.trim().to_owned()),
        name_en: Set(req.name_en.trim().to_owned()),
        fee_yen: Set(req.fee_yen),
        quantity: Set(req.quantity),
    })
    .exec_with_returning(&txn)
    .await?;
    audit::record(
        &txn,
        actor.0,
        "equipment.create",
        ("equipment", Some(i64::from(item.id))),
        json!({"room_id": r.id, "code": item.code, "fee_yen": item.fee_yen, "quantity": item.quantity}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(item.into())
}

/// Change a piece of equipment's names, fee or quantity (its code stays).
pub async fn update_equipment(
    db: &DatabaseConnection,
    actor: Actor,
    equipment_id: i32,
    req: &EquipmentRequest,
    now: DateTime<Utc>,
) -> Result<EquipmentView, ConsoleError> {
    ensure_manager(actor.1)?;
    let problems = check_equipment(req, false);
    let txn = begin_write(db).await?;
    let item = equipment::Entity::find_by_id(equipment_id)
        .one(&txn)
        .await?
        .ok_or(ConsoleError::NotFound("equipment"))?;
    room_in_scope(&txn, actor, item.room_id).await?;
    if !problems.is_empty() {
        return Err(ConsoleError::Invalid(problems));
    }
    equipment::Entity::update_many()
        .col_expr(equipment::Column::Name, Expr::value(req.name.trim()))
        .col_expr(equipment::Column::NameEn, Expr::value(req.name_en.trim()))
        .col_expr(equipment::Column::FeeYen, Expr::value(req.fee_yen))
        .col_expr(equipment::Column::Quantity, Expr::value(req.quantity))
        .filter(equipment::Column::Id.eq(item.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor.0,
        "equipment.update",
        ("equipment", Some(i64::from(item.id))),
        json!({"room_id": item.room_id, "before": {"fee_yen": item.fee_yen, "quantity": item.quantity},
               "fee_yen": req.fee_yen, "quantity": req.quantity}),
        now,
    )
    .await?;
    let item = equipment::Entity::find_by_id(item.id)
        .one(&txn)
        .await?
        .ok_or(ConsoleError::NotFound("equipment"))?;
    txn.commit().await?;
    Ok(item.into())
}

/// The facility's calendar (opening hours, closing days) with the closures that take `r`'s
/// floor: as `services::slots` plans it, so a preview and the job agree.
async fn room_calendar(
    db: &impl ConnectionTrait,
    f: &facility::Model,
    r: &room::Model,
    rooms: &[room::Model],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<FacilityCalendar, DbErr> {
    let mut calendar = crate::services::slots::facility_calendar(db, f).await?;
    let parent_of: HashMap<i32, Option<i32>> =
        rooms.iter().map(|r| (r.id, r.parent_room_id)).collect();
    let closures = crate::services::slots::closures_between(db, f.id, from, to).await?;
    calendar.closures = crate::services::slots::applicable_closures(&closures, r, &parent_of);
    Ok(calendar)
}

/// Preview (`apply` false) or apply the regeneration of a facility's (or one room's) slots from
/// `from` to `to` (see the module docs). `window_days` is the slot window (`slot_window_days`).
pub async fn regenerate(
    db: &DatabaseConnection,
    actor: Actor,
    req: &RegenerationRequest,
    window_days: u32,
    apply: bool,
    now: DateTime<Utc>,
) -> Result<RegenerationReport, ConsoleError> {
    ensure_manager(actor.1)?;
    let today = tokyo_date(now);
    let first = today + chrono::Duration::days(1);
    let last = today + chrono::Duration::days(i64::from(window_days));
    let from = req.from.unwrap_or(first);
    let to = req.to.unwrap_or(last);
    let mut problems = Vec::new();
    if from < first || from > last {
        problems.push(Invalid::new(
            "from",
            format!("from tomorrow ({first}) to the end of the slot window ({last})"),
        ));
    }
    if to < from || to > last {
        problems.push(Invalid::new(
            "to",
            format!("not before `from` and not after the end of the slot window ({last})"),
        ));
    }
    let txn = begin_write(db).await?;
    let f = facility_in_scope(&txn, actor, Some(req.facility_id)).await?;
    let rooms = room::Entity::find()
        .filter(room::Column::FacilityId.eq(f.id))
        .order_by_asc(room::Column::Id)
        .all(&txn)
        .await?;
    let chosen: Vec<&room::Model> = match req.room_id {
        None => rooms.iter().collect(),
        Some(id)
            if rooms
                .iter()
                .any(|r| r.id == id && r.parent_room_id.is_none()) =>
        {
            rooms
                .iter()
                .filter(|r| r.id == id || r.parent_room_id == Some(id))
                .collect()
        }
        Some(_) => {
            problems.push(Invalid::new(
                "room_id",
                "a whole or plain room of this facility",
            ));
            Vec::new()
        }
    };
    if !problems.is_empty() {
        return Err(ConsoleError::Invalid(problems));
    }
    let holidays = crate::services::holidays::between(&txn, from, to).await?;
    let mut report = RegenerationReport {
        from,
        to,
        applied: apply,
        to_add: 0,
        to_remove: 0,
        kept: 0,
        rooms: Vec::new(),
    };
    // First every room's plan and slots; then each room's diff, knowing what stays on its floor.
    let mut loaded = Vec::new();
    for r in chosen {
        let calendar = room_calendar(&txn, &f, r, &rooms, from, to).await?;
        let periods = periods_of(&txn, r.slot_template_id).await?;
        let planned = plan_range(from, to, &periods, &calendar, &holidays);
        let slots = slot::Entity::find()
            .filter(slot::Column::RoomId.eq(r.id))
            .filter(slot::Column::StartsAt.gte(tokyo_instant(from, 0)))
            .filter(slot::Column::StartsAt.lt(tokyo_instant(to, 1440)))
            .all(&txn)
            .await?;
        let mut ever_booked: HashSet<i64> = HashSet::new();
        for chunk in slots.chunks(CHUNK) {
            ever_booked.extend(
                booking_slot::Entity::find()
                    .select_only()
                    .column(booking_slot::Column::SlotId)
                    .filter(
                        booking_slot::Column::SlotId
                            .is_in(chunk.iter().map(|s| s.id).collect::<Vec<_>>()),
                    )
                    .into_tuple::<i64>()
                    .all(&txn)
                    .await?,
            );
        }
        let existing: Vec<ExistingSlot> = slots
            .iter()
            .map(|s| {
                let local = |at: DateTime<Utc>| {
                    let t = at.with_timezone(&tokyo());
                    (chrono::Timelike::hour(&t) * 60 + chrono::Timelike::minute(&t)) as i16
                };
                ExistingSlot {
                    id: s.id,
                    date: s.service_date,
                    starts_minute: local(s.starts_at),
                    // A slot ending at midnight ends at minute 1440 of its day.
                    ends_minute: if s.ends_at.with_timezone(&tokyo()).date_naive() > s.service_date
                    {
                        1440
                    } else {
                        local(s.ends_at)
                    },
                    band: s.band.clone(),
                    lighting: s.lighting,
                    open: s.status == "open",
                    ever_booked: ever_booked.contains(&s.id),
                }
            })
            .collect();
        loaded.push((r, planned, slots, existing));
    }
    let mut floor_held: HashMap<i32, Vec<Held>> = HashMap::new();
    for (r, _, _, existing) in &loaded {
        let floor = r.parent_room_id.unwrap_or(r.id);
        floor_held.entry(floor).or_default().extend(
            existing
                .iter()
                .filter(|e| stays(e))
                .map(|e| (e.date, e.starts_minute, e.ends_minute)),
        );
    }
    for (r, planned, slots, existing) in loaded {
        let held = floor_held
            .get(&r.parent_room_id.unwrap_or(r.id))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let diff = diff_slots(&planned, &existing, held);
        if apply {
            let remove: Vec<i64> = diff.remove.iter().map(|s| s.id).collect();
            for chunk in remove.chunks(CHUNK) {
                slot::Entity::delete_many()
                    .filter(slot::Column::Id.is_in(chunk.to_vec()))
                    .filter(slot::Column::Status.eq("open"))
                    .exec(&txn)
                    .await?;
            }
            for chunk in diff.add.chunks(CHUNK) {
                slot::Entity::insert_many(chunk.iter().map(|p| slot::ActiveModel {
                    id: NotSet,
                    room_id: Set(r.id),
                    service_date: Set(p.date),
                    starts_at: Set(tokyo_instant(p.date, p.starts_minute)),
                    ends_at: Set(tokyo_instant(p.date, p.ends_minute)),
                    band: Set(p.band.clone()),
                    lighting: Set(p.lighting),
                    status: Set("open".into()),
                    closure_id: Set(None),
                }))
                .on_conflict(
                    OnConflict::columns([slot::Column::RoomId, slot::Column::StartsAt])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            }
        }
        report.to_add += diff.add.len() as u64;
        report.to_remove += diff.remove.len() as u64;
        report.kept += diff.kept.len() as u64;
        if !(diff.add.is_empty() && diff.remove.is_empty() && diff.kept.is_empty()) {
            report.rooms.push(RoomChanges {
                room_id: r.id,
                name: r.name.clone(),
                name_en: r.name_en.clone(),
                to_add: diff.add.len() as u64,
                to_remove: diff.remove.len() as u64,
                kept: diff
                    .kept
                    .iter()
                    .filter_map(|k| slots.iter().find(|s| s.id == k.id))
                    .map(|s| KeptSlot {
                        slot_id: s.id,
                        starts_at: s.starts_at.with_timezone(&tokyo()),
                        ends_at: s.ends_at.with_timezone(&tokyo()),
                    })
                    .collect(),
            });
        }
    }
    if apply {
        audit::record(
            &txn,
            actor.0,
            "slots.regenerate",
            ("facility", Some(i64::from(f.id))),
            json!({"room_id": req.room_id, "from": from, "to": to,
                   "added": report.to_add, "removed": report.to_remove, "kept": report.kept}),
            now,
        )
        .await?;
        txn.commit().await?;
    }
    // A preview writes nothing: dropping the transaction rolls it back.
    Ok(report)
}
