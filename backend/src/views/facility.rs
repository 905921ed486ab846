//! Facilities, wards and rooms as the API shows them.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::calendar::format_minute_of_day;
use crate::domain::kinds::{FacilityKind, RoomKind};
use crate::entities::{
    equipment, facility, regular_closing_day, room, room_price, slot_template, ward,
};

/// Filters of `GET /facilities`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FacilityQuery {
    /// Ward, by its local government code (`141011`), English name (`Tsurumi`) or Japanese name
    /// (`鶴見区`).
    pub ward: Option<String>,
    /// Kind of facility.
    pub kind: Option<FacilityKind>,
    /// Free text in Japanese (kanji, hiragana or katakana) or English; every word must match the
    /// name, kana, English name or address.
    pub q: Option<String>,
    /// Page number, from 1.
    pub page: Option<u64>,
    /// Results per page, 1–200 (default 100).
    pub per_page: Option<u64>,
}

/// A ward, as referenced by a facility.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WardResponse {
    pub id: i32,
    /// 全国地方公共団体コード (six digits with check digit).
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
}

impl From<ward::Model> for WardResponse {
    fn from(w: ward::Model) -> Self {
        WardResponse {
            id: w.id,
            code: w.code,
            name: w.name,
            name_kana: w.name_kana,
            name_en: w.name_en,
        }
    }
}

/// A facility in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacilitySummary {
    pub id: i32,
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
    pub ward: WardResponse,
    pub kind: FacilityKind,
    pub address: String,
    pub address_en: String,
    pub latitude: f64,
    pub longitude: f64,
    pub phone: String,
}

impl FacilitySummary {
    pub fn new(f: facility::Model, ward: WardResponse) -> Self {
        FacilitySummary {
            id: f.id,
            code: f.code,
            name: f.name,
            name_kana: f.name_kana,
            name_en: f.name_en,
            ward,
            kind: f.kind.parse().unwrap_or(FacilityKind::CommunityCenter),
            address: f.address,
            address_en: f.address_en,
            latitude: f.latitude,
            longitude: f.longitude,
            phone: f.phone,
        }
    }
}

/// Opening hours in local time.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpeningHours {
    /// `HH:MM`.
    pub opens: String,
    /// `HH:MM`.
    pub closes: String,
}

/// A regular closing day (休館日).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClosingDayResponse {
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    pub weekday: i16,
    /// The nth such weekday of the month, or absent for every week.
    pub nth_of_month: Option<i16>,
    /// e.g. `第3月曜日`.
    pub label: String,
    /// e.g. `3rd Monday of the month`.
    pub label_en: String,
}

impl From<regular_closing_day::Model> for ClosingDayResponse {
    fn from(d: regular_closing_day::Model) -> Self {
        const JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
        const EN: [&str; 7] = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ];
        let index = usize::try_from(d.weekday - 1).unwrap_or(0).min(6);
        let (label, label_en) = match d.nth_of_month {
            None => (
                format!("毎週{}曜日", JA[index]),
                format!("Every {}", EN[index]),
            ),
            Some(n) => {
                let suffix = match n {
                    1 => "st",
                    2 => "nd",
                    3 => "rd",
                    _ => "th",
                };
                (
                    format!("第{n}{}曜日", JA[index]),
                    format!("{n}{suffix} {} of the month", EN[index]),
                )
            }
        };
        ClosingDayResponse {
            weekday: d.weekday,
            nth_of_month: d.nth_of_month,
            label,
            label_en,
        }
    }
}

/// A facility with everything a resident needs before going there.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacilityResponse {
    #[serde(flatten)]
    pub summary: FacilitySummary,
    pub postal_code: String,
    pub opening_hours: OpeningHours,
    pub closing_days: Vec<ClosingDayResponse>,
    /// Closed on public holidays.
    pub closes_on_holidays: bool,
    /// Closed 29 December – 3 January.
    pub year_end_closure: bool,
    /// Barrier-free features, in Japanese.
    pub barrier_free: Vec<String>,
    /// The same, in English, in the same order.
    pub barrier_free_en: Vec<String>,
    pub description: String,
    pub description_en: String,
    /// Bookable rooms (a divisible room and each of its halves count).
    pub room_count: u64,
}

impl FacilityResponse {
    pub fn new(
        f: facility::Model,
        ward: WardResponse,
        closing_days: Vec<regular_closing_day::Model>,
        room_count: u64,
    ) -> Self {
        let strings = |value: &serde_json::Value| -> Vec<String> {
            serde_json::from_value(value.clone()).unwrap_or_default()
        };
        FacilityResponse {
            postal_code: f.postal_code.clone(),
            opening_hours: OpeningHours {
                opens: format_minute_of_day(f.opens_minute),
                closes: format_minute_of_day(f.closes_minute),
            },
            closing_days: closing_days.into_iter().map(Into::into).collect(),
            closes_on_holidays: f.closes_on_holidays,
            year_end_closure: f.year_end_closure,
            barrier_free: strings(&f.barrier_free_ja),
            barrier_free_en: strings(&f.barrier_free_en),
            description: f.description_ja.clone(),
            description_en: f.description_en.clone(),
            room_count,
            summary: FacilitySummary::new(f, ward),
        }
    }
}

/// Equipment rentable with a room (付帯設備).
#[derive(Debug, Serialize, ToSchema)]
pub struct EquipmentResponse {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// Per slot, in yen.
    pub fee_yen: i32,
    pub quantity: i32,
}

impl From<equipment::Model> for EquipmentResponse {
    fn from(e: equipment::Model) -> Self {
        EquipmentResponse {
            code: e.code,
            name: e.name,
            name_en: e.name_en,
            fee_yen: e.fee_yen,
            quantity: e.quantity,
        }
    }
}

/// The fee of one slot in a band, for a resident on a weekday, as of today.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceResponse {
    pub band: String,
    pub amount_yen: i32,
    /// `YYYY-MM-DD`.
    pub effective_from: String,
}

impl From<room_price::Model> for PriceResponse {
    fn from(p: room_price::Model) -> Self {
        PriceResponse {
            band: p.band,
            amount_yen: p.amount_yen,
            effective_from: p.effective_from.to_string(),
        }
    }
}

/// The slot template a room is generated from.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateRef {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

impl From<slot_template::Model> for TemplateRef {
    fn from(t: slot_template::Model) -> Self {
        TemplateRef {
            code: t.code,
            name: t.name,
            name_en: t.name_en,
        }
    }
}

/// A bookable room or field (室場).
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomResponse {
    pub id: i32,
    pub facility_id: i32,
    pub code: String,
    pub name: String,
    pub name_kana: String,
    pub name_en: String,
    pub kind: RoomKind,
    pub capacity: i32,
    pub area_m2: Option<i32>,
    /// For a half (半面): the whole room it belongs to.
    pub parent_room_id: Option<i32>,
    /// For a divisible whole (全面): its halves. Booking the whole blocks both; a half blocks the whole.
    pub half_room_ids: Vec<i32>,
    /// Allocated by lottery (抽選) before first-come booking opens.
    pub uses_lottery: bool,
    /// Only registered groups (団体) can book it.
    pub requires_group: bool,
    pub slot_template: Option<TemplateRef>,
    pub equipment: Vec<EquipmentResponse>,
    pub prices: Vec<PriceResponse>,
}

impl RoomResponse {
    pub fn new(
        r: room::Model,
        half_room_ids: Vec<i32>,
        template: Option<slot_template::Model>,
        equipment: Vec<equipment::Model>,
        prices: Vec<room_price::Model>,
    ) -> Self {
        RoomResponse {
            id: r.id,
            facility_id: r.facility_id,
            code: r.code,
            name: r.name,
            name_kana: r.name_kana,
            name_en: r.name_en,
            kind: r.kind.parse().unwrap_or(RoomKind::MeetingRoom),
            capacity: r.capacity,
            area_m2: r.area_m2,
            parent_room_id: r.parent_room_id,
            half_room_ids,
            uses_lottery: r.uses_lottery,
            requires_group: r.requires_group,
            slot_template: template.map(Into::into),
            equipment: equipment.into_iter().map(Into::into).collect(),
            prices: prices.into_iter().map(Into::into).collect(),
        }
    }
}
