//! A sports or cultural facility (施設) in a ward.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "facilities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub code: String,
    pub ward_id: i32,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
    pub kind: String,
    pub postal_code: String,
    pub address: String,
    pub address_en: String,
    pub latitude: f64,
    pub longitude: f64,
    pub phone: String,
    /// Minutes after local midnight.
    pub opens_minute: i16,
    pub closes_minute: i16,
    pub closes_on_holidays: bool,
    pub year_end_closure: bool,
    /// JSON array of strings.
    pub barrier_free_ja: Json,
    /// JSON array of strings, in the same order as `barrier_free_ja`.
    pub barrier_free_en: Json,
    pub description_ja: String,
    pub description_en: String,
    /// Folded name, kana, English name and address for free-text search.
    pub search_text: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::ward::Entity",
        from = "Column::WardId",
        to = "super::ward::Column::Id"
    )]
    Ward,
    #[sea_orm(has_many = "super::room::Entity")]
    Room,
    #[sea_orm(has_many = "super::regular_closing_day::Entity")]
    RegularClosingDay,
}

impl Related<super::ward::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Ward.def()
    }
}

impl Related<super::room::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Room.def()
    }
}

impl Related<super::regular_closing_day::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RegularClosingDay.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
