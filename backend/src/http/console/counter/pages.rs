//! The counter pages (`/staff/counter`): find the person → choose facility, room, day and slots →
//! confirm the price → book → take payment → receipt. Plain forms and links, so the whole flow
//! works with JavaScript off; each step calls one service of `services::counter` (or
//! `services::payments` for the payment), the same the JSON API uses.
//!
//! The search is a POST: names, birthdays and phone numbers stay out of addresses, browser
//! history and access logs.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use crate::domain::booking::BookingRuleError;
use crate::domain::calendar::tokyo_date;
use crate::domain::counter::{SearchRefusal, parse_search};
use crate::domain::registration::FieldProblem;
use crate::http::console::require_console_user;
use crate::http::extract::ValidPath;
use crate::http::web::page::{Chrome, FormErrors};
use crate::services::bookings::BookingError;
use crate::services::counter::{self, Actor, CounterError};
use crate::services::payments::{self, PaymentError};
use crate::state::AppState;
use crate::views::availability::SlotState;
use crate::views::booking::CreateBookingRequest;
use crate::views::console_counter::{ResidentMatch, StaffBookingResponse};
use crate::views::payment::CounterPaymentRequest;

/// The counter pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/counter", get(search_form).post(search))
        .route("/staff/counter/residents/{id}", get(choose))
        .route("/staff/counter/residents/{id}/confirm", get(confirm))
        .route("/staff/counter/residents/{id}/book", post(book))
        .route("/staff/counter/bookings/{id}", get(show_booking))
        .route("/staff/counter/bookings/{id}/pay", post(pay))
}

// The error is the response to send at once (as `Chrome::require_user`).
#[allow(clippy::result_large_err)]
fn actor(c: &Chrome) -> Result<Actor, Response> {
    let user = require_console_user(c)?;
    Ok((user.id, user.role))
}

/// A failure a page shows as such: refused (403), missing (404), or ours (500).
fn failure(c: &Chrome, error: CounterError) -> Response {
    match error {
        CounterError::Forbidden => c.error(StatusCode::FORBIDDEN, c.t("console.counter.forbidden")),
        CounterError::NotFound(_) => c.not_found(),
        other => c.internal(other),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Find the person
// ---------------------------------------------------------------------------------------------

/// The search form's fields; blank ones are empty strings.
#[derive(Debug, Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub card_number: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub date_of_birth: String,
    #[serde(default)]
    pub phone: String,
}

#[derive(Template)]
#[template(path = "console/counter.html")]
struct SearchPage<'a> {
    c: &'a Chrome,
    form: SearchForm,
    errors: FormErrors,
    /// `None` before a search.
    results: Option<Vec<ResidentMatch>>,
}

impl SearchPage<'_> {
    fn date(&self, date: &Option<NaiveDate>) -> String {
        date.map(|d| self.c.date(&d)).unwrap_or_default()
    }
}

/// `GET /staff/counter`: the search form.
async fn search_form(c: Chrome) -> Response {
    if let Err(response) = actor(&c) {
        return response;
    }
    let page = SearchPage {
        c: &c,
        form: SearchForm::default(),
        errors: FormErrors::default(),
        results: None,
    };
    c.respond(StatusCode::OK, &page)
}

/// Problems of a refused search in the reader's language, by field.
fn search_errors(c: &Chrome, refusal: &SearchRefusal) -> FormErrors {
    let (problems, kind): (&[FieldProblem], &str) = match refusal {
        SearchRefusal::Invalid(p) => (p, "invalid"),
        SearchRefusal::TooBroad(p) => (p, "broad"),
    };
    let mut errors = FormErrors::default();
    for p in problems {
        errors.add(
            p.field,
            c.t(&format!("console.counter.err_{kind}_{}", p.field)),
        );
    }
    errors
}

/// `POST /staff/counter`: search, and list who matched (or say why not).
async fn search(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SearchForm>,
) -> Response {
    let actor = match actor(&c) {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let parsed = parse_search(
        Some(&form.card_number),
        Some(&form.name),
        Some(&form.date_of_birth),
        Some(&form.phone),
    );
    let (status, errors, results) = match parsed {
        Err(refusal) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            search_errors(&c, &refusal),
            None,
        ),
        Ok(search) => match counter::find_residents(&state.db, actor, &search, Utc::now()).await {
            Ok(found) => (StatusCode::OK, FormErrors::default(), Some(found)),
            Err(CounterError::TooBroad(problems)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                search_errors(&c, &SearchRefusal::TooBroad(problems)),
                None,
            ),
            Err(other) => return failure(&c, other),
        },
    };
    let page = SearchPage {
        c: &c,
        form,
        errors,
        results,
    };
    c.respond(status, &page)
}

// ---------------------------------------------------------------------------------------------
// 2. Choose facility, room, day and slots
// ---------------------------------------------------------------------------------------------

/// The booking form's fields, from a query string or a form body (`slot` repeats).
#[derive(Debug, Default, Clone)]
struct ChoiceForm {
    facility: Option<i32>,
    room: Option<i32>,
    date: String,
    slots: Vec<i64>,
    purpose: String,
    attendees: String,
    key: String,
    csrf: String,
}

impl ChoiceForm {
    fn parse(raw: &str) -> ChoiceForm {
        let mut form = ChoiceForm::default();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            match name.as_ref() {
                "facility" => form.facility = value.trim().parse().ok(),
                "room" => form.room = value.trim().parse().ok(),
                "date" => form.date = value.trim().to_owned(),
                "slot" => {
                    if let Ok(id) = value.trim().parse() {
                        form.slots.push(id);
                    }
                }
                "purpose" => form.purpose = value.into_owned(),
                "attendees" => form.attendees = value.into_owned(),
                "key" => form.key = value.into_owned(),
                "csrf" => form.csrf = value.into_owned(),
                _ => {}
            }
        }
        form
    }
}

/// A slot in the choice table.
struct SlotRow {
    id: i64,
    time: String,
    state: &'static str,
    price: String,
    free: bool,
    checked: bool,
}

/// A facility or room in a list.
struct Choice {
    id: i32,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "console/counter-resident.html")]
struct ChoosePage<'a> {
    c: &'a Chrome,
    person: ResidentMatch,
    facilities: Vec<Choice>,
    rooms: Vec<Choice>,
    facility_id: Option<i32>,
    room_id: Option<i32>,
    date: String,
    slots: Vec<SlotRow>,
    purpose: String,
    attendees: String,
    errors: FormErrors,
    /// A refusal no field can fix (taken, limits, not open).
    problem: Option<String>,
}

impl ChoosePage<'_> {
    /// The person's residency category, which sets the fee.
    fn residency(&self) -> &'static str {
        self.c.t(match self.person.residency.as_str() {
            "resident" => "console.counter.residency_resident",
            "works_in_city" => "console.counter.residency_works_in_city",
            "studies_in_city" => "console.counter.residency_studies_in_city",
            _ => "console.counter.residency_non_resident",
        })
    }
}

fn state_key(state: SlotState) -> &'static str {
    match state {
        SlotState::Available => "state.available",
        SlotState::Held => "state.held",
        SlotState::Booked => "state.booked",
        SlotState::Closed => "state.closed",
        SlotState::Lottery => "state.lottery",
        SlotState::NotOpen => "state.not_open",
    }
}

/// Render the choice page for `form`, with `errors` and `problem` from a refused step.
async fn render_choose(
    c: &Chrome,
    state: &AppState,
    actor: Actor,
    resident_id: i32,
    form: &ChoiceForm,
    mut errors: FormErrors,
    problem: Option<String>,
) -> Response {
    let now = Utc::now();
    let today = tokyo_date(now);
    let date = if form.date.is_empty() {
        today
    } else {
        match NaiveDate::parse_from_str(&form.date, "%Y-%m-%d") {
            Ok(date) => date,
            Err(_) => {
                errors.add("date", c.t("console.counter.err_date"));
                today
            }
        }
    };
    let person = match counter::resident_for_counter(&state.db, actor, resident_id, now).await {
        Ok(person) => person,
        Err(error) => return failure(c, error),
    };
    let choices =
        match counter::choices(&state.db, actor, form.facility, form.room, date, now).await {
            Ok(choices) => choices,
            Err(error) => return failure(c, error),
        };
    let facilities = choices
        .facilities
        .iter()
        .map(|f| Choice {
            id: f.id,
            name: c.pick(&f.name, &f.name_en).to_owned(),
            selected: Some(f.id) == choices.facility_id,
        })
        .collect();
    let rooms = choices
        .rooms
        .iter()
        .map(|r| Choice {
            id: r.id,
            name: c.pick(&r.name, &r.name_en).to_owned(),
            selected: Some(r.id) == choices.room_id,
        })
        .collect();
    let slots = choices
        .slots
        .iter()
        .map(|s| SlotRow {
            id: s.id,
            time: c.span(&s.starts_at, &s.ends_at),
            state: c.t(state_key(s.state)),
            price: s.price_yen.map(|p| c.yen(&p)).unwrap_or_default(),
            free: s.state == SlotState::Available,
            checked: form.slots.contains(&s.id),
        })
        .collect();
    let status = if errors.is_empty() && problem.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ChoosePage {
        c,
        person,
        facilities,
        rooms,
        facility_id: choices.facility_id,
        room_id: choices.room_id,
        date: date.to_string(),
        slots,
        purpose: form.purpose.clone(),
        attendees: if form.attendees.is_empty() {
            "1".to_owned()
        } else {
            form.attendees.clone()
        },
        errors,
        problem,
    };
    c.respond(status, &page)
}

/// The resident's id in the path.
#[derive(Debug, Deserialize)]
struct ResidentPath {
    id: i32,
}

/// `GET /staff/counter/residents/{id}?facility=&room=&date=`: the person, and what to book.
async fn choose(
    State(state): State<AppState>,
    c: Chrome,
    ValidPath(ResidentPath { id }): ValidPath<ResidentPath>,
    RawQuery(query): RawQuery,
) -> Response {
    let actor = match actor(&c) {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    let form = ChoiceForm::parse(query.as_deref().unwrap_or_default());
    render_choose(&c, &state, actor, id, &form, FormErrors::default(), None).await
}

/// A booking refusal in the reader's language: `Ok(field, message)` for a field of the form,
/// `Err(message)` for one no field can fix.
fn explain(c: &Chrome, error: &BookingError) -> Result<(&'static str, String), String> {
    match error {
        BookingError::InvalidInput { field, .. } if field == "purpose" => {
            Ok(("purpose", c.t("book.err_purpose").to_owned()))
        }
        BookingError::InvalidInput { field, .. } if field == "attendees" => {
            Ok(("attendees", c.t("console.counter.err_attendees").to_owned()))
        }
        BookingError::InvalidInput { field, .. } if field == "slot_ids" => {
            Ok(("slots", c.t("console.counter.err_slots").to_owned()))
        }
        BookingError::Rule(rule) => Err(c
            .t(match rule {
                BookingRuleError::LimitReached(_) => "console.counter.err_limit",
                BookingRuleError::BookingNotOpen { .. } => "book.err_not_open",
                BookingRuleError::LotteryPeriod => "book.err_lottery",
                BookingRuleError::BookingClosed => "book.err_closed",
                _ => "book.err_selection",
            })
            .to_owned()),
        BookingError::SlotTaken => Err(c.t("book.err_taken").to_owned()),
        BookingError::SlotClosed(_) | BookingError::UnknownSlots(_) => {
            Err(c.t("book.err_closed").to_owned())
        }
        BookingError::NotApproved => Err(c.t("console.counter.err_not_approved").to_owned()),
        BookingError::Suspended(_) => Err(c.t("console.counter.err_suspended").to_owned()),
        BookingError::Group(_) => Err(c.t("book.err_group").to_owned()),
        other => Err(c.f("book.err_other", other)),
    }
}

/// The request the form describes, or the problems of its own fields.
fn request_of(c: &Chrome, form: &ChoiceForm) -> Result<CreateBookingRequest, FormErrors> {
    let mut errors = FormErrors::default();
    if form.room.is_none() || form.slots.is_empty() {
        errors.add("slots", c.t("console.counter.err_slots"));
    }
    if form.purpose.trim().is_empty() {
        errors.add("purpose", c.t("book.err_purpose"));
    }
    let attendees = form
        .attendees
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|n| *n >= 1);
    if attendees.is_none() {
        errors.add("attendees", c.t("book.err_attendees_number"));
    }
    match (form.room, attendees) {
        (Some(room_id), Some(attendees)) if errors.is_empty() => Ok(CreateBookingRequest {
            room_id,
            slot_ids: form.slots.clone(),
            purpose: form.purpose.trim().to_owned(),
            attendees,
            group_id: None,
            purpose_kind: None,
            equipment: Vec::new(),
        }),
        _ => Err(errors),
    }
}

/// A refused booking or quote, back on the choice page.
async fn refused(
    c: &Chrome,
    state: &AppState,
    actor: Actor,
    resident_id: i32,
    form: &ChoiceForm,
    error: CounterError,
) -> Response {
    match error {
        CounterError::Booking(booking) => {
            let mut errors = FormErrors::default();
            let problem = match explain(c, &booking) {
                Ok((field, message)) => {
                    errors.add(field, message);
                    None
                }
                Err(message) => Some(message),
            };
            render_choose(c, state, actor, resident_id, form, errors, problem).await
        }
        other => failure(c, other),
    }
}

#[derive(Template)]
#[template(path = "console/counter-confirm.html")]
struct ConfirmPage<'a> {
    c: &'a Chrome,
    person: String,
    facility: String,
    room: String,
    resident_id: i32,
    form: ChoiceForm,
    when: Vec<String>,
    total: String,
    pay_by: String,
    back_href: String,
}

/// `GET /staff/counter/residents/{id}/confirm?room=&slot=…&purpose=&attendees=`: the price, and
/// the button that books.
async fn confirm(
    State(state): State<AppState>,
    c: Chrome,
    ValidPath(ResidentPath { id }): ValidPath<ResidentPath>,
    RawQuery(query): RawQuery,
) -> Response {
    let actor = match actor(&c) {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    let raw = query.unwrap_or_default();
    let mut form = ChoiceForm::parse(&raw);
    let request = match request_of(&c, &form) {
        Ok(request) => request,
        Err(errors) => return render_choose(&c, &state, actor, id, &form, errors, None).await,
    };
    let found = match counter::confirmation(
        &state.db,
        &state.booking_rules(),
        actor,
        id,
        &request,
        Utc::now(),
    )
    .await
    {
        Ok(found) => found,
        Err(error) => return refused(&c, &state, actor, id, &form, error).await,
    };
    let tokyo = crate::domain::calendar::tokyo();
    let when = found
        .slots
        .iter()
        .map(|s| {
            c.when(
                &s.starts_at.with_timezone(&tokyo),
                &s.ends_at.with_timezone(&tokyo),
            )
        })
        .collect();
    // One key per confirmation page: pressing "Book" twice books once.
    form.key = uuid::Uuid::new_v4().to_string();
    let page = ConfirmPage {
        c: &c,
        person: found.person.name,
        facility: c
            .pick(&found.facility.name, &found.facility.name_en)
            .to_owned(),
        room: c.pick(&found.room.name, &found.room.name_en).to_owned(),
        resident_id: id,
        when,
        total: c.yen(&found.quote.total_yen),
        pay_by: c.instant(&found.quote.pay_by),
        back_href: format!("/staff/counter/residents/{id}?{raw}"),
        form,
    };
    c.respond(StatusCode::OK, &page)
}

/// `POST /staff/counter/residents/{id}/book`: book, then the booking's page to take payment.
async fn book(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    ValidPath(ResidentPath { id }): ValidPath<ResidentPath>,
    body: String,
) -> Response {
    let actor = match actor(&c) {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    let form = ChoiceForm::parse(&body);
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let request = match request_of(&c, &form) {
        Ok(request) => request,
        Err(errors) => return render_choose(&c, &state, actor, id, &form, errors, None).await,
    };
    let key = if form.key.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        form.key.clone()
    };
    match counter::book_for_resident(
        &state.db,
        &state.booking_rules(),
        actor,
        id,
        &key,
        &request,
        Utc::now(),
    )
    .await
    {
        Ok((booking, _)) => {
            Redirect::to(&format!("/staff/counter/bookings/{}", booking.id)).into_response()
        }
        Err(error) => refused(&c, &state, actor, id, &form, error).await,
    }
}

// ---------------------------------------------------------------------------------------------
// 3. The booking: payment and receipt
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/counter-booking.html")]
struct BookingPage<'a> {
    c: &'a Chrome,
    b: StaffBookingResponse,
    errors: FormErrors,
    problem: Option<String>,
    method: String,
}

impl BookingPage<'_> {
    fn when(&self) -> String {
        self.c
            .when(&self.b.booking.starts_at, &self.b.booking.ends_at)
    }

    fn state(&self) -> &'static str {
        self.c.t(&format!("booking_state.{}", self.b.booking.state))
    }

    fn awaiting_payment(&self) -> bool {
        self.b.booking.state == "awaiting_payment"
    }

    fn facility(&self) -> &str {
        self.c.pick(&self.b.facility_name, &self.b.facility_name_en)
    }

    fn room(&self) -> &str {
        self.c.pick(&self.b.room_name, &self.b.room_name_en)
    }

    fn paid_with(&self) -> &'static str {
        match self.b.paid_with.as_deref() {
            Some("counter_cash") => self.c.t("console.counter.method_cash"),
            Some("counter_terminal") => self.c.t("console.counter.method_terminal"),
            Some(_) => self.c.t("console.counter.method_online"),
            None => "",
        }
    }

    fn paid_at(&self) -> String {
        self.b
            .paid_at
            .as_ref()
            .map(|at| self.c.instant(at))
            .unwrap_or_default()
    }
}

/// The booking id in the path.
#[derive(Debug, Deserialize)]
struct BookingPath {
    id: i64,
}

async fn render_booking(
    c: &Chrome,
    state: &AppState,
    actor: Actor,
    id: i64,
    errors: FormErrors,
    problem: Option<String>,
    method: String,
) -> Response {
    let b = match counter::booking_for_staff(&state.db, actor, id, Utc::now()).await {
        Ok(b) => b,
        Err(error) => return failure(c, error),
    };
    let status = if errors.is_empty() && problem.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = BookingPage {
        c,
        b,
        errors,
        problem,
        method,
    };
    c.respond(status, &page)
}

/// `GET /staff/counter/bookings/{id}`: the booking, the payment form while unpaid, the receipt
/// once paid.
async fn show_booking(
    State(state): State<AppState>,
    c: Chrome,
    ValidPath(BookingPath { id }): ValidPath<BookingPath>,
) -> Response {
    let actor = match actor(&c) {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    render_booking(
        &c,
        &state,
        actor,
        id,
        FormErrors::default(),
        None,
        String::new(),
    )
    .await
}

/// The payment form.
#[derive(Debug, Default, Deserialize)]
struct PayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    amount_yen: String,
}

/// `POST /staff/counter/bookings/{id}/pay`: record the counter payment, then the receipt.
async fn pay(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    ValidPath(BookingPath { id }): ValidPath<BookingPath>,
    axum::Form(form): axum::Form<PayForm>,
) -> Response {
    let actor = match actor(&c) {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let mut errors = FormErrors::default();
    if !matches!(form.method.as_str(), "cash" | "terminal") {
        errors.add("method-cash", c.t("console.counter.err_method"));
    }
    let amount = form.amount_yen.trim().parse::<i64>().ok();
    let (false, Some(amount_yen)) = (!errors.is_empty(), amount) else {
        return render_booking(&c, &state, actor, id, errors, None, form.method).await;
    };
    let request = CounterPaymentRequest {
        method: form.method.clone(),
        amount_yen,
    };
    match payments::record_counter_payment(
        &state.db,
        actor,
        id,
        &request,
        state.payments.base_url(),
        Utc::now(),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/staff/counter/bookings/{id}")).into_response(),
        Err(PaymentError::Forbidden) => {
            c.error(StatusCode::FORBIDDEN, c.t("console.counter.forbidden"))
        }
        Err(PaymentError::NotFound) => c.not_found(),
        Err(PaymentError::NotPayable(_) | PaymentError::Mismatch(_)) => {
            let problem = Some(c.t("console.counter.err_not_payable").to_owned());
            render_booking(&c, &state, actor, id, errors, problem, form.method).await
        }
        Err(other) => c.internal(other),
    }
}
