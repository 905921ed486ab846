//! 室場: a bookable room or field. Halves of a divisible room point at their whole.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rooms")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub facility_id: i32,
    /// The whole room this one is a half of; `None` for a whole or plain room.
    pub parent_room_id: Option<i32>,
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
    pub kind: String,
    pub capacity: i32,
    pub area_m2: Option<i32>,
    pub slot_template_id: i32,
    pub uses_lottery: bool,
    pub requires_group: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::facility::Entity",
        from = "Column::FacilityId",
        to = "super::facility::Column::Id"
    )]
    Facility,
    #[sea_orm(
        belongs_to = "super::slot_template::Entity",
        from = "Column::SlotTemplateId",
        to = "super::slot_template::Column::Id"
    )]
    SlotTemplate,
    #[sea_orm(has_many = "super::equipment::Entity")]
    Equipment,
    #[sea_orm(has_many = "super::room_price::Entity")]
    RoomPrice,
}

impl Related<super::facility::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Facility.def()
    }
}

impl Related<super::equipment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Equipment.def()
    }
}

impl Related<super::room_price::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RoomPrice.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
