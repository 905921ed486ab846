//! The embedded provider: Yoyaku's own checkout page, used when no Stripe key is configured
//! (demo, development, tests). It moves no real money and every page it serves says
//! "テストモード / test mode".
//!
//! A checkout is a random 256-bit token in the page's URL (`/pay/{token}`): whoever holds the
//! link may pay or abandon that one checkout, nothing else. Only a hash of the token is stored
//! (`emb_cs_<sha256>` as the session id), so the database alone does not open the page. The
//! page's forms post back to the same token URL; the token is the form's CSRF binding, since an
//! attacker who could forge the form would already need the unguessable link.
//!
//! Ids are derived, not random, so every call is idempotent like Stripe's with a key: paying a
//! session twice names the same payment (`emb_pi_…`), and a refund with one idempotency key
//! names the same refund (`emb_re_…`).

use sha2::{Digest, Sha256};

use super::{
    CheckoutCreated, CheckoutRequest, PaymentProvider, ProviderError, RefundCreated, RefundRequest,
};
use crate::domain::payments::Provider;

/// The embedded test-mode provider.
#[derive(Debug)]
pub struct EmbeddedProvider {
    /// This service's base URL, without a trailing slash.
    base_url: String,
}

impl EmbeddedProvider {
    pub fn new(base_url: String) -> Self {
        EmbeddedProvider { base_url }
    }

    /// This service's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

fn digest(prefix: &str, value: &str) -> String {
    format!(
        "{prefix}{}",
        &hex::encode(Sha256::digest(value.as_bytes()))[..40]
    )
}

/// The session id a checkout page's token stands for.
pub fn session_id_for_token(token: &str) -> String {
    digest("emb_cs_", token)
}

/// The payment id of a completed embedded session (the same every time it is asked).
pub fn payment_id_for_session(session_id: &str) -> String {
    digest("emb_pi_", session_id)
}

impl PaymentProvider for EmbeddedProvider {
    fn kind(&self) -> Provider {
        Provider::Embedded
    }

    async fn create_checkout(
        &self,
        _request: &CheckoutRequest,
    ) -> Result<CheckoutCreated, ProviderError> {
        let token = crate::auth::random_token();
        Ok(CheckoutCreated {
            session_id: session_id_for_token(&token),
            url: format!("{}/pay/{token}", self.base_url),
        })
    }

    async fn expire_checkout(&self, _session_id: &str) -> Result<(), ProviderError> {
        // The page reads the attempt's state; marking it expired in the ledger is enough.
        Ok(())
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundCreated, ProviderError> {
        Ok(RefundCreated {
            provider_refund_id: digest("emb_re_", &request.idempotency_key),
            succeeded: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refunds_with_one_key_are_one_refund() {
        let p = EmbeddedProvider::new("http://x".into());
        let request = RefundRequest {
            refund_id: 1,
            payment_id: "emb_pi_1".into(),
            amount_yen: 100,
            idempotency_key: "refund-1".into(),
        };
        let a = p.refund(&request).await.unwrap();
        let b = p.refund(&request).await.unwrap();
        assert_eq!(a.provider_refund_id, b.provider_refund_id);
    }

    #[tokio::test]
    async fn a_checkout_link_carries_a_token_whose_hash_is_the_session() {
        let p = EmbeddedProvider::new("http://x".into());
        let request = CheckoutRequest {
            booking_id: 1,
            amount_yen: 100,
            description: "d".into(),
            expires_at: chrono::Utc::now(),
            idempotency_key: "k".into(),
        };
        let created = p.create_checkout(&request).await.unwrap();
        let token = created.url.strip_prefix("http://x/pay/").unwrap();
        assert_eq!(session_id_for_token(token), created.session_id);
        assert!(!created.session_id.contains(token));
    }
}
