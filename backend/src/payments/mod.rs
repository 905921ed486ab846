//! The `PaymentProvider` boundary: what Yoyaku asks of whoever takes the money online.
//!
//! Two real implementations, chosen at start-up ([`Payments::from_settings`]):
//!
//! - [`stripe::StripeProvider`] when `STRIPE_SECRET_KEY` is set: Checkout Sessions and Refunds
//!   through async-stripe (`STRIPE_API_BASE` points it at another server, a stub in tests).
//! - [`embedded::EmbeddedProvider`] otherwise: a checkout page served by Yoyaku itself
//!   (`GET /pay/{token}`), marked test mode on every page, that moves no real money.
//!
//! Both feed the same ledger and booking state machine (`services::payments`): a provider only
//! opens checkouts, ends them, and gives money back; what a payment *means* is decided there.
//! Provider calls never run inside a database transaction: a checkout attempt or a refund is
//! written first, the provider is called with that row's idempotency key after the commit, and
//! the answer is written in a second short transaction (a refund left `pending` by a crash is
//! retried by `jobs::refunds` with the same key, so it is made once).
//!
//! Dispatch is a plain enum ([`Payments`]) rather than a trait object: the trait's methods are
//! `async`, and the set of providers is closed.

pub mod embedded;
pub mod signature;
pub mod stripe;

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use thiserror::Error;

use crate::config::Settings;
use crate::domain::payments::Provider;

/// Open a checkout for one booking.
#[derive(Clone, Debug)]
pub struct CheckoutRequest {
    pub booking_id: i64,
    /// Whole yen (JPY is zero-decimal).
    pub amount_yen: i64,
    /// The line shown to the payer, e.g. `施設使用料（予約番号 123）`; never personal data.
    pub description: String,
    /// Already clamped to what the provider accepts (`domain::payments::checkout_expires_at`).
    pub expires_at: DateTime<Utc>,
    /// The checkout attempt's key: a retried create makes one session.
    pub idempotency_key: String,
}

/// An open checkout.
#[derive(Clone, Debug)]
pub struct CheckoutCreated {
    /// Stripe's Checkout Session id (`cs_…`), or the embedded provider's `emb_cs_…`.
    pub session_id: String,
    /// Where to send the payer.
    pub url: String,
}

/// Give money back from one payment.
#[derive(Clone, Debug)]
pub struct RefundRequest {
    /// Our refund row, sent as metadata so the provider's events can be matched to it.
    pub refund_id: i64,
    /// The provider's payment id (Stripe's PaymentIntent `pi_…`).
    pub payment_id: String,
    pub amount_yen: i64,
    pub idempotency_key: String,
}

/// The provider's answer to a refund.
#[derive(Clone, Debug)]
pub struct RefundCreated {
    pub provider_refund_id: String,
    /// `false` while the provider still processes it (`charge.refunded` confirms it later).
    pub succeeded: bool,
}

/// Why a provider call failed.
#[derive(Debug, Error)]
pub enum ProviderError {
    /// Network trouble or a 5xx: try again later with the same idempotency key.
    #[error("the payment provider could not be reached: {0}")]
    Unavailable(String),
    /// The provider refused the request for good (4xx).
    #[error("the payment provider refused the request: {0}")]
    Refused(String),
    /// Settings that cannot work.
    #[error("payment settings: {0}")]
    Config(String),
}

/// What Yoyaku needs from a payment provider.
pub trait PaymentProvider {
    /// Which provider this is (stored on every payment).
    fn kind(&self) -> Provider;

    /// Open a checkout and say where the payer goes.
    fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> impl Future<Output = Result<CheckoutCreated, ProviderError>> + Send;

    /// End an open checkout so it can no longer be paid (the booking ended).
    fn expire_checkout(
        &self,
        session_id: &str,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Give back `amount_yen` of a payment.
    fn refund(
        &self,
        request: &RefundRequest,
    ) -> impl Future<Output = Result<RefundCreated, ProviderError>> + Send;
}

/// The provider this instance uses. Cheap to clone.
#[derive(Clone)]
pub enum Payments {
    Embedded(Arc<embedded::EmbeddedProvider>),
    Stripe(Arc<stripe::StripeProvider>),
}

impl Payments {
    /// Stripe when `stripe_secret_key` is set, otherwise the embedded test-mode provider.
    /// `base_url` is where this service is reached (return and checkout page links).
    pub fn from_settings(settings: &Settings, base_url: &str) -> Result<Payments, ProviderError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        match &settings.stripe_secret_key {
            Some(key) if !key.expose_secret().trim().is_empty() => {
                let provider = stripe::StripeProvider::new(
                    key.expose_secret().trim(),
                    settings.stripe_api_base.as_deref(),
                    base_url,
                )?;
                Ok(Payments::Stripe(Arc::new(provider)))
            }
            _ => Ok(Payments::Embedded(Arc::new(
                embedded::EmbeddedProvider::new(base_url),
            ))),
        }
    }

    /// Whether money is only pretended (the embedded provider): pages say "test mode".
    pub fn is_test_mode(&self) -> bool {
        matches!(self, Payments::Embedded(_))
    }

    /// This service's base URL (no trailing slash), for links in mails about payments.
    pub fn base_url(&self) -> &str {
        match self {
            Payments::Embedded(p) => p.base_url(),
            Payments::Stripe(p) => p.base_url(),
        }
    }
}

impl PaymentProvider for Payments {
    fn kind(&self) -> Provider {
        match self {
            Payments::Embedded(p) => p.kind(),
            Payments::Stripe(p) => p.kind(),
        }
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutCreated, ProviderError> {
        match self {
            Payments::Embedded(p) => p.create_checkout(request).await,
            Payments::Stripe(p) => p.create_checkout(request).await,
        }
    }

    async fn expire_checkout(&self, session_id: &str) -> Result<(), ProviderError> {
        match self {
            Payments::Embedded(p) => p.expire_checkout(session_id).await,
            Payments::Stripe(p) => p.expire_checkout(session_id).await,
        }
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundCreated, ProviderError> {
        match self {
            Payments::Embedded(p) => p.refund(request).await,
            Payments::Stripe(p) => p.refund(request).await,
        }
    }
}

/// The webhook signing secrets: `STRIPE_WEBHOOK_SECRET`, several separated by commas while a
/// secret is being rotated.
pub fn webhook_secrets(settings: &Settings) -> Vec<String> {
    settings
        .stripe_webhook_secret
        .as_ref()
        .map(|s| {
            s.expose_secret()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
