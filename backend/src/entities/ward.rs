//! 区: the wards of a designated city.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "wards")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The ward's 全国地方公共団体コード (six digits with check digit).
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::facility::Entity")]
    Facility,
}

impl Related<super::facility::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Facility.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
