//! A manager's closure of a facility or one room for a range of days.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "closures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub facility_id: i32,
    /// `None` closes the whole facility.
    pub room_id: Option<i32>,
    pub starts_on: Date,
    /// Inclusive.
    pub ends_on: Date,
    /// `maintenance`, `weather`, `event` or `official_use`.
    pub kind: String,
    pub reason: String,
    pub created_by: Option<i32>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
