//! Resetting a forgotten password by mail.
//!
//! Asking (`request`) never reveals whether an address has an account: the caller answers the
//! same either way, and only an existing account gets a mail. The mail carries a random token;
//! the database keeps only its SHA-256, so a copy of the table opens no account. A token works
//! once and for [`RESET_TOKEN_TTL`]. Confirming (`confirm`) applies the registration's password
//! rules, sets the password, marks every outstanding link of the person used and revokes every
//! refresh token (every signed-in browser and app must sign in again), all in one transaction,
//! with an audit row and a mail saying the password changed.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::Expr,
};
use serde_json::json;

use crate::auth::{random_token, token_hash};
use crate::db::begin_write;
use crate::domain::registration::{FieldProblem, password_strength};
use crate::entities::{password_reset, refresh_token, user};
use crate::services::{audit, mail, seed::hash_password};

/// How long a reset link works.
pub const RESET_TOKEN_TTL: Duration = Duration::hours(1);

/// At most this many reset mails per account within [`RESET_THROTTLE_WINDOW`]: more requests are
/// answered the same way but send nothing, so the address cannot be flooded.
pub const RESET_MAILS_PER_WINDOW: u64 = 3;
pub const RESET_THROTTLE_WINDOW: Duration = Duration::hours(1);

/// Why confirming a reset failed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordResetError {
    #[error("some fields need attention")]
    Invalid(Vec<FieldProblem>),
    #[error("the reset link has expired; ask for a new one")]
    LinkExpired,
    #[error("the reset link is not valid or was already used")]
    LinkInvalid,
    #[error("could not secure the password")]
    Hash,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Ask for a reset link for `email`. Returns whether a mail was queued, for tests and logs
/// only: callers must answer the same either way.
pub async fn request(
    db: &DatabaseConnection,
    email: &str,
    public_base_url: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Ok(false);
    }
    let txn = begin_write(db).await?;
    let Some(account) = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .filter(user::Column::DeletedAt.is_null())
        .one(&txn)
        .await?
    else {
        return Ok(false);
    };
    let recent = password_reset::Entity::find()
        .filter(password_reset::Column::UserId.eq(account.id))
        .filter(password_reset::Column::CreatedAt.gt(now - RESET_THROTTLE_WINDOW))
        .count(&txn)
        .await?;
    if recent >= RESET_MAILS_PER_WINDOW {
        tracing::info!(
            user.id = account.id,
            "password reset throttled: no mail sent"
        );
        return Ok(false);
    }
    let token = random_token();
    password_reset::Entity::insert(password_reset::ActiveModel {
        id: NotSet,
        user_id: Set(account.id),
        token_hash: Set(token_hash(&token)),
        created_at: Set(now),
        expires_at: Set(now + RESET_TOKEN_TTL),
        used_at: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    let link = format!(
        "{}/password-reset/confirm?token={token}",
        public_base_url.trim_end_matches('/')
    );
    let message = mail::password_reset(&account.locale, &link, RESET_TOKEN_TTL.num_minutes());
    mail::enqueue(&txn, &account.email, &account.locale, message, now).await?;
    txn.commit().await?;
    Ok(true)
}

/// Whether a token is one that can still be used (for the page that asks for the new
/// password: a dead link says so before the person types anything).
pub async fn check(
    db: &DatabaseConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), PasswordResetError> {
    live_reset(db, token, now).await.map(|_| ())
}

async fn live_reset(
    db: &impl sea_orm::ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<password_reset::Model, PasswordResetError> {
    if token.is_empty() || token.len() > 128 {
        return Err(PasswordResetError::LinkInvalid);
    }
    let row = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(token_hash(token)))
        .one(db)
        .await?
        .ok_or(PasswordResetError::LinkInvalid)?;
    if row.used_at.is_some() {
        return Err(PasswordResetError::LinkInvalid);
    }
    if row.expires_at <= now {
        return Err(PasswordResetError::LinkExpired);
    }
    Ok(row)
}

/// Set a new password with a reset token.
pub async fn confirm(
    db: &DatabaseConnection,
    token: &str,
    new_password: &str,
    now: DateTime<Utc>,
) -> Result<(), PasswordResetError> {
    let reset = live_reset(db, token, now).await?;
    let account = user::Entity::find_by_id(reset.user_id)
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or(PasswordResetError::LinkInvalid)?;
    // The same rules as registration, with the person's own words counted as guessable.
    let kana = account.name_kana.clone().unwrap_or_default();
    password_strength(
        new_password,
        &[&account.email, &account.display_name, &kana],
    )
    .map_err(|message| {
        PasswordResetError::Invalid(vec![FieldProblem {
            field: "password",
            message,
        }])
    })?;
    let password = new_password.to_owned();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| PasswordResetError::Hash)?
        .map_err(|_| PasswordResetError::Hash)?;

    let txn = begin_write(db).await?;
    // Single use, decided by the database: only one confirmation can change `used_at`.
    let claimed = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::Id.eq(reset.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        return Err(PasswordResetError::LinkInvalid);
    }
    // Older links in other mails die with this one.
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::UserId.eq(account.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
        .filter(user::Column::Id.eq(account.id))
        .exec(&txn)
        .await?;
    // Whoever knew the old password may hold a session: end them all.
    let revoked = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(account.id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    audit::record(
        &txn,
        account.id,
        "password.reset",
        ("user", Some(i64::from(account.id))),
        json!({ "sessions_revoked": revoked }),
        now,
    )
    .await?;
    mail::enqueue(
        &txn,
        &account.email,
        &account.locale,
        mail::password_changed(&account.locale),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
