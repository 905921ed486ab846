//! The staff scanner (受付): `GET /staff/scan` and its form, `POST /staff/scan`.
//!
//! One input takes what is scanned or typed: a keyboard-wedge USB scanner types the QR's token
//! and Enter into the focused input, staff type the ten-digit card number, and the camera
//! (`web/static/scanner.js`, BarcodeDetector or the vendored jsQR) fills it in. Without
//! JavaScript the form posts here and the page comes back with the result. With it, the page
//! calls `POST /api/v1/checkins` itself and, when the network is gone, checks the token's
//! signature against the cached key set and revocation list, queues the scan and sends the queue
//! to `POST /api/v1/checkins/sync` when it is back.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;

use super::assets;
use super::page::{Chrome, FormErrors};
use crate::domain::booking::BookingState;
use crate::domain::checkin::ScanResult;
use crate::domain::roles::Role;
use crate::entities::facility;
use crate::services::checkins::{self, CheckinError, Rules, Scan, Scanner};
use crate::state::AppState;
use crate::views::cards::CheckinResponse;

/// `?facility=` of the scanner page.
#[derive(Debug, Deserialize)]
pub struct ScanQuery {
    #[serde(default)]
    pub facility: Option<String>,
}

/// The scan form. Fields default to empty so that a tampered form gets the page back with a
/// message, not a bare 422.
#[derive(Debug, Deserialize)]
pub struct ScanForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub facility_id: String,
    #[serde(default)]
    pub code: String,
}

/// A facility in the scanner's list.
pub struct FacilityChoice {
    pub id: i32,
    pub name: String,
    pub selected: bool,
}

/// A booking in the result, formatted for the page.
pub struct ResultBooking {
    pub room: String,
    pub time: String,
    pub state: &'static str,
    pub checked_in_at: Option<String>,
}

/// What the last scan found.
pub struct ScanOutcome {
    /// `ok` (checked in), `info` (already, not yet, no booking) or `warn` (payment due).
    pub tone: &'static str,
    pub message: String,
    pub holder: String,
    pub card_number: String,
    pub bookings: Vec<ResultBooking>,
}

#[derive(Template)]
#[template(path = "scanner.html")]
pub struct ScannerPage<'a> {
    pub c: &'a Chrome,
    pub facilities: Vec<FacilityChoice>,
    pub facility_id: i32,
    pub facility_name: String,
    pub outcome: Option<ScanOutcome>,
    pub errors: FormErrors,
    pub code: String,
}

impl ScannerPage<'_> {
    pub fn scanner_js_url(&self) -> String {
        assets::url(assets::SCANNER_JS)
    }

    pub fn jsqr_url(&self) -> String {
        assets::url(assets::JSQR)
    }

    /// The strings the page's script shows (it has no locale files of its own).
    pub fn strings(&self) -> Vec<(String, &'static str)> {
        let mut keys: Vec<String> = SCRIPT_STRINGS.iter().map(|k| (*k).to_owned()).collect();
        keys.extend(ERROR_CODES.iter().map(|code| format!("scan.error.{code}")));
        keys.extend(
            BookingState::ALL
                .iter()
                .map(|s| format!("booking_state.{}", s.code())),
        );
        keys.into_iter()
            .map(|key| {
                let text = self.c.t(&key);
                (key, text)
            })
            .collect()
    }
}

/// Keys of `[scan]` the script needs besides the error messages.
const SCRIPT_STRINGS: [&str; 24] = [
    "scan.result.checked_in",
    "scan.result.already_at",
    "scan.result.already",
    "scan.result.payment_due",
    "scan.result.not_yet_at",
    "scan.result.not_yet",
    "scan.result.no_booking",
    "scan.holder",
    "scan.bookings_today",
    "scan.no_bookings_today",
    "scan.col_room",
    "scan.col_time",
    "scan.col_state",
    "scan.col_checked_in",
    "scan.offline_queued",
    "scan.offline_queued_number",
    "scan.queue_count",
    "scan.synced",
    "scan.keys_cached",
    "scan.keys_missing",
    "scan.no_webcrypto",
    "scan.camera_unsupported",
    "scan.online",
    "scan.offline",
];

/// The codes the page has a message for (`scan.error.<code>` in the locales); the page's
/// script uses the same strings for what the API answers and for its own offline checks.
pub const ERROR_CODES: [&str; 14] = [
    "card_token_invalid",
    "card_unknown_key",
    "card_token_expired",
    "card_revoked",
    "card_not_found",
    "registration_not_current",
    "forbidden",
    "invalid_input",
    "not_found",
    "tampered",
    "malformed",
    "offline_unverified",
    "empty",
    "camera",
];

// The error is the page to send at once (as `Chrome::require_user`), not propagated further.
#[allow(clippy::result_large_err)]
fn scanner(c: &Chrome) -> Result<Scanner, Response> {
    let user = c.require_user()?;
    if user.role == Role::Resident {
        return Err(c.error(StatusCode::FORBIDDEN, c.t("scan.staff_only")));
    }
    Ok(Scanner {
        user_id: user.id,
        role: user.role,
    })
}

/// The facilities this person may scan at, and the one chosen (`requested`, else the first).
#[allow(clippy::result_large_err)]
async fn facilities(
    c: &Chrome,
    state: &AppState,
    scanner: Scanner,
    requested: Option<i32>,
) -> Result<(Vec<FacilityChoice>, facility::Model), Response> {
    let list = checkins::scanner_facilities(&state.db, scanner)
        .await
        .map_err(|e| c.internal(e))?;
    let chosen = match requested {
        Some(id) => list.iter().find(|f| f.id == id),
        None => list.first(),
    };
    let Some(chosen) = chosen.cloned() else {
        let message = if list.is_empty() {
            c.t("scan.no_facility")
        } else {
            c.t("scan.error.forbidden")
        };
        return Err(c.error(StatusCode::FORBIDDEN, message));
    };
    let choices = list
        .iter()
        .map(|f| FacilityChoice {
            id: f.id,
            name: c.pick(&f.name, &f.name_en).to_owned(),
            selected: f.id == chosen.id,
        })
        .collect();
    Ok((choices, chosen))
}

/// `GET /staff/scan`: the scanner at the chosen facility.
pub async fn form(
    c: Chrome,
    State(state): State<AppState>,
    Query(query): Query<ScanQuery>,
) -> Response {
    let scanner = match scanner(&c) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let requested = query.facility.as_deref().and_then(|f| f.parse().ok());
    let (choices, chosen) = match facilities(&c, &state, scanner, requested).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let page = ScannerPage {
        c: &c,
        facility_name: c.pick(&chosen.name, &chosen.name_en).to_owned(),
        facility_id: chosen.id,
        facilities: choices,
        outcome: None,
        errors: FormErrors::default(),
        code: String::new(),
    };
    c.respond(StatusCode::OK, &page)
}

/// Whether what was scanned or typed is a card number (digits, spaces and hyphens) rather than
/// a QR token.
fn is_card_number(code: &str) -> bool {
    code.chars()
        .all(|ch| ch.is_ascii_digit() || ch == '-' || ch == ' ')
        && code.chars().any(|ch| ch.is_ascii_digit())
}

/// `POST /staff/scan`: check in what was scanned or typed, and show the result.
pub async fn submit(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ScanForm>,
) -> Response {
    let scanner = match scanner(&c) {
        Ok(s) => s,
        Err(response) => return response,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let requested = form.facility_id.trim().parse().ok();
    let (choices, chosen) = match facilities(&c, &state, scanner, requested).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let code = form.code.trim().to_owned();
    let mut errors = FormErrors::default();
    let mut outcome = None;
    if code.is_empty() {
        errors.add("code", c.t("scan.error.empty"));
    } else {
        let now = Utc::now();
        let (token, card_number) = if is_card_number(&code) {
            (None, Some(code.clone()))
        } else {
            (Some(code.clone()), None)
        };
        let in_force = state.rules.at(now);
        let rules = Rules {
            checkin: &state.settings.checkin,
            penalties: &in_force.penalties,
        };
        let scan = Scan {
            facility_id: chosen.id,
            token,
            card_number,
            client_id: None,
            scanned_at: now,
        };
        match checkins::check_in(&state.db, rules, scanner, scan, now).await {
            Ok(answer) => outcome = Some(describe(&c, answer)),
            Err(CheckinError::Db(error)) => return c.internal(error),
            Err(error) => {
                let key = format!("scan.error.{}", error.code());
                let known = ERROR_CODES.contains(&error.code());
                errors.add(
                    "code",
                    if known {
                        c.t(&key).to_owned()
                    } else {
                        error.to_string()
                    },
                );
            }
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ScannerPage {
        c: &c,
        facility_name: c.pick(&chosen.name, &chosen.name_en).to_owned(),
        facility_id: chosen.id,
        facilities: choices,
        outcome,
        // A refused code stays in the input to be corrected; a good one is cleared for the next.
        code: if errors.is_empty() {
            String::new()
        } else {
            code
        },
        errors,
    };
    c.respond(status, &page)
}

fn hh_mm(at: &chrono::DateTime<chrono::FixedOffset>) -> String {
    at.with_timezone(&crate::domain::calendar::tokyo())
        .format("%H:%M")
        .to_string()
}

fn describe(c: &Chrome, answer: CheckinResponse) -> ScanOutcome {
    let (tone, message) = match answer.result {
        ScanResult::CheckedIn => ("ok", c.t("scan.result.checked_in").to_owned()),
        ScanResult::AlreadyCheckedIn => (
            "info",
            match &answer.already_checked_in_at {
                Some(at) => c.f("scan.result.already_at", at),
                None => c.t("scan.result.already").to_owned(),
            },
        ),
        ScanResult::PaymentDue => ("warn", c.t("scan.result.payment_due").to_owned()),
        ScanResult::NotYet => (
            "info",
            match &answer.opens_at {
                Some(at) => c.f("scan.result.not_yet_at", hh_mm(at)),
                None => c.t("scan.result.not_yet").to_owned(),
            },
        ),
        ScanResult::NoBooking => ("warn", c.t("scan.result.no_booking").to_owned()),
        ScanResult::Refused => ("warn", c.t("scan.error.card_revoked").to_owned()),
    };
    ScanOutcome {
        tone,
        message,
        holder: answer.holder.name,
        card_number: answer.holder.card_number.unwrap_or_default(),
        bookings: answer
            .bookings
            .into_iter()
            .map(|b| ResultBooking {
                room: c.pick(&b.room_name, &b.room_name_en).to_owned(),
                time: c.span(&b.starts_at, &b.ends_at),
                state: c.t(&format!("booking_state.{}", b.state.code())),
                checked_in_at: b.checked_in_at.as_ref().map(hh_mm),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::{ERROR_CODES, SCRIPT_STRINGS, is_card_number};
    use crate::http::web::i18n::{EN_FILES, JA_FILES, flatten_all};

    #[test]
    fn every_string_the_script_shows_exists_in_both_languages() {
        let keys: Vec<String> = SCRIPT_STRINGS
            .iter()
            .map(|k| (*k).to_owned())
            .chain(ERROR_CODES.iter().map(|c| format!("scan.error.{c}")))
            .collect();
        for files in [JA_FILES, EN_FILES] {
            let table = flatten_all(files);
            for key in &keys {
                assert!(table.contains_key(key), "{key}");
            }
        }
    }

    #[test]
    fn digits_are_a_card_number_and_anything_else_a_token() {
        assert!(is_card_number("9000000068"));
        assert!(is_card_number("9000-0000-68"));
        assert!(!is_card_number("eyJhbGciOiJFZERTQSJ9.e30.sig"));
        assert!(!is_card_number(" - "));
    }
}
