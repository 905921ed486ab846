//! The lottery (抽選): public rounds and results under `/lottery`, applications and wins for
//! signed-in residents, rounds and draws for the city's administrators under `/admin/lottery`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;

use super::error::{AppError, ErrorResponse, FieldError};
use super::extract::{AuthUser, IdParam, ValidJson, ValidPath};
use crate::domain::lottery::PublishedResults;
use crate::services::lottery::{self, LotteryError};
use crate::state::AppState;
use crate::views::ListResponse;
use crate::views::booking::BookingResponse;
use crate::views::lottery::{
    ApplicationResponse, ApplyRequest, CreateRoundRequest, DrawResponse, GenerateRoundRequest,
    MyLotteryResponse, RoundResponse, WithdrawRequest,
};

/// Stable error codes of the lottery (beside the common ones in `error::codes`).
pub mod codes {
    /// The round is not taking applications now; the message gives the window.
    pub const LOTTERY_WINDOW_CLOSED: &str = "lottery_window_closed";
    /// A wished slot is not one the round offers (another room or month, or closed).
    pub const SLOT_NOT_IN_LOTTERY: &str = "slot_not_in_lottery";
    /// The round has not been drawn: no results yet.
    pub const LOTTERY_NOT_DRAWN: &str = "lottery_not_drawn";
    /// The round was drawn already (draws happen once).
    pub const LOTTERY_ALREADY_DRAWN: &str = "lottery_already_drawn";
    /// Applications have not closed, so the round cannot be drawn yet.
    pub const LOTTERY_TOO_EARLY: &str = "lottery_too_early";
    /// The win is lapsed, or its deadline passed.
    pub const WIN_NOT_CONFIRMABLE: &str = "win_not_confirmable";
}

impl From<LotteryError> for AppError {
    fn from(error: LotteryError) -> Self {
        use super::error::codes as common;
        let message = error.to_string();
        let client = |status, code| AppError::client(status, code, message.clone());
        match error {
            LotteryError::InvalidInput { field, message } => {
                AppError::invalid_field(field, message)
            }
            LotteryError::NotFound(what) => AppError::not_found(what),
            LotteryError::Forbidden => client(StatusCode::FORBIDDEN, common::FORBIDDEN),
            LotteryError::NotApproved => {
                client(StatusCode::FORBIDDEN, common::REGISTRATION_NOT_APPROVED)
            }
            LotteryError::WindowClosed { .. } => {
                client(StatusCode::CONFLICT, codes::LOTTERY_WINDOW_CLOSED)
            }
            LotteryError::NotInRound { ref field, .. } => AppError::Client {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: codes::SLOT_NOT_IN_LOTTERY,
                message: message.clone(),
                fields: vec![FieldError {
                    field: field.clone(),
                    message: message.clone(),
                }],
            },
            LotteryError::LimitReached { limit, max } => AppError::Client {
                status: StatusCode::CONFLICT,
                code: common::LIMIT_REACHED,
                message: message.clone(),
                fields: vec![FieldError {
                    field: limit.to_owned(),
                    message: format!("at most {max}"),
                }],
            },
            LotteryError::NotDrawn => client(StatusCode::CONFLICT, codes::LOTTERY_NOT_DRAWN),
            LotteryError::AlreadyDrawn => {
                client(StatusCode::CONFLICT, codes::LOTTERY_ALREADY_DRAWN)
            }
            LotteryError::TooEarlyToDraw(_) => {
                client(StatusCode::CONFLICT, codes::LOTTERY_TOO_EARLY)
            }
            LotteryError::WinNotConfirmable(_) => {
                client(StatusCode::CONFLICT, codes::WIN_NOT_CONFIRMABLE)
            }
            LotteryError::Booking(booking) => booking.into(),
            LotteryError::Group(group) => group.into(),
            LotteryError::Db(db) => db.into(),
        }
    }
}

/// Every lottery round, newest month first, with its commitment (and, once drawn, its seed).
#[utoipa::path(
    get, path = "/api/v1/lottery/rounds", tag = "lottery",
    responses((status = 200, body = ListResponse<RoundResponse>))
)]
pub async fn list_rounds(
    State(state): State<AppState>,
) -> Result<Json<ListResponse<RoundResponse>>, AppError> {
    let items = lottery::list_rounds(&state.db, Utc::now()).await?;
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}

/// One lottery round.
#[utoipa::path(
    get, path = "/api/v1/lottery/rounds/{id}", tag = "lottery",
    params(("id" = i32, Path, description = "The round's id")),
    responses(
        (status = 200, body = RoundResponse),
        (status = 404, description = "No such round", body = ErrorResponse),
    )
)]
pub async fn get_round(
    State(state): State<AppState>,
    ValidPath(path): ValidPath<IdParam>,
) -> Result<Json<RoundResponse>, AppError> {
    Ok(Json(
        lottery::get_round(&state.db, path.id, Utc::now()).await?,
    ))
}

/// Apply to a round, or replace your application (edit) while it takes applications. Wishes
/// are slot ids, the first wish first. Apply for a group you represent with `group_id`.
#[utoipa::path(
    post, path = "/api/v1/lottery/rounds/{id}/applications", tag = "lottery",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The round's id")),
    request_body = ApplyRequest,
    responses(
        (status = 201, description = "Applied", body = ApplicationResponse),
        (status = 200, description = "The application was replaced", body = ApplicationResponse),
        (status = 400, description = "`invalid_input` naming the field (`wishes[i]` twice or unknown, `purpose`, `attendees`, `group_id` for group-only rooms)", body = ErrorResponse),
        (status = 403, description = "`registration_not_approved`, or `forbidden` (not the group's representative)", body = ErrorResponse),
        (status = 409, description = "`lottery_window_closed`, or `limit_reached` naming `max_wishes` or `max_wishes_per_month`", body = ErrorResponse),
        (status = 422, description = "`slot_not_in_lottery` naming `wishes[i]`; `group_not_bookable`", body = ErrorResponse),
    )
)]
pub async fn apply(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<IdParam>,
    ValidJson(request): ValidJson<ApplyRequest>,
) -> Result<(StatusCode, Json<ApplicationResponse>), AppError> {
    let (application, created) = lottery::apply(
        &state.db,
        &state.rules.now().lottery,
        (user.id, user.role),
        path.id,
        &request,
        Utc::now(),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(application)))
}

/// Withdraw your (or your group's) application while the round takes applications.
#[utoipa::path(
    post, path = "/api/v1/lottery/rounds/{id}/applications/withdraw", tag = "lottery",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The round's id")),
    request_body = WithdrawRequest,
    responses(
        (status = 200, body = ApplicationResponse),
        (status = 404, description = "No application of yours in this round", body = ErrorResponse),
        (status = 409, description = "`lottery_window_closed`", body = ErrorResponse),
    )
)]
pub async fn withdraw(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<IdParam>,
    ValidJson(request): ValidJson<WithdrawRequest>,
) -> Result<Json<ApplicationResponse>, AppError> {
    Ok(Json(
        lottery::withdraw(&state.db, user.id, path.id, request.group_id, Utc::now()).await?,
    ))
}

/// The published results of a drawn round: seed, commitment, algorithm name and version,
/// pseudonymised applications and the winners. Re-run them with `yoyaku lottery verify FILE`;
/// docs/LOTTERY.md describes the algorithm.
#[utoipa::path(
    get, path = "/api/v1/lottery/rounds/{id}/results", tag = "lottery",
    params(("id" = i32, Path, description = "The round's id")),
    responses(
        (status = 200, body = PublishedResults),
        (status = 404, description = "No such round", body = ErrorResponse),
        (status = 409, description = "`lottery_not_drawn`", body = ErrorResponse),
    )
)]
pub async fn round_results(
    State(state): State<AppState>,
    ValidPath(path): ValidPath<IdParam>,
) -> Result<Json<PublishedResults>, AppError> {
    Ok(Json(lottery::results(&state.db, path.id).await?))
}

/// My lottery applications (and those I made for my groups) with their wishes, pseudonyms and
/// wins, and the rounds they are in.
#[utoipa::path(
    get, path = "/api/v1/me/lottery", tag = "lottery",
    security(("bearer" = [])),
    responses((status = 200, body = MyLotteryResponse))
)]
pub async fn my_lottery(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<MyLotteryResponse>, AppError> {
    Ok(Json(
        lottery::my_lottery(&state.db, user.id, Utc::now()).await?,
    ))
}

/// Confirm a win (当選確定) before the round's deadline: it becomes a booking, awaiting payment
/// like any other. Confirming again returns the same booking.
#[utoipa::path(
    post, path = "/api/v1/me/lottery/wins/{id}/confirm", tag = "lottery",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The win's id")),
    responses(
        (status = 201, body = BookingResponse),
        (status = 404, description = "No such win of yours", body = ErrorResponse),
        (status = 409, description = "`win_not_confirmable` (lapsed or past the deadline); a booking limit (`limit_reached`)", body = ErrorResponse),
    )
)]
pub async fn confirm_win(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<WinPath>,
) -> Result<(StatusCode, Json<BookingResponse>), AppError> {
    let booking = lottery::confirm_win(
        &state.db,
        &state.rules.now().booking,
        user.id,
        path.id,
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(booking)))
}

/// `/me/lottery/wins/{id}`.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct WinPath {
    pub id: i64,
}

/// Create a lottery round (admin). Its seed is drawn now; the commitment is public at once.
#[utoipa::path(
    post, path = "/api/v1/admin/lottery/rounds", tag = "admin",
    security(("bearer" = [])),
    request_body = CreateRoundRequest,
    responses(
        (status = 201, body = RoundResponse),
        (status = 400, description = "`invalid_input` naming the field (times out of order, rooms)", body = ErrorResponse),
        (status = 403, description = "`forbidden`: admins only", body = ErrorResponse),
    )
)]
pub async fn create_round(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(request): ValidJson<CreateRoundRequest>,
) -> Result<(StatusCode, Json<RoundResponse>), AppError> {
    let round = lottery::create_round(
        &state.db,
        &state.rules.now().lottery,
        user.role,
        &request,
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(round)))
}

/// The round of a month by the configured calendar (`[lottery]`), covering every lottery room;
/// a month that has a round gets that round back.
#[utoipa::path(
    post, path = "/api/v1/admin/lottery/calendar", tag = "admin",
    security(("bearer" = [])),
    request_body = GenerateRoundRequest,
    responses(
        (status = 200, body = RoundResponse),
        (status = 403, description = "`forbidden`: admins only", body = ErrorResponse),
    )
)]
pub async fn generate_round(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(request): ValidJson<GenerateRoundRequest>,
) -> Result<Json<RoundResponse>, AppError> {
    Ok(Json(
        lottery::generate_round(
            &state.db,
            &state.rules.now().lottery,
            &state.rules.now().booking,
            user.role,
            request.month_of_use,
            Utc::now(),
        )
        .await?,
    ))
}

/// Draw a round now (admin), once its applications have closed; the background job draws it at
/// its draw time otherwise. A round is drawn once.
#[utoipa::path(
    post, path = "/api/v1/admin/lottery/rounds/{id}/draw", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The round's id")),
    responses(
        (status = 200, body = DrawResponse),
        (status = 403, description = "`forbidden`: admins only", body = ErrorResponse),
        (status = 409, description = "`lottery_already_drawn` or `lottery_too_early`", body = ErrorResponse),
    )
)]
pub async fn draw_round(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<IdParam>,
) -> Result<Json<DrawResponse>, AppError> {
    Ok(Json(
        lottery::draw_round(&state.db, Some(user.role), path.id, Utc::now()).await?,
    ))
}
