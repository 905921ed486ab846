//! Check-in at the venue (受付): a scanned card token or a typed card number, at a facility the
//! staff member is assigned to, checks in the holder's bookings there whose check-in window is
//! open (`domain::checkin`), and answers with the holder and their bookings that day.
//!
//! - Authorisation first: staff and managers only at facilities in `staff_assignments`,
//!   administrators everywhere, residents never.
//! - The card: the token's signature against the published keys and its dates at the scan time
//!   (`card_keys::verify`); the card must exist with the token's serial and not have been revoked
//!   before the scan; the holder's registration must be approved and current on the scan's date.
//! - The write: one transaction records the scan (`checkin_scans`, unique `client_id`) and, per
//!   booking, a conditional UPDATE of its state with the `checked_in` transition, the
//!   `booking_checkins` row (its key is the booking: one check-in per booking, whatever races)
//!   and the booking's history row. A second scan changes nothing and answers "already checked
//!   in at HH:MM".
//! - Offline scanners send their queue to [`sync`]: each scan with its own `client_id` and
//!   `scanned_at`, judged at the time it was made, each in its own transaction; a scan whose
//!   `client_id` is known answers `duplicate` and changes nothing, so a resent batch is harmless.
//!   A refused offline scan is recorded too (result `refused`), so resending it is a duplicate.
//!   A scan made in a booking's check-in window but synced after the no-show job marked it
//!   checks it in all the same (`checked_in_late`): the booking gets its slot claims back and
//!   its penalty is voided (and the suspension recomputed) in the same transaction.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    SqlErr,
};

use crate::db::begin_write;
use crate::domain::booking::{BookingEvent, BookingState, transition};
use crate::domain::calendar::{tokyo, tokyo_date};
use crate::domain::card::is_valid_card_number;
use crate::domain::checkin::{
    BookingAction, BookingAtScan, CheckinRules, ScanResult, checkin_event, decide,
};
use crate::domain::penalties::PenaltyRules;
use crate::domain::roles::Role;
use crate::entities::{
    booking, booking_checkin, booking_event, card, checkin_scan, facility, room, staff_assignment,
    user,
};
use crate::services::card_keys::{self, TokenRefusal, VerifyError};
use crate::services::cards::registration_current;
use crate::services::penalties;
use crate::views::cards::{
    CardHolder, CheckinBooking, CheckinResponse, OfflineScan, SyncError, SyncOutcome, SyncResponse,
};

/// At most this many scans in one sync request.
pub const MAX_SYNC_ITEMS: usize = 200;
/// The longest `client_id`.
pub const MAX_CLIENT_ID: usize = 64;

/// Why a scan was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckinError {
    #[error("only staff assigned to this facility (or an administrator) may check people in here")]
    Forbidden,
    #[error("facility not found")]
    FacilityNotFound,
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Token(#[from] TokenRefusal),
    #[error("no card has this number; check the digits")]
    UnknownCardNumber,
    #[error("this card is not known here")]
    UnknownCard,
    #[error("this card is no longer valid ({0}); the holder should open their card page online")]
    CardReplaced(&'static str),
    #[error("this card was {0} and cannot be used")]
    CardRevoked(&'static str),
    #[error("{0}")]
    RegistrationNotCurrent(&'static str),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<VerifyError> for CheckinError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Refused(refusal) => CheckinError::Token(refusal),
            VerifyError::Db(db) => CheckinError::Db(db),
        }
    }
}

impl CheckinError {
    /// The stable code of a refusal of the card (used for offline outcomes; the HTTP layer maps
    /// the same codes).
    pub fn code(&self) -> &'static str {
        match self {
            CheckinError::Forbidden => "forbidden",
            CheckinError::FacilityNotFound => "not_found",
            CheckinError::Invalid { .. } => "invalid_input",
            CheckinError::Token(TokenRefusal::Malformed | TokenRefusal::BadSignature) => {
                "card_token_invalid"
            }
            CheckinError::Token(TokenRefusal::UnknownKey) => "card_unknown_key",
            CheckinError::Token(TokenRefusal::Expired(_) | TokenRefusal::NotYetValid) => {
                "card_token_expired"
            }
            CheckinError::UnknownCardNumber | CheckinError::UnknownCard => "card_not_found",
            CheckinError::CardReplaced(_) | CheckinError::CardRevoked(_) => "card_revoked",
            CheckinError::RegistrationNotCurrent(_) => "registration_not_current",
            CheckinError::Db(_) => "internal",
        }
    }

    /// Whether this is a refusal of the card itself (recorded for offline scans), rather than of
    /// the request.
    fn is_card_refusal(&self) -> bool {
        !matches!(
            self,
            CheckinError::Forbidden
                | CheckinError::FacilityNotFound
                | CheckinError::Invalid { .. }
                | CheckinError::Db(_)
        )
    }
}

fn invalid(field: &str, message: impl Into<String>) -> CheckinError {
    CheckinError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Who is scanning.
#[derive(Clone, Copy, Debug)]
pub struct Scanner {
    pub user_id: i32,
    pub role: Role,
}

/// One scan to record.
#[derive(Clone, Debug)]
pub struct Scan {
    pub facility_id: i32,
    pub token: Option<String>,
    pub card_number: Option<String>,
    pub client_id: Option<String>,
    /// When the card was scanned (now, online).
    pub scanned_at: DateTime<Utc>,
}

/// The rules a check-in needs.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    pub checkin: &'a CheckinRules,
    pub penalties: &'a PenaltyRules,
}

/// Staff and managers act at the facilities they are assigned to; administrators everywhere.
async fn ensure_assigned(
    db: &impl ConnectionTrait,
    scanner: Scanner,
    facility_id: i32,
) -> Result<(), CheckinError> {
    match scanner.role {
        Role::Resident => Err(CheckinError::Forbidden),
        Role::Admin => {
            if facility::Entity::find_by_id(facility_id)
                .one(db)
                .await?
                .is_none()
            {
                return Err(CheckinError::FacilityNotFound);
            }
            Ok(())
        }
        Role::Staff | Role::Manager => {
            let assigned = staff_assignment::Entity::find_by_id((scanner.user_id, facility_id))
                .one(db)
                .await?
                .is_some();
            if assigned {
                Ok(())
            } else {
                Err(CheckinError::Forbidden)
            }
        }
    }
}

/// The facilities `scanner` may check people in at, by name: their assignments, or every
/// facility for an administrator, none for a resident.
pub async fn scanner_facilities(
    db: &impl ConnectionTrait,
    scanner: Scanner,
) -> Result<Vec<facility::Model>, DbErr> {
    let query = facility::Entity::find().order_by_asc(facility::Column::Id);
    match scanner.role {
        Role::Resident => Ok(Vec::new()),
        Role::Admin => query.all(db).await,
        Role::Staff | Role::Manager => {
            let ids: Vec<i32> = staff_assignment::Entity::find()
                .filter(staff_assignment::Column::UserId.eq(scanner.user_id))
                .all(db)
                .await?
                .into_iter()
                .map(|a| a.facility_id)
                .collect();
            query.filter(facility::Column::Id.is_in(ids)).all(db).await
        }
    }
}

fn check_client_id(field: &str, client_id: Option<&str>) -> Result<(), CheckinError> {
    if let Some(id) = client_id {
        let ok = !id.is_empty()
            && id.len() <= MAX_CLIENT_ID
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !ok {
            return Err(invalid(
                field,
                "1–64 characters: letters, digits, '-', '_', '.', ':'",
            ));
        }
    }
    Ok(())
}

/// The card and holder a scan names.
struct Identified {
    card_id: Option<i64>,
    holder: user::Model,
    method: &'static str,
}

async fn identify(
    db: &impl ConnectionTrait,
    rules: &CheckinRules,
    scan: &Scan,
) -> Result<Identified, CheckinError> {
    let token = scan
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let number = scan
        .card_number
        .as_deref()
        .map(|n| n.trim().replace(['-', ' '], ""))
        .filter(|n| !n.is_empty());
    let identified = match (token, number) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(invalid(
                "token",
                "send either the scanned `token` or a typed `card_number`, not both",
            ));
        }
        (Some(token), None) => {
            let claims = card_keys::verify(db, rules, token, scan.scanned_at).await?;
            let card = card::Entity::find_by_id(claims.cid)
                .one(db)
                .await?
                .ok_or(CheckinError::UnknownCard)?;
            if card.serial != claims.v {
                return Err(CheckinError::CardReplaced("a newer card was issued"));
            }
            if let Some(revoked_at) = card.revoked_at
                && revoked_at <= scan.scanned_at
            {
                let why = match card.revoked_reason.as_deref() {
                    Some("suspended") => "suspended",
                    Some("registration_ended") => "revoked because the registration ended",
                    _ => "revoked",
                };
                return Err(CheckinError::CardRevoked(why));
            }
            let holder = user::Entity::find_by_id(card.user_id)
                .one(db)
                .await?
                .ok_or(CheckinError::UnknownCard)?;
            Identified {
                card_id: Some(card.id),
                holder,
                method: "qr",
            }
        }
        (None, Some(number)) => {
            if !is_valid_card_number(&number) {
                return Err(invalid(
                    "card_number",
                    "ten digits whose last is the check digit; check the number typed",
                ));
            }
            let holder = user::Entity::find()
                .filter(user::Column::CardNumber.eq(number))
                .one(db)
                .await?
                .ok_or(CheckinError::UnknownCardNumber)?;
            // A person whose card staff suspended is refused at the counter too.
            let suspended = card::Entity::find()
                .filter(card::Column::UserId.eq(holder.id))
                .filter(card::Column::RevokedReason.eq("suspended"))
                .filter(card::Column::RevokedAt.lte(scan.scanned_at))
                .order_by_desc(card::Column::Serial)
                .one(db)
                .await?;
            let current = card::Entity::find()
                .filter(card::Column::UserId.eq(holder.id))
                .filter(card::Column::RevokedAt.is_null())
                .one(db)
                .await?;
            if let (Some(_), None) = (&suspended, &current) {
                return Err(CheckinError::CardRevoked("suspended"));
            }
            Identified {
                card_id: current.map(|c| c.id),
                holder,
                method: "manual",
            }
        }
    };
    registration_current(&identified.holder, scan.scanned_at)
        .map_err(CheckinError::RegistrationNotCurrent)?;
    Ok(identified)
}

/// The holder's bookings at the facility on the scan's day, with their check-in times.
async fn bookings_at(
    db: &impl ConnectionTrait,
    holder_id: i32,
    facility_id: i32,
    at: DateTime<Utc>,
) -> Result<Vec<(booking::Model, room::Model, Option<booking_checkin::Model>)>, DbErr> {
    let rooms = room::Entity::find()
        .filter(room::Column::FacilityId.eq(facility_id))
        .all(db)
        .await?;
    let room_ids: Vec<i32> = rooms.iter().map(|r| r.id).collect();
    let states = [
        BookingState::AwaitingPayment,
        BookingState::Confirmed,
        BookingState::CheckedIn,
        BookingState::NoShow,
    ]
    .map(|s| s.code());
    let bookings = booking::Entity::find()
        .filter(booking::Column::UserId.eq(holder_id))
        .filter(booking::Column::RoomId.is_in(room_ids))
        .filter(booking::Column::ServiceDate.eq(tokyo_date(at)))
        .filter(booking::Column::State.is_in(states))
        .order_by_asc(booking::Column::StartsAt)
        .order_by_asc(booking::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<i64> = bookings.iter().map(|b| b.id).collect();
    let checkins = booking_checkin::Entity::find()
        .filter(booking_checkin::Column::BookingId.is_in(ids))
        .all(db)
        .await?;
    Ok(bookings
        .into_iter()
        .filter_map(|b| {
            let room = rooms.iter().find(|r| r.id == b.room_id)?.clone();
            let checkin = checkins.iter().find(|c| c.booking_id == b.id).cloned();
            Some((b, room, checkin))
        })
        .collect())
}

fn to_scan(
    rows: &[(booking::Model, room::Model, Option<booking_checkin::Model>)],
) -> Vec<BookingAtScan> {
    rows.iter()
        .filter_map(|(b, _, c)| {
            Some(BookingAtScan {
                id: b.id,
                state: b.state.parse().ok()?,
                starts_at: b.starts_at,
                ends_at: b.ends_at,
                checked_in_at: c.as_ref().map(|c| c.checked_in_at),
            })
        })
        .collect()
}

fn hh_mm(at: DateTime<Utc>) -> String {
    at.with_timezone(&tokyo()).format("%H:%M").to_string()
}

/// Check a card in at a facility (the online scanner and manual entry).
pub async fn check_in(
    db: &DatabaseConnection,
    rules: Rules<'_>,
    scanner: Scanner,
    scan: Scan,
    now: DateTime<Utc>,
) -> Result<CheckinResponse, CheckinError> {
    check_client_id("client_id", scan.client_id.as_deref())?;
    ensure_assigned(db, scanner, scan.facility_id).await?;
    if let Some(previous) = known_scan(db, scan.client_id.as_deref()).await? {
        return replay(db, rules, previous).await;
    }
    let identified = identify(db, rules.checkin, &scan).await?;
    match record(db, rules, scanner, &scan, &identified, now).await? {
        Recorded::New(scan_id, checked_in) => {
            respond(db, rules, scan_id, &identified, &scan, checked_in, false).await
        }
        Recorded::Duplicate(previous) => replay(db, rules, previous).await,
    }
}

async fn known_scan(
    db: &impl ConnectionTrait,
    client_id: Option<&str>,
) -> Result<Option<checkin_scan::Model>, DbErr> {
    match client_id {
        Some(id) => {
            checkin_scan::Entity::find()
                .filter(checkin_scan::Column::ClientId.eq(id))
                .one(db)
                .await
        }
        None => Ok(None),
    }
}

enum Recorded {
    /// The scan's id and the bookings it checked in.
    New(i64, Vec<i64>),
    /// Another request recorded a scan with this `client_id` first.
    Duplicate(checkin_scan::Model),
}

/// Record a scan of an identified holder and check in what its window allows, in one write
/// transaction.
async fn record(
    db: &DatabaseConnection,
    rules: Rules<'_>,
    scanner: Scanner,
    scan: &Scan,
    identified: &Identified,
    now: DateTime<Utc>,
) -> Result<Recorded, CheckinError> {
    let txn = begin_write(db).await?;
    let rows = bookings_at(
        &txn,
        identified.holder.id,
        scan.facility_id,
        scan.scanned_at,
    )
    .await?;
    let decision = decide(scan.scanned_at, &to_scan(&rows), rules.checkin);
    let inserted = checkin_scan::Entity::insert(checkin_scan::ActiveModel {
        id: NotSet,
        client_id: Set(scan.client_id.clone()),
        staff_user_id: Set(scanner.user_id),
        facility_id: Set(scan.facility_id),
        holder_user_id: Set(Some(identified.holder.id)),
        card_id: Set(identified.card_id),
        method: Set(identified.method.to_owned()),
        result: Set(decision.result.code().to_owned()),
        refusal_code: Set(None),
        scanned_at: Set(scan.scanned_at),
        recorded_at: Set(now),
    })
    .exec(&txn)
    .await;
    let scan_id = match inserted {
        Ok(done) => done.last_insert_id,
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            // A concurrent resend of the same scan won; answer what it recorded.
            txn.rollback().await?;
            let previous = known_scan(db, scan.client_id.as_deref())
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("scan".into()))?;
            return Ok(Recorded::Duplicate(previous));
        }
        Err(e) => return Err(e.into()),
    };
    let mut checked_in = Vec::new();
    for (id, action) in &decision.actions {
        if *action != BookingAction::CheckIn {
            continue;
        }
        let Some((b, _, _)) = rows.iter().find(|(b, _, _)| b.id == *id) else {
            continue;
        };
        let Ok(from) = b.state.parse::<BookingState>() else {
            continue;
        };
        let Some(event) = checkin_event(from) else {
            continue;
        };
        let Ok(to) = transition(from, event) else {
            continue;
        };
        let changed = booking::Entity::update_many()
            .col_expr(booking::Column::State, Expr::value(to.code()))
            .filter(booking::Column::Id.eq(*id))
            .filter(booking::Column::State.eq(from.code()))
            .exec(&txn)
            .await?
            .rows_affected;
        if changed != 1 {
            // Changed since it was read (the no-show job, or another scan): not this scan's.
            continue;
        }
        if event == BookingEvent::CheckedInLate {
            // The no-show job got there first; the scan proves the booker came. The booking
            // holds its (past) slots again and its penalty is withdrawn.
            restore_claims(&txn, *id).await?;
            penalties::void_for_booking(
                &txn,
                *id,
                "checked in: an offline scan made in time was synced after the no-show was marked",
                rules.penalties,
                now,
            )
            .await?;
        }
        booking_checkin::Entity::insert(booking_checkin::ActiveModel {
            booking_id: Set(*id),
            scan_id: Set(scan_id),
            checked_in_at: Set(scan.scanned_at),
            recorded_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(booking_checkin::Column::BookingId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let reason = match (identified.method, event) {
            (_, BookingEvent::CheckedInLate) => {
                "checked in at the facility by an offline scan synced after the no-show was marked"
            }
            ("manual", _) => "checked in at the facility (card number typed)",
            _ => "checked in at the facility (card scanned)",
        };
        booking_event::Entity::insert(booking_event::ActiveModel {
            id: NotSet,
            booking_id: Set(*id),
            at: Set(now),
            actor_user_id: Set(Some(scanner.user_id)),
            from_state: Set(Some(from.code().to_owned())),
            to_state: Set(to.code().to_owned()),
            reason: Set(reason.to_owned()),
        })
        .exec_without_returning(&txn)
        .await?;
        checked_in.push(*id);
    }
    txn.commit().await?;
    Ok(Recorded::New(scan_id, checked_in))
}

/// Give a booking back its slot claims (the no-show job removed them): every unit its room
/// covers at every slot it booked. The slots are past, so nobody else can hold them.
async fn restore_claims(txn: &impl ConnectionTrait, booking_id: i64) -> Result<(), DbErr> {
    // The WHERE before ON CONFLICT keeps SQLite's parser from reading it as a join constraint.
    txn.execute_unprepared(&format!(
        "INSERT INTO slot_claims (unit_id, starts_at, booking_id, slot_id) \
         SELECT cov.unit_id, s.starts_at, b.id, s.id FROM bookings b \
         JOIN booking_slots bs ON bs.booking_id = b.id \
         JOIN slots s ON s.id = bs.slot_id \
         JOIN room_unit_coverage cov ON cov.room_id = b.room_id \
         WHERE b.id = {booking_id} \
         ON CONFLICT DO NOTHING"
    ))
    .await?;
    Ok(())
}

/// Answer a scan recorded earlier with the same `client_id`: its result as first recorded, with
/// the bookings as they are now.
async fn replay(
    db: &impl ConnectionTrait,
    rules: Rules<'_>,
    previous: checkin_scan::Model,
) -> Result<CheckinResponse, CheckinError> {
    let holder_id = previous.holder_user_id.ok_or(CheckinError::UnknownCard)?;
    let holder = user::Entity::find_by_id(holder_id)
        .one(db)
        .await?
        .ok_or(CheckinError::UnknownCard)?;
    let checked_in: Vec<i64> = booking_checkin::Entity::find()
        .filter(booking_checkin::Column::ScanId.eq(previous.id))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.booking_id)
        .collect();
    let identified = Identified {
        card_id: previous.card_id,
        holder,
        method: "qr",
    };
    let scan = Scan {
        facility_id: previous.facility_id,
        token: None,
        card_number: None,
        client_id: previous.client_id.clone(),
        scanned_at: previous.scanned_at,
    };
    let mut response =
        respond(db, rules, previous.id, &identified, &scan, checked_in, true).await?;
    if let Some(result) = ScanResult::from_code(&previous.result) {
        response.result = result;
    }
    Ok(response)
}

async fn respond(
    db: &impl ConnectionTrait,
    rules: Rules<'_>,
    _scan_id: i64,
    identified: &Identified,
    scan: &Scan,
    checked_in: Vec<i64>,
    replayed: bool,
) -> Result<CheckinResponse, CheckinError> {
    let rows = bookings_at(db, identified.holder.id, scan.facility_id, scan.scanned_at).await?;
    // What the scan decided, judged as before the check-ins it made.
    let mut before = to_scan(&rows);
    for b in &mut before {
        if checked_in.contains(&b.id) {
            b.checked_in_at = None;
            b.state = BookingState::Confirmed;
        }
    }
    let decision = decide(scan.scanned_at, &before, rules.checkin);
    let result = if checked_in.is_empty() && decision.result == ScanResult::CheckedIn {
        // Another scan checked them in between our read and our write.
        ScanResult::AlreadyCheckedIn
    } else {
        decision.result
    };
    let already = decision.already_at.or_else(|| {
        rows.iter()
            .filter_map(|(_, _, c)| c.as_ref().map(|c| c.checked_in_at))
            .max()
    });
    let message = match result {
        ScanResult::CheckedIn => "checked in".to_owned(),
        ScanResult::AlreadyCheckedIn => match already {
            Some(at) => format!("already checked in at {}", hh_mm(at)),
            None => "already checked in".to_owned(),
        },
        ScanResult::PaymentDue => {
            "the booking is not paid yet: take a counter payment, then scan again".to_owned()
        }
        ScanResult::NotYet => match decision.opens_at {
            Some(at) => format!("check-in opens at {}", hh_mm(at)),
            None => "check-in has not opened yet".to_owned(),
        },
        ScanResult::NoBooking => "no booking here today".to_owned(),
        ScanResult::Refused => "refused".to_owned(),
    };
    let bookings = rows
        .iter()
        .map(|(b, r, c)| {
            let action = decision
                .actions
                .iter()
                .find(|(id, _)| *id == b.id)
                .map_or(BookingAction::Nothing, |(_, a)| *a);
            CheckinBooking {
                id: b.id,
                room_id: r.id,
                room_name: r.name.clone(),
                room_name_en: r.name_en.clone(),
                starts_at: b.starts_at.with_timezone(&tokyo()),
                ends_at: b.ends_at.with_timezone(&tokyo()),
                state: b.state.parse().unwrap_or(BookingState::Confirmed),
                checked_in_at: c.as_ref().map(|c| c.checked_in_at.with_timezone(&tokyo())),
                action,
            }
        })
        .collect();
    Ok(CheckinResponse {
        result,
        message,
        already_checked_in_at: (result == ScanResult::AlreadyCheckedIn)
            .then_some(already)
            .flatten()
            .map(hh_mm),
        opens_at: decision.opens_at.map(|t| t.with_timezone(&tokyo())),
        holder: CardHolder {
            user_id: identified.holder.id,
            name: identified.holder.display_name.clone(),
            name_kana: identified.holder.name_kana.clone(),
            card_number: identified.holder.card_number.clone(),
        },
        card_id: identified.card_id,
        bookings,
        checked_in_booking_ids: checked_in,
        replayed,
    })
}

/// Record the scans an offline scanner queued. Each is judged at its `scanned_at` and recorded
/// in its own transaction; a known `client_id` is a `duplicate` and changes nothing.
pub async fn sync(
    db: &DatabaseConnection,
    rules: Rules<'_>,
    scanner: Scanner,
    items: Vec<OfflineScan>,
    now: DateTime<Utc>,
) -> Result<SyncResponse, CheckinError> {
    if items.len() > MAX_SYNC_ITEMS {
        return Err(invalid(
            "items",
            format!("at most {MAX_SYNC_ITEMS} scans per request; send the rest in another"),
        ));
    }
    if scanner.role == Role::Resident {
        return Err(CheckinError::Forbidden);
    }
    for (i, item) in items.iter().enumerate() {
        check_client_id(&format!("items[{i}].client_id"), Some(&item.client_id))?;
    }
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        outcomes.push(sync_one(db, rules, scanner, item, now).await?);
    }
    Ok(SyncResponse { items: outcomes })
}

async fn sync_one(
    db: &DatabaseConnection,
    rules: Rules<'_>,
    scanner: Scanner,
    item: OfflineScan,
    now: DateTime<Utc>,
) -> Result<SyncOutcome, CheckinError> {
    let refused = |client_id: String, error: &CheckinError| SyncOutcome {
        client_id,
        status: "refused",
        result: Some(ScanResult::Refused),
        checked_in_booking_ids: Vec::new(),
        error: Some(SyncError {
            code: error.code().to_owned(),
            message: error.to_string(),
        }),
    };
    if let Some(previous) = known_scan(db, Some(&item.client_id)).await? {
        let ids = booking_checkin::Entity::find()
            .filter(booking_checkin::Column::ScanId.eq(previous.id))
            .all(db)
            .await?
            .into_iter()
            .map(|c| c.booking_id)
            .collect();
        return Ok(SyncOutcome {
            client_id: item.client_id,
            status: "duplicate",
            result: ScanResult::from_code(&previous.result),
            checked_in_booking_ids: ids,
            error: None,
        });
    }
    if let Err(error) = ensure_assigned(db, scanner, item.facility_id).await {
        if matches!(error, CheckinError::Db(_)) {
            return Err(error);
        }
        return Ok(refused(item.client_id, &error));
    }
    let scanned_at = item.scanned_at.with_timezone(&Utc);
    let leeway = Duration::seconds(i64::from(rules.checkin.token_leeway_seconds));
    let max_age = Duration::hours(i64::from(rules.checkin.offline_scan_max_age_hours));
    if scanned_at > now + leeway || scanned_at < now - max_age {
        let error = invalid(
            "scanned_at",
            format!(
                "a scan must be from the last {} hours and not in the future; check the scanner's clock",
                rules.checkin.offline_scan_max_age_hours
            ),
        );
        return Ok(refused(item.client_id, &error));
    }
    let scan = Scan {
        facility_id: item.facility_id,
        token: item.token,
        card_number: item.card_number,
        client_id: Some(item.client_id.clone()),
        scanned_at,
    };
    let identified = match identify(db, rules.checkin, &scan).await {
        Ok(identified) => identified,
        Err(CheckinError::Db(db_error)) => return Err(db_error.into()),
        Err(error) => {
            if error.is_card_refusal() {
                record_refusal(db, scanner, &scan, &error, now).await?;
            }
            return Ok(refused(item.client_id, &error));
        }
    };
    match record(db, rules, scanner, &scan, &identified, now).await? {
        Recorded::New(_, checked_in) => {
            let rows =
                bookings_at(db, identified.holder.id, scan.facility_id, scan.scanned_at).await?;
            let result = decide(scan.scanned_at, &to_scan(&rows), rules.checkin).result;
            let result = if checked_in.is_empty() {
                result
            } else {
                ScanResult::CheckedIn
            };
            Ok(SyncOutcome {
                client_id: item.client_id,
                status: "recorded",
                result: Some(result),
                checked_in_booking_ids: checked_in,
                error: None,
            })
        }
        Recorded::Duplicate(previous) => Ok(SyncOutcome {
            client_id: item.client_id,
            status: "duplicate",
            result: ScanResult::from_code(&previous.result),
            checked_in_booking_ids: Vec::new(),
            error: None,
        }),
    }
}

/// Keep a refused offline scan, so that sending it again is a duplicate and staff can see it.
async fn record_refusal(
    db: &DatabaseConnection,
    scanner: Scanner,
    scan: &Scan,
    error: &CheckinError,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    checkin_scan::Entity::insert(checkin_scan::ActiveModel {
        id: NotSet,
        client_id: Set(scan.client_id.clone()),
        staff_user_id: Set(scanner.user_id),
        facility_id: Set(scan.facility_id),
        holder_user_id: Set(None),
        card_id: Set(None),
        method: Set(if scan.token.is_some() { "qr" } else { "manual" }.to_owned()),
        result: Set(ScanResult::Refused.code().to_owned()),
        refusal_code: Set(Some(error.code().to_owned())),
        scanned_at: Set(scan.scanned_at),
        recorded_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(checkin_scan::Column::ClientId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await
}
