//! 抽選回: a lottery round for one month of use (rooms in `lottery_round_rooms`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lottery_rounds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    /// The first day of the month of use.
    pub month_of_use: Date,
    pub applications_open_at: DateTimeUtc,
    pub applications_close_at: DateTimeUtc,
    pub draw_at: DateTimeUtc,
    pub confirm_by: DateTimeUtc,
    pub first_come_opens_at: DateTimeUtc,
    /// `scheduled`, `drawn` or `settled` (domain::lottery::RoundState).
    pub state: String,
    pub max_wishes: i16,
    pub max_wins_per_applicant: i16,
    /// Secret until the draw.
    pub seed_hex: String,
    pub commitment_hex: String,
    pub algorithm: String,
    pub algorithm_version: i32,
    pub created_at: DateTimeUtc,
    pub drawn_at: Option<DateTimeUtc>,
    /// The published results document (domain::lottery::PublishedResults).
    pub results: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
