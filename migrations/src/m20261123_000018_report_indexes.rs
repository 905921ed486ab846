//! Indexes for the console's reports, which aggregate by month of use over a range of dates:
//! city-wide revenue and no-show reports select bookings by `service_date` (the existing index
//! leads with `room_id`, which a report across every room cannot use), and lottery demand
//! reaches the wishes of the slots in the range by `slot_id` (the existing unique index leads
//! with `application_id`). Without them each report reads the whole table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index name, table, columns)
const INDEXES: &[(&str, &str, &[&str])] = &[
    ("ix_bookings_service_date", "bookings", &["service_date"]),
    ("ix_lottery_wishes_slot", "lottery_wishes", &["slot_id"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(Alias::new(*table));
            for column in *columns {
                index.col(Alias::new(*column));
            }
            m.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            m.drop_index(
                Index::drop()
                    .name(*name)
                    .table(Alias::new(*table))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
