//! The card and check-in at the HTTP edge: `GET /me/card`, `/.well-known/jwks.json`,
//! `GET /checkins/revocations`, `POST /checkins`, `POST /checkins/sync` and `GET /me/penalties`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::bookings::BookingIdParam;
use super::error::{AppError, ErrorResponse, FieldError, codes};
use super::extract::{AuthUser, ValidJson, ValidPath, ValidQuery};
use crate::domain::card_token::RevocationReason;
use crate::domain::roles::Role;
use crate::services::card_keys::TokenRefusal;
use crate::services::cards::{self, CardError, StaffActionError};
use crate::services::checkins::{self, CheckinError, Rules, Scan, Scanner};
use crate::services::penalties;
use crate::state::AppState;
use crate::views::cards::{
    CardActionRequest, CardActionResponse, CardJwks, CardResponse, CheckinRequest, CheckinResponse,
    PenaltiesResponse, RevocationListResponse, RevocationQuery, SyncRequest, SyncResponse,
    VoidPenaltyRequest, VoidPenaltyResponse,
};

/// How long clients may cache the key set. Short, so a new key is picked up within minutes; a
/// new key is published before it signs when configured that way (see docs/ARCHITECTURE.md).
const JWKS_MAX_AGE_SECONDS: u32 = 300;

/// The response header carrying the revocation list's detached JWS.
pub const SIGNATURE_HEADER: &str = "x-yoyaku-signature";

impl From<CardError> for AppError {
    fn from(error: CardError) -> Self {
        let message = error.to_string();
        match error {
            CardError::NotAvailable(_) => {
                AppError::client(StatusCode::FORBIDDEN, codes::CARD_NOT_AVAILABLE, message)
            }
            CardError::KeysMissing => AppError::client(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::CARDS_UNAVAILABLE,
                message,
            ),
            CardError::Db(db) => db.into(),
        }
    }
}

impl From<CheckinError> for AppError {
    fn from(error: CheckinError) -> Self {
        let message = error.to_string();
        let code = error.code();
        let on_field = |status, code, field: &str| AppError::Client {
            status,
            code,
            message: message.clone(),
            fields: vec![FieldError {
                field: field.to_owned(),
                message: message.clone(),
            }],
        };
        match error {
            CheckinError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            CheckinError::FacilityNotFound => AppError::not_found("facility"),
            CheckinError::Invalid { field, message } => AppError::invalid_field(field, message),
            CheckinError::Token(TokenRefusal::Malformed | TokenRefusal::BadSignature) => {
                on_field(StatusCode::BAD_REQUEST, codes::CARD_TOKEN_INVALID, "token")
            }
            CheckinError::Token(_) => on_field(StatusCode::UNPROCESSABLE_ENTITY, code, "token"),
            CheckinError::UnknownCardNumber => on_field(
                StatusCode::UNPROCESSABLE_ENTITY,
                codes::CARD_NOT_FOUND,
                "card_number",
            ),
            CheckinError::UnknownCard
            | CheckinError::CardReplaced(_)
            | CheckinError::CardRevoked(_)
            | CheckinError::RegistrationNotCurrent(_) => {
                AppError::client(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            CheckinError::Db(db) => db.into(),
        }
    }
}

impl From<StaffActionError> for AppError {
    fn from(error: StaffActionError) -> Self {
        let message = error.to_string();
        match error {
            StaffActionError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            StaffActionError::NotFound("card") => {
                AppError::client(StatusCode::NOT_FOUND, codes::CARD_NOT_FOUND, message)
            }
            StaffActionError::NotFound(what) => AppError::not_found(what),
            StaffActionError::Invalid { field, message } => AppError::invalid_field(field, message),
            // `codes::CARD_NOT_IN_USE` or `codes::NO_PENALTY`.
            StaffActionError::Conflict { code, .. } => {
                AppError::client(StatusCode::CONFLICT, code, message)
            }
            StaffActionError::Db(db) => db.into(),
        }
    }
}

/// My user card (利用者証): the card number, a freshly signed token, its QR as inline SVG and
/// when the token expires. Call it whenever the phone is online; the token carries no personal
/// data (card id, serial, issued-at, expiry) and verifies against `/.well-known/jwks.json`.
#[utoipa::path(
    get, path = "/api/v1/me/card", tag = "cards",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CardResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "`card_not_available`: the registration is not approved and current, or the account has no card number", body = ErrorResponse),
        (status = 503, description = "`cards_unavailable`: no card signing key is configured", body = ErrorResponse),
    )
)]
pub async fn my_card(State(state): State<AppState>, user: AuthUser) -> Result<Response, AppError> {
    let card = cards::my_card(
        &state.db,
        &state.card_keys,
        &state.settings.checkin,
        user.id,
        Utc::now(),
    )
    .await?;
    let mut response = Json(card).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The public keys card tokens are signed with (RFC 7517 JWK Set of Ed25519 `OKP` keys, `alg`
/// `EdDSA`, `use` `sig`): the signer, keys announced before they sign, and retired keys until
/// every card they signed has expired. Cacheable for five minutes.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "cards",
    responses((status = 200, body = CardJwks))
)]
pub async fn jwks(State(state): State<AppState>) -> Result<Response, AppError> {
    let set = cards::jwks(&state.db, &state.settings.checkin, Utc::now()).await?;
    let mut response = Json(set).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECONDS}"))
            .unwrap_or(HeaderValue::from_static("no-cache")),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}

fn ensure_staff(user: &AuthUser) -> Result<(), AppError> {
    if user.role == Role::Resident {
        return Err(AppError::client(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN,
            "only staff, managers and administrators may do this",
        ));
    }
    Ok(())
}

/// The cards offline scanners must refuse: revoked cards whose tokens may still be alive, with
/// `since` only those revoked from then on. `issued_at` dates the list. The body is signed: the
/// `X-Yoyaku-Signature` header is a detached compact JWS (RFC 7515 Appendix F, EdDSA, a key of
/// the JWKS) of the exact body bytes. `ETag`/`If-None-Match` answer 304 while the entries have
/// not changed.
#[utoipa::path(
    get, path = "/api/v1/checkins/revocations", tag = "cards",
    security(("bearer" = [])),
    params(RevocationQuery),
    responses(
        (status = 200, body = RevocationListResponse, headers(
            ("x-yoyaku-signature" = String, description = "Detached JWS of the body"),
            ("etag" = String, description = "Changes when the entries change"),
        )),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "`forbidden` for residents", body = ErrorResponse),
    )
)]
pub async fn revocations(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ValidQuery(query): ValidQuery<RevocationQuery>,
) -> Result<Response, AppError> {
    ensure_staff(&user)?;
    let list = cards::revocation_list(
        &state.db,
        &state.settings.checkin,
        query.since.map(|s| s.with_timezone(&Utc)),
        Utc::now(),
    )
    .await?;
    let entries = serde_json::to_vec(&(&list.since, &list.items))
        .map_err(|e| AppError::Internal(e.into()))?;
    let etag = format!("W/\"{}\"", &hex::encode(Sha256::digest(&entries))[..32]);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = serde_json::to_vec(&list).map_err(|e| AppError::Internal(e.into()))?;
        let signature = cards::detached_signature(&state.db, &state.card_keys, &body).await?;
        let mut response = (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Some(signature) = signature.and_then(|s| HeaderValue::from_str(&s).ok()) {
            response.headers_mut().insert(SIGNATURE_HEADER, signature);
        }
        response
    };
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
}

/// Check a card in at a facility: the scanned QR `token`, or the `card_number` typed by staff.
/// Staff and managers only at facilities they are assigned to; administrators anywhere. The
/// answer names the holder, lists their bookings there today, and says what happened
/// (`checked_in`, `already_checked_in` with the time, `payment_due`, `not_yet`, `no_booking`).
#[utoipa::path(
    post, path = "/api/v1/checkins", tag = "cards",
    security(("bearer" = [])),
    request_body = CheckinRequest,
    responses(
        (status = 200, body = CheckinResponse),
        (status = 400, description = "`card_token_invalid` (not a card token, altered, or signed by another key with the same id), `invalid_input` (neither or both of `token`/`card_number`, a mistyped card number)", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "`forbidden`: a resident, or staff not assigned to the facility", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such facility (administrators)", body = ErrorResponse),
        (status = 422, description = "`card_unknown_key` (another city's card, or a key long retired), `card_token_expired`, `card_revoked` (revoked, suspended, or replaced by a newer card), `card_not_found`, `registration_not_current`", body = ErrorResponse),
    )
)]
pub async fn check_in(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(request): ValidJson<CheckinRequest>,
) -> Result<Json<CheckinResponse>, AppError> {
    let now = Utc::now();
    let in_force = state.rules.at(now);
    let rules = Rules {
        checkin: &state.settings.checkin,
        penalties: &in_force.penalties,
    };
    let scan = Scan {
        facility_id: request.facility_id,
        token: request.token,
        card_number: request.card_number,
        client_id: request.client_id,
        scanned_at: now,
    };
    Ok(Json(
        checkins::check_in(&state.db, rules, scanner(&user), scan, now).await?,
    ))
}

fn scanner(user: &AuthUser) -> Scanner {
    Scanner {
        user_id: user.id,
        role: user.role,
    }
}

/// Sync the scans an offline scanner queued (at most 200, oldest first). Each is judged at its
/// `scanned_at` (the token's signature is checked again here), recorded once by its `client_id`:
/// sending a batch again answers `duplicate` for every scan already recorded and changes
/// nothing. A refused scan is reported per item, not as an error of the whole request.
#[utoipa::path(
    post, path = "/api/v1/checkins/sync", tag = "cards",
    security(("bearer" = [])),
    request_body = SyncRequest,
    responses(
        (status = 200, body = SyncResponse),
        (status = 400, description = "`invalid_input`: more than 200 items, or a bad `client_id`", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "`forbidden` for residents", body = ErrorResponse),
    )
)]
pub async fn sync_checkins(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(request): ValidJson<SyncRequest>,
) -> Result<Json<SyncResponse>, AppError> {
    let in_force = state.rules.now();
    let rules = Rules {
        checkin: &state.settings.checkin,
        penalties: &in_force.penalties,
    };
    Ok(Json(
        checkins::sync(&state.db, rules, scanner(&user), request.items, Utc::now()).await?,
    ))
}

/// My penalty points for no-shows, each with its reason, and whether booking is suspended.
#[utoipa::path(
    get, path = "/api/v1/me/penalties", tag = "cards",
    security(("bearer" = [])),
    responses((status = 200, body = PenaltiesResponse), (status = 401, body = ErrorResponse))
)]
pub async fn my_penalties(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<PenaltiesResponse>, AppError> {
    Ok(Json(
        penalties::my_penalties(&state.db, &state.rules.now().penalties, user.id, Utc::now())
            .await?,
    ))
}

/// A card number in a path.
#[derive(Debug, serde::Deserialize)]
pub struct CardNumberParam {
    pub card_number: String,
}

/// Suspend a person's card (staff, managers, administrators): scanners refuse it at once online
/// and, through the revocation list, offline; no new card is issued until staff act again. A
/// person without a card in use yet is suspended too. Audited with the reason.
#[utoipa::path(
    post, path = "/api/v1/admin/cards/{card_number}/suspend", tag = "cards",
    security(("bearer" = [])),
    params(("card_number" = String, Path, description = "The printed 利用者番号 (ten digits)")),
    request_body = CardActionRequest,
    responses(
        (status = 200, body = CardActionResponse),
        (status = 400, description = "`invalid_input`: a mistyped `card_number`, or `reason` empty or over 500 characters", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "`forbidden` for residents", body = ErrorResponse),
        (status = 404, description = "`card_not_found`: no one has this card number", body = ErrorResponse),
        (status = 409, description = "`card_not_in_use`: already suspended", body = ErrorResponse),
    )
)]
pub async fn suspend_card(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(CardNumberParam { card_number }): ValidPath<CardNumberParam>,
    ValidJson(request): ValidJson<CardActionRequest>,
) -> Result<Json<CardActionResponse>, AppError> {
    staff_card_action(
        state,
        user,
        card_number,
        RevocationReason::Suspended,
        request,
    )
    .await
}

/// Revoke a person's card for good (lost, misused): scanners refuse it, and the holder's next
/// `GET /me/card` issues a new card with the next serial. Audited with the reason.
#[utoipa::path(
    post, path = "/api/v1/admin/cards/{card_number}/revoke", tag = "cards",
    security(("bearer" = [])),
    params(("card_number" = String, Path, description = "The printed 利用者番号 (ten digits)")),
    request_body = CardActionRequest,
    responses(
        (status = 200, body = CardActionResponse),
        (status = 400, description = "`invalid_input`: a mistyped `card_number`, or `reason` empty or over 500 characters", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "`forbidden` for residents", body = ErrorResponse),
        (status = 404, description = "`card_not_found`: no one has this card number", body = ErrorResponse),
        (status = 409, description = "`card_not_in_use`: no card in use (never issued, or already revoked or suspended)", body = ErrorResponse),
    )
)]
pub async fn revoke_card(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(CardNumberParam { card_number }): ValidPath<CardNumberParam>,
    ValidJson(request): ValidJson<CardActionRequest>,
) -> Result<Json<CardActionResponse>, AppError> {
    staff_card_action(state, user, card_number, RevocationReason::Revoked, request).await
}

async fn staff_card_action(
    state: AppState,
    user: AuthUser,
    card_number: String,
    reason: RevocationReason,
    request: CardActionRequest,
) -> Result<Json<CardActionResponse>, AppError> {
    Ok(Json(
        cards::staff_revoke(
            &state.db,
            (user.id, user.role),
            &card_number,
            reason,
            &request.reason,
            Utc::now(),
        )
        .await?,
    ))
}

/// Void the penalty points of a no-show (an appeal accepted), with the reason the resident will
/// see; their booking suspension is recomputed. Staff and managers at facilities they are
/// assigned to, administrators anywhere. Audited.
#[utoipa::path(
    post, path = "/api/v1/admin/bookings/{id}/penalty/void", tag = "cards",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The booking marked a no-show")),
    request_body = VoidPenaltyRequest,
    responses(
        (status = 200, body = VoidPenaltyResponse),
        (status = 400, description = "`invalid_input`: `reason` empty or over 500 characters", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 403, description = "`forbidden`: a resident, or staff not assigned to the booking's facility", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such booking", body = ErrorResponse),
        (status = 409, description = "`no_penalty`: the booking has no penalty in force", body = ErrorResponse),
    )
)]
pub async fn void_penalty(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(BookingIdParam { id }): ValidPath<BookingIdParam>,
    ValidJson(request): ValidJson<VoidPenaltyRequest>,
) -> Result<Json<VoidPenaltyResponse>, AppError> {
    Ok(Json(
        penalties::staff_void(
            &state.db,
            (user.id, user.role),
            id,
            &request.reason,
            &state.rules.now().penalties,
            Utc::now(),
        )
        .await?,
    ))
}
