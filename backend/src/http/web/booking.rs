//! The booking flow and my bookings: confirm the chosen slots with the price and the rules
//! (services::bookings::quote_booking), book (create_booking, with an Idempotency-Key generated
//! into the confirmation form so a double submit books once), the booking's page with payment
//! (services::payments::start_checkout), my bookings, and cancelling with the refund shown first.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, FixedOffset, Utc};

use super::page::{Chrome, FormErrors};
use crate::domain::booking::{BookingRuleError, CancelReason};
use crate::domain::calendar::tokyo;
use crate::domain::pricing::Purpose;
use crate::domain::pricing::{QuoteDayType, QuoteLine};
use crate::services::bookings::{self, BookingError};
use crate::services::{availability, facilities, groups, payments};
use crate::state::AppState;
use crate::views::booking::{BookingResponse, CreateBookingRequest, EquipmentRequest};

/// The booking form's fields, read from a query string or a form body (`slot` repeats).
#[derive(Debug, Default, Clone)]
struct BookingForm {
    room: Option<i32>,
    slots: Vec<i64>,
    purpose: String,
    attendees: String,
    key: String,
    csrf: String,
    /// `ordinary` (default), `admission_event` or `commercial`.
    purpose_kind: String,
    /// `equipment_<code>` fields: the code and the quantity as typed.
    equipment: Vec<(String, String)>,
    /// The registered group the booking is for.
    group: Option<i32>,
    /// "Update the price": show the confirmation again with the choices priced, book nothing.
    update: bool,
}

impl BookingForm {
    fn parse(raw: &str) -> BookingForm {
        let mut form = BookingForm::default();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            match name.as_ref() {
                "room" => form.room = value.trim().parse().ok(),
                "slot" => {
                    if let Ok(id) = value.trim().parse() {
                        form.slots.push(id);
                    }
                }
                "purpose" => form.purpose = value.into_owned(),
                "attendees" => form.attendees = value.into_owned(),
                "key" => form.key = value.into_owned(),
                "csrf" => form.csrf = value.into_owned(),
                "purpose_kind" => form.purpose_kind = value.into_owned(),
                "group" => form.group = value.trim().parse().ok(),
                "update" => form.update = true,
                other => {
                    if let Some(code) = other.strip_prefix("equipment_") {
                        form.equipment
                            .push((code.to_owned(), value.trim().to_owned()));
                    }
                }
            }
        }
        form
    }

    /// The kind of use chosen (anything unknown is ordinary use).
    fn purpose(&self) -> Purpose {
        match self.purpose_kind.as_str() {
            "admission_event" => Purpose::AdmissionEvent,
            "commercial" => Purpose::Commercial,
            _ => Purpose::Ordinary,
        }
    }

    /// The equipment asked for: quantities of at least 1 (empty and 0 ask for none).
    fn equipment_requests(&self) -> Vec<EquipmentRequest> {
        self.equipment
            .iter()
            .filter_map(|(code, quantity)| {
                let quantity: i32 = quantity.parse().ok()?;
                (quantity > 0).then(|| EquipmentRequest {
                    code: code.clone(),
                    quantity,
                })
            })
            .collect()
    }

    /// Equipment fields that are not a whole number of 0 or more.
    fn bad_equipment(&self) -> Vec<&str> {
        self.equipment
            .iter()
            .filter(|(_, q)| !q.is_empty() && q.parse::<u16>().is_err())
            .map(|(code, _)| code.as_str())
            .collect()
    }
}

/// The kinds of use, in the order the form offers them.
const PURPOSE_KINDS: [&str; 3] = ["ordinary", "admission_event", "commercial"];

/// A radio button of the form.
pub struct KindChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// A piece of equipment to rent, with the quantity chosen.
pub struct EquipmentRow {
    pub code: String,
    pub label: String,
    pub max: i32,
    pub value: String,
}

/// A group the booking can be for.
pub struct GroupChoice {
    pub id: i32,
    pub name: String,
    pub selected: bool,
}

/// One line of the price breakdown, ready to show.
pub struct PriceLine {
    pub label: String,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "book.html")]
pub struct ConfirmPage<'a> {
    pub c: &'a Chrome,
    pub room_id: i32,
    pub room: String,
    pub facility: String,
    pub slot_ids: Vec<i64>,
    pub when: Vec<String>,
    pub lines: Vec<PriceLine>,
    pub total: String,
    pub pay_by: String,
    pub rules: Vec<String>,
    pub purpose: String,
    pub attendees: String,
    pub capacity: i32,
    pub key: String,
    pub purpose_kinds: Vec<KindChoice>,
    pub equipment: Vec<EquipmentRow>,
    pub groups: Vec<GroupChoice>,
    pub requires_group: bool,
    pub errors: FormErrors,
    /// A refusal that no field can fix (a slot was taken, the rules forbid it).
    pub problem: Option<String>,
    pub back_href: String,
}

/// The page for a refusal before anything could be priced (no slots, not approved, …).
#[derive(Template)]
#[template(path = "book-refused.html")]
pub struct RefusedPage<'a> {
    pub c: &'a Chrome,
    pub message: String,
    pub back_href: String,
}

/// A booking error in the reader's language; `Some(field)` when a field of the form is at fault.
fn explain(c: &Chrome, error: &BookingError, form: &BookingForm) -> (Option<String>, String) {
    match error {
        BookingError::InvalidInput { field, message } => match field.as_str() {
            "purpose" => (Some("purpose".into()), c.t("book.err_purpose").to_owned()),
            "attendees" => (
                Some("attendees".into()),
                match c.lang {
                    super::i18n::Lang::En => message.clone(),
                    super::i18n::Lang::Ja => c.t("book.err_attendees").to_owned(),
                },
            ),
            "group_id" => (Some("group".into()), c.t("book.err_group").to_owned()),
            other => match equipment_field(other, &form.equipment_requests()) {
                Some(code) => (
                    Some(format!("equipment_{code}")),
                    c.t("book.err_equipment").to_owned(),
                ),
                None => (None, c.f("book.err_other", message)),
            },
        },
        BookingError::Group(_) => (Some("group".into()), c.t("book.err_group").to_owned()),
        BookingError::Rule(rule) => {
            let key = match rule {
                BookingRuleError::LimitReached(_) => "book.err_limit",
                BookingRuleError::BookingNotOpen { .. } => "book.err_not_open",
                BookingRuleError::LotteryPeriod => "book.err_lottery",
                BookingRuleError::BookingClosed => "book.err_closed",
                _ => "book.err_selection",
            };
            (None, c.t(key).to_owned())
        }
        BookingError::SlotTaken => (None, c.t("book.err_taken").to_owned()),
        BookingError::SlotClosed(_) | BookingError::UnknownSlots(_) => {
            (None, c.t("book.err_closed").to_owned())
        }
        BookingError::NotApproved => (None, c.t("book.err_not_approved").to_owned()),
        BookingError::RoomNotFound(_) | BookingError::NotFound => {
            (None, c.t("error.not_found").to_owned())
        }
        other => (None, c.f("book.err_other", other)),
    }
}

/// The code of the equipment an API field such as `equipment[1].quantity` is about.
fn equipment_field<'a>(field: &str, asked: &'a [EquipmentRequest]) -> Option<&'a str> {
    let index: usize = field
        .strip_prefix("equipment[")?
        .split(']')
        .next()?
        .parse()
        .ok()?;
    asked.get(index).map(|e| e.code.as_str())
}

fn request_of(
    form: &BookingForm,
    room: i32,
    purpose: &str,
    attendees: i32,
) -> CreateBookingRequest {
    CreateBookingRequest {
        room_id: room,
        slot_ids: form.slots.clone(),
        purpose: purpose.to_owned(),
        attendees,
        group_id: form.group,
        purpose_kind: Some(form.purpose()),
        equipment: form.equipment_requests(),
    }
}

/// Render the confirmation: price the selection (with a stand-in purpose, since the person has
/// not written one yet) and show the form.
async fn confirm_page(
    c: &Chrome,
    state: &AppState,
    user_id: i32,
    form: &BookingForm,
    room_id: i32,
    mut errors: FormErrors,
    problem: Option<String>,
) -> Response {
    let back_href = format!("/rooms/{room_id}");
    let room = match facilities::get_room(&state.db, room_id).await {
        Ok(room) => room,
        Err(crate::services::facilities::CatalogError::NotFound(_)) => return c.not_found(),
        Err(error) => return c.internal(error),
    };
    // The groups this person represents that may book: offered when the room needs one, and
    // whenever they have one (a group's booking may be priced differently).
    let groups = match groups::my_groups(&state.db, user_id, Utc::now()).await {
        Ok(list) => list
            .into_iter()
            .filter(|g| g.you_are_representative && g.state == "registered")
            .collect::<Vec<_>>(),
        Err(error) => return c.internal(error),
    };
    let mut form = form.clone();
    if room.requires_group && form.group.is_none() {
        match groups.first() {
            Some(g) => form.group = Some(g.id),
            None => {
                let page = RefusedPage {
                    c,
                    message: c.t("book.err_group_needed").to_owned(),
                    back_href,
                };
                return c.respond(StatusCode::UNPROCESSABLE_ENTITY, &page);
            }
        }
    }
    let form = &form;
    let mut probe = request_of(form, room_id, "quote", 1);
    let mut quoted = bookings::quote_booking(
        &state.db,
        &state.booking_rules(),
        user_id,
        &probe,
        Utc::now(),
    )
    .await;
    // Equipment the room cannot lend (too many asked for) is a mistake of that field: price
    // the rest, and say so next to it.
    if let Err(error) = &quoted
        && let (Some(field), message) = explain(c, error, form)
        && field.starts_with("equipment_")
    {
        errors.add(&field, message);
        probe.equipment.clear();
        quoted = bookings::quote_booking(
            &state.db,
            &state.booking_rules(),
            user_id,
            &probe,
            Utc::now(),
        )
        .await;
    }
    let quote = match quoted {
        Ok(quote) => quote,
        Err(BookingError::Db(error)) => return c.internal(error),
        Err(error) => {
            let (_, message) = explain(c, &error, form);
            let page = RefusedPage {
                c,
                message,
                back_href,
            };
            return c.respond(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let facility = match facilities::get_facility(&state.db, room.facility_id).await {
        Ok(f) => f,
        Err(error) => return c.internal(error),
    };
    let slots = match availability::slots_by_id(&state.db, &quote.slot_ids).await {
        Ok(slots) => slots,
        Err(error) => return c.internal(error),
    };
    let times: Vec<(DateTime<FixedOffset>, DateTime<FixedOffset>)> = slots
        .iter()
        .map(|s| {
            (
                s.starts_at.with_timezone(&tokyo()),
                s.ends_at.with_timezone(&tokyo()),
            )
        })
        .collect();
    if !errors.is_empty() && problem.is_none() {
        errors.0.sort_by_key(|e| e.field != "purpose");
    }
    let page = ConfirmPage {
        c,
        room_id,
        room: c.pick(&room.name, &room.name_en).to_owned(),
        facility: c
            .pick(&facility.summary.name, &facility.summary.name_en)
            .to_owned(),
        slot_ids: quote.slot_ids.clone(),
        when: times.iter().map(|(a, b)| c.when(a, b)).collect(),
        lines: price_lines(c, &quote.quote.lines, &times),
        total: c.yen(&quote.total_yen),
        pay_by: if quote.total_yen > 0 {
            c.instant(&quote.pay_by)
        } else {
            String::new()
        },
        rules: rules_text(c, state),
        purpose: form.purpose.clone(),
        attendees: form.attendees.clone(),
        capacity: room.capacity,
        key: if form.key.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            form.key.clone()
        },
        purpose_kinds: PURPOSE_KINDS
            .iter()
            .map(|value| KindChoice {
                value,
                label: c.t(&format!("book.kind_{value}")),
                checked: form.purpose_kind == *value
                    || (*value == "ordinary"
                        && !PURPOSE_KINDS.contains(&form.purpose_kind.as_str())),
            })
            .collect(),
        equipment: room
            .equipment
            .iter()
            .map(|e| EquipmentRow {
                label: c.f2(
                    "book.equipment_line",
                    c.pick(&e.name, &e.name_en),
                    c.yen(&i64::from(e.fee_yen)),
                ),
                max: e.quantity,
                value: form
                    .equipment
                    .iter()
                    .find(|(code, _)| *code == e.code)
                    .map(|(_, q)| q.clone())
                    .unwrap_or_else(|| "0".to_owned()),
                code: e.code.clone(),
            })
            .collect(),
        groups: groups
            .iter()
            .map(|g| GroupChoice {
                id: g.id,
                name: g.name.clone(),
                selected: form.group == Some(g.id),
            })
            .collect(),
        requires_group: room.requires_group,
        errors,
        problem,
        back_href,
    };
    let status = if page.errors.is_empty() && page.problem.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    c.respond(status, &page)
}

/// The refund tiers and the payment deadline, in words.
fn rules_text(c: &Chrome, state: &AppState) -> Vec<String> {
    let mut tiers = state.booking_rules().refunds.tiers.clone();
    tiers.sort_by_key(|t| std::cmp::Reverse(t.days_before_use_at_least));
    let mut out: Vec<String> = tiers
        .iter()
        .map(|t| {
            if t.days_before_use_at_least == 0 {
                c.f("rules.refund_last", t.percent)
            } else {
                c.f2("rules.refund_tier", t.days_before_use_at_least, t.percent)
            }
        })
        .collect();
    out.push(c.t("rules.unpaid").to_owned());
    out.push(c.t("rules.closure").to_owned());
    out
}

/// The quote's lines with the slot times they belong to.
fn price_lines(
    c: &Chrome,
    lines: &[QuoteLine],
    times: &[(DateTime<FixedOffset>, DateTime<FixedOffset>)],
) -> Vec<PriceLine> {
    let slot_label = |index: usize| {
        times
            .get(index)
            .map(|(a, b)| c.when(a, b))
            .unwrap_or_else(|| c.f("price.slot_n", index + 1))
    };
    lines
        .iter()
        .map(|line| match line {
            QuoteLine::Room {
                slot_index,
                band,
                day_type,
                base_yen,
                weekend_holiday_percent,
                non_resident_percent,
                purpose_percent,
                amount_yen,
            } => {
                let mut label = c.f2(
                    "price.room_line",
                    slot_label(*slot_index),
                    c.t(&format!("band.{}", super::catalogue::band_key(band))),
                );
                label.push_str(&c.f("price.base", c.yen(base_yen)));
                if *day_type == QuoteDayType::WeekendHoliday && *weekend_holiday_percent != 100 {
                    label.push_str(&c.f("price.weekend", weekend_holiday_percent));
                }
                if *non_resident_percent != 100 {
                    label.push_str(&c.f("price.non_resident", non_resident_percent));
                }
                if *purpose_percent != 100 {
                    label.push_str(&c.f("price.purpose", purpose_percent));
                }
                PriceLine {
                    label,
                    amount: c.yen(amount_yen),
                }
            }
            QuoteLine::Reduction {
                name,
                name_en,
                percent_off,
                amount_yen,
                ..
            } => PriceLine {
                label: c.f2("price.reduction", c.pick(name, name_en), percent_off),
                amount: c.yen(amount_yen),
            },
            QuoteLine::Equipment {
                name,
                name_en,
                quantity,
                slots,
                amount_yen,
                ..
            } => PriceLine {
                label: format!(
                    "{} × {} ({})",
                    c.pick(name, name_en),
                    quantity,
                    c.f("price.slots", slots)
                ),
                amount: c.yen(amount_yen),
            },
        })
        .collect()
}

/// `GET /book?room=…&slot=…&slot=…`: the confirmation page (sign in first).
pub async fn confirm(
    c: Chrome,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    let form = BookingForm::parse(query.as_deref().unwrap_or_default());
    let Some(room_id) = form.room else {
        return c.not_found();
    };
    if form.slots.is_empty() {
        let page = RefusedPage {
            c: &c,
            message: c.t("book.err_no_slots").to_owned(),
            back_href: format!("/rooms/{room_id}"),
        };
        return c.respond(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    confirm_page(
        &c,
        &state,
        user_id,
        &form,
        room_id,
        FormErrors::default(),
        None,
    )
    .await
}

/// `POST /book`: book. The form's Idempotency-Key makes a second submit of the same form return
/// the booking the first one made.
pub async fn create(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let form = BookingForm::parse(std::str::from_utf8(&body).unwrap_or_default());
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(_) => return c.error(StatusCode::UNAUTHORIZED, c.t("error.sign_in_again")),
    };
    let Some(room_id) = form.room else {
        return c.not_found();
    };
    if form.update {
        return confirm_page(
            &c,
            &state,
            user_id,
            &form,
            room_id,
            FormErrors::default(),
            None,
        )
        .await;
    }
    let mut errors = FormErrors::default();
    if form.purpose.trim().is_empty() {
        errors.add("purpose", c.t("book.err_purpose"));
    }
    for code in form.bad_equipment() {
        errors.add(&format!("equipment_{code}"), c.t("book.err_equipment"));
    }
    let attendees = match form.attendees.trim().parse::<i32>() {
        Ok(n) if n >= 1 => n,
        _ => {
            errors.add("attendees", c.t("book.err_attendees_number"));
            0
        }
    };
    if !errors.is_empty() {
        return confirm_page(&c, &state, user_id, &form, room_id, errors, None).await;
    }
    let request = request_of(&form, room_id, form.purpose.trim(), attendees);
    match bookings::create_booking(
        &state.db,
        &state.booking_rules(),
        user_id,
        &form.key,
        &request,
        Utc::now(),
    )
    .await
    {
        Ok((booking, _replayed)) => {
            Redirect::to(&format!("/bookings/{}?booked=1", booking.id)).into_response()
        }
        Err(BookingError::Db(error)) => c.internal(error),
        Err(error) => {
            let (field, message) = explain(&c, &error, &form);
            let mut errors = FormErrors::default();
            match field {
                Some(field) => {
                    errors.add(&field, message);
                    confirm_page(&c, &state, user_id, &form, room_id, errors, None).await
                }
                None => {
                    confirm_page(&c, &state, user_id, &form, room_id, errors, Some(message)).await
                }
            }
        }
    }
}

/// A booking as the pages show it.
pub struct BookingView {
    pub b: BookingResponse,
    pub room: String,
    pub facility: String,
    pub facility_id: i32,
    pub room_id: i32,
    pub when: String,
    pub state_label: &'static str,
    pub total: String,
    pub pay_by: String,
    pub refund: Option<String>,
    pub payable: bool,
    pub cancellable: bool,
    pub paid: bool,
}

/// Names of rooms and facilities, fetched once per room.
async fn describe(
    c: &Chrome,
    state: &AppState,
    list: Vec<BookingResponse>,
) -> Result<Vec<BookingView>, Response> {
    let mut names: HashMap<i32, (String, String, i32)> = HashMap::new();
    let mut out = Vec::with_capacity(list.len());
    let now = Utc::now();
    for b in list {
        if let std::collections::hash_map::Entry::Vacant(entry) = names.entry(b.room_id) {
            let room = facilities::get_room(&state.db, b.room_id)
                .await
                .map_err(|e| c.internal(e))?;
            let facility = facilities::get_facility(&state.db, room.facility_id)
                .await
                .map_err(|e| c.internal(e))?;
            entry.insert((
                c.pick(&room.name, &room.name_en).to_owned(),
                c.pick(&facility.summary.name, &facility.summary.name_en)
                    .to_owned(),
                room.facility_id,
            ));
        }
        let (room, facility, facility_id) = names[&b.room_id].clone();
        let state_code = b.state.as_str();
        let begun = b.starts_at.with_timezone(&Utc) <= now;
        out.push(BookingView {
            room,
            facility,
            facility_id,
            room_id: b.room_id,
            when: c.when(&b.starts_at, &b.ends_at),
            state_label: c.t(&format!("booking_state.{}", booking_state_key(state_code))),
            total: c.yen(&b.total_yen),
            pay_by: c.instant(&b.pay_by),
            refund: b.refund_yen.map(|r| c.yen(&r)),
            payable: state_code == "awaiting_payment" && b.total_yen > 0,
            cancellable: matches!(state_code, "awaiting_payment" | "confirmed") && !begun,
            paid: matches!(state_code, "confirmed" | "checked_in" | "no_show") && b.total_yen > 0,
            b,
        });
    }
    Ok(out)
}

fn booking_state_key(code: &str) -> &'static str {
    match code {
        "awaiting_payment" => "awaiting_payment",
        "confirmed" => "confirmed",
        "cancelled" => "cancelled",
        "expired" => "expired",
        "checked_in" => "checked_in",
        "no_show" => "no_show",
        _ => "other",
    }
}

#[derive(Template)]
#[template(path = "bookings.html")]
pub struct BookingsPage<'a> {
    pub c: &'a Chrome,
    pub upcoming: Vec<BookingView>,
    pub past: Vec<BookingView>,
}

/// `GET /bookings`: my bookings, those still to come first.
pub async fn list(c: Chrome, State(state): State<AppState>) -> Response {
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    let list = match bookings::list_bookings(&state.db, user_id).await {
        Ok(list) => list,
        Err(error) => return c.internal(error),
    };
    let views = match describe(&c, &state, list).await {
        Ok(views) => views,
        Err(response) => return response,
    };
    let now = Utc::now();
    let (mut upcoming, past): (Vec<_>, Vec<_>) = views.into_iter().partition(|v| {
        v.b.ends_at.with_timezone(&Utc) > now
            && matches!(v.b.state.as_str(), "awaiting_payment" | "confirmed")
    });
    upcoming.reverse();
    let page = BookingsPage {
        c: &c,
        upcoming,
        past,
    };
    c.respond(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "booking.html")]
pub struct BookingPage<'a> {
    pub c: &'a Chrome,
    pub v: BookingView,
    pub lines: Vec<PriceLine>,
    pub notice: Option<String>,
    pub problem: Option<String>,
}

/// Fields of the booking page's query: what just happened.
#[derive(Debug, Default, serde::Deserialize)]
pub struct BookingQuery {
    #[serde(default)]
    pub booked: Option<String>,
    #[serde(default)]
    pub cancelled: Option<String>,
}

async fn one_booking(
    c: &Chrome,
    state: &AppState,
    id: &str,
) -> Result<(i32, BookingView), Response> {
    let user_id = c.require_user()?.id;
    let id: i64 = id.parse().map_err(|_| c.not_found())?;
    let b = match bookings::get_booking(&state.db, user_id, id).await {
        Ok(b) => b,
        Err(BookingError::NotFound) => return Err(c.not_found()),
        Err(error) => return Err(c.internal(error)),
    };
    let mut views = describe(c, state, vec![b]).await?;
    let view = views.pop().ok_or_else(|| c.not_found())?;
    Ok((user_id, view))
}

async fn booking_page(
    c: &Chrome,
    state: &AppState,
    v: BookingView,
    notice: Option<String>,
    problem: Option<String>,
) -> Response {
    let slots = match availability::slots_by_id(&state.db, &v.b.slot_ids).await {
        Ok(slots) => slots,
        Err(error) => return c.internal(error),
    };
    let times: Vec<_> = slots
        .iter()
        .map(|s| {
            (
                s.starts_at.with_timezone(&tokyo()),
                s.ends_at.with_timezone(&tokyo()),
            )
        })
        .collect();
    let lines = price_lines(c, &v.b.quote.lines, &times);
    let status = if problem.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let page = BookingPage {
        c,
        v,
        lines,
        notice,
        problem,
    };
    c.respond(status, &page)
}

/// `GET /bookings/{id}`: one of my bookings.
pub async fn show(
    c: Chrome,
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<BookingQuery>,
) -> Response {
    let (_, v) = match one_booking(&c, &state, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let notice = if query.booked.is_some() {
        Some(if v.payable {
            c.f("booking.booked_pay", &v.pay_by)
        } else {
            c.t("booking.booked").to_owned()
        })
    } else if query.cancelled.is_some() && v.b.state == "cancelled" {
        Some(c.f(
            "booking.cancelled_refund",
            v.refund.clone().unwrap_or_else(|| c.yen(&0)),
        ))
    } else {
        None
    };
    booking_page(&c, &state, v, notice, None).await
}

#[derive(Template)]
#[template(path = "cancel.html")]
pub struct CancelPage<'a> {
    pub c: &'a Chrome,
    pub v: BookingView,
    pub paid: String,
    pub percent: u32,
    pub refund: String,
    pub nothing_paid: bool,
}

/// `GET /bookings/{id}/cancel`: what cancelling now gives back, and the button to do it.
pub async fn cancel_form(
    c: Chrome,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let (_, v) = match one_booking(&c, &state, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !v.cancellable {
        let message = c.t("cancel.not_cancellable").to_owned();
        return booking_page(&c, &state, v, None, Some(message)).await;
    }
    let paid = match payments::refundable_yen_within(&state.db, v.b.id).await {
        Ok(paid) => paid,
        Err(error) => return c.internal(error),
    };
    let decision = state.booking_rules().refunds.refund(
        paid,
        Utc::now(),
        v.b.starts_at.with_timezone(&Utc),
        CancelReason::Resident,
    );
    let page = CancelPage {
        c: &c,
        paid: c.yen(&paid),
        percent: decision.percent,
        refund: c.yen(&decision.amount_yen),
        nothing_paid: paid == 0,
        v,
    };
    c.respond(StatusCode::OK, &page)
}

/// The CSRF field of the small action forms.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /bookings/{id}/cancel`: cancel, then show the booking with its refund.
pub async fn cancel(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let (user_id, v) = match one_booking(&c, &state, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let now = Utc::now();
    match bookings::cancel_booking(&state.db, &state.booking_rules(), user_id, v.b.id, now).await {
        Ok(_) => {
            // After the commit: close open checkouts and give the money back (as the API does).
            payments::after_booking_ended(&state.db, &state.payments, v.b.id, now).await;
            Redirect::to(&format!("/bookings/{}?cancelled=1", v.b.id)).into_response()
        }
        Err(BookingError::NotCancellable(_)) => {
            let message = c.t("cancel.not_cancellable").to_owned();
            booking_page(&c, &state, v, None, Some(message)).await
        }
        Err(error) => c.internal(error),
    }
}

/// `POST /bookings/{id}/pay`: open a checkout (Stripe, or the embedded test-mode page) and go
/// there.
pub async fn pay(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let (user_id, v) = match one_booking(&c, &state, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match payments::start_checkout(&state.db, &state.payments, user_id, v.b.id, Utc::now()).await {
        Ok(checkout) => Redirect::to(&checkout.checkout_url).into_response(),
        Err(payments::PaymentError::NotPayable(_)) => {
            let message = c.t("booking.not_payable").to_owned();
            booking_page(&c, &state, v, None, Some(message)).await
        }
        Err(payments::PaymentError::Provider(_)) => {
            let message = c.t("booking.provider_down").to_owned();
            booking_page(&c, &state, v, None, Some(message)).await
        }
        Err(error) => c.internal(error),
    }
}
