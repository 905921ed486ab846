//! 抽選申込: one applicant's application to a round (its wishes in `lottery_wishes`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lottery_applications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub round_id: i32,
    /// The person, or the group's representative who applied for it.
    pub user_id: i32,
    pub group_id: Option<i32>,
    /// `u<user id>` or `g<group id>`.
    pub applicant_key: String,
    pub tier: i16,
    /// `submitted` or `withdrawn`.
    pub state: String,
    pub purpose: String,
    pub attendees: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
