//! Browser sessions: the same sign-in sessions as the API — a short-lived JWT access token and a
//! rotating refresh token (services::sessions) — carried in cookies instead of headers, with CSRF
//! protection for every write made with them.
//!
//! - `yoyaku_access` (the access token) and `yoyaku_refresh` (the refresh token): `HttpOnly`, so
//!   page scripts never see them; `SameSite=Lax`, so other sites' forms and scripts do not send
//!   them; `Secure` whenever the public URL is https. `Path=/`.
//! - When the access cookie is missing or expired and a refresh cookie is present,
//!   [`refresh_from_cookies`] (a middleware on every route) rotates the refresh token, hands the
//!   new access token to the request and sets both cookies on the response. A refresh that fails
//!   clears them: the person is signed out.
//! - CSRF: a random `yoyaku_csrf` cookie (`HttpOnly`, `SameSite=Lax`) seeds a token,
//!   HMAC(seed) with a key derived from the session secret. Forms carry it in a `csrf` field and
//!   scripts (htmx) in an `X-CSRF-Token` header. Every request that changes something and is
//!   authenticated by cookie must carry the token for its cookie; a request with an
//!   `Authorization` header is not a browser's ambient credential and needs none. The seed is
//!   replaced at sign-in, so a token planted before sign-in is worthless after it.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use cookie::time::Duration as CookieDuration;
use cookie::{Cookie, SameSite};

use super::error::{AppError, codes};
use crate::auth::{REFRESH_TOKEN_TTL, random_token};
use crate::services::sessions::{self, SessionError};
use crate::state::AppState;

pub const ACCESS_COOKIE: &str = "yoyaku_access";
pub const REFRESH_COOKIE: &str = "yoyaku_refresh";
pub const CSRF_COOKIE: &str = "yoyaku_csrf";
/// The header scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// Whether cookies must be `Secure`: when the service is reached over https.
pub fn secure_cookies(state: &AppState) -> bool {
    state.settings.public_base_url().starts_with("https://")
}

fn build(
    name: &'static str,
    value: String,
    max_age: CookieDuration,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(max_age)
        .build()
}

/// `Set-Cookie` values that start a browser session (or carry a refreshed one).
pub fn session_cookies(
    access_token: String,
    expires_in: u64,
    refresh_token: Option<String>,
    secure: bool,
) -> Vec<Cookie<'static>> {
    let mut cookies = vec![build(
        ACCESS_COOKIE,
        access_token,
        CookieDuration::seconds(expires_in as i64),
        secure,
    )];
    if let Some(refresh) = refresh_token {
        cookies.push(build(
            REFRESH_COOKIE,
            refresh,
            CookieDuration::seconds(REFRESH_TOKEN_TTL.as_secs() as i64),
            secure,
        ));
    }
    cookies
}

/// `Set-Cookie` values that end a browser session.
pub fn cleared_session_cookies(secure: bool) -> Vec<Cookie<'static>> {
    [ACCESS_COOKIE, REFRESH_COOKIE]
        .into_iter()
        .map(|name| build(name, String::new(), CookieDuration::ZERO, secure))
        .collect()
}

/// A fresh CSRF seed cookie (at first visit, and at every sign-in).
pub fn new_csrf_cookie(secure: bool) -> (String, Cookie<'static>) {
    let seed = random_token();
    let cookie = build(
        CSRF_COOKIE,
        seed.clone(),
        CookieDuration::seconds(REFRESH_TOKEN_TTL.as_secs() as i64),
        secure,
    );
    (seed, cookie)
}

/// Append `cookies` to a response as `Set-Cookie` headers.
pub fn set_cookies(response: &mut Response, cookies: &[Cookie<'static>]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

/// Whether a request with this method can change something (and so needs a CSRF token when
/// authenticated by cookie).
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Check a CSRF token (from a form field or the header) against the request's CSRF cookie.
pub fn check_csrf(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<(), AppError> {
    let seed = cookie_value(headers, CSRF_COOKIE);
    let token = token.map(str::to_owned).or_else(|| {
        headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    match (seed, token) {
        (Some(seed), Some(token)) if state.keys.verify_csrf(&seed, &token) => Ok(()),
        _ => Err(AppError::client(
            StatusCode::FORBIDDEN,
            codes::CSRF_FAILED,
            "the form has expired or did not come from this site; reload the page and try again",
        )),
    }
}

/// Middleware: keep a browser session alive. Requests with an `Authorization` header, without
/// a refresh cookie, or with a valid access cookie pass untouched.
pub async fn refresh_from_cookies(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let Some(refresh) = cookie_value(request.headers(), REFRESH_COOKIE) else {
        return next.run(request).await;
    };
    let access_ok = cookie_value(request.headers(), ACCESS_COOKIE)
        .is_some_and(|token| state.keys.verify_access(&token).is_ok());
    if access_ok {
        return next.run(request).await;
    }
    let secure = secure_cookies(&state);
    let cookies = match sessions::refresh_browser(&state.db, &state.keys, &refresh).await {
        Ok(renewed) => {
            // Let this request's extractors see the new access token.
            replace_cookie(request.headers_mut(), ACCESS_COOKIE, &renewed.access_token);
            session_cookies(
                renewed.access_token,
                renewed.expires_in,
                renewed.refresh_token,
                secure,
            )
        }
        Err(SessionError::Db(error)) => {
            // The database is down: answer the request as it stands (it will fail or be
            // anonymous) and keep the cookies for the next try.
            tracing::warn!(error = %error, "could not refresh a browser session");
            Vec::new()
        }
        Err(_) => {
            remove_cookie(request.headers_mut(), ACCESS_COOKIE);
            remove_cookie(request.headers_mut(), REFRESH_COOKIE);
            cleared_session_cookies(secure)
        }
    };
    let mut response = next.run(request).await;
    set_cookies(&mut response, &cookies);
    response
}

/// Rewrite the request's cookies with `name` set to `value`.
fn replace_cookie(headers: &mut HeaderMap, name: &str, value: &str) {
    let mut pairs = other_cookies(headers, name);
    pairs.push(format!("{name}={value}"));
    write_cookies(headers, pairs);
}

fn remove_cookie(headers: &mut HeaderMap, name: &str) {
    let pairs = other_cookies(headers, name);
    write_cookies(headers, pairs);
}

fn other_cookies(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() != name)
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect()
}

fn write_cookies(headers: &mut HeaderMap, pairs: Vec<String>) {
    headers.remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_str(&pairs.join("; ")) {
        headers.insert(header::COOKIE, value);
    }
}
