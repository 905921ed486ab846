//! Background jobs exactly once across instances: one lease row per job (who runs it, until when,
//! and when it is next due) and one row per run (when, by whom, how it ended, how much it did).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// How a run ends; `running` until it does.
pub const JOB_RUN_OUTCOMES: &[&str] = &["running", "ok", "failed", "interrupted", "abandoned"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("job_leases")
                // One row per job, made on first use; instances take it with a conditional
                // UPDATE, so two never hold it at once (works the same on SQLite and PostgreSQL).
                .col(string_len("job", 64).primary_key())
                .col(string_len("holder", 128))
                // The holder renews this while it runs; one that dies leaves it to expire, and
                // another instance takes the job over.
                .col(timestamp_with_time_zone("expires_at"))
                // Not run again before this instant: once per period across all instances.
                .col(timestamp_with_time_zone("due_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("job_runs")
                .col(big_pk_auto("id"))
                .col(string_len("job", 64))
                .col(string_len("holder", 128))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .col(
                    string_len("outcome", 16).check(
                        Expr::col(Alias::new("outcome"))
                            .is_in(JOB_RUN_OUTCOMES.iter().map(|o| String::from(*o))),
                    ),
                )
                // What the run did (slots made, bookings expired, mails sent, …).
                .col(big_integer("processed").default(0))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("job_runs_by_job")
                .table("job_runs")
                .col("job")
                .col("started_at")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("job_runs").to_owned())
            .await?;
        m.drop_table(Table::drop().table("job_leases").to_owned())
            .await
    }
}
