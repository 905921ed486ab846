//! Blocks for official use (公用): a room's free slots taken out of public sale for a range of
//! days and a time of day, without cancelling anyone. Unlike a closure (whole days, bookings
//! cancelled and refunded), a block covers part of a day, so slot generation (which drops whole
//! days for closures) never sees it: the blocked slots are marked `closed` with no closure, and
//! this table says why, for the calendar and for lifting the block again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("slot_blocks")
                .col(pk_auto("id"))
                .col(integer("facility_id"))
                .col(integer("room_id"))
                .col(date("starts_on"))
                // Inclusive, as closures.
                .col(date("ends_on"))
                // Minutes of the day (Japan time): a slot is blocked when it lies within them.
                .col(
                    small_integer("starts_minute")
                        .check(Expr::col("starts_minute").between(0, 1440)),
                )
                .col(small_integer("ends_minute").check(Expr::col("ends_minute").between(0, 1440)))
                .col(string_len("reason", 200))
                .col(integer_null("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .check(Expr::col("starts_on").lte(Expr::col("ends_on")))
                .check(Expr::col("starts_minute").lt(Expr::col("ends_minute")))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_slot_blocks_facility_id")
                        .from("slot_blocks", "facility_id")
                        .to("facilities", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_slot_blocks_room_id")
                        .from("slot_blocks", "room_id")
                        .to("rooms", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_slot_blocks_created_by")
                        .from("slot_blocks", "created_by")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_slot_blocks_facility_range")
                .table("slot_blocks")
                .col("facility_id")
                .col("starts_on")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("slot_blocks").to_owned())
            .await
    }
}
