//! Groups (団体): `/groups` for residents and their representatives, and the city's fee
//! reductions for groups under `/admin/groups`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{AppError, ErrorResponse};
use super::extract::{AuthUser, IdParam, ValidJson, ValidPath};
use crate::services::groups;
use crate::state::AppState;
use crate::views::ListResponse;
use crate::views::group::{AddMemberRequest, CreateGroupRequest, GroupResponse};

/// `/groups/{id}/members/{user_id}`.
#[derive(Debug, Deserialize)]
pub struct MemberPath {
    pub id: i32,
    pub user_id: i32,
}

/// `POST /admin/groups/{id}/fee-reduction`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeReductionRequest {
    /// A fee reduction code (e.g. `children_group`), or null to withdraw it.
    pub code: Option<String>,
}

/// Start a group. The signed-in resident becomes its representative; it can book once it has
/// its members and is registered.
#[utoipa::path(
    post, path = "/api/v1/groups", tag = "groups",
    security(("bearer" = [])),
    request_body = CreateGroupRequest,
    responses(
        (status = 201, body = GroupResponse),
        (status = 400, description = "`invalid_input` naming the field", body = ErrorResponse),
        (status = 403, description = "`registration_not_approved`, or `forbidden` for staff accounts", body = ErrorResponse),
        (status = 422, description = "`member_in_too_many_groups`", body = ErrorResponse),
    )
)]
pub async fn create_group(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(request): ValidJson<CreateGroupRequest>,
) -> Result<(StatusCode, Json<GroupResponse>), AppError> {
    let group = groups::create_group(&state.db, (user.id, user.role), &request, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// The groups the signed-in person is in.
#[utoipa::path(
    get, path = "/api/v1/groups", tag = "groups",
    security(("bearer" = [])),
    responses((status = 200, body = ListResponse<GroupResponse>))
)]
pub async fn list_groups(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<ListResponse<GroupResponse>>, AppError> {
    let items = groups::my_groups(&state.db, user.id, Utc::now()).await?;
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}

/// One of the person's groups; the representative also sees the members.
#[utoipa::path(
    get, path = "/api/v1/groups/{id}", tag = "groups",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The group's id")),
    responses(
        (status = 200, body = GroupResponse),
        (status = 404, description = "No such group, or not one of yours", body = ErrorResponse),
    )
)]
pub async fn get_group(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
) -> Result<Json<GroupResponse>, AppError> {
    Ok(Json(
        groups::get_group(&state.db, user.id, id, Utc::now()).await?,
    ))
}

/// The representative adds a registered person by card number and date of birth. The person is
/// told by mail and may leave.
#[utoipa::path(
    post, path = "/api/v1/groups/{id}/members", tag = "groups",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The group's id")),
    request_body = AddMemberRequest,
    responses(
        (status = 200, body = GroupResponse),
        (status = 400, description = "`invalid_input` naming `card_number` or `date_of_birth`", body = ErrorResponse),
        (status = 403, description = "`forbidden`: not the representative", body = ErrorResponse),
        (status = 409, description = "`already_member`, `group_state`", body = ErrorResponse),
        (status = 422, description = "`member_not_found`; in a registered group `group_members_shared`, `member_in_too_many_groups`, `group_too_large`", body = ErrorResponse),
    )
)]
pub async fn add_member(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
    ValidJson(request): ValidJson<AddMemberRequest>,
) -> Result<Json<GroupResponse>, AppError> {
    Ok(Json(
        groups::add_member(&state.db, user.id, id, &request, Utc::now()).await?,
    ))
}

/// The representative removes a member; a registered group must still meet the rules.
#[utoipa::path(
    delete, path = "/api/v1/groups/{id}/members/{user_id}", tag = "groups",
    security(("bearer" = [])),
    params(
        ("id" = i32, Path, description = "The group's id"),
        ("user_id" = i32, Path, description = "The member's user id"),
    ),
    responses(
        (status = 200, body = GroupResponse),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 422, description = "`representative_stays`, `group_too_small`, `group_not_in_city`", body = ErrorResponse),
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(MemberPath { id, user_id }): ValidPath<MemberPath>,
) -> Result<Json<GroupResponse>, AppError> {
    Ok(Json(
        groups::remove_member(&state.db, user.id, id, user_id, Utc::now()).await?,
    ))
}

/// A member leaves the group (the representative cannot; they dissolve it).
#[utoipa::path(
    post, path = "/api/v1/groups/{id}/leave", tag = "groups",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The group's id")),
    responses(
        (status = 204, description = "Left"),
        (status = 404, body = ErrorResponse),
        (status = 422, description = "`representative_stays`", body = ErrorResponse),
    )
)]
pub async fn leave_group(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
) -> Result<StatusCode, AppError> {
    groups::leave_group(&state.db, user.id, id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Register a forming group: every group rule is checked, each failure with its own code.
#[utoipa::path(
    post, path = "/api/v1/groups/{id}/register", tag = "groups",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The group's id")),
    responses(
        (status = 200, body = GroupResponse),
        (status = 403, body = ErrorResponse),
        (status = 409, description = "`group_state`: not forming", body = ErrorResponse),
        (status = 422, description = "`group_too_small`, `group_not_in_city`, `group_members_shared`, `member_in_too_many_groups`", body = ErrorResponse),
    )
)]
pub async fn register_group(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
) -> Result<Json<GroupResponse>, AppError> {
    Ok(Json(
        groups::register_group(&state.db, user.id, id, Utc::now()).await?,
    ))
}

/// Dissolve the group; its bookings still to come must be cancelled first.
#[utoipa::path(
    post, path = "/api/v1/groups/{id}/dissolve", tag = "groups",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The group's id")),
    responses(
        (status = 204, description = "Dissolved"),
        (status = 403, body = ErrorResponse),
        (status = 409, description = "`group_has_bookings`, `group_state`", body = ErrorResponse),
    )
)]
pub async fn dissolve_group(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
) -> Result<StatusCode, AppError> {
    groups::dissolve_group(&state.db, user.id, id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Grant a group a fee reduction (減免), or withdraw it. Admins only; audited.
#[utoipa::path(
    post, path = "/api/v1/admin/groups/{id}/fee-reduction", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The group's id")),
    request_body = FeeReductionRequest,
    responses(
        (status = 200, body = GroupResponse),
        (status = 400, description = "`invalid_input` naming `code`", body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    )
)]
pub async fn set_fee_reduction(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
    ValidJson(request): ValidJson<FeeReductionRequest>,
) -> Result<Json<GroupResponse>, AppError> {
    Ok(Json(
        groups::set_fee_reduction(
            &state.db,
            (user.id, user.role),
            id,
            request.code.as_deref(),
            Utc::now(),
        )
        .await?,
    ))
}
