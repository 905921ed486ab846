//! The calendar area's pages: `/staff/calendar` (rooms × days), `/staff/closures` (closures with
//! a preview before the confirmation, and blocks for official use) and `/staff/templates` (room
//! periods, equipment, regeneration with its preview).
//!
//! Every page works without JavaScript: filters are GET forms, changes are POST forms carrying
//! the CSRF token that answer with a 303 (or the form again with each error next to its field
//! and in the summary). The handlers call the same services as the JSON API.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Deserialize;

use crate::domain::console_calendar::{ClosureKind, Invalid, PeriodInput};
use crate::domain::kinds::RoomKind;
use crate::domain::roles::Role;
use crate::http::console::require_console_user;
use crate::http::web::page::{Chrome, FormErrors};
use crate::services::console_calendar::{self as service, Actor, ConsoleError};
use crate::services::{payments, slot_setup};
use crate::state::AppState;
use crate::views::console_calendar::{
    BlockRequest, CalendarQuery, CalendarResponse, ClosureList, ClosurePreview, ClosureRequest,
    EquipmentRequest, FacilitySetup, RegenerationReport, RegenerationRequest, RoomSetup,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/calendar", get(calendar_page))
        .route("/staff/closures", get(closures_page).post(confirm_closure))
        .route("/staff/closures/preview", post(preview_closure))
        .route("/staff/closures/blocks", post(create_block))
        .route("/staff/closures/blocks/{id}/lift", post(lift_block))
        .route("/staff/templates", get(templates_page))
        .route(
            "/staff/templates/rooms/{id}",
            get(periods_page).post(save_periods),
        )
        .route("/staff/templates/rooms/{id}/equipment", post(add_equipment))
        .route("/staff/templates/equipment/{id}", post(update_equipment))
        .route(
            "/staff/templates/regeneration/preview",
            post(preview_regeneration),
        )
        .route("/staff/templates/regeneration", post(apply_regeneration))
}

/// An option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices<T>(
    items: impl IntoIterator<Item = T>,
    selected: &str,
    f: impl Fn(&T) -> (String, String),
) -> Vec<Choice> {
    items
        .into_iter()
        .map(|item| {
            let (value, label) = f(&item);
            Choice {
                selected: value == selected,
                value,
                label,
            }
        })
        .collect()
}

/// The person as the services know them, or the page to send instead.
#[allow(clippy::result_large_err)]
fn actor(c: &Chrome) -> Result<Actor, Response> {
    let user = require_console_user(c)?;
    Ok((user.id, user.role))
}

/// Managers and administrators only (closures, blocks, slot setup).
#[allow(clippy::result_large_err)]
fn manager(c: &Chrome) -> Result<Actor, Response> {
    let actor = actor(c)?;
    if !matches!(actor.1, Role::Manager | Role::Admin) {
        return Err(c.error(StatusCode::FORBIDDEN, c.t("console.calendar.managers_only")));
    }
    Ok(actor)
}

/// The page's message for a field the service refused (the API's messages are English).
fn field_message(c: &Chrome, field: &str) -> String {
    let key = match field {
        "to" => "console.calendar.error.to",
        "kind" => "console.calendar.error.kind",
        "room_id" => "console.calendar.error.room_id",
        "facility_id" => "console.calendar.error.facility_id",
        "starts_on" => "console.calendar.error.starts_on",
        "ends_on" => "console.calendar.error.ends_on",
        "reason" => "console.calendar.error.reason",
        "closure_kind" => "console.calendar.error.closure_kind",
        "starts" => "console.calendar.error.starts",
        "ends" => "console.calendar.error.ends",
        "confirm" => "console.calendar.error.confirm",
        "from" => "console.calendar.error.from",
        "code" => "console.calendar.error.code",
        "name" | "name_en" => "console.calendar.error.name",
        "fee_yen" => "console.calendar.error.fee_yen",
        "quantity" => "console.calendar.error.quantity",
        _ => "console.calendar.error.periods",
    };
    c.t(key).to_owned()
}

/// Service problems as the form's errors; `rename` maps a service field to the input's id.
fn form_errors(c: &Chrome, problems: &[Invalid], rename: &[(&str, &str)]) -> FormErrors {
    let mut errors = FormErrors::default();
    for p in problems {
        let id = rename
            .iter()
            .find(|(from, _)| *from == p.field)
            .map(|(_, to)| (*to).to_owned())
            .unwrap_or_else(|| p.field.clone());
        let message = match period_row(&p.field) {
            Some(row) => c.f2(
                "console.calendar.error.period_row",
                row + 1,
                field_message(c, "periods"),
            ),
            None => field_message(c, &id),
        };
        if !errors.has(&id) {
            errors.add(&id, message);
        }
    }
    errors
}

/// `periods[3].starts` → 3.
fn period_row(field: &str) -> Option<usize> {
    field
        .strip_prefix("periods[")?
        .split(']')
        .next()?
        .parse()
        .ok()
}

/// A failure that is not the form's: 403, 404 or ours.
fn refused(c: &Chrome, error: ConsoleError) -> Response {
    match error {
        ConsoleError::Forbidden => {
            c.error(StatusCode::FORBIDDEN, c.t("console.calendar.forbidden"))
        }
        ConsoleError::NotFound(_) => c.not_found(),
        other => c.internal(other),
    }
}

fn parse_id(errors: &mut FormErrors, c: &Chrome, field: &str, text: &str) -> Option<i32> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse() {
        Ok(id) => Some(id),
        Err(_) => {
            errors.add(field, field_message(c, field));
            None
        }
    }
}

fn parse_date(errors: &mut FormErrors, c: &Chrome, field: &str, text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse() {
        Ok(date) => Some(date),
        Err(_) => {
            errors.add(field, field_message(c, field));
            None
        }
    }
}

fn time(at: &DateTime<FixedOffset>) -> String {
    at.format("%H:%M").to_string()
}

// ---------------------------------------------------------------------------------------------
// The calendar

/// `GET /staff/calendar` parameters, as typed (checked here so errors sit next to the fields).
#[derive(Debug, Default, Deserialize)]
pub struct CalendarParams {
    #[serde(default)]
    pub facility_id: String,
    #[serde(default)]
    pub room_id: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// One slot in a calendar cell.
pub struct CellSlot {
    pub time: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub holder: Option<String>,
    pub booking_id: Option<i64>,
    pub paid: Option<&'static str>,
    pub checked_in: Option<&'static str>,
}

pub struct CalendarRow {
    pub name: String,
    pub cells: Vec<Vec<CellSlot>>,
}

#[derive(Template)]
#[template(path = "console/calendar.html")]
pub struct CalendarPage<'a> {
    pub c: &'a Chrome,
    pub facilities: Vec<Choice>,
    pub rooms: Vec<Choice>,
    pub kinds: Vec<Choice>,
    pub from: String,
    pub to: String,
    pub errors: FormErrors,
    pub facility_name: String,
    pub caption: String,
    pub days: Vec<String>,
    pub rows: Vec<CalendarRow>,
}

fn state_label(c: &Chrome, state: &str) -> &'static str {
    match state {
        "free" => c.t("console.calendar.state.free"),
        "booked" => c.t("console.calendar.state.booked"),
        "closed" => c.t("console.calendar.state.closed"),
        "blocked" => c.t("console.calendar.state.blocked"),
        _ => c.t("console.calendar.state.lottery"),
    }
}

async fn calendar_page(
    State(state): State<AppState>,
    c: Chrome,
    Query(params): Query<CalendarParams>,
) -> Response {
    let actor = match actor(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    let mut errors = FormErrors::default();
    let facility_id = parse_id(&mut errors, &c, "facility_id", &params.facility_id);
    let room_id = parse_id(&mut errors, &c, "room_id", &params.room_id);
    let from = parse_date(&mut errors, &c, "from", &params.from);
    let to = parse_date(&mut errors, &c, "to", &params.to);
    let kind = Some(params.kind.trim().to_owned()).filter(|k| !k.is_empty());
    let facilities = match service::facilities_of(&state.db, actor).await {
        Ok(list) => list,
        Err(e) => return c.internal(e),
    };
    if facilities.is_empty() {
        return c.error(StatusCode::FORBIDDEN, c.t("console.calendar.no_facility"));
    }
    let chosen = facility_id.unwrap_or(facilities[0].id);
    let mut result: Option<CalendarResponse> = None;
    if errors.is_empty() {
        let query = CalendarQuery {
            facility_id: Some(chosen),
            room_id,
            kind: kind.clone(),
            from,
            to,
        };
        match service::calendar(&state.db, actor, query, Utc::now()).await {
            Ok(r) => result = Some(r),
            Err(ConsoleError::Invalid(problems)) => errors = form_errors(&c, &problems, &[]),
            Err(e) => return refused(&c, e),
        }
    }
    let rooms = match service::rooms_for_choice(&state.db, actor, chosen).await {
        Ok(rooms) => rooms,
        Err(e) => return refused(&c, e),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let chosen_name = facilities
        .iter()
        .find(|f| f.id == chosen)
        .map(|f| c.pick(&f.name, &f.name_en).to_owned())
        .unwrap_or_default();
    let (caption, days, rows) = match &result {
        Some(r) => calendar_table(&c, r),
        None => (String::new(), Vec::new(), Vec::new()),
    };
    let page = CalendarPage {
        c: &c,
        facilities: choices(&facilities, &chosen.to_string(), |f| {
            (f.id.to_string(), c.pick(&f.name, &f.name_en).to_owned())
        }),
        rooms: choices(&rooms, &params.room_id, |r| {
            (r.id.to_string(), c.pick(&r.name, &r.name_en).to_owned())
        }),
        kinds: choices(
            RoomKind::ALL.iter(),
            kind.as_deref().unwrap_or_default(),
            |k| {
                (
                    k.code().to_owned(),
                    c.pick(k.name_ja(), k.name_en()).to_owned(),
                )
            },
        ),
        from: result
            .as_ref()
            .map(|r| r.from.to_string())
            .unwrap_or(params.from.clone()),
        to: result
            .as_ref()
            .map(|r| r.to.to_string())
            .unwrap_or(params.to.clone()),
        errors,
        facility_name: chosen_name,
        caption,
        days,
        rows,
    };
    c.respond(status, &page)
}

fn calendar_table(c: &Chrome, r: &CalendarResponse) -> (String, Vec<String>, Vec<CalendarRow>) {
    let caption = c.f2(
        "console.calendar.caption",
        c.pick(&r.facility.name, &r.facility.name_en),
        format!("{} – {}", c.date(&r.from), c.date(&r.to)),
    );
    let days = r.days.iter().map(|d| c.date(d)).collect();
    let rows = r
        .rooms
        .iter()
        .map(|room| CalendarRow {
            name: c.pick(&room.name, &room.name_en).to_owned(),
            cells: r
                .days
                .iter()
                .map(|day| {
                    room.slots
                        .iter()
                        .filter(|s| s.date == *day)
                        .map(|s| {
                            let code = s.state.code();
                            CellSlot {
                                time: format!("{}–{}", time(&s.starts_at), time(&s.ends_at)),
                                state: code,
                                state_label: state_label(c, code),
                                holder: s.booking.as_ref().map(|b| b.holder_name.clone()),
                                booking_id: s.booking.as_ref().map(|b| b.id),
                                paid: s.booking.as_ref().map(|b| {
                                    if b.paid {
                                        c.t("console.calendar.paid")
                                    } else {
                                        c.t("console.calendar.unpaid")
                                    }
                                }),
                                checked_in: s
                                    .booking
                                    .as_ref()
                                    .filter(|b| b.checked_in)
                                    .map(|_| c.t("console.calendar.checked_in")),
                            }
                        })
                        .collect()
                })
                .collect(),
        })
        .collect();
    (caption, days, rows)
}

// ---------------------------------------------------------------------------------------------
// Closures and blocks

#[derive(Debug, Default, Deserialize)]
pub struct FacilityParams {
    #[serde(default)]
    pub facility_id: String,
    /// After a closure: its id and how many bookings it cancelled.
    #[serde(default)]
    pub closed: String,
    #[serde(default)]
    pub cancelled: String,
    /// After a block: how many slots it took; after lifting one: how many it gave back.
    #[serde(default)]
    pub blocked: String,
    #[serde(default)]
    pub lifted: String,
    #[serde(default)]
    pub regenerated: String,
    #[serde(default)]
    pub saved: String,
}

/// The closure form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ClosureForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub facility_id: String,
    #[serde(default)]
    pub room_id: String,
    #[serde(default)]
    pub starts_on: String,
    #[serde(default)]
    pub ends_on: String,
    #[serde(default)]
    pub closure_kind: String,
    #[serde(default)]
    pub reason: String,
    /// The confirmation box (`true` when ticked).
    #[serde(default)]
    pub confirm: String,
    /// The booking ids the preview showed, comma-separated.
    #[serde(default)]
    pub expected: String,
}

/// The block form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct BlockForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub facility_id: String,
    #[serde(default)]
    pub block_room_id: String,
    #[serde(default)]
    pub block_starts_on: String,
    #[serde(default)]
    pub block_ends_on: String,
    #[serde(default)]
    pub starts: String,
    #[serde(default)]
    pub ends: String,
    #[serde(default)]
    pub block_reason: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub facility_id: String,
}

pub struct ClosureLine {
    pub place: String,
    pub days: String,
    pub kind: &'static str,
    pub reason: String,
}

pub struct BlockLine {
    pub id: i32,
    pub place: String,
    pub days: String,
    pub times: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "console/closures.html")]
pub struct ClosuresPage<'a> {
    pub c: &'a Chrome,
    pub facility_id: i32,
    pub facility_name: String,
    pub facilities: Vec<Choice>,
    pub notice: Option<String>,
    pub closures: Vec<ClosureLine>,
    pub blocks: Vec<BlockLine>,
    pub rooms: Vec<Choice>,
    pub block_rooms: Vec<Choice>,
    pub kinds: Vec<Choice>,
    pub form: ClosureForm,
    pub block: BlockForm,
    pub errors: FormErrors,
}

fn kind_label(c: &Chrome, code: &str) -> &'static str {
    match code {
        "maintenance" => c.t("console.calendar.kind.maintenance"),
        "weather" => c.t("console.calendar.kind.weather"),
        "event" => c.t("console.calendar.kind.event"),
        _ => c.t("console.calendar.kind.official_use"),
    }
}

fn day_range(c: &Chrome, from: &NaiveDate, to: &NaiveDate) -> String {
    if from == to {
        c.date(from)
    } else {
        format!("{} – {}", c.date(from), c.date(to))
    }
}

/// Render the closures page (the list, the two forms) with what was typed and its errors.
#[allow(clippy::too_many_arguments)]
async fn render_closures(
    state: &AppState,
    c: &Chrome,
    actor: Actor,
    facility_id: Option<i32>,
    notice: Option<String>,
    form: ClosureForm,
    block: BlockForm,
    errors: FormErrors,
) -> Response {
    let list: ClosureList =
        match service::list_closures(&state.db, actor, facility_id, Utc::now()).await {
            Ok(list) => list,
            Err(e) => return refused(c, e),
        };
    let facilities = match service::facilities_of(&state.db, actor).await {
        Ok(list) => list,
        Err(e) => return c.internal(e),
    };
    let rooms = match service::rooms_for_choice(&state.db, actor, list.facility.id).await {
        Ok(rooms) => rooms,
        Err(e) => return refused(c, e),
    };
    let room_name = |id: Option<i32>| match id.and_then(|id| rooms.iter().find(|r| r.id == id)) {
        Some(r) => c.pick(&r.name, &r.name_en).to_owned(),
        None => c.t("console.calendar.whole_facility").to_owned(),
    };
    let mut room_choices = vec![Choice {
        value: String::new(),
        label: c.t("console.calendar.whole_facility").to_owned(),
        selected: form.room_id.is_empty(),
    }];
    room_choices.extend(choices(&rooms, &form.room_id, |r| {
        (r.id.to_string(), c.pick(&r.name, &r.name_en).to_owned())
    }));
    let page = ClosuresPage {
        c,
        facility_id: list.facility.id,
        facility_name: c
            .pick(&list.facility.name, &list.facility.name_en)
            .to_owned(),
        facilities: choices(&facilities, &list.facility.id.to_string(), |f| {
            (f.id.to_string(), c.pick(&f.name, &f.name_en).to_owned())
        }),
        notice,
        closures: list
            .closures
            .iter()
            .map(|cl| ClosureLine {
                place: room_name(cl.room_id),
                days: day_range(c, &cl.starts_on, &cl.ends_on),
                kind: kind_label(c, &cl.kind),
                reason: cl.reason.clone(),
            })
            .collect(),
        blocks: list
            .blocks
            .iter()
            .map(|b| BlockLine {
                id: b.id,
                place: room_name(Some(b.room_id)),
                days: day_range(c, &b.starts_on, &b.ends_on),
                times: format!("{}–{}", b.starts, b.ends),
                reason: b.reason.clone(),
            })
            .collect(),
        block_rooms: choices(&rooms, &block.block_room_id, |r| {
            (r.id.to_string(), c.pick(&r.name, &r.name_en).to_owned())
        }),
        rooms: room_choices,
        kinds: choices(ClosureKind::ALL, &form.closure_kind, |k| {
            (k.code().to_owned(), kind_label(c, k.code()).to_owned())
        }),
        form,
        block,
        errors,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    c.respond(status, &page)
}

async fn closures_page(
    State(state): State<AppState>,
    c: Chrome,
    Query(params): Query<FacilityParams>,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    let mut errors = FormErrors::default();
    let facility_id = parse_id(&mut errors, &c, "facility_id", &params.facility_id);
    let notice = if !params.closed.is_empty() {
        Some(c.f("console.calendar.closures.done", params.cancelled.trim()))
    } else if !params.blocked.is_empty() {
        Some(c.f("console.calendar.blocks.done", params.blocked.trim()))
    } else if !params.lifted.is_empty() {
        Some(c.f("console.calendar.blocks.lifted", params.lifted.trim()))
    } else {
        None
    };
    let form = ClosureForm {
        closure_kind: "maintenance".into(),
        ..ClosureForm::default()
    };
    render_closures(
        &state,
        &c,
        actor,
        facility_id,
        notice,
        form,
        BlockForm::default(),
        errors,
    )
    .await
}

/// The closure form as the service's request (or the form's errors).
fn closure_request(c: &Chrome, form: &ClosureForm) -> Result<ClosureRequest, FormErrors> {
    let mut errors = FormErrors::default();
    let facility_id = parse_id(&mut errors, c, "facility_id", &form.facility_id);
    let room_id = parse_id(&mut errors, c, "room_id", &form.room_id);
    let starts_on = parse_date(&mut errors, c, "starts_on", &form.starts_on);
    let ends_on = parse_date(&mut errors, c, "ends_on", &form.ends_on);
    if form.starts_on.trim().is_empty() {
        errors.add("starts_on", field_message(c, "starts_on"));
    }
    if form.ends_on.trim().is_empty() {
        errors.add("ends_on", field_message(c, "ends_on"));
    }
    let expected: Option<Vec<i64>> = if form.expected.trim().is_empty() {
        None
    } else {
        form.expected
            .split(',')
            .map(|id| id.trim().parse().ok())
            .collect::<Option<Vec<i64>>>()
    };
    match (facility_id, starts_on, ends_on) {
        (Some(facility_id), Some(starts_on), Some(ends_on)) if errors.is_empty() => {
            Ok(ClosureRequest {
                facility_id,
                room_id,
                starts_on,
                ends_on,
                kind: form.closure_kind.trim().to_owned(),
                reason: form.reason.clone(),
                confirm: form.confirm == "true",
                expected_booking_ids: expected.or_else(|| Some(Vec::new())),
            })
        }
        _ => {
            if facility_id.is_none() && !errors.has("facility_id") {
                errors.add("facility_id", field_message(c, "facility_id"));
            }
            Err(errors)
        }
    }
}

/// The closure's fields as the form names them.
const CLOSURE_FIELDS: &[(&str, &str)] = &[("kind", "closure_kind")];

pub struct AffectedLine {
    pub id: i64,
    pub room: String,
    pub when: String,
    pub holder: String,
    pub state: &'static str,
    pub refund: String,
}

#[derive(Template)]
#[template(path = "console/closure-preview.html")]
pub struct ClosurePreviewPage<'a> {
    pub c: &'a Chrome,
    pub form: ClosureForm,
    pub place: String,
    pub days: String,
    pub kind: &'static str,
    pub slots_to_close: u64,
    pub affected: Vec<AffectedLine>,
    pub refund_total: String,
    pub expected: String,
    pub changed: bool,
    pub errors: FormErrors,
}

fn booking_state_label(c: &Chrome, state: &str) -> &'static str {
    match state {
        "awaiting_payment" => c.t("console.calendar.booking.awaiting_payment"),
        _ => c.t("console.calendar.booking.confirmed"),
    }
}

async fn render_preview(
    state: &AppState,
    c: &Chrome,
    actor: Actor,
    form: ClosureForm,
    req: &ClosureRequest,
    changed: bool,
    errors: FormErrors,
) -> Response {
    let preview: ClosurePreview =
        match service::preview_closure(&state.db, actor, req, Utc::now()).await {
            Ok(p) => p,
            Err(ConsoleError::Invalid(problems)) => {
                let errors = form_errors(c, &problems, CLOSURE_FIELDS);
                return render_closures(
                    state,
                    c,
                    actor,
                    Some(req.facility_id),
                    None,
                    form,
                    BlockForm::default(),
                    errors,
                )
                .await;
            }
            Err(e) => return refused(c, e),
        };
    let rooms = service::rooms_for_choice(&state.db, actor, req.facility_id)
        .await
        .unwrap_or_default();
    let place = match req.room_id.and_then(|id| rooms.iter().find(|r| r.id == id)) {
        Some(r) => c.pick(&r.name, &r.name_en).to_owned(),
        None => c.t("console.calendar.whole_facility").to_owned(),
    };
    let page = ClosurePreviewPage {
        c,
        place,
        days: day_range(c, &preview.starts_on, &preview.ends_on),
        kind: kind_label(c, &preview.kind),
        slots_to_close: preview.slots_to_close,
        affected: preview
            .affected
            .iter()
            .map(|b| AffectedLine {
                id: b.id,
                room: c.pick(&b.room_name, &b.room_name_en).to_owned(),
                when: c.when(&b.starts_at, &b.ends_at),
                holder: b.holder_name.clone(),
                state: booking_state_label(c, &b.state),
                refund: c.yen(&b.refund_yen),
            })
            .collect(),
        refund_total: c.yen(&preview.refund_total_yen),
        expected: preview
            .affected
            .iter()
            .map(|b| b.id.to_string())
            .collect::<Vec<_>>()
            .join(","),
        form,
        changed,
        errors,
    };
    let status = if page.errors.is_empty() && !changed {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    c.respond(status, &page)
}

async fn preview_closure(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    Form(form): Form<ClosureForm>,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let req = match closure_request(&c, &form) {
        Ok(req) => req,
        Err(errors) => {
            let facility_id = form.facility_id.trim().parse().ok();
            return render_closures(
                &state,
                &c,
                actor,
                facility_id,
                None,
                form,
                BlockForm::default(),
                errors,
            )
            .await;
        }
    };
    render_preview(&state, &c, actor, form, &req, false, FormErrors::default()).await
}

async fn confirm_closure(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    Form(form): Form<ClosureForm>,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let req = match closure_request(&c, &form) {
        Ok(req) => req,
        Err(errors) => {
            let facility_id = form.facility_id.trim().parse().ok();
            return render_closures(
                &state,
                &c,
                actor,
                facility_id,
                None,
                form,
                BlockForm::default(),
                errors,
            )
            .await;
        }
    };
    let now = Utc::now();
    match service::create_closure(&state.db, actor, &state.booking_rules().refunds, &req, now).await
    {
        Ok(done) => {
            for b in &done.cancelled {
                payments::after_booking_ended(&state.db, &state.payments, b.id, now).await;
            }
            Redirect::to(&format!(
                "/staff/closures?facility_id={}&closed={}&cancelled={}",
                req.facility_id,
                done.closure.id,
                done.cancelled.len()
            ))
            .into_response()
        }
        Err(ConsoleError::ConfirmationRequired(_)) => {
            let mut errors = FormErrors::default();
            errors.add("confirm", field_message(&c, "confirm"));
            render_preview(&state, &c, actor, form, &req, false, errors).await
        }
        Err(ConsoleError::AffectedSetChanged { .. }) => {
            let form = ClosureForm {
                confirm: String::new(),
                ..form
            };
            render_preview(&state, &c, actor, form, &req, true, FormErrors::default()).await
        }
        Err(ConsoleError::Invalid(problems)) => {
            let errors = form_errors(&c, &problems, CLOSURE_FIELDS);
            render_closures(
                &state,
                &c,
                actor,
                Some(req.facility_id),
                None,
                form,
                BlockForm::default(),
                errors,
            )
            .await
        }
        Err(e) => refused(&c, e),
    }
}

/// The block's fields as the form names them.
const BLOCK_FIELDS: &[(&str, &str)] = &[
    ("room_id", "block_room_id"),
    ("starts_on", "block_starts_on"),
    ("ends_on", "block_ends_on"),
    ("reason", "block_reason"),
];

async fn create_block(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    Form(form): Form<BlockForm>,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let facility_id: Option<i32> = form.facility_id.trim().parse().ok();
    let mut errors = FormErrors::default();
    let room_id = parse_id(&mut errors, &c, "block_room_id", &form.block_room_id);
    let starts_on = parse_date(&mut errors, &c, "block_starts_on", &form.block_starts_on);
    let ends_on = parse_date(&mut errors, &c, "block_ends_on", &form.block_ends_on);
    for (field, value) in [
        ("block_room_id", &form.block_room_id),
        ("block_starts_on", &form.block_starts_on),
        ("block_ends_on", &form.block_ends_on),
    ] {
        if value.trim().is_empty() && !errors.has(field) {
            let name = BLOCK_FIELDS
                .iter()
                .find(|(_, id)| *id == field)
                .map(|(f, _)| *f)
                .unwrap_or(field);
            errors.add(field, field_message(&c, name));
        }
    }
    let result = match (room_id, starts_on, ends_on) {
        (Some(room_id), Some(starts_on), Some(ends_on)) if errors.is_empty() => {
            let req = BlockRequest {
                room_id,
                starts_on,
                ends_on,
                starts: form.starts.clone(),
                ends: form.ends.clone(),
                reason: form.block_reason.clone(),
            };
            service::create_block(&state.db, actor, &req, Utc::now()).await
        }
        _ => Err(ConsoleError::Invalid(Vec::new())),
    };
    match result {
        Ok(done) => Redirect::to(&format!(
            "/staff/closures?facility_id={}&blocked={}",
            done.block.facility_id, done.slots_blocked
        ))
        .into_response(),
        Err(ConsoleError::Invalid(problems)) => {
            if !problems.is_empty() {
                errors = FormErrors::default();
                for p in &problems {
                    let id = BLOCK_FIELDS
                        .iter()
                        .find(|(f, _)| *f == p.field)
                        .map(|(_, id)| *id)
                        .unwrap_or(p.field.as_str());
                    if !errors.has(id) {
                        errors.add(id, field_message(&c, &p.field));
                    }
                }
            }
            render_closures(
                &state,
                &c,
                actor,
                facility_id,
                None,
                ClosureForm::default(),
                form,
                errors,
            )
            .await
        }
        Err(ConsoleError::SlotsBooked(ids)) => {
            let mut errors = FormErrors::default();
            let list = ids
                .iter()
                .map(|id| format!("#{id}"))
                .collect::<Vec<_>>()
                .join(", ");
            errors.add(
                "block_starts_on",
                c.f("console.calendar.blocks.booked", list),
            );
            render_closures(
                &state,
                &c,
                actor,
                facility_id,
                None,
                ClosureForm::default(),
                form,
                errors,
            )
            .await
        }
        Err(e) => refused(&c, e),
    }
}

async fn lift_block(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    Path(id): Path<i32>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    match service::lift_block(&state.db, actor, id, Utc::now()).await {
        Ok(n) => Redirect::to(&format!(
            "/staff/closures?facility_id={}&lifted={n}",
            form.facility_id.trim()
        ))
        .into_response(),
        Err(e) => refused(&c, e),
    }
}

// ---------------------------------------------------------------------------------------------
// Slot setup: periods, equipment, regeneration

pub struct PeriodLine {
    pub season: String,
    pub days: &'static str,
    pub times: String,
    pub band: String,
    pub lighting: &'static str,
}

pub struct EquipmentLine {
    pub id: i32,
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub fee_yen: i32,
    pub quantity: i32,
}

pub struct RoomBlock {
    pub id: i32,
    pub name: String,
    pub template: String,
    pub shared: bool,
    pub periods: Vec<PeriodLine>,
    pub equipment: Vec<EquipmentLine>,
}

#[derive(Template)]
#[template(path = "console/templates.html")]
pub struct TemplatesPage<'a> {
    pub c: &'a Chrome,
    pub facility_id: i32,
    pub facility_name: String,
    pub facilities: Vec<Choice>,
    pub notice: Option<String>,
    pub rooms: Vec<RoomBlock>,
    pub regen_rooms: Vec<Choice>,
    pub regen_from: String,
    pub regen_to: String,
    pub errors: FormErrors,
    /// The room whose equipment form the errors belong to.
    pub error_room: i32,
    pub equipment: EquipmentForm,
}

fn days_label(c: &Chrome, code: &str) -> &'static str {
    match code {
        "weekday" => c.t("console.calendar.days.weekday"),
        "weekend_holiday" => c.t("console.calendar.days.weekend_holiday"),
        _ => c.t("console.calendar.days.any"),
    }
}

fn room_block(c: &Chrome, r: &RoomSetup) -> RoomBlock {
    RoomBlock {
        id: r.id,
        name: c.pick(&r.name, &r.name_en).to_owned(),
        template: c.pick(&r.template.name, &r.template.name_en).to_owned(),
        shared: r.template.shared,
        periods: r
            .periods
            .iter()
            .map(|p| PeriodLine {
                season: format!("{} – {}", p.season_from, p.season_to),
                days: days_label(c, &p.day_type),
                times: format!("{}–{}", p.starts, p.ends),
                band: p.band.clone(),
                lighting: if p.lighting {
                    c.t("console.calendar.yes")
                } else {
                    c.t("console.calendar.no")
                },
            })
            .collect(),
        equipment: r
            .equipment
            .iter()
            .map(|e| EquipmentLine {
                id: e.id,
                code: e.code.clone(),
                name: e.name.clone(),
                name_en: e.name_en.clone(),
                fee_yen: e.fee_yen,
                quantity: e.quantity,
            })
            .collect(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn render_templates(
    state: &AppState,
    c: &Chrome,
    actor: Actor,
    facility_id: Option<i32>,
    notice: Option<String>,
    errors: FormErrors,
    error_room: i32,
    equipment: EquipmentForm,
) -> Response {
    let setup: FacilitySetup = match slot_setup::setup(&state.db, actor, facility_id).await {
        Ok(s) => s,
        Err(e) => return refused(c, e),
    };
    let facilities = match service::facilities_of(&state.db, actor).await {
        Ok(list) => list,
        Err(e) => return c.internal(e),
    };
    let mut regen_rooms = vec![Choice {
        value: String::new(),
        label: c.t("console.calendar.all_rooms").to_owned(),
        selected: true,
    }];
    regen_rooms.extend(choices(&setup.rooms, "", |r| {
        (r.id.to_string(), c.pick(&r.name, &r.name_en).to_owned())
    }));
    let page = TemplatesPage {
        c,
        facility_id: setup.facility.id,
        facility_name: c
            .pick(&setup.facility.name, &setup.facility.name_en)
            .to_owned(),
        facilities: choices(&facilities, &setup.facility.id.to_string(), |f| {
            (f.id.to_string(), c.pick(&f.name, &f.name_en).to_owned())
        }),
        notice,
        rooms: setup.rooms.iter().map(|r| room_block(c, r)).collect(),
        regen_rooms,
        regen_from: String::new(),
        regen_to: String::new(),
        errors,
        error_room,
        equipment,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    c.respond(status, &page)
}

async fn templates_page(
    State(state): State<AppState>,
    c: Chrome,
    Query(params): Query<FacilityParams>,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    let mut errors = FormErrors::default();
    let facility_id = parse_id(&mut errors, &c, "facility_id", &params.facility_id);
    let notice = if !params.regenerated.is_empty() {
        Some(c.f("console.calendar.regen.done", params.regenerated.trim()))
    } else if !params.saved.is_empty() {
        Some(c.t("console.calendar.templates.saved").to_owned())
    } else {
        None
    };
    render_templates(
        &state,
        &c,
        actor,
        facility_id,
        notice,
        errors,
        0,
        EquipmentForm::default(),
    )
    .await
}

/// One editable row of the periods form.
pub struct PeriodRow {
    pub index: usize,
    pub p: PeriodInput,
}

#[derive(Template)]
#[template(path = "console/periods.html")]
pub struct PeriodsPage<'a> {
    pub c: &'a Chrome,
    pub room_id: i32,
    pub room_name: String,
    pub facility_id: i32,
    pub shared: bool,
    pub bands: String,
    pub rows: Vec<PeriodRow>,
    pub day_types: [&'static str; 3],
    pub errors: FormErrors,
}

impl PeriodsPage<'_> {
    pub fn days_label(&self, code: &str) -> &'static str {
        days_label(self.c, code)
    }

    pub fn row_error(&self, index: &usize) -> Option<&str> {
        self.errors.of(&format!("row{index}"))
    }
}

/// Blank rows offered after the existing periods, to add new ones without JavaScript.
const BLANK_ROWS: usize = 2;

async fn room_of_setup(
    state: &AppState,
    actor: Actor,
    room_id: i32,
) -> Result<(i32, RoomSetup), ConsoleError> {
    let (r, f) = service::room_in_scope(&state.db, actor, room_id).await?;
    if r.parent_room_id.is_some() {
        return Err(ConsoleError::NotFound("room"));
    }
    let setup = slot_setup::setup(&state.db, actor, Some(f.id)).await?;
    let room = setup
        .rooms
        .into_iter()
        .find(|s| s.id == room_id)
        .ok_or(ConsoleError::NotFound("room"))?;
    Ok((f.id, room))
}

fn render_periods(
    c: &Chrome,
    facility_id: i32,
    room: &RoomSetup,
    mut rows: Vec<PeriodInput>,
    errors: FormErrors,
) -> Response {
    rows.extend((0..BLANK_ROWS).map(|_| PeriodInput::default()));
    let page = PeriodsPage {
        c,
        room_id: room.id,
        room_name: c.pick(&room.name, &room.name_en).to_owned(),
        facility_id,
        shared: room.template.shared,
        bands: room.bands.join(", "),
        rows: rows
            .into_iter()
            .enumerate()
            .map(|(index, p)| PeriodRow { index, p })
            .collect(),
        day_types: ["any", "weekday", "weekend_holiday"],
        errors,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    c.respond(status, &page)
}

async fn periods_page(
    State(state): State<AppState>,
    c: Chrome,
    Path(room_id): Path<i32>,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    match room_of_setup(&state, actor, room_id).await {
        Ok((facility_id, room)) => {
            let rows = room.periods.clone();
            render_periods(&c, facility_id, &room, rows, FormErrors::default())
        }
        Err(e) => refused(&c, e),
    }
}

/// Rows of the periods form: `season_from_3=…` and so on; a row left wholly blank is dropped.
fn period_rows(form: &BTreeMap<String, String>) -> Vec<PeriodInput> {
    let mut rows: BTreeMap<usize, PeriodInput> = BTreeMap::new();
    for (key, value) in form {
        let Some((name, index)) = key.rsplit_once('_') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        let row = rows.entry(index).or_default();
        let value = value.trim().to_owned();
        match name {
            "season_from" => row.season_from = value,
            "season_to" => row.season_to = value,
            "day_type" => row.day_type = value,
            "starts" => row.starts = value,
            "ends" => row.ends = value,
            "band" => row.band = value,
            "lighting" => row.lighting = value == "true",
            _ => {}
        }
    }
    rows.into_values()
        .filter(|p| !(p.starts.is_empty() && p.ends.is_empty() && p.band.is_empty()))
        .collect()
}

async fn save_periods(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    Path(room_id): Path<i32>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    if !c.check_csrf(&state, &headers, csrf) {
        return c.stale_form();
    }
    let rows = period_rows(&form);
    match slot_setup::set_periods(&state.db, actor, room_id, &rows, Utc::now()).await {
        Ok(room) => {
            let facility = service::room_in_scope(&state.db, actor, room.id)
                .await
                .map(|(_, f)| f.id)
                .unwrap_or_default();
            Redirect::to(&format!(
                "/staff/templates?facility_id={facility}&saved=1#room-{}",
                room.id
            ))
            .into_response()
        }
        Err(ConsoleError::Invalid(problems)) => {
            let mut errors = FormErrors::default();
            for p in &problems {
                let (id, message) = match period_row(&p.field) {
                    Some(row) => (
                        format!("row{row}"),
                        c.f2(
                            "console.calendar.error.period_row",
                            row + 1,
                            period_field_message(&c, &p.field),
                        ),
                    ),
                    None => ("row0".to_owned(), field_message(&c, "periods")),
                };
                if !errors.has(&id) {
                    errors.add(&id, message);
                }
            }
            match room_of_setup(&state, actor, room_id).await {
                Ok((facility_id, room)) => render_periods(&c, facility_id, &room, rows, errors),
                Err(e) => refused(&c, e),
            }
        }
        Err(e) => refused(&c, e),
    }
}

/// What is wrong with one field of a period row.
fn period_field_message(c: &Chrome, field: &str) -> &'static str {
    let name = field.rsplit('.').next().unwrap_or_default();
    match name {
        "season_from" | "season_to" => c.t("console.calendar.error.season"),
        "day_type" => c.t("console.calendar.error.day_type"),
        "band" => c.t("console.calendar.error.band"),
        "starts" => c.t("console.calendar.error.period_times"),
        _ => c.t("console.calendar.error.period_times"),
    }
}

/// The equipment forms, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct EquipmentForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub facility_id: String,
    #[serde(default)]
    pub room_id: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub fee_yen: String,
    #[serde(default)]
    pub quantity: String,
}

fn equipment_request(form: &EquipmentForm, adding: bool) -> Result<EquipmentRequest, Vec<Invalid>> {
    let mut problems = Vec::new();
    let fee_yen = form.fee_yen.trim().parse::<i32>().map_err(|_| {
        problems.push(Invalid::new("fee_yen", "whole yen"));
    });
    let quantity = form.quantity.trim().parse::<i32>().map_err(|_| {
        problems.push(Invalid::new("quantity", "a whole number"));
    });
    match (fee_yen, quantity) {
        (Ok(fee_yen), Ok(quantity)) => Ok(EquipmentRequest {
            code: adding.then(|| form.code.clone()),
            name: form.name.clone(),
            name_en: form.name_en.clone(),
            fee_yen,
            quantity,
        }),
        _ => Err(problems),
    }
}

async fn equipment_result(
    state: &AppState,
    c: &Chrome,
    actor: Actor,
    form: EquipmentForm,
    room_id: i32,
    result: Result<crate::views::console_calendar::EquipmentView, ConsoleError>,
) -> Response {
    let facility_id: Option<i32> = form.facility_id.trim().parse().ok();
    match result {
        Ok(_) => Redirect::to(&format!(
            "/staff/templates?facility_id={}&saved=1#room-{room_id}",
            form.facility_id.trim()
        ))
        .into_response(),
        Err(ConsoleError::Invalid(problems)) => {
            let mut errors = FormErrors::default();
            for p in &problems {
                let id = format!("eq{room_id}-{}", p.field);
                if !errors.has(&id) {
                    errors.add(&id, field_message(c, &p.field));
                }
            }
            render_templates(state, c, actor, facility_id, None, errors, room_id, form).await
        }
        Err(e) => refused(c, e),
    }
}

async fn add_equipment(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    Path(room_id): Path<i32>,
    Form(form): Form<EquipmentForm>,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let result = match equipment_request(&form, true) {
        Ok(req) => slot_setup::add_equipment(&state.db, actor, room_id, &req, Utc::now()).await,
        Err(problems) => Err(ConsoleError::Invalid(problems)),
    };
    equipment_result(&state, &c, actor, form, room_id, result).await
}

async fn update_equipment(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    Path(id): Path<i32>,
    Form(form): Form<EquipmentForm>,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let result = match equipment_request(&form, false) {
        Ok(req) => slot_setup::update_equipment(&state.db, actor, id, &req, Utc::now()).await,
        Err(problems) => Err(ConsoleError::Invalid(problems)),
    };
    // Errors of an edit are shown with its room's forms.
    let room_id = form.room_id.trim().parse().unwrap_or_default();
    equipment_result(&state, &c, actor, form, room_id, result).await
}

/// The regeneration form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RegenerationForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub facility_id: String,
    #[serde(default)]
    pub regen_room_id: String,
    #[serde(default)]
    pub regen_from: String,
    #[serde(default)]
    pub regen_to: String,
}

pub struct ChangeLine {
    pub room: String,
    pub to_add: u64,
    pub to_remove: u64,
    pub kept: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/regeneration.html")]
pub struct RegenerationPage<'a> {
    pub c: &'a Chrome,
    pub form: RegenerationForm,
    pub days: String,
    pub to_add: u64,
    pub to_remove: u64,
    pub kept: u64,
    pub rooms: Vec<ChangeLine>,
}

fn regeneration_request(form: &RegenerationForm) -> Result<RegenerationRequest, Vec<Invalid>> {
    let mut problems = Vec::new();
    let facility_id = form.facility_id.trim().parse::<i32>().ok();
    let room_id = match form.regen_room_id.trim() {
        "" => None,
        text => match text.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                problems.push(Invalid::new("room_id", "a room"));
                None
            }
        },
    };
    let mut date = |field: &str, text: &str| match text.trim() {
        "" => None,
        text => match text.parse::<NaiveDate>() {
            Ok(d) => Some(d),
            Err(_) => {
                problems.push(Invalid::new(field, "a date"));
                None
            }
        },
    };
    let from = date("from", &form.regen_from);
    let to = date("to", &form.regen_to);
    match facility_id {
        Some(facility_id) if problems.is_empty() => Ok(RegenerationRequest {
            facility_id,
            room_id,
            from,
            to,
        }),
        _ => {
            problems.push(Invalid::new("facility_id", "a facility"));
            Err(problems)
        }
    }
}

async fn regeneration(
    state: AppState,
    c: Chrome,
    headers: HeaderMap,
    form: RegenerationForm,
    apply: bool,
) -> Response {
    let actor = match manager(&c) {
        Ok(a) => a,
        Err(page) => return page,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let facility_id: Option<i32> = form.facility_id.trim().parse().ok();
    let result = match regeneration_request(&form) {
        Ok(req) => {
            slot_setup::regenerate(
                &state.db,
                actor,
                &req,
                state.settings.slot_window_days,
                apply,
                Utc::now(),
            )
            .await
        }
        Err(problems) => Err(ConsoleError::Invalid(problems)),
    };
    let report: RegenerationReport = match result {
        Ok(r) => r,
        Err(ConsoleError::Invalid(problems)) => {
            let mut errors = FormErrors::default();
            for p in &problems {
                let id = format!("regen_{}", p.field);
                if !errors.has(&id) {
                    errors.add(&id, field_message(&c, &p.field));
                }
            }
            return render_templates(
                &state,
                &c,
                actor,
                facility_id,
                None,
                errors,
                0,
                EquipmentForm::default(),
            )
            .await;
        }
        Err(e) => return refused(&c, e),
    };
    if apply {
        return Redirect::to(&format!(
            "/staff/templates?facility_id={}&regenerated={}%2F{}%2F{}",
            form.facility_id.trim(),
            report.to_add,
            report.to_remove,
            report.kept
        ))
        .into_response();
    }
    let page = RegenerationPage {
        c: &c,
        days: day_range(&c, &report.from, &report.to),
        to_add: report.to_add,
        to_remove: report.to_remove,
        kept: report.kept,
        rooms: report
            .rooms
            .iter()
            .map(|r| ChangeLine {
                room: c.pick(&r.name, &r.name_en).to_owned(),
                to_add: r.to_add,
                to_remove: r.to_remove,
                kept: r
                    .kept
                    .iter()
                    .map(|k| c.when(&k.starts_at, &k.ends_at))
                    .collect(),
            })
            .collect(),
        form: RegenerationForm {
            regen_from: report.from.to_string(),
            regen_to: report.to.to_string(),
            ..form
        },
    };
    c.respond(StatusCode::OK, &page)
}

async fn preview_regeneration(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    Form(form): Form<RegenerationForm>,
) -> Response {
    regeneration(state, c, headers, form, false).await
}

async fn apply_regeneration(
    State(state): State<AppState>,
    c: Chrome,
    headers: HeaderMap,
    Form(form): Form<RegenerationForm>,
) -> Response {
    regeneration(state, c, headers, form, true).await
}
