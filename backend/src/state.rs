//! What every handler can reach: the database pool, the settings, the session keys and the
//! login throttle. Cheap to clone.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::{LoginThrottle, SessionKeys};
use crate::config::Settings;

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    /// Signs and checks access tokens.
    pub keys: SessionKeys,
    pub login_throttle: Arc<LoginThrottle>,
    /// Booking windows, payment deadline, refund tiers and per-person limits.
    pub booking_rules: Arc<crate::domain::booking::BookingRules>,
    /// The payment provider: Stripe, or the embedded test-mode one (`crate::payments`).
    pub payments: crate::payments::Payments,
    /// The configured card signing keys (empty in demo mode: the keys are in the database).
    pub card_keys: Arc<crate::services::card_keys::CardKeyConfig>,
    /// Set once shutdown begins: `/readyz` then fails so load balancers stop sending work.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}
