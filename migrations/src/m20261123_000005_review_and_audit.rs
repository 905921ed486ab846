//! Registration review (the reason given with a decision) and the audit log of staff actions and
//! of every staff view of personal data.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("users")
                .add_column(text_null("review_note"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("audit_log")
                .col(big_pk_auto("id"))
                .col(timestamp_with_time_zone("at"))
                .col(integer_null("actor_user_id"))
                // e.g. `registration.view_queue`, `registration.approve`.
                .col(string("action"))
                .col(string("subject_type"))
                .col(big_integer_null("subject_id"))
                .col(json("detail"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_audit_log_actor")
                        .from("audit_log", "actor_user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_log_at")
                .table("audit_log")
                .col("at")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_log_subject")
                .table("audit_log")
                .col("subject_type")
                .col("subject_id")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("audit_log"))
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("users")
                .drop_column(Alias::new("review_note"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
