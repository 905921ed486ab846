//! The account lifecycle after approval: reminders before a registration expires (one per
//! threshold, person and expiry, guarded by a unique key so two instances running the job cannot
//! both send it), and the moment an account was anonymised at its owner's request.
//!
//! No registration state is added: a deleted account keeps a state from the existing CHECK list
//! (`expired`), and `deleted_at` says why. Changing a CHECK list on SQLite means rebuilding the
//! `users` table, which every other table refers to.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("users")
                // Set when the person deleted their account: the personal fields are cleared
                // and the email is a unique placeholder, so the row only anchors kept bookings.
                .add_column(timestamp_with_time_zone_null("deleted_at"))
                .to_owned(),
        )
        .await?;
        // The reminder job and the expiry sweep look registrations up by state and expiry.
        m.create_index(
            Index::create()
                .name("ix_users_registration_expiry")
                .table("users")
                .col("registration_state")
                .col("registration_valid_until")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("registration_reminders")
                .col(big_pk_auto("id"))
                .col(integer("user_id"))
                // The expiry the reminder was about: a renewed registration gets its own
                // reminders before its new expiry.
                .col(date("valid_until"))
                .col(integer("threshold_days").check(Expr::col("threshold_days").gte(0)))
                .col(timestamp_with_time_zone("sent_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_registration_reminders_user")
                        .from("registration_reminders", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The rule itself: one reminder per person, expiry and threshold, whoever sends it.
        m.create_index(
            Index::create()
                .name("ux_registration_reminders_once")
                .table("registration_reminders")
                .col("user_id")
                .col("valid_until")
                .col("threshold_days")
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("registration_reminders"))
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_users_registration_expiry")
                .table(Alias::new("users"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("users")
                .drop_column(Alias::new("deleted_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
