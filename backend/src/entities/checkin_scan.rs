//! One scan of a card at a facility, online or synced from an offline scanner.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "checkin_scans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The scanner's own id for the scan; unique.
    pub client_id: Option<String>,
    pub staff_user_id: i32,
    pub facility_id: i32,
    pub holder_user_id: Option<i32>,
    pub card_id: Option<i64>,
    /// `qr` or `manual`.
    pub method: String,
    /// `domain::checkin::ScanResult` code.
    pub result: String,
    pub refusal_code: Option<String>,
    pub scanned_at: DateTimeUtc,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
