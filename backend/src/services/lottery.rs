//! 抽選: lottery rounds, applications, the draw, results, confirmation and lapse.
//!
//! - A round is created with a fresh 32-byte seed; its SHA-256 (the commitment) is public at
//!   once, the seed only after the draw.
//! - Applications are written in one transaction each (the application row, its wishes); the
//!   database's UNIQUE keys hold one application per applicant and round and one wish per slot.
//! - The draw runs once: in one write transaction it moves the round from `scheduled` to
//!   `drawn` (a conditional UPDATE, the row locked first on PostgreSQL), writes the wins, the
//!   published results document and the applicants' mail. Whichever instance (the job, or an
//!   admin) gets there first draws; the others find it drawn. An interrupted draw commits
//!   nothing and, re-run, gives the same winners, since the seed was fixed at creation.
//! - A winner confirms by booking through `services::bookings` (the same transaction, limits,
//!   prices and payment deadline as any booking); `gate` lets that booking through while the
//!   round still holds first-come back. Unconfirmed wins lapse at the deadline; their slots open
//!   first-come at the round's first-come opening.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rand::RngCore;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

use crate::db::begin_write;
use crate::domain::booking::BookingRules;
use crate::domain::calendar::{tokyo, tokyo_date};
use crate::domain::lottery::{
    self, ALGORITHM, ALGORITHM_VERSION, ApplicationState, DrawApplication, DrawInput, DrawSlot,
    LotteryRules, PublishedResults, RoundState, RoundTimes, WinState,
};
use crate::domain::pricing::Residency;
use crate::domain::registration::RegistrationState;
use crate::domain::roles::Role;
use crate::entities::{
    lottery_application, lottery_round, lottery_round_room, lottery_win, lottery_wish, room,
    room_unit_coverage, slot, user,
};
use crate::services::bookings::{self, BookingError};
use crate::services::groups::{GroupError, group_for_booking};
use crate::services::mail::{self, Mail};
use crate::views::booking::{BookingResponse, CreateBookingRequest};
use crate::views::lottery::{
    ApplicationResponse, ApplyRequest, CreateRoundRequest, DrawResponse, MyLotteryResponse,
    RoundResponse, WinResponse, WishResponse,
};

/// Why a lottery request was refused.
#[derive(Debug, thiserror::Error)]
pub enum LotteryError {
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(
        "not allowed with this account (rounds and draws are the city's administrators'; applications are residents')"
    )]
    Forbidden,
    #[error("your registration must be approved (and not expired) before you can apply")]
    NotApproved,
    #[error("the round takes applications from {} to {}", fmt(*.opens), fmt(*.closes))]
    WindowClosed {
        opens: DateTime<Utc>,
        closes: DateTime<Utc>,
    },
    #[error("{field}: slot {slot_id} is not offered in this lottery round")]
    NotInRound { field: String, slot_id: i64 },
    #[error("{limit}: at most {max}")]
    LimitReached { limit: &'static str, max: u32 },
    #[error("the round has not been drawn yet; results are published at the draw")]
    NotDrawn,
    #[error("the round is already drawn")]
    AlreadyDrawn,
    #[error("the draw runs once applications have closed (at {})", fmt(*.0))]
    TooEarlyToDraw(DateTime<Utc>),
    #[error("this win cannot be confirmed: it is {0}")]
    WinNotConfirmable(String),
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn fmt(at: DateTime<Utc>) -> String {
    at.with_timezone(&tokyo())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> LotteryError {
    LotteryError::InvalidInput {
        field: field.into(),
        message: message.into(),
    }
}

/// The longest purpose text (as a booking's).
const MAX_PURPOSE_CHARS: usize = bookings::MAX_PURPOSE_CHARS;
/// Rows per multi-row INSERT, well inside SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 500;

/// `u<user id>` or `g<group id>`: who an application is for.
pub fn applicant_key(user_id: i32, group_id: Option<i32>) -> String {
    match group_id {
        Some(group) => format!("g{group}"),
        None => format!("u{user_id}"),
    }
}

fn times_of(round: &lottery_round::Model) -> RoundTimes {
    RoundTimes {
        month_of_use: round.month_of_use,
        applications_open_at: round.applications_open_at,
        applications_close_at: round.applications_close_at,
        draw_at: round.draw_at,
        confirm_by: round.confirm_by,
        first_come_opens_at: round.first_come_opens_at,
    }
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn last_of_month(date: NaiveDate) -> NaiveDate {
    let first = first_of_month(date);
    first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|next| next.pred_opt())
        .unwrap_or(first)
}

async fn rooms_of(
    db: &impl ConnectionTrait,
    round_ids: Vec<i32>,
) -> Result<HashMap<i32, Vec<i32>>, DbErr> {
    let mut rooms: HashMap<i32, Vec<i32>> = HashMap::new();
    for row in lottery_round_room::Entity::find()
        .filter(lottery_round_room::Column::RoundId.is_in(round_ids))
        .order_by_asc(lottery_round_room::Column::RoomId)
        .all(db)
        .await?
    {
        rooms.entry(row.round_id).or_default().push(row.room_id);
    }
    Ok(rooms)
}

fn to_response(
    round: &lottery_round::Model,
    room_ids: Vec<i32>,
    now: DateTime<Utc>,
) -> RoundResponse {
    let state = RoundState::from_code(&round.state);
    let at = |t: DateTime<Utc>| t.with_timezone(&tokyo());
    RoundResponse {
        id: round.id,
        name: round.name.clone(),
        month_of_use: round.month_of_use,
        room_ids,
        applications_open_at: at(round.applications_open_at),
        applications_close_at: at(round.applications_close_at),
        draw_at: at(round.draw_at),
        confirm_by: at(round.confirm_by),
        first_come_opens_at: at(round.first_come_opens_at),
        state,
        phase: lottery::round_phase(&times_of(round), state, now),
        max_wishes: round.max_wishes,
        max_wins_per_applicant: round.max_wins_per_applicant,
        commitment: round.commitment_hex.clone(),
        seed: (state != RoundState::Scheduled).then(|| round.seed_hex.clone()),
        algorithm: round.algorithm.clone(),
        algorithm_version: round.algorithm_version,
    }
}

async fn describe_rounds(
    db: &impl ConnectionTrait,
    rounds: Vec<lottery_round::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<RoundResponse>, DbErr> {
    let mut rooms = rooms_of(db, rounds.iter().map(|r| r.id).collect()).await?;
    Ok(rounds
        .iter()
        .map(|r| to_response(r, rooms.remove(&r.id).unwrap_or_default(), now))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Rounds
// ---------------------------------------------------------------------------------------------

/// Every round, the newest month first.
pub async fn list_rounds(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<RoundResponse>, LotteryError> {
    let rounds = lottery_round::Entity::find()
        .order_by_desc(lottery_round::Column::MonthOfUse)
        .order_by_asc(lottery_round::Column::Id)
        .all(db)
        .await?;
    Ok(describe_rounds(db, rounds, now).await?)
}

async fn find_round(
    db: &impl ConnectionTrait,
    id: i32,
) -> Result<lottery_round::Model, LotteryError> {
    lottery_round::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(LotteryError::NotFound("lottery round"))
}

/// One round.
pub async fn get_round(
    db: &impl ConnectionTrait,
    id: i32,
    now: DateTime<Utc>,
) -> Result<RoundResponse, LotteryError> {
    let round = find_round(db, id).await?;
    describe_rounds(db, vec![round], now)
        .await?
        .pop()
        .ok_or(LotteryError::NotFound("lottery round"))
}

/// A round to create: its times, rooms and limits, checked.
struct NewRound {
    name: String,
    times: RoundTimes,
    room_ids: Vec<i32>,
    max_wishes: i16,
    max_wins_per_applicant: i16,
}

/// An admin creates a round. Its seed is drawn now and its commitment published at once.
pub async fn create_round(
    db: &DatabaseConnection,
    rules: &LotteryRules,
    role: Role,
    request: &CreateRoundRequest,
    now: DateTime<Utc>,
) -> Result<RoundResponse, LotteryError> {
    if role != Role::Admin {
        return Err(LotteryError::Forbidden);
    }
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("name", "1–100 characters"));
    }
    let max_wishes = request.max_wishes.unwrap_or(rules.max_wishes as i16);
    if !(1..=20).contains(&max_wishes) {
        return Err(invalid("max_wishes", "from 1 to 20"));
    }
    let max_wins = request
        .max_wins_per_applicant
        .unwrap_or(rules.max_wins_per_applicant as i16);
    if !(1..=100).contains(&max_wins) {
        return Err(invalid("max_wins_per_applicant", "from 1 to 100"));
    }
    let times = RoundTimes {
        month_of_use: first_of_month(request.month_of_use),
        applications_open_at: request.applications_open_at.to_utc(),
        applications_close_at: request.applications_close_at.to_utc(),
        draw_at: request.draw_at.to_utc(),
        confirm_by: request.confirm_by.to_utc(),
        first_come_opens_at: request.first_come_opens_at.to_utc(),
    };
    if let Some(field) = times.out_of_order() {
        return Err(invalid(
            field,
            "times must be in order: applications open < close ≤ draw < confirm by ≤ first-come opens",
        ));
    }
    let new = NewRound {
        name: name.to_owned(),
        times,
        room_ids: request.room_ids.clone(),
        max_wishes,
        max_wins_per_applicant: max_wins,
    };
    insert_round(db, new, now).await
}

/// The round of `month_of_use` by the configured calendar, covering every room that uses the
/// lottery. A month that has a round already gets that round back (the call is idempotent).
pub async fn generate_round(
    db: &DatabaseConnection,
    rules: &LotteryRules,
    booking: &BookingRules,
    role: Role,
    month_of_use: NaiveDate,
    now: DateTime<Utc>,
) -> Result<RoundResponse, LotteryError> {
    if role != Role::Admin {
        return Err(LotteryError::Forbidden);
    }
    let month = first_of_month(month_of_use);
    if let Some(existing) = lottery_round::Entity::find()
        .filter(lottery_round::Column::MonthOfUse.eq(month))
        .order_by_asc(lottery_round::Column::Id)
        .one(db)
        .await?
    {
        return get_round(db, existing.id, now).await;
    }
    let first_come = booking.window.opens_at(month, Residency::Resident);
    let times = rules.round_times(month, first_come);
    if let Some(field) = times.out_of_order() {
        return Err(invalid(
            field,
            "the configured calendar gives times out of order",
        ));
    }
    let room_ids: Vec<i32> = room::Entity::find()
        .filter(room::Column::UsesLottery.eq(true))
        .order_by_asc(room::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let new = NewRound {
        name: format!("{}年{}月利用分 抽選", month.year(), month.month()),
        times,
        room_ids,
        max_wishes: rules.max_wishes as i16,
        max_wins_per_applicant: rules.max_wins_per_applicant as i16,
    };
    insert_round(db, new, now).await
}

async fn insert_round(
    db: &DatabaseConnection,
    new: NewRound,
    now: DateTime<Utc>,
) -> Result<RoundResponse, LotteryError> {
    let mut room_ids = new.room_ids.clone();
    room_ids.sort_unstable();
    room_ids.dedup();
    if room_ids.is_empty() {
        return Err(invalid("room_ids", "name at least one room"));
    }
    let rooms = room::Entity::find()
        .filter(room::Column::Id.is_in(room_ids.clone()))
        .all(db)
        .await?;
    if let Some(missing) = room_ids
        .iter()
        .find(|id| !rooms.iter().any(|r| r.id == **id))
    {
        return Err(invalid("room_ids", format!("no room {missing}")));
    }
    if let Some(not_lottery) = rooms.iter().find(|r| !r.uses_lottery) {
        return Err(invalid(
            "room_ids",
            format!("room {} does not use the lottery", not_lottery.id),
        ));
    }
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let txn = begin_write(db).await?;
    let times = new.times;
    let saved = lottery_round::Entity::insert(lottery_round::ActiveModel {
        id: NotSet,
        name: Set(new.name),
        month_of_use: Set(times.month_of_use),
        applications_open_at: Set(times.applications_open_at),
        applications_close_at: Set(times.applications_close_at),
        draw_at: Set(times.draw_at),
        confirm_by: Set(times.confirm_by),
        first_come_opens_at: Set(times.first_come_opens_at),
        state: Set(RoundState::Scheduled.code().to_owned()),
        max_wishes: Set(new.max_wishes),
        max_wins_per_applicant: Set(new.max_wins_per_applicant),
        seed_hex: Set(hex::encode(seed)),
        commitment_hex: Set(lottery::commitment(&seed)),
        algorithm: Set(ALGORITHM.to_owned()),
        algorithm_version: Set(ALGORITHM_VERSION),
        created_at: Set(now),
        drawn_at: Set(None),
        results: Set(None),
    })
    .exec_with_returning(&txn)
    .await?;
    lottery_round_room::Entity::insert_many(room_ids.iter().map(|room| {
        lottery_round_room::ActiveModel {
            round_id: Set(saved.id),
            room_id: Set(*room),
        }
    }))
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    tracing::info!(lottery.round = saved.id, "lottery round created");
    Ok(to_response(&saved, room_ids, now))
}

// ---------------------------------------------------------------------------------------------
// Applications
// ---------------------------------------------------------------------------------------------

fn ensure_may_apply(person: &user::Model, now: DateTime<Utc>) -> Result<(), LotteryError> {
    let approved = person.registration_state == RegistrationState::Approved.code();
    let current = person
        .registration_valid_until
        .is_none_or(|until| until >= tokyo_date(now));
    if approved && current && person.deleted_at.is_none() {
        Ok(())
    } else {
        Err(LotteryError::NotApproved)
    }
}

fn ensure_window_open(
    round: &lottery_round::Model,
    now: DateTime<Utc>,
) -> Result<(), LotteryError> {
    let open = now >= round.applications_open_at && now < round.applications_close_at;
    if open && round.state == RoundState::Scheduled.code() {
        Ok(())
    } else {
        Err(LotteryError::WindowClosed {
            opens: round.applications_open_at,
            closes: round.applications_close_at,
        })
    }
}

fn check_apply_request(request: &ApplyRequest, max_wishes: usize) -> Result<(), LotteryError> {
    if request.wishes.is_empty() {
        return Err(invalid("wishes", "name at least one slot"));
    }
    if request.wishes.len() > max_wishes {
        return Err(LotteryError::LimitReached {
            limit: "max_wishes",
            max: max_wishes as u32,
        });
    }
    let mut seen = HashSet::new();
    for (index, slot_id) in request.wishes.iter().enumerate() {
        if !seen.insert(slot_id) {
            return Err(invalid(
                format!("wishes[{index}]"),
                format!("slot {slot_id} is wished for twice"),
            ));
        }
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
    Ok(())
}

/// Apply to a round, or replace the applicant's application (an edit) while the window is open.
/// Returns the application and whether it is new.
pub async fn apply(
    db: &DatabaseConnection,
    rules: &LotteryRules,
    (user_id, role): (i32, Role),
    round_id: i32,
    request: &ApplyRequest,
    now: DateTime<Utc>,
) -> Result<(ApplicationResponse, bool), LotteryError> {
    // Staff accounts are for work; residents (and group representatives) apply.
    if role != Role::Resident {
        return Err(LotteryError::Forbidden);
    }
    let txn = begin_write(db).await?;
    // One applicant's applications are decided one at a time (PostgreSQL; SQLite writers are
    // serial), so the monthly cap cannot be overrun by racing requests.
    let mut person = user::Entity::find_by_id(user_id);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        person = person.lock_exclusive();
    }
    let person = person
        .one(&txn)
        .await?
        .ok_or(LotteryError::NotFound("user"))?;
    ensure_may_apply(&person, now)?;
    let round = find_round(&txn, round_id).await?;
    ensure_window_open(&round, now)?;
    check_apply_request(request, round.max_wishes as usize)?;
    if let Some(group_id) = request.group_id {
        group_for_booking(&txn, user_id, group_id, tokyo_date(now)).await?;
    }
    let key = applicant_key(user_id, request.group_id);
    let tier = lottery::tier(
        request.group_id.is_some(),
        person.residency != "non_resident",
    );

    // Every wish: a slot of one of the round's rooms in its month, open, and a room the
    // applicant may use.
    let round_rooms: HashMap<i32, room::Model> = {
        let ids: Vec<i32> = rooms_of(&txn, vec![round.id])
            .await?
            .remove(&round.id)
            .unwrap_or_default();
        room::Entity::find()
            .filter(room::Column::Id.is_in(ids))
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect()
    };
    let slots: HashMap<i64, slot::Model> = slot::Entity::find()
        .filter(slot::Column::Id.is_in(request.wishes.clone()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let (month_start, month_end) = (round.month_of_use, last_of_month(round.month_of_use));
    for (index, slot_id) in request.wishes.iter().enumerate() {
        let field = format!("wishes[{index}]");
        let Some(s) = slots.get(slot_id) else {
            return Err(invalid(field, format!("no slot {slot_id}")));
        };
        let Some(r) = round_rooms.get(&s.room_id) else {
            return Err(LotteryError::NotInRound {
                field,
                slot_id: *slot_id,
            });
        };
        if s.service_date < month_start || s.service_date > month_end || s.status != "open" {
            return Err(LotteryError::NotInRound {
                field,
                slot_id: *slot_id,
            });
        }
        if r.requires_group && request.group_id.is_none() {
            return Err(invalid(
                "group_id",
                format!(
                    "{field}: this room is drawn for registered groups only; apply as your group"
                ),
            ));
        }
        if request.attendees > r.capacity {
            return Err(invalid(
                "attendees",
                format!("room {} holds at most {} people", r.id, r.capacity),
            ));
        }
    }

    // The monthly cap: wishes in this applicant's other applications for the same month.
    let other_rounds = Query::select()
        .column(lottery_round::Column::Id)
        .from(lottery_round::Entity)
        .and_where(lottery_round::Column::MonthOfUse.eq(round.month_of_use))
        .and_where(lottery_round::Column::Id.ne(round.id))
        .to_owned();
    let other_applications = Query::select()
        .column(lottery_application::Column::Id)
        .from(lottery_application::Entity)
        .and_where(lottery_application::Column::ApplicantKey.eq(key.clone()))
        .and_where(lottery_application::Column::State.eq(ApplicationState::Submitted.code()))
        .and_where(lottery_application::Column::RoundId.in_subquery(other_rounds))
        .to_owned();
    let held = sea_orm::PaginatorTrait::count(
        lottery_wish::Entity::find()
            .filter(lottery_wish::Column::ApplicationId.in_subquery(other_applications)),
        &txn,
    )
    .await? as usize;
    if held + request.wishes.len() > rules.max_wishes_per_month as usize {
        return Err(LotteryError::LimitReached {
            limit: "max_wishes_per_month",
            max: rules.max_wishes_per_month,
        });
    }

    let existing = lottery_application::Entity::find()
        .filter(lottery_application::Column::RoundId.eq(round.id))
        .filter(lottery_application::Column::ApplicantKey.eq(key.clone()))
        .one(&txn)
        .await?;
    let created = existing.is_none();
    let application_id = match existing {
        Some(application) => {
            lottery_application::Entity::update_many()
                .col_expr(
                    lottery_application::Column::State,
                    Expr::value(ApplicationState::Submitted.code()),
                )
                .col_expr(lottery_application::Column::UserId, Expr::value(user_id))
                .col_expr(
                    lottery_application::Column::Tier,
                    Expr::value(i16::from(tier)),
                )
                .col_expr(
                    lottery_application::Column::Purpose,
                    Expr::value(request.purpose.trim()),
                )
                .col_expr(
                    lottery_application::Column::Attendees,
                    Expr::value(request.attendees),
                )
                .col_expr(lottery_application::Column::UpdatedAt, Expr::value(now))
                .filter(lottery_application::Column::Id.eq(application.id))
                .exec(&txn)
                .await?;
            lottery_wish::Entity::delete_many()
                .filter(lottery_wish::Column::ApplicationId.eq(application.id))
                .exec(&txn)
                .await?;
            application.id
        }
        None => {
            let inserted = lottery_application::Entity::insert(lottery_application::ActiveModel {
                id: NotSet,
                round_id: Set(round.id),
                user_id: Set(user_id),
                group_id: Set(request.group_id),
                applicant_key: Set(key),
                tier: Set(i16::from(tier)),
                state: Set(ApplicationState::Submitted.code().to_owned()),
                purpose: Set(request.purpose.trim().to_owned()),
                attendees: Set(request.attendees),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec_with_returning(&txn)
            .await;
            match inserted {
                Ok(row) => row.id,
                // Two first applications racing: the UNIQUE key keeps one.
                Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                    return Err(invalid(
                        "round",
                        "an application for this applicant was just made; try again",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    lottery_wish::Entity::insert_many(request.wishes.iter().enumerate().map(|(i, slot_id)| {
        lottery_wish::ActiveModel {
            application_id: Set(application_id),
            rank: Set(i as i16 + 1),
            slot_id: Set(*slot_id),
        }
    }))
    .exec_without_returning(&txn)
    .await?;
    let response = describe_applications(&txn, vec![application_id], None)
        .await?
        .pop()
        .ok_or(LotteryError::NotFound("application"))?;
    txn.commit().await?;
    Ok((response, created))
}

/// Withdraw the applicant's application while the window is open.
pub async fn withdraw(
    db: &DatabaseConnection,
    user_id: i32,
    round_id: i32,
    group_id: Option<i32>,
    now: DateTime<Utc>,
) -> Result<ApplicationResponse, LotteryError> {
    let txn = begin_write(db).await?;
    let round = find_round(&txn, round_id).await?;
    ensure_window_open(&round, now)?;
    let application = lottery_application::Entity::find()
        .filter(lottery_application::Column::RoundId.eq(round.id))
        .filter(lottery_application::Column::ApplicantKey.eq(applicant_key(user_id, group_id)))
        .filter(lottery_application::Column::State.eq(ApplicationState::Submitted.code()))
        .one(&txn)
        .await?
        .ok_or(LotteryError::NotFound("application"))?;
    // A group's application is the representative's to withdraw; check they still are.
    if let Some(group) = group_id {
        group_for_booking(&txn, user_id, group, tokyo_date(now)).await?;
    } else if application.user_id != user_id {
        return Err(LotteryError::NotFound("application"));
    }
    lottery_application::Entity::update_many()
        .col_expr(
            lottery_application::Column::State,
            Expr::value(ApplicationState::Withdrawn.code()),
        )
        .col_expr(lottery_application::Column::UpdatedAt, Expr::value(now))
        .filter(lottery_application::Column::Id.eq(application.id))
        .exec(&txn)
        .await?;
    let response = describe_applications(&txn, vec![application.id], None)
        .await?
        .pop()
        .ok_or(LotteryError::NotFound("application"))?;
    txn.commit().await?;
    Ok(response)
}

/// Applications as the API shows them, with their wishes, and wins and pseudonyms after the
/// draw. `seeds` (round id → seed) when the caller has the rounds at hand.
async fn describe_applications(
    db: &impl ConnectionTrait,
    ids: Vec<i64>,
    seeds: Option<&HashMap<i32, lottery::Seed>>,
) -> Result<Vec<ApplicationResponse>, DbErr> {
    let applications = lottery_application::Entity::find()
        .filter(lottery_application::Column::Id.is_in(ids.clone()))
        .order_by_desc(lottery_application::Column::RoundId)
        .order_by_asc(lottery_application::Column::Id)
        .all(db)
        .await?;
    let wishes = lottery_wish::Entity::find()
        .filter(lottery_wish::Column::ApplicationId.is_in(ids.clone()))
        .order_by_asc(lottery_wish::Column::Rank)
        .all(db)
        .await?;
    let slots: HashMap<i64, slot::Model> = slot::Entity::find()
        .filter(slot::Column::Id.is_in(wishes.iter().map(|w| w.slot_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let mut wins: HashMap<i64, Vec<WinResponse>> = HashMap::new();
    for win in lottery_win::Entity::find()
        .filter(lottery_win::Column::ApplicationId.is_in(ids))
        .order_by_asc(lottery_win::Column::Rank)
        .all(db)
        .await?
    {
        wins.entry(win.application_id)
            .or_default()
            .push(WinResponse {
                id: win.id,
                rank: win.rank,
                slot_id: win.slot_id,
                state: win.state,
                booking_id: win.booking_id,
            });
    }
    let mut wishes_of: HashMap<i64, Vec<WishResponse>> = HashMap::new();
    for wish in wishes {
        let Some(s) = slots.get(&wish.slot_id) else {
            continue;
        };
        wishes_of
            .entry(wish.application_id)
            .or_default()
            .push(WishResponse {
                rank: wish.rank,
                slot_id: wish.slot_id,
                room_id: s.room_id,
                starts_at: s.starts_at.with_timezone(&tokyo()),
                ends_at: s.ends_at.with_timezone(&tokyo()),
            });
    }
    let round_seeds: HashMap<i32, lottery::Seed> = match seeds {
        Some(seeds) => seeds.clone(),
        None => lottery_round::Entity::find()
            .filter(
                lottery_round::Column::Id.is_in(
                    applications
                        .iter()
                        .map(|a| a.round_id)
                        .collect::<HashSet<_>>()
                        .into_iter()
                        .collect::<Vec<_>>(),
                ),
            )
            .filter(lottery_round::Column::State.ne(RoundState::Scheduled.code()))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|r| lottery::parse_seed(&r.seed_hex).map(|s| (r.id, s)))
            .collect(),
    };
    Ok(applications
        .into_iter()
        .map(|a| ApplicationResponse {
            id: a.id,
            round_id: a.round_id,
            group_id: a.group_id,
            pseudonym: round_seeds
                .get(&a.round_id)
                .map(|seed| lottery::pseudonym(seed, &a.applicant_key)),
            state: a.state,
            tier: a.tier,
            purpose: a.purpose,
            attendees: a.attendees,
            wishes: wishes_of.remove(&a.id).unwrap_or_default(),
            wins: wins.remove(&a.id).unwrap_or_default(),
        })
        .collect())
}

/// The person's applications (their own and those they made for their groups), newest round
/// first, with the rounds.
pub async fn my_lottery(
    db: &impl ConnectionTrait,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<MyLotteryResponse, LotteryError> {
    let ids: Vec<i64> = lottery_application::Entity::find()
        .select_only()
        .column(lottery_application::Column::Id)
        .filter(lottery_application::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    let applications = describe_applications(db, ids, None).await?;
    let round_ids: Vec<i32> = applications
        .iter()
        .map(|a| a.round_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let rounds = lottery_round::Entity::find()
        .filter(lottery_round::Column::Id.is_in(round_ids))
        .order_by_desc(lottery_round::Column::MonthOfUse)
        .all(db)
        .await?;
    Ok(MyLotteryResponse {
        applications,
        rounds: describe_rounds(db, rounds, now).await?,
    })
}

// ---------------------------------------------------------------------------------------------
// The draw
// ---------------------------------------------------------------------------------------------

/// The draw's inputs for a round, read inside the drawing transaction: the applications (by
/// pseudonym), the wished slots with their resources, and who is who.
struct Inputs {
    slots: Vec<DrawSlot>,
    applications: Vec<DrawApplication>,
    /// Pseudonym → (application id, user id).
    by_pseudonym: HashMap<String, (i64, i32)>,
    /// Slot id → (room id, starts at), for the mail.
    slot_times: HashMap<i64, (i32, DateTime<Utc>)>,
}

async fn draw_inputs(
    db: &impl ConnectionTrait,
    round: &lottery_round::Model,
    seed: &lottery::Seed,
) -> Result<Inputs, DbErr> {
    let applications = lottery_application::Entity::find()
        .filter(lottery_application::Column::RoundId.eq(round.id))
        .filter(lottery_application::Column::State.eq(ApplicationState::Submitted.code()))
        .all(db)
        .await?;
    let submitted = Query::select()
        .column(lottery_application::Column::Id)
        .from(lottery_application::Entity)
        .and_where(lottery_application::Column::RoundId.eq(round.id))
        .and_where(lottery_application::Column::State.eq(ApplicationState::Submitted.code()))
        .to_owned();
    let mut wishes_of: HashMap<i64, Vec<(i16, i64)>> = HashMap::new();
    for wish in lottery_wish::Entity::find()
        .filter(lottery_wish::Column::ApplicationId.in_subquery(submitted))
        .all(db)
        .await?
    {
        wishes_of
            .entry(wish.application_id)
            .or_default()
            .push((wish.rank, wish.slot_id));
    }
    // The round's slots: its rooms in its month, each with the units it occupies at its start.
    let room_ids = rooms_of(db, vec![round.id])
        .await?
        .remove(&round.id)
        .unwrap_or_default();
    let mut units_of: HashMap<i32, Vec<i32>> = HashMap::new();
    for c in room_unit_coverage::Entity::find()
        .filter(room_unit_coverage::Column::RoomId.is_in(room_ids.clone()))
        .all(db)
        .await?
    {
        units_of.entry(c.room_id).or_default().push(c.unit_id);
    }
    let wished: HashSet<i64> = wishes_of.values().flatten().map(|(_, s)| *s).collect();
    let mut slots = Vec::new();
    let mut slot_times = HashMap::new();
    for s in slot::Entity::find()
        .filter(slot::Column::RoomId.is_in(room_ids))
        .filter(
            slot::Column::ServiceDate
                .between(round.month_of_use, last_of_month(round.month_of_use)),
        )
        .filter(slot::Column::Status.eq("open"))
        .order_by_asc(slot::Column::Id)
        .all(db)
        .await?
    {
        if !wished.contains(&s.id) {
            continue;
        }
        let mut units = units_of.get(&s.room_id).cloned().unwrap_or_default();
        units.sort_unstable();
        let resources = if units.is_empty() {
            vec![format!("slot{}", s.id)]
        } else {
            units
                .iter()
                .map(|u| format!("{u}@{}", s.starts_at.timestamp()))
                .collect()
        };
        slot_times.insert(s.id, (s.room_id, s.starts_at));
        slots.push(DrawSlot {
            slot_id: s.id,
            resources,
        });
    }
    let mut draw_applications = Vec::with_capacity(applications.len());
    let mut by_pseudonym = HashMap::with_capacity(applications.len());
    for a in applications {
        let mut wishes = wishes_of.remove(&a.id).unwrap_or_default();
        wishes.sort_unstable();
        let pseudonym = lottery::pseudonym(seed, &a.applicant_key);
        by_pseudonym.insert(pseudonym.clone(), (a.id, a.user_id));
        draw_applications.push(DrawApplication {
            applicant: pseudonym,
            tier: u8::try_from(a.tier).unwrap_or(1),
            // A wish for a slot closed since (a closure) is left out of the draw.
            wishes: wishes
                .into_iter()
                .map(|(_, slot)| slot)
                .filter(|slot| slot_times.contains_key(slot))
                .collect(),
        });
    }
    draw_applications.sort_by(|a, b| a.applicant.as_bytes().cmp(b.applicant.as_bytes()));
    Ok(Inputs {
        slots,
        applications: draw_applications,
        by_pseudonym,
        slot_times,
    })
}

/// Draw a round: `by_admin` may draw as soon as applications close; the job draws at the draw
/// time. Exactly once: a round found already drawn is [`LotteryError::AlreadyDrawn`].
pub async fn draw_round(
    db: &DatabaseConnection,
    role: Option<Role>,
    round_id: i32,
    now: DateTime<Utc>,
) -> Result<DrawResponse, LotteryError> {
    if role.is_some_and(|r| r != Role::Admin) {
        return Err(LotteryError::Forbidden);
    }
    let txn = begin_write(db).await?;
    let mut query = lottery_round::Entity::find_by_id(round_id);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    let round = query
        .one(&txn)
        .await?
        .ok_or(LotteryError::NotFound("lottery round"))?;
    if round.state != RoundState::Scheduled.code() {
        return Err(LotteryError::AlreadyDrawn);
    }
    let due = if role.is_some() {
        round.applications_close_at
    } else {
        round.draw_at
    };
    if now < due {
        return Err(LotteryError::TooEarlyToDraw(due));
    }
    let seed = lottery::parse_seed(&round.seed_hex)
        .ok_or_else(|| DbErr::Custom(format!("round {round_id}: stored seed is malformed")))?;
    let inputs = draw_inputs(&txn, &round, &seed).await?;
    let cap = u32::try_from(round.max_wins_per_applicant).unwrap_or(1);
    let winners = lottery::draw(&DrawInput {
        seed: &seed,
        max_wins_per_applicant: cap,
        slots: &inputs.slots,
        applications: &inputs.applications,
    })
    .map_err(|e| DbErr::Custom(format!("round {round_id}: draw inputs: {e}")))?;
    let results = PublishedResults {
        round_id,
        algorithm: round.algorithm.clone(),
        algorithm_version: round.algorithm_version,
        commitment: round.commitment_hex.clone(),
        seed: round.seed_hex.clone(),
        max_wins_per_applicant: cap,
        slots: inputs.slots.clone(),
        applications: inputs.applications.clone(),
        winners: winners.clone(),
    };
    let rows: Vec<lottery_win::ActiveModel> = winners
        .iter()
        .filter_map(|w| {
            let (application_id, _) = inputs.by_pseudonym.get(&w.applicant)?;
            Some(lottery_win::ActiveModel {
                id: NotSet,
                round_id: Set(round_id),
                application_id: Set(*application_id),
                rank: Set(i16::try_from(w.rank).unwrap_or(i16::MAX)),
                slot_id: Set(w.slot_id),
                state: Set(WinState::Won.code().to_owned()),
                booking_id: Set(None),
                decided_at: Set(None),
            })
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        lottery_win::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    let document = serde_json::to_value(&results)
        .map_err(|e| DbErr::Custom(format!("results document: {e}")))?;
    let moved = lottery_round::Entity::update_many()
        .col_expr(
            lottery_round::Column::State,
            Expr::value(RoundState::Drawn.code()),
        )
        .col_expr(lottery_round::Column::DrawnAt, Expr::value(now))
        .col_expr(lottery_round::Column::Results, Expr::value(document))
        .filter(lottery_round::Column::Id.eq(round_id))
        .filter(lottery_round::Column::State.eq(RoundState::Scheduled.code()))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved != 1 {
        // Another instance drew it meanwhile; dropping the transaction undoes ours.
        return Err(LotteryError::AlreadyDrawn);
    }
    mail_results(&txn, &round, &inputs, &winners, now).await?;
    let response = describe_rounds(
        &txn,
        vec![
            lottery_round::Entity::find_by_id(round_id)
                .one(&txn)
                .await?
                .ok_or(LotteryError::NotFound("lottery round"))?,
        ],
        now,
    )
    .await?
    .pop()
    .ok_or(LotteryError::NotFound("lottery round"))?;
    txn.commit().await?;
    tracing::info!(
        lottery.round = round_id,
        lottery.applications = inputs.applications.len(),
        lottery.winners = winners.len(),
        "lottery drawn"
    );
    Ok(DrawResponse {
        round: response,
        applications: inputs.applications.len(),
        winners: winners.len(),
    })
}

/// Tell every applicant their result, in the drawing transaction (the outbox sends it later).
async fn mail_results(
    db: &impl ConnectionTrait,
    round: &lottery_round::Model,
    inputs: &Inputs,
    winners: &[lottery::Winner],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut won: HashMap<&str, Vec<String>> = HashMap::new();
    for w in winners {
        if let Some((room_id, starts_at)) = inputs.slot_times.get(&w.slot_id) {
            won.entry(w.applicant.as_str()).or_default().push(format!(
                "room {room_id}, {}",
                starts_at.with_timezone(&tokyo()).format("%Y-%m-%d %H:%M")
            ));
        }
    }
    let user_ids: Vec<i32> = inputs
        .by_pseudonym
        .values()
        .map(|(_, user)| *user)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut people: HashMap<i32, user::Model> = HashMap::new();
    for chunk in user_ids.chunks(INSERT_CHUNK) {
        for person in user::Entity::find()
            .filter(user::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            people.insert(person.id, person);
        }
    }
    // Mail in pseudonym order, so the outbox reads the same whatever the hash map's order.
    let ordered: BTreeMap<&String, &(i64, i32)> = inputs.by_pseudonym.iter().collect();
    for (pseudonym, (_, user_id)) in ordered {
        let Some(person) = people.get(user_id) else {
            continue;
        };
        if person.deleted_at.is_some() {
            continue;
        }
        let wins = won.get(pseudonym.as_str()).cloned().unwrap_or_default();
        let mail = result_mail(&person.locale, round, pseudonym, &wins);
        mail::enqueue(db, &person.email, &person.locale, mail, now).await?;
    }
    Ok(())
}

/// The result mail: the wins (with the deadline to confirm) or that nothing was won.
fn result_mail(
    locale: &str,
    round: &lottery_round::Model,
    pseudonym: &str,
    wins: &[String],
) -> Mail {
    let deadline = fmt(round.confirm_by);
    let list = wins.iter().map(|w| format!("- {w}\n")).collect::<String>();
    let (subject, body) = if locale == "en" {
        if wins.is_empty() {
            (
                format!("Yoyaku: lottery results for {}", round.name),
                format!(
                    "The lottery {} has been drawn. This time none of your wishes won.\n\n\
                     Slots left over open first-come on {}.\nYour pseudonym in the published results: {pseudonym}\n",
                    round.name,
                    fmt(round.first_come_opens_at)
                ),
            )
        } else {
            (
                format!("Yoyaku: you won in the lottery {}", round.name),
                format!(
                    "The lottery {} has been drawn. You won:\n\n{list}\nConfirm each win by {deadline} \
                     (My page → Lottery); unconfirmed wins lapse.\nYour pseudonym in the published results: {pseudonym}\n",
                    round.name
                ),
            )
        }
    } else if wins.is_empty() {
        (
            format!("【Yoyaku】抽選結果のお知らせ（{}）", round.name),
            format!(
                "{} の抽選を行いました。今回はご希望の枠は当選しませんでした。\n\n\
                 残った枠は {} から先着順で予約できます。\n公開結果でのあなたの仮名: {pseudonym}\n",
                round.name,
                fmt(round.first_come_opens_at)
            ),
        )
    } else {
        (
            format!("【Yoyaku】抽選に当選しました（{}）", round.name),
            format!(
                "{} の抽選を行い、次の枠が当選しました。\n\n{list}\n{deadline} までに当選確定の手続きを\
                 してください（マイページ → 抽選）。期限までに確定しない当選は無効になります。\n\
                 公開結果でのあなたの仮名: {pseudonym}\n",
                round.name
            ),
        )
    };
    Mail {
        template: "lottery_result",
        subject,
        body,
    }
}

/// The published results of a drawn round.
pub async fn results(
    db: &impl ConnectionTrait,
    round_id: i32,
) -> Result<PublishedResults, LotteryError> {
    let round = find_round(db, round_id).await?;
    let Some(document) = round
        .results
        .filter(|_| round.state != RoundState::Scheduled.code())
    else {
        return Err(LotteryError::NotDrawn);
    };
    serde_json::from_value(document)
        .map_err(|e| LotteryError::Db(DbErr::Custom(format!("stored results: {e}"))))
}

// ---------------------------------------------------------------------------------------------
// Confirmation and lapse
// ---------------------------------------------------------------------------------------------

/// The winner confirms a win: a booking of the slot awaiting payment (or confirmed, if free),
/// through the booking service. Confirming again returns the same booking.
pub async fn confirm_win(
    db: &DatabaseConnection,
    rules: &BookingRules,
    user_id: i32,
    win_id: i64,
    now: DateTime<Utc>,
) -> Result<BookingResponse, LotteryError> {
    let win = lottery_win::Entity::find_by_id(win_id)
        .one(db)
        .await?
        .ok_or(LotteryError::NotFound("win"))?;
    let application = lottery_application::Entity::find_by_id(win.application_id)
        .one(db)
        .await?
        .filter(|a| a.user_id == user_id)
        .ok_or(LotteryError::NotFound("win"))?;
    let round = find_round(db, win.round_id).await?;
    if win.state == WinState::Confirmed.code()
        && let Some(booking_id) = win.booking_id
    {
        return Ok(bookings::get_booking(db, user_id, booking_id).await?);
    }
    if win.state != WinState::Won.code() {
        return Err(LotteryError::WinNotConfirmable(win.state));
    }
    if now >= round.confirm_by {
        return Err(LotteryError::WinNotConfirmable(format!(
            "past the deadline {}",
            fmt(round.confirm_by)
        )));
    }
    let slot = slot::Entity::find_by_id(win.slot_id)
        .one(db)
        .await?
        .ok_or(LotteryError::NotFound("slot"))?;
    let request = CreateBookingRequest {
        room_id: slot.room_id,
        slot_ids: vec![slot.id],
        purpose: application.purpose.clone(),
        attendees: application.attendees,
        group_id: application.group_id,
        purpose_kind: None,
        equipment: Vec::new(),
    };
    // The key makes a retry after a failure between the two steps find the first booking.
    let key = format!("lottery-win-{win_id}");
    let (booking, _) = bookings::create_booking(db, rules, user_id, &key, &request, now).await?;
    let txn = begin_write(db).await?;
    lottery_win::Entity::update_many()
        .col_expr(
            lottery_win::Column::State,
            Expr::value(WinState::Confirmed.code()),
        )
        .col_expr(lottery_win::Column::BookingId, Expr::value(booking.id))
        .col_expr(lottery_win::Column::DecidedAt, Expr::value(now))
        .filter(lottery_win::Column::Id.eq(win_id))
        .filter(lottery_win::Column::State.eq(WinState::Won.code()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(booking)
}

/// Lapse the unconfirmed wins of every drawn round whose deadline has passed, and mark those
/// rounds settled. Returns how many wins lapsed. One transaction per round.
pub async fn settle_due(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let due: Vec<i32> = lottery_round::Entity::find()
        .select_only()
        .column(lottery_round::Column::Id)
        .filter(lottery_round::Column::State.eq(RoundState::Drawn.code()))
        .filter(lottery_round::Column::ConfirmBy.lte(now))
        .into_tuple()
        .all(db)
        .await?;
    let mut lapsed = 0;
    for round_id in due {
        let txn = begin_write(db).await?;
        let moved = lottery_round::Entity::update_many()
            .col_expr(
                lottery_round::Column::State,
                Expr::value(RoundState::Settled.code()),
            )
            .filter(lottery_round::Column::Id.eq(round_id))
            .filter(lottery_round::Column::State.eq(RoundState::Drawn.code()))
            .exec(&txn)
            .await?
            .rows_affected;
        if moved == 1 {
            lapsed += lottery_win::Entity::update_many()
                .col_expr(
                    lottery_win::Column::State,
                    Expr::value(WinState::Lapsed.code()),
                )
                .col_expr(lottery_win::Column::DecidedAt, Expr::value(now))
                .filter(lottery_win::Column::RoundId.eq(round_id))
                .filter(lottery_win::Column::State.eq(WinState::Won.code()))
                .exec(&txn)
                .await?
                .rows_affected;
        }
        txn.commit().await?;
    }
    Ok(lapsed)
}

/// What the background job does each minute: draw the rounds whose draw time has come, and
/// settle those past their confirmation deadline. Returns (rounds drawn, wins lapsed).
pub async fn run_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<(u64, u64), LotteryError> {
    let due: Vec<i32> = lottery_round::Entity::find()
        .select_only()
        .column(lottery_round::Column::Id)
        .filter(lottery_round::Column::State.eq(RoundState::Scheduled.code()))
        .filter(lottery_round::Column::DrawAt.lte(now))
        .order_by_asc(lottery_round::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut drawn = 0;
    for round_id in due {
        match draw_round(db, None, round_id, now).await {
            Ok(_) => drawn += 1,
            // Another instance (or an admin) drew it first.
            Err(LotteryError::AlreadyDrawn) => {}
            Err(other) => return Err(other),
        }
    }
    let lapsed = settle_due(db, now).await?;
    Ok((drawn, lapsed))
}

// ---------------------------------------------------------------------------------------------
// How the lottery holds first-come back (availability, bookings)
// ---------------------------------------------------------------------------------------------

/// (room, first day of month) pairs that a round holds for the lottery at `now`: the round
/// covers the room and its first-come opening is still ahead. `services::availability` shows
/// such slots as `lottery`.
pub async fn months_held(
    db: &impl ConnectionTrait,
    room_ids: &[i32],
    now: DateTime<Utc>,
) -> Result<HashSet<(i32, NaiveDate)>, DbErr> {
    let covering = lottery_round_room::Entity::find()
        .filter(lottery_round_room::Column::RoomId.is_in(room_ids.to_vec()))
        .all(db)
        .await?;
    if covering.is_empty() {
        return Ok(HashSet::new());
    }
    let months: HashMap<i32, NaiveDate> = lottery_round::Entity::find()
        .filter(
            lottery_round::Column::Id
                .is_in(covering.iter().map(|c| c.round_id).collect::<Vec<_>>()),
        )
        .filter(lottery_round::Column::FirstComeOpensAt.gt(now))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r.month_of_use))
        .collect();
    Ok(covering
        .iter()
        .filter_map(|c| months.get(&c.round_id).map(|m| (c.room_id, *m)))
        .collect())
}

/// What the lottery says about a first-come booking of `slot_ids` in `room_id` on
/// `service_date` (`services::bookings` asks before its phase check).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LotteryGate {
    /// The latest first-come opening of a round covering the room and month, if any.
    pub first_come_opens_at: Option<DateTime<Utc>>,
    /// The booking confirms the person's (or their group's) unconfirmed win of exactly this
    /// slot before the deadline: it may be made while the round holds first-come back.
    pub confirms_win: bool,
}

/// See [`LotteryGate`].
pub async fn gate(
    db: &impl ConnectionTrait,
    user_id: i32,
    group_id: Option<i32>,
    room_id: i32,
    slot_ids: &[i64],
    service_date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<LotteryGate, DbErr> {
    let rounds_of_room = Query::select()
        .column(lottery_round_room::Column::RoundId)
        .from(lottery_round_room::Entity)
        .and_where(lottery_round_room::Column::RoomId.eq(room_id))
        .to_owned();
    let rounds = lottery_round::Entity::find()
        .filter(lottery_round::Column::Id.in_subquery(rounds_of_room))
        .filter(lottery_round::Column::MonthOfUse.eq(first_of_month(service_date)))
        .all(db)
        .await?;
    let Some(opens) = rounds.iter().map(|r| r.first_come_opens_at).max() else {
        return Ok(LotteryGate::default());
    };
    let mut gate = LotteryGate {
        first_come_opens_at: Some(opens),
        confirms_win: false,
    };
    let [slot_id] = slot_ids else {
        return Ok(gate);
    };
    let confirmable: Vec<i32> = rounds
        .iter()
        .filter(|r| r.state == RoundState::Drawn.code() && now < r.confirm_by)
        .map(|r| r.id)
        .collect();
    if confirmable.is_empty() {
        return Ok(gate);
    }
    let wins = lottery_win::Entity::find()
        .filter(lottery_win::Column::RoundId.is_in(confirmable))
        .filter(lottery_win::Column::SlotId.eq(*slot_id))
        .filter(lottery_win::Column::State.eq(WinState::Won.code()))
        .all(db)
        .await?;
    for win in wins {
        if let Some(application) = lottery_application::Entity::find_by_id(win.application_id)
            .one(db)
            .await?
            && application.user_id == user_id
            && application.group_id == group_id
        {
            gate.confirms_win = true;
        }
    }
    Ok(gate)
}

// ---------------------------------------------------------------------------------------------
// `yoyaku lottery verify FILE`
// ---------------------------------------------------------------------------------------------

/// Read a published results file and re-run its draw: a one-line summary when the winners follow
/// from the inputs, otherwise the file and the first difference.
pub fn verify_file(path: &std::path::Path) -> Result<String, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let results: PublishedResults =
        serde_json::from_str(&text).map_err(|e| format!("{shown}: not a results file: {e}"))?;
    lottery::verify(&results).map_err(|difference| format!("{shown}: {difference}"))?;
    Ok(format!(
        "{shown}: round {} verified: {} applications, {} winners follow from seed {} (commitment {})",
        results.round_id,
        results.applications.len(),
        results.winners.len(),
        results.seed,
        results.commitment
    ))
}

// ---------------------------------------------------------------------------------------------
// Demo mode
// ---------------------------------------------------------------------------------------------

/// Demo mode, on an empty database: one round taking applications (the month after next) and
/// one already drawn (next month, winners confirming now), in which the demo resident applied,
/// so a new user sees both. Every lottery room of the city is in both.
pub async fn seed_demo(
    db: &DatabaseConnection,
    rules: &LotteryRules,
    booking: &BookingRules,
    now: DateTime<Utc>,
) -> Result<(), LotteryError> {
    let rooms = room::Entity::find()
        .filter(room::Column::UsesLottery.eq(true))
        .order_by_asc(room::Column::Id)
        .all(db)
        .await?;
    let Some(first_room) = rooms.iter().find(|r| !r.requires_group).cloned() else {
        return Ok(());
    };
    let room_ids: Vec<i32> = rooms.iter().map(|r| r.id).collect();
    let day = chrono::Duration::days(1);
    let month_after = |months: u32| {
        first_of_month(tokyo_date(now))
            .checked_add_months(chrono::Months::new(months))
            .unwrap_or_else(|| tokyo_date(now))
    };
    let round =
        |name: &str, month: NaiveDate, opens: DateTime<Utc>, closes, draw_at, confirm_by| {
            let first_come = booking.window.opens_at(month, Residency::Resident);
            NewRound {
                name: name.to_owned(),
                times: RoundTimes {
                    month_of_use: month,
                    applications_open_at: opens,
                    applications_close_at: closes,
                    draw_at,
                    confirm_by,
                    first_come_opens_at: first_come.max(confirm_by),
                },
                room_ids: room_ids.clone(),
                max_wishes: rules.max_wishes as i16,
                max_wins_per_applicant: rules.max_wins_per_applicant as i16,
            }
        };
    let later = month_after(2);
    insert_round(
        db,
        round(
            "デモ 抽選（受付中）",
            later,
            now - day,
            now + day * 5,
            now + day * 6,
            now + day * 8,
        ),
        now,
    )
    .await?;

    // The drawn round: applications taken in the past, drawn, confirming until two days on.
    let next = month_after(1);
    let applied_at = now - day * 15;
    let drawn = insert_round(
        db,
        round(
            "デモ 抽選（抽選済み）",
            next,
            now - day * 20,
            now - day * 10,
            now - day * 9,
            now + day * 2,
        ),
        applied_at,
    )
    .await?;
    let use_day = next + chrono::Duration::days(9);
    crate::services::slots::generate(db, use_day, use_day, Some(first_room.facility_id)).await?;
    let slots: Vec<i64> = slot::Entity::find()
        .filter(slot::Column::RoomId.eq(first_room.id))
        .filter(slot::Column::ServiceDate.eq(use_day))
        .filter(slot::Column::Status.eq("open"))
        .order_by_asc(slot::Column::StartsAt)
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    if slots.is_empty() {
        return Ok(());
    }
    let residents = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Resident.code()))
        .filter(user::Column::RegistrationState.eq(RegistrationState::Approved.code()))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?;
    for (index, person) in residents.iter().enumerate() {
        // Everyone wants the first slot; some also the next ones.
        let wishes: Vec<i64> = slots.iter().skip(index % 2).take(2).copied().collect();
        let mut wishes = wishes;
        if !wishes.contains(&slots[0]) {
            wishes.insert(0, slots[0]);
        }
        let request = ApplyRequest {
            wishes,
            purpose: "デモ練習".to_owned(),
            attendees: 10,
            group_id: None,
        };
        // A demo account that may not apply (e.g. one kept expired to show renewal) sits out.
        if let Err(error) = apply(
            db,
            rules,
            (person.id, Role::Resident),
            drawn.id,
            &request,
            applied_at,
        )
        .await
        {
            tracing::info!(user.id = person.id, reason = %error, "demo lottery: not applied");
        }
    }
    draw_round(db, None, drawn.id, now).await?;
    Ok(())
}
