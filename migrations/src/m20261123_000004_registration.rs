//! Online registration (利用者登録): the person's details, their registration's state and card
//! number, and the mail outbox that carries verification links.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Registration states; mirrored by `domain::registration::RegistrationState`.
pub const REGISTRATION_STATES: &[&str] = &[
    "email_unverified",
    "pending_review",
    "approved",
    "rejected",
    "expired",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let states = Expr::col(Alias::new("registration_state"))
            .is_in(REGISTRATION_STATES.iter().map(|s| String::from(*s)));
        // One column per ALTER: SQLite adds a single column per statement.
        let columns = [
            date_null("date_of_birth"),
            string_len_null("postal_code", 8),
            text_null("address"),
            string_len_null("phone", 20),
            // New accounts start unverified; the accounts that existed before registration
            // (demo and staff accounts) are set to approved below.
            string("registration_state")
                .default("email_unverified")
                .check(states)
                .take(),
            string_len_null("card_number", 12),
            date_null("registration_valid_until"),
        ];
        for column in columns {
            m.alter_table(Table::alter().table("users").add_column(column).to_owned())
                .await?;
        }
        m.get_connection()
            .execute_unprepared("UPDATE users SET registration_state = 'approved'")
            .await?;
        m.create_index(
            Index::create()
                .name("ux_users_card_number")
                .table("users")
                .col("card_number")
                .unique()
                .to_owned(),
        )
        .await?;

        // Mail waits here and is sent by a job (SMTP when configured); without SMTP it stays
        // readable, so a person in demo mode can follow their verification link.
        m.create_table(
            Table::create()
                .table("mail_outbox")
                .col(big_pk_auto("id"))
                .col(string("to_address"))
                .col(string_len("locale", 2))
                .col(string("template"))
                .col(string("subject"))
                .col(text("body"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .col(integer("attempts").default(0))
                .col(text_null("last_error"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_mail_outbox_unsent")
                .table("mail_outbox")
                .col("sent_at")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("mail_outbox"))
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ux_users_card_number")
                .table(Alias::new("users"))
                .to_owned(),
        )
        .await?;
        for column in [
            "registration_valid_until",
            "card_number",
            "registration_state",
            "phone",
            "address",
            "postal_code",
            "date_of_birth",
        ] {
            m.alter_table(
                Table::alter()
                    .table("users")
                    .drop_column(Alias::new(column))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
