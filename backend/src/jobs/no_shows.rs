//! Once a minute: marks paid bookings nobody checked in (by their end plus the grace period) as
//! no-shows with their penalty points, and revokes the cards of registrations that ended, so the
//! revocation list offline scanners fetch stays current. Both are conditional updates, safe with
//! any number of instances.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::config::Settings;
use crate::services::{cards, penalties};

/// How often the job runs.
const EVERY: Duration = Duration::from_secs(60);

/// Run forever, once a minute.
pub async fn run(db: DatabaseConnection, settings: Arc<Settings>) {
    loop {
        if let Err(error) = penalties::mark_no_shows(&db, &settings.penalties, Utc::now()).await {
            tracing::error!(job = "no_shows", error = %error, "no-show job failed");
        }
        if let Err(error) = cards::sweep_registration_ended(&db, Utc::now()).await {
            tracing::error!(job = "no_shows", error = %error, "card revocation sweep failed");
        }
        tokio::time::sleep(EVERY).await;
    }
}
