//! Identity and residency documents: a person uploads them for the review of their registration
//! and lists what they sent; staff list and open them, and every staff view is audited.
//!
//! An upload goes in three steps, so that a refusal costs as little as possible and leaves
//! nothing behind: [`ensure_may_upload`] before the body is read, [`receive`] while it streams
//! (the type is judged from the first bytes and the size is counted, so a wrong or oversize file
//! is dropped at once), then [`record_upload`], which checks the rules again inside one write
//! transaction, renames the file to its key, inserts the row and commits, removing the file if
//! anything fails. The row and the file therefore agree.
//!
//! Uploading after a rejection re-submits the registration: it is waiting for review again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::documents::{
    self, DocumentKind, DocumentLimits, DocumentType, SNIFF_BYTES, Sniffed, UploadRefusal,
};
use crate::domain::registration::RegistrationState;
use crate::domain::roles::Role;
use crate::entities::{identity_document, user};
use crate::services::audit;
use crate::services::document_store::{DocumentStore, Incoming, Stored};

/// Why a document action was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Refused(#[from] UploadRefusal),
    #[error("only staff can see identity documents")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A form field is missing or malformed; the HTTP edge names it.
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("the form has no part `{0}`; send `kind` and `file`")]
    UnknownPart(String),
    #[error("send a JPEG or PNG photo, or a PDF")]
    UnsupportedType,
    #[error(
        "send a JPEG or PNG photo, or a PDF; this photo is HEIC (on an iPhone, choose Most Compatible under Settings › Camera › Formats)"
    )]
    Heic,
    #[error("the file is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    #[error("document storage failed")]
    Storage(#[from] std::io::Error),
    #[error("the stored document does not match its checksum")]
    Corrupt,
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl DocumentError {
    /// A form field at fault.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DocumentError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A file received in full and of an accepted type, still under its temporary name.
#[derive(Debug)]
pub struct Received {
    incoming: Incoming,
    kind_of_file: DocumentType,
}

/// Refuse early, before the body is read: the person's registration must be waiting for review
/// (or rejected) and they must have room for another document. Checked again when recording.
pub async fn ensure_may_upload(
    db: &DatabaseConnection,
    user_id: i32,
    limits: DocumentLimits,
) -> Result<(), DocumentError> {
    let person = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(DocumentError::NotFound("person"))?;
    let existing = count_of(db, user_id).await?;
    documents::may_upload(state_of(&person)?, existing, limits)?;
    Ok(())
}

/// Stream one file into the store. The type is judged from the first bytes as soon as they have
/// arrived; the size is counted as chunks arrive. A refusal drops the temporary file.
pub async fn receive<S, B>(
    store: &DocumentStore,
    limits: DocumentLimits,
    mut chunks: S,
) -> Result<Received, DocumentError>
where
    S: Stream<Item = Result<B, DocumentError>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut incoming = store.begin().await?;
    let mut judged = None;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        let chunk = chunk.as_ref();
        if incoming.size() + chunk.len() as u64 > limits.max_bytes {
            return Err(DocumentError::TooLarge {
                max_bytes: limits.max_bytes,
            });
        }
        incoming.write(chunk, SNIFF_BYTES).await?;
        if judged.is_none() && incoming.head().len() >= SNIFF_BYTES {
            judged = Some(judge(incoming.head())?);
        }
    }
    if incoming.size() == 0 {
        return Err(DocumentError::invalid("file", "the file is empty"));
    }
    let kind_of_file = match judged {
        Some(judged) => judged,
        // Shorter than the signature window: judge what there is.
        None => judge(incoming.head())?,
    };
    // Onto the disk now, so the write transaction that keeps it does not wait for the sync.
    incoming.sync().await?;
    Ok(Received {
        incoming,
        kind_of_file,
    })
}

fn judge(head: &[u8]) -> Result<DocumentType, DocumentError> {
    match documents::sniff(head) {
        Sniffed::Accepted(kind) => Ok(kind),
        Sniffed::Heic => Err(DocumentError::Heic),
        Sniffed::Unknown => Err(DocumentError::UnsupportedType),
    }
}

/// Keep a received file as `user_id`'s document of `kind`: the rules are checked again inside
/// one write transaction, the file is renamed to a fresh random key, the row inserted, and a
/// rejected registration goes back to waiting for review. If anything fails the file is removed.
pub async fn record_upload(
    db: &DatabaseConnection,
    user_id: i32,
    kind: DocumentKind,
    received: Received,
    limits: DocumentLimits,
    now: DateTime<Utc>,
) -> Result<identity_document::Model, DocumentError> {
    let txn = begin_write(db).await?;
    // One person's uploads are decided one at a time, so the per-person limit holds under racing
    // requests, and a staff decision on the registration waits for us (or we for it). SQLite
    // write transactions are serial already.
    let mut person = user::Entity::find_by_id(user_id);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        person = person.lock_exclusive();
    }
    let person = person
        .one(&txn)
        .await?
        .ok_or(DocumentError::NotFound("person"))?;
    let state = state_of(&person)?;
    documents::may_upload(state, count_of(&txn, user_id).await?, limits)?;

    let key = DocumentStore::new_key();
    let stored: Stored = received.incoming.persist(&key).await?;
    let size = i64::try_from(stored.size).map_err(|_| DocumentError::TooLarge {
        max_bytes: limits.max_bytes,
    })?;
    let document = identity_document::ActiveModel {
        id: NotSet,
        user_id: Set(user_id),
        kind: Set(kind.code().to_owned()),
        content_type: Set(received.kind_of_file.mime().to_owned()),
        byte_size: Set(size),
        sha256: Set(stored.sha256.clone()),
        storage_key: Set(key),
        uploaded_at: Set(now),
    }
    .insert(&txn)
    .await?;
    if state == RegistrationState::Rejected {
        user::Entity::update_many()
            .col_expr(
                user::Column::RegistrationState,
                Expr::value(RegistrationState::PendingReview.code()),
            )
            .filter(user::Column::Id.eq(user_id))
            .filter(user::Column::RegistrationState.eq(RegistrationState::Rejected.code()))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            user_id,
            "registration.resubmit",
            ("user", Some(i64::from(user_id))),
            json!({"document_id": document.id}),
            now,
        )
        .await?;
    }
    txn.commit().await?;
    stored.keep();
    Ok(document)
}

/// A person's own documents, oldest first (metadata only).
pub async fn list_own(
    db: &DatabaseConnection,
    user_id: i32,
) -> Result<Vec<identity_document::Model>, DocumentError> {
    Ok(documents_of(db, user_id).await?)
}

/// A registration's documents, for staff; the view is audited.
pub async fn list_for_staff(
    db: &DatabaseConnection,
    actor: (i32, Role),
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<Vec<identity_document::Model>, DocumentError> {
    ensure_staff(actor.1)?;
    registration_exists(db, user_id).await?;
    let found = documents_of(db, user_id).await?;
    let ids: Vec<i32> = found.iter().map(|d| d.id).collect();
    audit::record(
        db,
        actor.0,
        "document.list",
        ("user", Some(i64::from(user_id))),
        json!({"document_ids": ids}),
        now,
    )
    .await?;
    Ok(found)
}

/// One document's bytes, for staff. The bytes are checked against the stored checksum, and the
/// view is written to the audit log before anything is returned.
pub async fn open_for_staff(
    db: &DatabaseConnection,
    store: &DocumentStore,
    actor: (i32, Role),
    user_id: i32,
    document_id: i32,
    now: DateTime<Utc>,
) -> Result<(identity_document::Model, Vec<u8>), DocumentError> {
    ensure_staff(actor.1)?;
    registration_exists(db, user_id).await?;
    let document = identity_document::Entity::find_by_id(document_id)
        .filter(identity_document::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(DocumentError::NotFound("document"))?;
    let bytes = store.read(&document.storage_key).await?;
    if hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)) != document.sha256 {
        return Err(DocumentError::Corrupt);
    }
    audit::record(
        db,
        actor.0,
        "document.view",
        ("user", Some(i64::from(user_id))),
        json!({"document_id": document.id}),
        now,
    )
    .await?;
    Ok((document, bytes))
}

/// How many documents each of `user_ids` has (absent: none), for the review queue.
pub async fn counts_by_person(
    db: &impl ConnectionTrait,
    user_ids: &[i32],
) -> Result<HashMap<i32, u64>, DbErr> {
    let mut counts = HashMap::new();
    // Bounded IN lists: SQLite and PostgreSQL both cap the parameters of one statement.
    for ids in user_ids.chunks(500) {
        let rows: Vec<(i32, i64)> = identity_document::Entity::find()
            .select_only()
            .column(identity_document::Column::UserId)
            .column_as(identity_document::Column::Id.count(), "documents")
            .filter(identity_document::Column::UserId.is_in(ids.iter().copied()))
            .group_by(identity_document::Column::UserId)
            .into_tuple()
            .all(db)
            .await?;
        counts.extend(
            rows.into_iter()
                .map(|(id, n)| (id, u64::try_from(n).unwrap_or_default())),
        );
    }
    Ok(counts)
}

/// Forget every document of `user_id` (account deletion): the rows go in the caller's
/// transaction, and the storage keys are returned so the caller removes the files with
/// [`DocumentStore::remove`] once that transaction has committed.
pub async fn delete_all_of(txn: &impl ConnectionTrait, user_id: i32) -> Result<Vec<String>, DbErr> {
    let keys: Vec<String> = identity_document::Entity::find()
        .select_only()
        .column(identity_document::Column::StorageKey)
        .filter(identity_document::Column::UserId.eq(user_id))
        .into_tuple()
        .all(txn)
        .await?;
    identity_document::Entity::delete_many()
        .filter(identity_document::Column::UserId.eq(user_id))
        .exec(txn)
        .await?;
    Ok(keys)
}

fn ensure_staff(role: Role) -> Result<(), DocumentError> {
    match role {
        Role::Staff | Role::Manager | Role::Admin => Ok(()),
        Role::Resident => Err(DocumentError::Forbidden),
    }
}

/// Registrations are residents' accounts; staff accounts have none to review.
async fn registration_exists(db: &DatabaseConnection, user_id: i32) -> Result<(), DocumentError> {
    let found = user::Entity::find_by_id(user_id)
        .filter(user::Column::Role.eq(Role::Resident.code()))
        .count(db)
        .await?;
    if found == 0 {
        return Err(DocumentError::NotFound("registration"));
    }
    Ok(())
}

async fn documents_of(
    db: &impl ConnectionTrait,
    user_id: i32,
) -> Result<Vec<identity_document::Model>, DbErr> {
    identity_document::Entity::find()
        .filter(identity_document::Column::UserId.eq(user_id))
        .order_by_asc(identity_document::Column::UploadedAt)
        .order_by_asc(identity_document::Column::Id)
        .all(db)
        .await
}

async fn count_of(db: &impl ConnectionTrait, user_id: i32) -> Result<u64, DbErr> {
    identity_document::Entity::find()
        .filter(identity_document::Column::UserId.eq(user_id))
        .count(db)
        .await
}

fn state_of(person: &user::Model) -> Result<RegistrationState, DocumentError> {
    person.registration_state.parse().map_err(|_| {
        DocumentError::Db(DbErr::Custom(format!(
            "unknown registration state `{}`",
            person.registration_state
        )))
    })
}
