//! The audit log: every staff action, and every staff view of personal data, with who and when.
//! Written in the same transaction as the action it records.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DbErr, EntityTrait,
};

use crate::entities::audit_log;

/// Record that `actor` did `action` to a subject.
pub async fn record(
    db: &impl ConnectionTrait,
    actor: i32,
    action: &str,
    subject: (&str, Option<i64>),
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        id: NotSet,
        at: Set(at),
        actor_user_id: Set(Some(actor)),
        action: Set(action.to_owned()),
        subject_type: Set(subject.0.to_owned()),
        subject_id: Set(subject.1),
        detail: Set(detail),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}
