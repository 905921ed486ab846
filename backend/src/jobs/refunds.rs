//! Finishes what payments left to the provider: makes pending refunds (each with its stored
//! idempotency key, so a retry never refunds twice) and ends open checkouts of bookings that
//! ended (cancelled, or expired by `payment_deadlines`), so they can no longer be paid.

use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::payments::Payments;
use crate::services::payments;

/// How often the job looks.
const EVERY: Duration = Duration::from_secs(60);

/// Run forever, once a minute.
pub async fn run(db: DatabaseConnection, provider: Payments) {
    loop {
        if let Err(error) = payments::expire_open_checkouts(&db, &provider, None).await {
            tracing::warn!(job = "refunds", error = %error, "open checkouts not ended");
        }
        match payments::settle_refunds(&db, &provider, None, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(job = "refunds", refunds.made = n, "refunds made"),
            Err(error) => tracing::error!(job = "refunds", error = %error, "refund job failed"),
        }
        tokio::time::sleep(EVERY).await;
    }
}
