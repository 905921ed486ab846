//! Money given back from a payment.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub payment_id: i64,
    pub amount_yen: i64,
    /// `domain::payments::RefundReason` code.
    pub reason: String,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    pub idempotency_key: String,
    pub provider_refund_id: Option<String>,
    pub failure: Option<String>,
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub requested_by: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
