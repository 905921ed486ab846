//! The console's calendar area (施設管理): the rooms × days calendar with every slot's state, closures and blocks (previewed, then confirmed, with full refunds), and slot templates, seasons and equipment with regeneration that shows what changed.
//!
//! JSON under `/api/v1/admin/` (this file) and pages under `/staff/` ([`pages`]). Handlers are
//! thin: the rules, the facility scope and the audit rows are in `services::console_calendar`
//! (calendar, closures, blocks) and `services::slot_setup` (templates, equipment, regeneration).
//! Staff see the calendar; managers and administrators also close, block and set up slots.

mod pages;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use chrono::Utc;
use utoipa::OpenApi;

use crate::http::error::{AppError, ErrorResponse, FieldError, codes};
use crate::http::extract::{AuthUser, IdParam, ValidJson, ValidPath, ValidQuery};
use crate::services::console_calendar::{self as service, ConsoleError};
use crate::services::{payments, slot_setup};
use crate::state::AppState;
use crate::views::console_calendar::{
    AffectedBooking, BlockItem, BlockRequest, BlockResponse, CalendarBooking, CalendarQuery,
    CalendarResponse, CalendarRoom, CalendarSlot, CalendarSlotState, CancelledBooking, ClosureItem,
    ClosureList, ClosurePreview, ClosureRequest, ClosureResponse, EquipmentRequest, EquipmentView,
    FacilityChoice, FacilityQuery, FacilitySetup, KeptSlot, PeriodsRequest, RegenerationReport,
    RegenerationRequest, RoomChanges, RoomSetup, TemplateView,
};

/// The area's JSON routes, nested under `/api/v1`.
pub fn api() -> Router<AppState> {
    Router::new()
        .route("/admin/calendar", get(get_calendar))
        .route("/admin/closures", get(list_closures).post(create_closure))
        .route("/admin/closures/preview", post(preview_closure))
        .route("/admin/blocks", post(create_block))
        .route("/admin/blocks/{id}/lift", post(lift_block))
        .route("/admin/templates", get(get_setup))
        .route("/admin/templates/rooms/{id}/periods", put(put_periods))
        .route("/admin/templates/rooms/{id}/equipment", post(add_equipment))
        .route("/admin/templates/equipment/{id}", put(update_equipment))
        .route(
            "/admin/templates/regeneration/preview",
            post(preview_regeneration),
        )
        .route("/admin/templates/regeneration", post(apply_regeneration))
}

/// The area's pages, under `/staff/`.
pub fn pages() -> Router<AppState> {
    pages::routes()
}

/// The area's part of the OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    paths(
        get_calendar,
        list_closures,
        preview_closure,
        create_closure,
        create_block,
        lift_block,
        get_setup,
        put_periods,
        add_equipment,
        update_equipment,
        preview_regeneration,
        apply_regeneration
    ),
    components(schemas(
        CalendarResponse,
        CalendarRoom,
        CalendarSlot,
        CalendarSlotState,
        CalendarBooking,
        FacilityChoice,
        ClosureRequest,
        ClosurePreview,
        AffectedBooking,
        ClosureResponse,
        ClosureItem,
        CancelledBooking,
        ClosureList,
        BlockRequest,
        BlockResponse,
        BlockItem,
        FacilitySetup,
        RoomSetup,
        TemplateView,
        EquipmentView,
        PeriodsRequest,
        EquipmentRequest,
        RegenerationRequest,
        RegenerationReport,
        RoomChanges,
        KeptSlot
    ))
)]
pub struct Api;

impl From<ConsoleError> for AppError {
    fn from(error: ConsoleError) -> Self {
        let message = error.to_string();
        match error {
            ConsoleError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            ConsoleError::NotFound(what) => AppError::not_found(what),
            ConsoleError::Invalid(problems) => AppError::field_errors(
                StatusCode::UNPROCESSABLE_ENTITY,
                problems
                    .into_iter()
                    .map(|p| FieldError {
                        field: p.field,
                        message: p.message,
                    })
                    .collect(),
            ),
            ConsoleError::ConfirmationRequired(_) => AppError::Client {
                status: StatusCode::CONFLICT,
                code: codes::CONFIRMATION_REQUIRED,
                message: message.clone(),
                fields: vec![FieldError {
                    field: "confirm".into(),
                    message,
                }],
            },
            ConsoleError::AffectedSetChanged { now } => AppError::Client {
                status: StatusCode::CONFLICT,
                code: codes::AFFECTED_SET_CHANGED,
                message,
                fields: vec![FieldError {
                    field: "expected_booking_ids".into(),
                    message: format!(
                        "affected now: [{}]",
                        now.iter()
                            .map(i64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }],
            },
            ConsoleError::SlotsBooked(ids) => AppError::Client {
                status: StatusCode::CONFLICT,
                code: codes::SLOTS_BOOKED,
                message,
                fields: ids
                    .into_iter()
                    .map(|id| FieldError {
                        field: "bookings".into(),
                        message: format!("booking {id} holds a slot in the range"),
                    })
                    .collect(),
            },
            ConsoleError::Db(db) => db.into(),
        }
    }
}

/// A facility's rooms × days with every slot's state and, for taken slots, the booking: holder,
/// paid or not, checked in or not (a view of personal data: audited). Staff, managers and
/// administrators, at their facilities.
#[utoipa::path(
    get, path = "/api/v1/admin/calendar", tag = "console",
    security(("bearer" = [])),
    params(CalendarQuery),
    responses(
        (status = 200, body = CalendarResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "`forbidden`: a resident, or a facility not assigned", body = ErrorResponse),
        (status = 422, description = "`invalid_input` naming `to` (over 31 days) or `kind`", body = ErrorResponse),
    )
)]
pub async fn get_calendar(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<CalendarQuery>,
) -> Result<Json<CalendarResponse>, AppError> {
    Ok(Json(
        service::calendar(&state.db, (user.id, user.role), query, Utc::now()).await?,
    ))
}

/// A facility's closures and blocks that have not ended. Managers and administrators.
#[utoipa::path(
    get, path = "/api/v1/admin/closures", tag = "console",
    security(("bearer" = [])),
    params(FacilityQuery),
    responses(
        (status = 200, body = ClosureList),
        (status = 403, body = ErrorResponse),
    )
)]
pub async fn list_closures(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<FacilityQuery>,
) -> Result<Json<ClosureList>, AppError> {
    Ok(Json(
        service::list_closures(
            &state.db,
            (user.id, user.role),
            query.facility_id,
            Utc::now(),
        )
        .await?,
    ))
}

/// What a closure would do: the bookings it cancels (holders, refunds; audited), the refund
/// total and the slots it takes out of sale. Changes nothing.
#[utoipa::path(
    post, path = "/api/v1/admin/closures/preview", tag = "console",
    security(("bearer" = [])),
    request_body = ClosureRequest,
    responses(
        (status = 200, body = ClosurePreview),
        (status = 403, body = ErrorResponse),
        (status = 422, description = "`invalid_input` naming the fields", body = ErrorResponse),
    )
)]
pub async fn preview_closure(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<ClosureRequest>,
) -> Result<Json<ClosurePreview>, AppError> {
    Ok(Json(
        service::preview_closure(&state.db, (user.id, user.role), &req, Utc::now()).await?,
    ))
}

/// Close a room (with its halves or whole) or the facility for days: records the closure, takes
/// the slots out of sale and cancels the affected bookings with a full refund and a mail, all in
/// one transaction. When bookings are affected, `confirm: true` and the preview's
/// `expected_booking_ids` are required.
#[utoipa::path(
    post, path = "/api/v1/admin/closures", tag = "console",
    security(("bearer" = [])),
    request_body = ClosureRequest,
    responses(
        (status = 201, body = ClosureResponse),
        (status = 403, body = ErrorResponse),
        (status = 409, description = "`confirmation_required`, or `affected_set_changed` (preview again)", body = ErrorResponse),
        (status = 422, description = "`invalid_input` naming the fields", body = ErrorResponse),
    )
)]
pub async fn create_closure(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<ClosureRequest>,
) -> Result<(StatusCode, Json<ClosureResponse>), AppError> {
    let now = Utc::now();
    let done = service::create_closure(
        &state.db,
        (user.id, user.role),
        &state.booking_rules().refunds,
        &req,
        now,
    )
    .await?;
    for c in &done.cancelled {
        payments::after_booking_ended(&state.db, &state.payments, c.id, now).await;
    }
    Ok((StatusCode::CREATED, Json(done)))
}

/// Block free slots of a room for official use (公用) for days and a time of day; nobody is
/// cancelled. A booked slot in the range refuses the block (409 `slots_booked`).
#[utoipa::path(
    post, path = "/api/v1/admin/blocks", tag = "console",
    security(("bearer" = [])),
    request_body = BlockRequest,
    responses(
        (status = 201, body = BlockResponse),
        (status = 403, body = ErrorResponse),
        (status = 409, description = "`slots_booked`, naming the bookings", body = ErrorResponse),
        (status = 422, description = "`invalid_input` naming the fields", body = ErrorResponse),
    )
)]
pub async fn create_block(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<BlockRequest>,
) -> Result<(StatusCode, Json<BlockResponse>), AppError> {
    let done = service::create_block(&state.db, (user.id, user.role), &req, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(done)))
}

/// Lift a block: its slots still to come go back on sale.
#[utoipa::path(
    post, path = "/api/v1/admin/blocks/{id}/lift", tag = "console",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The block")),
    responses(
        (status = 200, description = "`{slots_reopened}`"),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    )
)]
pub async fn lift_block(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
) -> Result<Json<serde_json::Value>, AppError> {
    let reopened = service::lift_block(&state.db, (user.id, user.role), id, Utc::now()).await?;
    Ok(Json(serde_json::json!({"slots_reopened": reopened})))
}

/// A facility's rooms with their template periods (seasons, kinds of day, bands), priced bands
/// and equipment. Managers and administrators.
#[utoipa::path(
    get, path = "/api/v1/admin/templates", tag = "console",
    security(("bearer" = [])),
    params(FacilityQuery),
    responses(
        (status = 200, body = FacilitySetup),
        (status = 403, body = ErrorResponse),
    )
)]
pub async fn get_setup(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(query): ValidQuery<FacilityQuery>,
) -> Result<Json<FacilitySetup>, AppError> {
    Ok(Json(
        slot_setup::setup(&state.db, (user.id, user.role), query.facility_id).await?,
    ))
}

/// Replace a room's periods (its halves follow). A template other rooms share is copied for
/// this room first. Slots change only when regenerated.
#[utoipa::path(
    put, path = "/api/v1/admin/templates/rooms/{id}/periods", tag = "console",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "A whole or plain room")),
    request_body = PeriodsRequest,
    responses(
        (status = 200, body = RoomSetup),
        (status = 403, body = ErrorResponse),
        (status = 422, description = "`invalid_input` naming e.g. `periods[1].starts`", body = ErrorResponse),
    )
)]
pub async fn put_periods(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
    ValidJson(req): ValidJson<PeriodsRequest>,
) -> Result<Json<RoomSetup>, AppError> {
    Ok(Json(
        slot_setup::set_periods(
            &state.db,
            (user.id, user.role),
            id,
            &req.periods,
            Utc::now(),
        )
        .await?,
    ))
}

/// Add rentable equipment to a room.
#[utoipa::path(
    post, path = "/api/v1/admin/templates/rooms/{id}/equipment", tag = "console",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The room")),
    request_body = EquipmentRequest,
    responses(
        (status = 201, body = EquipmentView),
        (status = 403, body = ErrorResponse),
        (status = 422, body = ErrorResponse),
    )
)]
pub async fn add_equipment(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
    ValidJson(req): ValidJson<EquipmentRequest>,
) -> Result<(StatusCode, Json<EquipmentView>), AppError> {
    let item =
        slot_setup::add_equipment(&state.db, (user.id, user.role), id, &req, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// Change equipment's names, fee or quantity.
#[utoipa::path(
    put, path = "/api/v1/admin/templates/equipment/{id}", tag = "console",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The equipment")),
    request_body = EquipmentRequest,
    responses(
        (status = 200, body = EquipmentView),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse),
    )
)]
pub async fn update_equipment(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
    ValidJson(req): ValidJson<EquipmentRequest>,
) -> Result<Json<EquipmentView>, AppError> {
    Ok(Json(
        slot_setup::update_equipment(&state.db, (user.id, user.role), id, &req, Utc::now()).await?,
    ))
}

/// What regenerating the future slots would change: slots to add, to remove, and kept because a
/// booking held them. Changes nothing.
#[utoipa::path(
    post, path = "/api/v1/admin/templates/regeneration/preview", tag = "console",
    security(("bearer" = [])),
    request_body = RegenerationRequest,
    responses(
        (status = 200, body = RegenerationReport),
        (status = 403, body = ErrorResponse),
        (status = 422, body = ErrorResponse),
    )
)]
pub async fn preview_regeneration(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<RegenerationRequest>,
) -> Result<Json<RegenerationReport>, AppError> {
    regenerate(&state, user, &req, false).await
}

/// Regenerate the future slots from the templates, keeping booked and closed slots.
#[utoipa::path(
    post, path = "/api/v1/admin/templates/regeneration", tag = "console",
    security(("bearer" = [])),
    request_body = RegenerationRequest,
    responses(
        (status = 200, body = RegenerationReport),
        (status = 403, body = ErrorResponse),
        (status = 422, body = ErrorResponse),
    )
)]
pub async fn apply_regeneration(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<RegenerationRequest>,
) -> Result<Json<RegenerationReport>, AppError> {
    regenerate(&state, user, &req, true).await
}

async fn regenerate(
    state: &AppState,
    user: AuthUser,
    req: &RegenerationRequest,
    apply: bool,
) -> Result<Json<RegenerationReport>, AppError> {
    Ok(Json(
        slot_setup::regenerate(
            &state.db,
            (user.id, user.role),
            req,
            state.settings.slot_window_days,
            apply,
            Utc::now(),
        )
        .await?,
    ))
}
