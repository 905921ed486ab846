//! What every page shares: the frame the layout template needs ([`Chrome`]: language, who is
//! signed in, the CSRF token, the current URL for the language switch, the asset URLs), the
//! extractor that builds it, formatting of dates, times and money in the page's language, and
//! turning a template into a response with the right cache and security headers.

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use cookie::Cookie;
use sea_orm::EntityTrait;

use super::assets;
use super::i18n::{self, Lang};
use crate::domain::calendar::tokyo;
use crate::domain::roles::Role;
use crate::entities::user;
use crate::http::web_session::{
    ACCESS_COOKIE, CSRF_COOKIE, check_csrf, cookie_value, new_csrf_cookie, secure_cookies,
    set_cookies,
};
use crate::state::AppState;

/// The person signed in with the browser session.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub id: i32,
    pub role: Role,
    pub name: String,
}

impl SignedIn {
    /// Staff, managers and administrators: they get the scanner in the menu.
    pub fn is_staff(&self) -> bool {
        self.role != Role::Resident
    }

    /// Managers and administrators: they run calendars, templates, closures and prices.
    pub fn is_manager(&self) -> bool {
        matches!(self.role, Role::Manager | Role::Admin)
    }

    /// Administrators: city-wide rules and the audit log.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// The page frame: everything the layout shows, built once per request.
#[derive(Clone, Debug)]
pub struct Chrome {
    pub lang: Lang,
    pub user: Option<SignedIn>,
    /// The CSRF token of this browser (forms carry it as `csrf`, htmx as `X-CSRF-Token`).
    pub csrf: String,
    /// Path and query of this request, for the language switch and `next` after sign-in.
    pub here: String,
    /// Whether the request came from htmx (it then swaps one region of the page).
    pub htmx: bool,
    /// A new CSRF seed cookie to set, when the browser had none.
    new_cookie: Option<Cookie<'static>>,
}

impl Chrome {
    /// The string for `key` in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The string for `key` with `{0}` replaced.
    pub fn f(&self, key: &str, arg: impl std::fmt::Display) -> String {
        self.lang.f(key, arg)
    }

    /// The string for `key` with `{0}` and `{1}` replaced.
    pub fn f2(&self, key: &str, a: impl std::fmt::Display, b: impl std::fmt::Display) -> String {
        self.lang.f2(key, a, b)
    }

    /// `ja` or `en`.
    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    /// The Japanese or the English of a name stored in both.
    pub fn pick<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::En if !en.is_empty() => en,
            _ => ja,
        }
    }

    /// The link that switches to the other language and comes back to this page.
    pub fn switch_href(&self) -> String {
        let next: String = form_urlencoded::byte_serialize(self.here.as_bytes()).collect();
        format!("/language?lang={}&next={next}", self.lang.other().code())
    }

    pub fn other_lang(&self) -> Lang {
        self.lang.other()
    }

    /// `/login?next=<this page>`.
    pub fn sign_in_href(&self) -> String {
        let next: String = form_urlencoded::byte_serialize(self.here.as_bytes()).collect();
        format!("/login?next={next}")
    }

    /// `/login?next=<path>`.
    pub fn sign_in_href_to(&self, path: &str) -> String {
        let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        format!("/login?next={next}")
    }

    pub fn css_url(&self) -> String {
        assets::url(assets::APP_CSS)
    }

    pub fn htmx_url(&self) -> String {
        assets::url(assets::HTMX)
    }

    pub fn app_js_url(&self) -> String {
        assets::url(assets::APP_JS)
    }

    /// Whole yen with thousands separators: `¥4,200` / `4,200円` per the locale.
    pub fn yen(&self, amount: &i64) -> String {
        self.f("fmt.yen", group_digits(*amount))
    }

    /// A date with its weekday: `2026年11月24日(火)` / `Tue 24 Nov 2026`.
    pub fn date(&self, date: &NaiveDate) -> String {
        let weekday = date.weekday().num_days_from_monday() as usize;
        match self.lang {
            Lang::Ja => format!(
                "{}年{}月{}日({})",
                date.year(),
                date.month(),
                date.day(),
                ["月", "火", "水", "木", "金", "土", "日"][weekday]
            ),
            Lang::En => date.format("%a %-d %b %Y").to_string(),
        }
    }

    /// `09:00–12:00` in Japan time.
    pub fn span(&self, from: &DateTime<FixedOffset>, to: &DateTime<FixedOffset>) -> String {
        format!(
            "{}–{}",
            from.with_timezone(&tokyo()).format("%H:%M"),
            to.with_timezone(&tokyo()).format("%H:%M")
        )
    }

    /// A date and time span: `2026年11月24日(火) 09:00–12:00`.
    pub fn when(&self, from: &DateTime<FixedOffset>, to: &DateTime<FixedOffset>) -> String {
        let local = from.with_timezone(&tokyo()).date_naive();
        format!("{} {}", self.date(&local), self.span(from, to))
    }

    /// An instant as a date and time in Japan.
    pub fn instant(&self, at: &DateTime<FixedOffset>) -> String {
        let local = at.with_timezone(&tokyo());
        format!(
            "{} {}",
            self.date(&local.date_naive()),
            local.format("%H:%M")
        )
    }

    /// The signed-in person must be there; otherwise the sign-in page, coming back here after.
    // The error is the response to send at once; it is not propagated further.
    #[allow(clippy::result_large_err)]
    pub fn require_user(&self) -> Result<&SignedIn, Response> {
        self.user
            .as_ref()
            .ok_or_else(|| Redirect::to(&self.sign_in_href()).into_response())
    }

    /// Check a form's CSRF token (or the htmx header when the field is empty).
    pub fn check_csrf(&self, state: &AppState, headers: &HeaderMap, token: &str) -> bool {
        let token = Some(token).filter(|t| !t.is_empty());
        check_csrf(state, headers, token).is_ok()
    }

    /// A rendered template as a response: the language, and the headers every page carries.
    pub fn respond(&self, status: StatusCode, page: &impl Template) -> Response {
        let html = match page.render() {
            Ok(html) => html,
            Err(error) => {
                tracing::error!(error = %error, "template failed to render");
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            }
        };
        let mut response = (status, Html(html)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(self.lang.code()),
        );
        headers.insert(
            header::VARY,
            HeaderValue::from_static("Cookie, Accept-Language, HX-Request"),
        );
        // Every page carries this browser's CSRF token (and signed-in pages personal data):
        // never kept by a browser's history cache or a shared cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 form-action 'self' https:; frame-ancestors 'none'; base-uri 'self'",
            ),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        set_cookies(&mut response, self.new_cookie.as_slice());
        response
    }

    /// An error page in the site's frame.
    pub fn error(&self, status: StatusCode, message: &str) -> Response {
        let page = ErrorPage {
            c: self,
            title: if status == StatusCode::NOT_FOUND {
                self.t("error.not_found_title")
            } else if status == StatusCode::FORBIDDEN {
                self.t("error.forbidden_title")
            } else {
                self.t("error.title")
            },
            message: message.to_owned(),
        };
        self.respond(status, &page)
    }

    /// A page that was not found.
    pub fn not_found(&self) -> Response {
        self.error(StatusCode::NOT_FOUND, self.t("error.not_found"))
    }

    /// A failure of ours: logged once with its cause, shown without detail.
    pub fn internal(&self, error: impl std::fmt::Display) -> Response {
        tracing::error!(error = %error, "web page failed");
        self.error(StatusCode::INTERNAL_SERVER_ERROR, self.t("error.internal"))
    }

    /// A form that came without a valid CSRF token.
    pub fn stale_form(&self) -> Response {
        self.error(StatusCode::FORBIDDEN, self.t("error.csrf"))
    }
}

/// `1234567` → `1,234,567`.
pub fn group_digits(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (index, ch) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if amount < 0 { format!("-{out}") } else { out }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub c: &'a Chrome,
    pub title: &'static str,
    pub message: String,
}

impl FromRequestParts<AppState> for Chrome {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = i18n::negotiate(
            i18n::query_lang(parts.uri.query()).as_deref(),
            &parts.headers,
        );
        let user = signed_in(state, &parts.headers).await;
        let (seed, new_cookie) =
            match cookie_value(&parts.headers, CSRF_COOKIE).filter(|s| !s.is_empty()) {
                Some(seed) => (seed, None),
                None => {
                    let (seed, cookie) = new_csrf_cookie(secure_cookies(state));
                    (seed, Some(cookie))
                }
            };
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        Ok(Chrome {
            lang,
            user,
            csrf: state.keys.csrf_token(&seed),
            here,
            htmx: parts.headers.contains_key("hx-request"),
            new_cookie,
        })
    }
}

/// Who the access cookie belongs to (the refresh middleware has already renewed an expired one).
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<SignedIn> {
    let token = cookie_value(headers, ACCESS_COOKIE).filter(|t| !t.is_empty())?;
    let claims = state.keys.verify_access(&token).ok()?;
    let id: i32 = claims.sub.parse().ok()?;
    let person = user::Entity::find_by_id(id).one(&state.db).await.ok()??;
    if person.deleted_at.is_some() {
        return None;
    }
    Some(SignedIn {
        id,
        role: claims.role,
        name: person.display_name,
    })
}

/// One field's problem, shown next to the field and in the summary at the top of the form.
#[derive(Clone, Debug)]
pub struct FieldError {
    /// The `id` of the input (the summary links to `#id`).
    pub field: String,
    pub message: String,
}

/// A form's problems.
#[derive(Clone, Debug, Default)]
pub struct FormErrors(pub Vec<FieldError>);

impl FormErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, if it has one.
    pub fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// Whether `field` has a problem (for `aria-invalid`).
    pub fn has(&self, field: &str) -> bool {
        self.of(field).is_some()
    }

    pub fn all(&self) -> &[FieldError] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::group_digits;

    #[test]
    fn digits_are_grouped_by_three() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(-1_234_567), "-1,234,567");
    }
}
