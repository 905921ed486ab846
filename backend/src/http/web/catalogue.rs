//! Browsing before booking: the home page with the free-slot search and the facility list, a
//! facility's page, and a room's availability calendar. Each calls the same services as the JSON
//! API. With htmx, the search form and the calendar's week/month links swap only their region
//! (`hx-select` picks it out of the same full page a browser without JavaScript gets).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, NaiveDate, Utc};
use serde::Deserialize;

use super::page::{Chrome, FormErrors};
use crate::domain::calendar::{tokyo, tokyo_date};
use crate::domain::kinds::RoomKind;
use crate::services::availability::{self, SlotSearch};
use crate::services::facilities::{self, CatalogError, FacilityFilter};
use crate::state::AppState;
use crate::views::availability::SlotState;
use crate::views::facility::{FacilityResponse, RoomResponse, WardResponse};

/// How far ahead the search and the calendar look (slots exist about six months ahead).
const MAX_DAYS_AHEAD: i64 = 183;
/// Rooms shown in one search result; more means the search should be narrower.
const MAX_RESULT_ROOMS: usize = 30;
/// Free slots listed per room in the results; the room's calendar has them all.
const MAX_RESULT_SLOTS: usize = 6;

/// The search form's fields. Everything is text so that any input comes back to the form with a
/// message, never a bare 400.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub ward: String,
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub time: String,
}

/// A time of day offered by the search, as a window of minutes.
const TIMES: [(&str, i16, i16); 3] = [
    ("morning", 0, 12 * 60),
    ("afternoon", 12 * 60, 18 * 60),
    ("evening", 17 * 60, 24 * 60),
];

pub struct Option_ {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct ResultSlot {
    pub id: i64,
    pub label: String,
}

pub struct ResultRoom {
    pub room_id: i32,
    pub facility_id: i32,
    pub facility: String,
    pub room: String,
    pub ward: String,
    pub capacity: i32,
    pub slots: Vec<ResultSlot>,
    pub more: usize,
    pub date: String,
}

pub struct FacilityItem {
    pub id: i32,
    pub name: String,
    pub ward: String,
    pub kind: String,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub c: &'a Chrome,
    pub facility_count: u64,
    pub kinds: Vec<Option_>,
    pub wards: Vec<Option_>,
    pub times: Vec<Option_>,
    pub date: String,
    pub min_date: String,
    pub max_date: String,
    pub errors: FormErrors,
    pub searched: bool,
    pub results: Vec<ResultRoom>,
    pub found: usize,
    pub facilities: Vec<FacilityItem>,
}

/// `GET /`: the search form, its results when the form was sent, and the facility list.
pub async fn home(
    c: Chrome,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Response {
    let today = tokyo_date(Utc::now());
    let wards = match facilities::list_wards(&state.db).await {
        Ok(wards) => wards,
        Err(error) => return c.internal(error),
    };
    let mut errors = FormErrors::default();
    let searched = !(query.date.is_empty() && query.kind.is_empty() && query.ward.is_empty());
    let kind = match query.kind.as_str() {
        "" => None,
        code => match code.parse::<RoomKind>() {
            Ok(kind) => Some(kind),
            Err(_) => {
                errors.add("kind", c.t("search.err_kind"));
                None
            }
        },
    };
    let ward: Option<&WardResponse> = match query.ward.as_str() {
        "" => None,
        code => {
            let found = wards.iter().find(|w| w.code == code);
            if found.is_none() {
                errors.add("ward", c.t("search.err_ward"));
            }
            found
        }
    };
    let date = match query.date.as_str() {
        "" => Some(today),
        text => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) if d >= today && d <= today + Duration::days(MAX_DAYS_AHEAD) => Some(d),
            Ok(_) => {
                errors.add("date", c.f("search.err_date_range", MAX_DAYS_AHEAD));
                None
            }
            Err(_) => {
                errors.add("date", c.t("search.err_date"));
                None
            }
        },
    };
    let time = match query.time.as_str() {
        "" => None,
        code => {
            let found = TIMES.iter().find(|(name, _, _)| *name == code).copied();
            if found.is_none() {
                errors.add("time", c.t("search.err_time"));
            }
            found
        }
    };

    let mut results = Vec::new();
    let mut found = 0;
    if searched && errors.is_empty() {
        let date = date.unwrap_or(today);
        let search = SlotSearch {
            kind,
            ward_id: ward.map(|w| w.id),
            from: date,
            to: date,
            starts_after_minute: time.map(|t| t.1),
            ends_before_minute: time.map(|t| t.2),
            min_capacity: None,
        };
        match availability::search_free_slots(&state.db, &search, Utc::now()).await {
            Ok(rooms) => {
                found = rooms.len();
                results = rooms
                    .into_iter()
                    .take(MAX_RESULT_ROOMS)
                    .map(|r| ResultRoom {
                        room_id: r.room_id,
                        facility_id: r.facility_id,
                        facility: c.pick(&r.facility_name, &r.facility_name_en).to_owned(),
                        room: c.pick(&r.room_name, &r.room_name_en).to_owned(),
                        ward: wards
                            .iter()
                            .find(|w| w.code == r.ward_code)
                            .map(|w| c.pick(&w.name, &w.name_en).to_owned())
                            .unwrap_or(r.ward_name),
                        capacity: r.capacity,
                        more: r.slots.len().saturating_sub(MAX_RESULT_SLOTS),
                        slots: r
                            .slots
                            .iter()
                            .take(MAX_RESULT_SLOTS)
                            .map(|s| ResultSlot {
                                id: s.id,
                                label: format!(
                                    "{} {}",
                                    c.span(&s.starts_at, &s.ends_at),
                                    s.price_yen.map(|p| c.yen(&p)).unwrap_or_default()
                                ),
                            })
                            .collect(),
                        date: date.to_string(),
                    })
                    .collect();
            }
            Err(error) => return c.internal(error),
        }
    }

    let filter = FacilityFilter {
        ward: ward.map(|w| w.code.clone()),
        kind: None,
        text: None,
        page: 1,
        per_page: 200,
    };
    let (list, facility_count) = match facilities::list_facilities(&state.db, &filter).await {
        Ok(found) => found,
        Err(error) => return c.internal(error),
    };
    let facility_list = list
        .into_iter()
        .map(|f| FacilityItem {
            id: f.id,
            name: c.pick(&f.name, &f.name_en).to_owned(),
            ward: c.pick(&f.ward.name, &f.ward.name_en).to_owned(),
            kind: c.pick(f.kind.name_ja(), f.kind.name_en()).to_owned(),
        })
        .collect();
    let page = HomePage {
        c: &c,
        facility_count,
        kinds: RoomKind::ALL
            .iter()
            .map(|k| Option_ {
                value: k.code().to_owned(),
                label: c.pick(k.name_ja(), k.name_en()).to_owned(),
                selected: query.kind == k.code(),
            })
            .collect(),
        wards: wards
            .iter()
            .map(|w| Option_ {
                value: w.code.clone(),
                label: c.pick(&w.name, &w.name_en).to_owned(),
                selected: query.ward == w.code,
            })
            .collect(),
        times: TIMES
            .iter()
            .map(|(name, _, _)| Option_ {
                value: (*name).to_owned(),
                label: c.t(&format!("search.time_{name}")).to_owned(),
                selected: query.time == *name,
            })
            .collect(),
        date: if query.date.is_empty() {
            today.to_string()
        } else {
            query.date.clone()
        },
        min_date: today.to_string(),
        max_date: (today + Duration::days(MAX_DAYS_AHEAD)).to_string(),
        errors,
        searched,
        results,
        found,
        facilities: facility_list,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    c.respond(status, &page)
}

/// A room on the facility page.
pub struct RoomItem {
    pub room: RoomResponse,
    pub name: String,
    pub kind: String,
    pub prices: Vec<String>,
    pub notes: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "facility.html")]
pub struct FacilityPage<'a> {
    pub c: &'a Chrome,
    pub f: FacilityResponse,
    pub name: String,
    pub address: String,
    pub ward: String,
    pub kind: String,
    pub map_url: String,
    pub closing_days: Vec<String>,
    pub barrier_free: Vec<String>,
    pub description: String,
    pub rooms: Vec<RoomItem>,
}

/// `GET /facilities/{id}`.
pub async fn facility(
    c: Chrome,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i32>() else {
        return c.not_found();
    };
    let f = match facilities::get_facility(&state.db, id).await {
        Ok(f) => f,
        Err(CatalogError::NotFound(_)) => return c.not_found(),
        Err(error) => return c.internal(error),
    };
    let rooms = match facilities::list_rooms(&state.db, id).await {
        Ok(rooms) => rooms,
        Err(error) => return c.internal(error),
    };
    let s = &f.summary;
    let map_url = format!(
        "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}",
        lat = s.latitude,
        lon = s.longitude
    );
    let rooms = rooms
        .into_iter()
        .map(|room| {
            let mut notes = Vec::new();
            if room.parent_room_id.is_some() {
                notes.push(c.t("facility.note_half"));
            }
            if !room.half_room_ids.is_empty() {
                notes.push(c.t("facility.note_whole"));
            }
            if room.uses_lottery {
                notes.push(c.t("facility.note_lottery"));
            }
            if room.requires_group {
                notes.push(c.t("facility.note_group"));
            }
            RoomItem {
                name: c.pick(&room.name, &room.name_en).to_owned(),
                kind: c.pick(room.kind.name_ja(), room.kind.name_en()).to_owned(),
                prices: room
                    .prices
                    .iter()
                    .map(|p| {
                        c.f2(
                            "facility.price_line",
                            c.t(&format!("band.{}", band_key(&p.band))),
                            c.yen(&i64::from(p.amount_yen)),
                        )
                    })
                    .collect(),
                notes,
                room,
            }
        })
        .collect();
    let page = FacilityPage {
        c: &c,
        name: c.pick(&s.name, &s.name_en).to_owned(),
        address: c.pick(&s.address, &s.address_en).to_owned(),
        ward: c.pick(&s.ward.name, &s.ward.name_en).to_owned(),
        kind: c.pick(s.kind.name_ja(), s.kind.name_en()).to_owned(),
        map_url,
        closing_days: f
            .closing_days
            .iter()
            .map(|d| c.pick(&d.label, &d.label_en).to_owned())
            .collect(),
        barrier_free: match c.lang {
            super::i18n::Lang::En if !f.barrier_free_en.is_empty() => f.barrier_free_en.clone(),
            _ => f.barrier_free.clone(),
        },
        description: c.pick(&f.description, &f.description_en).to_owned(),
        rooms,
        f,
    };
    c.respond(StatusCode::OK, &page)
}

/// Price bands the locale files name; any other band shows under `other`.
pub fn band_key(band: &str) -> &'static str {
    match band {
        "morning" => "morning",
        "afternoon" => "afternoon",
        "evening" => "evening",
        "night" => "night",
        "day" => "day",
        "standard" => "standard",
        _ => "other",
    }
}

/// The calendar's query: the first day and whether a week or a month is shown.
#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub view: String,
}

pub struct CalendarSlot {
    pub id: i64,
    pub label: String,
    pub price: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub available: bool,
}

pub struct CalendarDay {
    pub date: String,
    pub label: String,
    pub slots: Vec<CalendarSlot>,
}

#[derive(Template)]
#[template(path = "room.html")]
pub struct RoomPage<'a> {
    pub c: &'a Chrome,
    pub room: RoomResponse,
    pub name: String,
    pub facility_name: String,
    pub kind: String,
    pub month: bool,
    pub range_label: String,
    pub days: Vec<CalendarDay>,
    pub available: usize,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    pub week_href: String,
    pub month_href: String,
}

fn state_code(state: SlotState) -> &'static str {
    match state {
        SlotState::Available => "available",
        SlotState::Held => "held",
        SlotState::Booked => "booked",
        SlotState::Closed => "closed",
        SlotState::Lottery => "lottery",
        SlotState::NotOpen => "not_open",
    }
}

/// `GET /rooms/{id}?from=YYYY-MM-DD&view=week|month`: the room's slots, a day per box, with a
/// checkbox for each free slot; the form goes to the booking confirmation.
pub async fn room(
    c: Chrome,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<CalendarQuery>,
) -> Response {
    let Ok(id) = id.parse::<i32>() else {
        return c.not_found();
    };
    let room = match facilities::get_room(&state.db, id).await {
        Ok(room) => room,
        Err(CatalogError::NotFound(_)) => return c.not_found(),
        Err(error) => return c.internal(error),
    };
    let facility = match facilities::get_facility(&state.db, room.facility_id).await {
        Ok(f) => f,
        Err(error) => return c.internal(error),
    };
    let today = tokyo_date(Utc::now());
    let last = today + Duration::days(MAX_DAYS_AHEAD);
    let from = NaiveDate::parse_from_str(&query.from, "%Y-%m-%d")
        .unwrap_or(today)
        .clamp(today, last);
    let month = query.view == "month";
    let length = if month { 31 } else { 7 };
    let to = from + Duration::days(length - 1);
    let slots = match availability::room_slots(&state.db, id, from, to, Utc::now()).await {
        Ok(slots) => slots,
        Err(error) => return c.internal(error),
    };
    let mut days: Vec<CalendarDay> = (0..length)
        .map(|n| {
            let date = from + Duration::days(n);
            CalendarDay {
                date: date.to_string(),
                label: c.date(&date),
                slots: Vec::new(),
            }
        })
        .collect();
    let mut available = 0;
    for s in &slots {
        let date = s.starts_at.with_timezone(&tokyo()).date_naive();
        let index = (date - from).num_days();
        let Some(day) = usize::try_from(index).ok().and_then(|i| days.get_mut(i)) else {
            continue;
        };
        let code = state_code(s.state);
        let is_free = s.state == SlotState::Available;
        available += usize::from(is_free);
        day.slots.push(CalendarSlot {
            id: s.id,
            label: c.span(&s.starts_at, &s.ends_at),
            price: s.price_yen.map(|p| c.yen(&p)).unwrap_or_default(),
            state: code,
            state_label: c.t(&format!("state.{code}")),
            available: is_free,
        });
    }
    let view = if month { "month" } else { "week" };
    let href = |start: NaiveDate, view: &str| format!("/rooms/{id}?from={start}&view={view}");
    let page = RoomPage {
        c: &c,
        name: c.pick(&room.name, &room.name_en).to_owned(),
        facility_name: c
            .pick(&facility.summary.name, &facility.summary.name_en)
            .to_owned(),
        kind: c.pick(room.kind.name_ja(), room.kind.name_en()).to_owned(),
        month,
        range_label: c.f2("room.range", c.date(&from), c.date(&to)),
        days,
        available,
        prev_href: (from > today).then(|| href((from - Duration::days(length)).max(today), view)),
        next_href: (to < last).then(|| href(to + Duration::days(1), view)),
        week_href: href(from, "week"),
        month_href: href(from, "month"),
        room,
    };
    c.respond(StatusCode::OK, &page)
}
