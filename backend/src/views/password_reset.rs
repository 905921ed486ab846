//! Password reset requests and responses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /auth/password-reset`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

/// The answer to asking for a reset: the same whether or not the address has an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetResponse {
    /// `reset_requested`.
    pub status: &'static str,
    pub message: &'static str,
}

/// `POST /auth/password-reset/confirm`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirmRequest {
    /// The `token` from the link in the mail.
    pub token: String,
    /// The new password: the same rules as at registration (at least 10 characters, not easily
    /// guessed).
    pub password: String,
}

/// A reset that was applied: every session of the account has been ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetConfirmResponse {
    /// `password_changed`.
    pub status: &'static str,
}
