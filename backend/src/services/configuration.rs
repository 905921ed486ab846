//! Configuration with history (料金・規則の設定): the use cases behind the console's settings.
//!
//! - The city-wide rules (`booking`, `penalties`, `lottery`): administrators schedule a new
//!   version of a section from a day on; everyone in the console may read what is in force,
//!   what is scheduled and what was.
//! - Room prices (使用料): managers of the room's facility, and administrators, schedule a
//!   room's fee per band from a day on (rows of `room_prices`, which already carry
//!   `effective_from`).
//! - The fee policy (multipliers, percent) and the rates of each fee reduction (減免):
//!   administrators.
//!
//! The same rules hold for each: a change takes effect today or later, never in the past; a
//! version whose day has come is history and cannot change (409 `already_in_force`); a version
//! still ahead may be replaced or withdrawn. Every save and withdrawal is audited in its
//! transaction, with the values it replaced.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr,
    EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::db::{begin_write, is_unique_violation};
use crate::domain::calendar::tokyo_date;
use crate::domain::roles::Role;
use crate::domain::rule_history::{
    self, RuleBody, RuleEditError, RuleSection, check_effective_from, is_still_scheduled,
};
use crate::entities::{
    facility, fee_policy, fee_reduction, fee_reduction_rate, room, room_price, rule_version, user,
};
use crate::services::audit;
use crate::services::rule_book::RuleBook;
use crate::services::staff_scope::facility_scope;

/// The largest fee a room may charge for one slot: a typo guard (a stadium's day is below it).
pub const MAX_SLOT_FEE_YEN: i32 = 1_000_000;
/// The largest multiplier the fee policy may set, in percent.
pub const MAX_POLICY_PERCENT: i32 = 1_000;
/// Notes are short: why the change was made, for the history.
pub const MAX_NOTE_CHARS: usize = 500;

/// Why a settings use case refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("not allowed")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The version's day has come: it is history now.
    #[error("{0}")]
    AlreadyInForce(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<RuleEditError> for ConfigError {
    fn from(e: RuleEditError) -> Self {
        ConfigError::Invalid {
            field: e.field,
            message: e.message,
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn check_note(note: &str) -> Result<String, ConfigError> {
    let note = note.trim();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid(
            "note",
            format!("at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(note.to_owned())
}

/// Where a version stands on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Its day has not come.
    Scheduled,
    /// The one in force.
    InForce,
    /// Replaced by a later one already in force.
    Past,
}

/// The status of each of `days` (oldest first) on `today`.
fn statuses(days: &[NaiveDate], today: NaiveDate) -> Vec<VersionStatus> {
    let current = days.iter().rposition(|d| *d <= today);
    (0..days.len())
        .map(|i| match current {
            _ if days[i] > today => VersionStatus::Scheduled,
            Some(c) if c == i => VersionStatus::InForce,
            _ => VersionStatus::Past,
        })
        .collect()
}

async fn names_of(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = i32>,
) -> Result<HashMap<i32, String>, DbErr> {
    let ids: BTreeSet<i32> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect())
}

fn require_console(role: Role) -> Result<(), ConfigError> {
    if crate::services::staff_scope::is_console_role(role) {
        Ok(())
    } else {
        Err(ConfigError::Forbidden)
    }
}

fn require_admin(role: Role) -> Result<(), ConfigError> {
    if role == Role::Admin {
        Ok(())
    } else {
        Err(ConfigError::Forbidden)
    }
}

// ---------------------------------------------------------------------------------------------
// City-wide rules
// ---------------------------------------------------------------------------------------------

/// One saved version of a rules section.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RuleVersionView {
    pub id: i32,
    pub effective_from: NaiveDate,
    pub status: VersionStatus,
    /// The section as TOML, as the configuration file would hold it.
    pub toml: String,
    /// The same values as JSON.
    #[schema(value_type = Object)]
    pub values: serde_json::Value,
    pub saved_by: String,
    pub saved_at: DateTime<Utc>,
    pub note: String,
}

/// A rules section: what is in force, and every version, newest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RuleSectionView {
    pub section: RuleSection,
    /// The day the version in force took effect; `None` while the configuration file's values
    /// are in force.
    pub in_force_since: Option<NaiveDate>,
    pub in_force_toml: String,
    #[schema(value_type = Object)]
    pub in_force_values: serde_json::Value,
    /// The configuration file's values, the start of the history.
    pub configured_toml: String,
    pub versions: Vec<RuleVersionView>,
}

/// A section of the rules, for anyone in the console.
pub async fn rule_section(
    db: &impl ConnectionTrait,
    book: &RuleBook,
    role: Role,
    section: RuleSection,
    today: NaiveDate,
) -> Result<RuleSectionView, ConfigError> {
    require_console(role)?;
    let rows = rule_version::Entity::find()
        .filter(rule_version::Column::Section.eq(section.code()))
        .order_by_asc(rule_version::Column::EffectiveFrom)
        .all(db)
        .await?;
    let names = names_of(db, rows.iter().map(|r| r.saved_by)).await?;
    let days: Vec<NaiveDate> = rows.iter().map(|r| r.effective_from).collect();
    let status = statuses(&days, today);
    let mut versions: Vec<RuleVersionView> = rows
        .into_iter()
        .zip(status)
        .map(|(row, status)| {
            let toml = RuleBody::from_json(section, &row.body)
                .map(|b| b.to_toml())
                .unwrap_or_default();
            RuleVersionView {
                id: row.id,
                effective_from: row.effective_from,
                status,
                toml,
                values: row.body,
                saved_by: names.get(&row.saved_by).cloned().unwrap_or_default(),
                saved_at: row.saved_at,
                note: row.note,
            }
        })
        .collect();
    let in_force_since = versions
        .iter()
        .find(|v| v.status == VersionStatus::InForce)
        .map(|v| v.effective_from);
    versions.reverse();
    let now = book.on(today);
    let in_force = body_of(section, &now);
    let configured = body_of(section, book.snapshot().base());
    Ok(RuleSectionView {
        section,
        in_force_since,
        in_force_toml: in_force.to_toml(),
        in_force_values: in_force.to_json(),
        configured_toml: configured.to_toml(),
        versions,
    })
}

/// One section out of a rule set.
pub fn body_of(section: RuleSection, set: &rule_history::RuleSet) -> RuleBody {
    match section {
        RuleSection::Booking => RuleBody::Booking((*set.booking).clone()),
        RuleSection::Penalties => RuleBody::Penalties((*set.penalties).clone()),
        RuleSection::Lottery => RuleBody::Lottery((*set.lottery).clone()),
    }
}

/// A new version of a section, as the console sends it.
#[derive(Clone, Debug)]
pub struct RuleEdit {
    pub section: RuleSection,
    pub effective_from: NaiveDate,
    pub toml: String,
    pub note: String,
}

/// Schedule `edit` (administrators). A version already scheduled for that day is replaced; one
/// whose day has come is refused. The rule book is reloaded once the change is committed.
pub async fn save_rule_version(
    db: &sea_orm::DatabaseConnection,
    book: &RuleBook,
    actor: (i32, Role),
    edit: RuleEdit,
    now: DateTime<Utc>,
) -> Result<RuleVersionView, ConfigError> {
    require_admin(actor.1)?;
    let today = tokyo_date(now);
    check_effective_from(edit.effective_from, today)?;
    let body = rule_history::parse_edit(edit.section, &edit.toml)?;
    let note = check_note(&edit.note)?;
    let txn = begin_write(db).await?;
    let existing = rule_version::Entity::find()
        .filter(rule_version::Column::Section.eq(edit.section.code()))
        .filter(rule_version::Column::EffectiveFrom.eq(edit.effective_from))
        .one(&txn)
        .await?;
    let saved = match existing {
        Some(row) if !is_still_scheduled(row.effective_from, today) => {
            return Err(ConfigError::AlreadyInForce(format!(
                "the {} rules of {} are in force already; schedule a new version from tomorrow",
                edit.section, row.effective_from
            )));
        }
        Some(row) => {
            let previous = row.body.clone();
            let mut active: rule_version::ActiveModel = row.into();
            active.body = Set(body.to_json());
            active.saved_by = Set(actor.0);
            active.saved_at = Set(now);
            active.note = Set(note);
            let saved = active.update(&txn).await?;
            audit::record(
                &txn,
                actor.0,
                "rules.replace_scheduled",
                ("rule_version", Some(i64::from(saved.id))),
                json!({"section": edit.section, "effective_from": edit.effective_from, "previous": previous, "values": saved.body}),
                now,
            )
            .await?;
            saved
        }
        None => {
            let inserted = rule_version::ActiveModel {
                id: NotSet,
                section: Set(edit.section.code().to_owned()),
                body: Set(body.to_json()),
                effective_from: Set(edit.effective_from),
                saved_by: Set(actor.0),
                saved_at: Set(now),
                note: Set(note),
            }
            .insert(&txn)
            .await;
            let saved = match inserted {
                Ok(saved) => saved,
                // Two administrators saving the same day at once: the second is told, not lost.
                Err(e) if is_unique_violation(&e) => {
                    return Err(ConfigError::AlreadyInForce(format!(
                        "another version of the {} rules from {} was saved at the same moment; reload and try again",
                        edit.section, edit.effective_from
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            audit::record(
                &txn,
                actor.0,
                "rules.schedule",
                ("rule_version", Some(i64::from(saved.id))),
                json!({"section": edit.section, "effective_from": edit.effective_from, "values": saved.body}),
                now,
            )
            .await?;
            saved
        }
    };
    txn.commit().await?;
    book.reload(db).await?;
    let names = names_of(db, [saved.saved_by]).await?;
    Ok(RuleVersionView {
        id: saved.id,
        effective_from: saved.effective_from,
        status: if is_still_scheduled(saved.effective_from, today) {
            VersionStatus::Scheduled
        } else {
            VersionStatus::InForce
        },
        toml: body.to_toml(),
        values: saved.body,
        saved_by: names.get(&saved.saved_by).cloned().unwrap_or_default(),
        saved_at: saved.saved_at,
        note: saved.note,
    })
}

/// Withdraw a version that has not taken effect yet (administrators).
pub async fn withdraw_rule_version(
    db: &sea_orm::DatabaseConnection,
    book: &RuleBook,
    actor: (i32, Role),
    section: RuleSection,
    id: i32,
    now: DateTime<Utc>,
) -> Result<(), ConfigError> {
    require_admin(actor.1)?;
    let today = tokyo_date(now);
    let txn = begin_write(db).await?;
    let row = rule_version::Entity::find_by_id(id)
        .filter(rule_version::Column::Section.eq(section.code()))
        .one(&txn)
        .await?
        .ok_or(ConfigError::NotFound("rule version"))?;
    if !is_still_scheduled(row.effective_from, today) {
        return Err(ConfigError::AlreadyInForce(format!(
            "the {section} rules of {} are in force already and stay in the history",
            row.effective_from
        )));
    }
    rule_version::Entity::delete_by_id(row.id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor.0,
        "rules.withdraw_scheduled",
        ("rule_version", Some(i64::from(row.id))),
        json!({"section": section, "effective_from": row.effective_from, "values": row.body}),
        now,
    )
    .await?;
    txn.commit().await?;
    book.reload(db).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Room prices
// ---------------------------------------------------------------------------------------------

/// One price row of a room.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RoomPriceRow {
    pub band: String,
    pub amount_yen: i32,
    pub effective_from: NaiveDate,
    pub status: VersionStatus,
}

/// A room's prices: the bands, what is in force, and every row, newest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RoomPricesView {
    pub room_id: i32,
    pub room_name: String,
    pub facility_id: i32,
    pub facility_name: String,
    /// The room's time bands (from its price rows).
    pub bands: Vec<String>,
    /// Band → yen in force today (bands without a price yet are missing).
    pub in_force: BTreeMap<String, i32>,
    pub rows: Vec<RoomPriceRow>,
    /// Whether this person may schedule prices here.
    pub editable: bool,
}

async fn room_and_facility(
    db: &impl ConnectionTrait,
    room_id: i32,
) -> Result<(room::Model, facility::Model), ConfigError> {
    let room = room::Entity::find_by_id(room_id)
        .one(db)
        .await?
        .ok_or(ConfigError::NotFound("room"))?;
    let facility = facility::Entity::find_by_id(room.facility_id)
        .one(db)
        .await?
        .ok_or(ConfigError::NotFound("facility"))?;
    Ok((room, facility))
}

/// Staff, managers and administrators may read a room's prices at a facility they may see;
/// managers and administrators may change them.
async fn room_access(
    db: &impl ConnectionTrait,
    actor: (i32, Role),
    facility_id: i32,
) -> Result<bool, ConfigError> {
    require_console(actor.1)?;
    if !facility_scope(db, actor.0, actor.1)
        .await?
        .allows(facility_id)
    {
        return Err(ConfigError::Forbidden);
    }
    Ok(matches!(actor.1, Role::Manager | Role::Admin))
}

/// A room's price history.
pub async fn room_prices(
    db: &impl ConnectionTrait,
    actor: (i32, Role),
    room_id: i32,
    today: NaiveDate,
) -> Result<RoomPricesView, ConfigError> {
    let (room, facility) = room_and_facility(db, room_id).await?;
    let editable = room_access(db, actor, facility.id).await?;
    let rows = room_price::Entity::find()
        .filter(room_price::Column::RoomId.eq(room_id))
        .order_by_asc(room_price::Column::Band)
        .order_by_asc(room_price::Column::EffectiveFrom)
        .all(db)
        .await?;
    let mut by_band: BTreeMap<String, Vec<room_price::Model>> = BTreeMap::new();
    for row in rows {
        by_band.entry(row.band.clone()).or_default().push(row);
    }
    let mut in_force = BTreeMap::new();
    let mut out = Vec::new();
    for (band, rows) in &by_band {
        let days: Vec<NaiveDate> = rows.iter().map(|r| r.effective_from).collect();
        for (row, status) in rows.iter().zip(statuses(&days, today)) {
            if status == VersionStatus::InForce {
                in_force.insert(band.clone(), row.amount_yen);
            }
            out.push(RoomPriceRow {
                band: band.clone(),
                amount_yen: row.amount_yen,
                effective_from: row.effective_from,
                status,
            });
        }
    }
    out.sort_by(|a, b| {
        b.effective_from
            .cmp(&a.effective_from)
            .then(a.band.cmp(&b.band))
    });
    Ok(RoomPricesView {
        room_id: room.id,
        room_name: room.name,
        facility_id: facility.id,
        facility_name: facility.name,
        bands: by_band.into_keys().collect(),
        in_force,
        rows: out,
        editable,
    })
}

/// New prices for some of a room's bands from a day on.
#[derive(Clone, Debug)]
pub struct PriceEdit {
    pub effective_from: NaiveDate,
    /// Band → yen per slot.
    pub prices: BTreeMap<String, i32>,
    pub note: String,
}

/// Schedule a room's prices (managers of its facility, administrators). Each band given gets a
/// row from `effective_from`; a row already scheduled for that band and day is replaced.
pub async fn schedule_room_prices(
    db: &sea_orm::DatabaseConnection,
    actor: (i32, Role),
    room_id: i32,
    edit: PriceEdit,
    now: DateTime<Utc>,
) -> Result<RoomPricesView, ConfigError> {
    let today = tokyo_date(now);
    let (room, facility) = room_and_facility(db, room_id).await?;
    if !room_access(db, actor, facility.id).await? {
        return Err(ConfigError::Forbidden);
    }
    check_effective_from(edit.effective_from, today)?;
    let note = check_note(&edit.note)?;
    if edit.prices.is_empty() {
        return Err(invalid("prices", "give the fee of at least one band"));
    }
    let bands: BTreeSet<String> = room_price::Entity::find()
        .filter(room_price::Column::RoomId.eq(room_id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.band)
        .collect();
    for (band, yen) in &edit.prices {
        if !bands.contains(band) {
            return Err(invalid(
                format!("prices.{band}"),
                format!(
                    "this room has no band `{band}` (it has: {})",
                    bands.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if !(0..=MAX_SLOT_FEE_YEN).contains(yen) {
            return Err(invalid(
                format!("prices.{band}"),
                format!("from 0 to {MAX_SLOT_FEE_YEN} yen"),
            ));
        }
    }
    let txn = begin_write(db).await?;
    let mut replaced = Vec::new();
    for (band, yen) in &edit.prices {
        let existing = room_price::Entity::find()
            .filter(room_price::Column::RoomId.eq(room_id))
            .filter(room_price::Column::Band.eq(band.as_str()))
            .filter(room_price::Column::EffectiveFrom.eq(edit.effective_from))
            .one(&txn)
            .await?;
        match existing {
            Some(row) if !is_still_scheduled(row.effective_from, today) => {
                return Err(ConfigError::AlreadyInForce(format!(
                    "the `{band}` fee of {} is in force already; schedule a new one from tomorrow",
                    row.effective_from
                )));
            }
            Some(row) => {
                replaced.push(json!({"band": band, "amount_yen": row.amount_yen}));
                let mut active: room_price::ActiveModel = row.into();
                active.amount_yen = Set(*yen);
                active.update(&txn).await?;
            }
            None => {
                room_price::ActiveModel {
                    id: NotSet,
                    room_id: Set(room_id),
                    band: Set(band.clone()),
                    amount_yen: Set(*yen),
                    effective_from: Set(edit.effective_from),
                }
                .insert(&txn)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        ConfigError::AlreadyInForce(format!(
                            "a `{band}` fee from {} was saved at the same moment; reload and try again",
                            edit.effective_from
                        ))
                    } else {
                        e.into()
                    }
                })?;
            }
        }
    }
    audit::record(
        &txn,
        actor.0,
        "prices.schedule",
        ("room", Some(i64::from(room.id))),
        json!({"facility_id": facility.id, "effective_from": edit.effective_from, "prices": edit.prices, "replaced": replaced, "note": note}),
        now,
    )
    .await?;
    txn.commit().await?;
    room_prices(db, actor, room_id, today).await
}

// ---------------------------------------------------------------------------------------------
// The fee policy
// ---------------------------------------------------------------------------------------------

/// The city's fee multipliers from a day on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FeePolicyValues {
    pub non_resident_percent: i32,
    pub weekend_holiday_percent: i32,
    pub admission_event_percent: i32,
    pub commercial_percent: i32,
}

/// One fee policy row.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FeePolicyRow {
    pub effective_from: NaiveDate,
    pub status: VersionStatus,
    #[serde(flatten)]
    pub values: FeePolicyValues,
}

/// Every fee policy, newest first.
pub async fn fee_policies(
    db: &impl ConnectionTrait,
    role: Role,
    today: NaiveDate,
) -> Result<Vec<FeePolicyRow>, ConfigError> {
    require_console(role)?;
    let rows = fee_policy::Entity::find()
        .order_by_asc(fee_policy::Column::EffectiveFrom)
        .all(db)
        .await?;
    let days: Vec<NaiveDate> = rows.iter().map(|r| r.effective_from).collect();
    let mut out: Vec<FeePolicyRow> = rows
        .into_iter()
        .zip(statuses(&days, today))
        .map(|(r, status)| FeePolicyRow {
            effective_from: r.effective_from,
            status,
            values: FeePolicyValues {
                non_resident_percent: r.non_resident_percent,
                weekend_holiday_percent: r.weekend_holiday_percent,
                admission_event_percent: r.admission_event_percent,
                commercial_percent: r.commercial_percent,
            },
        })
        .collect();
    out.reverse();
    Ok(out)
}

/// Check multipliers: each at least 100 % (a surcharge never lowers a fee; the database has the
/// same CHECK) and at most [`MAX_POLICY_PERCENT`].
pub fn check_policy(values: &FeePolicyValues) -> Result<(), ConfigError> {
    for (field, value) in [
        ("non_resident_percent", values.non_resident_percent),
        ("weekend_holiday_percent", values.weekend_holiday_percent),
        ("admission_event_percent", values.admission_event_percent),
        ("commercial_percent", values.commercial_percent),
    ] {
        if !(100..=MAX_POLICY_PERCENT).contains(&value) {
            return Err(invalid(
                field,
                format!("from 100 to {MAX_POLICY_PERCENT} percent"),
            ));
        }
    }
    Ok(())
}

/// Schedule the fee policy from a day on (administrators).
pub async fn schedule_fee_policy(
    db: &sea_orm::DatabaseConnection,
    actor: (i32, Role),
    effective_from: NaiveDate,
    values: FeePolicyValues,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Vec<FeePolicyRow>, ConfigError> {
    require_admin(actor.1)?;
    let today = tokyo_date(now);
    check_effective_from(effective_from, today)?;
    check_policy(&values)?;
    let note = check_note(note)?;
    let txn = begin_write(db).await?;
    let existing = fee_policy::Entity::find()
        .filter(fee_policy::Column::EffectiveFrom.eq(effective_from))
        .one(&txn)
        .await?;
    let mut replaced = None;
    match existing {
        Some(row) if !is_still_scheduled(row.effective_from, today) => {
            return Err(ConfigError::AlreadyInForce(format!(
                "the fee policy of {} is in force already; schedule a new one from tomorrow",
                row.effective_from
            )));
        }
        Some(row) => {
            replaced = Some(json!({
                "non_resident_percent": row.non_resident_percent,
                "weekend_holiday_percent": row.weekend_holiday_percent,
                "admission_event_percent": row.admission_event_percent,
                "commercial_percent": row.commercial_percent,
            }));
            let mut active: fee_policy::ActiveModel = row.into();
            active.non_resident_percent = Set(values.non_resident_percent);
            active.weekend_holiday_percent = Set(values.weekend_holiday_percent);
            active.admission_event_percent = Set(values.admission_event_percent);
            active.commercial_percent = Set(values.commercial_percent);
            active.update(&txn).await?;
        }
        None => {
            fee_policy::ActiveModel {
                id: NotSet,
                effective_from: Set(effective_from),
                non_resident_percent: Set(values.non_resident_percent),
                weekend_holiday_percent: Set(values.weekend_holiday_percent),
                admission_event_percent: Set(values.admission_event_percent),
                commercial_percent: Set(values.commercial_percent),
            }
            .insert(&txn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    ConfigError::AlreadyInForce(format!(
                        "a fee policy from {effective_from} was saved at the same moment; reload and try again"
                    ))
                } else {
                    e.into()
                }
            })?;
        }
    }
    audit::record(
        &txn,
        actor.0,
        "fee_policy.schedule",
        ("fee_policy", None),
        json!({"effective_from": effective_from, "values": values, "replaced": replaced, "note": note}),
        now,
    )
    .await?;
    txn.commit().await?;
    fee_policies(db, actor.1, today).await
}

// ---------------------------------------------------------------------------------------------
// Fee reductions (減免)
// ---------------------------------------------------------------------------------------------

/// One rate of a reduction.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReductionRateRow {
    /// `None`: the reduction's starting rate, before any scheduled change.
    pub effective_from: Option<NaiveDate>,
    pub percent_off: i32,
    pub status: VersionStatus,
    pub saved_by: Option<String>,
    pub note: String,
}

/// A reduction with its rates, newest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReductionView {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// The rate in force today.
    pub percent_off: i32,
    pub rates: Vec<ReductionRateRow>,
}

/// The rate of `reduction` on `day`: its latest scheduled rate whose day has come, else its own.
pub async fn reduction_percent_on(
    db: &impl ConnectionTrait,
    reduction: &fee_reduction::Model,
    day: NaiveDate,
) -> Result<i32, DbErr> {
    Ok(fee_reduction_rate::Entity::find()
        .filter(fee_reduction_rate::Column::FeeReductionId.eq(reduction.id))
        .filter(fee_reduction_rate::Column::EffectiveFrom.lte(day))
        .order_by_desc(fee_reduction_rate::Column::EffectiveFrom)
        .one(db)
        .await?
        .map_or(reduction.percent_off, |r| r.percent_off))
}

/// Every reduction with its history.
pub async fn reductions(
    db: &impl ConnectionTrait,
    role: Role,
    today: NaiveDate,
) -> Result<Vec<ReductionView>, ConfigError> {
    require_console(role)?;
    let list = fee_reduction::Entity::find()
        .order_by_asc(fee_reduction::Column::Code)
        .all(db)
        .await?;
    let rates = fee_reduction_rate::Entity::find()
        .order_by_asc(fee_reduction_rate::Column::EffectiveFrom)
        .all(db)
        .await?;
    let names = names_of(db, rates.iter().map(|r| r.saved_by)).await?;
    let mut out = Vec::new();
    for r in list {
        let own: Vec<&fee_reduction_rate::Model> = rates
            .iter()
            .filter(|x| x.fee_reduction_id == r.id)
            .collect();
        // The starting rate sits before every scheduled one, as if from the beginning of time.
        let mut days = vec![NaiveDate::MIN];
        days.extend(own.iter().map(|x| x.effective_from));
        let status = statuses(&days, today);
        let mut rows = vec![ReductionRateRow {
            effective_from: None,
            percent_off: r.percent_off,
            status: status[0],
            saved_by: None,
            note: String::new(),
        }];
        for (x, s) in own.iter().zip(&status[1..]) {
            rows.push(ReductionRateRow {
                effective_from: Some(x.effective_from),
                percent_off: x.percent_off,
                status: *s,
                saved_by: names.get(&x.saved_by).cloned(),
                note: x.note.clone(),
            });
        }
        let percent_off = rows
            .iter()
            .find(|x| x.status == VersionStatus::InForce)
            .map_or(r.percent_off, |x| x.percent_off);
        rows.reverse();
        out.push(ReductionView {
            code: r.code,
            name: r.name,
            name_en: r.name_en,
            percent_off,
            rates: rows,
        });
    }
    Ok(out)
}

/// Schedule a reduction's rate from a day on (administrators).
pub async fn schedule_reduction_rate(
    db: &sea_orm::DatabaseConnection,
    actor: (i32, Role),
    code: &str,
    effective_from: NaiveDate,
    percent_off: i32,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ReductionView>, ConfigError> {
    require_admin(actor.1)?;
    let today = tokyo_date(now);
    check_effective_from(effective_from, today)?;
    if !(0..=100).contains(&percent_off) {
        return Err(invalid("percent_off", "from 0 to 100"));
    }
    let note = check_note(note)?;
    let txn = begin_write(db).await?;
    let reduction = fee_reduction::Entity::find()
        .filter(fee_reduction::Column::Code.eq(code))
        .one(&txn)
        .await?
        .ok_or(ConfigError::NotFound("fee reduction"))?;
    let existing = fee_reduction_rate::Entity::find()
        .filter(fee_reduction_rate::Column::FeeReductionId.eq(reduction.id))
        .filter(fee_reduction_rate::Column::EffectiveFrom.eq(effective_from))
        .one(&txn)
        .await?;
    let mut replaced = None;
    match existing {
        Some(row) if !is_still_scheduled(row.effective_from, today) => {
            return Err(ConfigError::AlreadyInForce(format!(
                "the rate of {} is in force already; schedule a new one from tomorrow",
                row.effective_from
            )));
        }
        Some(row) => {
            replaced = Some(row.percent_off);
            let mut active: fee_reduction_rate::ActiveModel = row.into();
            active.percent_off = Set(percent_off);
            active.saved_by = Set(actor.0);
            active.saved_at = Set(now);
            active.note = Set(note.clone());
            active.update(&txn).await?;
        }
        None => {
            fee_reduction_rate::ActiveModel {
                id: NotSet,
                fee_reduction_id: Set(reduction.id),
                percent_off: Set(percent_off),
                effective_from: Set(effective_from),
                saved_by: Set(actor.0),
                saved_at: Set(now),
                note: Set(note.clone()),
            }
            .insert(&txn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    ConfigError::AlreadyInForce(format!(
                        "a rate from {effective_from} was saved at the same moment; reload and try again"
                    ))
                } else {
                    e.into()
                }
            })?;
        }
    }
    audit::record(
        &txn,
        actor.0,
        "fee_reduction.schedule",
        ("fee_reduction", Some(i64::from(reduction.id))),
        json!({"code": code, "effective_from": effective_from, "percent_off": percent_off, "replaced": replaced, "note": note}),
        now,
    )
    .await?;
    txn.commit().await?;
    reductions(db, actor.1, today).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_latest_version_whose_day_has_come_is_in_force() {
        let days = [day("2026-01-01"), day("2026-11-23"), day("2027-04-01")];
        assert_eq!(
            statuses(&days, day("2026-11-23")),
            vec![
                VersionStatus::Past,
                VersionStatus::InForce,
                VersionStatus::Scheduled
            ]
        );
        assert_eq!(
            statuses(&days, day("2025-12-31")),
            vec![VersionStatus::Scheduled; 3]
        );
    }

    #[test]
    fn multipliers_below_100_or_above_1000_percent_are_refused_by_name() {
        let ok = FeePolicyValues {
            non_resident_percent: 150,
            weekend_holiday_percent: 120,
            admission_event_percent: 200,
            commercial_percent: 300,
        };
        assert!(check_policy(&ok).is_ok());
        let low = FeePolicyValues {
            weekend_holiday_percent: 99,
            ..ok.clone()
        };
        assert!(matches!(
            check_policy(&low),
            Err(ConfigError::Invalid { field, .. }) if field == "weekend_holiday_percent"
        ));
        let high = FeePolicyValues {
            commercial_percent: 1001,
            ..ok
        };
        assert!(check_policy(&high).is_err());
    }
}
