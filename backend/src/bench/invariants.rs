//! The invariants checked in the database after every run: no (unit, start) held twice, bookings
//! and claims consistent both ways, the run's successes equal to the active bookings it created,
//! one for one, and (workload A) a retried Idempotency-Key never creates a second booking.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Statement,
};
use serde::Serialize;

/// The states that hold slots (`BookingState::ACTIVE`), as an SQL list.
fn active_list() -> String {
    crate::domain::booking::BookingState::ACTIVE
        .iter()
        .map(|s| format!("'{}'", s.code()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the checks found. Every count must be 0 and `successes_match` true.
#[derive(Debug, Clone, Serialize)]
pub struct Invariants {
    /// (unit, start) pairs held by more than one claim (the primary key forbids it).
    pub units_held_twice: i64,
    /// Claims whose booking is missing or not active.
    pub claims_without_active_booking: i64,
    /// Claims for a slot their booking does not hold.
    pub claims_outside_their_booking: i64,
    /// (active booking, slot, covered unit) without its claim.
    pub missing_claims: i64,
    /// Successful answers (201) in the run.
    pub successes: usize,
    /// Active bookings created during the run.
    pub active_bookings_created: usize,
    /// Successes and created active bookings are the same bookings, one for one.
    pub successes_match: bool,
    /// Requests sent twice with one Idempotency-Key (workload A), when the run had any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<IdempotencyCheck>,
}

impl Invariants {
    /// How many checks failed.
    pub fn violations(&self) -> usize {
        [
            self.units_held_twice,
            self.claims_without_active_booking,
            self.claims_outside_their_booking,
            self.missing_claims,
        ]
        .iter()
        .filter(|n| **n != 0)
        .count()
            + usize::from(!self.successes_match)
            + self
                .idempotency
                .as_ref()
                .map_or(0, IdempotencyCheck::violations)
    }
}

/// One request sent twice with the same Idempotency-Key and body: what each send answered.
#[derive(Debug, Clone)]
pub struct Replay {
    pub user_id: i32,
    pub key: String,
    /// Status and booking id of the first send and of the second.
    pub first: (u16, Option<i64>),
    pub second: (u16, Option<i64>),
}

/// "A retried Idempotency-Key never creates a second booking", checked from both ends.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IdempotencyCheck {
    /// Keys sent twice.
    pub replayed_keys: usize,
    /// Of those, keys whose first send was a 201.
    pub replayed_after_201: usize,
    /// Pairs whose two answers differ: a 201 answered by anything but a 201 with the same
    /// booking, or a refusal answered by a 201. Must be 0.
    pub answers_differ: usize,
    /// Stored keys (a 201's) whose recorded booking is not the one both sends answered. Must be 0.
    pub stored_key_mismatch: usize,
    /// Bookings the replaying residents hold from this run beyond the distinct bookings their
    /// 201s named (a replay that booked again would show here). Must be 0.
    pub extra_bookings: usize,
}

impl IdempotencyCheck {
    /// How many of these checks failed.
    pub fn violations(&self) -> usize {
        [
            self.answers_differ,
            self.stored_key_mismatch,
            self.extra_bookings,
        ]
        .iter()
        .filter(|n| **n != 0)
        .count()
    }
}

/// Check the replayed keys of a run: both answers agree, the stored key names the booking they
/// named, and no replaying resident holds a booking from the run that no 201 named.
/// `since` is [`last_booking_id`] before the run; `answered` maps each resident to the booking
/// ids their 201s named during the run (first sends and replays).
pub async fn check_replays(
    db: &DatabaseConnection,
    since: i64,
    replays: &[Replay],
    answered: &HashMap<i32, BTreeSet<i64>>,
) -> Result<IdempotencyCheck, DbErr> {
    use crate::entities::{booking, idempotency_key};
    let mut check = IdempotencyCheck {
        replayed_keys: replays.len(),
        ..IdempotencyCheck::default()
    };
    for r in replays {
        let same = match r.first {
            (201, Some(id)) => r.second == (201, Some(id)),
            (201, None) => false,
            _ => r.second.0 != 201,
        };
        check.answers_differ += usize::from(!same);
        check.replayed_after_201 += usize::from(r.first.0 == 201);
    }
    let mut users: Vec<i32> = replays.iter().map(|r| r.user_id).collect();
    users.sort_unstable();
    users.dedup();
    // IN lists of a few hundred values stay far below either engine's parameter limit.
    let mut stored = HashMap::new();
    let mut held: HashMap<i32, BTreeSet<i64>> = HashMap::new();
    for chunk in users.chunks(500) {
        for k in idempotency_key::Entity::find()
            .filter(idempotency_key::Column::UserId.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            let id = k.response.get("id").and_then(serde_json::Value::as_i64);
            stored.insert((k.user_id, k.key), (k.status_code, id));
        }
        for b in booking::Entity::find()
            .filter(booking::Column::UserId.is_in(chunk.to_vec()))
            .filter(booking::Column::Id.gt(since))
            .all(db)
            .await?
        {
            held.entry(b.user_id).or_default().insert(b.id);
        }
    }
    for r in replays {
        if let (201, Some(id)) = r.first {
            let recorded = stored.get(&(r.user_id, r.key.clone()));
            check.stored_key_mismatch += usize::from(recorded != Some(&(201, Some(id))));
        }
    }
    let empty = BTreeSet::new();
    for user in users {
        let named = answered.get(&user).unwrap_or(&empty);
        let holds = held.get(&user).unwrap_or(&empty);
        check.extra_bookings += holds.difference(named).count();
    }
    Ok(check)
}

async fn scalar(db: &DatabaseConnection, sql: String) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| DbErr::Custom("no row".into()))?;
    row.try_get_by_index::<i64>(0)
        .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))
}

/// The highest booking id so far (0 when none): the run's bookings are those after it.
pub async fn last_booking_id(db: &DatabaseConnection) -> Result<i64, DbErr> {
    scalar(db, "SELECT COALESCE(MAX(id), 0) FROM bookings".into()).await
}

/// Check everything; `since` is [`last_booking_id`] before the run, `success_ids` the booking ids
/// the run's 201s returned.
pub async fn check(
    db: &DatabaseConnection,
    since: i64,
    success_ids: &[i64],
) -> Result<Invariants, DbErr> {
    let active = active_list();
    let units_held_twice = scalar(
        db,
        "SELECT COUNT(*) FROM (SELECT unit_id, starts_at FROM slot_claims \
         GROUP BY unit_id, starts_at HAVING COUNT(*) > 1) AS doubled"
            .into(),
    )
    .await?;
    let claims_without_active_booking = scalar(
        db,
        format!(
            "SELECT COUNT(*) FROM slot_claims c LEFT JOIN bookings b ON b.id = c.booking_id \
             WHERE b.id IS NULL OR b.state NOT IN ({active})"
        ),
    )
    .await?;
    let claims_outside_their_booking = scalar(
        db,
        "SELECT COUNT(*) FROM slot_claims c LEFT JOIN booking_slots bs \
         ON bs.booking_id = c.booking_id AND bs.slot_id = c.slot_id WHERE bs.booking_id IS NULL"
            .into(),
    )
    .await?;
    let missing_claims = scalar(
        db,
        format!(
            "SELECT COUNT(*) FROM bookings b \
             JOIN booking_slots bs ON bs.booking_id = b.id \
             JOIN slots s ON s.id = bs.slot_id \
             JOIN room_unit_coverage cov ON cov.room_id = b.room_id \
             LEFT JOIN slot_claims c ON c.booking_id = b.id AND c.slot_id = s.id \
               AND c.unit_id = cov.unit_id AND c.starts_at = s.starts_at \
             WHERE b.state IN ({active}) AND c.booking_id IS NULL"
        ),
    )
    .await?;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id FROM bookings WHERE id > {since} AND state IN ({active})"),
        ))
        .await?;
    let mut created = BTreeSet::new();
    for row in rows {
        created.insert(row.try_get_by_index::<i64>(0)?);
    }
    let answered: BTreeSet<i64> = success_ids.iter().copied().collect();
    Ok(Invariants {
        units_held_twice,
        claims_without_active_booking,
        claims_outside_their_booking,
        missing_claims,
        successes: success_ids.len(),
        active_bookings_created: created.len(),
        successes_match: answered.len() == success_ids.len() && answered == created,
        idempotency: None,
    })
}
