//! The console's settings: prices, reductions (減免), limits, penalty rules, booking phases and the
//! lottery calendar, edited as configuration that is validated, takes effect from a date, and
//! keeps its history (`services::configuration`).
//!
//! The city-wide rules are edited as the configuration file's own TOML (one section at a time),
//! so what administrators type, what the file holds and what the database stores are one format
//! checked by one `validate`; room prices, the fee policy and reduction rates get plain forms.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use crate::domain::calendar::tokyo_date;
use crate::domain::roles::Role;
use crate::domain::rule_history::RuleSection;
use crate::entities::{facility, room};
use crate::http::error::{AppError, ErrorResponse, FieldError};
use crate::http::extract::{AuthUser, ValidJson, ValidPath};
use crate::http::web::page::{Chrome, FormErrors};
use crate::services::configuration::{
    self, ConfigError, FeePolicyRow, FeePolicyValues, PriceEdit, ReductionView, RoomPricesView,
    RuleEdit, RuleSectionView, RuleVersionView, VersionStatus,
};
use crate::services::staff_scope::facility_scope;
use crate::state::AppState;

/// The code of a refusal to change a version whose day has come.
pub const ALREADY_IN_FORCE: &str = "already_in_force";

impl From<ConfigError> for AppError {
    fn from(error: ConfigError) -> Self {
        match error {
            ConfigError::Forbidden => AppError::client(
                StatusCode::FORBIDDEN,
                crate::http::error::codes::FORBIDDEN,
                "not allowed: settings are changed by the city's administrators, and room prices by the facility's managers",
            ),
            ConfigError::NotFound(what) => AppError::not_found(what),
            ConfigError::Invalid { field, message } => AppError::Client {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: crate::http::error::codes::INVALID_INPUT,
                message: format!("{field}: {message}"),
                fields: vec![FieldError { field, message }],
            },
            ConfigError::AlreadyInForce(message) => {
                AppError::client(StatusCode::CONFLICT, ALREADY_IN_FORCE, message)
            }
            ConfigError::Db(e) => AppError::Internal(e.into()),
        }
    }
}

/// The area's JSON routes, nested under `/api/v1`.
pub fn api() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/settings/rules/{section}",
            get(get_rules).post(save_rules),
        )
        .route(
            "/admin/settings/rules/{section}/versions/{id}/withdraw",
            post(withdraw_rules),
        )
        .route(
            "/admin/settings/rooms/{id}/prices",
            get(get_room_prices).post(save_room_prices),
        )
        .route(
            "/admin/settings/fee-policy",
            get(get_fee_policy).post(save_fee_policy),
        )
        .route("/admin/settings/reductions", get(get_reductions))
        .route(
            "/admin/settings/reductions/{code}/rates",
            post(save_reduction_rate),
        )
}

/// The area's pages, under `/staff/settings`.
pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/staff/settings", get(overview_page))
        .route(
            "/staff/settings/rules/{section}",
            get(rules_page).post(rules_submit),
        )
        .route(
            "/staff/settings/rules/{section}/versions/{id}/withdraw",
            post(rules_withdraw_submit),
        )
        .route(
            "/staff/settings/rooms/{id}/prices",
            get(prices_page).post(prices_submit),
        )
        .route(
            "/staff/settings/fee-policy",
            get(fee_policy_page).post(fee_policy_submit),
        )
        .route(
            "/staff/settings/reductions",
            get(reductions_page).post(reductions_submit),
        )
}

/// The area's part of the OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    paths(
        get_rules,
        save_rules,
        withdraw_rules,
        get_room_prices,
        save_room_prices,
        get_fee_policy,
        save_fee_policy,
        get_reductions,
        save_reduction_rate
    ),
    components(schemas(
        RuleSection,
        RuleSectionView,
        RuleVersionView,
        VersionStatus,
        SaveRulesRequest,
        RoomPricesView,
        configuration::RoomPriceRow,
        SavePricesRequest,
        FeePolicyRow,
        FeePolicyValues,
        SaveFeePolicyRequest,
        ReductionView,
        configuration::ReductionRateRow,
        SaveReductionRateRequest
    ))
)]
pub struct Api;

// ---------------------------------------------------------------------------------------------
// JSON API
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct SectionPath {
    pub section: String,
}

#[derive(Debug, Deserialize)]
pub struct SectionVersionPath {
    pub section: String,
    pub id: i32,
}

#[derive(Debug, Deserialize)]
pub struct RoomPath {
    pub id: i32,
}

#[derive(Debug, Deserialize)]
pub struct CodePath {
    pub code: String,
}

fn section_of(code: &str) -> Result<RuleSection, AppError> {
    code.parse()
        .map_err(|_| AppError::not_found("rules section (booking, penalties or lottery)"))
}

/// A new version of a rules section.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveRulesRequest {
    /// The first day (Tokyo) the version is in force: today or later.
    pub effective_from: NaiveDate,
    /// The whole section as the configuration file's TOML (keys left out take the defaults).
    pub toml: String,
    /// Why (kept in the history).
    #[serde(default)]
    pub note: String,
}

/// A rules section: in force, scheduled and past versions.
#[utoipa::path(
    get, path = "/api/v1/admin/settings/rules/{section}", tag = "admin",
    security(("bearer" = [])),
    params(("section" = String, Path, description = "`booking`, `penalties` or `lottery`")),
    responses(
        (status = 200, body = RuleSectionView),
        (status = 403, description = "`forbidden`: residents", body = ErrorResponse),
        (status = 404, description = "no such section", body = ErrorResponse),
    )
)]
pub async fn get_rules(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<SectionPath>,
) -> Result<Json<RuleSectionView>, AppError> {
    let section = section_of(&path.section)?;
    let today = tokyo_date(Utc::now());
    Ok(Json(
        configuration::rule_section(&state.db, &state.rules, user.role, section, today).await?,
    ))
}

/// Schedule a new version of a rules section (administrators). A version already scheduled for
/// the same day is replaced; one in force is refused with 409 `already_in_force`.
#[utoipa::path(
    post, path = "/api/v1/admin/settings/rules/{section}", tag = "admin",
    security(("bearer" = [])),
    params(("section" = String, Path, description = "`booking`, `penalties` or `lottery`")),
    request_body = SaveRulesRequest,
    responses(
        (status = 201, body = RuleVersionView),
        (status = 403, description = "`forbidden`: administrators only", body = ErrorResponse),
        (status = 409, description = "`already_in_force`: that day's version is history", body = ErrorResponse),
        (status = 422, description = "`invalid_input` naming the field (`toml`, `toml.<rule>`, `effective_from`, `note`)", body = ErrorResponse),
    )
)]
pub async fn save_rules(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<SectionPath>,
    ValidJson(request): ValidJson<SaveRulesRequest>,
) -> Result<(StatusCode, Json<RuleVersionView>), AppError> {
    let section = section_of(&path.section)?;
    let edit = RuleEdit {
        section,
        effective_from: request.effective_from,
        toml: request.toml,
        note: request.note,
    };
    let saved = configuration::save_rule_version(
        &state.db,
        &state.rules,
        (user.id, user.role),
        edit,
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Withdraw a version that has not taken effect (administrators).
#[utoipa::path(
    post, path = "/api/v1/admin/settings/rules/{section}/versions/{id}/withdraw", tag = "admin",
    security(("bearer" = [])),
    params(
        ("section" = String, Path, description = "`booking`, `penalties` or `lottery`"),
        ("id" = i32, Path, description = "the version"),
    ),
    responses(
        (status = 204, description = "withdrawn"),
        (status = 403, description = "`forbidden`: administrators only", body = ErrorResponse),
        (status = 404, description = "no such version", body = ErrorResponse),
        (status = 409, description = "`already_in_force`", body = ErrorResponse),
    )
)]
pub async fn withdraw_rules(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<SectionVersionPath>,
) -> Result<StatusCode, AppError> {
    let section = section_of(&path.section)?;
    configuration::withdraw_rule_version(
        &state.db,
        &state.rules,
        (user.id, user.role),
        section,
        path.id,
        Utc::now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New fees for some of a room's bands from a day on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavePricesRequest {
    pub effective_from: NaiveDate,
    /// Band → resident weekday fee per slot, in yen.
    pub prices: BTreeMap<String, i32>,
    #[serde(default)]
    pub note: String,
}

/// A room's prices: in force, scheduled, past.
#[utoipa::path(
    get, path = "/api/v1/admin/settings/rooms/{id}/prices", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "the room")),
    responses(
        (status = 200, body = RoomPricesView),
        (status = 403, description = "`forbidden`: not assigned to the room's facility", body = ErrorResponse),
        (status = 404, description = "no such room", body = ErrorResponse),
    )
)]
pub async fn get_room_prices(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<RoomPath>,
) -> Result<Json<RoomPricesView>, AppError> {
    let today = tokyo_date(Utc::now());
    Ok(Json(
        configuration::room_prices(&state.db, (user.id, user.role), path.id, today).await?,
    ))
}

/// Schedule a room's fees (managers of its facility, administrators).
#[utoipa::path(
    post, path = "/api/v1/admin/settings/rooms/{id}/prices", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "the room")),
    request_body = SavePricesRequest,
    responses(
        (status = 201, body = RoomPricesView),
        (status = 403, description = "`forbidden`: staff, or another facility's manager", body = ErrorResponse),
        (status = 409, description = "`already_in_force`", body = ErrorResponse),
        (status = 422, description = "`invalid_input` naming the field (`prices.<band>`, `effective_from`)", body = ErrorResponse),
    )
)]
pub async fn save_room_prices(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<RoomPath>,
    ValidJson(request): ValidJson<SavePricesRequest>,
) -> Result<(StatusCode, Json<RoomPricesView>), AppError> {
    let edit = PriceEdit {
        effective_from: request.effective_from,
        prices: request.prices,
        note: request.note,
    };
    let view = configuration::schedule_room_prices(
        &state.db,
        (user.id, user.role),
        path.id,
        edit,
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// New fee multipliers from a day on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveFeePolicyRequest {
    pub effective_from: NaiveDate,
    pub non_resident_percent: i32,
    pub weekend_holiday_percent: i32,
    pub admission_event_percent: i32,
    pub commercial_percent: i32,
    #[serde(default)]
    pub note: String,
}

/// The fee policy's history, newest first.
#[utoipa::path(
    get, path = "/api/v1/admin/settings/fee-policy", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = [FeePolicyRow]),
        (status = 403, description = "`forbidden`: residents", body = ErrorResponse),
    )
)]
pub async fn get_fee_policy(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<FeePolicyRow>>, AppError> {
    let today = tokyo_date(Utc::now());
    Ok(Json(
        configuration::fee_policies(&state.db, user.role, today).await?,
    ))
}

/// Schedule the fee policy (administrators).
#[utoipa::path(
    post, path = "/api/v1/admin/settings/fee-policy", tag = "admin",
    security(("bearer" = [])),
    request_body = SaveFeePolicyRequest,
    responses(
        (status = 201, body = [FeePolicyRow]),
        (status = 403, description = "`forbidden`: administrators only", body = ErrorResponse),
        (status = 409, description = "`already_in_force`", body = ErrorResponse),
        (status = 422, description = "`invalid_input` naming the field", body = ErrorResponse),
    )
)]
pub async fn save_fee_policy(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(request): ValidJson<SaveFeePolicyRequest>,
) -> Result<(StatusCode, Json<Vec<FeePolicyRow>>), AppError> {
    let values = FeePolicyValues {
        non_resident_percent: request.non_resident_percent,
        weekend_holiday_percent: request.weekend_holiday_percent,
        admission_event_percent: request.admission_event_percent,
        commercial_percent: request.commercial_percent,
    };
    let rows = configuration::schedule_fee_policy(
        &state.db,
        (user.id, user.role),
        request.effective_from,
        values,
        &request.note,
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(rows)))
}

/// A reduction's new rate from a day on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveReductionRateRequest {
    pub effective_from: NaiveDate,
    /// 0–100.
    pub percent_off: i32,
    #[serde(default)]
    pub note: String,
}

/// Every fee reduction with its rates.
#[utoipa::path(
    get, path = "/api/v1/admin/settings/reductions", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = [ReductionView]),
        (status = 403, description = "`forbidden`: residents", body = ErrorResponse),
    )
)]
pub async fn get_reductions(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<ReductionView>>, AppError> {
    let today = tokyo_date(Utc::now());
    Ok(Json(
        configuration::reductions(&state.db, user.role, today).await?,
    ))
}

/// Schedule a reduction's rate (administrators).
#[utoipa::path(
    post, path = "/api/v1/admin/settings/reductions/{code}/rates", tag = "admin",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "the reduction's code")),
    request_body = SaveReductionRateRequest,
    responses(
        (status = 201, body = [ReductionView]),
        (status = 403, description = "`forbidden`: administrators only", body = ErrorResponse),
        (status = 404, description = "no such reduction", body = ErrorResponse),
        (status = 409, description = "`already_in_force`", body = ErrorResponse),
        (status = 422, description = "`invalid_input` naming the field", body = ErrorResponse),
    )
)]
pub async fn save_reduction_rate(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<CodePath>,
    ValidJson(request): ValidJson<SaveReductionRateRequest>,
) -> Result<(StatusCode, Json<Vec<ReductionView>>), AppError> {
    let list = configuration::schedule_reduction_rate(
        &state.db,
        (user.id, user.role),
        &path.code,
        request.effective_from,
        request.percent_off,
        &request.note,
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(list)))
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

/// The console person of a settings page: `(id, role)`, or the response to send instead.
#[allow(clippy::result_large_err)]
fn actor(c: &Chrome) -> Result<(i32, Role), Response> {
    let user = super::require_console_user(c)?;
    Ok((user.id, user.role))
}

/// A page for a service refusal: the console's 403/404, or 500.
fn refusal(c: &Chrome, error: ConfigError) -> Response {
    match error {
        ConfigError::Forbidden => c.error(StatusCode::FORBIDDEN, c.t("console.settings.forbidden")),
        ConfigError::NotFound(_) => c.not_found(),
        ConfigError::Db(e) => c.internal(e),
        // Invalid and AlreadyInForce are shown on the form by the callers.
        other => c.internal(other),
    }
}

/// Put a service refusal next to its field (`AlreadyInForce` blames the date).
fn add_error(c: &Chrome, errors: &mut FormErrors, error: ConfigError) -> Option<Response> {
    match error {
        ConfigError::Invalid { field, message } => {
            // `toml.window.opens_on_day` is shown at the text box, naming the rule.
            let at = if field.starts_with("toml") {
                "toml"
            } else {
                field.as_str()
            };
            let text = match field.strip_prefix("toml.") {
                Some(rule) => format!("{rule}: {message}"),
                None => message,
            };
            errors.add(at, text);
            None
        }
        ConfigError::AlreadyInForce(_) => {
            errors.add("effective_from", c.t("console.settings.already_in_force"));
            None
        }
        other => Some(refusal(c, other)),
    }
}

fn status_label(c: &Chrome, status: VersionStatus) -> &'static str {
    match status {
        VersionStatus::Scheduled => c.t("console.settings.status.scheduled"),
        VersionStatus::InForce => c.t("console.settings.status.in_force"),
        VersionStatus::Past => c.t("console.settings.status.past"),
    }
}

fn section_label(c: &Chrome, section: RuleSection) -> &'static str {
    match section {
        RuleSection::Booking => c.t("console.settings.section.booking"),
        RuleSection::Penalties => c.t("console.settings.section.penalties"),
        RuleSection::Lottery => c.t("console.settings.section.lottery"),
    }
}

fn parse_date(c: &Chrome, errors: &mut FormErrors, field: &str, text: &str) -> Option<NaiveDate> {
    match text.trim().parse::<NaiveDate>() {
        Ok(day) => Some(day),
        Err(_) => {
            errors.add(field, c.t("console.settings.error.date"));
            None
        }
    }
}

/// A section's line on the overview.
pub struct SectionLine {
    pub code: &'static str,
    pub label: &'static str,
    pub since: String,
    pub scheduled: usize,
}

/// A room on the overview, with its facility.
pub struct RoomLine {
    pub id: i32,
    pub name: String,
}

/// A facility and its rooms on the overview.
pub struct FacilityRooms {
    pub name: String,
    pub rooms: Vec<RoomLine>,
}

#[derive(Template)]
#[template(path = "console/settings.html")]
struct OverviewPage<'a> {
    c: &'a Chrome,
    sections: Vec<SectionLine>,
    facilities: Vec<FacilityRooms>,
}

/// `GET /staff/settings`: the rules sections, the fee policy and reductions, and the rooms whose
/// prices this person may see.
async fn overview_page(c: Chrome, State(state): State<AppState>) -> Response {
    let (id, role) = match actor(&c) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let today = tokyo_date(Utc::now());
    let mut sections = Vec::new();
    for section in RuleSection::ALL {
        match configuration::rule_section(&state.db, &state.rules, role, section, today).await {
            Ok(view) => sections.push(SectionLine {
                code: section.code(),
                label: section_label(&c, section),
                since: view.in_force_since.map_or_else(
                    || c.t("console.settings.from_file").to_owned(),
                    |d| c.date(&d),
                ),
                scheduled: view
                    .versions
                    .iter()
                    .filter(|v| v.status == VersionStatus::Scheduled)
                    .count(),
            }),
            Err(e) => return refusal(&c, e),
        }
    }
    let facilities = match rooms_in_scope(&state, id, role).await {
        Ok(f) => f,
        Err(e) => return c.internal(e),
    };
    c.respond(
        StatusCode::OK,
        &OverviewPage {
            c: &c,
            sections,
            facilities,
        },
    )
}

async fn rooms_in_scope(
    state: &AppState,
    id: i32,
    role: Role,
) -> Result<Vec<FacilityRooms>, sea_orm::DbErr> {
    let scope = facility_scope(&state.db, id, role).await?;
    let mut query = facility::Entity::find().order_by_asc(facility::Column::Code);
    if let Some(ids) = scope.facility_ids() {
        query = query.filter(facility::Column::Id.is_in(ids.to_vec()));
    }
    let facilities = query.all(&state.db).await?;
    let ids: Vec<i32> = facilities.iter().map(|f| f.id).collect();
    let rooms = room::Entity::find()
        .filter(room::Column::FacilityId.is_in(ids))
        .order_by_asc(room::Column::Id)
        .all(&state.db)
        .await?;
    Ok(facilities
        .into_iter()
        .map(|f| FacilityRooms {
            name: f.name,
            rooms: rooms
                .iter()
                .filter(|r| r.facility_id == f.id)
                .map(|r| RoomLine {
                    id: r.id,
                    name: r.name.clone(),
                })
                .collect(),
        })
        .collect())
}

/// A version's row on a rules page.
pub struct VersionLine {
    pub id: i32,
    pub from: String,
    pub status: &'static str,
    pub scheduled: bool,
    pub saved_by: String,
    pub note: String,
    pub toml: String,
}

#[derive(Template)]
#[template(path = "console/settings-rules.html")]
struct RulesPage<'a> {
    c: &'a Chrome,
    section: &'static str,
    label: &'static str,
    since: String,
    in_force_toml: String,
    versions: Vec<VersionLine>,
    can_edit: bool,
    errors: FormErrors,
    form_from: String,
    form_toml: String,
    form_note: String,
}

/// The rules form.
#[derive(Debug, Default, Deserialize)]
pub struct RulesForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub effective_from: String,
    #[serde(default)]
    pub toml: String,
    #[serde(default)]
    pub note: String,
}

async fn render_rules(
    c: &Chrome,
    state: &AppState,
    role: Role,
    section: RuleSection,
    form: Option<RulesForm>,
    errors: FormErrors,
) -> Response {
    let today = tokyo_date(Utc::now());
    let view: RuleSectionView =
        match configuration::rule_section(&state.db, &state.rules, role, section, today).await {
            Ok(v) => v,
            Err(e) => return refusal(c, e),
        };
    let versions = view
        .versions
        .iter()
        .map(|v| VersionLine {
            id: v.id,
            from: c.date(&v.effective_from),
            status: status_label(c, v.status),
            scheduled: v.status == VersionStatus::Scheduled,
            saved_by: v.saved_by.clone(),
            note: v.note.clone(),
            toml: v.toml.clone(),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let form = form.unwrap_or_else(|| RulesForm {
        effective_from: today.succ_opt().unwrap_or(today).to_string(),
        toml: view.in_force_toml.clone(),
        ..RulesForm::default()
    });
    c.respond(
        status,
        &RulesPage {
            c,
            section: section.code(),
            label: section_label(c, section),
            since: view.in_force_since.map_or_else(
                || c.t("console.settings.from_file").to_owned(),
                |d| c.date(&d),
            ),
            in_force_toml: view.in_force_toml,
            versions,
            can_edit: role == Role::Admin,
            errors,
            form_from: form.effective_from,
            form_toml: form.toml,
            form_note: form.note,
        },
    )
}

/// `GET /staff/settings/rules/{section}`.
async fn rules_page(
    c: Chrome,
    State(state): State<AppState>,
    Path(section): Path<String>,
) -> Response {
    let (_, role) = match actor(&c) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(section) = section.parse::<RuleSection>() else {
        return c.not_found();
    };
    render_rules(&c, &state, role, section, None, FormErrors::default()).await
}

/// `POST /staff/settings/rules/{section}`: schedule a version, then back to the page.
async fn rules_submit(
    c: Chrome,
    State(state): State<AppState>,
    Path(section): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RulesForm>,
) -> Response {
    let (id, role) = match actor(&c) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(section) = section.parse::<RuleSection>() else {
        return c.not_found();
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let mut errors = FormErrors::default();
    if let Some(effective_from) =
        parse_date(&c, &mut errors, "effective_from", &form.effective_from)
    {
        let edit = RuleEdit {
            section,
            effective_from,
            toml: form.toml.clone(),
            note: form.note.clone(),
        };
        match configuration::save_rule_version(
            &state.db,
            &state.rules,
            (id, role),
            edit,
            Utc::now(),
        )
        .await
        {
            Ok(_) => {
                return Redirect::to(&format!("/staff/settings/rules/{}#history", section.code()))
                    .into_response();
            }
            Err(e) => {
                if let Some(response) = add_error(&c, &mut errors, e) {
                    return response;
                }
            }
        }
    }
    render_rules(&c, &state, role, section, Some(form), errors).await
}

/// A form carrying only the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /staff/settings/rules/{section}/versions/{id}/withdraw`.
async fn rules_withdraw_submit(
    c: Chrome,
    State(state): State<AppState>,
    Path((section, version)): Path<(String, i32)>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (id, role) = match actor(&c) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(section) = section.parse::<RuleSection>() else {
        return c.not_found();
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    match configuration::withdraw_rule_version(
        &state.db,
        &state.rules,
        (id, role),
        section,
        version,
        Utc::now(),
    )
    .await
    {
        Ok(()) => Redirect::to(&format!("/staff/settings/rules/{}#history", section.code()))
            .into_response(),
        Err(ConfigError::AlreadyInForce(_)) => c.error(
            StatusCode::CONFLICT,
            c.t("console.settings.already_in_force"),
        ),
        Err(e) => refusal(&c, e),
    }
}

/// A band's input on the prices page.
pub struct BandInput {
    pub band: String,
    pub in_force: String,
    pub value: String,
}

/// A price row on the prices page.
pub struct PriceLine {
    pub band: String,
    pub yen: String,
    pub from: String,
    pub status: &'static str,
}

#[derive(Template)]
#[template(path = "console/settings-prices.html")]
struct PricesPage<'a> {
    c: &'a Chrome,
    room_id: i32,
    room_name: String,
    facility_name: String,
    bands: Vec<BandInput>,
    rows: Vec<PriceLine>,
    can_edit: bool,
    errors: FormErrors,
    form_from: String,
    form_note: String,
}

async fn render_prices(
    c: &Chrome,
    state: &AppState,
    actor: (i32, Role),
    room_id: i32,
    form: Option<&BTreeMap<String, String>>,
    errors: FormErrors,
) -> Response {
    let today = tokyo_date(Utc::now());
    let view = match configuration::room_prices(&state.db, actor, room_id, today).await {
        Ok(v) => v,
        Err(e) => return refusal(c, e),
    };
    let value = |key: &str| form.and_then(|f| f.get(key)).cloned().unwrap_or_default();
    let bands = view
        .bands
        .iter()
        .map(|band| BandInput {
            band: band.clone(),
            in_force: view
                .in_force
                .get(band)
                .map_or_else(|| "—".to_owned(), |y| c.yen(&i64::from(*y))),
            value: form.map_or_else(
                || {
                    view.in_force
                        .get(band)
                        .map(|y| y.to_string())
                        .unwrap_or_default()
                },
                |_| value(&format!("price_{band}")),
            ),
        })
        .collect();
    let rows = view
        .rows
        .iter()
        .map(|r| PriceLine {
            band: r.band.clone(),
            yen: c.yen(&i64::from(r.amount_yen)),
            from: c.date(&r.effective_from),
            status: status_label(c, r.status),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    c.respond(
        status,
        &PricesPage {
            c,
            room_id: view.room_id,
            room_name: view.room_name,
            facility_name: view.facility_name,
            bands,
            rows,
            can_edit: view.editable,
            errors,
            form_from: if form.is_some() {
                value("effective_from")
            } else {
                today.succ_opt().unwrap_or(today).to_string()
            },
            form_note: value("note"),
        },
    )
}

/// `GET /staff/settings/rooms/{id}/prices`.
async fn prices_page(
    c: Chrome,
    State(state): State<AppState>,
    Path(room_id): Path<i32>,
) -> Response {
    let actor = match actor(&c) {
        Ok(a) => a,
        Err(r) => return r,
    };
    render_prices(&c, &state, actor, room_id, None, FormErrors::default()).await
}

/// `POST /staff/settings/rooms/{id}/prices`: fields `effective_from`, `note` and `price_<band>`
/// for each band (an empty band is left as it is).
async fn prices_submit(
    c: Chrome,
    State(state): State<AppState>,
    Path(room_id): Path<i32>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let actor = match actor(&c) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    if !c.check_csrf(&state, &headers, csrf) {
        return c.stale_form();
    }
    let mut errors = FormErrors::default();
    let from = parse_date(
        &c,
        &mut errors,
        "effective_from",
        form.get("effective_from")
            .map(String::as_str)
            .unwrap_or_default(),
    );
    let mut prices = BTreeMap::new();
    for (key, value) in &form {
        let Some(band) = key.strip_prefix("price_") else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match value.replace(',', "").parse::<i32>() {
            Ok(yen) => {
                prices.insert(band.to_owned(), yen);
            }
            Err(_) => errors.add(key, c.t("console.settings.error.yen")),
        }
    }
    // The form starts from the fees in force: only the bands whose fee was changed are scheduled,
    // so an untouched band gets no new row in the history.
    if let Ok(view) =
        configuration::room_prices(&state.db, actor, room_id, tokyo_date(Utc::now())).await
    {
        prices.retain(|band, yen| view.in_force.get(band) != Some(yen));
    }
    if errors.is_empty() && prices.is_empty() {
        errors.add("effective_from", c.t("console.settings.error.no_change"));
    }
    if let (Some(effective_from), true) = (from, errors.is_empty()) {
        let edit = PriceEdit {
            effective_from,
            prices,
            note: form.get("note").cloned().unwrap_or_default(),
        };
        match configuration::schedule_room_prices(&state.db, actor, room_id, edit, Utc::now()).await
        {
            Ok(_) => {
                return Redirect::to(&format!("/staff/settings/rooms/{room_id}/prices#history"))
                    .into_response();
            }
            Err(ConfigError::Invalid { field, message }) => {
                // `prices.<band>` is the input `price_<band>`.
                let at = field
                    .strip_prefix("prices.")
                    .map_or_else(|| field.clone(), |band| format!("price_{band}"));
                let at = if at == "prices" {
                    "effective_from".to_owned()
                } else {
                    at
                };
                errors.add(&at, message);
            }
            Err(e) => {
                if let Some(response) = add_error(&c, &mut errors, e) {
                    return response;
                }
            }
        }
    }
    render_prices(&c, &state, actor, room_id, Some(&form), errors).await
}

/// A fee policy row on its page.
pub struct PolicyLine {
    pub from: String,
    pub status: &'static str,
    pub values: FeePolicyValues,
}

#[derive(Template)]
#[template(path = "console/settings-fee-policy.html")]
struct FeePolicyPage<'a> {
    c: &'a Chrome,
    rows: Vec<PolicyLine>,
    can_edit: bool,
    errors: FormErrors,
    form: FeePolicyForm,
    /// The four multipliers as (field, entered value), in the form's order.
    fields: Vec<(&'static str, String)>,
}

/// The fee policy form (text fields, so a wrong entry comes back to be corrected).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FeePolicyForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub effective_from: String,
    #[serde(default)]
    pub non_resident_percent: String,
    #[serde(default)]
    pub weekend_holiday_percent: String,
    #[serde(default)]
    pub admission_event_percent: String,
    #[serde(default)]
    pub commercial_percent: String,
    #[serde(default)]
    pub note: String,
}

async fn render_fee_policy(
    c: &Chrome,
    state: &AppState,
    role: Role,
    form: Option<FeePolicyForm>,
    errors: FormErrors,
) -> Response {
    let today = tokyo_date(Utc::now());
    let rows = match configuration::fee_policies(&state.db, role, today).await {
        Ok(r) => r,
        Err(e) => return refusal(c, e),
    };
    let form = form.unwrap_or_else(|| {
        let current = rows.iter().find(|r| r.status == VersionStatus::InForce);
        let v = |f: fn(&FeePolicyValues) -> i32| {
            current
                .map(|r| f(&r.values).to_string())
                .unwrap_or_default()
        };
        FeePolicyForm {
            effective_from: today.succ_opt().unwrap_or(today).to_string(),
            non_resident_percent: v(|x| x.non_resident_percent),
            weekend_holiday_percent: v(|x| x.weekend_holiday_percent),
            admission_event_percent: v(|x| x.admission_event_percent),
            commercial_percent: v(|x| x.commercial_percent),
            ..FeePolicyForm::default()
        }
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    c.respond(
        status,
        &FeePolicyPage {
            c,
            rows: rows
                .into_iter()
                .map(|r| PolicyLine {
                    from: c.date(&r.effective_from),
                    status: status_label(c, r.status),
                    values: r.values,
                })
                .collect(),
            can_edit: role == Role::Admin,
            errors,
            fields: vec![
                ("non_resident_percent", form.non_resident_percent.clone()),
                (
                    "weekend_holiday_percent",
                    form.weekend_holiday_percent.clone(),
                ),
                (
                    "admission_event_percent",
                    form.admission_event_percent.clone(),
                ),
                ("commercial_percent", form.commercial_percent.clone()),
            ],
            form,
        },
    )
}

/// `GET /staff/settings/fee-policy`.
async fn fee_policy_page(c: Chrome, State(state): State<AppState>) -> Response {
    let (_, role) = match actor(&c) {
        Ok(a) => a,
        Err(r) => return r,
    };
    render_fee_policy(&c, &state, role, None, FormErrors::default()).await
}

/// `POST /staff/settings/fee-policy`.
async fn fee_policy_submit(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<FeePolicyForm>,
) -> Response {
    let (id, role) = match actor(&c) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let mut errors = FormErrors::default();
    let from = parse_date(&c, &mut errors, "effective_from", &form.effective_from);
    let mut number = |field: &str, text: &str| match text.trim().parse::<i32>() {
        Ok(n) => n,
        Err(_) => {
            errors.add(field, c.t("console.settings.error.percent"));
            0
        }
    };
    let values = FeePolicyValues {
        non_resident_percent: number("non_resident_percent", &form.non_resident_percent),
        weekend_holiday_percent: number("weekend_holiday_percent", &form.weekend_holiday_percent),
        admission_event_percent: number("admission_event_percent", &form.admission_event_percent),
        commercial_percent: number("commercial_percent", &form.commercial_percent),
    };
    if let (Some(effective_from), true) = (from, errors.is_empty()) {
        match configuration::schedule_fee_policy(
            &state.db,
            (id, role),
            effective_from,
            values,
            &form.note,
            Utc::now(),
        )
        .await
        {
            Ok(_) => return Redirect::to("/staff/settings/fee-policy#history").into_response(),
            Err(e) => {
                if let Some(response) = add_error(&c, &mut errors, e) {
                    return response;
                }
            }
        }
    }
    render_fee_policy(&c, &state, role, Some(form), errors).await
}

/// A reduction on its page.
pub struct ReductionLine {
    pub code: String,
    pub name: String,
    pub percent_off: i32,
    pub rates: Vec<RateLine>,
}

/// A reduction's rate on its page.
pub struct RateLine {
    pub from: String,
    pub percent_off: i32,
    pub status: &'static str,
    pub saved_by: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "console/settings-reductions.html")]
struct ReductionsPage<'a> {
    c: &'a Chrome,
    reductions: Vec<ReductionLine>,
    can_edit: bool,
    errors: FormErrors,
    form: ReductionForm,
}

/// The reduction rate form.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ReductionForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub effective_from: String,
    #[serde(default)]
    pub percent_off: String,
    #[serde(default)]
    pub note: String,
}

async fn render_reductions(
    c: &Chrome,
    state: &AppState,
    role: Role,
    form: Option<ReductionForm>,
    errors: FormErrors,
) -> Response {
    let today = tokyo_date(Utc::now());
    let list = match configuration::reductions(&state.db, role, today).await {
        Ok(l) => l,
        Err(e) => return refusal(c, e),
    };
    let form = form.unwrap_or_else(|| ReductionForm {
        effective_from: today.succ_opt().unwrap_or(today).to_string(),
        code: list.first().map(|r| r.code.clone()).unwrap_or_default(),
        ..ReductionForm::default()
    });
    let reductions = list
        .into_iter()
        .map(|r| ReductionLine {
            name: c.pick(&r.name, &r.name_en).to_owned(),
            code: r.code,
            percent_off: r.percent_off,
            rates: r
                .rates
                .into_iter()
                .map(|x| RateLine {
                    from: x.effective_from.map_or_else(
                        || c.t("console.settings.from_start").to_owned(),
                        |d| c.date(&d),
                    ),
                    percent_off: x.percent_off,
                    status: status_label(c, x.status),
                    saved_by: x.saved_by.unwrap_or_default(),
                    note: x.note,
                })
                .collect(),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    c.respond(
        status,
        &ReductionsPage {
            c,
            reductions,
            can_edit: role == Role::Admin,
            errors,
            form,
        },
    )
}

/// `GET /staff/settings/reductions`.
async fn reductions_page(c: Chrome, State(state): State<AppState>) -> Response {
    let (_, role) = match actor(&c) {
        Ok(a) => a,
        Err(r) => return r,
    };
    render_reductions(&c, &state, role, None, FormErrors::default()).await
}

/// `POST /staff/settings/reductions`: schedule one reduction's rate.
async fn reductions_submit(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ReductionForm>,
) -> Response {
    let (id, role) = match actor(&c) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let mut errors = FormErrors::default();
    let from = parse_date(&c, &mut errors, "effective_from", &form.effective_from);
    let percent = match form.percent_off.trim().parse::<i32>() {
        Ok(p) => Some(p),
        Err(_) => {
            errors.add("percent_off", c.t("console.settings.error.percent"));
            None
        }
    };
    if let (Some(effective_from), Some(percent_off)) = (from, percent) {
        match configuration::schedule_reduction_rate(
            &state.db,
            (id, role),
            &form.code,
            effective_from,
            percent_off,
            &form.note,
            Utc::now(),
        )
        .await
        {
            Ok(_) => return Redirect::to("/staff/settings/reductions#history").into_response(),
            Err(ConfigError::NotFound(_)) => {
                errors.add("code", c.t("console.settings.error.reduction"))
            }
            Err(e) => {
                if let Some(response) = add_error(&c, &mut errors, e) {
                    return response;
                }
            }
        }
    }
    render_reductions(&c, &state, role, Some(form), errors).await
}
