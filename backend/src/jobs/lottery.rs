//! Draws lottery rounds at their draw time and lapses unconfirmed wins at the confirmation
//! deadline (`services::lottery::run_due`). Safe on many instances: a round's draw is one
//! conditional state change, so only one instance draws it.

use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::services::lottery;

/// How often due rounds are looked for.
pub const EVERY: Duration = Duration::from_secs(60);

/// One run (`jobs::runner` schedules it): rounds drawn plus wins lapsed.
pub async fn pass(db: &DatabaseConnection) -> anyhow::Result<u64> {
    let (drawn, lapsed) = lottery::run_due(db, Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("lottery: {e}"))?;
    if drawn + lapsed > 0 {
        tracing::info!(
            job = "lottery",
            lottery.drawn = drawn,
            lottery.lapsed = lapsed,
            "lottery rounds drawn and wins lapsed"
        );
    }
    Ok(drawn + lapsed)
}
