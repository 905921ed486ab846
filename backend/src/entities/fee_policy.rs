//! The city's fee multipliers (in percent), from a date on.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fee_policies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub effective_from: Date,
    pub non_resident_percent: i32,
    pub weekend_holiday_percent: i32,
    pub admission_event_percent: i32,
    pub commercial_percent: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
