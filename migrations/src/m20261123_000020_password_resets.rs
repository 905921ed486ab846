//! Password reset tokens: one row per reset mail, holding only the SHA-256 of the token that
//! the mailed link carries, when it expires and when it was used. The database keeps a token
//! single-use on its own terms: the confirming UPDATE matches only a row whose `used_at` is
//! still empty, so two concurrent confirmations cannot both succeed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("password_resets")
                .col(big_pk_auto("id"))
                .col(integer("user_id"))
                // A hex SHA-256: a stolen copy of the table cannot be turned back into links.
                .col(string_len("token_hash", 64).unique_key())
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .check(Expr::col("expires_at").gt(Expr::col("created_at")))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_password_resets_user")
                        .from("password_resets", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The throttle counts a person's recent reset mails.
        m.create_index(
            Index::create()
                .name("ix_password_resets_user_created")
                .table("password_resets")
                .col("user_id")
                .col("created_at")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("password_resets"))
                .if_exists()
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
