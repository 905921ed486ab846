//! One "pay now": a Stripe Checkout Session or an embedded (test-mode) checkout page.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "checkout_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub booking_id: i64,
    /// `stripe` or `embedded`.
    pub provider: String,
    pub provider_session_id: Option<String>,
    pub idempotency_key: String,
    pub amount_yen: i64,
    /// `domain::payments::AttemptState` code.
    pub state: String,
    pub checkout_url: Option<String>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub created_by: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
