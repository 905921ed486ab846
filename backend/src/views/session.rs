//! Sign-in requests and responses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::roles::Role;

/// `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A session's tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Single-use: exchange it at `/auth/refresh` for a new pair before the access token expires.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// The signed-in person.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub id: i32,
    pub email: String,
    pub display_name: String,
    pub name_kana: Option<String>,
    pub role: Role,
    /// `ja` or `en`.
    pub locale: String,
    /// Facilities a staff member or manager may act on.
    pub facility_ids: Vec<i32>,
}
