//! The registration approval queue (`/staff/registrations`): registrations waiting for review,
//! one opened with its identity documents (images inline, PDFs as links, both served by
//! `GET /api/v1/admin/registrations/{id}/documents/{doc_id}`, which checks the role, audits the
//! view and forbids caching), and approval or rejection with a reason. Over the same services
//! as the JSON API (`services::review`); registrations are city-wide, so any staff member may
//! review. Every view and decision is audited by those services.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::documents::DocumentKind;
use crate::domain::registration::RegistrationState;
use crate::entities::identity_document;
use crate::http::console::require_console_user;
use crate::http::extract::ValidPath;
use crate::http::web::page::{Chrome, FormErrors};
use crate::services::counter::{self, Actor, CounterError};
use crate::services::review::{self, ReviewError};
use crate::state::AppState;
use crate::views::review::RegistrationReview;

/// The queue's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/registrations", get(queue))
        .route("/staff/registrations/{id}", get(show))
        .route("/staff/registrations/{id}/approve", post(approve))
        .route("/staff/registrations/{id}/reject", post(reject))
}

#[allow(clippy::result_large_err)]
fn actor(c: &Chrome) -> Result<Actor, Response> {
    let user = require_console_user(c)?;
    Ok((user.id, user.role))
}

/// `?done=approved|rejected` after a decision, to say so on the queue.
#[derive(Debug, Default, Deserialize)]
struct QueueQuery {
    #[serde(default)]
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "console/registrations.html")]
struct QueuePage<'a> {
    c: &'a Chrome,
    people: Vec<RegistrationReview>,
    done: Option<&'static str>,
}

impl QueuePage<'_> {
    fn registered(&self, at: &DateTime<Utc>) -> String {
        self.c
            .instant(&at.with_timezone(&crate::domain::calendar::tokyo()))
    }
}

/// `GET /staff/registrations`: registrations waiting for review, oldest first.
async fn queue(
    State(state): State<AppState>,
    c: Chrome,
    Query(query): Query<QueueQuery>,
) -> Response {
    let actor = match actor(&c) {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    let people = match review::queue(
        &state.db,
        actor,
        RegistrationState::PendingReview,
        Utc::now(),
    )
    .await
    {
        Ok(people) => people,
        Err(error) => return c.internal(error),
    };
    let done = match query.done.as_deref() {
        Some("approved") => Some(c.t("console.counter.reg.done_approved")),
        Some("rejected") => Some(c.t("console.counter.reg.done_rejected")),
        _ => None,
    };
    c.respond(
        StatusCode::OK,
        &QueuePage {
            c: &c,
            people,
            done,
        },
    )
}

/// A document as the page lists it.
struct DocumentRow {
    href: String,
    kind: &'static str,
    image: bool,
    uploaded: String,
    size_kb: i64,
}

#[derive(Template)]
#[template(path = "console/registration.html")]
struct RegistrationPage<'a> {
    c: &'a Chrome,
    p: RegistrationReview,
    documents: Vec<DocumentRow>,
    pending: bool,
    reason: String,
    errors: FormErrors,
    problem: Option<String>,
}

impl RegistrationPage<'_> {
    fn residency(&self) -> &'static str {
        self.c.t(match self.p.residency.as_str() {
            "resident" => "console.counter.residency_resident",
            "works_in_city" => "console.counter.residency_works_in_city",
            "studies_in_city" => "console.counter.residency_studies_in_city",
            _ => "console.counter.residency_non_resident",
        })
    }

    fn state(&self) -> &'static str {
        self.c.t(match self.p.registration_state.as_str() {
            "pending_review" => "console.counter.reg.state_pending_review",
            "approved" => "console.counter.reg.state_approved",
            "rejected" => "console.counter.reg.state_rejected",
            "expired" => "console.counter.reg.state_expired",
            _ => "console.counter.reg.state_email_unverified",
        })
    }
}

fn document_row(c: &Chrome, user_id: i32, d: &identity_document::Model) -> DocumentRow {
    let kind = DocumentKind::ALL
        .iter()
        .find(|k| k.code() == d.kind)
        .map(|k| c.pick(k.name_ja(), k.name_en()))
        .unwrap_or("");
    DocumentRow {
        href: format!("/api/v1/admin/registrations/{user_id}/documents/{}", d.id),
        kind,
        image: d.content_type.starts_with("image/"),
        uploaded: c.instant(
            &d.uploaded_at
                .with_timezone(&crate::domain::calendar::tokyo()),
        ),
        size_kb: (d.byte_size + 1023) / 1024,
    }
}

/// The person's id in the path.
#[derive(Debug, Deserialize)]
struct PersonPath {
    id: i32,
}

async fn render(
    c: &Chrome,
    state: &AppState,
    actor: Actor,
    id: i32,
    reason: String,
    errors: FormErrors,
    problem: Option<String>,
) -> Response {
    let found = match counter::registration_for_review(&state.db, actor, id, Utc::now()).await {
        Ok(found) => found,
        Err(CounterError::NotFound(_)) => return c.not_found(),
        Err(CounterError::Forbidden) => {
            return c.error(StatusCode::FORBIDDEN, c.t("console.staff_only"));
        }
        Err(other) => return c.internal(other),
    };
    let documents = found
        .documents
        .iter()
        .map(|d| document_row(c, id, d))
        .collect();
    let status = if errors.is_empty() && problem.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = RegistrationPage {
        c,
        pending: found.person.registration_state == RegistrationState::PendingReview.code(),
        p: found.person,
        documents,
        reason,
        errors,
        problem,
    };
    c.respond(status, &page)
}

/// `GET /staff/registrations/{id}`: one registration, its documents and the decision forms.
async fn show(
    State(state): State<AppState>,
    c: Chrome,
    ValidPath(PersonPath { id }): ValidPath<PersonPath>,
) -> Response {
    let actor = match actor(&c) {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    render(
        &c,
        &state,
        actor,
        id,
        String::new(),
        FormErrors::default(),
        None,
    )
    .await
}

/// A decision form.
#[derive(Debug, Default, Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// A refused decision, back on the registration's page.
async fn decision_refused(
    c: &Chrome,
    state: &AppState,
    actor: Actor,
    id: i32,
    reason: String,
    error: ReviewError,
) -> Response {
    match error {
        ReviewError::NotPending(_) => {
            let problem = Some(c.t("console.counter.reg.err_not_pending").to_owned());
            render(c, state, actor, id, reason, FormErrors::default(), problem).await
        }
        ReviewError::ReasonRequired => {
            let mut errors = FormErrors::default();
            errors.add("reason", c.t("console.counter.reg.err_reason"));
            render(c, state, actor, id, reason, errors, None).await
        }
        ReviewError::NotFound => c.not_found(),
        ReviewError::Forbidden => c.error(StatusCode::FORBIDDEN, c.t("console.staff_only")),
        other => c.internal(other),
    }
}

/// `POST /staff/registrations/{id}/approve`.
async fn approve(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    ValidPath(PersonPath { id }): ValidPath<PersonPath>,
    axum::Form(form): axum::Form<DecisionForm>,
) -> Response {
    let actor = match actor(&c) {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    match review::approve(&state.db, actor, id, Utc::now()).await {
        Ok(_) => Redirect::to("/staff/registrations?done=approved").into_response(),
        Err(error) => decision_refused(&c, &state, actor, id, String::new(), error).await,
    }
}

/// `POST /staff/registrations/{id}/reject` with the reason mailed to the person.
async fn reject(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    ValidPath(PersonPath { id }): ValidPath<PersonPath>,
    axum::Form(form): axum::Form<DecisionForm>,
) -> Response {
    let actor = match actor(&c) {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    match review::reject(&state.db, actor, id, &form.reason, Utc::now()).await {
        Ok(()) => Redirect::to("/staff/registrations?done=rejected").into_response(),
        Err(error) => decision_refused(&c, &state, actor, id, form.reason, error).await,
    }
}
