//! No-shows and penalty points: the job's work (mark bookings nobody checked in as `no_show`, add
//! their points), the suspension of booking the points lead to, and my penalties.
//!
//! Each no-show is its own short write transaction that changes the booking only if it is still
//! `confirmed` (a conditional UPDATE), so two instances running the job at once, or a check-in
//! arriving at the same moment, can never both act on one booking; the penalty row is unique per
//! booking as well. After any change to a person's points their suspension is recomputed from all
//! of them with `domain::penalties::standing` and stored in `booking_suspensions`, which booking
//! reads.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::db::begin_write;
use crate::domain::booking::{BookingEvent, BookingState, transition};
use crate::domain::calendar::tokyo;
use crate::domain::penalties::{Penalty, PenaltyRules, standing};
use crate::domain::roles::Role;
use crate::entities::{
    booking, booking_event, booking_suspension, penalty_point, room, slot_claim, staff_assignment,
};
use crate::services::audit;
use crate::services::cards::{StaffActionError, staff_reason};
use crate::views::cards::{PenaltiesResponse, PenaltyView, VoidPenaltyResponse};

/// How many bookings one pass looks at; the job runs again a minute later.
const BATCH: u64 = 500;

/// Mark every paid booking that nobody checked in by its end plus the grace period as a
/// no-show, add its penalty points and recompute the person's suspension. Returns how many
/// bookings this call marked (0 for a booking another instance marked first).
pub async fn mark_no_shows(
    db: &DatabaseConnection,
    rules: &PenaltyRules,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let ended_before = now - chrono::Duration::minutes(i64::from(rules.no_show_grace_minutes));
    let due: Vec<i64> = booking::Entity::find()
        .select_only()
        .column(booking::Column::Id)
        .filter(booking::Column::State.eq(BookingState::Confirmed.code()))
        .filter(booking::Column::EndsAt.lte(ended_before))
        .order_by_asc(booking::Column::Id)
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await?;
    let mut marked = 0;
    for id in due {
        let txn = begin_write(db).await?;
        if mark_one(&txn, id, rules, now).await? {
            marked += 1;
        }
        txn.commit().await?;
    }
    if marked > 0 {
        tracing::info!(
            bookings.no_show = marked,
            "marked bookings nobody checked in"
        );
    }
    Ok(marked)
}

async fn mark_one(
    txn: &impl ConnectionTrait,
    id: i64,
    rules: &PenaltyRules,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some(b) = booking::Entity::find_by_id(id).one(txn).await? else {
        return Ok(false);
    };
    let Ok(from) = b.state.parse::<BookingState>() else {
        return Ok(false);
    };
    let Ok(to) = transition(from, BookingEvent::MarkedNoShow) else {
        return Ok(false);
    };
    // Only if nobody changed it since it was read: another instance, or a check-in.
    let changed = booking::Entity::update_many()
        .col_expr(booking::Column::State, Expr::value(to.code()))
        .filter(booking::Column::Id.eq(id))
        .filter(booking::Column::State.eq(from.code()))
        .exec(txn)
        .await?
        .rows_affected;
    if changed != 1 {
        return Ok(false);
    }
    // A no-show no longer holds its (past) slots: claims belong to active bookings only.
    slot_claim::Entity::delete_many()
        .filter(slot_claim::Column::BookingId.eq(id))
        .exec(txn)
        .await?;
    booking_event::Entity::insert(booking_event::ActiveModel {
        id: NotSet,
        booking_id: Set(id),
        at: Set(now),
        actor_user_id: Set(None),
        from_state: Set(Some(from.code().to_owned())),
        to_state: Set(to.code().to_owned()),
        reason: Set(format!(
            "not checked in by the end of the booking plus {} minutes",
            rules.no_show_grace_minutes
        )),
    })
    .exec_without_returning(txn)
    .await?;
    penalty_point::Entity::insert(penalty_point::ActiveModel {
        id: NotSet,
        user_id: Set(b.user_id),
        booking_id: Set(id),
        points: Set(i32::try_from(rules.points_per_no_show).unwrap_or(i32::MAX)),
        reason: Set("no_show".into()),
        incurred_at: Set(b.ends_at),
        recorded_at: Set(now),
        voided_at: Set(None),
        void_reason: Set(None),
    })
    .on_conflict(
        OnConflict::column(penalty_point::Column::BookingId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    recompute_suspension(txn, b.user_id, rules, now).await?;
    Ok(true)
}

/// Withdraw the penalty of a booking (staff accepting an appeal: the person did come, but the
/// scan never reached the server) and recompute their suspension. Returns whether a penalty was
/// voided. `staff_void` (the staff route) and a late-synced offline check-in call it.
pub async fn void_for_booking(
    txn: &impl ConnectionTrait,
    booking_id: i64,
    reason: &str,
    rules: &PenaltyRules,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some(point) = penalty_point::Entity::find()
        .filter(penalty_point::Column::BookingId.eq(booking_id))
        .filter(penalty_point::Column::VoidedAt.is_null())
        .one(txn)
        .await?
    else {
        return Ok(false);
    };
    penalty_point::Entity::update_many()
        .col_expr(penalty_point::Column::VoidedAt, Expr::value(now))
        .col_expr(penalty_point::Column::VoidReason, Expr::value(reason))
        .filter(penalty_point::Column::Id.eq(point.id))
        .filter(penalty_point::Column::VoidedAt.is_null())
        .exec(txn)
        .await?;
    recompute_suspension(txn, point.user_id, rules, now).await?;
    Ok(true)
}

async fn counting_penalties(
    db: &impl ConnectionTrait,
    user_id: i32,
) -> Result<Vec<Penalty>, DbErr> {
    let rows = penalty_point::Entity::find()
        .filter(penalty_point::Column::UserId.eq(user_id))
        .filter(penalty_point::Column::VoidedAt.is_null())
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|p| Penalty {
            at: p.incurred_at,
            points: u32::try_from(p.points).unwrap_or(0),
        })
        .collect())
}

/// Store what the person's points say about their suspension now: the suspension in force, or
/// none (the row is removed).
pub async fn recompute_suspension(
    txn: &impl ConnectionTrait,
    user_id: i32,
    rules: &PenaltyRules,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let penalties = counting_penalties(txn, user_id).await?;
    let suspension = standing(&penalties, rules, now)
        .latest_suspension
        .filter(|s| s.until > now);
    match suspension {
        Some(s) => {
            booking_suspension::Entity::insert(booking_suspension::ActiveModel {
                user_id: Set(user_id),
                suspended_from: Set(s.from),
                suspended_until: Set(s.until),
                computed_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(booking_suspension::Column::UserId)
                    .update_columns([
                        booking_suspension::Column::SuspendedFrom,
                        booking_suspension::Column::SuspendedUntil,
                        booking_suspension::Column::ComputedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        }
        None => {
            booking_suspension::Entity::delete_by_id(user_id)
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

/// Until when the person may not book, if they are suspended at `now`.
pub async fn suspended_until(
    db: &impl ConnectionTrait,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(booking_suspension::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .filter(|s| s.suspended_from <= now && now < s.suspended_until)
        .map(|s| s.suspended_until))
}

/// My penalty points, what they mean now, and each one's reason.
pub async fn my_penalties(
    db: &impl ConnectionTrait,
    rules: &PenaltyRules,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<PenaltiesResponse, DbErr> {
    let rows = penalty_point::Entity::find()
        .filter(penalty_point::Column::UserId.eq(user_id))
        .order_by_desc(penalty_point::Column::IncurredAt)
        .all(db)
        .await?;
    let booking_ids: Vec<i64> = rows.iter().map(|p| p.booking_id).collect();
    let bookings = booking::Entity::find()
        .filter(booking::Column::Id.is_in(booking_ids))
        .all(db)
        .await?;
    let room_ids: Vec<i32> = bookings.iter().map(|b| b.room_id).collect();
    let rooms = room::Entity::find()
        .filter(room::Column::Id.is_in(room_ids))
        .all(db)
        .await?;
    let describe = |booking_id: i64| {
        let Some(b) = bookings.iter().find(|b| b.id == booking_id) else {
            return format!("booking {booking_id} was not checked in");
        };
        let room = rooms
            .iter()
            .find(|r| r.id == b.room_id)
            .map_or("", |r| r.name.as_str());
        let starts = b.starts_at.with_timezone(&tokyo());
        format!(
            "無断キャンセル: {room} {} (booking {booking_id}) was not checked in",
            starts.format("%Y-%m-%d %H:%M")
        )
    };
    let counting: Vec<Penalty> = rows
        .iter()
        .filter(|p| p.voided_at.is_none())
        .map(|p| Penalty {
            at: p.incurred_at,
            points: u32::try_from(p.points).unwrap_or(0),
        })
        .collect();
    let standing = standing(&counting, rules, now);
    Ok(PenaltiesResponse {
        points: standing.points,
        threshold: rules.threshold,
        window_days: rules.window_days,
        suspension_days: rules.suspension_days,
        suspended_until: standing
            .suspended_at(now)
            .map(|s| s.until.with_timezone(&tokyo())),
        items: rows
            .iter()
            .map(|p| PenaltyView {
                booking_id: p.booking_id,
                points: p.points,
                reason: p.reason.clone(),
                description: describe(p.booking_id),
                incurred_at: p.incurred_at.with_timezone(&tokyo()),
                voided_at: p.voided_at.map(|t| t.with_timezone(&tokyo())),
                void_reason: p.void_reason.clone(),
            })
            .collect(),
    })
}

/// Staff withdraw the penalty of a no-show (an appeal accepted: the person did come), with a
/// reason, audited, and the holder's suspension recomputed, all in one transaction. Staff and
/// managers only for bookings at facilities they are assigned to; administrators anywhere.
pub async fn staff_void(
    db: &DatabaseConnection,
    actor: (i32, Role),
    booking_id: i64,
    reason: &str,
    rules: &PenaltyRules,
    now: DateTime<Utc>,
) -> Result<VoidPenaltyResponse, StaffActionError> {
    if actor.1 == Role::Resident {
        return Err(StaffActionError::Forbidden);
    }
    let reason = staff_reason(reason)?;
    let txn = begin_write(db).await?;
    let b = booking::Entity::find_by_id(booking_id)
        .one(&txn)
        .await?
        .ok_or(StaffActionError::NotFound("booking"))?;
    if actor.1 != Role::Admin {
        let facility_id = room::Entity::find_by_id(b.room_id)
            .one(&txn)
            .await?
            .map(|r| r.facility_id)
            .ok_or(StaffActionError::NotFound("booking"))?;
        if staff_assignment::Entity::find_by_id((actor.0, facility_id))
            .one(&txn)
            .await?
            .is_none()
        {
            return Err(StaffActionError::Forbidden);
        }
    }
    let Some(point) = penalty_point::Entity::find()
        .filter(penalty_point::Column::BookingId.eq(booking_id))
        .filter(penalty_point::Column::VoidedAt.is_null())
        .one(&txn)
        .await?
    else {
        return Err(StaffActionError::Conflict {
            code: "no_penalty",
            message: "this booking has no penalty in force (none was given, or it was voided)",
        });
    };
    void_for_booking(&txn, booking_id, reason, rules, now).await?;
    audit::record(
        &txn,
        actor.0,
        "penalty.voided",
        ("booking", Some(booking_id)),
        serde_json::json!({ "user_id": point.user_id, "points": point.points, "reason": reason }),
        now,
    )
    .await?;
    let suspended_until = suspended_until(&txn, point.user_id, now).await?;
    txn.commit().await?;
    Ok(VoidPenaltyResponse {
        booking_id,
        user_id: point.user_id,
        points: point.points,
        voided_at: now.with_timezone(&tokyo()),
        void_reason: reason.to_owned(),
        suspended_until: suspended_until.map(|t| t.with_timezone(&tokyo())),
    })
}
