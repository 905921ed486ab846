//! 休館日 rules: every week on a weekday, or the nth weekday of each month.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "regular_closing_days")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub facility_id: i32,
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    pub weekday: i16,
    /// 1..=5 for "the nth weekday of the month"; `None` for every week.
    pub nth_of_month: Option<i16>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::facility::Entity",
        from = "Column::FacilityId",
        to = "super::facility::Column::Id"
    )]
    Facility,
}

impl Related<super::facility::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Facility.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
