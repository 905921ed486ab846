//! 利用者証トークン: what the QR of the web user card carries, and the key material it is signed
//! with. Pure: no I/O, no clock ("now" is a parameter).
//!
//! # The token
//!
//! A compact JWS (RFC 7515) with `alg` `EdDSA` (Ed25519, RFC 8037), signed with the city's card
//! key and verifiable by anyone holding the published key set (`/.well-known/jwks.json`):
//!
//! - header `{"alg":"EdDSA","kid":"…"}`: no `typ`, to keep the QR small;
//! - claims [`CardClaims`] `{"cid":…,"v":…,"iat":…,"exp":…}`: the card id (a row of `cards`,
//!   which is not the printed card number), the card's serial (how many cards the person has
//!   had; a revoked card's serial is never valid again), issued-at and expiry in Unix seconds.
//!
//! No name, number, date of birth or anything else personal is in it: a photo of someone's QR
//! tells a stranger nothing. The whole token is about 200 ASCII characters, which fits a version
//! 10 QR code at error-correction level M (213 bytes): see [`QR_MAX_TOKEN_BYTES`].
//!
//! # Key ids
//!
//! A key's `kid` is the first [`KID_LEN`] characters of its RFC 7638 JWK thumbprint (SHA-256 of
//! `{"crv":"Ed25519","kty":"OKP","x":"…"}`, base64url), so the same key always has the same id,
//! whichever instance loaded it, and a configured key needs no name.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::calendar::tokyo_instant;

/// The characters of the thumbprint kept as the key id (48 bits: collisions among the handful
/// of keys a city ever has are out of the question, and the QR stays small).
pub const KID_LEN: usize = 8;

/// The largest token that still fits a version 10 QR code at level M in byte mode. Versions up
/// to 10–12 at level M scan reliably from a phone screen.
pub const QR_MAX_TOKEN_BYTES: usize = 213;

/// What a card token says. Short keys keep the QR small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardClaims {
    /// The card id (`cards.id`).
    pub cid: i64,
    /// The card's serial for its holder.
    pub v: i32,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
}

/// Why a card is no longer valid. The codes are stored in `cards.revoked_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The registration is no longer approved and current (expired, back under review, rejected,
    /// deleted).
    RegistrationEnded,
    /// Staff suspended the card.
    Suspended,
    /// Revoked for good (lost, replaced, misused).
    Revoked,
}

impl RevocationReason {
    pub const ALL: &'static [RevocationReason] = &[
        RevocationReason::RegistrationEnded,
        RevocationReason::Suspended,
        RevocationReason::Revoked,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            RevocationReason::RegistrationEnded => "registration_ended",
            RevocationReason::Suspended => "suspended",
            RevocationReason::Revoked => "revoked",
        }
    }

    /// From a stored code.
    pub fn from_code(code: &str) -> Option<RevocationReason> {
        Self::ALL.iter().copied().find(|r| r.code() == code)
    }
}

/// When a token issued at `now` expires: `ttl` later, but never after the end (24:00 Tokyo) of the
/// registration's last valid day, so an offline scanner refuses the card of an expired
/// registration without a revocation list.
pub fn token_expiry(
    now: DateTime<Utc>,
    ttl: Duration,
    registration_valid_until: Option<NaiveDate>,
) -> DateTime<Utc> {
    let by_ttl = now + ttl;
    match registration_valid_until.and_then(|d| d.succ_opt()) {
        Some(day_after) => by_ttl.min(tokyo_instant(day_after, 0)),
        None => by_ttl,
    }
}

/// Whether a retired key is still published at `now`: every token it signed lives at most
/// `max_token_lifetime`, plus `margin` for instances that had not yet learnt of the rotation.
pub fn key_is_published(
    retired_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    max_token_lifetime: Duration,
    margin: Duration,
) -> bool {
    retired_at.is_none_or(|retired| now < retired + max_token_lifetime + margin)
}

/// The RFC 7638 thumbprint of an Ed25519 public key, base64url.
pub fn jwk_thumbprint(public_key: &[u8; 32]) -> String {
    let x = URL_SAFE_NO_PAD.encode(public_key);
    // The required members in lexicographic order, no whitespace (RFC 7638 §3.2).
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The key id of an Ed25519 public key: the start of its thumbprint.
pub fn key_id(public_key: &[u8; 32]) -> String {
    jwk_thumbprint(public_key)[..KID_LEN].to_owned()
}

/// The PKCS#8 v1 DER prefix of an Ed25519 private key (RFC 8410 §7); the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The PKCS#8 DER of an Ed25519 private key from its seed (what `jsonwebtoken` signs with).
pub fn pkcs8_der(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = PKCS8_ED25519_PREFIX.to_vec();
    der.extend_from_slice(seed);
    der
}

/// Why configured key text could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyTextError {
    #[error("no `-----BEGIN PRIVATE KEY-----` block found")]
    NoKey,
    #[error("a PEM block is not closed by its END line")]
    Unclosed,
    #[error("a PEM block is not valid base64")]
    NotBase64,
    #[error(
        "a PEM block is `{0}`, not `PRIVATE KEY` (PKCS#8, as `openssl genpkey -algorithm ed25519` writes)"
    )]
    WrongLabel(String),
}

/// The DER of every `PRIVATE KEY` block in `text`, in order (several keys may follow one another;
/// the first signs).
pub fn private_key_ders(text: &str) -> Result<Vec<Vec<u8>>, KeyTextError> {
    let mut ders = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        if label != "PRIVATE KEY" {
            return Err(KeyTextError::WrongLabel(label.to_owned()));
        }
        let mut body = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            if line.starts_with("-----END ") {
                closed = true;
                break;
            }
            body.push_str(line);
        }
        if !closed {
            return Err(KeyTextError::Unclosed);
        }
        ders.push(STANDARD.decode(body).map_err(|_| KeyTextError::NotBase64)?);
    }
    if ders.is_empty() {
        return Err(KeyTextError::NoKey);
    }
    Ok(ders)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::tokyo;
    use chrono::TimeZone;

    fn jst(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        tokyo()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_token_lives_its_ttl_unless_the_registration_ends_first() {
        let now = jst(2027, 3, 1, 10, 0);
        let week = Duration::days(7);
        assert_eq!(token_expiry(now, week, None), jst(2027, 3, 8, 10, 0));
        let far = NaiveDate::from_ymd_opt(2029, 1, 1);
        assert_eq!(token_expiry(now, week, far), jst(2027, 3, 8, 10, 0));
        // Valid up to and including 3 March: the token ends at 24:00 that day, Tokyo time.
        let soon = NaiveDate::from_ymd_opt(2027, 3, 3);
        assert_eq!(token_expiry(now, week, soon), jst(2027, 3, 4, 0, 0));
    }

    #[test]
    fn a_retired_key_stays_published_until_its_last_token_has_expired() {
        let retired = jst(2027, 3, 1, 10, 0);
        let (week, day) = (Duration::days(7), Duration::days(1));
        assert!(key_is_published(None, retired, week, day));
        assert!(key_is_published(
            Some(retired),
            retired + Duration::days(7),
            week,
            day
        ));
        assert!(!key_is_published(
            Some(retired),
            retired + Duration::days(8),
            week,
            day
        ));
    }

    #[test]
    fn the_key_id_is_the_start_of_the_rfc_7638_thumbprint() {
        // RFC 8037 Appendix A.3: the thumbprint of the example Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key: [u8; 32] = x.try_into().unwrap();
        assert_eq!(
            jwk_thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        assert_eq!(key_id(&key), "kPrK_qmx");
    }

    #[test]
    fn a_seed_becomes_pkcs8_that_the_signing_library_reads() {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let seed = [7u8; 32];
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(&pkcs8_der(&seed)).unwrap();
        assert_eq!(key.to_bytes(), seed);
    }

    #[test]
    fn pem_blocks_are_read_in_order_and_other_labels_refused() {
        let der = pkcs8_der(&[1u8; 32]);
        let pem = |der: &[u8]| {
            format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                STANDARD.encode(der)
            )
        };
        let two = format!("{}{}", pem(&der), pem(&pkcs8_der(&[2u8; 32])));
        let ders = private_key_ders(&two).unwrap();
        assert_eq!(ders.len(), 2);
        assert_eq!(ders[0], der);
        assert_eq!(private_key_ders("nothing here"), Err(KeyTextError::NoKey));
        assert!(matches!(
            private_key_ders("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
            Err(KeyTextError::WrongLabel(_))
        ));
        assert_eq!(
            private_key_ders("-----BEGIN PRIVATE KEY-----\nAAAA\n"),
            Err(KeyTextError::Unclosed)
        );
    }

    #[test]
    fn revocation_reasons_match_the_database_check_constraint() {
        let codes: Vec<_> = RevocationReason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(
            codes,
            migration::m20261123_000011_cards_and_checkins::CARD_REVOCATION_REASONS
        );
    }
}
