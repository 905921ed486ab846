//! Finishes what payments left to the provider: makes pending refunds (each with its stored
//! idempotency key, so a retry never refunds twice) and ends open checkouts of bookings that
//! ended (cancelled, or expired by `payment_deadlines`), so they can no longer be paid.

use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::payments::Payments;
use crate::services::payments;

/// How often the job looks.
pub const EVERY: Duration = Duration::from_secs(60);

/// One run (`jobs::runner` schedules it): the refunds made.
pub async fn pass(db: &DatabaseConnection, provider: &Payments) -> anyhow::Result<u64> {
    if let Err(error) = payments::expire_open_checkouts(db, provider, None).await {
        tracing::warn!(job = "refunds", error = %error, "open checkouts not ended");
    }
    let made = payments::settle_refunds(db, provider, None, Utc::now()).await?;
    if made > 0 {
        tracing::info!(job = "refunds", refunds.made = made, "refunds made");
    }
    Ok(u64::try_from(made).unwrap_or(u64::MAX))
}
