//! A named set of daily periods (コマ) that rooms are generated from.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "slot_templates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub code: String,
    pub name: String,
    pub name_en: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::slot_template_period::Entity")]
    Period,
}

impl Related<super::slot_template_period::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Period.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
