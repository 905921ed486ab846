//! Sign-in sessions: rotating refresh tokens (stored only as hashes, grouped in families so a
//! reused token revokes its whole family) and secrets generated on first run in demo mode.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("refresh_tokens")
                .col(big_pk_auto("id"))
                .col(integer("user_id"))
                // One family per sign-in; each refresh rotates within it.
                .col(string_len("family_id", 36))
                // SHA-256 of the token, hex: the token itself is never stored.
                .col(string_len_uniq("token_hash", 64))
                .col(timestamp_with_time_zone("issued_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("rotated_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_refresh_tokens_user_id")
                        .from("refresh_tokens", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refresh_tokens_family")
                .table("refresh_tokens")
                .col("family_id")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refresh_tokens_user")
                .table("refresh_tokens")
                .col("user_id")
                .to_owned(),
        )
        .await?;

        // Secrets the service makes for itself in demo mode (e.g. the session signing key), so
        // that every instance on the same database, and every restart, agrees on them.
        m.create_table(
            Table::create()
                .table("app_secrets")
                .col(string("name").primary_key())
                .col(text("value"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["app_secrets", "refresh_tokens"] {
            m.drop_table(
                Table::drop()
                    .table(Alias::new(table))
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
