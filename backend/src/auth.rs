//! Session credentials: short-lived access tokens (JWT, HS256, signed with the session key) and
//! opaque refresh tokens (random, stored only as SHA-256), plus login throttling.
//!
//! The session key comes from `YOYAKU_SESSION_SECRET`; in demo mode, without it, one is generated
//! on first run and kept in `app_secrets`, so restarts and other instances on the same database
//! accept the same tokens. A real city sets it: without it, outside demo mode, start-up fails.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::roles::Role;
use crate::entities::app_secret;

/// How long an access token lives.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a refresh token lives unused.
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
const ISSUER: &str = "yoyaku";
const AUDIENCE: &str = "yoyaku-api";
const SECRET_NAME: &str = "session_signing_key";

/// What an access token says about its bearer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Derived from the session secret; keys the CSRF tokens of browser sessions.
    csrf_key: [u8; 32],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

impl SessionKeys {
    /// Keys from a secret of at least 32 bytes.
    pub fn from_secret(secret: &[u8]) -> SessionKeys {
        // A separate key for CSRF tokens, so that a CSRF token can never be mistaken for (or
        // help forge) anything the session key signs.
        let csrf_key = Sha256::new()
            .chain_update(b"yoyaku-csrf\0")
            .chain_update(secret)
            .finalize()
            .into();
        SessionKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            csrf_key,
        }
    }

    /// The CSRF token for a browser whose CSRF cookie holds `seed`: HMAC-SHA256, base64url.
    pub fn csrf_token(&self, seed: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.csrf_mac(seed).finalize().into_bytes())
    }

    /// Whether `token` is the CSRF token for `seed` (compared in constant time).
    pub fn verify_csrf(&self, seed: &str, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token.trim()) {
            Ok(bytes) => self.csrf_mac(seed).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    fn csrf_mac(&self, seed: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.csrf_key)
            .expect("HMAC takes a key of any length");
        mac.update(seed.as_bytes());
        mac
    }

    /// The configured secret, or in demo mode the one kept in the database (made on first run).
    pub async fn load(
        db: &DatabaseConnection,
        configured: Option<&str>,
        demo: bool,
    ) -> anyhow::Result<SessionKeys> {
        if let Some(secret) = configured {
            anyhow::ensure!(
                secret.len() >= 32,
                "YOYAKU_SESSION_SECRET must be at least 32 characters"
            );
            return Ok(SessionKeys::from_secret(secret.as_bytes()));
        }
        anyhow::ensure!(
            demo,
            "YOYAKU_SESSION_SECRET is not set: set it (32+ random characters, the same on every instance)"
        );
        let candidate = random_token();
        // First writer wins; everyone then reads the same value.
        app_secret::Entity::insert(app_secret::ActiveModel {
            name: Set(SECRET_NAME.into()),
            value: Set(candidate),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(app_secret::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        let stored = app_secret::Entity::find_by_id(SECRET_NAME.to_owned())
            .one(db)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(SECRET_NAME.into()))?;
        Ok(SessionKeys::from_secret(stored.value.as_bytes()))
    }

    /// A signed access token for `user_id` with `role`; returns it and its lifetime in seconds.
    pub fn issue_access(&self, user_id: i32, role: Role) -> (String, u64) {
        let now = Utc::now().timestamp();
        let ttl = ACCESS_TOKEN_TTL.as_secs();
        let claims = AccessClaims {
            sub: user_id.to_string(),
            role,
            iat: now,
            exp: now + ttl as i64,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail");
        (token, ttl)
    }

    /// Check an access token's signature, issuer, audience and expiry (no leeway).
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 0;
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// What an email-verification link carries: whose address, and which address (a link for an old
/// address does not verify a new one).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct VerifyEmailClaims {
    sub: String,
    email: String,
    exp: i64,
    iss: String,
    aud: String,
}

const VERIFY_AUDIENCE: &str = "yoyaku-verify-email";
/// How long an email-verification link works.
pub const VERIFY_EMAIL_TTL: Duration = Duration::from_secs(24 * 3600);

impl SessionKeys {
    /// A signed, expiring token for the verification link of `email`.
    pub fn issue_email_verification(&self, user_id: i32, email: &str) -> String {
        let claims = VerifyEmailClaims {
            sub: user_id.to_string(),
            email: email.to_owned(),
            exp: Utc::now().timestamp() + VERIFY_EMAIL_TTL.as_secs() as i64,
            iss: ISSUER.into(),
            aud: VERIFY_AUDIENCE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail")
    }

    /// The user id and address of a verification token, if it is genuine and unexpired.
    pub fn verify_email_token(&self, token: &str) -> Result<(i32, String), TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[VERIFY_AUDIENCE]);
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<VerifyEmailClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        let id = claims.sub.parse().map_err(|_| TokenError::Invalid)?;
        Ok((id, claims.email))
    }
}

/// 32 random bytes, base64url: a refresh token or a generated secret.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a refresh token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Login attempts allowed per account and per client address, so that guessing passwords is slow
/// without locking people out for long. Per process; instances each keep their own count.
pub struct LoginThrottle {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginThrottle(..)")
    }
}

impl LoginThrottle {
    /// `per_account` attempts per minute per email, `per_address` per minute per address.
    pub fn new(per_account: u32, per_address: u32) -> LoginThrottle {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        LoginThrottle {
            per_account: RateLimiter::keyed(quota(per_account)),
            per_address: RateLimiter::keyed(quota(per_address)),
        }
    }

    /// `Ok` if an attempt may go ahead now, else how long to wait.
    pub fn check(&self, email: &str, address: IpAddr) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        self.per_address
            .check_key(&address)
            .and_then(|()| self.per_account.check_key(&email.to_lowercase()))
            .map_err(|not_until| not_until.wait_time_from(now).max(Duration::from_secs(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_token_round_trips_and_carries_the_role() {
        let keys = SessionKeys::from_secret(&[7u8; 32]);
        let (token, ttl) = keys.issue_access(42, Role::Staff);
        assert_eq!(ttl, 900);
        let claims = keys.verify_access(&token).expect("valid");
        assert_eq!(claims.sub, "42");
        assert_eq!(claims.role, Role::Staff);
    }

    #[test]
    fn a_csrf_token_matches_only_its_seed_and_key() {
        let keys = SessionKeys::from_secret(&[7u8; 32]);
        let token = keys.csrf_token("seed-a");
        assert!(keys.verify_csrf("seed-a", &token));
        assert!(!keys.verify_csrf("seed-b", &token));
        assert!(!SessionKeys::from_secret(&[8u8; 32]).verify_csrf("seed-a", &token));
        assert!(!keys.verify_csrf("seed-a", ""));
        assert!(!keys.verify_csrf("seed-a", "not base64 !"));
    }

    #[test]
    fn a_token_signed_with_another_key_or_tampered_is_invalid() {
        let keys = SessionKeys::from_secret(&[7u8; 32]);
        let other = SessionKeys::from_secret(&[8u8; 32]);
        let (token, _) = other.issue_access(42, Role::Admin);
        assert_eq!(keys.verify_access(&token), Err(TokenError::Invalid));
        let (mine, _) = keys.issue_access(42, Role::Resident);
        let mut tampered = mine.clone();
        tampered.insert(mine.len() - 3, 'x');
        assert_eq!(keys.verify_access(&tampered), Err(TokenError::Invalid));
        assert_eq!(keys.verify_access("not-a-jwt"), Err(TokenError::Invalid));
    }

    #[test]
    fn an_expired_token_is_reported_as_expired() {
        let keys = SessionKeys::from_secret(&[7u8; 32]);
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: "1".into(),
            role: Role::Resident,
            iat: now - 1000,
            exp: now - 10,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert_eq!(keys.verify_access(&token), Err(TokenError::Expired));
    }

    #[test]
    fn a_verification_token_is_not_an_access_token_and_vice_versa() {
        let keys = SessionKeys::from_secret(&[7u8; 32]);
        let verify = keys.issue_email_verification(5, "a@b.jp");
        assert_eq!(keys.verify_email_token(&verify), Ok((5, "a@b.jp".into())));
        assert_eq!(keys.verify_access(&verify), Err(TokenError::Invalid));
        let (access, _) = keys.issue_access(5, Role::Resident);
        assert_eq!(keys.verify_email_token(&access), Err(TokenError::Invalid));
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn the_throttle_stops_a_burst_on_one_account() {
        let throttle = LoginThrottle::new(3, 100);
        let address: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(throttle.check("Resident@demo.yoyaku.jp", address).is_ok());
        }
        assert!(
            throttle.check("resident@demo.yoyaku.jp", address).is_err(),
            "case does not dodge it"
        );
        assert!(throttle.check("other@demo.yoyaku.jp", address).is_ok());
    }
}
