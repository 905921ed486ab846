//! `AppError`, the only error type handlers return, and its JSON envelope:
//! `{"error": {"code": "…", "message": "…", "fields": [{"field": "…", "message": "…"}]}}`.
//!
//! Codes are stable and machine-readable (listed in [`codes`] and in the OpenAPI description).
//! A 5xx is logged once here, with its cause chain, inside the request's span; the client sees only
//! a generic message and the request id header.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::DbErr;
use serde::Serialize;
use utoipa::ToSchema;

use crate::services::account::AccountError;
use crate::services::bookings::BookingError;
use crate::services::documents::DocumentError;
use crate::services::facilities::CatalogError;
use crate::services::groups::GroupError;
use crate::services::registration::RegistrationError;
use crate::services::renewal::RenewalError;
use crate::services::review::ReviewError;
use crate::services::sessions::SessionError;

/// Stable error codes.
pub mod codes {
    /// A parameter or body field is malformed or out of range; `fields` names it.
    pub const INVALID_INPUT: &str = "invalid_input";
    /// A query parameter the endpoint does not know.
    pub const UNKNOWN_PARAMETER: &str = "unknown_parameter";
    /// The resource does not exist.
    pub const NOT_FOUND: &str = "not_found";
    /// The method is not allowed on this path.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// The request body is not JSON of the expected shape.
    pub const INVALID_JSON: &str = "invalid_json";
    /// The database is unreachable.
    pub const UNAVAILABLE: &str = "unavailable";
    /// No valid access token: sign in.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// The access token expired: refresh it.
    pub const TOKEN_EXPIRED: &str = "token_expired";
    /// Wrong email or password (never says which).
    pub const INVALID_CREDENTIALS: &str = "invalid_credentials";
    /// The email address is not verified yet.
    pub const EMAIL_NOT_VERIFIED: &str = "email_not_verified";
    /// The refresh token is unknown, expired or revoked.
    pub const INVALID_REFRESH_TOKEN: &str = "invalid_refresh_token";
    /// A refresh token was used twice; its session was ended everywhere.
    pub const REFRESH_TOKEN_REUSED: &str = "refresh_token_reused";
    /// Too many attempts; `Retry-After` says when to try again.
    pub const TOO_MANY_ATTEMPTS: &str = "too_many_attempts";
    /// A write authenticated by a browser's session cookie came without its CSRF token.
    pub const CSRF_FAILED: &str = "csrf_failed";
    /// Signed in, but not allowed to do this.
    pub const FORBIDDEN: &str = "forbidden";
    /// A slot was taken by another booking.
    pub const SLOT_TAKEN: &str = "slot_taken";
    /// A slot is closed (closure) and cannot be booked.
    pub const SLOT_CLOSED: &str = "slot_closed";
    /// Some slot ids do not exist.
    pub const UNKNOWN_SLOTS: &str = "unknown_slots";
    /// The room does not exist.
    pub const UNKNOWN_ROOM: &str = "unknown_room";
    /// The room has no price for a slot; the facility must set one.
    pub const PRICE_MISSING: &str = "price_missing";
    /// The Idempotency-Key was used with a different request body.
    pub const IDEMPOTENCY_KEY_REUSED: &str = "idempotency_key_reused";
    /// The booking cannot be cancelled in its state.
    pub const BOOKING_NOT_CANCELLABLE: &str = "booking_not_cancellable";
    /// An email-verification link is not genuine.
    pub const LINK_INVALID: &str = "link_invalid";
    /// An email-verification link is too old.
    pub const LINK_EXPIRED: &str = "link_expired";
    /// The registration has not been approved yet (or has expired): browsing only.
    pub const REGISTRATION_NOT_APPROVED: &str = "registration_not_approved";
    /// The registration is not waiting for review.
    pub const NOT_PENDING: &str = "not_pending";
    // The group rules' codes (group_too_small, group_not_in_city, group_members_shared,
    // member_in_too_many_groups, group_too_large) are `domain::groups::GroupRuleError::code`.
    /// No registered person has this card number and date of birth.
    pub const MEMBER_NOT_FOUND: &str = "member_not_found";
    /// The person is already a member of the group.
    pub const ALREADY_MEMBER: &str = "already_member";
    /// The group's state does not allow this (e.g. registering a registered group).
    pub const GROUP_STATE: &str = "group_state";
    /// The representative cannot leave or be removed.
    pub const REPRESENTATIVE_STAYS: &str = "representative_stays";
    /// The person represents a group that still exists (dissolve it first).
    pub const REPRESENTS_GROUP: &str = "represents_group";
    /// The group has bookings still to come.
    pub const GROUP_HAS_BOOKINGS: &str = "group_has_bookings";
    /// The group is not registered or its registration expired: it cannot book.
    pub const GROUP_NOT_BOOKABLE: &str = "group_not_bookable";
    /// Renewal is not open yet for this registration; the message says from when.
    pub const RENEWAL_NOT_OPEN: &str = "renewal_not_open";
    /// The registration cannot be renewed in its state (not approved, already under review).
    pub const RENEWAL_NOT_ALLOWED: &str = "renewal_not_allowed";
    /// The password entered again to confirm is not correct.
    pub const PASSWORD_INCORRECT: &str = "password_incorrect";
    /// The account has paid bookings still to come; `fields` lists them.
    pub const PAID_BOOKINGS_AHEAD: &str = "paid_bookings_ahead";
    /// An uploaded file is not a JPEG, PNG or PDF (judged by its content); `fields` names `file`.
    pub const UNSUPPORTED_FILE_TYPE: &str = "unsupported_file_type";
    /// An uploaded file is over the size limit; `fields` names `file` and gives the limit.
    pub const FILE_TOO_LARGE: &str = "file_too_large";
    /// A per-person limit is reached; `fields` names the limit (as booking's `limit_reached`).
    pub const LIMIT_REACHED: &str = "limit_reached";
    /// The booking cannot be paid (not awaiting payment, free, or past its deadline).
    pub const BOOKING_NOT_PAYABLE: &str = "booking_not_payable";
    /// A payment's amount or currency is not the booking's; `fields` names `amount_yen`.
    pub const AMOUNT_MISMATCH: &str = "amount_mismatch";
    /// The payment provider (Stripe) could not be reached; try again.
    pub const PAYMENT_PROVIDER_UNAVAILABLE: &str = "payment_provider_unavailable";
    /// A webhook's signature is missing, stale or wrong.
    pub const INVALID_SIGNATURE: &str = "invalid_signature";
    /// The refund is not pending any more (already handed back, or failed).
    pub const REFUND_NOT_PENDING: &str = "refund_not_pending";
    /// The refund goes back through the online provider: there is nothing to hand back at the
    /// counter.
    pub const NOT_A_COUNTER_REFUND: &str = "not_a_counter_refund";
    /// The account cannot have a card now (registration not approved and current, or no card
    /// number).
    pub const CARD_NOT_AVAILABLE: &str = "card_not_available";
    /// No card signing key is configured on this server.
    pub const CARDS_UNAVAILABLE: &str = "cards_unavailable";
    /// Not a card token, or its signature does not match (altered); `fields` names `token`.
    pub const CARD_TOKEN_INVALID: &str = "card_token_invalid";
    /// The token is signed with a key this city does not publish (another city's card).
    pub const CARD_UNKNOWN_KEY: &str = "card_unknown_key";
    /// The token expired (or is dated in the future); the holder refreshes the card online.
    pub const CARD_TOKEN_EXPIRED: &str = "card_token_expired";
    /// The card was revoked, suspended or replaced by a newer one.
    pub const CARD_REVOKED: &str = "card_revoked";
    /// No card with this id or number.
    pub const CARD_NOT_FOUND: &str = "card_not_found";
    /// The holder's registration is not approved and current (expired, under review, …).
    pub const REGISTRATION_NOT_CURRENT: &str = "registration_not_current";
    /// Staff cannot act on the card: the person has none in use (or it is already suspended).
    pub const CARD_NOT_IN_USE: &str = "card_not_in_use";
    /// The booking has no penalty in force to void.
    pub const NO_PENALTY: &str = "no_penalty";
    /// Booking is suspended after repeated no-shows; the message gives the end.
    pub const BOOKING_SUSPENDED: &str = "booking_suspended";
    /// The request ran past the server's time limit.
    pub const TIMEOUT: &str = "timeout";
    /// 503: the server is at its limit of requests in flight; `Retry-After` says when to retry.
    pub const OVERLOADED: &str = "overloaded";
    /// 503 from `/readyz`: the instance is shutting down and takes no new work.
    pub const DRAINING: &str = "draining";
    /// A closure would cancel bookings: confirm with `confirm: true` and the preview's booking ids.
    pub const CONFIRMATION_REQUIRED: &str = "confirmation_required";
    /// The bookings a closure affects changed since its preview; `fields` lists them now.
    pub const AFFECTED_SET_CHANGED: &str = "affected_set_changed";
    /// Booked slots lie in a block's range; `fields` names the bookings.
    pub const SLOTS_BOOKED: &str = "slots_booked";
    /// Something failed on our side.
    pub const INTERNAL: &str = "internal";
}

/// One invalid field.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The parameter or body field, e.g. `kind` or `attendees`.
    pub field: String,
    pub message: String,
}

/// The error envelope's body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code: invalid_input, unknown_parameter, not_found,
    /// method_not_allowed, invalid_json, unauthorized, token_expired, invalid_credentials,
    /// email_not_verified, invalid_refresh_token, refresh_token_reused, too_many_attempts,
    /// forbidden, unavailable, timeout, internal.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// Every error response: `{"error": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// The error every handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A client error with its status, code and the fields at fault.
    #[error("{message}")]
    Client {
        status: StatusCode,
        code: &'static str,
        message: String,
        fields: Vec<FieldError>,
    },
    /// A failure on our side; details go to the log, never to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// 400 naming one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let field = field.into();
        AppError::Client {
            status: StatusCode::BAD_REQUEST,
            code: codes::INVALID_INPUT,
            message: format!("{field}: {message}"),
            fields: vec![FieldError { field, message }],
        }
    }

    /// 400 naming every field at fault (registration and password rules report them all).
    pub fn invalid_fields(problems: Vec<crate::domain::registration::FieldProblem>) -> Self {
        AppError::field_errors(
            StatusCode::BAD_REQUEST,
            problems
                .into_iter()
                .map(|p| FieldError {
                    field: p.field.to_owned(),
                    message: p.message,
                })
                .collect(),
        )
    }

    /// `invalid_input` with `status`, naming every field at fault; the message lists them all.
    pub fn field_errors(status: StatusCode, fields: Vec<FieldError>) -> Self {
        AppError::Client {
            status,
            code: codes::INVALID_INPUT,
            message: fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            fields,
        }
    }

    /// 404 for a kind of thing.
    pub fn not_found(what: &str) -> Self {
        AppError::Client {
            status: StatusCode::NOT_FOUND,
            code: codes::NOT_FOUND,
            message: format!("{what} not found"),
            fields: Vec::new(),
        }
    }

    /// Any client error.
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Client {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, body, code) = match self {
            AppError::Client {
                status,
                code,
                message,
                fields,
            } => (
                status,
                ErrorBody {
                    code: code.into(),
                    message,
                    fields,
                },
                code,
            ),
            AppError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                let body = ErrorBody {
                    code: codes::INTERNAL.into(),
                    message: "Something went wrong on our side. Please try again; if it keeps happening, quote the request id."
                        .into(),
                    fields: Vec::new(),
                };
                (StatusCode::INTERNAL_SERVER_ERROR, body, codes::INTERNAL)
            }
        };
        // The code rides along on the response for the metrics layer (refusals by code).
        let mut response = (status, Json(ErrorResponse { error: body })).into_response();
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

/// The error code of an error response, as a response extension (`observability` counts
/// refused bookings and payments by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        match error {
            DbErr::RecordNotFound(what) => AppError::not_found(&what),
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<CatalogError> for AppError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::UnknownWard(_) => AppError::invalid_field("ward", error.to_string()),
            CatalogError::QueryTooLong { .. } => AppError::invalid_field("q", error.to_string()),
            CatalogError::NotFound(what) => AppError::not_found(what),
            CatalogError::Db(db) => db.into(),
        }
    }
}

/// The fallback for paths no route matches.
pub async fn route_not_found() -> AppError {
    AppError::not_found("route")
}

/// The fallback for a known path with the wrong method.
pub async fn method_not_allowed() -> AppError {
    AppError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::METHOD_NOT_ALLOWED,
        "method not allowed on this path",
    )
}

impl From<SessionError> for AppError {
    fn from(error: SessionError) -> Self {
        let message = error.to_string();
        match error {
            SessionError::InvalidCredentials => AppError::client(
                StatusCode::UNAUTHORIZED,
                codes::INVALID_CREDENTIALS,
                message,
            ),
            SessionError::EmailNotVerified => {
                AppError::client(StatusCode::FORBIDDEN, codes::EMAIL_NOT_VERIFIED, message)
            }
            SessionError::InvalidRefreshToken => AppError::client(
                StatusCode::UNAUTHORIZED,
                codes::INVALID_REFRESH_TOKEN,
                message,
            ),
            SessionError::RefreshTokenReused => AppError::client(
                StatusCode::UNAUTHORIZED,
                codes::REFRESH_TOKEN_REUSED,
                message,
            ),
            SessionError::Db(db) => db.into(),
        }
    }
}

impl From<BookingError> for AppError {
    fn from(error: BookingError) -> Self {
        use crate::domain::booking::BookingRuleError;
        let message = error.to_string();
        let unprocessable = |code: &'static str| {
            AppError::client(StatusCode::UNPROCESSABLE_ENTITY, code, message.clone())
        };
        match error {
            BookingError::InvalidInput { field, message } => {
                AppError::invalid_field(field, message)
            }
            BookingError::Rule(rule) => match &rule {
                BookingRuleError::LimitReached(limit) => AppError::Client {
                    status: StatusCode::CONFLICT,
                    code: rule.code(),
                    message,
                    fields: vec![FieldError {
                        field: limit.limit.to_owned(),
                        message: format!("at most {}", limit.max),
                    }],
                },
                _ => AppError::client(StatusCode::UNPROCESSABLE_ENTITY, rule.code(), message),
            },
            BookingError::SlotTaken => {
                AppError::client(StatusCode::CONFLICT, codes::SLOT_TAKEN, message)
            }
            BookingError::SlotClosed(_) => unprocessable(codes::SLOT_CLOSED),
            BookingError::UnknownSlots(_) => AppError::Client {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: codes::UNKNOWN_SLOTS,
                message: message.clone(),
                fields: vec![FieldError {
                    field: "slot_ids".into(),
                    message,
                }],
            },
            BookingError::RoomNotFound(_) => AppError::Client {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: codes::UNKNOWN_ROOM,
                message: message.clone(),
                fields: vec![FieldError {
                    field: "room_id".into(),
                    message,
                }],
            },
            BookingError::PriceMissing => unprocessable(codes::PRICE_MISSING),
            BookingError::Pricing(_) => AppError::invalid_field("equipment", message),
            BookingError::IdempotencyKeyReused => unprocessable(codes::IDEMPOTENCY_KEY_REUSED),
            BookingError::NotFound => AppError::not_found("booking"),
            BookingError::Suspended(_) => {
                AppError::client(StatusCode::FORBIDDEN, codes::BOOKING_SUSPENDED, message)
            }
            BookingError::NotApproved => AppError::client(
                StatusCode::FORBIDDEN,
                codes::REGISTRATION_NOT_APPROVED,
                message,
            ),
            BookingError::NotCancellable(_) => AppError::client(
                StatusCode::CONFLICT,
                codes::BOOKING_NOT_CANCELLABLE,
                message,
            ),
            BookingError::Group(group) => group.into(),
            BookingError::Db(db) => db.into(),
        }
    }
}

impl From<RegistrationError> for AppError {
    fn from(error: RegistrationError) -> Self {
        let message = error.to_string();
        match error {
            RegistrationError::Invalid(problems) => AppError::invalid_fields(problems),
            RegistrationError::LinkExpired => {
                AppError::client(StatusCode::BAD_REQUEST, codes::LINK_EXPIRED, message)
            }
            RegistrationError::LinkInvalid => {
                AppError::client(StatusCode::BAD_REQUEST, codes::LINK_INVALID, message)
            }
            RegistrationError::Hash => AppError::Internal(anyhow::anyhow!(message)),
            RegistrationError::Db(db) => db.into(),
        }
    }
}

impl From<ReviewError> for AppError {
    fn from(error: ReviewError) -> Self {
        let message = error.to_string();
        match error {
            ReviewError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            ReviewError::NotFound => AppError::not_found("registration"),
            ReviewError::NotPending(_) => {
                AppError::client(StatusCode::CONFLICT, codes::NOT_PENDING, message)
            }
            ReviewError::ReasonRequired => AppError::invalid_field("reason", message),
            ReviewError::Db(db) => db.into(),
        }
    }
}

impl From<GroupError> for AppError {
    fn from(error: GroupError) -> Self {
        let message = error.to_string();
        let with_fields = |status, code, fields: &[&str]| AppError::Client {
            status,
            code,
            message: message.clone(),
            fields: fields
                .iter()
                .map(|f| FieldError {
                    field: (*f).to_owned(),
                    message: message.clone(),
                })
                .collect(),
        };
        match error {
            GroupError::InvalidInput { field, message } => AppError::invalid_field(field, message),
            GroupError::Rule(rule) => {
                with_fields(StatusCode::UNPROCESSABLE_ENTITY, rule.code(), &["members"])
            }
            GroupError::NotFound => AppError::not_found("group"),
            GroupError::NotRepresentative | GroupError::Forbidden(_) => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            GroupError::NotApproved => AppError::client(
                StatusCode::FORBIDDEN,
                codes::REGISTRATION_NOT_APPROVED,
                message,
            ),
            GroupError::MemberNotFound => with_fields(
                StatusCode::UNPROCESSABLE_ENTITY,
                codes::MEMBER_NOT_FOUND,
                &["card_number", "date_of_birth"],
            ),
            GroupError::AlreadyMember => {
                AppError::client(StatusCode::CONFLICT, codes::ALREADY_MEMBER, message)
            }
            GroupError::WrongState(_) => {
                AppError::client(StatusCode::CONFLICT, codes::GROUP_STATE, message)
            }
            GroupError::RepresentativeStays => AppError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                codes::REPRESENTATIVE_STAYS,
                message,
            ),
            GroupError::RepresentsGroup(_) => {
                AppError::client(StatusCode::CONFLICT, codes::REPRESENTS_GROUP, message)
            }
            GroupError::HasBookings => {
                AppError::client(StatusCode::CONFLICT, codes::GROUP_HAS_BOOKINGS, message)
            }
            GroupError::NotBookable => with_fields(
                StatusCode::UNPROCESSABLE_ENTITY,
                codes::GROUP_NOT_BOOKABLE,
                &["group_id"],
            ),
            GroupError::Db(db) => db.into(),
        }
    }
}

impl From<RenewalError> for AppError {
    fn from(error: RenewalError) -> Self {
        let message = error.to_string();
        match error {
            RenewalError::Invalid(problems) => AppError::invalid_fields(problems),
            RenewalError::NotYetOpen { .. } => {
                AppError::client(StatusCode::CONFLICT, codes::RENEWAL_NOT_OPEN, message)
            }
            RenewalError::NotAllowed(_) => {
                AppError::client(StatusCode::CONFLICT, codes::RENEWAL_NOT_ALLOWED, message)
            }
            RenewalError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            // The access token outlives the account by at most its 15 minutes.
            RenewalError::AccountDeleted => {
                AppError::client(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
            }
            RenewalError::Db(db) => db.into(),
        }
    }
}

impl From<AccountError> for AppError {
    fn from(error: AccountError) -> Self {
        let message = error.to_string();
        match error {
            AccountError::AccountDeleted => {
                AppError::client(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
            }
            AccountError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            AccountError::PasswordIncorrect => AppError::Client {
                status: StatusCode::FORBIDDEN,
                code: codes::PASSWORD_INCORRECT,
                message: message.clone(),
                fields: vec![FieldError {
                    field: "password".into(),
                    message,
                }],
            },
            AccountError::TooManyAttempts(wait) => AppError::client(
                StatusCode::TOO_MANY_REQUESTS,
                codes::TOO_MANY_ATTEMPTS,
                format!("too many attempts; try again in {} seconds", wait.as_secs()),
            ),
            AccountError::PaidBookingsAhead(ids) => AppError::Client {
                status: StatusCode::CONFLICT,
                code: codes::PAID_BOOKINGS_AHEAD,
                message,
                fields: ids
                    .into_iter()
                    .map(|id| FieldError {
                        field: format!("bookings[{id}]"),
                        message: "paid and still to come: cancel it first".into(),
                    })
                    .collect(),
            },
            AccountError::Group(group) => group.into(),
            AccountError::Db(db) => db.into(),
        }
    }
}

impl From<DocumentError> for AppError {
    fn from(error: DocumentError) -> Self {
        use crate::domain::documents::UploadRefusal;
        let message = error.to_string();
        let on_field = |status, code, field: &str, text: String| AppError::Client {
            status,
            code,
            message: format!("{field}: {text}"),
            fields: vec![FieldError {
                field: field.to_owned(),
                message: text,
            }],
        };
        match error {
            DocumentError::Refused(UploadRefusal::WrongState(_)) => {
                AppError::client(StatusCode::CONFLICT, codes::NOT_PENDING, message)
            }
            DocumentError::Refused(UploadRefusal::TooMany(max)) => on_field(
                StatusCode::CONFLICT,
                codes::LIMIT_REACHED,
                "documents_per_person",
                format!("at most {max}"),
            ),
            DocumentError::Forbidden => {
                AppError::client(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            DocumentError::NotFound(what) => AppError::not_found(what),
            DocumentError::Invalid { field, message } => AppError::invalid_field(field, message),
            DocumentError::UnknownPart(part) => on_field(
                StatusCode::BAD_REQUEST,
                codes::UNKNOWN_PARAMETER,
                &part,
                "not a part of this form".into(),
            ),
            DocumentError::UnsupportedType | DocumentError::Heic => on_field(
                StatusCode::UNPROCESSABLE_ENTITY,
                codes::UNSUPPORTED_FILE_TYPE,
                "file",
                message,
            ),
            DocumentError::TooLarge { max_bytes } => on_field(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::FILE_TOO_LARGE,
                "file",
                format!(
                    "at most {max_bytes} bytes ({:.1} MiB)",
                    max_bytes as f64 / (1024.0 * 1024.0)
                ),
            ),
            DocumentError::Storage(io) => AppError::Internal(io.into()),
            DocumentError::Corrupt => AppError::Internal(anyhow::anyhow!(message)),
            DocumentError::Db(db) => db.into(),
        }
    }
}
