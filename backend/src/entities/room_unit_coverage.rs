//! Which units a bookable room covers: a whole covers every unit, a half covers its own.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "room_unit_coverage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub room_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub unit_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
