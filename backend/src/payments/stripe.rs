//! Stripe, through async-stripe 1.0 (only its checkout-session and refund request crates, to keep
//! compile time down; webhook events are read with serde_json, see `services::payments`).
//!
//! - A checkout is a Checkout Session in `payment` mode with one line item: the booking's total
//!   in JPY (zero-decimal: ¥4,200 is `unit_amount=4200`), the booking id in the session's and the
//!   PaymentIntent's metadata and as `client_reference_id`, `expires_at` from
//!   `domain::payments::checkout_expires_at` (Stripe accepts 30 min – 24 h), and the checkout
//!   attempt's idempotency key, so a retried create makes one session.
//! - A refund is a Refund of the PaymentIntent for a number of yen, with our refund row's key.
//! - `STRIPE_API_BASE` replaces `https://api.stripe.com/` (the tests' stub).

use std::collections::HashMap;
use std::time::Duration;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ExpireCheckoutSession, ProductData,
};
use stripe_checkout::{CheckoutSessionMode, CheckoutSessionStatus};
use stripe_core::refund::CreateRefund;
use stripe_types::Currency;

use super::{
    CheckoutCreated, CheckoutRequest, PaymentProvider, ProviderError, RefundCreated, RefundRequest,
};
use crate::domain::payments::Provider;

/// Each attempt of a call to Stripe gives up after this long (the request's own limit is 30 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Stripe Checkout and Refunds.
pub struct StripeProvider {
    client: Client,
    /// This service's base URL, for the return pages.
    base_url: String,
}

impl StripeProvider {
    /// A client for `secret`, at `api_base` when given (it must be an absolute http(s) URL).
    pub fn new(
        secret: &str,
        api_base: Option<&str>,
        base_url: String,
    ) -> Result<StripeProvider, ProviderError> {
        // rustls is built with both ring and aws-lc-rs here (other crates ask for each), so it
        // cannot pick a process default by itself and would panic at the first connection.
        // Install ring, as lettre uses; if something installed one already, that one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = ClientBuilder::new(secret).timeout(CALL_TIMEOUT);
        if let Some(base) = api_base.map(str::trim).filter(|b| !b.is_empty()) {
            // The client appends `v1/…` to the base as given.
            let base = if base.ends_with('/') {
                base.to_owned()
            } else {
                format!("{base}/")
            };
            builder = builder.url(base);
        }
        let client = builder
            .build()
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        Ok(StripeProvider { client, base_url })
    }

    /// This service's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, ProviderError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| ProviderError::Config(format!("idempotency key: {e}")))
}

/// Stripe's errors, sorted into "try again" and "refused". The message carries Stripe's error
/// type and code, never the request (which could hold metadata).
fn sorted(error: StripeError) -> ProviderError {
    match error {
        StripeError::Stripe(errors, status) if (400..500).contains(&status) && status != 429 => {
            ProviderError::Refused(format!(
                "status {status}: {}",
                errors.message.as_deref().unwrap_or("no message")
            ))
        }
        StripeError::Stripe(_, status) => ProviderError::Unavailable(format!("status {status}")),
        StripeError::ConfigError(message) => ProviderError::Config(message),
        other => ProviderError::Unavailable(other.to_string()),
    }
}

fn booking_metadata(booking_id: i64) -> HashMap<String, String> {
    HashMap::from([("booking_id".to_owned(), booking_id.to_string())])
}

impl PaymentProvider for StripeProvider {
    fn kind(&self) -> Provider {
        Provider::Stripe
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutCreated, ProviderError> {
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(Currency::JPY);
        price.unit_amount = Some(request.amount_yen);
        price.product_data = Some(ProductData::new(request.description.clone()));
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(1);
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(booking_metadata(request.booking_id));
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .currency(Currency::JPY)
            .line_items(vec![item])
            .client_reference_id(request.booking_id.to_string())
            .metadata(booking_metadata(request.booking_id))
            .payment_intent_data(intent)
            .expires_at(request.expires_at.timestamp())
            .success_url(format!(
                "{}/pay/complete?booking={}",
                self.base_url, request.booking_id
            ))
            .cancel_url(format!(
                "{}/pay/cancelled?booking={}",
                self.base_url, request.booking_id
            ))
            .customize()
            .request_strategy(idempotent(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(sorted)?;
        let url = session
            .url
            .ok_or_else(|| ProviderError::Unavailable("the session came without a url".into()))?;
        Ok(CheckoutCreated {
            session_id: session.id.to_string(),
            url,
        })
    }

    async fn expire_checkout(&self, session_id: &str) -> Result<(), ProviderError> {
        match ExpireCheckoutSession::new(session_id)
            .send(&self.client)
            .await
        {
            Ok(session) if session.status == Some(CheckoutSessionStatus::Expired) => Ok(()),
            Ok(_) => Err(ProviderError::Refused(
                "the session did not expire".to_owned(),
            )),
            Err(error) => Err(sorted(error)),
        }
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundCreated, ProviderError> {
        let refund = CreateRefund::new()
            .payment_intent(request.payment_id.clone())
            .amount(request.amount_yen)
            .metadata(HashMap::from([(
                "yoyaku_refund_id".to_owned(),
                request.refund_id.to_string(),
            )]))
            .customize()
            .request_strategy(idempotent(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(sorted)?;
        Ok(RefundCreated {
            provider_refund_id: refund.id.to_string(),
            succeeded: refund.status.as_deref() == Some("succeeded"),
        })
    }
}
