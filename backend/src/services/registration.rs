//! Online registration: the application, the verification mail, and following its link.
//!
//! The answer to a registration never says whether the address already had an account: either
//! way it is "check your mail", and the mail says which it is.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
};

use crate::auth::{SessionKeys, TokenError};
use crate::db::begin_write;
use crate::domain::registration::{self, FieldProblem, RegistrationInput, RegistrationState};
use crate::entities::user;
use crate::services::{mail, seed::hash_password};
use crate::views::registration::RegisterRequest;

/// Why registering or verifying failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("some fields need attention")]
    Invalid(Vec<FieldProblem>),
    #[error("the verification link has expired; register again to get a new one")]
    LinkExpired,
    #[error("the verification link is not valid")]
    LinkInvalid,
    #[error("could not secure the password")]
    Hash,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Register a person: validate, create the account unverified, and mail the verification link
/// (or, for an address that has an account, mail that instead). The mail goes through the outbox
/// in the same transaction.
pub async fn register(
    db: &DatabaseConnection,
    keys: &SessionKeys,
    request: &RegisterRequest,
    public_base_url: &str,
    now: DateTime<Utc>,
) -> Result<(), RegistrationError> {
    let input = RegistrationInput {
        email: &request.email,
        password: &request.password,
        name: &request.name,
        name_kana: &request.name_kana,
        date_of_birth: &request.date_of_birth,
        postal_code: &request.postal_code,
        address: &request.address,
        phone: &request.phone,
        residency: &request.residency,
        locale: request.locale.as_deref().unwrap_or("ja"),
    };
    let valid = registration::validate(&input, crate::domain::calendar::tokyo_date(now))
        .map_err(RegistrationError::Invalid)?;
    let password = request.password.clone();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| RegistrationError::Hash)?
        .map_err(|_| RegistrationError::Hash)?;

    let txn = begin_write(db).await?;
    let inserted = user::Entity::insert(user::ActiveModel {
        id: NotSet,
        email: Set(valid.email.clone()),
        password_hash: Set(Some(password_hash)),
        display_name: Set(valid.name.clone()),
        name_kana: Set(Some(valid.name_kana.clone())),
        role: Set("resident".into()),
        residency: Set(valid.residency.clone()),
        locale: Set(valid.locale.clone()),
        email_verified_at: Set(None),
        created_at: Set(now),
        date_of_birth: Set(Some(valid.date_of_birth)),
        postal_code: Set(Some(valid.postal_code.clone())),
        address: Set(Some(valid.address.clone())),
        phone: Set(Some(valid.phone.clone())),
        registration_state: Set(RegistrationState::EmailUnverified.code().into()),
        card_number: Set(None),
        registration_valid_until: Set(None),
        review_note: Set(None),
        deleted_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(user::Column::Email)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let account = user::Entity::find()
        .filter(user::Column::Email.eq(&valid.email))
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("user".into()))?;
    let message = if inserted == 1 {
        let token = keys.issue_email_verification(account.id, &account.email);
        let link = format!(
            "{}/verify-email?token={token}",
            public_base_url.trim_end_matches('/')
        );
        mail::verify_email(&valid.locale, &valid.name, &link)
    } else {
        mail::already_registered(
            &account.locale,
            &format!("{}/login", public_base_url.trim_end_matches('/')),
        )
    };
    mail::enqueue(&txn, &account.email, &account.locale, message, now).await?;
    txn.commit().await?;
    Ok(())
}

/// Follow a verification link: the address is confirmed and the registration waits for staff
/// to check identity and residency. Following it again changes nothing.
pub async fn verify_email(
    db: &DatabaseConnection,
    keys: &SessionKeys,
    token: &str,
    now: DateTime<Utc>,
) -> Result<RegistrationState, RegistrationError> {
    let (user_id, email) = keys.verify_email_token(token).map_err(|e| match e {
        TokenError::Expired => RegistrationError::LinkExpired,
        TokenError::Invalid => RegistrationError::LinkInvalid,
    })?;
    let txn = begin_write(db).await?;
    let account = user::Entity::find_by_id(user_id)
        .filter(user::Column::Email.eq(&email))
        .one(&txn)
        .await?
        .ok_or(RegistrationError::LinkInvalid)?;
    let state: RegistrationState = account
        .registration_state
        .parse()
        .map_err(|_| RegistrationError::LinkInvalid)?;
    if state == RegistrationState::EmailUnverified {
        user::Entity::update_many()
            .col_expr(user::Column::EmailVerifiedAt, Expr::value(now))
            .col_expr(
                user::Column::RegistrationState,
                Expr::value(RegistrationState::PendingReview.code()),
            )
            .filter(user::Column::Id.eq(user_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        return Ok(RegistrationState::PendingReview);
    }
    Ok(state)
}
