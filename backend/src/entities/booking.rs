//! A booking of consecutive slots of one room by one person.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i32,
    pub room_id: i32,
    /// `domain::booking::BookingState` code.
    pub state: String,
    /// `resident` or `non_resident`, as priced.
    pub residency: String,
    /// `ordinary`, `admission_event` or `commercial`.
    pub purpose_kind: String,
    pub purpose: String,
    pub attendees: i32,
    pub room_kind: String,
    pub service_date: Date,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub total_yen: i32,
    /// The fee breakdown as booked.
    pub quote: Json,
    pub pay_by: DateTimeUtc,
    /// `online` or `counter`.
    pub channel: String,
    pub created_by: Option<i32>,
    pub created_at: DateTimeUtc,
    pub cancelled_at: Option<DateTimeUtc>,
    pub refund_yen: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
