//! Cancels unpaid bookings once their payment deadline passes and releases their slots.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};

use crate::services::bookings;

/// How often deadlines are checked.
pub const EVERY: Duration = Duration::from_secs(60);

/// One run (`jobs::runner` schedules it): the bookings expired.
pub async fn pass(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let expired = bookings::expire_unpaid(db, Utc::now()).await?;
    if expired > 0 {
        tracing::info!(
            job = "payment_deadlines",
            bookings.expired = expired,
            "unpaid bookings expired"
        );
    }
    Ok(expired)
}
