//! Booking, listing, cancelling and expiring: the heart of Yoyaku.
//!
//! A booking is written in one write transaction: the person's row locked first (PostgreSQL; on
//! SQLite write transactions are serial), so their limits are counted without a race and a retry
//! with the same key waits for the first; then the idempotency record, the rules, and the
//! booking, its slots and its claims. The claims' primary key (unit, slot start) is the database rule that makes double
//! booking impossible; a violation rolls everything back and answers `slot_taken`.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};

use crate::db::{begin_write, is_unique_violation};
use crate::domain::booking::{
    BookingEvent, BookingRuleError, BookingRules, BookingState, CancelReason, CurrentCounts,
    RequestedSlot,
};
use crate::domain::calendar::{tokyo, tokyo_date};
use crate::domain::counter::Channel;
use crate::domain::pricing::{
    self, EquipmentRental, PricingError, Purpose, Quote, QuoteRequest, Reduction, Residency,
};
use crate::domain::registration::RegistrationState;
use crate::entities::{
    booking, booking_event, booking_slot, equipment, fee_reduction, group_booking, idempotency_key,
    room, room_unit_coverage, slot, slot_claim, user,
};
use crate::services::groups::{GroupError, group_for_booking};
use crate::services::prices::PriceBook;
use crate::views::booking::{BookingResponse, CancelResponse, CreateBookingRequest, QuoteResponse};

/// Why a booking request or change was refused.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("{0}")]
    Rule(#[from] BookingRuleError),
    #[error("one of the slots was just taken by another booking")]
    SlotTaken,
    #[error("slot {0} is closed")]
    SlotClosed(i64),
    #[error("no such slots: {0:?}")]
    UnknownSlots(Vec<i64>),
    #[error("room {0} not found")]
    RoomNotFound(i32),
    #[error("the room has no price for this slot's band on that date; the facility must set one")]
    PriceMissing,
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("booking not found")]
    NotFound,
    #[error("your registration must be approved (and not expired) before you can book")]
    NotApproved,
    /// Repeated no-shows (`services::penalties`); `GET /me/penalties` lists them.
    #[error("booking is suspended until {} after repeated no-shows; see your penalty points", .0.with_timezone(&tokyo()).format("%Y-%m-%d %H:%M"))]
    Suspended(DateTime<Utc>),
    #[error("a booking that is {0} cannot be cancelled")]
    NotCancellable(String),
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn invalid(field: &str, message: impl Into<String>) -> BookingError {
    BookingError::InvalidInput {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The longest purpose text.
pub const MAX_PURPOSE_CHARS: usize = 200;

/// Check the request's own fields before touching the database.
fn check_request(
    request: &CreateBookingRequest,
    key: &str,
    rules: &BookingRules,
) -> Result<(), BookingError> {
    if key.is_empty() || key.len() > 255 || !key.is_ascii() {
        return Err(invalid(
            "Idempotency-Key",
            "send a header Idempotency-Key of 1–255 ASCII characters",
        ));
    }
    if request.slot_ids.is_empty() {
        return Err(invalid("slot_ids", "choose at least one slot"));
    }
    let max = rules.limits.max_slots_per_booking as usize;
    if request.slot_ids.len() > max {
        return Err(invalid(
            "slot_ids",
            format!("at most {max} slots in one booking"),
        ));
    }
    if request.slot_ids.iter().collect::<HashSet<_>>().len() != request.slot_ids.len() {
        return Err(invalid("slot_ids", "a slot is listed twice"));
    }
    let purpose = request.purpose.trim();
    if purpose.is_empty() || purpose.chars().count() > MAX_PURPOSE_CHARS {
        return Err(invalid(
            "purpose",
            format!("say what the room is for, in 1–{MAX_PURPOSE_CHARS} characters"),
        ));
    }
    if request.attendees < 1 {
        return Err(invalid("attendees", "at least 1 person"));
    }
    for (index, item) in request.equipment.iter().enumerate() {
        if item.quantity < 1 {
            return Err(invalid(
                &format!("equipment[{index}].quantity"),
                "at least 1",
            ));
        }
    }
    Ok(())
}

fn request_hash(request: &CreateBookingRequest) -> String {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    hex::encode(Sha256::digest(&canonical))
}

/// Who makes a booking: the person online, or staff at a facility's counter on their behalf
/// (services::counter, which checks the staff member's facilities first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookedVia {
    Online,
    /// Staff member `staff_id` at the counter of `facility_id` (the room's facility). The booking
    /// is marked `channel = counter`, `created_by` the staff member, its history says so, and the
    /// action is audited in the booking's transaction. The counter may book a date whose online
    /// booking has closed (`domain::counter::Channel`).
    Counter {
        staff_id: i32,
        facility_id: i32,
    },
}

impl BookedVia {
    fn channel(self) -> Channel {
        match self {
            BookedVia::Online => Channel::Online,
            BookedVia::Counter { .. } => Channel::Counter,
        }
    }
}

/// Book. Returns the booking; `replayed` is true when the same key and body were seen before.
pub async fn create_booking(
    db: &DatabaseConnection,
    rules: &BookingRules,
    user_id: i32,
    key: &str,
    request: &CreateBookingRequest,
    now: DateTime<Utc>,
) -> Result<(BookingResponse, bool), BookingError> {
    create_booking_via(db, rules, user_id, key, request, BookedVia::Online, now).await
}

/// Book for `user_id`, online or at the counter (`via`): the same rules, limits and conflict
/// handling either way.
pub async fn create_booking_via(
    db: &DatabaseConnection,
    rules: &BookingRules,
    user_id: i32,
    key: &str,
    request: &CreateBookingRequest,
    via: BookedVia,
    now: DateTime<Utc>,
) -> Result<(BookingResponse, bool), BookingError> {
    check_request(request, key, rules)?;
    let hash = request_hash(request);
    // Owned copies: on SQLite the transaction runs on the writer thread (`db::on_writer_thread`).
    let (owned_db, rules, key, request) =
        (db.clone(), rules.clone(), key.to_owned(), request.clone());
    crate::db::on_writer_thread(db, async move {
        try_create(&owned_db, &rules, user_id, &key, &hash, &request, via, now).await
    })
    .await?
}

/// The first answer to a key, if this request is the same as the one that got it.
fn replay(
    stored: idempotency_key::Model,
    hash: &str,
) -> Result<(BookingResponse, bool), BookingError> {
    if stored.request_hash != hash {
        return Err(BookingError::IdempotencyKeyReused);
    }
    let response: BookingResponse = serde_json::from_value(stored.response)
        .map_err(|e| DbErr::Custom(format!("stored response: {e}")))?;
    Ok((response, true))
}

#[allow(clippy::too_many_arguments)]
async fn try_create(
    db: &DatabaseConnection,
    rules: &BookingRules,
    user_id: i32,
    key: &str,
    hash: &str,
    request: &CreateBookingRequest,
    via: BookedVia,
    now: DateTime<Utc>,
) -> Result<(BookingResponse, bool), BookingError> {
    let txn = begin_write(db).await?;
    // One person's bookings are decided one at a time, so limits cannot be overrun by racing
    // requests, and a retry with the same key waits for the first. The person's row is locked
    // before anything else: the idempotency row's foreign key takes a share lock on it, and taking
    // that first and the exclusive lock second deadlocks two requests. (SQLite write transactions
    // are already serial.)
    let mut person = user::Entity::find_by_id(user_id);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        person = person.lock_exclusive();
    }
    let person = person.one(&txn).await?.ok_or(BookingError::NotFound)?;
    let booker = booker(&txn, &person, request, now).await?;
    if let Some(stored) = idempotency_key::Entity::find_by_id((user_id, key.to_owned()))
        .one(&txn)
        .await?
    {
        // Requests with one key are serial (the person's row is locked above), so a stored key
        // means an earlier request with it has committed.
        return replay(stored, hash);
    }
    // Record the key in this transaction; it is kept only if the booking is made.
    idempotency_key::Entity::insert(idempotency_key::ActiveModel {
        user_id: Set(user_id),
        key: Set(key.to_owned()),
        request_hash: Set(hash.to_owned()),
        status_code: Set(0),
        response: Set(serde_json::Value::Null),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;

    let Prepared {
        room,
        ordered,
        quote,
        total,
        pay_by,
        purpose,
    } = prepare(&txn, rules, &booker, request, via.channel(), now).await?;
    let residency = booker.residency;
    let (first, last) = (&ordered[0], &ordered[ordered.len() - 1]);
    let state = if total == 0 {
        BookingState::Confirmed
    } else {
        BookingState::AwaitingPayment
    };

    let saved = booking::Entity::insert(booking::ActiveModel {
        id: NotSet,
        user_id: Set(user_id),
        room_id: Set(room.id),
        state: Set(state.code().to_owned()),
        residency: Set(residency_code(residency).to_owned()),
        purpose_kind: Set(purpose_code(purpose).to_owned()),
        purpose: Set(request.purpose.trim().to_owned()),
        attendees: Set(request.attendees),
        room_kind: Set(room.kind.clone()),
        service_date: Set(first.service_date),
        starts_at: Set(first.starts_at),
        ends_at: Set(last.ends_at),
        total_yen: Set(total),
        quote: Set(serde_json::to_value(&quote).unwrap_or_default()),
        pay_by: Set(pay_by),
        channel: Set(via.channel().code().to_owned()),
        created_by: Set(Some(match via {
            BookedVia::Online => user_id,
            BookedVia::Counter { staff_id, .. } => staff_id,
        })),
        created_at: Set(now),
        cancelled_at: Set(None),
        refund_yen: Set(None),
    })
    .exec_with_returning(&txn)
    .await?;
    booking_slot::Entity::insert_many(ordered.iter().map(|s| booking_slot::ActiveModel {
        booking_id: Set(saved.id),
        slot_id: Set(s.id),
    }))
    .exec_without_returning(&txn)
    .await?;
    if let Some(group) = &booker.group {
        group_booking::Entity::insert(group_booking::ActiveModel {
            booking_id: Set(saved.id),
            group_id: Set(group.id),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    let units: Vec<i32> = room_unit_coverage::Entity::find()
        .filter(room_unit_coverage::Column::RoomId.eq(room.id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|c| c.unit_id)
        .collect();
    let claims = ordered.iter().flat_map(|s| {
        units.iter().map(move |unit| slot_claim::ActiveModel {
            unit_id: Set(*unit),
            starts_at: Set(s.starts_at),
            booking_id: Set(saved.id),
            slot_id: Set(s.id),
        })
    });
    if let Err(error) = slot_claim::Entity::insert_many(claims)
        .exec_without_returning(&txn)
        .await
    {
        return Err(if is_unique_violation(&error) {
            BookingError::SlotTaken
        } else {
            error.into()
        });
    }
    match via {
        BookedVia::Online => {
            record_event(
                &txn,
                saved.id,
                Some(user_id),
                None,
                state,
                "booked online",
                now,
            )
            .await?
        }
        BookedVia::Counter {
            staff_id,
            facility_id,
        } => {
            let reason = format!("booked at the counter of facility {facility_id} by staff");
            record_event(&txn, saved.id, Some(staff_id), None, state, &reason, now).await?;
            crate::services::audit::record(
                &txn,
                staff_id,
                "booking.counter",
                ("booking", Some(saved.id)),
                serde_json::json!({
                    "user_id": user_id,
                    "facility_id": facility_id,
                    "room_id": room.id,
                    "slot_ids": ordered.iter().map(|s| s.id).collect::<Vec<_>>(),
                    "total_yen": total,
                }),
                now,
            )
            .await?;
        }
    }
    let group_id = booker.group.as_ref().map(|g| g.id);
    let response = to_response(
        saved,
        ordered.iter().map(|s| s.id).collect(),
        quote,
        group_id,
    );
    idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::StatusCode, Expr::value(201))
        .col_expr(
            idempotency_key::Column::Response,
            Expr::value(serde_json::to_value(&response).unwrap_or_default()),
        )
        .filter(idempotency_key::Column::UserId.eq(user_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(
        booking.id = response.id,
        room.id = response.room_id,
        "booked"
    );
    Ok((response, false))
}

/// A request checked against the rules and priced, ready to be written.
struct Prepared {
    room: room::Model,
    /// The slots in time order.
    ordered: Vec<slot::Model>,
    quote: Quote,
    total: i32,
    pay_by: DateTime<Utc>,
    purpose: Purpose,
}

/// Who a booking is for: the person, and the group when they book as its representative.
struct Booker {
    user_id: i32,
    /// The price category: the person's, or resident for a registered group (at least half of
    /// its members live, work or study in the city).
    residency: Residency,
    group: Option<BookingGroup>,
}

struct BookingGroup {
    id: i32,
    /// 減免 the city granted the group.
    reduction: Option<fee_reduction::Model>,
}

/// The person may book (approved, current), and for the group they name, if they are its
/// representative and it is registered.
async fn booker(
    db: &impl ConnectionTrait,
    person: &user::Model,
    request: &CreateBookingRequest,
    now: DateTime<Utc>,
) -> Result<Booker, BookingError> {
    ensure_may_book(person, now)?;
    if let Some(until) = crate::services::penalties::suspended_until(db, person.id, now).await? {
        return Err(BookingError::Suspended(until));
    }
    let Some(group_id) = request.group_id else {
        return Ok(Booker {
            user_id: person.id,
            residency: residency_of(&person.residency),
            group: None,
        });
    };
    let (group, reduction) = group_for_booking(db, person.id, group_id, tokyo_date(now)).await?;
    Ok(Booker {
        user_id: person.id,
        residency: Residency::Resident,
        group: Some(BookingGroup {
            id: group.id,
            reduction,
        }),
    })
}

/// Everything a booking must pass before it is written, shared by booking and quoting: the room,
/// the slots (consecutive, one room, not begun, open), the first-come window, the person's
/// limits, and the price. Reads only; in a booking it runs inside the write transaction.
async fn prepare(
    db: &impl ConnectionTrait,
    rules: &BookingRules,
    booker: &Booker,
    request: &CreateBookingRequest,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Prepared, BookingError> {
    let (user_id, residency) = (booker.user_id, booker.residency);
    let room = room::Entity::find_by_id(request.room_id)
        .one(db)
        .await?
        .ok_or(BookingError::RoomNotFound(request.room_id))?;
    if request.attendees > room.capacity {
        return Err(invalid(
            "attendees",
            format!("the room holds at most {} people", room.capacity),
        ));
    }
    if room.requires_group && booker.group.is_none() {
        return Err(invalid(
            "group_id",
            "this room can only be booked by a registered group",
        ));
    }
    let slots = slot::Entity::find()
        .filter(slot::Column::Id.is_in(request.slot_ids.clone()))
        .all(db)
        .await?;
    if slots.len() != request.slot_ids.len() {
        let found: HashSet<i64> = slots.iter().map(|s| s.id).collect();
        let missing = request
            .slot_ids
            .iter()
            .copied()
            .filter(|id| !found.contains(id))
            .collect();
        return Err(BookingError::UnknownSlots(missing));
    }
    let requested: Vec<RequestedSlot> = slots
        .iter()
        .map(|s| RequestedSlot {
            slot_id: s.id,
            room_id: s.room_id,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
        })
        .collect();
    let ordered = crate::domain::booking::check_selection(
        &requested,
        room.id,
        rules.limits.max_slots_per_booking,
        now,
    )?;
    let by_id: HashMap<i64, &slot::Model> = slots.iter().map(|s| (s.id, s)).collect();
    let ordered: Vec<&slot::Model> = ordered
        .iter()
        .filter_map(|r| by_id.get(&r.slot_id).copied())
        .collect();
    if let Some(closed) = ordered.iter().find(|s| s.status != "open") {
        return Err(BookingError::SlotClosed(closed.id));
    }
    let first = ordered[0];
    // A lottery round covering the room and month holds first-come back until its opening; a
    // winner confirming their win books through it (services::lottery).
    let slot_ids: Vec<i64> = ordered.iter().map(|s| s.id).collect();
    let group_id = booker.group.as_ref().map(|g| g.id);
    let lottery = crate::services::lottery::gate(
        db,
        user_id,
        group_id,
        room.id,
        &slot_ids,
        first.service_date,
        now,
    )
    .await?;
    if !lottery.confirms_win {
        let phase = crate::domain::booking::phase(
            now,
            first.service_date,
            residency,
            &rules.window,
            room.uses_lottery || lottery.first_come_opens_at.is_some(),
            lottery.first_come_opens_at,
        );
        // Online only while first-come is open; the counter also after it closed (walk-ins).
        channel.require_open(&phase)?;
    }

    // Limits, counted inside this transaction: a group's bookings count toward the group's
    // limit, a person's own toward theirs; unpaid bookings count toward the person who owes.
    let (month_start, month_end) = month_bounds(first.service_date);
    let active_states: Vec<&str> = BookingState::ACTIVE.iter().map(|s| s.code()).collect();
    let group_bookings = |group: Option<i32>| {
        let mut query = Query::select();
        query
            .column(group_booking::Column::BookingId)
            .from(group_booking::Entity);
        if let Some(group) = group {
            query.and_where(group_booking::Column::GroupId.eq(group));
        }
        query.to_owned()
    };
    let whose = match &booker.group {
        Some(group) => {
            Condition::all().add(booking::Column::Id.in_subquery(group_bookings(Some(group.id))))
        }
        None => Condition::all()
            .add(booking::Column::UserId.eq(user_id))
            .add(booking::Column::Id.not_in_subquery(group_bookings(None))),
    };
    let active_in_month_for_kind = booking::Entity::find()
        .filter(whose)
        .filter(booking::Column::RoomKind.eq(&room.kind))
        .filter(booking::Column::ServiceDate.between(month_start, month_end))
        .filter(booking::Column::State.is_in(active_states))
        .count(db)
        .await? as u32;
    let unpaid = booking::Entity::find()
        .filter(booking::Column::UserId.eq(user_id))
        .filter(booking::Column::State.eq(BookingState::AwaitingPayment.code()))
        .count(db)
        .await? as u32;
    crate::domain::booking::check_limits(
        &rules.limits,
        CurrentCounts {
            active_in_month_for_kind,
            unpaid,
        },
        ordered.len() as u32,
    )
    .map_err(BookingRuleError::from)?;

    let purpose = request.purpose_kind.unwrap_or(Purpose::Ordinary);
    let reduction = booker.group.as_ref().and_then(|g| g.reduction.as_ref());
    let quote = quote_for(db, &room, &ordered, residency, purpose, reduction, request).await?;
    let total = i32::try_from(quote.total_yen)
        .map_err(|_| BookingError::Pricing(PricingError::Overflow))?;
    let pay_by = crate::domain::booking::pay_by(now, first.starts_at, &rules.payment);
    let ordered = ordered.into_iter().cloned().collect();
    Ok(Prepared {
        room,
        ordered,
        quote,
        total,
        pay_by,
        purpose,
    })
}

/// Price a selection for a person: room prices and the fee policy in force on each slot's date.
async fn quote_for(
    db: &impl ConnectionTrait,
    room: &room::Model,
    slots: &[&slot::Model],
    residency: Residency,
    purpose: Purpose,
    reduction: Option<&fee_reduction::Model>,
    request: &CreateBookingRequest,
) -> Result<Quote, BookingError> {
    let dates: Vec<NaiveDate> = slots.iter().map(|s| s.service_date).collect();
    let (from, to) = (dates[0], dates[dates.len() - 1]);
    let prices = PriceBook::load(db, vec![room.id], from, to).await?;
    let policy = prices.policy_on(from).ok_or(BookingError::PriceMissing)?;
    // A reduction's rate is the one in force on the day of use: a change scheduled in the
    // console (services::configuration) applies to uses from its day on.
    let reduction_percent = match reduction {
        Some(r) => Some(crate::services::configuration::reduction_percent_on(db, r, from).await?),
        None => None,
    };
    let quote_slots = slots
        .iter()
        .map(|s| prices.quote_slot(s).ok_or(BookingError::PriceMissing))
        .collect::<Result<Vec<_>, _>>()?;
    // Equipment belongs to the physical room: a half rents its whole's.
    let owner = room.parent_room_id.unwrap_or(room.id);
    let available: BTreeMap<String, equipment::Model> = equipment::Entity::find()
        .filter(equipment::Column::RoomId.eq(owner))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.code.clone(), e))
        .collect();
    let mut rentals = Vec::new();
    for (index, item) in request.equipment.iter().enumerate() {
        let Some(e) = available.get(&item.code) else {
            return Err(invalid(
                &format!("equipment[{index}].code"),
                format!("this room has no equipment `{}`", item.code),
            ));
        };
        if item.quantity > e.quantity {
            return Err(invalid(
                &format!("equipment[{index}].quantity"),
                format!("only {} available", e.quantity),
            ));
        }
        rentals.push(EquipmentRental {
            code: e.code.clone(),
            name: e.name.clone(),
            name_en: e.name_en.clone(),
            fee_yen: e.fee_yen,
            quantity: item.quantity,
        });
    }
    Ok(pricing::quote(&QuoteRequest {
        slots: quote_slots,
        policy,
        residency,
        purpose,
        // Commercial use never gets a reduction (domain::pricing); the group pays in full then.
        reduction: reduction
            .filter(|_| purpose != Purpose::Commercial)
            .map(|r| Reduction {
                code: r.code.clone(),
                name: r.name.clone(),
                name_en: r.name_en.clone(),
                percent_off: reduction_percent.unwrap_or(r.percent_off),
            }),
        equipment: rentals,
    })?)
}

/// The person's bookings, newest first.
pub async fn list_bookings(
    db: &DatabaseConnection,
    user_id: i32,
) -> Result<Vec<BookingResponse>, BookingError> {
    let bookings = booking::Entity::find()
        .filter(booking::Column::UserId.eq(user_id))
        .order_by_desc(booking::Column::StartsAt)
        .all(db)
        .await?;
    describe(db, bookings).await
}

/// One of the person's bookings (another person's is "not found": ids do not leak).
pub async fn get_booking(
    db: &impl ConnectionTrait,
    user_id: i32,
    id: i64,
) -> Result<BookingResponse, BookingError> {
    let b = booking::Entity::find_by_id(id)
        .filter(booking::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(BookingError::NotFound)?;
    describe(db, vec![b])
        .await?
        .pop()
        .ok_or(BookingError::NotFound)
}

/// Bookings as the API shows them: with their slot ids (one query for all) and the quote they
/// were booked at.
async fn describe(
    db: &impl ConnectionTrait,
    bookings: Vec<booking::Model>,
) -> Result<Vec<BookingResponse>, BookingError> {
    let ids: Vec<i64> = bookings.iter().map(|b| b.id).collect();
    let group_of: HashMap<i64, i32> = group_booking::Entity::find()
        .filter(group_booking::Column::BookingId.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.booking_id, g.group_id))
        .collect();
    let mut slots_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in booking_slot::Entity::find()
        .filter(booking_slot::Column::BookingId.is_in(ids))
        .all(db)
        .await?
    {
        slots_of
            .entry(row.booking_id)
            .or_default()
            .push(row.slot_id);
    }
    Ok(bookings
        .into_iter()
        .map(|b| {
            let mut slot_ids = slots_of.remove(&b.id).unwrap_or_default();
            slot_ids.sort_unstable();
            let quote = serde_json::from_value(b.quote.clone()).unwrap_or_else(|_| empty_quote());
            let group_id = group_of.get(&b.id).copied();
            to_response(b, slot_ids, quote, group_id)
        })
        .collect())
}

/// The resident cancels their booking: refund per the tier table, slots released at once.
pub async fn cancel_booking(
    db: &DatabaseConnection,
    rules: &BookingRules,
    user_id: i32,
    id: i64,
    now: DateTime<Utc>,
) -> Result<CancelResponse, BookingError> {
    let txn = begin_write(db).await?;
    let b = booking::Entity::find_by_id(id)
        .filter(booking::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or(BookingError::NotFound)?;
    let from: BookingState = b
        .state
        .parse()
        .map_err(|_| BookingError::NotCancellable(b.state.clone()))?;
    let to = crate::domain::booking::transition(from, BookingEvent::CancelledByResident)
        .map_err(|_| BookingError::NotCancellable(b.state.clone()))?;
    // What the ledger holds for it: applied payments (online or at the counter) less refunds
    // already committed. Nothing for an unpaid or free booking.
    let paid_yen = crate::services::payments::refundable_yen_within(&txn, id).await?;
    let decision = rules
        .refunds
        .refund(paid_yen, now, b.starts_at, CancelReason::Resident);
    let refund = i32::try_from(decision.amount_yen).unwrap_or(i32::MAX);
    let ended = end_booking(
        &txn,
        id,
        Ending {
            from,
            to,
            actor: Some(user_id),
            reason: "cancelled by the resident",
            refund_yen: Some(refund),
        },
        now,
    )
    .await?;
    if !ended {
        // The payment deadline job (or another request) changed it since we read it.
        return Err(BookingError::NotCancellable(b.state.clone()));
    }
    // The refund is committed with the cancellation; the money moves after the commit
    // (services::payments::settle_refunds, with each refund's idempotency key).
    crate::services::payments::schedule_refund_within(
        &txn,
        id,
        decision.amount_yen,
        crate::domain::payments::RefundReason::CancelledByResident,
        Some(user_id),
        now,
    )
    .await?;
    let booking = get_booking(&txn, user_id, id).await?;
    txn.commit().await?;
    Ok(CancelResponse {
        booking,
        refund_percent: decision.percent,
        refund_yen: decision.amount_yen,
    })
}

/// Cancel one of the person's bookings that has nothing paid (unpaid, or free) inside the
/// caller's transaction, through the same transition, slot release and history as a resident's
/// cancellation; the refund is 0. The account deletion uses it. Returns false, changing nothing,
/// if the booking is not the person's or cannot be cancelled in its state.
pub async fn cancel_unpaid_within(
    txn: &impl ConnectionTrait,
    user_id: i32,
    id: i64,
    reason: &'static str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some(b) = booking::Entity::find_by_id(id)
        .filter(booking::Column::UserId.eq(user_id))
        .one(txn)
        .await?
    else {
        return Ok(false);
    };
    let Ok(from) = b.state.parse::<BookingState>() else {
        return Ok(false);
    };
    let Ok(to) = crate::domain::booking::transition(from, BookingEvent::CancelledByResident) else {
        return Ok(false);
    };
    let ending = Ending {
        from,
        to,
        actor: Some(user_id),
        reason,
        refund_yen: Some(0),
    };
    end_booking(txn, id, ending, now).await
}

/// Cancel every unpaid booking whose payment deadline has passed, releasing its slots. Returns
/// how many expired. Each booking changes in its own short transaction, and only if it is still
/// unpaid, so a payment arriving at the same moment wins or loses cleanly.
pub async fn expire_unpaid(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let due: Vec<i64> = booking::Entity::find()
        .select_only()
        .column(booking::Column::Id)
        .filter(booking::Column::State.eq(BookingState::AwaitingPayment.code()))
        .filter(booking::Column::PayBy.lt(now))
        .into_tuple()
        .all(db)
        .await?;
    let mut expired = 0;
    for id in due {
        let txn = begin_write(db).await?;
        let ending = Ending {
            from: BookingState::AwaitingPayment,
            to: BookingState::Expired,
            actor: None,
            reason: "not paid by the deadline; slots released",
            refund_yen: None,
        };
        if end_booking(&txn, id, ending, now).await? {
            expired += 1;
        }
        txn.commit().await?;
    }
    Ok(expired)
}

/// How a booking ends.
pub(crate) struct Ending<'a> {
    pub(crate) from: BookingState,
    pub(crate) to: BookingState,
    /// `None` for the system.
    pub(crate) actor: Option<i32>,
    pub(crate) reason: &'a str,
    pub(crate) refund_yen: Option<i32>,
}

/// End a booking that is still in `ending.from`: set its new state, free its slots (delete its
/// claims) and record the change. Returns false, changing nothing, if its state moved meanwhile,
/// so a cancellation and the deadline job can never both act on one booking.
pub(crate) async fn end_booking(
    db: &impl ConnectionTrait,
    id: i64,
    ending: Ending<'_>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut update = booking::Entity::update_many()
        .col_expr(booking::Column::State, Expr::value(ending.to.code()))
        .col_expr(booking::Column::CancelledAt, Expr::value(now));
    if let Some(refund) = ending.refund_yen {
        update = update.col_expr(booking::Column::RefundYen, Expr::value(refund));
    }
    let changed = update
        .filter(booking::Column::Id.eq(id))
        .filter(booking::Column::State.eq(ending.from.code()))
        .exec(db)
        .await?
        .rows_affected;
    if changed != 1 {
        return Ok(false);
    }
    slot_claim::Entity::delete_many()
        .filter(slot_claim::Column::BookingId.eq(id))
        .exec(db)
        .await?;
    record_event(
        db,
        id,
        ending.actor,
        Some(ending.from),
        ending.to,
        ending.reason,
        now,
    )
    .await?;
    Ok(true)
}

async fn record_event(
    db: &impl ConnectionTrait,
    booking_id: i64,
    actor: Option<i32>,
    from: Option<BookingState>,
    to: BookingState,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    booking_event::Entity::insert(booking_event::ActiveModel {
        id: NotSet,
        booking_id: Set(booking_id),
        at: Set(at),
        actor_user_id: Set(actor),
        from_state: Set(from.map(|s| s.code().to_owned())),
        to_state: Set(to.code().to_owned()),
        reason: Set(reason.to_owned()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

fn to_response(
    b: booking::Model,
    slot_ids: Vec<i64>,
    quote: Quote,
    group_id: Option<i32>,
) -> BookingResponse {
    BookingResponse {
        id: b.id,
        group_id,
        state: b.state,
        room_id: b.room_id,
        slot_ids,
        starts_at: b.starts_at.with_timezone(&tokyo()),
        ends_at: b.ends_at.with_timezone(&tokyo()),
        purpose: b.purpose,
        purpose_kind: match b.purpose_kind.as_str() {
            "admission_event" => Purpose::AdmissionEvent,
            "commercial" => Purpose::Commercial,
            _ => Purpose::Ordinary,
        },
        attendees: b.attendees,
        residency: if b.residency == "non_resident" {
            Residency::NonResident
        } else {
            Residency::Resident
        },
        total_yen: i64::from(b.total_yen),
        quote,
        pay_by: b.pay_by.with_timezone(&tokyo()),
        created_at: b.created_at.with_timezone(&tokyo()),
        cancelled_at: b.cancelled_at.map(|t| t.with_timezone(&tokyo())),
        refund_yen: b.refund_yen.map(i64::from),
        channel: b.channel,
    }
}

fn empty_quote() -> Quote {
    Quote {
        lines: Vec::new(),
        room_yen: 0,
        equipment_yen: 0,
        reduction_yen: 0,
        total_yen: 0,
    }
}

/// Only an approved registration that has not expired may book; until then, browsing only.
fn ensure_may_book(person: &user::Model, now: DateTime<Utc>) -> Result<(), BookingError> {
    let approved = person.registration_state == RegistrationState::Approved.code();
    let current = person
        .registration_valid_until
        .is_none_or(|until| until >= tokyo_date(now));
    if approved && current {
        Ok(())
    } else {
        Err(BookingError::NotApproved)
    }
}

/// Living, working or studying in the city all count as resident (市内).
fn residency_of(code: &str) -> Residency {
    if code == "non_resident" {
        Residency::NonResident
    } else {
        Residency::Resident
    }
}

fn residency_code(residency: Residency) -> &'static str {
    match residency {
        Residency::Resident => "resident",
        Residency::NonResident => "non_resident",
    }
}

fn purpose_code(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Ordinary => "ordinary",
        Purpose::AdmissionEvent => "admission_event",
        Purpose::Commercial => "commercial",
    }
}

/// First and last day of the month `date` is in.
fn month_bounds(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = date.with_day(1).unwrap_or(date);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .unwrap_or(first);
    (first, next.pred_opt().unwrap_or(first))
}

/// What a booking would cost and when it would have to be paid, without booking: the same
/// checks as booking, so a refusal here is the refusal booking would give.
pub async fn quote_booking(
    db: &DatabaseConnection,
    rules: &BookingRules,
    user_id: i32,
    request: &CreateBookingRequest,
    now: DateTime<Utc>,
) -> Result<QuoteResponse, BookingError> {
    quote_booking_via(db, rules, user_id, request, Channel::Online, now).await
}

/// [`quote_booking`] through a channel: the counter quotes what it may book (a date whose
/// online booking has closed included).
pub async fn quote_booking_via(
    db: &DatabaseConnection,
    rules: &BookingRules,
    user_id: i32,
    request: &CreateBookingRequest,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<QuoteResponse, BookingError> {
    check_request(request, "quote", rules)?;
    let person = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(BookingError::NotFound)?;
    let booker = booker(db, &person, request, now).await?;
    let prepared = prepare(db, rules, &booker, request, channel, now).await?;
    Ok(QuoteResponse {
        room_id: prepared.room.id,
        slot_ids: prepared.ordered.iter().map(|s| s.id).collect(),
        residency: booker.residency,
        total_yen: i64::from(prepared.total),
        quote: prepared.quote,
        pay_by: prepared.pay_by.with_timezone(&tokyo()),
    })
}
