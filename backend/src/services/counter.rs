//! The counter (窓口): staff find a person who came in or telephoned, and book for them.
//!
//! Finding a person is a view of personal data, so every search that shows anyone is written to
//! the audit log (the method and the people shown, never the search terms). Booking goes through
//! `services::bookings::create_booking_via` with `BookedVia::Counter`: the same transaction,
//! rules, limits and conflict handling as online, plus the counter phase (a date whose online
//! booking has closed, same-day walk-ins included), the staff mark on the booking and its
//! history, and the audit row. Staff and managers book only at facilities they are assigned to
//! (`services::staff_scope`), administrators anywhere; payment is then
//! `services::payments::record_counter_payment`.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::booking::BookingRules;
use crate::domain::calendar::{tokyo, tokyo_date};
use crate::domain::counter::{
    self, Channel, MAX_MATCHES, ResidentSearch, SearchRefusal, name_matches,
};
use crate::domain::registration::FieldProblem;
use crate::domain::roles::Role;
use crate::entities::{booking, facility, identity_document, payment, room, user};
use crate::services::bookings::{self, BookedVia, BookingError};
use crate::services::documents::{self, DocumentError};
use crate::services::facilities::CatalogError;
use crate::services::staff_scope::{FacilityScope, facility_scope, is_console_role};
use crate::services::{audit, availability};
use crate::views::availability::SlotResponse;
use crate::views::booking::{BookingResponse, CreateBookingRequest, QuoteResponse};
use crate::views::console_counter::{ResidentMatch, StaffBookingResponse};
use crate::views::review::RegistrationReview;

/// Why a counter request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    #[error("only staff assigned to this facility (or an administrator) may do this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldProblem>),
    /// The search is ambiguous or would show too many people.
    #[error("{}", describe(.0))]
    TooBroad(Vec<FieldProblem>),
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn describe(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<SearchRefusal> for CounterError {
    fn from(refusal: SearchRefusal) -> Self {
        match refusal {
            SearchRefusal::Invalid(problems) => CounterError::Invalid(problems),
            SearchRefusal::TooBroad(problems) => CounterError::TooBroad(problems),
        }
    }
}

/// Who is at the counter: a user id and the role from their session.
pub type Actor = (i32, Role);

fn ensure_console(actor: Actor) -> Result<(), CounterError> {
    if is_console_role(actor.1) {
        Ok(())
    } else {
        Err(CounterError::Forbidden)
    }
}

/// The people matching `search` (at most `MAX_MATCHES`; more is refused as too broad). Staff
/// of any facility may search: a person may book anywhere in the city. Audited when anyone is
/// shown.
pub async fn find_residents(
    db: &DatabaseConnection,
    actor: Actor,
    search: &ResidentSearch,
    now: DateTime<Utc>,
) -> Result<Vec<ResidentMatch>, CounterError> {
    ensure_console(actor)?;
    let base = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Resident.code()))
        .filter(user::Column::DeletedAt.is_null())
        .order_by_asc(user::Column::Id);
    let found: Vec<user::Model> = match search {
        ResidentSearch::CardNumber(number) => {
            base.filter(user::Column::CardNumber.eq(number.as_str()))
                .all(db)
                .await?
        }
        ResidentSearch::Phone(digits) => {
            base.filter(user::Column::Phone.eq(digits.as_str()))
                .limit(MAX_MATCHES as u64 + 1)
                .all(db)
                .await?
        }
        // The date narrows to a few hundred people in a large city at most (its index); the name
        // is compared folded, as typed in either script, which SQL cannot do the same way on
        // both databases.
        ResidentSearch::NameAndBirth {
            name,
            date_of_birth,
        } => base
            .filter(user::Column::DateOfBirth.eq(*date_of_birth))
            .all(db)
            .await?
            .into_iter()
            .filter(|u| name_matches(name, &u.display_name, u.name_kana.as_deref()))
            .collect(),
    };
    if found.len() > MAX_MATCHES {
        return Err(counter::too_many(search).into());
    }
    if !found.is_empty() {
        let ids: Vec<i32> = found.iter().map(|u| u.id).collect();
        let txn = begin_write(db).await?;
        audit::record(
            &txn,
            actor.0,
            "resident.search",
            ("user", (ids.len() == 1).then(|| i64::from(ids[0]))),
            json!({"method": search.method(), "user_ids": ids}),
            now,
        )
        .await?;
        txn.commit().await?;
    }
    let today = tokyo_date(now);
    Ok(found
        .into_iter()
        .map(|u| ResidentMatch::new(u, today))
        .collect())
}

/// A resident account (not staff, not deleted).
async fn resident(db: &impl ConnectionTrait, user_id: i32) -> Result<user::Model, CounterError> {
    user::Entity::find_by_id(user_id)
        .filter(user::Column::Role.eq(Role::Resident.code()))
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or(CounterError::NotFound("resident"))
}

/// The facility of `room_id`, which must be in the actor's scope.
async fn facility_of_room(
    db: &impl ConnectionTrait,
    actor: Actor,
    room_id: i32,
) -> Result<i32, CounterError> {
    let room = room::Entity::find_by_id(room_id)
        .one(db)
        .await?
        .ok_or(BookingError::RoomNotFound(room_id))?;
    if facility_scope(db, actor.0, actor.1)
        .await?
        .allows(room.facility_id)
    {
        Ok(room.facility_id)
    } else {
        Err(CounterError::Forbidden)
    }
}

/// Book for a resident at the counter of the room's facility. Returns the booking and whether
/// it was replayed (the same Idempotency-Key and request again).
pub async fn book_for_resident(
    db: &DatabaseConnection,
    rules: &BookingRules,
    actor: Actor,
    resident_id: i32,
    key: &str,
    request: &CreateBookingRequest,
    now: DateTime<Utc>,
) -> Result<(BookingResponse, bool), CounterError> {
    ensure_console(actor)?;
    let facility_id = facility_of_room(db, actor, request.room_id).await?;
    resident(db, resident_id).await?;
    let via = BookedVia::Counter {
        staff_id: actor.0,
        facility_id,
    };
    Ok(bookings::create_booking_via(db, rules, resident_id, key, request, via, now).await?)
}

/// What a counter booking for a resident would cost, with the same checks as booking.
pub async fn quote_for_resident(
    db: &DatabaseConnection,
    rules: &BookingRules,
    actor: Actor,
    resident_id: i32,
    request: &CreateBookingRequest,
    now: DateTime<Utc>,
) -> Result<QuoteResponse, CounterError> {
    ensure_console(actor)?;
    facility_of_room(db, actor, request.room_id).await?;
    resident(db, resident_id).await?;
    Ok(bookings::quote_booking_via(db, rules, resident_id, request, Channel::Counter, now).await?)
}

/// One person as the counter shows them (after a search found them); the view is audited.
pub async fn resident_for_counter(
    db: &DatabaseConnection,
    actor: Actor,
    resident_id: i32,
    now: DateTime<Utc>,
) -> Result<ResidentMatch, CounterError> {
    ensure_console(actor)?;
    let person = resident(db, resident_id).await?;
    let txn = begin_write(db).await?;
    audit::record(
        &txn,
        actor.0,
        "resident.view",
        ("user", Some(i64::from(resident_id))),
        json!({"at": "counter"}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(ResidentMatch::new(person, tokyo_date(now)))
}

/// A booking at one of the actor's facilities, with its holder, who booked it and its receipt.
/// The view shows personal data, so it is audited.
pub async fn booking_for_staff(
    db: &DatabaseConnection,
    actor: Actor,
    booking_id: i64,
    now: DateTime<Utc>,
) -> Result<StaffBookingResponse, CounterError> {
    ensure_console(actor)?;
    let b = booking::Entity::find_by_id(booking_id)
        .one(db)
        .await?
        .ok_or(CounterError::NotFound("booking"))?;
    let r = room::Entity::find_by_id(b.room_id)
        .one(db)
        .await?
        .ok_or(CounterError::NotFound("room"))?;
    if !facility_scope(db, actor.0, actor.1)
        .await?
        .allows(r.facility_id)
    {
        return Err(CounterError::Forbidden);
    }
    let f = facility::Entity::find_by_id(r.facility_id)
        .one(db)
        .await?
        .ok_or(CounterError::NotFound("facility"))?;
    let holder = user::Entity::find_by_id(b.user_id)
        .one(db)
        .await?
        .ok_or(CounterError::NotFound("resident"))?;
    let booked_by = match (b.channel.as_str(), b.created_by) {
        ("counter", Some(staff)) => user::Entity::find_by_id(staff)
            .one(db)
            .await?
            .map(|u| u.display_name),
        _ => None,
    };
    let paid = payment::Entity::find()
        .filter(payment::Column::BookingId.eq(b.id))
        .filter(payment::Column::Disposition.eq("applied"))
        .one(db)
        .await?;
    let view = bookings::get_booking(db, b.user_id, b.id).await?;
    let txn = begin_write(db).await?;
    audit::record(
        &txn,
        actor.0,
        "booking.view",
        ("booking", Some(b.id)),
        json!({"user_id": b.user_id}),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(StaffBookingResponse {
        booking: view,
        facility_id: f.id,
        facility_name: f.name,
        facility_name_en: f.name_en,
        room_name: r.name,
        room_name_en: r.name_en,
        holder: ResidentMatch::new(holder, tokyo_date(now)),
        booked_by,
        receipt_number: paid.as_ref().and_then(|p| p.receipt_number.clone()),
        paid_with: paid.as_ref().map(|p| p.provider.clone()),
        paid_at: paid.map(|p| p.paid_at.with_timezone(&tokyo())),
    })
}

/// What the counter page offers: the actor's facilities, the chosen facility's rooms, and the
/// chosen room's slots on the chosen day.
pub struct CounterChoices {
    pub facilities: Vec<facility::Model>,
    pub facility_id: Option<i32>,
    pub rooms: Vec<room::Model>,
    pub room_id: Option<i32>,
    pub slots: Vec<SlotResponse>,
}

/// The facilities the actor may book at, and the rooms and slots of the ones chosen. A facility
/// or room outside the actor's scope is refused, not silently replaced.
pub async fn choices(
    db: &DatabaseConnection,
    actor: Actor,
    facility_id: Option<i32>,
    room_id: Option<i32>,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<CounterChoices, CounterError> {
    ensure_console(actor)?;
    let scope = facility_scope(db, actor.0, actor.1).await?;
    let mut query = facility::Entity::find().order_by_asc(facility::Column::Id);
    if let FacilityScope::Only(ids) = &scope {
        query = query.filter(facility::Column::Id.is_in(ids.clone()));
    }
    let facilities = query.all(db).await?;
    let facility_id = match facility_id {
        Some(id) if !scope.allows(id) => return Err(CounterError::Forbidden),
        Some(id) => Some(id),
        // Staff usually work at one facility: choose it for them.
        None if facilities.len() == 1 => Some(facilities[0].id),
        None => None,
    };
    let rooms = match facility_id {
        Some(id) => {
            room::Entity::find()
                .filter(room::Column::FacilityId.eq(id))
                .order_by_asc(room::Column::Id)
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    let room_id = room_id.filter(|id| rooms.iter().any(|r| r.id == *id));
    let slots = match room_id {
        Some(id) => availability::room_slots(db, id, date, date, now).await?,
        None => Vec::new(),
    };
    Ok(CounterChoices {
        facilities,
        facility_id,
        rooms,
        room_id,
        slots,
    })
}

/// One registration as a reviewer opens it: the person's details and their identity documents
/// (metadata; the bytes come from `GET /admin/registrations/{id}/documents/{doc_id}`).
pub struct RegistrationForReview {
    pub person: RegistrationReview,
    pub documents: Vec<identity_document::Model>,
}

/// Open one registration for review (any state, so a decision just made can be shown). The view
/// of the person's details is audited (`registration.view`), and the document list by
/// `services::documents::list_for_staff` (`document.list`).
pub async fn registration_for_review(
    db: &DatabaseConnection,
    actor: Actor,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<RegistrationForReview, CounterError> {
    ensure_console(actor)?;
    let person = resident(db, user_id).await?;
    let documents = documents::list_for_staff(db, actor, user_id, now)
        .await
        .map_err(|error| match error {
            DocumentError::Forbidden => CounterError::Forbidden,
            DocumentError::NotFound(what) => CounterError::NotFound(what),
            DocumentError::Db(db) => CounterError::Db(db),
            other => CounterError::Db(DbErr::Custom(other.to_string())),
        })?;
    let txn = begin_write(db).await?;
    audit::record(
        &txn,
        actor.0,
        "registration.view",
        ("user", Some(i64::from(user_id))),
        json!({"state": person.registration_state}),
        now,
    )
    .await?;
    txn.commit().await?;
    let document_count = documents.len() as u64;
    Ok(RegistrationForReview {
        person: RegistrationReview {
            document_count,
            ..RegistrationReview::from(person)
        },
        documents,
    })
}

/// Everything the counter's price page shows: the person, where and when, and the quote.
pub struct CounterConfirmation {
    pub person: ResidentMatch,
    pub facility: facility::Model,
    pub room: room::Model,
    /// The chosen slots in time order.
    pub slots: Vec<crate::entities::slot::Model>,
    pub quote: QuoteResponse,
}

/// Price a counter booking and gather what the confirmation page shows (the person's view is
/// audited, as on every page that shows them).
pub async fn confirmation(
    db: &DatabaseConnection,
    rules: &BookingRules,
    actor: Actor,
    resident_id: i32,
    request: &CreateBookingRequest,
    now: DateTime<Utc>,
) -> Result<CounterConfirmation, CounterError> {
    let quote = quote_for_resident(db, rules, actor, resident_id, request, now).await?;
    let room = room::Entity::find_by_id(quote.room_id)
        .one(db)
        .await?
        .ok_or(CounterError::NotFound("room"))?;
    let facility = facility::Entity::find_by_id(room.facility_id)
        .one(db)
        .await?
        .ok_or(CounterError::NotFound("facility"))?;
    let slots = availability::slots_by_id(db, &quote.slot_ids).await?;
    let person = resident_for_counter(db, actor, resident_id, now).await?;
    Ok(CounterConfirmation {
        person,
        facility,
        room,
        slots,
        quote,
    })
}
