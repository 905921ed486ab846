//! Requests and responses of the console's counter area: finding a resident, booking on their
//! behalf, a booking as staff see it, and the audit log.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::registration::RegistrationState;
use crate::entities::user;
use crate::views::booking::BookingResponse;

/// `GET /admin/residents`: one way at a time — `card_number`, or `name` (kanji or kana, part of
/// it) with `date_of_birth`, or `phone`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResidentQuery {
    /// 利用者番号, ten digits (hyphens allowed).
    pub card_number: Option<String>,
    /// Part of the name in kanji or kana; needs `date_of_birth`.
    pub name: Option<String>,
    /// `YYYY-MM-DD`, with `name`.
    pub date_of_birth: Option<String>,
    /// A Japanese phone number (hyphens allowed).
    pub phone: Option<String>,
}

/// A person found at the counter: only what staff need to be sure they have the right person
/// and may book for them (no address, email or phone).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResidentMatch {
    pub user_id: i32,
    pub name: String,
    pub name_kana: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub date_of_birth: Option<NaiveDate>,
    pub card_number: Option<String>,
    /// `resident`, `works_in_city`, `studies_in_city` or `non_resident` (sets the fee).
    pub residency: String,
    pub registration_state: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub registration_valid_until: Option<NaiveDate>,
    /// Whether the registration is approved and current, so that a booking can be made.
    pub may_book: bool,
}

impl ResidentMatch {
    /// The person as shown at the counter on `today`.
    pub fn new(u: user::Model, today: NaiveDate) -> Self {
        let may_book = u.registration_state == RegistrationState::Approved.code()
            && u.registration_valid_until
                .is_none_or(|until| until >= today);
        ResidentMatch {
            user_id: u.id,
            name: u.display_name,
            name_kana: u.name_kana,
            date_of_birth: u.date_of_birth,
            card_number: u.card_number,
            residency: u.residency,
            registration_state: u.registration_state,
            registration_valid_until: u.registration_valid_until,
            may_book,
        }
    }
}

/// A booking as counter staff see it: the booking, where, for whom, who made it, and its
/// receipt once paid.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffBookingResponse {
    pub booking: BookingResponse,
    pub facility_id: i32,
    pub facility_name: String,
    pub facility_name_en: String,
    pub room_name: String,
    pub room_name_en: String,
    pub holder: ResidentMatch,
    /// The staff member who booked at the counter (`channel = counter`), by name.
    pub booked_by: Option<String>,
    /// 領収番号 of the applied payment, once paid.
    pub receipt_number: Option<String>,
    /// `counter_cash`, `counter_terminal`, `stripe` or `embedded`, once paid.
    pub paid_with: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub paid_at: Option<DateTime<FixedOffset>>,
}

/// `GET /admin/audit` parameters. Every filter is optional; `from` and `to` are Japan dates,
/// inclusive.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The acting user's id.
    pub actor: Option<i32>,
    /// The action, exactly (e.g. `booking.counter`) or a prefix ending in `.` (`registration.`).
    pub action: Option<String>,
    /// e.g. `user`, `booking`.
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    /// 1-based page of 50 entries, newest first.
    pub page: Option<u64>,
}

/// One audit log entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<FixedOffset>,
    pub actor_user_id: Option<i32>,
    /// The actor's name and role, for reading (the account may since have been anonymised).
    pub actor_name: Option<String>,
    pub actor_role: Option<String>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<i64>,
    pub detail: serde_json::Value,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Entries matching the filters, across pages.
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}
