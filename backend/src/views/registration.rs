//! Registration requests and responses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /auth/register`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    /// At least 10 characters; common and easily guessed passwords are refused with a reason.
    pub password: String,
    /// 氏名.
    pub name: String,
    /// 氏名（かな）, in hiragana or katakana.
    pub name_kana: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `NNN-NNNN`.
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    /// `resident`, `works_in_city`, `studies_in_city` or `non_resident`.
    pub residency: String,
    /// `ja` (default) or `en`: the language of mail and pages.
    #[serde(default)]
    pub locale: Option<String>,
}

/// The answer to a registration: the same whether or not the address was known.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    /// `verification_sent`.
    pub status: &'static str,
    pub message: &'static str,
}

/// `POST /auth/verify-email`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The `token` from the link in the mail.
    pub token: String,
}

/// Where the registration stands after verifying.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyEmailResponse {
    /// `pending_review` (staff will check identity and residency), or the state it already had.
    pub registration_state: String,
}

/// One mail in the outbox (demo mode).
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent: bool,
}
