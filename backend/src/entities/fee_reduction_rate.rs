//! 減免: the rate of a fee reduction from a date on (before its first row, the reduction's own
//! `percent_off` applies).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fee_reduction_rates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub fee_reduction_id: i32,
    pub percent_off: i32,
    pub effective_from: Date,
    pub saved_by: i32,
    pub saved_at: DateTimeUtc,
    pub note: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
