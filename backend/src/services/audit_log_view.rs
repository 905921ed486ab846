//! Reading the audit log (administrators only): every staff action and every staff view of
//! personal data, filtered by actor, action, subject and dates, newest first, a bounded page at a
//! time. Reading it is itself a view of personal data (the entries name people by id and their
//! details), so each read is audited too.

use std::collections::HashMap;

use chrono::{DateTime, Days, Utc};
use sea_orm::sea_query::LikeExpr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::calendar::{tokyo, tokyo_instant};
use crate::domain::roles::Role;
use crate::entities::{audit_log, user};
use crate::services::audit;
use crate::views::console_counter::{AuditEntry, AuditPage, AuditQuery};

/// Entries on one page.
pub const PER_PAGE: u64 = 50;
/// The furthest page: a deeper read is a filter away, and OFFSET grows with the page.
pub const MAX_PAGE: u64 = 1000;
/// The most rows one CSV export holds.
pub const MAX_EXPORT: u64 = 10_000;

/// Why an audit read was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuditViewError {
    #[error("only administrators may read the audit log")]
    Forbidden,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn invalid(field: &'static str, message: impl Into<String>) -> AuditViewError {
    AuditViewError::Invalid {
        field,
        message: message.into(),
    }
}

/// The filters as a condition, checked first.
fn condition(query: &AuditQuery) -> Result<Condition, AuditViewError> {
    let mut c = Condition::all();
    if let Some(actor) = query.actor {
        c = c.add(audit_log::Column::ActorUserId.eq(actor));
    }
    if let Some(action) = query.action.as_deref().map(str::trim) {
        if action.is_empty()
            || action.len() > 64
            || !action
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch == '.')
        {
            return Err(invalid(
                "action",
                "an action such as booking.counter, or a prefix such as registration.",
            ));
        }
        // A prefix (`registration.`) lists a family of actions; `_` is literal in codes.
        c = if action.ends_with('.') {
            let pattern = format!("{}%", action.replace('_', "\\_"));
            c.add(audit_log::Column::Action.like(LikeExpr::new(pattern).escape('\\')))
        } else {
            c.add(audit_log::Column::Action.eq(action))
        };
    }
    if let Some(kind) = query.subject_type.as_deref().map(str::trim) {
        if kind.is_empty()
            || kind.len() > 32
            || !kind.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')
        {
            return Err(invalid(
                "subject_type",
                "a subject type such as user or booking",
            ));
        }
        c = c.add(audit_log::Column::SubjectType.eq(kind));
    }
    if let Some(id) = query.subject_id {
        c = c.add(audit_log::Column::SubjectId.eq(id));
    }
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err(invalid("to", "must not be before from"));
    }
    if let Some(from) = query.from {
        c = c.add(audit_log::Column::At.gte(tokyo_instant(from, 0)));
    }
    if let Some(to) = query.to {
        let next = to.checked_add_days(Days::new(1)).unwrap_or(to);
        c = c.add(audit_log::Column::At.lt(tokyo_instant(next, 0)));
    }
    Ok(c)
}

/// One page of entries matching `query`, newest first. Administrators only; audited.
pub async fn search(
    db: &DatabaseConnection,
    actor: (i32, Role),
    query: &AuditQuery,
    now: DateTime<Utc>,
) -> Result<AuditPage, AuditViewError> {
    if actor.1 != Role::Admin {
        return Err(AuditViewError::Forbidden);
    }
    let page = query.page.unwrap_or(1);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(invalid("page", format!("from 1 to {MAX_PAGE}")));
    }
    let filter = condition(query)?;
    let found = audit_log::Entity::find()
        .filter(filter)
        .order_by_desc(audit_log::Column::At)
        .order_by_desc(audit_log::Column::Id)
        .paginate(db, PER_PAGE);
    let total = found.num_items().await?;
    let rows = found.fetch_page(page - 1).await?;
    let items = entries(db, rows).await?;
    record_read(db, actor.0, query, "audit.view", now).await?;
    Ok(AuditPage {
        items,
        total,
        page,
        per_page: PER_PAGE,
    })
}

/// Every entry matching `query` (newest first, at most [`MAX_EXPORT`]) for a CSV download.
/// Administrators only; audited.
pub async fn export(
    db: &DatabaseConnection,
    actor: (i32, Role),
    query: &AuditQuery,
    now: DateTime<Utc>,
) -> Result<Vec<AuditEntry>, AuditViewError> {
    if actor.1 != Role::Admin {
        return Err(AuditViewError::Forbidden);
    }
    let filter = condition(query)?;
    let rows = audit_log::Entity::find()
        .filter(filter)
        .order_by_desc(audit_log::Column::At)
        .order_by_desc(audit_log::Column::Id)
        .paginate(db, MAX_EXPORT)
        .fetch_page(0)
        .await?;
    let items = entries(db, rows).await?;
    record_read(db, actor.0, query, "audit.export", now).await?;
    Ok(items)
}

/// Entries with their actors' names and roles (one query for all).
async fn entries(
    db: &DatabaseConnection,
    rows: Vec<audit_log::Model>,
) -> Result<Vec<AuditEntry>, DbErr> {
    let mut actor_ids: Vec<i32> = rows.iter().filter_map(|r| r.actor_user_id).collect();
    actor_ids.sort_unstable();
    actor_ids.dedup();
    let actors: HashMap<i32, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(actor_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let who = r.actor_user_id.and_then(|id| actors.get(&id));
            AuditEntry {
                id: r.id,
                at: r.at.with_timezone(&tokyo()),
                actor_user_id: r.actor_user_id,
                actor_name: who.map(|u| u.display_name.clone()),
                actor_role: who.map(|u| u.role.clone()),
                action: r.action,
                subject_type: r.subject_type,
                subject_id: r.subject_id,
                detail: r.detail,
            }
        })
        .collect())
}

async fn record_read(
    db: &DatabaseConnection,
    actor: i32,
    query: &AuditQuery,
    action: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    audit::record(
        &txn,
        actor,
        action,
        ("audit_log", None),
        json!({
            "actor": query.actor,
            "action": query.action,
            "subject_type": query.subject_type,
            "subject_id": query.subject_id,
            "from": query.from,
            "to": query.to,
            "page": query.page,
        }),
        now,
    )
    .await?;
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn malformed_filters_are_refused_naming_the_field() {
        let field = |q: AuditQuery| match condition(&q) {
            Err(AuditViewError::Invalid { field, .. }) => field,
            other => panic!("accepted: {other:?}"),
        };
        assert_eq!(
            field(AuditQuery {
                action: Some("DROP TABLE".into()),
                ..Default::default()
            }),
            "action"
        );
        assert_eq!(
            field(AuditQuery {
                subject_type: Some("user'--".into()),
                ..Default::default()
            }),
            "subject_type"
        );
        assert_eq!(
            field(AuditQuery {
                from: NaiveDate::from_ymd_opt(2026, 11, 2),
                to: NaiveDate::from_ymd_opt(2026, 11, 1),
                ..Default::default()
            }),
            "to"
        );
    }

    #[test]
    fn good_filters_are_accepted() {
        assert!(
            condition(&AuditQuery {
                action: Some("registration.".into()),
                subject_type: Some("user".into()),
                from: NaiveDate::from_ymd_opt(2026, 11, 1),
                to: NaiveDate::from_ymd_opt(2026, 11, 1),
                ..Default::default()
            })
            .is_ok()
        );
    }
}
