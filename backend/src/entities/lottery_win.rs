//! 当選: a slot an application won in a draw, and what became of it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lottery_wins")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub round_id: i32,
    pub application_id: i64,
    pub rank: i16,
    pub slot_id: i64,
    /// `won`, `confirmed` or `lapsed`.
    pub state: String,
    /// The booking confirming it made.
    pub booking_id: Option<i64>,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
