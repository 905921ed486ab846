//! Keeps slots materialised from today to `slot_window_days` ahead: once at start, then daily.

use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::domain::calendar::tokyo_date;
use crate::services::slots;

/// How often the window is extended.
const EVERY: Duration = Duration::from_secs(6 * 3600);

/// Run forever: generate now, then every few hours (cheap when nothing is missing).
pub async fn run(db: DatabaseConnection, window_days: u32) {
    loop {
        run_once(&db, window_days).await;
        tokio::time::sleep(EVERY).await;
    }
}

/// One generation pass over the window; failures are logged and retried on the next pass.
pub async fn run_once(db: &DatabaseConnection, window_days: u32) {
    let today = tokyo_date(Utc::now());
    let until = today + chrono::Duration::days(i64::from(window_days));
    let started = std::time::Instant::now();
    match slots::generate(db, today, until, None).await {
        Ok(report) => tracing::info!(
            job = "slot_generation",
            slots.created = report.created,
            slots.removed = report.removed,
            slots.planned = report.planned,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "slot window materialised to {until}"
        ),
        Err(error) => {
            tracing::error!(job = "slot_generation", error = %error, "slot generation failed")
        }
    }
}
