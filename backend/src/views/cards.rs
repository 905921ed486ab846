//! The web user card, the published keys, the revocation list, check-in (online and offline
//! sync) and penalty points: requests and responses.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::booking::BookingState;
use crate::domain::card_token::RevocationReason;
use crate::domain::checkin::{BookingAction, ScanResult};

/// `GET /me/card`: my card, with a freshly signed token and its QR.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardResponse {
    /// 利用者番号: ten digits, the last a check digit. Show it in plain text for manual entry.
    pub card_number: String,
    /// The card this token belongs to (what revocation lists name).
    pub card_id: i64,
    /// The person's card serial: a new card after a revocation gets the next one.
    pub serial: i32,
    /// The signing key's id (also in the token's header).
    pub kid: String,
    /// A compact JWS (EdDSA, Ed25519), about 200 ASCII characters; the QR encodes exactly this.
    pub token: String,
    /// The QR code of `token` as an inline SVG document (version ≤ 10, error correction M,
    /// 4-module quiet zone, 4 px modules; scale it with CSS to 35–60 mm on screen).
    pub qr_svg: String,
    /// When `token` expires (7 days by default, never after the registration's last day). The
    /// card page replaces it whenever it is online; scanners refuse it afterwards.
    #[schema(value_type = String, format = DateTime)]
    pub valid_until: DateTime<FixedOffset>,
    /// When this token was issued (show "last refreshed" on the card page).
    #[schema(value_type = String, format = DateTime)]
    pub refreshed_at: DateTime<FixedOffset>,
    /// The registration's last valid day (Japan time), if it has one.
    #[schema(value_type = Option<String>, format = Date)]
    pub registration_valid_until: Option<NaiveDate>,
}

/// One public key of `/.well-known/jwks.json` (RFC 7517, RFC 8037).
#[derive(Debug, Serialize, ToSchema)]
pub struct CardJwk {
    /// Always `OKP`.
    pub kty: &'static str,
    /// Always `Ed25519`.
    pub crv: &'static str,
    /// The raw public key, base64url.
    pub x: String,
    pub kid: String,
    /// Always `EdDSA`.
    pub alg: &'static str,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// `/.well-known/jwks.json`: every key a card may be signed with now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardJwks {
    pub keys: Vec<CardJwk>,
}

/// `GET /checkins/revocations?since=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RevocationQuery {
    /// Only cards revoked at or after this instant (RFC 3339); without it, the whole list.
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<DateTime<FixedOffset>>,
}

/// A card that scanners must refuse.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedCard {
    /// The token's `cid`.
    pub card_id: i64,
    /// The token's `v`.
    pub serial: i32,
    #[schema(value_type = String, format = DateTime)]
    pub revoked_at: DateTime<FixedOffset>,
    pub reason: RevocationReason,
    /// After this instant every token of the card has expired anyway; drop the entry then.
    #[schema(value_type = String, format = DateTime)]
    pub tokens_expire_by: DateTime<FixedOffset>,
}

/// The revocation list an offline scanner keeps. Signed: the `X-Yoyaku-Signature` header is a
/// detached compact JWS (RFC 7515 Appendix F) of the exact response body with a card key.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationListResponse {
    /// When this list was made; a scanner should say how old its list is.
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: DateTime<FixedOffset>,
    /// The `since` asked for; `null`: this is the whole list (replace the cached one).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<DateTime<FixedOffset>>,
    /// The longest a card token lives, in seconds: entries older than this can be forgotten.
    pub max_token_lifetime_seconds: i64,
    pub items: Vec<RevokedCard>,
    pub total: u64,
}

/// `POST /checkins`: a scanned QR (`token`) or a typed card number (`card_number`), exactly one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    pub facility_id: i32,
    pub token: Option<String>,
    pub card_number: Option<String>,
    /// Optional scanner id for this scan (e.g. a UUID, up to 64 characters): sending the same
    /// scan again answers the first result instead of scanning again.
    pub client_id: Option<String>,
}

/// One scan queued by an offline scanner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineScan {
    /// The scanner's id for the scan (e.g. a UUID, 1–64 characters): a resent batch records
    /// nothing twice.
    pub client_id: String,
    pub facility_id: i32,
    pub token: Option<String>,
    pub card_number: Option<String>,
    /// When the card was scanned, by the scanner's clock.
    #[schema(value_type = String, format = DateTime)]
    pub scanned_at: DateTime<FixedOffset>,
}

/// `POST /checkins/sync`: scans made offline, oldest first (at most 200).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    pub items: Vec<OfflineScan>,
}

/// The outcome of one synced scan.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncOutcome {
    pub client_id: String,
    /// `recorded` (first time), `duplicate` (already synced: nothing changed) or `refused`
    /// (the card or the request was refused; see `error`).
    pub status: &'static str,
    pub result: Option<ScanResult>,
    /// Bookings this scan checked in.
    pub checked_in_booking_ids: Vec<i64>,
    pub error: Option<SyncError>,
}

/// Why a synced scan was refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncError {
    pub code: String,
    pub message: String,
}

/// `POST /checkins/sync` answer, one outcome per item in the order sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    pub items: Vec<SyncOutcome>,
}

/// The card holder, as staff see them at the counter.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardHolder {
    pub user_id: i32,
    pub name: String,
    pub name_kana: Option<String>,
    pub card_number: Option<String>,
}

/// One of the holder's bookings at the facility that day.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinBooking {
    pub id: i64,
    pub room_id: i32,
    pub room_name: String,
    pub room_name_en: String,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: DateTime<FixedOffset>,
    pub state: BookingState,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub checked_in_at: Option<DateTime<FixedOffset>>,
    /// What this scan did or would do to it.
    pub action: BookingAction,
}

/// `POST /checkins` answer: the holder, their bookings here that day, and the result.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinResponse {
    pub result: ScanResult,
    /// A sentence for the scanner screen, e.g. "already checked in at 09:05".
    pub message: String,
    /// For `already_checked_in`: the first check-in's time, `HH:MM` in Japan time.
    pub already_checked_in_at: Option<String>,
    /// For `not_yet`: when check-in opens.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub opens_at: Option<DateTime<FixedOffset>>,
    pub holder: CardHolder,
    pub card_id: Option<i64>,
    pub bookings: Vec<CheckinBooking>,
    /// Bookings this scan checked in.
    pub checked_in_booking_ids: Vec<i64>,
    /// True when `client_id` had been seen: this is the first answer again.
    pub replayed: bool,
}

/// One penalty on my record.
#[derive(Debug, Serialize, ToSchema)]
pub struct PenaltyView {
    pub booking_id: i64,
    pub points: i32,
    /// `no_show`.
    pub reason: String,
    /// A sentence: which booking was missed.
    pub description: String,
    #[schema(value_type = String, format = DateTime)]
    pub incurred_at: DateTime<FixedOffset>,
    /// Set when the penalty was withdrawn (a late check-in showed I came).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub voided_at: Option<DateTime<FixedOffset>>,
    pub void_reason: Option<String>,
}

/// `GET /me/penalties`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PenaltiesResponse {
    /// Points counting now (within the window, not used up by a suspension).
    pub points: u32,
    /// Points within the window that suspend booking.
    pub threshold: u32,
    pub window_days: u32,
    pub suspension_days: u32,
    /// Booking is suspended until then, if it is.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub suspended_until: Option<DateTime<FixedOffset>>,
    pub items: Vec<PenaltyView>,
}

/// `POST /admin/cards/{card_number}/suspend` and `…/revoke`: why, for the audit log.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardActionRequest {
    /// 1–500 characters, kept in the audit log (not shown to the holder).
    pub reason: String,
}

/// A card staff suspended or revoked: scanners refuse it from now on (it is on the revocation
/// list until its tokens have expired).
#[derive(Debug, Serialize, ToSchema)]
pub struct CardActionResponse {
    pub card_id: i64,
    pub serial: i32,
    pub card_number: String,
    pub user_id: i32,
    pub reason: RevocationReason,
    #[schema(value_type = String, format = DateTime)]
    pub revoked_at: DateTime<FixedOffset>,
}

/// `POST /admin/bookings/{id}/penalty/void`: why the no-show's points are withdrawn.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidPenaltyRequest {
    /// 1–500 characters, shown to the resident with the voided penalty and kept in the audit log.
    pub reason: String,
}

/// A withdrawn penalty and what the holder's standing is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoidPenaltyResponse {
    pub booking_id: i64,
    pub user_id: i32,
    pub points: i32,
    #[schema(value_type = String, format = DateTime)]
    pub voided_at: DateTime<FixedOffset>,
    pub void_reason: String,
    /// Until when the holder may not book after the recomputation; `null`: they may book.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub suspended_until: Option<DateTime<FixedOffset>>,
}
