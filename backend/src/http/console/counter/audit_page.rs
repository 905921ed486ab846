//! The audit log viewer (`/staff/audit`, administrators): every staff action and every staff view
//! of personal data, filtered by who, what, which subject and when, newest first, 50 a page, with
//! the same filters as `GET /api/v1/admin/audit` and a CSV download of what is shown. A GET form,
//! so a filtered view is a link that can be shared among administrators.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{NaiveDate, Utc};

use crate::http::console::require_console_user;
use crate::http::web::page::{Chrome, FormErrors};
use crate::services::audit_log_view::{self, AuditViewError};
use crate::state::AppState;
use crate::views::console_counter::{AuditEntry, AuditQuery};

/// The viewer's route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/staff/audit", get(audit))
}

/// The filter form's fields as typed (blank ones empty), shown back in the form.
#[derive(Debug, Default, Clone)]
struct Filters {
    actor: String,
    action: String,
    subject_type: String,
    subject_id: String,
    from: String,
    to: String,
    page: String,
}

impl Filters {
    fn parse(raw: &str) -> Filters {
        let mut f = Filters::default();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            let value = value.trim().to_owned();
            match name.as_ref() {
                "actor" => f.actor = value,
                "action" => f.action = value,
                "subject_type" => f.subject_type = value,
                "subject_id" => f.subject_id = value,
                "from" => f.from = value,
                "to" => f.to = value,
                "page" => f.page = value,
                _ => {}
            }
        }
        f
    }

    /// The query the service takes, or the fields that are malformed.
    fn query(&self, c: &Chrome) -> Result<AuditQuery, FormErrors> {
        let mut errors = FormErrors::default();
        fn number<T: std::str::FromStr>(
            text: &str,
            field: &str,
            message: &str,
            errors: &mut FormErrors,
        ) -> Option<T> {
            if text.is_empty() {
                return None;
            }
            let parsed = text.parse().ok();
            if parsed.is_none() {
                errors.add(field, message);
            }
            parsed
        }
        let date = |text: &str, field: &str, errors: &mut FormErrors| {
            if text.is_empty() {
                return None;
            }
            let parsed = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
            if parsed.is_none() {
                errors.add(field, c.t("console.counter.audit.err_date"));
            }
            parsed
        };
        let query = AuditQuery {
            actor: number(
                &self.actor,
                "actor",
                c.t("console.counter.audit.err_number"),
                &mut errors,
            ),
            action: Some(self.action.clone()).filter(|a| !a.is_empty()),
            subject_type: Some(self.subject_type.clone()).filter(|s| !s.is_empty()),
            subject_id: number(
                &self.subject_id,
                "subject_id",
                c.t("console.counter.audit.err_number"),
                &mut errors,
            ),
            from: date(&self.from, "from", &mut errors),
            to: date(&self.to, "to", &mut errors),
            page: number(
                &self.page,
                "page",
                c.t("console.counter.audit.err_number"),
                &mut errors,
            ),
        };
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(errors)
        }
    }

    /// The filters as a query string, with `page` replaced.
    fn href(&self, path: &str, page: Option<u64>) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("subject_type", &self.subject_type),
            ("subject_id", &self.subject_id),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !value.is_empty() {
                out.append_pair(name, value);
            }
        }
        if let Some(page) = page {
            out.append_pair("page", &page.to_string());
        }
        format!("{path}?{}", out.finish())
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage<'a> {
    c: &'a Chrome,
    f: Filters,
    errors: FormErrors,
    items: Vec<AuditEntry>,
    total: u64,
    page: u64,
    pages: u64,
}

impl AuditPage<'_> {
    fn at(&self, e: &AuditEntry) -> String {
        self.c.instant(&e.at)
    }

    fn actor(&self, e: &AuditEntry) -> String {
        match (&e.actor_name, e.actor_user_id) {
            (Some(name), Some(id)) => format!("{name} (#{id})"),
            (None, Some(id)) => format!("#{id}"),
            _ => self.c.t("console.counter.audit.system").to_owned(),
        }
    }

    fn subject(&self, e: &AuditEntry) -> String {
        match e.subject_id {
            Some(id) => format!("{} #{id}", e.subject_type),
            None => e.subject_type.clone(),
        }
    }

    fn detail(&self, e: &AuditEntry) -> String {
        e.detail.to_string()
    }

    fn prev_href(&self) -> Option<String> {
        (self.page > 1).then(|| self.f.href("/staff/audit", Some(self.page - 1)))
    }

    fn next_href(&self) -> Option<String> {
        (self.page < self.pages).then(|| self.f.href("/staff/audit", Some(self.page + 1)))
    }

    fn csv_href(&self) -> String {
        self.f.href("/api/v1/admin/audit.csv", None)
    }
}

/// `GET /staff/audit?actor=&action=&subject_type=&subject_id=&from=&to=&page=`.
async fn audit(State(state): State<AppState>, c: Chrome, RawQuery(raw): RawQuery) -> Response {
    let user = match require_console_user(&c) {
        Ok(user) => user,
        Err(response) => return response,
    };
    if !user.is_admin() {
        return c.error(
            StatusCode::FORBIDDEN,
            c.t("console.counter.audit.admin_only"),
        );
    }
    let actor = (user.id, user.role);
    let f = Filters::parse(raw.as_deref().unwrap_or_default());
    let mut page = AuditPage {
        c: &c,
        f: f.clone(),
        errors: FormErrors::default(),
        items: Vec::new(),
        total: 0,
        page: 1,
        pages: 1,
    };
    let query = match f.query(&c) {
        Ok(query) => query,
        Err(errors) => {
            page.errors = errors;
            return c.respond(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    match audit_log_view::search(&state.db, actor, &query, Utc::now()).await {
        Ok(found) => {
            page.pages = found.total.div_ceil(found.per_page).max(1);
            page.page = found.page;
            page.total = found.total;
            page.items = found.items;
            c.respond(StatusCode::OK, &page)
        }
        Err(AuditViewError::Invalid { field, .. }) => {
            page.errors.add(
                field,
                c.t(match field {
                    "action" => "console.counter.audit.err_action",
                    "subject_type" => "console.counter.audit.err_subject_type",
                    "to" => "console.counter.audit.err_range",
                    _ => "console.counter.audit.err_page",
                }),
            );
            c.respond(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(AuditViewError::Forbidden) => c.error(
            StatusCode::FORBIDDEN,
            c.t("console.counter.audit.admin_only"),
        ),
        Err(other) => c.internal(other),
    }
}
