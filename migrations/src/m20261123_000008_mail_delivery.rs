//! Mail delivery: what the sending job needs on each outbox row to send it once, retry it with
//! backoff, and give it up after the configured number of attempts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns this migration adds to `mail_outbox`.
const COLUMNS: &[&str] = &[
    "next_attempt_at",
    "claimed_until",
    "claim_token",
    "failed_at",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds a single column per statement. All are nullable, so
        // rows written before this migration are simply due now and unclaimed.
        let columns = [
            // Not before this instant (backoff after a failure); NULL: due now.
            timestamp_with_time_zone_null("next_attempt_at"),
            // A sender's lease: while it lies in the future, no other instance takes the mail.
            // A sender that dies leaves it to expire, and the mail is taken up again.
            timestamp_with_time_zone_null("claimed_until"),
            // Who holds the lease, so a sender whose lease ran out cannot overwrite the outcome
            // of the one that took the mail over.
            string_len_null("claim_token", 64),
            // Given up after the last attempt; kept, with `last_error`, for people to see.
            timestamp_with_time_zone_null("failed_at"),
        ];
        for column in columns {
            m.alter_table(
                Table::alter()
                    .table("mail_outbox")
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS.iter().rev() {
            m.alter_table(
                Table::alter()
                    .table("mail_outbox")
                    .drop_column(Alias::new(*column))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
