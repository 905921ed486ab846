//! Refunds handed back at the counter: money taken in cash (or on a card terminal) at a
//! facility is given back there by staff, not through Stripe. One row per refund records who
//! handed it back and when; its primary key (the refund) is the database rule that a refund is
//! handed back once, whoever presses the button twice or at the same moment.
//!
//! A table of its own rather than columns on `refunds`: SQLite cannot add a foreign key to an
//! existing table, nor drop such a column again on the way down.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("counter_refund_handovers")
                .col(big_integer("refund_id").primary_key())
                .col(integer("handed_back_by"))
                .col(timestamp_with_time_zone("handed_back_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_counter_refund_handovers_refund")
                        .from("counter_refund_handovers", "refund_id")
                        .to("refunds", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_counter_refund_handovers_staff")
                        .from("counter_refund_handovers", "handed_back_by")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("counter_refund_handovers").to_owned())
            .await
    }
}
