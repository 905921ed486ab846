//! The resident web frontend: server-rendered pages (askama templates in `web/templates/`,
//! strings in `web/locales/`, assets in `web/static/`, all compiled into the binary), enhanced
//! with htmx where JavaScript runs. Every page works as plain links and forms; htmx requests go
//! to the same handlers and swap one region of the same page.
//!
//! This file holds signing in and out of a browser session (http::web_session) and the language
//! switch; the pages are in the submodules, one per area.

pub mod account;
pub mod assets;
pub mod booking;
pub mod card;
pub mod catalogue;
pub mod groups;
pub mod i18n;
pub mod lottery;
pub mod me;
pub mod page;
pub mod password;
pub mod scanner;

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::time::Duration as CookieDuration;
use serde::Deserialize;

use super::error::AppError;
use super::web_session::{
    REFRESH_COOKIE, check_csrf, cleared_session_cookies, cookie_value, new_csrf_cookie,
    secure_cookies, session_cookies, set_cookies,
};
use crate::services::sessions::{self, SessionError};
use crate::state::AppState;
pub use catalogue::home;
use page::Chrome;

/// The resident pages beyond search and booking: password reset, my account, groups, the
/// lottery and penalty points. Merged into the router (router.rs) as one block.
pub fn resident_pages() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/password-reset",
            get(password::request_form).post(password::request),
        )
        .route("/password-reset/sent", get(password::sent))
        .route(
            "/password-reset/confirm",
            get(password::confirm_form).post(password::confirm),
        )
        .route("/account", get(me::show))
        .route("/account/renew", get(me::renew_form).post(me::renew))
        .route("/account/penalties", get(me::penalties_page))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/{id}", get(groups::show))
        .route("/groups/{id}/members", post(groups::add_member))
        .route(
            "/groups/{id}/members/{user_id}/remove",
            post(groups::remove_member),
        )
        .route("/groups/{id}/leave", post(groups::leave))
        .route("/groups/{id}/register", post(groups::register))
        .route("/groups/{id}/dissolve", post(groups::dissolve))
        .route("/lottery", get(lottery::rounds))
        .route("/lottery/mine", get(lottery::mine))
        .route("/lottery/rounds/{id}", get(lottery::round))
        .route("/lottery/rounds/{id}/apply", post(lottery::apply))
        .route("/lottery/rounds/{id}/withdraw", post(lottery::withdraw))
        .route("/lottery/rounds/{id}/results", get(lottery::results))
        .route("/lottery/wins/{id}/confirm", post(lottery::confirm_win))
}

/// `GET /login`.
#[derive(Template)]
#[template(path = "sign-in.html")]
pub struct SignInPage<'a> {
    pub c: &'a Chrome,
    pub next: String,
    pub email: String,
    pub error: Option<&'static str>,
}

/// `?next=` of the sign-in page: where to go afterwards.
#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    pub next: Option<String>,
}

/// The sign-in form. Fields default to empty so that a tampered form gets the page back with a
/// message, not a bare 422.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub next: String,
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    pub csrf: String,
}

/// Only a path on this site: never another site (`//evil`, `https://…`), so that a link cannot
/// use the sign-in page to send people elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn sign_in_page(
    c: &Chrome,
    status: StatusCode,
    form: (&str, &str),
    error: Option<&'static str>,
) -> Response {
    let page = SignInPage {
        c,
        next: form.1.to_owned(),
        email: form.0.to_owned(),
        error,
    };
    let mut response = c.respond(status, &page);
    // Sign-in pages carry a per-browser token: never cache them.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /login`: the sign-in form.
pub async fn sign_in_form(c: Chrome, Query(query): Query<SignInQuery>) -> Response {
    let next = safe_next(query.next.as_deref());
    sign_in_page(&c, StatusCode::OK, ("", &next), None)
}

/// `POST /login`: check the form's CSRF token, the throttle and the password; on success start
/// a browser session (and a new CSRF seed) and go to `next`.
pub async fn sign_in(
    c: Chrome,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let next = safe_next(Some(&form.next));
    let again = |status, message| {
        Ok(sign_in_page(
            &c,
            status,
            (&form.email, &next),
            Some(c.t(message)),
        ))
    };
    if check_csrf(&state, &headers, Some(&form.csrf)).is_err() {
        return again(StatusCode::FORBIDDEN, "sign_in.err_expired");
    }
    if let Err(wait) = state.login_throttle.check(&form.email, peer.ip()) {
        let mut response = again(StatusCode::TOO_MANY_REQUESTS, "sign_in.err_throttled")?;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        return Ok(response);
    }
    match sessions::login(&state.db, &state.keys, &form.email, &form.password).await {
        Ok(pair) => {
            let secure = secure_cookies(&state);
            let mut cookies = session_cookies(
                pair.access_token,
                pair.expires_in,
                Some(pair.refresh_token),
                secure,
            );
            cookies.push(new_csrf_cookie(secure).1);
            let mut response = Redirect::to(&next).into_response();
            set_cookies(&mut response, &cookies);
            Ok(response)
        }
        Err(SessionError::InvalidCredentials) => {
            again(StatusCode::UNAUTHORIZED, "sign_in.err_credentials")
        }
        Err(SessionError::EmailNotVerified) => {
            again(StatusCode::FORBIDDEN, "sign_in.err_unverified")
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /logout`: end the session everywhere it reached and clear the cookies.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Result<Response, AppError> {
    check_csrf(&state, &headers, Some(&form.csrf))?;
    if let Some(refresh) = cookie_value(&headers, REFRESH_COOKIE) {
        sessions::logout(&state.db, &refresh).await?;
    }
    let mut response = Redirect::to("/").into_response();
    set_cookies(
        &mut response,
        &cleared_session_cookies(secure_cookies(&state)),
    );
    Ok(response)
}

/// `?lang=&next=` of the language switch.
#[derive(Debug, Deserialize)]
pub struct LanguageQuery {
    #[serde(default)]
    pub lang: String,
    #[serde(default)]
    pub next: Option<String>,
}

/// `GET /language?lang=en&next=/path`: remember the language in a cookie and go back. A plain
/// link, so it works without JavaScript; pages also honour `?lang=` directly.
pub async fn switch_language(
    State(state): State<AppState>,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    let mut response = Redirect::to(&next).into_response();
    if let Some(lang) = i18n::Lang::parse(&query.lang) {
        let cookie = cookie::Cookie::build((i18n::LANG_COOKIE, lang.code()))
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .secure(secure_cookies(&state))
            .path("/")
            .max_age(CookieDuration::days(365))
            .build();
        set_cookies(&mut response, &[cookie]);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/bookings?page=2")), "/bookings?page=2");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
