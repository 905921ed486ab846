//! One daily period of a slot template, valid in a season and on a kind of day.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "slot_template_periods")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub template_id: i32,
    /// Season start as month*100+day, inclusive.
    pub season_from_md: i16,
    /// Season end as month*100+day, inclusive; may be before the start (wraps the year).
    pub season_to_md: i16,
    /// `any`, `weekday` or `weekend_holiday`.
    pub day_type: String,
    pub starts_minute: i16,
    pub ends_minute: i16,
    /// Price band, a key of the room's price table.
    pub band: String,
    /// Whether the period needs lighting (夜間照明), which may cost extra.
    pub lighting: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::slot_template::Entity",
        from = "Column::TemplateId",
        to = "super::slot_template::Column::Id"
    )]
    Template,
}

impl Related<super::slot_template::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Template.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
