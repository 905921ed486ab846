//! Resetting a forgotten password in the browser: `/password-reset` asks for the address
//! (services::password_reset::request) and always answers "check your mail";
//! `/password-reset/confirm?token=…` is the mailed link's page, which asks for the new password
//! and sets it (services::password_reset::confirm), ending every session of the account.
//!
//! Like the verification link, the mailed link's page changes nothing until its form is sent,
//! so mail scanners that open links use nothing up.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use super::account::MessagePage;
use super::i18n::Lang;
use super::page::{Chrome, FormErrors};
use crate::http::password_reset::throttle_key;
use crate::http::web_session::{cleared_session_cookies, secure_cookies, set_cookies};
use crate::services::password_reset::{self, PasswordResetError};
use crate::state::AppState;

/// The form asking for a link.
#[derive(Debug, Default, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub email: String,
}

#[derive(Template)]
#[template(path = "password-reset.html")]
pub struct RequestPage<'a> {
    pub c: &'a Chrome,
    pub email: String,
    pub errors: FormErrors,
}

fn request_page(c: &Chrome, status: StatusCode, email: String, errors: FormErrors) -> Response {
    c.respond(status, &RequestPage { c, email, errors })
}

/// `GET /password-reset`.
pub async fn request_form(c: Chrome) -> Response {
    request_page(&c, StatusCode::OK, String::new(), FormErrors::default())
}

/// Whether the text can be an email address at all. Only the shape is checked here: whether
/// it has an account is never said.
fn looks_like_email(text: &str) -> bool {
    let text = text.trim();
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// `POST /password-reset`: queue the mail (if the address has an account) and say "check your
/// mail" either way.
pub async fn request(
    c: Chrome,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<RequestForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    if !looks_like_email(&form.email) {
        let mut errors = FormErrors::default();
        errors.add("email", c.t("password_reset.err_email"));
        return request_page(&c, StatusCode::BAD_REQUEST, form.email, errors);
    }
    if let Err(wait) = state
        .login_throttle
        .check(&throttle_key(&form.email), peer.ip())
    {
        let mut errors = FormErrors::default();
        errors.add("email", c.t("password_reset.err_throttled"));
        let mut response = request_page(&c, StatusCode::TOO_MANY_REQUESTS, form.email, errors);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        return response;
    }
    match password_reset::request(
        &state.db,
        &form.email,
        &state.settings.public_base_url(),
        Utc::now(),
    )
    .await
    {
        Ok(_) => Redirect::to("/password-reset/sent").into_response(),
        Err(error) => c.internal(error),
    }
}

/// `GET /password-reset/sent`.
pub async fn sent(c: Chrome) -> Response {
    let page = MessagePage {
        c: &c,
        title: c.t("password_reset.sent_title"),
        paragraphs: vec![
            c.t("password_reset.sent_1").to_owned(),
            c.t("password_reset.sent_2").to_owned(),
        ],
        link: Some((c.sign_in_href_to("/"), c.t("nav.sign_in"))),
    };
    c.respond(StatusCode::OK, &page)
}

/// The token in the mailed link.
#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    pub token: String,
}

/// The form setting the new password.
#[derive(Debug, Default, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Template)]
#[template(path = "password-reset-confirm.html")]
pub struct ConfirmPage<'a> {
    pub c: &'a Chrome,
    pub token: String,
    pub errors: FormErrors,
}

/// A link that cannot be used: why, and the way to a new one.
fn dead_link(c: &Chrome, error: &PasswordResetError) -> Response {
    let key = match error {
        PasswordResetError::LinkExpired => "password_reset.expired",
        _ => "password_reset.invalid",
    };
    let page = MessagePage {
        c,
        title: c.t("password_reset.dead_title"),
        paragraphs: vec![c.t(key).to_owned()],
        link: Some((
            "/password-reset".to_owned(),
            c.t("password_reset.ask_again"),
        )),
    };
    c.respond(StatusCode::BAD_REQUEST, &page)
}

/// `GET /password-reset/confirm?token=…`: the new password's form, or why the link is dead.
pub async fn confirm_form(
    c: Chrome,
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Response {
    match password_reset::check(&state.db, &query.token, Utc::now()).await {
        Ok(()) => c.respond(
            StatusCode::OK,
            &ConfirmPage {
                c: &c,
                token: query.token,
                errors: FormErrors::default(),
            },
        ),
        Err(PasswordResetError::Db(error)) => c.internal(error),
        Err(error) => dead_link(&c, &error),
    }
}

/// `POST /password-reset/confirm`: set the password; the browser is signed out (every session
/// of the account has ended) and sent to sign in with the new password.
pub async fn confirm(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    match password_reset::confirm(&state.db, &form.token, &form.password, Utc::now()).await {
        Ok(()) => {
            let page = MessagePage {
                c: &c,
                title: c.t("password_reset.done_title"),
                paragraphs: vec![c.t("password_reset.done_1").to_owned()],
                link: Some((c.sign_in_href_to("/"), c.t("nav.sign_in"))),
            };
            let mut response = c.respond(StatusCode::OK, &page);
            set_cookies(
                &mut response,
                &cleared_session_cookies(secure_cookies(&state)),
            );
            response
        }
        Err(PasswordResetError::Invalid(problems)) => {
            let mut errors = FormErrors::default();
            for problem in problems {
                // The rules explain in English; Japanese readers get the form's own sentence.
                let message = match c.lang {
                    Lang::En => c.f("register.err_en", &problem.message),
                    Lang::Ja => c.t("register.err_password").to_owned(),
                };
                errors.add("password", message);
            }
            c.respond(
                StatusCode::BAD_REQUEST,
                &ConfirmPage {
                    c: &c,
                    token: form.token,
                    errors,
                },
            )
        }
        Err(PasswordResetError::Hash) => c.internal("could not secure the password"),
        Err(PasswordResetError::Db(error)) => c.internal(error),
        Err(error) => dead_link(&c, &error),
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_email;

    #[test]
    fn only_the_shape_of_an_address_is_checked() {
        assert!(looks_like_email("hanako@example.jp"));
        assert!(looks_like_email("  hanako@example.jp "));
        assert!(!looks_like_email("hanako"));
        assert!(!looks_like_email("@example.jp"));
        assert!(!looks_like_email("hanako@localhost"));
        assert!(!looks_like_email("han ako@example.jp"));
    }
}
