//! Keeps slots materialised from today to `slot_window_days` ahead: at first start, then every
//! six hours (one instance at a time, `jobs::runner`).

use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};

use crate::domain::calendar::tokyo_date;
use crate::services::slots;

/// How often the window is extended.
pub const EVERY: Duration = Duration::from_secs(6 * 3600);

/// One generation pass over the window (`jobs::runner` schedules it): the slots created.
pub async fn pass(db: &DatabaseConnection, window_days: u32) -> Result<u64, DbErr> {
    let today = tokyo_date(Utc::now());
    let until = today + chrono::Duration::days(i64::from(window_days));
    let started = std::time::Instant::now();
    let report = slots::generate(db, today, until, None).await?;
    tracing::info!(
        job = "slot_generation",
        slots.created = report.created,
        slots.removed = report.removed,
        slots.planned = report.planned,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "slot window materialised to {until}"
    );
    Ok(report.created)
}
