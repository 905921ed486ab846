//! Stripe's webhook signature, checked by hand (async-stripe's helper keeps only the last `v1`
//! value, and secret rotation needs every one tried against every configured secret).
//!
//! The header is `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`; each `v1` is
//! HMAC-SHA256, keyed with the endpoint's signing secret, of `"{t}.{raw body}"`. The body is
//! checked as the raw bytes received, before any parsing. A timestamp more than
//! [`TOLERANCE_SECS`] away from now (either way) is refused, so a captured delivery cannot be
//! replayed later. The comparison is constant-time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// Stripe's default tolerance: five minutes.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused. The messages say nothing about the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    #[error("the Stripe-Signature timestamp is outside the tolerance")]
    Stale,
    #[error("no signature in the Stripe-Signature header matches")]
    NoMatch,
    #[error("no webhook signing secret is configured")]
    NotConfigured,
}

/// Check `header` for `payload` against any of `secrets` at `now` (unix seconds).
pub fn verify(
    header: &str,
    payload: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<(), SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NotConfigured);
    }
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = Some(value),
            // A value that is not hex cannot match; skip it rather than refuse the others.
            "v1" => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    let t: i64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        for signature in &signatures {
            let mac = mac(secret, timestamp, payload)?;
            if mac.verify_slice(signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::NoMatch)
}

fn mac(secret: &str, timestamp: &str, payload: &[u8]) -> Result<HmacSha256, SignatureError> {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::NotConfigured)?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(payload);
    Ok(mac)
}

/// A `Stripe-Signature` header for `payload` at `t`, as Stripe makes it (for tests and stubs).
pub fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    let timestamp = t.to_string();
    let signature = mac(secret, &timestamp, payload)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={timestamp},v1={signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_genuine_signature_is_accepted() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, "whsec_test", NOW);
        assert_eq!(
            verify(&header, body, &secrets(&["whsec_test"]), NOW),
            Ok(())
        );
        // Within the tolerance, either way.
        assert_eq!(
            verify(&header, body, &secrets(&["whsec_test"]), NOW + 299),
            Ok(())
        );
        assert_eq!(
            verify(&header, body, &secrets(&["whsec_test"]), NOW - 299),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_or_wrong_secret_is_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, "whsec_test", NOW);
        assert_eq!(
            verify(
                &header,
                br#"{"id":"evt_2"}"#,
                &secrets(&["whsec_test"]),
                NOW
            ),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(&header, body, &secrets(&["whsec_other"]), NOW),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn an_old_or_future_timestamp_is_refused() {
        let body = b"{}";
        let header = sign(body, "s", NOW - 301);
        assert_eq!(
            verify(&header, body, &secrets(&["s"]), NOW),
            Err(SignatureError::Stale)
        );
        let header = sign(body, "s", NOW + 301);
        assert_eq!(
            verify(&header, body, &secrets(&["s"]), NOW),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn any_of_several_signatures_and_secrets_may_match() {
        let body = b"{}";
        let good = sign(body, "new", NOW);
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t={NOW},v1={},v1={v1},v0=zz", "00".repeat(32));
        assert_eq!(
            verify(&header, body, &secrets(&["old", "new"]), NOW),
            Ok(())
        );
        assert_eq!(
            verify(&header, body, &secrets(&["old"]), NOW),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn malformed_headers_and_missing_secrets_are_refused() {
        let s = secrets(&["s"]);
        for header in ["", "t=abc,v1=00", "v1=00", &format!("t={NOW}"), "garbage"] {
            assert_eq!(
                verify(header, b"{}", &s, NOW),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
        assert_eq!(
            verify(&sign(b"{}", "s", NOW), b"{}", &[], NOW),
            Err(SignatureError::NotConfigured)
        );
    }
}
