//! The reports page, `GET /staff/reports`: a plain GET form (facility, kind of room, months), a
//! link per report, a bar chart drawn on the server as SVG (`domain::reports::svg_bar_chart`)
//! with the full table beside it, and the same report as CSV. It calls the same service as the
//! JSON API, so the page, the JSON and the CSV show the same figures. No script is needed.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;

use crate::domain::kinds::RoomKind;
use crate::domain::reports::{Bar, BarChart, Month, svg_bar_chart};
use crate::http::console::require_console_user;
use crate::http::web::page::{Chrome, FormErrors, group_digits};
use crate::services::reports::{self, ReportError, ReportRequest, ReportScope};
use crate::state::AppState;
use crate::views::reports::{KEY_COLUMNS, ReportKey, TableRow, Value};

/// The five reports, in the order of the page's links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    Occupancy,
    Revenue,
    Refunds,
    NoShows,
    LotteryDemand,
}

impl Report {
    const ALL: [Report; 5] = [
        Report::Occupancy,
        Report::Revenue,
        Report::Refunds,
        Report::NoShows,
        Report::LotteryDemand,
    ];

    /// The name in URLs (`?report=`, and the API's path).
    pub fn slug(self) -> &'static str {
        match self {
            Report::Occupancy => "occupancy",
            Report::Revenue => "revenue",
            Report::Refunds => "refunds",
            Report::NoShows => "no-shows",
            Report::LotteryDemand => "lottery-demand",
        }
    }

    /// The locale table of the report, under `console.reports.`.
    fn key(self) -> &'static str {
        match self {
            Report::Occupancy => "occupancy",
            Report::Revenue => "revenue",
            Report::Refunds => "refunds",
            Report::NoShows => "no_shows",
            Report::LotteryDemand => "lottery_demand",
        }
    }

    fn from_slug(slug: &str) -> Option<Report> {
        Report::ALL.into_iter().find(|r| r.slug() == slug)
    }
}

/// The page's query, read leniently: a page never answers a bare 400.
#[derive(Clone, Debug, Default)]
struct PageQuery {
    report: String,
    facility_id: String,
    room_kind: String,
    from: String,
    to: String,
}

impl PageQuery {
    fn parse(raw: Option<&str>) -> Self {
        let mut query = PageQuery::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let value = value.trim().to_owned();
            match key.as_ref() {
                "report" => query.report = value,
                "facility_id" => query.facility_id = value,
                "room_kind" => query.room_kind = value,
                "from" => query.from = value,
                "to" => query.to = value,
                _ => {}
            }
        }
        query
    }

    /// The query string of this page (or the API) with the same filters.
    fn href(&self, path: &str, report: Option<&str>, csv: bool) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        if let Some(report) = report {
            out.append_pair("report", report);
        }
        for (key, value) in [
            ("facility_id", &self.facility_id),
            ("room_kind", &self.room_kind),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !value.is_empty() {
                out.append_pair(key, value);
            }
        }
        if csv {
            out.append_pair("format", "csv");
        }
        format!("{path}?{}", out.finish())
    }
}

/// An option of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A link to one report.
pub struct Tab {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// A column of the table.
pub struct Column {
    pub label: &'static str,
    /// Right-aligned figures.
    pub numeric: bool,
}

/// The report as a table for people.
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct ReportsPage<'a> {
    c: &'a Chrome,
    errors: FormErrors,
    report: Report,
    report_name: &'static str,
    report_about: &'static str,
    tabs: Vec<Tab>,
    facilities: Vec<Choice>,
    kinds: Vec<Choice>,
    from: String,
    to: String,
    /// The range shown, e.g. `2025-06 – 2026-05` (empty when the filters are wrong).
    range: String,
    chart_svg: String,
    table: Option<Table>,
    csv_href: String,
}

/// `GET /staff/reports`.
pub async fn reports_page(
    State(state): State<AppState>,
    c: Chrome,
    RawQuery(raw): RawQuery,
) -> Response {
    let user = match require_console_user(&c) {
        Ok(user) => user.clone(),
        Err(response) => return response,
    };
    if !user.is_manager() {
        return c.error(StatusCode::FORBIDDEN, c.t("console.reports.managers_only"));
    }
    let query = PageQuery::parse(raw.as_deref());
    let report = Report::from_slug(&query.report).unwrap_or(Report::Occupancy);
    let actor = (user.id, user.role);
    let facilities = match reports::facilities_in_scope(&state.db, actor).await {
        Ok(facilities) => facilities,
        Err(error) => return c.internal(error),
    };
    let mut errors = FormErrors::default();
    let facility_id = match query.facility_id.as_str() {
        "" => None,
        text => match text.parse::<i32>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("facility_id", c.t("console.reports.error.facility_id"));
                None
            }
        },
    };
    let request = ReportRequest {
        facility_id,
        room_kind: Some(query.room_kind.clone()).filter(|k| !k.is_empty()),
        from: Some(query.from.clone()).filter(|m| !m.is_empty()),
        to: Some(query.to.clone()).filter(|m| !m.is_empty()),
    };
    let now = Utc::now();
    let scope = if errors.is_empty() {
        match reports::authorize(&state.db, actor, &request, now).await {
            Ok(scope) => Some(scope),
            Err(ReportError::Forbidden) => {
                return c.error(
                    StatusCode::FORBIDDEN,
                    c.t("console.reports.not_your_facility"),
                );
            }
            Err(ReportError::Invalid(problems)) => {
                for p in problems {
                    errors.add(p.field, c.t(&format!("console.reports.error.{}", p.field)));
                }
                None
            }
            Err(ReportError::Db(error)) => return c.internal(error),
        }
    } else {
        None
    };
    let (chart, table) = match &scope {
        Some(scope) => match figures(&state, &c, report, scope, now).await {
            Ok(found) => (svg_bar_chart(&found.0), Some(found.1)),
            Err(error) => return c.internal(error),
        },
        None => (String::new(), None),
    };
    let page = ReportsPage {
        c: &c,
        report,
        report_name: c.t(&format!("console.reports.{}.name", report.key())),
        report_about: c.t(&format!("console.reports.{}.about", report.key())),
        tabs: Report::ALL
            .into_iter()
            .map(|r| Tab {
                href: query.href("/staff/reports", Some(r.slug()), false),
                label: c.t(&format!("console.reports.{}.name", r.key())),
                current: r == report,
            })
            .collect(),
        facilities: facilities
            .iter()
            .map(|f| Choice {
                value: f.id.to_string(),
                label: c.pick(&f.name, &f.name_en).to_owned(),
                selected: query.facility_id == f.id.to_string(),
            })
            .collect(),
        kinds: RoomKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.code().to_owned(),
                label: c.pick(k.name_ja(), k.name_en()).to_owned(),
                selected: query.room_kind == k.code(),
            })
            .collect(),
        from: scope
            .as_ref()
            .map_or(query.from.clone(), |s| s.range.from.to_string()),
        to: scope
            .as_ref()
            .map_or(query.to.clone(), |s| s.range.to.to_string()),
        range: scope
            .as_ref()
            .map(|s| format!("{} – {}", s.range.from, s.range.to))
            .unwrap_or_default(),
        chart_svg: chart,
        table,
        csv_href: query.href(
            &format!("/api/v1/admin/reports/{}", report.slug()),
            None,
            true,
        ),
        errors,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    c.respond(status, &page)
}

/// The report's chart and table.
async fn figures(
    state: &AppState,
    c: &Chrome,
    report: Report,
    scope: &ReportScope,
    now: chrono::DateTime<Utc>,
) -> Result<(BarChart, Table), sea_orm::DbErr> {
    let months = scope.range.months();
    let db = &state.db;
    Ok(match report {
        Report::Occupancy => {
            let rows = reports::occupancy(db, scope).await?;
            let bars = monthly(&rows, &months, |r| (r.booked_minutes, r.offered_minutes));
            (chart(c, report, percent_bars(&bars)), table(c, &rows))
        }
        Report::Revenue => {
            let rows = reports::revenue(db, scope).await?;
            let bars = monthly(&rows, &months, |r| (r.net_yen, 1));
            (chart(c, report, yen_bars(c, &bars)), table(c, &rows))
        }
        Report::Refunds => {
            let rows = reports::refunds(db, scope).await?;
            let bars = monthly(&rows, &months, |r| (r.refunded_yen, 1));
            (chart(c, report, yen_bars(c, &bars)), table(c, &rows))
        }
        Report::NoShows => {
            let rows = reports::no_shows(db, scope, now).await?;
            let bars = monthly(&rows, &months, |r| (r.no_shows, r.bookings_reached));
            (chart(c, report, percent_bars(&bars)), table(c, &rows))
        }
        Report::LotteryDemand => {
            let rows = reports::lottery_demand(db, scope).await?;
            let bars = monthly(&rows, &months, |r| (r.wishes, 1));
            let bars = bars
                .into_iter()
                .map(|(month, wishes, _)| Bar {
                    label: month.to_string(),
                    value: wishes as f64,
                    shown: group_digits(wishes),
                })
                .collect();
            (chart(c, report, bars), table(c, &rows))
        }
    })
}

/// Each month's sums of `(part, whole)` over the rows of that month (zero for months without
/// rows, so the chart has a bar for every month of the range).
fn monthly<T: TableRow>(
    rows: &[T],
    months: &[Month],
    figures: impl Fn(&T) -> (i64, i64),
) -> Vec<(Month, i64, i64)> {
    months
        .iter()
        .map(|month| {
            let label = month.to_string();
            let (part, whole) = rows
                .iter()
                .filter(|r| r.key().month == label)
                .map(&figures)
                .fold((0, 0), |(a, b), (p, w)| (a + p, b + w));
            (*month, part, whole)
        })
        .collect()
}

fn percent_bars(sums: &[(Month, i64, i64)]) -> Vec<Bar> {
    sums.iter()
        .map(|(month, part, whole)| {
            let share = crate::domain::reports::ratio(*part, *whole);
            Bar {
                label: month.to_string(),
                value: share.map_or(0.0, |s| s * 100.0),
                shown: share.map_or_else(|| "–".to_owned(), |s| format!("{:.1}%", s * 100.0)),
            }
        })
        .collect()
}

fn yen_bars(c: &Chrome, sums: &[(Month, i64, i64)]) -> Vec<Bar> {
    sums.iter()
        .map(|(month, yen, _)| Bar {
            label: month.to_string(),
            value: *yen as f64,
            shown: c.yen(yen),
        })
        .collect()
}

fn chart(c: &Chrome, report: Report, bars: Vec<Bar>) -> BarChart {
    let listed: Vec<String> = bars
        .iter()
        .map(|b| format!("{} {}", b.label, b.shown))
        .collect();
    BarChart {
        id: format!("chart-{}", report.slug()),
        title: c
            .t(&format!("console.reports.{}.chart", report.key()))
            .to_owned(),
        description: c.f("console.reports.chart_description", listed.join(", ")),
        bars,
    }
}

/// The rows as the page's table: month, facility, kind, then the report's own columns.
fn table<T: TableRow>(c: &Chrome, rows: &[T]) -> Table {
    let mut columns: Vec<Column> = KEY_COLUMNS
        .iter()
        .filter(|name| **name != "facility_id")
        .map(|name| Column {
            label: c.t(&format!("console.reports.col.{name}")),
            numeric: false,
        })
        .collect();
    columns.extend(T::COLUMNS.iter().map(|name| Column {
        label: c.t(&format!("console.reports.col.{name}")),
        numeric: !matches!(*name, "method" | "reason"),
    }));
    let rows = rows
        .iter()
        .map(|row| {
            let mut cells = key_cells(c, row.key());
            cells.extend(
                T::COLUMNS
                    .iter()
                    .zip(row.values())
                    .map(|(name, value)| cell(c, name, value)),
            );
            cells
        })
        .collect();
    Table { columns, rows }
}

fn key_cells(c: &Chrome, key: &ReportKey) -> Vec<String> {
    let kind = key
        .room_kind
        .parse::<RoomKind>()
        .map(|k| c.pick(k.name_ja(), k.name_en()).to_owned())
        .unwrap_or_else(|_| key.room_kind.clone());
    let facility = c.pick(&key.facility_name, &key.facility_name_en).to_owned();
    vec![key.month.clone(), facility, kind]
}

/// One value for people: codes named, yen and percentages formatted, "–" for no value.
fn cell(c: &Chrome, column: &str, value: Value) -> String {
    match value {
        Value::Text(code) => match column {
            "method" | "reason" => c.t(&format!("console.reports.{column}.{code}")).to_owned(),
            _ => code,
        },
        Value::Int(n) => group_digits(n),
        Value::Yen(n) => c.yen(&n),
        Value::Hours(h) => format!("{h:.1}"),
        Value::Ratio(Some(r)) => format!("{:.1}%", r * 100.0),
        Value::Decimal(Some(x)) => format!("{x:.2}"),
        Value::Ratio(None) | Value::Decimal(None) => "–".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payments::{Provider, RefundReason};
    use crate::http::web::i18n::Lang;

    #[test]
    fn every_method_reason_report_and_column_has_its_strings() {
        let mut keys: Vec<String> = Vec::new();
        keys.extend(
            Provider::ALL
                .iter()
                .map(|p| format!("console.reports.method.{}", p.code())),
        );
        keys.extend(
            RefundReason::ALL
                .iter()
                .map(|r| format!("console.reports.reason.{}", r.code())),
        );
        for report in Report::ALL {
            for part in ["name", "about", "chart"] {
                keys.push(format!("console.reports.{}.{part}", report.key()));
            }
        }
        let columns = [
            crate::views::reports::OccupancyRow::COLUMNS,
            crate::views::reports::RevenueRow::COLUMNS,
            crate::views::reports::RefundRow::COLUMNS,
            crate::views::reports::NoShowRow::COLUMNS,
            crate::views::reports::LotteryDemandRow::COLUMNS,
            &KEY_COLUMNS,
        ];
        keys.extend(
            columns
                .iter()
                .flat_map(|c| c.iter())
                .map(|name| format!("console.reports.col.{name}")),
        );
        for field in ["from", "to", "room_kind", "facility_id"] {
            keys.push(format!("console.reports.error.{field}"));
        }
        for lang in Lang::ALL {
            for key in &keys {
                assert_ne!(lang.t(key), "?", "{key} is missing");
            }
        }
    }

    #[test]
    fn the_page_query_keeps_its_filters_in_links() {
        let query = PageQuery::parse(Some("report=revenue&facility_id=3&from=2026-01&to=&x=1"));
        assert_eq!(query.report, "revenue");
        assert_eq!(
            query.href("/staff/reports", Some("refunds"), false),
            "/staff/reports?report=refunds&facility_id=3&from=2026-01"
        );
        assert_eq!(
            query.href("/api/v1/admin/reports/revenue", None, true),
            "/api/v1/admin/reports/revenue?facility_id=3&from=2026-01&format=csv"
        );
        assert_eq!(Report::from_slug("no-shows"), Some(Report::NoShows));
        assert_eq!(Report::from_slug("nope"), None);
    }
}
