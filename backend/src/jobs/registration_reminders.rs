//! Registrations near or past their expiry: marks those past it `expired` and mails each person
//! a reminder at the configured days before it (60 and 14 by default), once per threshold, even
//! when several instances run this job at the same time (`services::renewal`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};

use crate::config::Settings;
use crate::domain::renewal::RenewalRules;
use crate::services::renewal;

/// How often the job runs. Thresholds are whole days, so hourly is prompt enough, and a run
/// that finds nothing due costs one indexed query.
pub const EVERY: Duration = Duration::from_secs(3600);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Registrations marked `expired`.
    pub expired: u64,
    /// Reminder mails written to the outbox.
    pub reminded: u64,
}

/// One run (`jobs::runner` schedules it): registrations expired plus reminders queued.
pub async fn pass(db: &DatabaseConnection, settings: &Settings) -> Result<u64, DbErr> {
    let sign_in_link = format!("{}/login", settings.public_base_url().trim_end_matches('/'));
    let report = run_once(db, &settings.renewal, &sign_in_link, Utc::now()).await?;
    if report != Report::default() {
        tracing::info!(
            job = "registration_reminders",
            registrations.expired = report.expired,
            reminders.sent = report.reminded,
            "registrations expired and reminders queued"
        );
    }
    Ok(report.expired + report.reminded)
}

/// One pass at `now`: expire what has passed, then queue the reminders that are due.
pub async fn run_once(
    db: &DatabaseConnection,
    rules: &RenewalRules,
    sign_in_link: &str,
    now: DateTime<Utc>,
) -> Result<Report, DbErr> {
    let expired = renewal::expire_registrations(db, now).await?;
    let reminded = renewal::send_reminders(db, rules, sign_in_link, now).await?;
    Ok(Report { expired, reminded })
}
