//! Staff review of registrations: the queue, approval (card number, three years' validity) and
//! rejection with a reason. Staff, managers and admins may review; registrations are city-wide,
//! not tied to a facility. Every view of the queue and every decision is audited, and the person
//! is told by mail.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, SqlErr,
};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::calendar::tokyo_date;
use crate::domain::card::card_number;
use crate::domain::registration::RegistrationState;
use crate::domain::roles::Role;
use crate::entities::user;
use crate::services::{audit, mail};
use crate::views::review::{ApprovalResponse, RegistrationReview};

/// Why a review action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("only staff can review registrations")]
    Forbidden,
    #[error("registration not found")]
    NotFound,
    #[error("the registration is {0}, not waiting for review")]
    NotPending(String),
    #[error("give the person a reason (5–500 characters)")]
    ReasonRequired,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// How long an approved registration is valid.
pub const VALID_YEARS: i32 = 3;

fn ensure_reviewer(role: Role) -> Result<(), ReviewError> {
    match role {
        Role::Staff | Role::Manager | Role::Admin => Ok(()),
        Role::Resident => Err(ReviewError::Forbidden),
    }
}

/// Registrations in `state` (oldest first), with the personal data staff need to check them.
/// The view itself is audited.
pub async fn queue(
    db: &DatabaseConnection,
    actor: (i32, Role),
    state: RegistrationState,
    now: DateTime<Utc>,
) -> Result<Vec<RegistrationReview>, ReviewError> {
    ensure_reviewer(actor.1)?;
    let people = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Resident.code()))
        .filter(user::Column::RegistrationState.eq(state.code()))
        // Deleted accounts hold no personal data left to review.
        .filter(user::Column::DeletedAt.is_null())
        .order_by_asc(user::Column::CreatedAt)
        .all(db)
        .await?;
    let ids: Vec<i32> = people.iter().map(|p| p.id).collect();
    let documents = crate::services::documents::counts_by_person(db, &ids).await?;
    audit::record(
        db,
        actor.0,
        "registration.view_queue",
        ("user", None),
        json!({"state": state.code(), "user_ids": ids}),
        now,
    )
    .await?;
    Ok(people
        .into_iter()
        .map(|person| {
            let document_count = documents.get(&person.id).copied().unwrap_or_default();
            RegistrationReview {
                document_count,
                ..RegistrationReview::from(person)
            }
        })
        .collect())
}

/// Approve a registration waiting for review: a card number, valid for three years.
pub async fn approve(
    db: &DatabaseConnection,
    actor: (i32, Role),
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<ApprovalResponse, ReviewError> {
    ensure_reviewer(actor.1)?;
    // A renewal sent back for review (new residency category, or expired beyond the grace
    // period) keeps its card number, and its validity follows the renewal rule.
    let person = pending_person(db, user_id).await?;
    if let (Some(number), Some(until)) = (person.card_number, person.registration_valid_until) {
        let renewed = crate::domain::renewal::renewed_until(until, tokyo_date(now));
        return try_approve(db, actor, user_id, &number, renewed, now).await;
    }
    let valid_until = valid_until(tokyo_date(now));
    // A new random card number collides with an existing one about once in 10⁹ tries; the
    // unique index catches it and we draw again.
    for _ in 0..5 {
        let number = card_number(rand::rng().random_range(0..1_000_000_000));
        match try_approve(db, actor, user_id, &number, valid_until, now).await {
            Err(ReviewError::Db(error))
                if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) =>
            {
                continue;
            }
            other => return other,
        }
    }
    Err(ReviewError::Db(DbErr::Custom(
        "could not draw a free card number".into(),
    )))
}

async fn try_approve(
    db: &DatabaseConnection,
    actor: (i32, Role),
    user_id: i32,
    number: &str,
    valid_until: NaiveDate,
    now: DateTime<Utc>,
) -> Result<ApprovalResponse, ReviewError> {
    let decision = Decision {
        to: RegistrationState::Approved,
        card_number: Some(number.to_owned()),
        valid_until: Some(valid_until),
        note: None,
        action: "registration.approve",
        detail: json!({"card_number": number}),
    };
    decide(
        db,
        actor,
        user_id,
        decision,
        |person| mail::registration_approved(&person.locale, number, valid_until),
        now,
    )
    .await?;
    Ok(ApprovalResponse {
        user_id,
        card_number: number.to_owned(),
        valid_until: valid_until.to_string(),
    })
}

/// Reject a registration waiting for review, telling the person why.
pub async fn reject(
    db: &DatabaseConnection,
    actor: (i32, Role),
    user_id: i32,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), ReviewError> {
    ensure_reviewer(actor.1)?;
    let reason = reason.trim();
    if !(5..=500).contains(&reason.chars().count()) {
        return Err(ReviewError::ReasonRequired);
    }
    let decision = Decision {
        to: RegistrationState::Rejected,
        card_number: None,
        valid_until: None,
        note: Some(reason.to_owned()),
        action: "registration.reject",
        detail: json!({"reason": reason}),
    };
    decide(
        db,
        actor,
        user_id,
        decision,
        |person| mail::registration_rejected(&person.locale, reason),
        now,
    )
    .await?;
    Ok(())
}

/// A decision on a registration waiting for review.
struct Decision {
    to: RegistrationState,
    card_number: Option<String>,
    valid_until: Option<NaiveDate>,
    note: Option<String>,
    action: &'static str,
    detail: serde_json::Value,
}

/// Apply a decision in one transaction: only if the registration is still waiting for review
/// (so an approval and a rejection racing each other cannot both apply), audited, and mailed.
async fn decide(
    db: &DatabaseConnection,
    actor: (i32, Role),
    user_id: i32,
    decision: Decision,
    mail_for: impl FnOnce(&user::Model) -> mail::Mail,
    now: DateTime<Utc>,
) -> Result<(), ReviewError> {
    let txn = begin_write(db).await?;
    let person = pending_person(&txn, user_id).await?;
    let changed = user::Entity::update_many()
        .col_expr(
            user::Column::RegistrationState,
            Expr::value(decision.to.code()),
        )
        .col_expr(user::Column::CardNumber, Expr::value(decision.card_number))
        .col_expr(
            user::Column::RegistrationValidUntil,
            Expr::value(decision.valid_until),
        )
        .col_expr(user::Column::ReviewNote, Expr::value(decision.note))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::RegistrationState.eq(RegistrationState::PendingReview.code()))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed != 1 {
        return Err(ReviewError::NotPending(
            "decided by someone else just now".into(),
        ));
    }
    audit::record(
        &txn,
        actor.0,
        decision.action,
        ("user", Some(i64::from(user_id))),
        decision.detail,
        now,
    )
    .await?;
    mail::enqueue(&txn, &person.email, &person.locale, mail_for(&person), now).await?;
    txn.commit().await?;
    Ok(())
}

async fn pending_person(
    db: &impl sea_orm::ConnectionTrait,
    user_id: i32,
) -> Result<user::Model, ReviewError> {
    let person = user::Entity::find_by_id(user_id)
        .filter(user::Column::Role.eq(Role::Resident.code()))
        .one(db)
        .await?
        .ok_or(ReviewError::NotFound)?;
    if person.registration_state != RegistrationState::PendingReview.code() {
        return Err(ReviewError::NotPending(person.registration_state));
    }
    Ok(person)
}

/// Three years from `today`, to the day before (a registration on 2026-11-23 runs to
/// 2029-11-22); 29 February falls back to 28 February.
pub fn valid_until(today: NaiveDate) -> NaiveDate {
    let year = today.year() + VALID_YEARS;
    let anniversary = today
        .with_year(year)
        .or_else(|| NaiveDate::from_ymd_opt(year, today.month(), 28))
        .unwrap_or(today);
    anniversary.pred_opt().unwrap_or(anniversary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_is_valid_for_three_years_to_the_day_before() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(valid_until(d("2026-11-23")), d("2029-11-22"));
        assert_eq!(valid_until(d("2028-02-29")), d("2031-02-27"));
    }
}
