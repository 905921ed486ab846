//! A mail waiting to be sent (or, without SMTP, kept readable).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub to_address: String,
    pub locale: String,
    pub template: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Not before this instant (backoff after a failure); `None`: due now.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// A sender's lease on this mail; see `services::mail::claim`.
    pub claimed_until: Option<DateTimeUtc>,
    pub claim_token: Option<String>,
    /// Given up after the last attempt.
    pub failed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
