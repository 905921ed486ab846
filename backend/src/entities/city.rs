//! The one city this deployment serves.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// 全国地方公共団体コード, six digits including the check digit.
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
    pub prefecture: String,
    pub prefecture_en: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
