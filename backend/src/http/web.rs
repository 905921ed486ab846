//! The thin web frontend's pages, rendered from askama templates in `web/templates/` and compiled
//! into the binary. For now: the home page, and signing in and out of a browser session
//! (http::web_session).

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::AppError;
use super::web_session::{
    CSRF_COOKIE, REFRESH_COOKIE, check_csrf, cleared_session_cookies, cookie_value,
    new_csrf_cookie, secure_cookies, session_cookies, set_cookies,
};
use crate::services::sessions::{self, SessionError};
use crate::state::AppState;

/// `GET /`.
#[derive(Template)]
#[template(path = "index.html")]
pub struct HomePage {
    pub facility_count: u64,
}

/// Render the home page.
pub async fn home(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> Response {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let facility_count = crate::entities::facility::Entity::find()
        .count(&state.db)
        .await
        .unwrap_or(0);
    render(HomePage { facility_count })
}

fn render(page: impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "template failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /login`.
#[derive(Template)]
#[template(path = "sign-in.html")]
pub struct SignInPage {
    pub csrf: String,
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

/// The CSRF seed of this browser, and the cookie to set when it has none yet.
fn csrf_seed(state: &AppState, headers: &HeaderMap) -> (String, Option<cookie::Cookie<'static>>) {
    match cookie_value(headers, CSRF_COOKIE).filter(|s| !s.is_empty()) {
        Some(seed) => (seed, None),
        None => {
            let (seed, cookie) = new_csrf_cookie(secure_cookies(state));
            (seed, Some(cookie))
        }
    }
}

fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    form: (&str, &str),
    error: Option<&'static str>,
) -> Response {
    let (seed, new_cookie) = csrf_seed(state, headers);
    let page = SignInPage {
        csrf: state.keys.csrf_token(&seed),
        next: form.1.to_owned(),
        email: form.0.to_owned(),
        error,
    };
    let mut response = (status, render(page)).into_response();
    set_cookies(&mut response, new_cookie.as_slice());
    // Sign-in pages carry a per-browser token: never cache them.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /login`: the sign-in form.
pub async fn sign_in_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SignInQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    sign_in_page(&state, &headers, StatusCode::OK, ("", &next), None)
}

/// `POST /login`: check the form's CSRF token, the throttle and the password; on success start
/// a browser session (and a new CSRF seed) and go to `next`.
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let next = safe_next(Some(&form.next));
    let again = |status, message| {
        Ok(sign_in_page(
            &state,
            &headers,
            status,
            (&form.email, &next),
            Some(message),
        ))
    };
    if check_csrf(&state, &headers, Some(&form.csrf)).is_err() {
        return again(
            StatusCode::FORBIDDEN,
            "このページの有効期限が切れました。もう一度ログインしてください。 / This page expired; please sign in again.",
        );
    }
    if let Err(wait) = state.login_throttle.check(&form.email, peer.ip()) {
        let mut response = again(
            StatusCode::TOO_MANY_REQUESTS,
            "ログインの試行が多すぎます。しばらくしてからお試しください。 / Too many sign-in attempts; please wait and try again.",
        )?;
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
        Err(SessionError::InvalidCredentials) => again(
            StatusCode::UNAUTHORIZED,
            "メールアドレスまたはパスワードが正しくありません。 / The email address or password is not correct.",
        ),
        Err(SessionError::EmailNotVerified) => again(
            StatusCode::FORBIDDEN,
            "メールアドレスの確認が済んでいません。届いたメールのリンクを開いてください。 / Your email address is not verified yet: open the link in the mail we sent.",
        ),
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
