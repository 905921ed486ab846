//! Job leases and runs: how any number of instances on one database run each background job
//! once per period, and take over the job of an instance that died.
//!
//! Each job has one `job_leases` row. An instance runs the job only after taking the row with a
//! conditional UPDATE (`due_at <= now AND (expires_at < now OR holder = me)`): the database lets
//! exactly one of several racing instances change it, on SQLite and PostgreSQL alike, without
//! locks held across the run. The holder renews `expires_at` while the job runs; when it
//! finishes it releases the row and moves `due_at` one period on. A holder that dies stops
//! renewing, so its lease runs out and another instance takes the job up again.
//!
//! Times are each instance's own clock: the lease length must comfortably exceed the clock skew
//! between machines (NTP keeps it to milliseconds).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::entities::{job_lease, job_run};

/// How a run ended (the `job_runs.outcome` values, besides `running`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The job did its work.
    Ok,
    /// The job returned an error; it is tried again next period.
    Failed,
    /// This instance shut down during the run; the lease was released for another to run it.
    Interrupted,
}

impl Outcome {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// Take the lease on `job` for `lease` if the job is due and nobody else holds it. True when
/// this holder now has it.
pub async fn try_acquire(
    db: &impl ConnectionTrait,
    job: &str,
    holder: &str,
    lease: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    // The row is made on first use, due now and held by nobody; racing instances make it once.
    job_lease::Entity::insert(job_lease::ActiveModel {
        job: Set(job.to_owned()),
        holder: Set(String::new()),
        expires_at: Set(now - chrono::Duration::seconds(1)),
        due_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(job_lease::Column::Job)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let taken = job_lease::Entity::update_many()
        .col_expr(job_lease::Column::Holder, Expr::value(holder))
        .col_expr(job_lease::Column::ExpiresAt, Expr::value(now + lease))
        .filter(job_lease::Column::Job.eq(job))
        .filter(job_lease::Column::DueAt.lte(now))
        .filter(
            Condition::any()
                .add(job_lease::Column::ExpiresAt.lt(now))
                .add(job_lease::Column::Holder.eq(holder)),
        )
        .exec(db)
        .await?
        .rows_affected;
    Ok(taken == 1)
}

/// Extend the lease this holder has; false if it was lost (it ran out and another took it).
pub async fn renew(
    db: &impl ConnectionTrait,
    job: &str,
    holder: &str,
    lease: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let renewed = job_lease::Entity::update_many()
        .col_expr(job_lease::Column::ExpiresAt, Expr::value(now + lease))
        .filter(job_lease::Column::Job.eq(job))
        .filter(job_lease::Column::Holder.eq(holder))
        .exec(db)
        .await?
        .rows_affected;
    Ok(renewed == 1)
}

/// Give the lease up. `next_due` moves the job's next run (after a finished run); `None` keeps
/// it due, so another instance runs it at once (after an interrupted run).
pub async fn release(
    db: &impl ConnectionTrait,
    job: &str,
    holder: &str,
    next_due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut update = job_lease::Entity::update_many()
        .col_expr(
            job_lease::Column::ExpiresAt,
            Expr::value(now - chrono::Duration::seconds(1)),
        )
        .filter(job_lease::Column::Job.eq(job))
        .filter(job_lease::Column::Holder.eq(holder));
    if let Some(due) = next_due {
        update = update.col_expr(job_lease::Column::DueAt, Expr::value(due));
    }
    update.exec(db).await?;
    Ok(())
}

/// Record the start of a run by `holder` (who has the lease), closing any run of `job` left
/// `running` by a holder that died. Returns the run's id.
pub async fn start_run(
    db: &impl ConnectionTrait,
    job: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    job_run::Entity::update_many()
        .col_expr(job_run::Column::Outcome, Expr::value("abandoned"))
        .col_expr(job_run::Column::FinishedAt, Expr::value(now))
        .filter(job_run::Column::Job.eq(job))
        .filter(job_run::Column::Outcome.eq("running"))
        .exec(db)
        .await?;
    let run = job_run::Entity::insert(job_run::ActiveModel {
        job: Set(job.to_owned()),
        holder: Set(holder.to_owned()),
        started_at: Set(now),
        finished_at: Set(None),
        outcome: Set("running".to_owned()),
        processed: Set(0),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(run.last_insert_id)
}

/// Record how run `id` ended and how much it did.
pub async fn finish_run(
    db: &impl ConnectionTrait,
    id: i64,
    outcome: Outcome,
    processed: u64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    job_run::Entity::update_many()
        .col_expr(job_run::Column::Outcome, Expr::value(outcome.code()))
        .col_expr(job_run::Column::FinishedAt, Expr::value(now))
        .col_expr(
            job_run::Column::Processed,
            Expr::value(i64::try_from(processed).unwrap_or(i64::MAX)),
        )
        .filter(job_run::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The runs of `job`, oldest first (tests and operators).
pub async fn runs(db: &impl ConnectionTrait, job: &str) -> Result<Vec<job_run::Model>, DbErr> {
    job_run::Entity::find()
        .filter(job_run::Column::Job.eq(job))
        .order_by_asc(job_run::Column::Id)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_codes_are_the_ones_the_database_allows() {
        for outcome in [Outcome::Ok, Outcome::Failed, Outcome::Interrupted] {
            assert!(
                migration::m20261123_000015_job_leases::JOB_RUN_OUTCOMES.contains(&outcome.code()),
                "{outcome:?}"
            );
        }
    }
}
