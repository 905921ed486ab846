//! Registering online (services::registration::register) and the landing page of the link in
//! the verification mail (`/verify-email?token=…`, services::registration::verify_email).
//!
//! The link's page confirms only when its button is pressed (a POST): mail scanners that open
//! every link in a message must not confirm an address on the person's behalf.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use super::i18n::Lang;
use super::page::{Chrome, FormErrors};
use crate::domain::registration::RESIDENCY_CATEGORIES;
use crate::services::registration::{self, RegistrationError};
use crate::state::AppState;
use crate::views::registration::RegisterRequest;

/// The registration form. Every field defaults to empty so that anything sent comes back to the
/// form with messages.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub name_kana: String,
    #[serde(default)]
    pub date_of_birth: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub residency: String,
}

pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage<'a> {
    pub c: &'a Chrome,
    pub form: RegisterForm,
    pub residencies: Vec<Choice>,
    pub errors: FormErrors,
}

fn register_page(c: &Chrome, form: RegisterForm, errors: FormErrors) -> Response {
    let residencies = RESIDENCY_CATEGORIES
        .iter()
        .map(|value| Choice {
            value,
            label: c.t(&format!("register.residency_{value}")),
            checked: form.residency == *value,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = RegisterPage {
        c,
        form: RegisterForm {
            password: String::new(),
            ..form
        },
        residencies,
        errors,
    };
    c.respond(status, &page)
}

/// `GET /register`.
pub async fn register_form(c: Chrome) -> Response {
    register_page(&c, RegisterForm::default(), FormErrors::default())
}

/// The fields in the order the form shows them (the error summary follows it).
const FIELDS: [&str; 9] = [
    "email",
    "password",
    "name",
    "name_kana",
    "date_of_birth",
    "postal_code",
    "address",
    "phone",
    "residency",
];

/// `POST /register`: apply; on success, "check your mail".
pub async fn register(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let request = RegisterRequest {
        email: form.email.clone(),
        password: form.password.clone(),
        name: form.name.clone(),
        name_kana: form.name_kana.clone(),
        date_of_birth: form.date_of_birth.clone(),
        postal_code: form.postal_code.clone(),
        address: form.address.clone(),
        phone: form.phone.clone(),
        residency: form.residency.clone(),
        locale: Some(c.lang.code().to_owned()),
    };
    match registration::register(
        &state.db,
        &state.keys,
        &request,
        &state.settings.public_base_url(),
        Utc::now(),
    )
    .await
    {
        Ok(()) => Redirect::to("/register/sent").into_response(),
        Err(RegistrationError::Invalid(problems)) => {
            let mut errors = registration_errors(&c, &FIELDS, &problems);
            if errors.is_empty() {
                errors.add("email", c.t("register.err_email"));
            }
            register_page(&c, form, errors)
        }
        Err(error) => c.internal(error),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub c: &'a Chrome,
    pub title: &'static str,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, &'static str)>,
}

/// `GET /register/sent`.
pub async fn register_sent(c: Chrome) -> Response {
    let page = MessagePage {
        c: &c,
        title: c.t("register.sent_title"),
        paragraphs: vec![
            c.t("register.sent_1").to_owned(),
            c.t("register.sent_2").to_owned(),
        ],
        link: None,
    };
    c.respond(StatusCode::OK, &page)
}

/// The token in the mailed link.
#[derive(Debug, Default, Deserialize)]
pub struct VerifyQuery {
    #[serde(default)]
    pub token: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
pub struct VerifyPage<'a> {
    pub c: &'a Chrome,
    pub token: String,
}

/// `GET /verify-email?token=…`: the page the mail links to, with the button that confirms.
pub async fn verify_form(c: Chrome, Query(query): Query<VerifyQuery>) -> Response {
    if query.token.is_empty() {
        return c.error(StatusCode::BAD_REQUEST, c.t("verify.invalid"));
    }
    let page = VerifyPage {
        c: &c,
        token: query.token,
    };
    c.respond(StatusCode::OK, &page)
}

/// The confirmation form.
#[derive(Debug, Default, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub token: String,
}

/// `POST /verify-email`: confirm the address; staff then review the registration.
pub async fn verify(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<VerifyForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    match registration::verify_email(&state.db, &state.keys, &form.token, Utc::now()).await {
        Ok(registration_state) => {
            let page = MessagePage {
                c: &c,
                title: c.t("verify.done_title"),
                paragraphs: vec![
                    c.t("verify.done_1").to_owned(),
                    c.f(
                        "verify.state",
                        c.t(&format!(
                            "registration_state.{}",
                            match registration_state.code() {
                                "pending_review" => "pending_review",
                                "approved" => "approved",
                                "rejected" => "rejected",
                                "expired" => "expired",
                                _ => "other",
                            }
                        )),
                    ),
                ],
                link: Some((c.sign_in_href_to("/"), c.t("nav.sign_in"))),
            };
            c.respond(StatusCode::OK, &page)
        }
        Err(RegistrationError::LinkExpired) => {
            c.error(StatusCode::BAD_REQUEST, c.t("verify.expired"))
        }
        Err(RegistrationError::LinkInvalid) => {
            c.error(StatusCode::BAD_REQUEST, c.t("verify.invalid"))
        }
        Err(error) => c.internal(error),
    }
}

/// The registration rules' problems on `fields`, as the form shows them: the service explains in
/// English; Japanese readers get the form's own sentence for the field. Shared with the
/// renewal form, which asks for the same details.
pub(crate) fn registration_errors(
    c: &Chrome,
    fields: &[&str],
    problems: &[crate::domain::registration::FieldProblem],
) -> FormErrors {
    let mut errors = FormErrors::default();
    for field in fields {
        if let Some(problem) = problems.iter().find(|p| p.field == *field) {
            let message = match c.lang {
                Lang::En => c.f("register.err_en", &problem.message),
                Lang::Ja => c.t(&format!("register.err_{field}")).to_owned(),
            };
            errors.add(field, message);
        }
    }
    errors
}
