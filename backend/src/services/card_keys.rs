//! The city's card signing keys: where they come from, which one signs, which are published, and
//! checking a card token against them.
//!
//! - **Production**: `YOYAKU_CARD_SIGNING_KEYS` holds one or more Ed25519 private keys as PKCS#8
//!   PEM (`openssl genpkey -algorithm ed25519`), either the PEM text itself or a comma-separated
//!   list of files holding it. The **first** key signs; the others are published for
//!   verification only (the next key, announced before it signs, or the previous one, still
//!   verifying cards it signed). At start-up the public parts are recorded in
//!   `card_signing_keys` (never the private parts: the table's CHECK refuses them). A key no
//!   longer configured is marked retired and stays published until every token it can have
//!   signed has expired ([`key_is_published`]).
//! - **Demo mode** without configured keys: a key is generated on first run and kept in the
//!   database with its private part, so restarts and every instance on one database sign with
//!   the same key. Instances that start together may each insert one; all then agree on the
//!   newest as the signer and retire the others. [`rotate_generated`] makes a new signer.
//! - Neither: cards are unavailable (`GET /me/card` answers 503 `cards_unavailable`), and
//!   start-up says so in the log.
//!
//! Keys are read from the database on every use (the table has a handful of rows), so a
//! rotation by one instance is seen by all at once.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use crate::domain::card_token::{
    CardClaims, QR_MAX_TOKEN_BYTES, key_id, key_is_published, pkcs8_der, private_key_ders,
};
use crate::domain::checkin::CheckinRules;
use crate::entities::card_signing_key;

/// Retired keys stay published this much longer than the longest token lifetime, for instances
/// that kept signing with them for a while after another instance retired them.
pub const PUBLISH_MARGIN: Duration = Duration::days(1);

const GENERATED: &str = "generated";
const CONFIGURED: &str = "configured";

/// A key given in the configuration.
struct ConfiguredKey {
    kid: String,
    /// Zeroised when dropped (ed25519-dalek's `zeroize` feature).
    signing: SigningKey,
}

/// The keys configured for this instance (parsed once at start-up). Its `Debug` shows key ids
/// only.
#[derive(Default)]
pub struct CardKeyConfig {
    keys: Vec<ConfiguredKey>,
}

impl std::fmt::Debug for CardKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        write!(f, "CardKeyConfig({kids:?})")
    }
}

impl CardKeyConfig {
    /// Parse `YOYAKU_CARD_SIGNING_KEYS`: PEM text, or comma-separated paths of PEM files. The
    /// error never repeats the value (it is a secret).
    pub fn parse(value: Option<&str>) -> anyhow::Result<CardKeyConfig> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(CardKeyConfig::default());
        };
        let text = if value.contains("-----BEGIN") {
            value.to_owned()
        } else {
            let mut text = String::new();
            for path in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let content = std::fs::read_to_string(Path::new(path)).map_err(|e| {
                    anyhow::anyhow!("YOYAKU_CARD_SIGNING_KEYS: cannot read {path}: {e}")
                })?;
                text.push_str(&content);
                text.push('\n');
            }
            text
        };
        let ders = private_key_ders(&text)
            .map_err(|e| anyhow::anyhow!("YOYAKU_CARD_SIGNING_KEYS: {e}"))?;
        let mut keys: Vec<ConfiguredKey> = Vec::new();
        for (index, der) in ders.iter().enumerate() {
            let signing = SigningKey::from_pkcs8_der(der).map_err(|_| {
                anyhow::anyhow!(
                    "YOYAKU_CARD_SIGNING_KEYS: key {} is not an Ed25519 PKCS#8 private key",
                    index + 1
                )
            })?;
            let kid = key_id(signing.verifying_key().as_bytes());
            anyhow::ensure!(
                keys.iter().all(|k| k.kid != kid),
                "YOYAKU_CARD_SIGNING_KEYS: key {} is given twice",
                index + 1
            );
            keys.push(ConfiguredKey { kid, signing });
        }
        Ok(CardKeyConfig { keys })
    }

    /// Whether keys come from the configuration (production) rather than the database (demo).
    pub fn is_configured(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The configured key ids, the signer first.
    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid.clone()).collect()
    }
}

/// Record the configured keys, or make sure a generated one exists in demo mode. Run at start-up.
pub async fn prepare(
    db: &impl ConnectionTrait,
    config: &CardKeyConfig,
    demo: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if config.is_configured() {
        for key in &config.keys {
            insert_key(
                db,
                &key.kid,
                key.signing.verifying_key().as_bytes(),
                None,
                now,
            )
            .await?;
        }
        let kids = config.kids();
        // Configured keys are published for as long as they are configured…
        card_signing_key::Entity::update_many()
            .col_expr(
                card_signing_key::Column::RetiredAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(card_signing_key::Column::Kid.is_in(kids.clone()))
            .exec(db)
            .await?;
        // …and every other key (generated in a demo, or no longer configured) stops signing now.
        retire_all_but(db, &kids, now).await?;
        tracing::info!(card.signer = %kids[0], card.keys = kids.len(), "card signing keys configured");
        return Ok(());
    }
    if !demo {
        tracing::warn!(
            "YOYAKU_CARD_SIGNING_KEYS is not set: cards and check-in by QR are unavailable until it is"
        );
        return Ok(());
    }
    if current_generated(db).await?.is_none() {
        generate(db, now).await?;
    }
    // Instances that started together may each have made one: keep the newest.
    if let Some(signer) = current_generated(db).await? {
        retire_all_but(db, std::slice::from_ref(&signer.kid), now).await?;
        tracing::warn!(
            card.signer = %signer.kid,
            "demo mode: the card signing key is generated and kept in the database; set YOYAKU_CARD_SIGNING_KEYS for a real city"
        );
    }
    Ok(())
}

/// Demo mode: make a new signing key and retire the others (they stay published until their
/// cards have expired). Returns the new key id. Refused when keys are configured: rotate those
/// by changing the configuration.
pub async fn rotate_generated(
    db: &impl ConnectionTrait,
    config: &CardKeyConfig,
    now: DateTime<Utc>,
) -> Result<String, DbErr> {
    if config.is_configured() {
        return Err(DbErr::Custom(
            "card keys are configured: rotate them in YOYAKU_CARD_SIGNING_KEYS".into(),
        ));
    }
    let kid = generate(db, now).await?;
    retire_all_but(db, std::slice::from_ref(&kid), now).await?;
    Ok(kid)
}

async fn generate(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<String, DbErr> {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let signing = SigningKey::from_bytes(&seed);
    let kid = key_id(signing.verifying_key().as_bytes());
    insert_key(
        db,
        &kid,
        signing.verifying_key().as_bytes(),
        Some(URL_SAFE_NO_PAD.encode(seed)),
        now,
    )
    .await?;
    Ok(kid)
}

async fn insert_key(
    db: &impl ConnectionTrait,
    kid: &str,
    public_key: &[u8; 32],
    private_key: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let origin = if private_key.is_some() {
        GENERATED
    } else {
        CONFIGURED
    };
    card_signing_key::Entity::insert(card_signing_key::ActiveModel {
        kid: Set(kid.to_owned()),
        public_key: Set(URL_SAFE_NO_PAD.encode(public_key)),
        private_key: Set(private_key),
        origin: Set(origin.to_owned()),
        created_at: Set(now),
        retired_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(card_signing_key::Column::Kid)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

async fn retire_all_but(
    db: &impl ConnectionTrait,
    kids: &[String],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    card_signing_key::Entity::update_many()
        .col_expr(card_signing_key::Column::RetiredAt, Expr::value(now))
        .filter(card_signing_key::Column::RetiredAt.is_null())
        .filter(card_signing_key::Column::Kid.is_not_in(kids.to_vec()))
        .exec(db)
        .await?;
    Ok(())
}

/// The newest generated key still signing.
async fn current_generated(
    db: &impl ConnectionTrait,
) -> Result<Option<card_signing_key::Model>, DbErr> {
    card_signing_key::Entity::find()
        .filter(card_signing_key::Column::Origin.eq(GENERATED))
        .filter(card_signing_key::Column::RetiredAt.is_null())
        .filter(card_signing_key::Column::PrivateKey.is_not_null())
        .order_by_desc(card_signing_key::Column::CreatedAt)
        .order_by_desc(card_signing_key::Column::Kid)
        .one(db)
        .await
}

/// The key cards are signed with now.
pub struct Signer {
    pub kid: String,
    key: EncodingKey,
}

impl Signer {
    /// Sign `claims` as a compact JWS: header `{"alg":"EdDSA","kid":…}`.
    pub fn sign(&self, claims: &CardClaims) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        // No `typ`: every byte counts in the QR.
        header.typ = None;
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, claims, &self.key)
            .expect("Ed25519 signing with a checked key cannot fail");
        debug_assert!(token.len() <= QR_MAX_TOKEN_BYTES, "card token too long");
        token
    }

    /// A detached compact JWS of `payload` (RFC 7515 Appendix F): `header..signature`, the
    /// signature over `header "." BASE64URL(payload)`.
    pub fn sign_detached(&self, payload: &[u8]) -> String {
        let header = format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, self.kid);
        let header = URL_SAFE_NO_PAD.encode(header.as_bytes());
        let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &self.key, Algorithm::EdDSA)
            .expect("Ed25519 signing with a checked key cannot fail");
        format!("{header}..{signature}")
    }
}

/// The signer: the first configured key, or in demo mode the current generated one. `None` when
/// cards are not set up.
pub async fn signer(
    db: &impl ConnectionTrait,
    config: &CardKeyConfig,
) -> Result<Option<Signer>, DbErr> {
    if let Some(first) = config.keys.first() {
        return Ok(Some(Signer {
            kid: first.kid.clone(),
            key: EncodingKey::from_ed_der(&pkcs8_der(&first.signing.to_bytes())),
        }));
    }
    let Some(row) = current_generated(db).await? else {
        return Ok(None);
    };
    let seed: [u8; 32] = row
        .private_key
        .as_deref()
        .and_then(|k| URL_SAFE_NO_PAD.decode(k).ok())
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| DbErr::Custom(format!("card key {} is damaged", row.kid)))?;
    Ok(Some(Signer {
        kid: row.kid,
        key: EncodingKey::from_ed_der(&pkcs8_der(&seed)),
    }))
}

/// A public key as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedKey {
    pub kid: String,
    /// base64url, 32 bytes.
    pub x: String,
    pub retired_at: Option<DateTime<Utc>>,
}

/// The keys verifiers must accept at `now`: every key still signing, and every retired key whose
/// tokens may still be alive.
pub async fn published(
    db: &impl ConnectionTrait,
    rules: &CheckinRules,
    now: DateTime<Utc>,
) -> Result<Vec<PublishedKey>, DbErr> {
    let rows = card_signing_key::Entity::find()
        .order_by_asc(card_signing_key::Column::CreatedAt)
        .order_by_asc(card_signing_key::Column::Kid)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|k| key_is_published(k.retired_at, now, rules.token_ttl(), PUBLISH_MARGIN))
        .map(|k| PublishedKey {
            kid: k.kid,
            x: k.public_key,
            retired_at: k.retired_at,
        })
        .collect())
}

/// One key as `yoyaku card-keys list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    /// `generated` (demo mode, kept in the database) or `configured`.
    pub origin: String,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    /// Whether new cards are signed with it.
    pub signing: bool,
    /// Whether it is in the JWKS (still signing, or retired with tokens that may be alive).
    pub published: bool,
}

/// Every key the database knows, oldest first, with whether it signs and is published.
pub async fn inventory(
    db: &impl ConnectionTrait,
    config: &CardKeyConfig,
    rules: &CheckinRules,
    now: DateTime<Utc>,
) -> Result<Vec<KeyInfo>, DbErr> {
    let signer = signer(db, config).await?.map(|s| s.kid);
    let rows = card_signing_key::Entity::find()
        .order_by_asc(card_signing_key::Column::CreatedAt)
        .order_by_asc(card_signing_key::Column::Kid)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|k| KeyInfo {
            signing: signer.as_deref() == Some(k.kid.as_str()),
            published: key_is_published(k.retired_at, now, rules.token_ttl(), PUBLISH_MARGIN),
            kid: k.kid,
            origin: k.origin,
            created_at: k.created_at,
            retired_at: k.retired_at,
        })
        .collect())
}

/// Why a card token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("this is not a card token (it could not be read)")]
    Malformed,
    #[error(
        "the card's signature does not match: the QR was altered or is not a card of this city"
    )]
    BadSignature,
    #[error(
        "the card was signed with a key this city does not know: a card of another city, or a very old one"
    )]
    UnknownKey,
    #[error("the card's QR expired at {0}; open the card page online to refresh it")]
    Expired(DateTime<Utc>),
    #[error("the card's QR is dated in the future; check the scanner's clock")]
    NotYetValid,
}

/// Check a token's signature against the published keys, and its dates at `at` (the scan time),
/// with the configured leeway. The dates are checked here rather than by the library because an
/// offline scan is judged at the moment it was made, not when it is synced.
pub async fn verify(
    db: &impl ConnectionTrait,
    rules: &CheckinRules,
    token: &str,
    at: DateTime<Utc>,
) -> Result<CardClaims, VerifyError> {
    let header = jsonwebtoken::decode_header(token.trim()).map_err(|_| TokenRefusal::Malformed)?;
    if header.alg != Algorithm::EdDSA {
        return Err(TokenRefusal::Malformed.into());
    }
    let kid = header.kid.ok_or(TokenRefusal::Malformed)?;
    let keys = published(db, rules, at).await?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or(TokenRefusal::UnknownKey)?;
    let decoding = DecodingKey::from_ed_components(&key.x).map_err(|_| TokenRefusal::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<CardClaims>(token.trim(), &decoding, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenRefusal::BadSignature,
            _ => TokenRefusal::Malformed,
        })?
        .claims;
    let leeway = i64::from(rules.token_leeway_seconds);
    let at_s = at.timestamp();
    if at_s > claims.exp + leeway {
        let expired = DateTime::from_timestamp(claims.exp, 0).unwrap_or(at);
        return Err(TokenRefusal::Expired(expired).into());
    }
    if claims.iat > at_s + leeway {
        return Err(TokenRefusal::NotYetValid.into());
    }
    Ok(claims)
}

/// A refusal, or the database failing while checking.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Refused(#[from] TokenRefusal),
    #[error(transparent)]
    Db(#[from] DbErr),
}

#[cfg(test)]
// figment's Jail closures must return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::Settings;

    fn pem(seed: u8) -> String {
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8_der(&[seed; 32]))
        )
    }

    fn configured(settings: &Settings) -> CardKeyConfig {
        CardKeyConfig::parse(
            settings
                .card_signing_keys
                .as_ref()
                .map(ExposeSecret::expose_secret),
        )
        .unwrap()
    }

    #[test]
    fn keys_come_from_pem_text_in_the_environment_the_first_signing() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("YOYAKU_CARD_SIGNING_KEYS", format!("{}{}", pem(1), pem(2)));
            let keys = configured(&Settings::load().expect("settings load"));
            let first = SigningKey::from_bytes(&[1; 32]);
            assert_eq!(keys.kids().len(), 2);
            assert_eq!(keys.kids()[0], key_id(first.verifying_key().as_bytes()));
            Ok(())
        });
    }

    #[test]
    fn keys_come_from_files_named_in_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("next.pem", &pem(3))?;
            jail.create_file("old.pem", &pem(4))?;
            jail.set_env("YOYAKU_CARD_SIGNING_KEYS", "next.pem, old.pem");
            let keys = configured(&Settings::load().expect("settings load"));
            assert_eq!(keys.kids().len(), 2);
            Ok(())
        });
    }

    #[test]
    fn bad_key_settings_stop_start_up_without_repeating_the_secret() {
        let twice = format!("{}{}", pem(5), pem(5));
        assert!(
            CardKeyConfig::parse(Some(&twice))
                .unwrap_err()
                .to_string()
                .contains("given twice")
        );
        let error = CardKeyConfig::parse(Some("/nonexistent/key.pem"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot read"), "{error}");
        assert!(!CardKeyConfig::parse(None).unwrap().is_configured());
        let debug = format!("{:?}", CardKeyConfig::parse(Some(&pem(6))).unwrap());
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }
}
