//! Money received for a booking, online or at the counter.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub booking_id: i64,
    /// `domain::payments::Provider` code.
    pub provider: String,
    pub checkout_attempt_id: Option<i64>,
    pub provider_session_id: Option<String>,
    pub provider_payment_id: Option<String>,
    pub amount_yen: i64,
    pub currency: String,
    /// Committed to refunds (pending or done); never above `amount_yen`.
    pub refunded_yen: i64,
    /// `applied` (confirmed its booking) or `returned` (refunded in full on arrival).
    pub disposition: String,
    pub receipt_number: Option<String>,
    pub paid_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub recorded_by: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
