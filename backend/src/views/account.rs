//! The person's own account: renewing the registration, the data export and the deletion request.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /me/registration/renew`: the person confirms (or corrects) their contact details and
/// residency category. Each field is checked as at registration.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewRegistrationRequest {
    /// `NNN-NNNN`.
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    /// `resident`, `works_in_city`, `studies_in_city` or `non_resident`. A change goes to staff
    /// review.
    pub residency: String,
}

/// The outcome of a renewal.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenewalResponse {
    /// `renewed` (valid until the new date at once) or `pending_review` (staff check the
    /// residency first; booking is paused until they approve).
    pub outcome: &'static str,
    /// `approved` or `pending_review`.
    pub registration_state: String,
    /// The registration's expiry after this request (`YYYY-MM-DD`, inclusive). While under
    /// review it is the old one.
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<NaiveDate>,
}

/// `POST /me/delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The account's password, entered again.
    pub password: String,
}

/// What the deletion did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionResponse {
    /// `deleted`.
    pub status: &'static str,
    /// Unpaid (or free) future bookings that were cancelled, their slots released.
    pub cancelled_booking_ids: Vec<i64>,
    /// Bookings kept for the city's accounts, no longer linked to personal data.
    pub kept_booking_ids: Vec<i64>,
}

/// `GET /me/export`: everything Yoyaku holds about the person.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataExport {
    /// `1`; bumped if the document's shape changes.
    pub format_version: u32,
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: DateTime<Utc>,
    pub profile: ExportProfile,
    pub registration: ExportRegistration,
    /// Facilities a staff member or manager is assigned to.
    pub staff_facility_ids: Vec<i32>,
    pub bookings: Vec<ExportBooking>,
    /// Sign-in sessions (refresh tokens), without the token hashes.
    pub sessions: Vec<ExportSession>,
    /// Mails addressed to the person.
    pub mails: Vec<ExportMail>,
    /// Reminders sent before the registration expired.
    pub registration_reminders: Vec<ExportReminder>,
    /// Identity and residency documents uploaded for the review (metadata; not the files).
    pub identity_documents: Vec<ExportDocument>,
    /// Audit entries about the person: staff decisions and views of their data, and their own
    /// recorded actions.
    pub audit_log: Vec<ExportAuditEntry>,
}

/// The person's details.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportProfile {
    pub id: i32,
    pub email: String,
    pub name: String,
    pub name_kana: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub date_of_birth: Option<NaiveDate>,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub residency: String,
    pub locale: String,
    pub role: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub email_verified_at: Option<DateTime<Utc>>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// The registration (利用者登録).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportRegistration {
    pub state: String,
    pub card_number: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<NaiveDate>,
    /// The reason staff gave with their decision.
    pub review_note: Option<String>,
}

/// One booking as stored, with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportBooking {
    pub id: i64,
    pub room_id: i32,
    pub room_name: Option<String>,
    pub facility_name: Option<String>,
    pub state: String,
    pub residency: String,
    pub purpose_kind: String,
    pub purpose: String,
    pub attendees: i32,
    #[schema(value_type = String, format = Date)]
    pub service_date: NaiveDate,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: DateTime<Utc>,
    pub slot_ids: Vec<i64>,
    pub total_yen: i64,
    /// The fee breakdown as booked.
    #[schema(value_type = Object)]
    pub quote: serde_json::Value,
    #[schema(value_type = String, format = DateTime)]
    pub pay_by: DateTime<Utc>,
    pub channel: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<DateTime<Utc>>,
    pub refund_yen: Option<i64>,
    pub events: Vec<ExportBookingEvent>,
    /// Payments for the booking, each with its refunds (the ledger, as `GET
    /// /bookings/{id}/payments` shows it).
    pub payments: Vec<crate::views::payment::PaymentView>,
}

/// One state change of a booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportBookingEvent {
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// `self`, `staff` or `system`.
    pub actor: &'static str,
    pub from_state: Option<String>,
    pub to_state: String,
    pub reason: String,
}

/// A sign-in session's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportSession {
    /// One sign-in; its refresh tokens share it.
    pub family_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub rotated_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A mail addressed to the person.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportMail {
    pub to: String,
    pub template: String,
    pub subject: String,
    pub body: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<DateTime<Utc>>,
}

/// A reminder before expiry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportReminder {
    #[schema(value_type = String, format = Date)]
    pub valid_until: NaiveDate,
    pub threshold_days: i32,
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: DateTime<Utc>,
}

/// An uploaded identity or residency document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportDocument {
    pub kind: String,
    pub content_type: String,
    pub byte_size: i64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    #[schema(value_type = String, format = DateTime)]
    pub uploaded_at: DateTime<Utc>,
}

/// An audit entry about the person.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportAuditEntry {
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// `self`, `staff` or `system` (staff are not named).
    pub actor: &'static str,
    /// e.g. `registration.approve`, `registration.view_queue`, `account.export`.
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<i64>,
    /// The entry's detail, without other people's data (`null` when it could hold some).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}
