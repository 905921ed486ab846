//! A person's rights over their own data: download everything Yoyaku holds about them, and
//! delete their account.
//!
//! Deletion anonymises rather than removes the `users` row: bookings that were paid stay in the
//! city's accounts (who paid what, for which room and day), linked to a row that no longer says
//! who it was. The rule on paid bookings still to come: deletion is refused until the person
//! cancels them (which applies the refund tiers) or they have taken place, because a deleted
//! account could neither be refunded nor shown at the venue. Unpaid and free future bookings are
//! cancelled through the booking service's cancellation (slots released, history recorded).
//! Identity documents are forgotten entirely: their rows in the deletion's transaction, their
//! files once it has committed.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use crate::auth::LoginThrottle;
use crate::db::begin_write;
use crate::domain::booking::BookingState;
use crate::domain::registration::RegistrationState;
use crate::domain::roles::Role;
use crate::entities::{
    audit_log, booking, booking_event, booking_slot, facility, idempotency_key, identity_document,
    mail_outbox, payment, refresh_token, registration_reminder, room, staff_assignment, user,
};
use crate::services::document_store::DocumentStore;
use crate::services::groups::{self, GroupError};
use crate::services::{audit, bookings, documents, mail, sessions};
use crate::views::account::{
    DataExport, DeletionResponse, ExportAuditEntry, ExportBooking, ExportBookingEvent,
    ExportDocument, ExportMail, ExportProfile, ExportRegistration, ExportReminder, ExportSession,
};

/// Why an export or a deletion was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("this account has been deleted")]
    AccountDeleted,
    #[error("staff accounts are closed by an administrator, not deleted online")]
    Forbidden,
    #[error("the password is not correct")]
    PasswordIncorrect,
    #[error("too many attempts; try again later")]
    TooManyAttempts(Duration),
    #[error(
        "you have paid bookings still to come ({0:?}); cancel them first (the refund follows the cancellation rules) or wait until they have taken place"
    )]
    PaidBookingsAhead(Vec<i64>),
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The version of the export document's shape.
const EXPORT_FORMAT_VERSION: u32 = 1;

/// What a deleted account's name and free-text booking purposes become.
const REDACTED: &str = "(deleted)";

/// The reason recorded on bookings cancelled by a deletion.
const CANCEL_REASON: &str = "cancelled: the account was deleted at the person's request";

/// Everything Yoyaku holds about the person, as one document. The download itself is recorded
/// in the audit log.
pub async fn export(
    db: &DatabaseConnection,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<DataExport, AccountError> {
    let person = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(AccountError::AccountDeleted)?;
    if person.deleted_at.is_some() {
        return Err(AccountError::AccountDeleted);
    }
    let staff_facility_ids = staff_assignment::Entity::find()
        .filter(staff_assignment::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.facility_id)
        .collect();
    let bookings = export_bookings(db, user_id).await?;
    let sessions = refresh_token::Entity::find()
        .filter(refresh_token::Column::UserId.eq(user_id))
        .order_by_asc(refresh_token::Column::IssuedAt)
        .all(db)
        .await?
        .into_iter()
        // Never the token hash: it is the credential's fingerprint, not the person's data.
        .map(|t| ExportSession {
            family_id: t.family_id,
            issued_at: t.issued_at,
            expires_at: t.expires_at,
            rotated_at: t.rotated_at,
            revoked_at: t.revoked_at,
        })
        .collect();
    let mails = mail_outbox::Entity::find()
        .filter(mail_outbox::Column::ToAddress.eq(&person.email))
        .order_by_asc(mail_outbox::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|m| ExportMail {
            to: m.to_address,
            template: m.template,
            subject: m.subject,
            body: m.body,
            created_at: m.created_at,
            sent_at: m.sent_at,
        })
        .collect();
    let registration_reminders = registration_reminder::Entity::find()
        .filter(registration_reminder::Column::UserId.eq(user_id))
        .order_by_asc(registration_reminder::Column::SentAt)
        .all(db)
        .await?
        .into_iter()
        .map(|r| ExportReminder {
            valid_until: r.valid_until,
            threshold_days: r.threshold_days,
            sent_at: r.sent_at,
        })
        .collect();
    // What was uploaded for the review, without the files themselves (the person has them).
    let identity_documents = identity_document::Entity::find()
        .filter(identity_document::Column::UserId.eq(user_id))
        .order_by_asc(identity_document::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|d| ExportDocument {
            kind: d.kind,
            content_type: d.content_type,
            byte_size: d.byte_size,
            sha256: d.sha256,
            uploaded_at: d.uploaded_at,
        })
        .collect();
    let audit_log = export_audit(db, &person).await?;
    audit::record(
        db,
        user_id,
        "account.export",
        ("user", Some(i64::from(user_id))),
        json!({}),
        now,
    )
    .await?;
    Ok(DataExport {
        format_version: EXPORT_FORMAT_VERSION,
        exported_at: now,
        profile: ExportProfile {
            id: person.id,
            email: person.email,
            name: person.display_name,
            name_kana: person.name_kana,
            date_of_birth: person.date_of_birth,
            postal_code: person.postal_code,
            address: person.address,
            phone: person.phone,
            residency: person.residency,
            locale: person.locale,
            role: person.role,
            email_verified_at: person.email_verified_at,
            created_at: person.created_at,
        },
        registration: ExportRegistration {
            state: person.registration_state,
            card_number: person.card_number,
            valid_until: person.registration_valid_until,
            review_note: person.review_note,
        },
        staff_facility_ids,
        bookings,
        sessions,
        mails,
        registration_reminders,
        identity_documents,
        audit_log,
    })
}

/// The person's bookings with their slots, history, and room and facility names.
async fn export_bookings(
    db: &impl ConnectionTrait,
    user_id: i32,
) -> Result<Vec<ExportBooking>, DbErr> {
    let rows = booking::Entity::find()
        .filter(booking::Column::UserId.eq(user_id))
        .order_by_asc(booking::Column::StartsAt)
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|b| b.id).collect();
    let mut slots_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in booking_slot::Entity::find()
        .filter(booking_slot::Column::BookingId.is_in(ids.clone()))
        .all(db)
        .await?
    {
        slots_of
            .entry(row.booking_id)
            .or_default()
            .push(row.slot_id);
    }
    let mut events_of: HashMap<i64, Vec<ExportBookingEvent>> = HashMap::new();
    for e in booking_event::Entity::find()
        .filter(booking_event::Column::BookingId.is_in(ids))
        .order_by_asc(booking_event::Column::Id)
        .all(db)
        .await?
    {
        events_of
            .entry(e.booking_id)
            .or_default()
            .push(ExportBookingEvent {
                at: e.at,
                actor: actor_label(e.actor_user_id, user_id),
                from_state: e.from_state,
                to_state: e.to_state,
                reason: e.reason,
            });
    }
    let mut payments_of: HashMap<i64, Vec<crate::views::payment::PaymentView>> = HashMap::new();
    let paid = payment::Entity::find()
        .filter(payment::Column::BookingId.is_in(rows.iter().map(|b| b.id)))
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await?;
    for p in crate::services::payments::views_of(db, paid).await? {
        payments_of.entry(p.booking_id).or_default().push(p);
    }
    let room_ids: HashSet<i32> = rows.iter().map(|b| b.room_id).collect();
    let rooms: HashMap<i32, room::Model> = room::Entity::find()
        .filter(room::Column::Id.is_in(room_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let facility_ids: HashSet<i32> = rooms.values().map(|r| r.facility_id).collect();
    let facilities: HashMap<i32, String> = facility::Entity::find()
        .filter(facility::Column::Id.is_in(facility_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.id, f.name))
        .collect();
    Ok(rows
        .into_iter()
        .map(|b| {
            let room = rooms.get(&b.room_id);
            let mut slot_ids = slots_of.remove(&b.id).unwrap_or_default();
            slot_ids.sort_unstable();
            ExportBooking {
                id: b.id,
                room_id: b.room_id,
                room_name: room.map(|r| r.name.clone()),
                facility_name: room.and_then(|r| facilities.get(&r.facility_id).cloned()),
                state: b.state,
                residency: b.residency,
                purpose_kind: b.purpose_kind,
                purpose: b.purpose,
                attendees: b.attendees,
                service_date: b.service_date,
                starts_at: b.starts_at,
                ends_at: b.ends_at,
                slot_ids,
                total_yen: i64::from(b.total_yen),
                quote: b.quote,
                pay_by: b.pay_by,
                channel: b.channel,
                created_at: b.created_at,
                cancelled_at: b.cancelled_at,
                refund_yen: b.refund_yen.map(i64::from),
                events: events_of.remove(&b.id).unwrap_or_default(),
                payments: payments_of.remove(&b.id).unwrap_or_default(),
            }
        })
        .collect())
}

/// Audit entries about the person: those whose subject they are, their own recorded actions,
/// and the staff queue views that listed them. Other people never appear: a queue view keeps
/// only the state viewed, not the ids of everyone else listed, and staff are not named.
async fn export_audit(
    db: &impl ConnectionTrait,
    person: &user::Model,
) -> Result<Vec<ExportAuditEntry>, DbErr> {
    let id = person.id;
    let rows = audit_log::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(audit_log::Column::SubjectType.eq("user"))
                        .add(audit_log::Column::SubjectId.eq(i64::from(id))),
                )
                .add(audit_log::Column::ActorUserId.eq(id))
                // Queue views name everyone listed in their detail; only those since the
                // account existed can include the person, and they are filtered below.
                .add(
                    Condition::all()
                        .add(audit_log::Column::Action.eq(QUEUE_VIEW))
                        .add(audit_log::Column::At.gte(person.created_at)),
                ),
        )
        .order_by_asc(audit_log::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|entry| {
            let about_them =
                entry.subject_type == "user" && entry.subject_id == Some(i64::from(id));
            let detail = if entry.action == QUEUE_VIEW {
                if !listed(&entry.detail, id) {
                    return None;
                }
                json!({"state": entry.detail.get("state").cloned().unwrap_or(Value::Null)})
            } else if about_them {
                entry.detail
            } else {
                // The person's own action on something else (a group, a booking): its detail
                // may name others.
                Value::Null
            };
            Some(ExportAuditEntry {
                at: entry.at,
                actor: actor_label(entry.actor_user_id, id),
                action: entry.action,
                subject_type: entry.subject_type,
                subject_id: entry.subject_id,
                detail,
            })
        })
        .collect())
}

/// The audit action of a staff view of the registration queue (`services::review`).
const QUEUE_VIEW: &str = "registration.view_queue";

/// Whether a queue view's detail lists `user_id`.
fn listed(detail: &Value, user_id: i32) -> bool {
    detail
        .get("user_ids")
        .and_then(Value::as_array)
        .is_some_and(|ids| ids.iter().any(|v| v.as_i64() == Some(i64::from(user_id))))
}

fn actor_label(actor: Option<i32>, person: i32) -> &'static str {
    match actor {
        Some(a) if a == person => "self",
        Some(_) => "staff",
        None => "system",
    }
}

/// Delete the signed-in person's account, after checking their password again. See the module
/// documentation for what is kept.
pub async fn delete_account(
    db: &DatabaseConnection,
    store: &DocumentStore,
    throttle: &LoginThrottle,
    client: IpAddr,
    user_id: i32,
    password: &str,
    now: DateTime<Utc>,
) -> Result<DeletionResponse, AccountError> {
    let person = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(AccountError::AccountDeleted)?;
    if person.deleted_at.is_some() {
        return Err(AccountError::AccountDeleted);
    }
    if person.role != Role::Resident.code() {
        return Err(AccountError::Forbidden);
    }
    // The same limits as signing in: a stolen access token must not become a password oracle.
    throttle
        .check(&person.email, client)
        .map_err(AccountError::TooManyAttempts)?;
    if !sessions::verify_password(password.to_owned(), person.password_hash.clone()).await {
        return Err(AccountError::PasswordIncorrect);
    }

    let txn = begin_write(db).await?;
    // Taken first, as a booking does: a booking of this person racing the deletion waits, then
    // finds the registration no longer approved.
    let mut query = user::Entity::find_by_id(user_id);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    let person = query.one(&txn).await?.ok_or(AccountError::AccountDeleted)?;
    if person.deleted_at.is_some() {
        return Err(AccountError::AccountDeleted);
    }

    let mut to_cancel = Vec::new();
    let mut paid_ahead = Vec::new();
    let mut kept = Vec::new();
    for b in booking::Entity::find()
        .filter(booking::Column::UserId.eq(user_id))
        .order_by_asc(booking::Column::StartsAt)
        .all(&txn)
        .await?
    {
        let state = b.state.parse::<BookingState>().ok();
        let ahead = b.starts_at > now;
        match state {
            Some(BookingState::AwaitingPayment) if ahead => to_cancel.push(b.id),
            Some(BookingState::Confirmed) if ahead && b.total_yen == 0 => to_cancel.push(b.id),
            Some(BookingState::Confirmed) if ahead => paid_ahead.push(b.id),
            _ => kept.push(b.id),
        }
    }
    if !paid_ahead.is_empty() {
        return Err(AccountError::PaidBookingsAhead(paid_ahead));
    }
    // Out of every group (refused while representing one that still exists).
    groups::leave_all_for_deletion(&txn, user_id, now).await?;
    let mut cancelled = Vec::new();
    for id in to_cancel {
        if bookings::cancel_unpaid_within(&txn, user_id, id, CANCEL_REASON, now).await? {
            cancelled.push(id);
        } else {
            kept.push(id);
        }
    }
    kept.sort_unstable();

    // Kept bookings stay for the accounts; their free text may name people.
    booking::Entity::update_many()
        .col_expr(booking::Column::Purpose, Expr::value(REDACTED))
        .filter(booking::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    // Stored answers to retried requests repeat the booking's text.
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    // Signed out everywhere. (An access token already issued lapses within 15 minutes; until
    // then it can no longer book or renew, because the registration is no longer approved.)
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    registration_reminder::Entity::delete_many()
        .filter(registration_reminder::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    // Identity documents go entirely: the rows now, the files once the deletion has committed.
    let document_keys = documents::delete_all_of(&txn, user_id).await?;
    // Mail to the person carries their name and details; the confirmation below is the last.
    mail_outbox::Entity::delete_many()
        .filter(mail_outbox::Column::ToAddress.eq(&person.email))
        .exec(&txn)
        .await?;
    mail::enqueue(
        &txn,
        &person.email,
        &person.locale,
        mail::account_deleted(&person.locale, cancelled.len()),
        now,
    )
    .await?;

    let no_text: Option<String> = None;
    let changed = user::Entity::update_many()
        // A unique placeholder keeps the email column's UNIQUE and NOT NULL; `.invalid` can
        // never be a real address (RFC 2606), so no one can register or sign in with it.
        .col_expr(
            user::Column::Email,
            Expr::value(format!("deleted-{user_id}@deleted.invalid")),
        )
        .col_expr(user::Column::PasswordHash, Expr::value(no_text.clone()))
        .col_expr(user::Column::DisplayName, Expr::value(REDACTED))
        .col_expr(user::Column::NameKana, Expr::value(no_text.clone()))
        .col_expr(
            user::Column::DateOfBirth,
            Expr::value(Option::<chrono::NaiveDate>::None),
        )
        .col_expr(user::Column::PostalCode, Expr::value(no_text.clone()))
        .col_expr(user::Column::Address, Expr::value(no_text.clone()))
        .col_expr(user::Column::Phone, Expr::value(no_text.clone()))
        .col_expr(user::Column::CardNumber, Expr::value(no_text.clone()))
        .col_expr(user::Column::ReviewNote, Expr::value(no_text))
        .col_expr(
            user::Column::RegistrationValidUntil,
            Expr::value(Option::<chrono::NaiveDate>::None),
        )
        .col_expr(
            user::Column::EmailVerifiedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        // No `deleted` state exists in the CHECK list; `expired` keeps every booking and
        // renewal check refusing, and `deleted_at` says why.
        .col_expr(
            user::Column::RegistrationState,
            Expr::value(RegistrationState::Expired.code()),
        )
        .col_expr(user::Column::DeletedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if changed != 1 {
        return Err(AccountError::AccountDeleted);
    }
    audit::record(
        &txn,
        user_id,
        "account.delete",
        ("user", Some(i64::from(user_id))),
        json!({"cancelled_booking_ids": cancelled, "kept_booking_ids": kept}),
        now,
    )
    .await?;
    txn.commit().await?;
    if let Err(error) = store.remove(&document_keys).await {
        // The rows are gone, so nothing can reach the files; an operator must remove them.
        tracing::error!(
            user.id = user_id,
            documents = document_keys.len(),
            error = %error,
            "identity document files of a deleted account could not be removed"
        );
    }
    tracing::info!(
        user.id = user_id,
        bookings.cancelled = cancelled.len(),
        "account deleted at its owner's request"
    );
    Ok(DeletionResponse {
        status: "deleted",
        cancelled_booking_ids: cancelled,
        kept_booking_ids: kept,
    })
}
