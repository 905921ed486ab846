//! The staff view of registrations waiting for review.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::entities::user;

/// `GET /admin/registrations` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegistrationQuery {
    /// `pending_review` (default), `email_unverified`, `approved`, `rejected` or `expired`.
    pub state: Option<String>,
}

/// A registration as staff review it (personal data: every view is audited).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationReview {
    pub user_id: i32,
    pub email: String,
    pub name: String,
    pub name_kana: Option<String>,
    pub date_of_birth: Option<String>,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub residency: String,
    pub registration_state: String,
    pub card_number: Option<String>,
    pub review_note: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub registered_at: chrono::DateTime<chrono::Utc>,
    /// Identity documents uploaded (`GET /admin/registrations/{id}/documents` lists them). None
    /// uploaded: the person shows one at a counter.
    pub document_count: u64,
}

impl From<user::Model> for RegistrationReview {
    fn from(u: user::Model) -> Self {
        RegistrationReview {
            user_id: u.id,
            email: u.email,
            name: u.display_name,
            name_kana: u.name_kana,
            date_of_birth: u.date_of_birth.map(|d| d.to_string()),
            postal_code: u.postal_code,
            address: u.address,
            phone: u.phone,
            residency: u.residency,
            registration_state: u.registration_state,
            card_number: u.card_number,
            review_note: u.review_note,
            registered_at: u.created_at,
            document_count: 0,
        }
    }
}

/// `POST /admin/registrations/{id}/reject`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Told to the person by mail (5–500 characters).
    pub reason: String,
}

/// The result of an approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalResponse {
    pub user_id: i32,
    /// 利用者番号: ten digits, the last a check digit.
    pub card_number: String,
    /// `YYYY-MM-DD`, inclusive.
    pub valid_until: String,
}
