//! Open data as files: the facility list as 公共施設一覧 CSV, and a room's availability as JSON
//! and as iCalendar (one event per free slot).

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::availability::SlotState;
use super::csv::{Cell, CsvWriter};
use crate::domain::ical::{self, Calendar, Event};
use crate::domain::kinds::FacilityKind;
use crate::domain::opendata::{FACILITY_COLUMNS, available_days, closing_notes, katakana};
use crate::services::opendata::{FacilityEntry, Publisher, RoomAvailability};

fn hh_mm(minute: i16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The facility list in the 公共施設一覧 layout: UTF-8 with BOM, CRLF, one row per facility.
/// `base_url` makes each facility's 予約 page link (URL).
pub fn facilities_csv(publisher: &Publisher, entries: &[FacilityEntry], base_url: &str) -> String {
    let mut csv = CsvWriter::new(&FACILITY_COLUMNS);
    let city = &publisher.city;
    let government = format!("{}{}", city.prefecture, city.name);
    let base = base_url.trim_end_matches('/');
    for entry in entries {
        let f = &entry.facility;
        let kind = f
            .kind
            .parse::<FacilityKind>()
            .map(FacilityKind::name_ja)
            .unwrap_or(f.kind.as_str());
        // 住所 is written from the prefecture on.
        let address = if f.address.starts_with(&city.prefecture) {
            f.address.clone()
        } else {
            format!("{}{}", city.prefecture, f.address)
        };
        let barrier_free: Vec<String> =
            serde_json::from_value(f.barrier_free_ja.clone()).unwrap_or_default();
        let days = available_days(&entry.closing_days, f.closes_on_holidays);
        let notes = closing_notes(
            &entry.closing_days,
            f.closes_on_holidays,
            f.year_end_closure,
        );
        let url = format!("{base}/facilities/{}", f.id);
        let remarks = if entry.rooms.is_empty() {
            String::new()
        } else {
            format!("室場: {}", entry.rooms.join("、"))
        };
        let name_kana = katakana(&f.name_kana);
        let barrier_free = barrier_free.join("、");
        let (opens, closes) = (hh_mm(f.opens_minute), hh_mm(f.closes_minute));
        csv.row([
            Cell::Text(&publisher.code),
            Cell::Text(&f.code),
            Cell::Text(&government),
            Cell::Text(&f.name),
            Cell::Text(&name_kana),
            Cell::Text(&f.name_en),
            Cell::Text(kind),
            Cell::Text(&address),
            Cell::Text(""),
            Cell::Decimal(Some(f.latitude)),
            Cell::Decimal(Some(f.longitude)),
            Cell::Text(&days),
            Cell::Text(&opens),
            Cell::Text(&closes),
            Cell::Text(&notes),
            Cell::Text("有料"),
            Cell::Text("室場・時間帯ごとの使用料は施設のページ（URL）をご覧ください。"),
            Cell::Text(&f.description_ja),
            Cell::Text(&barrier_free),
            Cell::Text(&f.phone),
            Cell::Text(""),
            Cell::Text(""),
            Cell::Text(""),
            Cell::Text(""),
            Cell::Text(&f.postal_code),
            Cell::Text(""),
            Cell::Text(""),
            Cell::Text(&url),
            Cell::Text(&remarks),
        ]);
    }
    csv.finish()
}

/// One slot of the open availability feed: when, and whether it is free to book now.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OpenSlot {
    /// The slot's id (stable: the iCalendar UID is made from it).
    pub id: i64,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    /// Free to book first-come now. Not free: booked or held, closed, in a lottery, or not
    /// open for booking yet.
    pub free: bool,
}

/// A room's availability (`/opendata/rooms/{id}/availability.json`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OpenAvailability {
    pub room_id: i32,
    pub room_name: String,
    pub room_name_en: String,
    pub facility_id: i32,
    pub facility_name: String,
    pub facility_name_en: String,
    /// First day, `YYYY-MM-DD` (Japan time).
    pub from: NaiveDate,
    /// Last day, included.
    pub to: NaiveDate,
    pub generated_at: DateTime<Utc>,
    pub slots: Vec<OpenSlot>,
}

impl OpenAvailability {
    pub fn new(
        data: &RoomAvailability,
        from: NaiveDate,
        to: NaiveDate,
        now: DateTime<Utc>,
    ) -> Self {
        OpenAvailability {
            room_id: data.room.id,
            room_name: data.room.name.clone(),
            room_name_en: data.room.name_en.clone(),
            facility_id: data.facility.id,
            facility_name: data.facility.name.clone(),
            facility_name_en: data.facility.name_en.clone(),
            from,
            to,
            generated_at: now,
            slots: data
                .slots
                .iter()
                .map(|s| OpenSlot {
                    id: s.id,
                    starts_at: s.starts_at,
                    ends_at: s.ends_at,
                    free: s.state == SlotState::Available,
                })
                .collect(),
        }
    }
}

/// The host part of a base URL, for iCalendar UIDs (`slot-42@host`).
fn host_of(base_url: &str) -> &str {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// A room's free slots as iCalendar: one VEVENT per free slot (busy and closed slots are left
/// out), UID `slot-<id>@<host>` so a subscribed calendar updates rather than duplicates.
pub fn availability_ics(data: &RoomAvailability, base_url: &str, now: DateTime<Utc>) -> String {
    let base = base_url.trim_end_matches('/');
    let host = host_of(base);
    let room = &data.room;
    let facility = &data.facility;
    let events = data
        .slots
        .iter()
        .filter(|s| s.state == SlotState::Available)
        .map(|s| Event {
            uid: format!("slot-{}@{host}", s.id),
            starts_at: s.starts_at.with_timezone(&Utc),
            ends_at: s.ends_at.with_timezone(&Utc),
            summary: format!("空き: {} / Free: {}", room.name, room.name_en),
            location: format!("{} {}", facility.name, facility.address),
            url: Some(format!("{base}/rooms/{}", room.id)),
        })
        .collect();
    ical::render(&Calendar {
        name: format!("{} {} の空き", facility.name, room.name),
        stamp: now,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_read_from_the_base_url() {
        assert_eq!(host_of("https://yoyaku.example/city"), "yoyaku.example");
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(hh_mm(570), "09:30");
        assert_eq!(hh_mm(1290), "21:30");
    }
}
