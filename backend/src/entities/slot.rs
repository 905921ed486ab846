//! コマ: one bookable period of one room on one day.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "slots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub room_id: i32,
    /// The local (Asia/Tokyo) date of use.
    pub service_date: Date,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub band: String,
    pub lighting: bool,
    /// `open` or `closed` (a closure after generation).
    pub status: String,
    pub closure_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::room::Entity",
        from = "Column::RoomId",
        to = "super::room::Column::Id"
    )]
    Room,
}

impl Related<super::room::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Room.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
