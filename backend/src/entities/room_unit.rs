//! An indivisible piece of a room that bookings claim (a plain room has one; a divisible room one
//! per half).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "room_units")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The whole (physical) room the unit belongs to.
    pub room_id: i32,
    pub code: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
