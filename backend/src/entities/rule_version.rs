//! A version of one section of the city-wide rules, in force from a date (see
//! `domain::rule_history`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rule_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// `booking`, `penalties` or `lottery`.
    pub section: String,
    /// The whole section in its serde JSON form.
    pub body: Json,
    pub effective_from: Date,
    pub saved_by: i32,
    pub saved_at: DateTimeUtc,
    pub note: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
