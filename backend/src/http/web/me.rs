//! "My account": the registration's state and expiry with the way to renew it online
//! (services::renewal::renew, the same as `POST /api/v1/me/registration/renew`), links to the
//! person's groups, lottery applications, card and password reset, and "my penalty points"
//! (services::penalties::my_penalties, as `GET /api/v1/me/penalties`).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::account::Choice;
use super::page::{Chrome, FormErrors};
use crate::domain::registration::RESIDENCY_CATEGORIES;
use crate::domain::renewal::RenewalDecision;
use crate::services::my_account::{self, AccountOverview};
use crate::services::penalties;
use crate::services::renewal::{self, RenewalError};
use crate::state::AppState;
use crate::views::account::RenewRegistrationRequest;
use crate::views::cards::PenaltiesResponse;

/// The label of a registration state.
fn state_label(c: &Chrome, code: &str) -> &'static str {
    c.t(match code {
        "pending_review" => "registration_state.pending_review",
        "approved" => "registration_state.approved",
        "rejected" => "registration_state.rejected",
        "expired" => "registration_state.expired",
        _ => "registration_state.other",
    })
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub c: &'a Chrome,
    pub a: AccountOverview,
    pub state: &'static str,
    pub valid_until: Option<String>,
    pub residency: &'static str,
    /// A sentence about renewal, and whether the form is open now.
    pub renewal: Option<(String, bool)>,
    pub notice: Option<&'static str>,
}

/// `?renewed=` after a renewal.
#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    #[serde(default)]
    pub renewed: Option<String>,
}

async fn load(c: &Chrome, state: &AppState) -> Result<(i32, AccountOverview), Response> {
    let user_id = c.require_user()?.id;
    match my_account::overview(&state.db, &state.settings.renewal, user_id, Utc::now()).await {
        Ok(Some(overview)) => Ok((user_id, overview)),
        Ok(None) => Err(Redirect::to(&c.sign_in_href()).into_response()),
        Err(error) => Err(c.internal(error)),
    }
}

/// `GET /account`.
pub async fn show(
    c: Chrome,
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<AccountQuery>,
) -> Response {
    let a = match load(&c, &state).await {
        Ok((_, a)) => a,
        Err(response) => return response,
    };
    let renewal = a.renewal.map(|decision| match decision {
        RenewalDecision::NotYetOpen { opens_on } => {
            (c.f("account.renew_opens", c.date(&opens_on)), false)
        }
        RenewalDecision::Renew { valid_until } => {
            (c.f("account.renew_open", c.date(&valid_until)), true)
        }
        RenewalDecision::ReviewRequired => (c.t("account.renew_review").to_owned(), true),
    });
    let notice = match query.renewed.as_deref() {
        Some("renewed") => Some(c.t("account.renewed")),
        Some("pending_review") => Some(c.t("account.renewal_pending")),
        _ => None,
    };
    let page = AccountPage {
        c: &c,
        state: state_label(&c, &a.registration_state),
        valid_until: a.valid_until.as_ref().map(|d| c.date(d)),
        residency: c.t(&format!(
            "register.residency_{}",
            residency_code(&a.residency)
        )),
        renewal,
        notice,
        a,
    };
    c.respond(StatusCode::OK, &page)
}

/// A residency code known to the locale files (anything else reads as non-resident).
fn residency_code(code: &str) -> &'static str {
    RESIDENCY_CATEGORIES
        .iter()
        .copied()
        .find(|r| *r == code)
        .unwrap_or("non_resident")
}

/// The renewal form: contact details and category, confirmed or corrected.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RenewForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub residency: String,
}

#[derive(Template)]
#[template(path = "renew.html")]
pub struct RenewPage<'a> {
    pub c: &'a Chrome,
    pub form: RenewForm,
    pub residencies: Vec<Choice>,
    pub valid_until: Option<String>,
    pub errors: FormErrors,
    /// A refusal no field can fix (too early, under review).
    pub problem: Option<String>,
}

fn renew_page(
    c: &Chrome,
    status: StatusCode,
    form: RenewForm,
    valid_until: Option<NaiveDate>,
    errors: FormErrors,
    problem: Option<String>,
) -> Response {
    let residencies = RESIDENCY_CATEGORIES
        .iter()
        .map(|value| Choice {
            value,
            label: c.t(&format!("register.residency_{value}")),
            checked: form.residency == *value,
        })
        .collect();
    let page = RenewPage {
        c,
        form,
        residencies,
        valid_until: valid_until.as_ref().map(|d| c.date(d)),
        errors,
        problem,
    };
    c.respond(status, &page)
}

/// `GET /account/renew`: the form, filled with the details on file.
pub async fn renew_form(c: Chrome, State(state): State<AppState>) -> Response {
    let a = match load(&c, &state).await {
        Ok((_, a)) => a,
        Err(response) => return response,
    };
    let form = RenewForm {
        csrf: String::new(),
        postal_code: a.postal_code,
        address: a.address,
        phone: a.phone,
        residency: a.residency,
    };
    renew_page(
        &c,
        StatusCode::OK,
        form,
        a.valid_until,
        FormErrors::default(),
        None,
    )
}

/// The fields in the order the form shows them.
const RENEW_FIELDS: [&str; 4] = ["postal_code", "address", "phone", "residency"];

/// `POST /account/renew`: renew; back to the account page with the outcome.
pub async fn renew(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<RenewForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let (user_id, a) = match load(&c, &state).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let request = RenewRegistrationRequest {
        postal_code: form.postal_code.clone(),
        address: form.address.clone(),
        phone: form.phone.clone(),
        residency: form.residency.clone(),
    };
    match renewal::renew(
        &state.db,
        &state.settings.renewal,
        user_id,
        &request,
        Utc::now(),
    )
    .await
    {
        Ok(done) => Redirect::to(&format!("/account?renewed={}", done.outcome)).into_response(),
        Err(RenewalError::Invalid(problems)) => {
            let errors = super::account::registration_errors(&c, &RENEW_FIELDS, &problems);
            renew_page(
                &c,
                StatusCode::BAD_REQUEST,
                form,
                a.valid_until,
                errors,
                None,
            )
        }
        Err(RenewalError::NotYetOpen { opens_on, .. }) => renew_page(
            &c,
            StatusCode::CONFLICT,
            form,
            a.valid_until,
            FormErrors::default(),
            Some(c.f("account.renew_opens", c.date(&opens_on))),
        ),
        Err(RenewalError::NotAllowed(_)) => renew_page(
            &c,
            StatusCode::CONFLICT,
            form,
            a.valid_until,
            FormErrors::default(),
            Some(c.t("account.renew_not_allowed").to_owned()),
        ),
        Err(RenewalError::Forbidden) | Err(RenewalError::AccountDeleted) => {
            c.error(StatusCode::FORBIDDEN, c.t("account.renew_not_allowed"))
        }
        Err(RenewalError::Db(error)) => c.internal(error),
    }
}

/// One penalty, ready to show.
pub struct PenaltyLine {
    pub booking_id: i64,
    pub points: i32,
    pub incurred: String,
    /// Why it was withdrawn, when it was.
    pub voided: Option<String>,
}

#[derive(Template)]
#[template(path = "penalties.html")]
pub struct PenaltiesPage<'a> {
    pub c: &'a Chrome,
    pub p: PenaltiesResponse,
    pub suspended_until: Option<String>,
    pub lines: Vec<PenaltyLine>,
}

/// `GET /account/penalties`: my no-show points, what they mean now, and each one's booking.
pub async fn penalties_page(c: Chrome, State(state): State<AppState>) -> Response {
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    let rules = state.rules.now();
    let p = match penalties::my_penalties(&state.db, &rules.penalties, user_id, Utc::now()).await {
        Ok(p) => p,
        Err(error) => return c.internal(error),
    };
    let lines = p
        .items
        .iter()
        .map(|item| PenaltyLine {
            booking_id: item.booking_id,
            points: item.points,
            incurred: c.instant(&item.incurred_at),
            voided: item.voided_at.map(|_| {
                item.void_reason
                    .clone()
                    .unwrap_or_else(|| c.t("penalties.voided").to_owned())
            }),
        })
        .collect();
    let page = PenaltiesPage {
        c: &c,
        suspended_until: p.suspended_until.as_ref().map(|t| c.instant(t)),
        lines,
        p,
    };
    c.respond(StatusCode::OK, &page)
}
