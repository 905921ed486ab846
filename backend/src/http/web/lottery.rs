//! Lottery (抽選) pages over services::lottery, the same use cases as `/api/v1/lottery`: the
//! rounds; a round's page with its calendar, commitment and (while it takes applications) the
//! application form; its published results; and "my lottery", where winners confirm.
//!
//! Choosing wishes works without JavaScript: the wishes so far ride in the page's address
//! (`wish` repeated, like the booking page's `slot`), a GET form picks a facility and a day,
//! and each free slot there is a link that adds it. The application form lists the wishes with
//! a plain select for each one's rank; the server orders them by it. With htmx the links and
//! the GET form swap only the wish builder and move focus to its heading.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate, Utc};

use super::groups::rule_message;
use super::i18n::Lang;
use super::page::{Chrome, FormErrors};
use crate::domain::lottery::RoundPhase;
use crate::services::bookings::BookingError;
use crate::services::groups::{self, GroupError};
use crate::services::lottery::{self, LotteryError};
use crate::services::lottery_offer::{self, SlotLabel};
use crate::state::AppState;
use crate::views::lottery::{ApplicationResponse, ApplyRequest, RoundResponse};

/// `2027年1月` / `January 2027`.
fn month_label(c: &Chrome, month: &NaiveDate) -> String {
    match c.lang {
        Lang::Ja => format!("{}年{}月", month.year(), month.month()),
        Lang::En => month.format("%B %Y").to_string(),
    }
}

fn phase_label(c: &Chrome, phase: RoundPhase) -> &'static str {
    c.t(match phase {
        RoundPhase::Upcoming => "lottery.phase_upcoming",
        RoundPhase::Open => "lottery.phase_open",
        RoundPhase::Closed => "lottery.phase_closed",
        RoundPhase::Drawn => "lottery.phase_drawn",
        RoundPhase::Settled => "lottery.phase_settled",
    })
}

/// `Tsurumi Sports Center, Main Gymnasium — Tue 12 Jan 2027 09:00–11:00`.
fn slot_text(c: &Chrome, label: Option<&SlotLabel>, slot_id: i64) -> String {
    match label {
        Some(l) => c.f2(
            "lottery.slot",
            format!(
                "{} {}",
                c.pick(&l.facility, &l.facility_en),
                c.pick(&l.room, &l.room_en)
            ),
            c.when(&l.starts_at, &l.ends_at),
        ),
        None => c.f("lottery.slot_unknown", slot_id),
    }
}

/// A round in the list.
pub struct RoundRow {
    pub r: RoundResponse,
    pub month: String,
    pub phase: &'static str,
    pub window: String,
}

fn round_row(c: &Chrome, r: RoundResponse) -> RoundRow {
    RoundRow {
        month: month_label(c, &r.month_of_use),
        phase: phase_label(c, r.phase),
        window: c.f2(
            "lottery.window",
            c.instant(&r.applications_open_at),
            c.instant(&r.applications_close_at),
        ),
        r,
    }
}

#[derive(Template)]
#[template(path = "lottery.html")]
pub struct RoundsPage<'a> {
    pub c: &'a Chrome,
    pub rounds: Vec<RoundRow>,
}

/// `GET /lottery`: every round, newest month first.
pub async fn rounds(c: Chrome, State(state): State<AppState>) -> Response {
    match lottery::list_rounds(&state.db, Utc::now()).await {
        Ok(list) => {
            let rounds = list.into_iter().map(|r| round_row(&c, r)).collect();
            c.respond(StatusCode::OK, &RoundsPage { c: &c, rounds })
        }
        Err(error) => c.internal(error),
    }
}

/// The round page's address: the wishes so far, the facility and day being looked at, and the
/// applicant (a group, or oneself).
#[derive(Debug, Default, Clone)]
struct Builder {
    wishes: Vec<i64>,
    /// Set once the person has changed the wishes: the page then shows these, not the saved
    /// application's.
    edit: bool,
    facility: Option<i32>,
    date: Option<NaiveDate>,
    group: Option<i32>,
}

impl Builder {
    fn parse(raw: &str) -> Builder {
        let mut b = Builder::default();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            let value = value.trim();
            match name.as_ref() {
                "wish" => {
                    if let Ok(id) = value.parse()
                        && !b.wishes.contains(&id)
                    {
                        b.wishes.push(id);
                    }
                }
                "edit" => b.edit = true,
                "facility" => b.facility = value.parse().ok(),
                "date" => b.date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok(),
                "group" => b.group = value.parse().ok(),
                _ => {}
            }
        }
        b
    }

    /// The page's address for these wishes.
    fn href(&self, round_id: i32, wishes: &[i64]) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("edit", "1");
        for w in wishes {
            query.append_pair("wish", &w.to_string());
        }
        if let Some(f) = self.facility {
            query.append_pair("facility", &f.to_string());
        }
        if let Some(d) = self.date {
            query.append_pair("date", &d.to_string());
        }
        if let Some(g) = self.group {
            query.append_pair("group", &g.to_string());
        }
        format!("/lottery/rounds/{round_id}?{}#wishes", query.finish())
    }
}

/// One chosen wish in the application form.
pub struct WishRow {
    pub slot_id: i64,
    pub label: String,
    pub rank: usize,
    pub remove_href: String,
}

/// A slot that can be added.
pub struct AddRow {
    pub label: String,
    pub add_href: Option<String>,
    pub chosen: bool,
}

/// A room of the facility looked at.
pub struct RoomRow {
    pub name: String,
    pub requires_group: bool,
    pub capacity: i32,
    pub slots: Vec<AddRow>,
}

/// An option of a select.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "lottery-round.html")]
pub struct RoundPage<'a> {
    pub c: &'a Chrome,
    pub row: RoundRow,
    pub draw_at: String,
    pub confirm_by: String,
    pub can_apply: bool,
    /// Taking applications (whoever is looking).
    pub phase_open: bool,
    pub results_published: bool,
    pub existing: Option<ApplicationResponse>,
    pub wishes: Vec<WishRow>,
    pub ranks: Vec<usize>,
    pub full: bool,
    pub hidden_wishes: Vec<i64>,
    pub facilities: Vec<Opt>,
    pub date: String,
    pub date_min: String,
    pub date_max: String,
    pub looked: bool,
    pub rooms: Vec<RoomRow>,
    pub groups: Vec<Opt>,
    pub group: Option<i32>,
    pub purpose: String,
    pub attendees: String,
    pub errors: FormErrors,
    pub problem: Option<String>,
    pub notice: Option<&'static str>,
}

/// What the application form sent, to show again with its problems.
#[derive(Debug, Default, Clone)]
struct Sent {
    purpose: String,
    attendees: String,
}

#[allow(clippy::too_many_arguments)]
async fn round_page(
    c: &Chrome,
    state: &AppState,
    round_id: i32,
    mut b: Builder,
    status: StatusCode,
    sent: Option<Sent>,
    (errors, problem): (FormErrors, Option<String>),
    notice: Option<&'static str>,
) -> Response {
    let now = Utc::now();
    let round = match lottery::get_round(&state.db, round_id, now).await {
        Ok(round) => round,
        Err(LotteryError::NotFound(_)) => return c.not_found(),
        Err(error) => return c.internal(error),
    };
    let user = c.user.clone();
    let resident = user.as_ref().is_some_and(|u| !u.is_staff());
    let can_apply = round.phase == RoundPhase::Open && resident;
    let mut existing = None;
    let mut groups_opts = Vec::new();
    if let (true, Some(user)) = (can_apply, user.as_ref()) {
        match lottery::my_lottery(&state.db, user.id, now).await {
            Ok(mine) => {
                existing = mine.applications.into_iter().find(|a| {
                    a.round_id == round.id && a.group_id == b.group && a.state == "submitted"
                })
            }
            Err(error) => return c.internal(error),
        }
        match groups::my_groups(&state.db, user.id, now).await {
            Ok(list) => {
                groups_opts = list
                    .into_iter()
                    .filter(|g| g.you_are_representative && g.state == "registered")
                    .map(|g| Opt {
                        value: g.id.to_string(),
                        selected: b.group == Some(g.id),
                        label: g.name,
                    })
                    .collect()
            }
            Err(error) => return c.internal(error),
        }
    }
    if !b.edit
        && let Some(a) = &existing
    {
        b.wishes = a.wishes.iter().map(|w| w.slot_id).collect();
    }
    let max = usize::try_from(round.max_wishes).unwrap_or(1).max(1);
    b.wishes.truncate(max);
    let month_start = round.month_of_use;
    let month_end = month_start
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(month_start);
    let b_date = b.date.filter(|d| *d >= month_start && *d <= month_end);
    b.date = b_date;

    let mut rooms = Vec::new();
    let mut facilities = Vec::new();
    let mut looked_ids = Vec::new();
    if can_apply {
        match lottery_offer::facilities(&state.db, round.id).await {
            Ok(list) => {
                facilities = list
                    .into_iter()
                    .map(|f| Opt {
                        value: f.id.to_string(),
                        selected: b.facility == Some(f.id),
                        label: c.pick(&f.name, &f.name_en).to_owned(),
                    })
                    .collect()
            }
            Err(error) => return c.internal(error),
        }
        if let (Some(facility), Some(day)) = (b.facility, b.date) {
            match lottery_offer::rooms_on(&state.db, round.id, facility, day, now).await {
                Ok(list) => {
                    for r in list {
                        let slots = r
                            .slots
                            .iter()
                            .map(|s| {
                                looked_ids.push(s.id);
                                let chosen = b.wishes.contains(&s.id);
                                let mut more = b.wishes.clone();
                                more.push(s.id);
                                AddRow {
                                    label: c.span(&s.starts_at, &s.ends_at),
                                    add_href: (!chosen && b.wishes.len() < max)
                                        .then(|| b.href(round.id, &more)),
                                    chosen,
                                }
                            })
                            .collect();
                        rooms.push(RoomRow {
                            name: c.pick(&r.name, &r.name_en).to_owned(),
                            requires_group: r.requires_group,
                            capacity: r.capacity,
                            slots,
                        });
                    }
                }
                Err(error) => return c.internal(error),
            }
        }
    }
    let labels = match lottery_offer::labels(&state.db, &b.wishes).await {
        Ok(labels) => labels,
        Err(error) => return c.internal(error),
    };
    let wishes = b
        .wishes
        .iter()
        .enumerate()
        .map(|(index, slot_id)| {
            let rest: Vec<i64> = b.wishes.iter().copied().filter(|w| w != slot_id).collect();
            WishRow {
                slot_id: *slot_id,
                label: slot_text(c, labels.get(slot_id), *slot_id),
                rank: index + 1,
                remove_href: b.href(round.id, &rest),
            }
        })
        .collect::<Vec<_>>();
    let sent = sent.unwrap_or_else(|| Sent {
        purpose: existing
            .as_ref()
            .map(|a| a.purpose.clone())
            .unwrap_or_default(),
        attendees: existing
            .as_ref()
            .map(|a| a.attendees.to_string())
            .unwrap_or_default(),
    });
    let page = RoundPage {
        c,
        draw_at: c.instant(&round.draw_at),
        confirm_by: c.instant(&round.confirm_by),
        results_published: matches!(round.phase, RoundPhase::Drawn | RoundPhase::Settled),
        can_apply,
        phase_open: round.phase == RoundPhase::Open,
        existing,
        ranks: (1..=wishes.len()).collect(),
        full: wishes.len() >= max,
        hidden_wishes: b.wishes.clone(),
        wishes,
        facilities,
        date: b.date.map(|d| d.to_string()).unwrap_or_default(),
        date_min: month_start.to_string(),
        date_max: month_end.to_string(),
        looked: b.facility.is_some() && b.date.is_some(),
        rooms,
        groups: groups_opts,
        group: b.group,
        purpose: sent.purpose,
        attendees: sent.attendees,
        errors,
        problem,
        notice,
        row: round_row(c, round),
    };
    c.respond(status, &page)
}

/// `GET /lottery/rounds/{id}`: the round, and while it is open the wish builder and the form.
pub async fn round(
    c: Chrome,
    State(state): State<AppState>,
    Path(id): Path<i32>,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.unwrap_or_default();
    let notice = form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "done")
        .and_then(|(_, v)| match v.as_ref() {
            "applied" => Some(c.t("lottery.applied")),
            "withdrawn" => Some(c.t("lottery.withdrawn")),
            _ => None,
        });
    round_page(
        &c,
        &state,
        id,
        Builder::parse(&raw),
        StatusCode::OK,
        None,
        (FormErrors::default(), None),
        notice,
    )
    .await
}

/// The application form.
#[derive(Debug, Default)]
struct ApplyForm {
    csrf: String,
    /// (slot, rank as chosen, position in the form)
    wishes: Vec<(i64, usize, usize)>,
    purpose: String,
    attendees: String,
    group: Option<i32>,
}

impl ApplyForm {
    fn parse(raw: &str) -> ApplyForm {
        let mut form = ApplyForm::default();
        let mut ranks: HashMap<i64, usize> = HashMap::new();
        let mut order: Vec<i64> = Vec::new();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            let value = value.trim().to_owned();
            match name.as_ref() {
                "csrf" => form.csrf = value,
                "purpose" => form.purpose = value,
                "attendees" => form.attendees = value,
                "group" => form.group = value.parse().ok(),
                "wish" => {
                    if let Ok(id) = value.parse::<i64>()
                        && !order.contains(&id)
                    {
                        order.push(id);
                    }
                }
                other => {
                    if let Some(id) = other.strip_prefix("rank_")
                        && let (Ok(id), Ok(rank)) = (id.parse::<i64>(), value.parse::<usize>())
                    {
                        ranks.insert(id, rank);
                    }
                }
            }
        }
        form.wishes = order
            .iter()
            .enumerate()
            .map(|(position, id)| (*id, ranks.get(id).copied().unwrap_or(usize::MAX), position))
            .collect();
        form
    }

    /// The wishes in the order of the ranks chosen (ties keep the form's order).
    fn ranked(&self) -> Vec<i64> {
        let mut wishes = self.wishes.clone();
        wishes.sort_by_key(|(_, rank, position)| (*rank, *position));
        wishes.into_iter().map(|(id, _, _)| id).collect()
    }
}

/// The form field a refusal concerns: `wishes[2]` is the third wish in rank order.
fn field_of(api_field: &str, ranked: &[i64]) -> String {
    if let Some(index) = api_field
        .strip_prefix("wishes[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|i| i.parse::<usize>().ok())
    {
        return match ranked.get(index) {
            Some(slot) => format!("rank_{slot}"),
            None => "wishes".to_owned(),
        };
    }
    match api_field {
        "purpose" | "attendees" => api_field.to_owned(),
        "group_id" => "group".to_owned(),
        _ => "wishes".to_owned(),
    }
}

/// A refusal of the application as messages next to fields, or a problem of the whole form.
fn explain(c: &Chrome, error: &LotteryError, ranked: &[i64]) -> (FormErrors, Option<String>) {
    let mut errors = FormErrors::default();
    let mut problem = None;
    let mut field = |api: &str, ja_key: &str, en: String| {
        let message = match c.lang {
            Lang::En => en,
            Lang::Ja => c.t(ja_key).to_owned(),
        };
        errors.add(&field_of(api, ranked), message);
    };
    match error {
        LotteryError::InvalidInput { field: f, message } => {
            let key = match field_of(f, ranked).as_str() {
                "purpose" => "lottery.err_purpose",
                "attendees" => "lottery.err_attendees",
                "group" => "lottery.err_group",
                _ => "lottery.err_wish",
            };
            field(f, key, message.clone());
        }
        LotteryError::NotInRound { field: f, .. } => {
            field(f, "lottery.err_not_in_round", error.to_string())
        }
        LotteryError::LimitReached { .. } => {
            field("wishes", "lottery.err_limit", error.to_string())
        }
        LotteryError::Group(GroupError::Rule(rule)) => {
            errors.add("group", rule_message(c, rule));
        }
        LotteryError::Group(_) | LotteryError::Booking(BookingError::Group(_)) => {
            field("group_id", "lottery.err_group", error.to_string())
        }
        LotteryError::WindowClosed { .. } => problem = Some(c.t("lottery.err_window").to_owned()),
        LotteryError::NotApproved => problem = Some(c.t("groups.err_not_approved").to_owned()),
        LotteryError::Forbidden => problem = Some(c.t("lottery.err_forbidden").to_owned()),
        _ => problem = Some(c.t("lottery.err_other").to_owned()),
    }
    (errors, problem)
}

fn refusal_status(error: &LotteryError) -> StatusCode {
    match error {
        LotteryError::InvalidInput { .. } => StatusCode::BAD_REQUEST,
        LotteryError::Forbidden | LotteryError::NotApproved => StatusCode::FORBIDDEN,
        LotteryError::WindowClosed { .. } | LotteryError::LimitReached { .. } => {
            StatusCode::CONFLICT
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// `POST /lottery/rounds/{id}/apply`: apply, or replace the application, with the wishes in
/// the order of their ranks.
pub async fn apply(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i32>,
    RawForm(raw): RawForm,
) -> Response {
    let form = ApplyForm::parse(&String::from_utf8_lossy(&raw));
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let user = match c.require_user() {
        Ok(user) => user.clone(),
        Err(redirect) => return redirect,
    };
    let ranked = form.ranked();
    let attendees = form.attendees.parse::<i32>();
    let result = match attendees {
        Err(_) => Err(LotteryError::InvalidInput {
            field: "attendees".to_owned(),
            message: "enter the number of people, at least 1".to_owned(),
        }),
        Ok(attendees) => {
            let request = ApplyRequest {
                wishes: ranked.clone(),
                purpose: form.purpose.clone(),
                attendees,
                group_id: form.group,
            };
            lottery::apply(
                &state.db,
                &state.rules.now().lottery,
                (user.id, user.role),
                id,
                &request,
                Utc::now(),
            )
            .await
            .map(|_| ())
        }
    };
    match result {
        Ok(()) => {
            let group = form
                .group
                .map(|g| format!("&group={g}"))
                .unwrap_or_default();
            Redirect::to(&format!("/lottery/rounds/{id}?done=applied{group}")).into_response()
        }
        Err(LotteryError::NotFound(_)) => c.not_found(),
        Err(LotteryError::Db(error)) => c.internal(error),
        Err(error) => {
            let b = Builder {
                wishes: ranked.clone(),
                edit: true,
                facility: None,
                date: None,
                group: form.group,
            };
            let sent = Sent {
                purpose: form.purpose.clone(),
                attendees: form.attendees.clone(),
            };
            round_page(
                &c,
                &state,
                id,
                b,
                refusal_status(&error),
                Some(sent),
                explain(&c, &error, &ranked),
                None,
            )
            .await
        }
    }
}

/// `POST /lottery/rounds/{id}/withdraw` (`group` for a group's application).
pub async fn withdraw(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i32>,
    RawForm(raw): RawForm,
) -> Response {
    let form = ApplyForm::parse(&String::from_utf8_lossy(&raw));
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    match lottery::withdraw(&state.db, user_id, id, form.group, Utc::now()).await {
        Ok(_) => Redirect::to(&format!("/lottery/rounds/{id}?done=withdrawn")).into_response(),
        Err(LotteryError::NotFound(_)) => c.not_found(),
        Err(LotteryError::Db(error)) => c.internal(error),
        Err(error) => {
            let b = Builder {
                group: form.group,
                ..Builder::default()
            };
            let explained = (
                FormErrors::default(),
                Some(
                    explain(&c, &error, &[])
                        .1
                        .unwrap_or_else(|| c.t("lottery.err_other").to_owned()),
                ),
            );
            round_page(
                &c,
                &state,
                id,
                b,
                refusal_status(&error),
                None,
                explained,
                None,
            )
            .await
        }
    }
}

/// One winner in the published results.
pub struct WinnerRow {
    pub applicant: String,
    pub rank: u16,
    pub slot: String,
    pub yours: bool,
}

#[derive(Template)]
#[template(path = "lottery-results.html")]
pub struct ResultsPage<'a> {
    pub c: &'a Chrome,
    pub row: RoundRow,
    pub commitment: String,
    pub seed: String,
    pub algorithm: String,
    pub applications: usize,
    pub slots: usize,
    pub winners: Vec<WinnerRow>,
    pub yours: Option<String>,
}

/// `GET /lottery/rounds/{id}/results`: the published draw, pseudonymised, with the seed that
/// anyone can check against the commitment published before the window closed.
pub async fn results(c: Chrome, State(state): State<AppState>, Path(id): Path<i32>) -> Response {
    let now = Utc::now();
    let round = match lottery::get_round(&state.db, id, now).await {
        Ok(round) => round,
        Err(LotteryError::NotFound(_)) => return c.not_found(),
        Err(error) => return c.internal(error),
    };
    let published = match lottery::results(&state.db, id).await {
        Ok(published) => published,
        Err(LotteryError::NotDrawn) => {
            return c.error(StatusCode::CONFLICT, c.t("lottery.not_drawn"));
        }
        Err(error) => return c.internal(error),
    };
    // The signed-in person's own pseudonyms in this round, to find their lines.
    let mut mine: Vec<String> = Vec::new();
    if let Some(user) = &c.user {
        match lottery::my_lottery(&state.db, user.id, now).await {
            Ok(my) => {
                mine = my
                    .applications
                    .into_iter()
                    .filter(|a| a.round_id == id)
                    .filter_map(|a| a.pseudonym)
                    .collect()
            }
            Err(error) => return c.internal(error),
        }
    }
    let ids: Vec<i64> = published.winners.iter().map(|w| w.slot_id).collect();
    let labels = match lottery_offer::labels(&state.db, &ids).await {
        Ok(labels) => labels,
        Err(error) => return c.internal(error),
    };
    let winners = published
        .winners
        .iter()
        .map(|w| WinnerRow {
            applicant: w.applicant.clone(),
            rank: w.rank,
            slot: slot_text(&c, labels.get(&w.slot_id), w.slot_id),
            yours: mine.contains(&w.applicant),
        })
        .collect();
    let page = ResultsPage {
        c: &c,
        commitment: published.commitment.clone(),
        seed: published.seed.clone(),
        algorithm: format!("{} v{}", published.algorithm, published.algorithm_version),
        applications: published.applications.len(),
        slots: published.slots.len(),
        winners,
        yours: (!mine.is_empty()).then(|| mine.join(", ")),
        row: round_row(&c, round),
    };
    c.respond(StatusCode::OK, &page)
}

/// A win as "my lottery" shows it.
pub struct WinRow {
    pub id: i64,
    pub slot: String,
    pub rank: i16,
    pub state: &'static str,
    pub confirmable: bool,
    pub booking_id: Option<i64>,
}

/// An application as "my lottery" shows it.
pub struct ApplicationRow {
    pub round_id: i32,
    pub round: String,
    pub phase: &'static str,
    pub open: bool,
    pub for_group: bool,
    pub withdrawn: bool,
    pub pseudonym: Option<String>,
    pub wishes: Vec<String>,
    pub wins: Vec<WinRow>,
    pub confirm_by: String,
    pub drawn: bool,
}

#[derive(Template)]
#[template(path = "lottery-mine.html")]
pub struct MinePage<'a> {
    pub c: &'a Chrome,
    pub applications: Vec<ApplicationRow>,
    pub problem: Option<String>,
}

async fn mine_page(
    c: &Chrome,
    state: &AppState,
    status: StatusCode,
    problem: Option<String>,
) -> Response {
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    let now = Utc::now();
    let mine = match lottery::my_lottery(&state.db, user_id, now).await {
        Ok(mine) => mine,
        Err(error) => return c.internal(error),
    };
    let ids: Vec<i64> = mine
        .applications
        .iter()
        .flat_map(|a| a.wishes.iter().map(|w| w.slot_id))
        .collect();
    let labels = match lottery_offer::labels(&state.db, &ids).await {
        Ok(labels) => labels,
        Err(error) => return c.internal(error),
    };
    let applications = mine
        .applications
        .iter()
        .filter_map(|a| {
            let round = mine.rounds.iter().find(|r| r.id == a.round_id)?;
            let deadline_open = now < round.confirm_by;
            Some(ApplicationRow {
                round_id: round.id,
                round: format!("{} ({})", round.name, month_label(c, &round.month_of_use)),
                phase: phase_label(c, round.phase),
                open: round.phase == RoundPhase::Open,
                drawn: matches!(round.phase, RoundPhase::Drawn | RoundPhase::Settled),
                for_group: a.group_id.is_some(),
                withdrawn: a.state == "withdrawn",
                pseudonym: a.pseudonym.clone(),
                wishes: a
                    .wishes
                    .iter()
                    .map(|w| slot_text(c, labels.get(&w.slot_id), w.slot_id))
                    .collect(),
                wins: a
                    .wins
                    .iter()
                    .map(|w| WinRow {
                        id: w.id,
                        slot: slot_text(c, labels.get(&w.slot_id), w.slot_id),
                        rank: w.rank,
                        state: c.t(match w.state.as_str() {
                            "confirmed" => "lottery.win_confirmed",
                            "lapsed" => "lottery.win_lapsed",
                            _ => "lottery.win_won",
                        }),
                        confirmable: w.state == "won" && deadline_open,
                        booking_id: w.booking_id,
                    })
                    .collect(),
                confirm_by: c.instant(&round.confirm_by),
            })
        })
        .collect();
    let page = MinePage {
        c,
        applications,
        problem,
    };
    c.respond(status, &page)
}

/// `GET /lottery/mine`: my applications, the draw's outcome and the wins to confirm.
pub async fn mine(c: Chrome, State(state): State<AppState>) -> Response {
    mine_page(&c, &state, StatusCode::OK, None).await
}

/// The confirm form.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /lottery/wins/{id}/confirm`: book the won slot; its booking page (to pay) comes next.
pub async fn confirm_win(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<ConfirmForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    match lottery::confirm_win(&state.db, &state.booking_rules(), user_id, id, Utc::now()).await {
        Ok(booking) => Redirect::to(&format!("/bookings/{}?booked=1", booking.id)).into_response(),
        Err(LotteryError::NotFound(_)) => c.not_found(),
        Err(LotteryError::Db(error)) => c.internal(error),
        Err(error) => {
            let message = match error {
                LotteryError::WinNotConfirmable(_) => c.t("lottery.err_not_confirmable"),
                _ => c.t("lottery.err_other"),
            };
            mine_page(&c, &state, StatusCode::CONFLICT, Some(message.to_owned())).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ApplyForm, Builder, field_of};

    #[test]
    fn wishes_are_ordered_by_the_ranks_chosen_and_ties_keep_the_form_order() {
        let form = ApplyForm::parse("wish=10&wish=11&wish=12&rank_10=3&rank_11=1&rank_12=1");
        assert_eq!(form.ranked(), vec![11, 12, 10]);
    }

    #[test]
    fn a_refused_wish_is_shown_next_to_its_rank() {
        assert_eq!(field_of("wishes[1]", &[11, 12, 10]), "rank_12");
        assert_eq!(field_of("wishes[9]", &[11]), "wishes");
        assert_eq!(field_of("group_id", &[]), "group");
        assert_eq!(field_of("attendees", &[]), "attendees");
    }

    #[test]
    fn the_builder_keeps_wishes_once_and_links_back_to_them() {
        let b = Builder::parse("wish=5&wish=5&wish=6&facility=2&date=2027-01-12");
        assert_eq!(b.wishes, vec![5, 6]);
        assert_eq!(
            b.href(3, &[6]),
            "/lottery/rounds/3?edit=1&wish=6&facility=2&date=2027-01-12#wishes"
        );
    }
}
