//! Keeping a registration alive: renewing it online, the reminder mails before it expires, and
//! marking expired registrations `expired`. The rules (when renewal opens, the new expiry, which
//! reminder is due) are in `domain::renewal`; this module applies them to the database.
//!
//! A reminder is sent once per person, expiry and threshold, however many instances run the job
//! at once: the `registration_reminders` row and the mail are written in one transaction, and the
//! row's unique key lets only one writer insert it.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QuerySelect,
};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::calendar::tokyo_date;
use crate::domain::registration::{
    FieldProblem, RESIDENCY_CATEGORIES, RegistrationState, normalise_address, normalise_phone,
    normalise_postal_code,
};
use crate::domain::renewal::{self, RenewalDecision, RenewalRules};
use crate::domain::roles::Role;
use crate::entities::{registration_reminder, user};
use crate::services::{audit, mail};
use crate::views::account::{RenewRegistrationRequest, RenewalResponse};

/// Why a renewal was refused.
#[derive(Debug, thiserror::Error)]
pub enum RenewalError {
    #[error("some fields need attention")]
    Invalid(Vec<FieldProblem>),
    #[error("renewal opens on {opens_on}, {days_before} days before your registration expires")]
    NotYetOpen {
        opens_on: NaiveDate,
        days_before: u32,
    },
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error("only residents hold a registration to renew")]
    Forbidden,
    #[error("this account has been deleted")]
    AccountDeleted,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Contact details and category as confirmed by the person, normalised.
struct Confirmed {
    postal_code: String,
    address: String,
    phone: String,
    residency: String,
}

fn confirm(request: &RenewRegistrationRequest) -> Result<Confirmed, RenewalError> {
    let mut problems = Vec::new();
    let mut check = |field: &'static str, result: Result<String, String>| {
        result
            .map_err(|message| problems.push(FieldProblem { field, message }))
            .unwrap_or_default()
    };
    let postal_code = check("postal_code", normalise_postal_code(&request.postal_code));
    let address = check("address", normalise_address(&request.address));
    let phone = check("phone", normalise_phone(&request.phone));
    let residency = check(
        "residency",
        if RESIDENCY_CATEGORIES.contains(&request.residency.as_str()) {
            Ok(request.residency.clone())
        } else {
            Err(format!("one of {}", RESIDENCY_CATEGORIES.join(", ")))
        },
    );
    if !problems.is_empty() {
        return Err(RenewalError::Invalid(problems));
    }
    Ok(Confirmed {
        postal_code,
        address,
        phone,
        residency,
    })
}

/// Renew the signed-in person's registration with the details they confirmed. Unchanged
/// residency within the renewal window (or the grace period after expiry) renews at once; a new
/// residency category, or an expiry longer ago than the grace period, goes to staff review.
pub async fn renew(
    db: &DatabaseConnection,
    rules: &RenewalRules,
    user_id: i32,
    request: &RenewRegistrationRequest,
    now: DateTime<Utc>,
) -> Result<RenewalResponse, RenewalError> {
    let confirmed = confirm(request)?;
    let today = tokyo_date(now);
    let txn = begin_write(db).await?;
    // Renewals of one person are decided one at a time (two at once would both read the old
    // expiry); SQLite write transactions are serial already.
    let mut query = user::Entity::find_by_id(user_id);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    let person = query.one(&txn).await?.ok_or(RenewalError::AccountDeleted)?;
    if person.deleted_at.is_some() {
        return Err(RenewalError::AccountDeleted);
    }
    if person.role != Role::Resident.code() {
        return Err(RenewalError::Forbidden);
    }
    let state: RegistrationState = person
        .registration_state
        .parse()
        .map_err(|_| RenewalError::NotAllowed("the registration is in an unknown state"))?;
    let valid_until = match (state, person.registration_valid_until) {
        (RegistrationState::Approved | RegistrationState::Expired, Some(until)) => until,
        (RegistrationState::Approved, None) => {
            return Err(RenewalError::NotAllowed(
                "this registration has no expiry date, so there is nothing to renew",
            ));
        }
        (RegistrationState::PendingReview, _) => {
            return Err(RenewalError::NotAllowed(
                "your registration is already waiting for staff review",
            ));
        }
        (RegistrationState::EmailUnverified, _) => {
            return Err(RenewalError::NotAllowed(
                "confirm your email address first; the registration is not approved yet",
            ));
        }
        (RegistrationState::Rejected | RegistrationState::Expired, _) => {
            return Err(RenewalError::NotAllowed(
                "this registration was not approved; please ask at a facility counter",
            ));
        }
    };
    let decision = renewal::decide(valid_until, today, rules);
    if let RenewalDecision::NotYetOpen { opens_on } = decision {
        return Err(RenewalError::NotYetOpen {
            opens_on,
            days_before: rules.opens_days_before,
        });
    }
    let residency_changed = confirmed.residency != person.residency;
    let (to_state, new_until, action, message) = match decision {
        RenewalDecision::Renew { valid_until: new } if !residency_changed => (
            RegistrationState::Approved,
            new,
            "registration.renew",
            mail::registration_renewed(&person.locale, new),
        ),
        // A new category changes the fee, and a long-expired registration may describe someone
        // who has moved: staff check again. The old expiry stays until they decide; approval
        // applies `renewal::renewed_until` on the day it is given.
        _ => (
            RegistrationState::PendingReview,
            valid_until,
            "registration.renewal_requested",
            mail::renewal_under_review(&person.locale),
        ),
    };
    let changed = user::Entity::update_many()
        .col_expr(
            user::Column::RegistrationState,
            Expr::value(to_state.code()),
        )
        .col_expr(user::Column::RegistrationValidUntil, Expr::value(new_until))
        .col_expr(user::Column::PostalCode, Expr::value(confirmed.postal_code))
        .col_expr(user::Column::Address, Expr::value(confirmed.address))
        .col_expr(user::Column::Phone, Expr::value(confirmed.phone))
        .col_expr(
            user::Column::Residency,
            Expr::value(confirmed.residency.clone()),
        )
        .filter(user::Column::Id.eq(user_id))
        // Belt and braces with the lock: only the registration as read is renewed.
        .filter(user::Column::RegistrationState.eq(&person.registration_state))
        .filter(user::Column::RegistrationValidUntil.eq(valid_until))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed != 1 {
        return Err(RenewalError::NotAllowed(
            "the registration changed meanwhile; please try again",
        ));
    }
    audit::record(
        &txn,
        user_id,
        action,
        ("user", Some(i64::from(user_id))),
        json!({
            "valid_until_before": valid_until,
            "valid_until": new_until,
            "residency_before": person.residency,
            "residency": confirmed.residency,
        }),
        now,
    )
    .await?;
    mail::enqueue(&txn, &person.email, &person.locale, message, now).await?;
    txn.commit().await?;
    Ok(RenewalResponse {
        outcome: if to_state == RegistrationState::Approved {
            "renewed"
        } else {
            "pending_review"
        },
        registration_state: to_state.code().to_owned(),
        valid_until: Some(new_until),
    })
}

/// Mark approved registrations whose last valid day has passed as `expired`. Returns how many.
/// One conditional UPDATE: running it twice, or on two instances, changes nothing more.
pub async fn expire_registrations(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(user::Entity::update_many()
        .col_expr(
            user::Column::RegistrationState,
            Expr::value(RegistrationState::Expired.code()),
        )
        .filter(user::Column::RegistrationState.eq(RegistrationState::Approved.code()))
        .filter(user::Column::RegistrationValidUntil.lt(tokyo_date(now)))
        .filter(user::Column::DeletedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// Send the reminders due at `now`: for each resident whose approved registration expires
/// within the largest threshold, the most urgent threshold reached, unless it was sent already.
/// Returns how many were sent (enqueued).
pub async fn send_reminders(
    db: &DatabaseConnection,
    rules: &RenewalRules,
    sign_in_link: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let Some(&furthest) = rules.reminder_days_before.iter().max() else {
        return Ok(0);
    };
    let today = tokyo_date(now);
    let candidates: Vec<(i32, NaiveDate)> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::RegistrationValidUntil)
        .filter(user::Column::Role.eq(Role::Resident.code()))
        .filter(user::Column::RegistrationState.eq(RegistrationState::Approved.code()))
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::RegistrationValidUntil.gte(today))
        .filter(
            user::Column::RegistrationValidUntil
                .lte(today + chrono::Duration::days(i64::from(furthest))),
        )
        .into_tuple()
        .all(db)
        .await?;
    let mut sent = 0;
    for (user_id, valid_until) in candidates {
        let Some(threshold) =
            renewal::due_reminder(valid_until, today, &rules.reminder_days_before)
        else {
            continue;
        };
        if remind(db, user_id, valid_until, threshold, sign_in_link, now).await? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// One reminder in its own short transaction: the record, then the mail, only if this caller
/// inserted the record.
async fn remind(
    db: &DatabaseConnection,
    user_id: i32,
    valid_until: NaiveDate,
    threshold: u32,
    sign_in_link: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let txn = begin_write(db).await?;
    // Still due? The person may have renewed or deleted their account since the list was read.
    let Some(person) = user::Entity::find_by_id(user_id)
        .filter(user::Column::RegistrationState.eq(RegistrationState::Approved.code()))
        .filter(user::Column::RegistrationValidUntil.eq(valid_until))
        .filter(user::Column::DeletedAt.is_null())
        .one(&txn)
        .await?
    else {
        return Ok(false);
    };
    let inserted = registration_reminder::Entity::insert(registration_reminder::ActiveModel {
        id: NotSet,
        user_id: Set(user_id),
        valid_until: Set(valid_until),
        threshold_days: Set(i32::try_from(threshold).unwrap_or(i32::MAX)),
        sent_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            registration_reminder::Column::UserId,
            registration_reminder::Column::ValidUntil,
            registration_reminder::Column::ThresholdDays,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted != 1 {
        // Another instance (or an earlier run) sent this one.
        return Ok(false);
    }
    let days_left = (valid_until - tokyo_date(now)).num_days();
    let message = mail::registration_reminder(
        &person.locale,
        &person.display_name,
        valid_until,
        days_left,
        sign_in_link,
    );
    mail::enqueue(&txn, &person.email, &person.locale, message, now).await?;
    txn.commit().await?;
    Ok(true)
}
