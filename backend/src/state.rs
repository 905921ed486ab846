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
    /// The city-wide rules in force (booking phases and limits, payment and refunds, penalties,
    /// the lottery calendar): the configuration file's, with the versions saved in the console
    /// laid over them from their day. Ask `rules.now()` (or `.at(instant)`) at the moment of use.
    pub rules: Arc<crate::services::rule_book::RuleBook>,
    /// The payment provider: Stripe, or the embedded test-mode one (`crate::payments`).
    pub payments: crate::payments::Payments,
    /// The configured card signing keys (empty in demo mode: the keys are in the database).
    pub card_keys: Arc<crate::services::card_keys::CardKeyConfig>,
    /// Set once shutdown begins: `/readyz` then fails so load balancers stop sending work.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    /// The booking rules in force now (phases and the online window, payment deadline, refund
    /// tiers, per-person limits).
    pub fn booking_rules(&self) -> Arc<crate::domain::booking::BookingRules> {
        self.rules.now().booking
    }
}
