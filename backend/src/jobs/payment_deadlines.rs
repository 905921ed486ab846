//! Cancels unpaid bookings once their payment deadline passes and releases their slots.

use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::services::bookings;

/// How often deadlines are checked.
const EVERY: Duration = Duration::from_secs(60);

/// Run forever, once a minute.
pub async fn run(db: DatabaseConnection) {
    loop {
        match bookings::expire_unpaid(&db, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                job = "payment_deadlines",
                bookings.expired = n,
                "unpaid bookings expired"
            ),
            Err(error) => {
                tracing::error!(job = "payment_deadlines", error = %error, "payment deadline job failed")
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}
