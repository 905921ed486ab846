//! Once a minute: marks paid bookings nobody checked in (by their end plus the grace period) as
//! no-shows with their penalty points, and revokes the cards of registrations that ended, so the
//! revocation list offline scanners fetch stays current. Both are conditional updates, safe with
//! any number of instances.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};

use crate::services::rule_book::RuleBook;
use crate::services::{cards, penalties};

/// How often the job runs.
pub const EVERY: Duration = Duration::from_secs(60);

/// One run (`jobs::runner` schedules it): no-shows marked plus cards revoked. The sweep runs
/// even when marking fails, and the first failure is reported.
pub async fn pass(db: &DatabaseConnection, rules: &RuleBook) -> Result<u64, DbErr> {
    let now = Utc::now();
    let marked = penalties::mark_no_shows(db, &rules.at(now).penalties, now).await;
    let revoked = cards::sweep_registration_ended(db, Utc::now()).await;
    Ok(marked? + revoked?)
}
