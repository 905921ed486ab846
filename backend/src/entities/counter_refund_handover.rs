//! Who handed a counter refund back, and when (one row per refund).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "counter_refund_handovers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub refund_id: i64,
    pub handed_back_by: i32,
    pub handed_back_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
