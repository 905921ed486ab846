//! 団体登録: a group, its representative and its state.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_registrations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub name_kana: String,
    pub activity: String,
    pub representative_user_id: i32,
    /// `domain::groups::GroupState` code.
    pub state: String,
    pub fee_reduction_id: Option<i32>,
    pub created_at: DateTimeUtc,
    pub registered_at: Option<DateTimeUtc>,
    pub valid_until: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
