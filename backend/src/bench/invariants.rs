//! The invariants checked in the database after every run: no (unit, start) held twice, bookings
//! and claims consistent both ways, and the run's successes equal to the active bookings it
//! created, one for one.

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};
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
    }
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
    })
}
