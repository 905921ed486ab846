//! The console's reports: occupancy, revenue, refunds, no-shows and lottery demand, each per
//! facility, kind of room and month of use, for managers (their facilities) and administrators
//! (every facility). Staff (受付) and residents get none.
//!
//! Every figure is aggregated by the database (`GROUP BY` facility, kind, month), so a report
//! reads one row per group, never every booking. The month is the month of use (the slot's or
//! the booking's service date, Japan time) in every report, so revenue, refunds and no-shows
//! line up with the occupancy of the same month; a refund made later lowers the month the
//! booking was for. The few expressions SQLite and PostgreSQL spell differently (the month of a
//! date, the minutes between two instants) come from [`Dialect`].
//!
//! Reports hold no personal data (counts and sums only), so reading one is not an audited view
//! of a person's data.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, QueryResult,
    Statement, Value,
};

use crate::domain::booking::BookingState;
use crate::domain::calendar::tokyo_date;
use crate::domain::kinds::RoomKind;
use crate::domain::reports::{Month, MonthRange, RangeProblem, resolve_range};
use crate::domain::roles::Role;
use crate::entities::facility;
use crate::services::staff_scope;
use crate::views::reports::{
    LotteryDemandRow, NoShowRow, OccupancyRow, RefundRow, ReportKey, RevenueRow,
};

/// Why a report was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Not a manager or administrator, or a facility outside the person's assignments.
    #[error("reports are for managers of the facility and administrators")]
    Forbidden,
    /// The filters are wrong; each problem names its parameter.
    #[error("the report's filters are not valid")]
    Invalid(Vec<RangeProblem>),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The filters of a report as the request gives them (unchecked).
#[derive(Clone, Debug, Default)]
pub struct ReportRequest {
    pub facility_id: Option<i32>,
    pub room_kind: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Checked filters: which facilities (`None`: every one), which kind, which months.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportScope {
    pub facility_ids: Option<Vec<i32>>,
    pub room_kind: Option<RoomKind>,
    pub range: MonthRange,
}

/// Checks who asks and what for: staff and residents are refused, a manager may name only a
/// facility they are assigned to (and sees only those without a filter), an administrator any.
/// `now` decides the default range (the twelve months up to the current one).
pub async fn authorize(
    db: &impl ConnectionTrait,
    actor: (i32, Role),
    request: &ReportRequest,
    now: DateTime<Utc>,
) -> Result<ReportScope, ReportError> {
    if !matches!(actor.1, Role::Manager | Role::Admin) {
        return Err(ReportError::Forbidden);
    }
    let mut problems = Vec::new();
    let range = match resolve_range(
        request.from.as_deref(),
        request.to.as_deref(),
        Month::of(tokyo_date(now)),
    ) {
        Ok(range) => Some(range),
        Err(mut found) => {
            problems.append(&mut found);
            None
        }
    };
    let room_kind = match request.room_kind.as_deref() {
        None => None,
        Some(code) => match code.parse::<RoomKind>() {
            Ok(kind) => Some(kind),
            Err(_) => {
                problems.push(RangeProblem {
                    field: "room_kind",
                    message: format!("`{code}` is not a kind of room"),
                });
                None
            }
        },
    };
    if let Some(id) = request.facility_id
        && facility::Entity::find_by_id(id).one(db).await?.is_none()
    {
        problems.push(RangeProblem {
            field: "facility_id",
            message: format!("there is no facility {id}"),
        });
    }
    let Some(range) = range.filter(|_| problems.is_empty()) else {
        return Err(ReportError::Invalid(problems));
    };
    let scope = staff_scope::facility_scope(db, actor.0, actor.1).await?;
    let facility_ids = match request.facility_id {
        Some(id) if !scope.allows(id) => return Err(ReportError::Forbidden),
        Some(id) => Some(vec![id]),
        None => scope.facility_ids().map(<[i32]>::to_vec),
    };
    Ok(ReportScope {
        facility_ids,
        room_kind,
        range,
    })
}

/// SQL that SQLite and PostgreSQL spell differently.
#[derive(Clone, Copy, Debug)]
struct Dialect(DatabaseBackend);

impl Dialect {
    /// `YYYY-MM` of a DATE column (SQLite keeps dates as `YYYY-MM-DD` text).
    fn month(self, column: &str) -> String {
        match self.0 {
            DatabaseBackend::Postgres => format!("to_char({column}, 'YYYY-MM')"),
            _ => format!("substr({column}, 1, 7)"),
        }
    }

    /// Whole minutes from `start` to `end` (two timestamp columns).
    fn minutes(self, start: &str, end: &str) -> String {
        match self.0 {
            DatabaseBackend::Postgres => {
                format!("CAST(EXTRACT(EPOCH FROM ({end} - {start})) / 60 AS BIGINT)")
            }
            _ => format!("CAST(ROUND((julianday({end}) - julianday({start})) * 1440) AS INTEGER)"),
        }
    }
}

/// A statement being written, with its bound values (`?` on SQLite, `$n` on PostgreSQL).
struct Sql {
    dialect: Dialect,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DatabaseBackend) -> Self {
        Sql {
            dialect: Dialect(backend),
            text: String::new(),
            values: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.dialect.0 {
            DatabaseBackend::Postgres => {
                let n = self.values.len();
                self.text.push_str(&format!("${n}"));
            }
            _ => self.text.push('?'),
        }
        self
    }

    /// The scope's filters on `rooms r` and on the date column `date` (months of use).
    fn scope(&mut self, scope: &ReportScope, date: &str) -> &mut Self {
        self.push(&format!(" AND {date} >= "))
            .bind(scope.range.start_date())
            .push(&format!(" AND {date} < "))
            .bind(scope.range.end_date());
        if let Some(kind) = scope.room_kind {
            self.push(" AND r.kind = ").bind(kind.code());
        }
        if let Some(ids) = &scope.facility_ids {
            self.push(" AND r.facility_id IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    self.push(", ");
                }
                self.bind(*id);
            }
            self.push(")");
        }
        self
    }

    fn statement(&self) -> Statement {
        Statement::from_sql_and_values(self.dialect.0, self.text.clone(), self.values.clone())
    }
}

/// A group's key as read from a row: facility, kind and month are its first three columns.
fn key_of(row: &QueryResult) -> Result<(i32, String, String), DbErr> {
    Ok((
        row.try_get_by_index(0)?,
        row.try_get_by_index(1)?,
        row.try_get_by_index(2)?,
    ))
}

/// Whether a scope can match nothing at all (a manager without assignments).
fn is_empty(scope: &ReportScope) -> bool {
    scope.facility_ids.as_ref().is_some_and(Vec::is_empty)
}

/// The names (Japanese, English) of the facilities in `ids`.
async fn facility_names(
    db: &impl ConnectionTrait,
    ids: BTreeSet<i32>,
) -> Result<BTreeMap<i32, (String, String)>, DbErr> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(facility::Entity::find()
        .filter(facility::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.id, (f.name, f.name_en)))
        .collect())
}

/// Builds the rows' keys once the facility names are known.
async fn keyed<T>(
    db: &impl ConnectionTrait,
    groups: Vec<((i32, String, String), T)>,
) -> Result<Vec<(ReportKey, T)>, DbErr> {
    let names = facility_names(db, groups.iter().map(|((id, _, _), _)| *id).collect()).await?;
    Ok(groups
        .into_iter()
        .map(|((facility_id, room_kind, month), value)| {
            let (facility_name, facility_name_en) =
                names.get(&facility_id).cloned().unwrap_or_default();
            (
                ReportKey {
                    facility_id,
                    facility_name,
                    facility_name_en,
                    room_kind,
                    month,
                },
                value,
            )
        })
        .collect())
}

/// The states whose slots count as taken for occupancy: held or paid, used, and no-shows (the
/// room was kept for them).
const OCCUPYING: [BookingState; 4] = [
    BookingState::AwaitingPayment,
    BookingState::Confirmed,
    BookingState::CheckedIn,
    BookingState::NoShow,
];

fn in_list(states: &[BookingState]) -> String {
    let codes: Vec<String> = states.iter().map(|s| format!("'{}'", s.code())).collect();
    codes.join(", ")
}

/// The room units each bookable room covers (a whole gym two, a half one, a plain room one).
const UNITS: &str =
    "(SELECT room_id, COUNT(*) AS units FROM room_unit_coverage GROUP BY room_id) u";

/// Occupancy: booked unit-hours over offered unit-hours. A divisible room offers each of its
/// units (a gym with halves A and B offers two unit-hours an hour), and a booking of the whole
/// takes both while a booking of a half takes one, so a booked half reads as half the room.
/// Offered: open slots (not closed) of whole and plain rooms; booked: the slots of bookings in
/// [`OCCUPYING`] states.
pub async fn occupancy(
    db: &impl ConnectionTrait,
    scope: &ReportScope,
) -> Result<Vec<OccupancyRow>, DbErr> {
    if is_empty(scope) {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let dialect = Dialect(backend);
    let month = dialect.month("s.service_date");
    let minutes = dialect.minutes("s.starts_at", "s.ends_at");
    let mut offered = Sql::new(backend);
    offered
        .push(&format!(
            "SELECT r.facility_id, r.kind, {month}, CAST(SUM({minutes} * u.units) AS BIGINT) \
             FROM slots s JOIN rooms r ON r.id = s.room_id JOIN {UNITS} ON u.room_id = r.id \
             WHERE r.parent_room_id IS NULL AND s.status = 'open'"
        ))
        .scope(scope, "s.service_date")
        .push(" GROUP BY 1, 2, 3");
    let mut booked = Sql::new(backend);
    booked
        .push(&format!(
            "SELECT r.facility_id, r.kind, {month}, CAST(SUM({minutes} * u.units) AS BIGINT) \
             FROM booking_slots bs JOIN bookings b ON b.id = bs.booking_id \
             JOIN slots s ON s.id = bs.slot_id JOIN rooms r ON r.id = b.room_id \
             JOIN {UNITS} ON u.room_id = r.id \
             WHERE s.status = 'open' AND b.state IN ({})",
            in_list(&OCCUPYING)
        ))
        .scope(scope, "s.service_date")
        .push(" GROUP BY 1, 2, 3");
    let mut groups: BTreeMap<(i32, String, String), (i64, i64)> = BTreeMap::new();
    for row in db.query_all_raw(offered.statement()).await? {
        groups.entry(key_of(&row)?).or_default().0 = row.try_get_by_index(3)?;
    }
    for row in db.query_all_raw(booked.statement()).await? {
        groups.entry(key_of(&row)?).or_default().1 = row.try_get_by_index(3)?;
    }
    Ok(keyed(db, groups.into_iter().collect())
        .await?
        .into_iter()
        .map(|(key, (offered, booked))| OccupancyRow::new(key, offered, booked))
        .collect())
}

/// Revenue: payments for bookings used in the month, by payment method, and what of them was
/// refunded (made or pending; `payments.refunded_yen`), so `net_yen` is what the city keeps.
pub async fn revenue(
    db: &impl ConnectionTrait,
    scope: &ReportScope,
) -> Result<Vec<RevenueRow>, DbErr> {
    if is_empty(scope) {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let month = Dialect(backend).month("b.service_date");
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT r.facility_id, r.kind, {month}, p.provider, COUNT(*), \
         CAST(SUM(p.amount_yen) AS BIGINT), CAST(SUM(p.refunded_yen) AS BIGINT) \
         FROM payments p JOIN bookings b ON b.id = p.booking_id JOIN rooms r ON r.id = b.room_id \
         WHERE 1 = 1"
    ))
    .scope(scope, "b.service_date")
    .push(" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4");
    let mut groups = Vec::new();
    for row in db.query_all_raw(sql.statement()).await? {
        let method: String = row.try_get_by_index(3)?;
        let figures: (i64, i64, i64) = (
            row.try_get_by_index(4)?,
            row.try_get_by_index(5)?,
            row.try_get_by_index(6)?,
        );
        groups.push((key_of(&row)?, (method, figures)));
    }
    Ok(keyed(db, groups)
        .await?
        .into_iter()
        .map(|(key, (method, (payments, paid, refunded)))| {
            RevenueRow::new(key, method, payments, paid, refunded)
        })
        .collect())
}

/// Refunds by reason: made and pending (failed ones gave nothing back), with the pending part.
pub async fn refunds(
    db: &impl ConnectionTrait,
    scope: &ReportScope,
) -> Result<Vec<RefundRow>, DbErr> {
    if is_empty(scope) {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let month = Dialect(backend).month("b.service_date");
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT r.facility_id, r.kind, {month}, f.reason, COUNT(*), \
         CAST(SUM(f.amount_yen) AS BIGINT), \
         CAST(SUM(CASE WHEN f.state = 'pending' THEN f.amount_yen ELSE 0 END) AS BIGINT) \
         FROM refunds f JOIN payments p ON p.id = f.payment_id \
         JOIN bookings b ON b.id = p.booking_id JOIN rooms r ON r.id = b.room_id \
         WHERE f.state <> 'failed'"
    ))
    .scope(scope, "b.service_date")
    .push(" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4");
    let mut groups = Vec::new();
    for row in db.query_all_raw(sql.statement()).await? {
        let reason: String = row.try_get_by_index(3)?;
        let figures: (i64, i64, i64) = (
            row.try_get_by_index(4)?,
            row.try_get_by_index(5)?,
            row.try_get_by_index(6)?,
        );
        groups.push((key_of(&row)?, (reason, figures)));
    }
    Ok(keyed(db, groups)
        .await?
        .into_iter()
        .map(|(key, (reason, (count, yen, pending)))| RefundRow {
            key,
            reason,
            refunds: count,
            refunded_yen: yen,
            pending_yen: pending,
        })
        .collect())
}

/// No-shows over the bookings that reached their time: checked in, no-show, or confirmed and
/// started by `now` (the no-show job judges those after their end and grace). Bookings that
/// were cancelled, expired or never paid never reached their time.
pub async fn no_shows(
    db: &impl ConnectionTrait,
    scope: &ReportScope,
    now: DateTime<Utc>,
) -> Result<Vec<NoShowRow>, DbErr> {
    if is_empty(scope) {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let month = Dialect(backend).month("b.service_date");
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT r.facility_id, r.kind, {month}, COUNT(*), \
         CAST(SUM(CASE WHEN b.state = '{}' THEN 1 ELSE 0 END) AS BIGINT) \
         FROM bookings b JOIN rooms r ON r.id = b.room_id \
         WHERE (b.state IN ({}) OR (b.state = '{}' AND b.starts_at <= ",
        BookingState::NoShow.code(),
        in_list(&[BookingState::CheckedIn, BookingState::NoShow]),
        BookingState::Confirmed.code(),
    ))
    .bind(now)
    .push("))")
    .scope(scope, "b.service_date")
    .push(" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
    let mut groups = Vec::new();
    for row in db.query_all_raw(sql.statement()).await? {
        let figures: (i64, i64) = (row.try_get_by_index(3)?, row.try_get_by_index(4)?);
        groups.push((key_of(&row)?, figures));
    }
    Ok(keyed(db, groups)
        .await?
        .into_iter()
        .map(|(key, (reached, no_shows))| NoShowRow::new(key, reached, no_shows))
        .collect())
}

/// Lottery demand: the wishes of submitted (not withdrawn) applications, by the month and room
/// of the slot wished for: applications, wishes, first wishes, distinct slots and rooms wished,
/// and wishes per slot and per room.
pub async fn lottery_demand(
    db: &impl ConnectionTrait,
    scope: &ReportScope,
) -> Result<Vec<LotteryDemandRow>, DbErr> {
    if is_empty(scope) {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let month = Dialect(backend).month("s.service_date");
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT r.facility_id, r.kind, {month}, COUNT(DISTINCT a.id), COUNT(*), \
         CAST(SUM(CASE WHEN w.\"rank\" = 1 THEN 1 ELSE 0 END) AS BIGINT), \
         COUNT(DISTINCT w.slot_id), COUNT(DISTINCT s.room_id) \
         FROM lottery_wishes w JOIN lottery_applications a ON a.id = w.application_id \
         JOIN slots s ON s.id = w.slot_id JOIN rooms r ON r.id = s.room_id \
         WHERE a.state = 'submitted'"
    ))
    .scope(scope, "s.service_date")
    .push(" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
    let mut groups = Vec::new();
    for row in db.query_all_raw(sql.statement()).await? {
        let figures: [i64; 5] = [
            row.try_get_by_index(3)?,
            row.try_get_by_index(4)?,
            row.try_get_by_index(5)?,
            row.try_get_by_index(6)?,
            row.try_get_by_index(7)?,
        ];
        groups.push((key_of(&row)?, figures));
    }
    Ok(keyed(db, groups)
        .await?
        .into_iter()
        .map(|(key, [applications, wishes, first, slots, rooms])| {
            LotteryDemandRow::new(key, applications, wishes, first, slots, rooms)
        })
        .collect())
}

/// A facility a person may report on, for the reports page's filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacilityChoice {
    pub id: i32,
    pub name: String,
    pub name_en: String,
}

/// The facilities `actor` may report on (every facility for an administrator), by code; none
/// for staff and residents.
pub async fn facilities_in_scope(
    db: &impl ConnectionTrait,
    actor: (i32, Role),
) -> Result<Vec<FacilityChoice>, DbErr> {
    use sea_orm::QueryOrder;
    if !matches!(actor.1, Role::Manager | Role::Admin) {
        return Ok(Vec::new());
    }
    let mut query = facility::Entity::find().order_by_asc(facility::Column::Code);
    if let Some(ids) = staff_scope::facility_scope(db, actor.0, actor.1)
        .await?
        .facility_ids()
    {
        query = query.filter(facility::Column::Id.is_in(ids.to_vec()));
    }
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .map(|f| FacilityChoice {
            id: f.id,
            name: f.name,
            name_en: f.name_en,
        })
        .collect())
}
