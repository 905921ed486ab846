//! What every handler can reach: the database pool and the settings. Cheap to clone.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Settings;

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
}
