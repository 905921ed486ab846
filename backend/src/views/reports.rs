//! The console's reports as JSON and CSV: one row type per report, each keyed by facility, kind
//! of room and month of use, and the table each becomes (columns and cells) for the CSV and the
//! reports page, so the three show the same figures.

use serde::Serialize;
use utoipa::ToSchema;

use super::csv::{Cell, CsvWriter};
use crate::domain::reports::ratio;

/// What a report row is about.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ReportKey {
    pub facility_id: i32,
    pub facility_name: String,
    pub facility_name_en: String,
    /// `RoomKind` code, e.g. `gymnasium`.
    pub room_kind: String,
    /// Month of use, `YYYY-MM` (Japan time).
    pub month: String,
}

/// Occupancy of one facility's rooms of one kind in one month.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct OccupancyRow {
    #[serde(flatten)]
    pub key: ReportKey,
    /// Minutes offered, per room unit (a divisible gym's two halves count twice).
    pub offered_minutes: i64,
    /// Minutes booked, per room unit (a booked half counts once, the whole twice).
    pub booked_minutes: i64,
    /// `offered_minutes / 60`.
    pub offered_hours: f64,
    /// `booked_minutes / 60`.
    pub booked_hours: f64,
    /// `booked / offered`, four decimals; absent when nothing was offered.
    pub occupancy: Option<f64>,
}

impl OccupancyRow {
    pub fn new(key: ReportKey, offered_minutes: i64, booked_minutes: i64) -> Self {
        OccupancyRow {
            key,
            offered_minutes,
            booked_minutes,
            offered_hours: hours(offered_minutes),
            booked_hours: hours(booked_minutes),
            occupancy: ratio(booked_minutes, offered_minutes),
        }
    }
}

fn hours(minutes: i64) -> f64 {
    (minutes as f64 / 60.0 * 100.0).round() / 100.0
}

/// Payments for one facility's rooms of one kind used in one month, by payment method.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RevenueRow {
    #[serde(flatten)]
    pub key: ReportKey,
    /// `Provider` code: `stripe`, `embedded`, `counter_cash` or `counter_terminal`.
    pub method: String,
    pub payments: i64,
    pub paid_yen: i64,
    /// Refunded or being refunded.
    pub refunded_yen: i64,
    /// `paid_yen - refunded_yen`.
    pub net_yen: i64,
}

impl RevenueRow {
    pub fn new(key: ReportKey, method: String, payments: i64, paid: i64, refunded: i64) -> Self {
        RevenueRow {
            key,
            method,
            payments,
            paid_yen: paid,
            refunded_yen: refunded,
            net_yen: paid - refunded,
        }
    }
}

/// Refunds (made or pending) for one facility's rooms of one kind used in one month, by reason.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RefundRow {
    #[serde(flatten)]
    pub key: ReportKey,
    /// `RefundReason` code, e.g. `cancelled_by_resident`.
    pub reason: String,
    pub refunds: i64,
    pub refunded_yen: i64,
    /// The part not yet confirmed by the payment provider (or not yet handed back).
    pub pending_yen: i64,
}

/// No-shows among the bookings that reached their time.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct NoShowRow {
    #[serde(flatten)]
    pub key: ReportKey,
    /// Checked in, no-show, or confirmed and started.
    pub bookings_reached: i64,
    pub no_shows: i64,
    /// `no_shows / bookings_reached`, four decimals.
    pub no_show_rate: Option<f64>,
}

impl NoShowRow {
    pub fn new(key: ReportKey, reached: i64, no_shows: i64) -> Self {
        NoShowRow {
            key,
            bookings_reached: reached,
            no_shows,
            no_show_rate: ratio(no_shows, reached),
        }
    }
}

/// Lottery applications and wishes for one facility's rooms of one kind in one month of use.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct LotteryDemandRow {
    #[serde(flatten)]
    pub key: ReportKey,
    /// Submitted applications with at least one wish here.
    pub applications: i64,
    pub wishes: i64,
    /// Wishes ranked first.
    pub first_wishes: i64,
    /// Distinct slots wished for.
    pub wished_slots: i64,
    /// Distinct rooms wished for.
    pub wished_rooms: i64,
    /// `wishes / wished_slots`: how many want each slot that anyone wants.
    pub wishes_per_slot: Option<f64>,
    /// `wishes / wished_rooms`.
    pub wishes_per_room: Option<f64>,
}

impl LotteryDemandRow {
    pub fn new(
        key: ReportKey,
        applications: i64,
        wishes: i64,
        first_wishes: i64,
        wished_slots: i64,
        wished_rooms: i64,
    ) -> Self {
        LotteryDemandRow {
            key,
            applications,
            wishes,
            first_wishes,
            wished_slots,
            wished_rooms,
            wishes_per_slot: ratio(wishes, wished_slots),
            wishes_per_room: ratio(wishes, wished_rooms),
        }
    }
}

/// A report in JSON: its range and filters, and its rows.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReportResponse<T: ToSchema> {
    /// First month, `YYYY-MM`.
    pub from: String,
    /// Last month, `YYYY-MM` (included).
    pub to: String,
    pub facility_id: Option<i32>,
    pub room_kind: Option<String>,
    /// One row per facility, kind of room and month (and method or reason) that has figures.
    pub rows: Vec<T>,
}

/// One value of a report's table, typed so the CSV writes numbers as numbers and the page
/// formats yen, hours and percentages for people.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Int(i64),
    Yen(i64),
    Hours(f64),
    /// A share (0.25 is 25 %); empty when there is nothing to divide by.
    Ratio(Option<f64>),
    /// A plain number with decimals (wishes per slot).
    Decimal(Option<f64>),
}

/// A report row as a table row: the column names (also the CSV header and, under
/// `console.reports.col.`, the page's locale keys) and the cells in the same order.
pub trait TableRow {
    /// The columns after the common `month, facility_id, facility_name, room_kind`.
    const COLUMNS: &'static [&'static str];
    fn key(&self) -> &ReportKey;
    fn values(&self) -> Vec<Value>;
}

/// The columns every report starts with.
pub const KEY_COLUMNS: [&str; 4] = ["month", "facility_id", "facility_name", "room_kind"];

impl TableRow for OccupancyRow {
    const COLUMNS: &'static [&'static str] = &["offered_hours", "booked_hours", "occupancy"];
    fn key(&self) -> &ReportKey {
        &self.key
    }
    fn values(&self) -> Vec<Value> {
        vec![
            Value::Hours(self.offered_hours),
            Value::Hours(self.booked_hours),
            Value::Ratio(self.occupancy),
        ]
    }
}

impl TableRow for RevenueRow {
    const COLUMNS: &'static [&'static str] =
        &["method", "payments", "paid_yen", "refunded_yen", "net_yen"];
    fn key(&self) -> &ReportKey {
        &self.key
    }
    fn values(&self) -> Vec<Value> {
        vec![
            Value::Text(self.method.clone()),
            Value::Int(self.payments),
            Value::Yen(self.paid_yen),
            Value::Yen(self.refunded_yen),
            Value::Yen(self.net_yen),
        ]
    }
}

impl TableRow for RefundRow {
    const COLUMNS: &'static [&'static str] = &["reason", "refunds", "refunded_yen", "pending_yen"];
    fn key(&self) -> &ReportKey {
        &self.key
    }
    fn values(&self) -> Vec<Value> {
        vec![
            Value::Text(self.reason.clone()),
            Value::Int(self.refunds),
            Value::Yen(self.refunded_yen),
            Value::Yen(self.pending_yen),
        ]
    }
}

impl TableRow for NoShowRow {
    const COLUMNS: &'static [&'static str] = &["bookings_reached", "no_shows", "no_show_rate"];
    fn key(&self) -> &ReportKey {
        &self.key
    }
    fn values(&self) -> Vec<Value> {
        vec![
            Value::Int(self.bookings_reached),
            Value::Int(self.no_shows),
            Value::Ratio(self.no_show_rate),
        ]
    }
}

impl TableRow for LotteryDemandRow {
    const COLUMNS: &'static [&'static str] = &[
        "applications",
        "wishes",
        "first_wishes",
        "wished_slots",
        "wished_rooms",
        "wishes_per_slot",
        "wishes_per_room",
    ];
    fn key(&self) -> &ReportKey {
        &self.key
    }
    fn values(&self) -> Vec<Value> {
        vec![
            Value::Int(self.applications),
            Value::Int(self.wishes),
            Value::Int(self.first_wishes),
            Value::Int(self.wished_slots),
            Value::Int(self.wished_rooms),
            Value::Decimal(self.wishes_per_slot),
            Value::Decimal(self.wishes_per_room),
        ]
    }
}

/// The rows as CSV (UTF-8 with BOM, CRLF; see `views::csv`): the key columns, then the
/// report's own. Codes (kind, method, reason) are written as codes, as in the JSON.
pub fn to_csv<T: TableRow>(rows: &[T]) -> String {
    let header: Vec<&str> = KEY_COLUMNS.iter().chain(T::COLUMNS).copied().collect();
    let mut csv = CsvWriter::new(&header);
    for row in rows {
        let key = row.key();
        let values = row.values();
        let mut cells = vec![
            Cell::Text(&key.month),
            Cell::Int(i64::from(key.facility_id)),
            Cell::Text(&key.facility_name),
            Cell::Text(&key.room_kind),
        ];
        cells.extend(values.iter().map(|v| match v {
            Value::Text(text) => Cell::Text(text),
            Value::Int(n) | Value::Yen(n) => Cell::Int(*n),
            Value::Hours(h) => Cell::Decimal(Some(*h)),
            Value::Ratio(r) | Value::Decimal(r) => Cell::Decimal(*r),
        }));
        csv.row(cells);
    }
    csv.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ReportKey {
        ReportKey {
            facility_id: 3,
            facility_name: "=鶴見".into(),
            facility_name_en: "Tsurumi".into(),
            room_kind: "gymnasium".into(),
            month: "2026-04".into(),
        }
    }

    #[test]
    fn occupancy_is_booked_over_offered_and_absent_when_nothing_was_offered() {
        let row = OccupancyRow::new(key(), 480, 180);
        assert_eq!((row.offered_hours, row.booked_hours), (8.0, 3.0));
        assert_eq!(row.occupancy, Some(0.375));
        assert_eq!(OccupancyRow::new(key(), 0, 0).occupancy, None);
    }

    #[test]
    fn the_csv_has_the_key_columns_first_and_defuses_names() {
        let csv = to_csv(&[RevenueRow::new(key(), "counter_cash".into(), 2, 5000, 1200)]);
        assert_eq!(
            csv,
            "\u{FEFF}month,facility_id,facility_name,room_kind,method,payments,paid_yen,refunded_yen,net_yen\r\n\
             2026-04,3,'=鶴見,gymnasium,counter_cash,2,5000,1200,3800\r\n"
        );
    }
}
