//! A block for official use (公用): a room's free slots out of public sale for days and a time.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "slot_blocks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub facility_id: i32,
    pub room_id: i32,
    pub starts_on: Date,
    /// Inclusive.
    pub ends_on: Date,
    /// Minutes of the day, Japan time.
    pub starts_minute: i16,
    pub ends_minute: i16,
    pub reason: String,
    pub created_by: Option<i32>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
