//! Signing in and out: password check, token pairs, refresh-token rotation with reuse detection.
//!
//! A refresh token is single-use. Exchanging it marks it rotated and issues the next one in the
//! same family. Presenting a rotated token again means it was copied: the whole family (that
//! sign-in on every device it reached) is revoked, and the person signs in again.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use chrono::Utc;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    sea_query::Expr,
};

use crate::auth::{REFRESH_TOKEN_TTL, SessionKeys, random_token, token_hash};
use crate::db::begin_write;
use crate::domain::roles::Role;
use crate::entities::{refresh_token, staff_assignment, user};
use crate::views::session::{MeResponse, TokenResponse};

/// Why signing in or refreshing failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the email address or password is not correct")]
    InvalidCredentials,
    #[error("the email address has not been verified yet")]
    EmailNotVerified,
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    #[error("the refresh token was already used; the session has been ended on every device")]
    RefreshTokenReused,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Check an email and password; on success, a new session's tokens.
pub async fn login(
    db: &DatabaseConnection,
    keys: &SessionKeys,
    email: &str,
    password: &str,
) -> Result<TokenResponse, SessionError> {
    let email = email.trim().to_lowercase();
    let account = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(db)
        .await?;
    let stored_hash = account.as_ref().and_then(|u| u.password_hash.clone());
    // Verify against a dummy hash when there is no account, so that the answer takes as long
    // either way and does not reveal whether the address is registered.
    let password_ok = verify_password(password.to_owned(), stored_hash).await;
    let Some(account) = account.filter(|_| password_ok) else {
        return Err(SessionError::InvalidCredentials);
    };
    if account.email_verified_at.is_none() {
        return Err(SessionError::EmailNotVerified);
    }
    let family = uuid::Uuid::new_v4().to_string();
    let refresh = insert_refresh_token(db, account.id, &family).await?;
    Ok(token_pair(keys, &account, refresh))
}

/// Exchange a refresh token for a new pair (rotation), detecting reuse.
pub async fn refresh(
    db: &DatabaseConnection,
    keys: &SessionKeys,
    presented: &str,
) -> Result<TokenResponse, SessionError> {
    match rotate(db, keys, presented, None).await? {
        Rotation::Rotated(pair) => Ok(pair),
        // Without a grace period every second use is reuse.
        Rotation::RacedWithinGrace { .. } => Err(SessionError::RefreshTokenReused),
    }
}

/// A browser sends several requests at once (a page and its fragments), all carrying the same
/// expired access cookie and the same refresh cookie. The first rotates the refresh token; the
/// others arrive with the token it has just replaced. Within this window such a request gets an
/// access token but no new refresh token, instead of ending the session as reuse. Presenting a
/// replaced token later is still reuse.
pub const BROWSER_REUSE_GRACE: chrono::Duration = chrono::Duration::seconds(20);

/// What refreshing a browser session produced.
#[derive(Debug)]
pub struct BrowserRefresh {
    pub access_token: String,
    pub expires_in: u64,
    /// The next refresh token; `None` when another request of the same browser has just rotated
    /// it (the browser keeps the one that request set).
    pub refresh_token: Option<String>,
}

/// Refresh a browser session from its cookie, with [`BROWSER_REUSE_GRACE`].
pub async fn refresh_browser(
    db: &DatabaseConnection,
    keys: &SessionKeys,
    presented: &str,
) -> Result<BrowserRefresh, SessionError> {
    Ok(
        match rotate(db, keys, presented, Some(BROWSER_REUSE_GRACE)).await? {
            Rotation::Rotated(pair) => BrowserRefresh {
                access_token: pair.access_token,
                expires_in: pair.expires_in,
                refresh_token: Some(pair.refresh_token),
            },
            Rotation::RacedWithinGrace {
                access_token,
                expires_in,
            } => BrowserRefresh {
                access_token,
                expires_in,
                refresh_token: None,
            },
        },
    )
}

enum Rotation {
    Rotated(TokenResponse),
    RacedWithinGrace {
        access_token: String,
        expires_in: u64,
    },
}

async fn rotate(
    db: &DatabaseConnection,
    keys: &SessionKeys,
    presented: &str,
    grace: Option<chrono::Duration>,
) -> Result<Rotation, SessionError> {
    let txn = begin_write(db).await?;
    let now = Utc::now();
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash(presented)))
        .one(&txn)
        .await?
    else {
        return Err(SessionError::InvalidRefreshToken);
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(SessionError::InvalidRefreshToken);
    }
    // Rotate only if nobody has yet: of two concurrent refreshes with one token, one wins and
    // the other is reuse.
    let rotated = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if rotated != 1 {
        if let Some(grace) = grace {
            // Read again: the rotation that beat us may have committed after our first read.
            let current = refresh_token::Entity::find_by_id(row.id).one(&txn).await?;
            let just_rotated = current.as_ref().is_some_and(|t| {
                t.revoked_at.is_none() && t.rotated_at.is_some_and(|at| now - at <= grace)
            });
            if just_rotated {
                let account = user::Entity::find_by_id(row.user_id)
                    .one(&txn)
                    .await?
                    .ok_or(SessionError::InvalidRefreshToken)?;
                let role = account.role.parse().unwrap_or(Role::Resident);
                let (access_token, expires_in) = keys.issue_access(account.id, role);
                return Ok(Rotation::RacedWithinGrace {
                    access_token,
                    expires_in,
                });
            }
        }
        revoke_family(&txn, &row.family_id).await?;
        txn.commit().await?;
        tracing::warn!(
            user.id = row.user_id,
            "refresh token reused; session family revoked"
        );
        return Err(SessionError::RefreshTokenReused);
    }
    let account = user::Entity::find_by_id(row.user_id)
        .one(&txn)
        .await?
        .ok_or(SessionError::InvalidRefreshToken)?;
    let next = insert_refresh_token(&txn, account.id, &row.family_id).await?;
    txn.commit().await?;
    Ok(Rotation::Rotated(token_pair(keys, &account, next)))
}

/// End the session a refresh token belongs to (on every device it reached). Unknown tokens are
/// ignored: signing out twice is not an error.
pub async fn logout(db: &DatabaseConnection, presented: &str) -> Result<(), SessionError> {
    if let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash(presented)))
        .one(db)
        .await?
    {
        revoke_family(db, &row.family_id).await?;
    }
    Ok(())
}

/// The signed-in person.
pub async fn me(db: &impl ConnectionTrait, user_id: i32) -> Result<MeResponse, SessionError> {
    let account = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(SessionError::InvalidCredentials)?;
    let facility_ids = staff_assignment::Entity::find()
        .filter(staff_assignment::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.facility_id)
        .collect();
    Ok(MeResponse {
        id: account.id,
        email: account.email,
        display_name: account.display_name,
        name_kana: account.name_kana,
        role: account.role.parse().unwrap_or(Role::Resident),
        locale: account.locale,
        facility_ids,
    })
}

fn token_pair(keys: &SessionKeys, account: &user::Model, refresh_token: String) -> TokenResponse {
    let role = account.role.parse().unwrap_or(Role::Resident);
    let (access_token, expires_in) = keys.issue_access(account.id, role);
    TokenResponse {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in,
    }
}

async fn insert_refresh_token(
    db: &impl ConnectionTrait,
    user_id: i32,
    family: &str,
) -> Result<String, DbErr> {
    let token = random_token();
    let now = Utc::now();
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        id: NotSet,
        user_id: Set(user_id),
        family_id: Set(family.to_owned()),
        token_hash: Set(token_hash(&token)),
        issued_at: Set(now),
        expires_at: Set(now + REFRESH_TOKEN_TTL),
        rotated_at: Set(None),
        revoked_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

async fn revoke_family(db: &impl ConnectionTrait, family: &str) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// A hash of a random password, to spend the same time when there is no account.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| crate::services::seed::hash_password(&random_token()).unwrap_or_default())
}

/// argon2id verification on the blocking pool (it is deliberately slow CPU work). Also used to
/// confirm the password before an account is deleted.
pub(crate) async fn verify_password(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}
