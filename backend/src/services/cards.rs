//! The web user card (利用者証): issuing a person's card and its signed token with the QR, the
//! published key set, revoking cards, and the revocation list offline scanners keep.
//!
//! Only an approved, current registration with a card number gets a card. A person has one card
//! in use (a partial unique index); a revoked card stays revoked, and the next `GET /me/card`
//! issues the next serial. Every call signs a fresh token and records its expiry on the card, so
//! the revocation list only names cards whose tokens may still be alive.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::db::begin_write;
use crate::domain::calendar::{tokyo, tokyo_date};
use crate::domain::card_token::{CardClaims, RevocationReason, token_expiry};
use crate::domain::checkin::CheckinRules;
use crate::domain::registration::RegistrationState;
use crate::entities::{card, user};
use crate::services::card_keys::{self, CardKeyConfig, PublishedKey};
use crate::views::cards::{CardJwk, CardJwks, CardResponse, RevocationListResponse, RevokedCard};

/// Why a card could not be given.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("{0}")]
    NotAvailable(&'static str),
    #[error(
        "cards are not set up on this server (no card signing key); ask the city's administrator"
    )]
    KeysMissing,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Whether `person`'s registration is approved and current on the Tokyo date of `at`, and the
/// account can hold a card. `Err` says why not, in a sentence for the person or staff.
pub fn registration_current(person: &user::Model, at: DateTime<Utc>) -> Result<(), &'static str> {
    if person.deleted_at.is_some() {
        return Err("this account was deleted");
    }
    if person.registration_state != RegistrationState::Approved.code() {
        return Err("the registration is not approved (or is under review again)");
    }
    if person
        .registration_valid_until
        .is_some_and(|until| until < tokyo_date(at))
    {
        return Err("the registration has expired; renew it online or at a counter");
    }
    if person.card_number.is_none() {
        return Err("this account has no card number");
    }
    Ok(())
}

/// My card: the current card (issued now if I have none), a token signed now, and its QR.
pub async fn my_card(
    db: &DatabaseConnection,
    keys: &CardKeyConfig,
    rules: &CheckinRules,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<CardResponse, CardError> {
    let signer = card_keys::signer(db, keys)
        .await?
        .ok_or(CardError::KeysMissing)?;
    let txn = begin_write(db).await?;
    // The person's row first (PostgreSQL), so two first requests issue one card between them.
    let mut person = user::Entity::find_by_id(user_id);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        person = person.lock_exclusive();
    }
    let person = person
        .one(&txn)
        .await?
        .ok_or(CardError::NotAvailable("this account no longer exists"))?;
    registration_current(&person, now).map_err(CardError::NotAvailable)?;
    let current = match current_card(&txn, user_id).await? {
        Some(card) => card,
        None => {
            // A card staff suspended is not replaced by asking for a new one.
            if latest_card(&txn, user_id)
                .await?
                .is_some_and(|c| c.revoked_reason.as_deref() == Some("suspended"))
            {
                return Err(CardError::NotAvailable(
                    "the card is suspended; please ask at a facility counter",
                ));
            }
            issue(&txn, user_id, now).await?
        }
    };
    let expires = token_expiry(now, rules.token_ttl(), person.registration_valid_until);
    let claims = CardClaims {
        cid: current.id,
        v: current.serial,
        iat: now.timestamp(),
        exp: expires.timestamp(),
    };
    // Tokens only ever get later expiries, but keep the latest in case a clock stepped back.
    let last = current
        .last_token_expires_at
        .map_or(expires, |l| l.max(expires));
    card::Entity::update_many()
        .col_expr(card::Column::LastTokenExpiresAt, Expr::value(last))
        .filter(card::Column::Id.eq(current.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let token = signer.sign(&claims);
    let qr_svg = qr_svg(&token).map_err(|e| DbErr::Custom(format!("QR: {e}")))?;
    let card_number = person.card_number.unwrap_or_default();
    Ok(CardResponse {
        card_number,
        card_id: current.id,
        serial: current.serial,
        kid: signer.kid,
        token,
        qr_svg,
        valid_until: DateTime::from_timestamp(claims.exp, 0)
            .unwrap_or(expires)
            .with_timezone(&tokyo()),
        refreshed_at: now.with_timezone(&tokyo()),
        registration_valid_until: person.registration_valid_until,
    })
}

async fn current_card(
    db: &impl ConnectionTrait,
    user_id: i32,
) -> Result<Option<card::Model>, DbErr> {
    card::Entity::find()
        .filter(card::Column::UserId.eq(user_id))
        .filter(card::Column::RevokedAt.is_null())
        .one(db)
        .await
}

async fn latest_card(
    db: &impl ConnectionTrait,
    user_id: i32,
) -> Result<Option<card::Model>, DbErr> {
    card::Entity::find()
        .filter(card::Column::UserId.eq(user_id))
        .order_by_desc(card::Column::Serial)
        .one(db)
        .await
}

async fn issue(
    db: &impl ConnectionTrait,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<card::Model, DbErr> {
    let last: Option<i32> = card::Entity::find()
        .select_only()
        .column(card::Column::Serial)
        .filter(card::Column::UserId.eq(user_id))
        .order_by_desc(card::Column::Serial)
        .into_tuple()
        .one(db)
        .await?;
    let serial = last.unwrap_or(0) + 1;
    let id = card::Entity::insert(card::ActiveModel {
        id: NotSet,
        user_id: Set(user_id),
        serial: Set(serial),
        issued_at: Set(now),
        last_token_expires_at: Set(None),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    })
    .exec(db)
    .await?
    .last_insert_id;
    card::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("card".into()))
}

/// The QR of `token` as an inline SVG: error correction M (about 15 % of the symbol can be
/// damaged or glared), the smallest version that holds it (10 for a card token), the 4-module
/// quiet zone, 4 px per module. The XML declaration is left out so it can be inlined in HTML.
pub fn qr_svg(token: &str) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::with_error_correction_level(token.as_bytes(), EcLevel::M)?;
    let image = code
        .render::<svg::Color>()
        .quiet_zone(true)
        .module_dimensions(4, 4)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .build();
    let body = match image.find("<svg") {
        Some(start) => &image[start..],
        None => image.as_str(),
    };
    Ok(body.replacen(
        "<svg ",
        r#"<svg role="img" aria-label="利用者証 QR コード / user card QR code" "#,
        1,
    ))
}

/// The published key set, for `/.well-known/jwks.json`.
pub async fn jwks(
    db: &impl ConnectionTrait,
    rules: &CheckinRules,
    now: DateTime<Utc>,
) -> Result<CardJwks, DbErr> {
    let keys = card_keys::published(db, rules, now).await?;
    Ok(CardJwks {
        keys: keys
            .into_iter()
            .map(|PublishedKey { kid, x, .. }| CardJwk {
                kty: "OKP",
                crv: "Ed25519",
                x,
                kid,
                alg: "EdDSA",
                use_: "sig",
            })
            .collect(),
    })
}

/// Revoke a person's current card (staff suspending it, or a lost card). Returns whether a card
/// was revoked. The next `GET /me/card` issues a new serial if the registration is still current.
pub async fn revoke_current(
    db: &impl ConnectionTrait,
    user_id: i32,
    reason: RevocationReason,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let changed = card::Entity::update_many()
        .col_expr(card::Column::RevokedAt, Expr::value(now))
        .col_expr(card::Column::RevokedReason, Expr::value(reason.code()))
        .filter(card::Column::UserId.eq(user_id))
        .filter(card::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    Ok(changed > 0)
}

/// Revoke every card whose registration is no longer approved and current (expired, back under
/// review, rejected, deleted): one conditional UPDATE, so any number of instances may run it.
/// Returns how many cards were revoked.
pub async fn sweep_registration_ended(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let today = tokyo_date(now);
    let ended = Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .cond_where(
            Condition::any()
                .add(user::Column::RegistrationState.ne(RegistrationState::Approved.code()))
                .add(user::Column::RegistrationValidUntil.lt(today))
                .add(user::Column::DeletedAt.is_not_null())
                .add(user::Column::CardNumber.is_null()),
        )
        .to_owned();
    let changed = card::Entity::update_many()
        .col_expr(card::Column::RevokedAt, Expr::value(now))
        .col_expr(
            card::Column::RevokedReason,
            Expr::value(RevocationReason::RegistrationEnded.code()),
        )
        .filter(card::Column::RevokedAt.is_null())
        .filter(card::Column::UserId.in_subquery(ended))
        .exec(db)
        .await?
        .rows_affected;
    if changed > 0 {
        tracing::info!(
            cards.revoked = changed,
            "revoked cards of registrations that ended"
        );
    }
    Ok(changed)
}

/// The revocation list at `now`: cards revoked (at or after `since`, if given) whose tokens may
/// still be alive. Registrations that ended are swept first, so the list is current even when
/// the background job has not run yet.
pub async fn revocation_list(
    db: &DatabaseConnection,
    rules: &CheckinRules,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<RevocationListResponse, DbErr> {
    let txn = begin_write(db).await?;
    sweep_registration_ended(&txn, now).await?;
    txn.commit().await?;
    let mut query = card::Entity::find()
        .filter(card::Column::RevokedAt.is_not_null())
        // Leeway: a scanner accepts a token a little after its expiry.
        .filter(
            card::Column::LastTokenExpiresAt
                .gt(now - chrono::Duration::seconds(i64::from(rules.token_leeway_seconds))),
        )
        .order_by_asc(card::Column::RevokedAt)
        .order_by_asc(card::Column::Id);
    if let Some(since) = since {
        query = query.filter(card::Column::RevokedAt.gte(since));
    }
    let rows = query.all(db).await?;
    let items: Vec<RevokedCard> = rows
        .into_iter()
        .filter_map(|c| {
            Some(RevokedCard {
                card_id: c.id,
                serial: c.serial,
                revoked_at: c.revoked_at?.with_timezone(&tokyo()),
                reason: RevocationReason::from_code(c.revoked_reason.as_deref()?)?,
                tokens_expire_by: c.last_token_expires_at?.with_timezone(&tokyo()),
            })
        })
        .collect();
    Ok(RevocationListResponse {
        issued_at: now.with_timezone(&tokyo()),
        since: since.map(|s| s.with_timezone(&tokyo())),
        max_token_lifetime_seconds: rules.token_ttl().num_seconds(),
        total: items.len() as u64,
        items,
    })
}

/// A detached compact JWS (RFC 7515 Appendix F) of `body` with the current signer:
/// `BASE64URL(header)..BASE64URL(signature)`, where the signature covers
/// `BASE64URL(header) "." BASE64URL(body)`. `None` when cards are not set up.
pub async fn detached_signature(
    db: &impl ConnectionTrait,
    keys: &CardKeyConfig,
    body: &[u8],
) -> Result<Option<String>, DbErr> {
    let Some(signer) = card_keys::signer(db, keys).await? else {
        return Ok(None);
    };
    Ok(Some(signer.sign_detached(body)))
}

/// The payload part of a detached JWS, for verifiers: `BASE64URL(body)`.
pub fn detached_payload(body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(body)
}

/// Why staff could not act on a card or a penalty.
#[derive(Debug, thiserror::Error)]
pub enum StaffActionError {
    #[error(
        "only staff (assigned to the facility, where there is one) and administrators may do this"
    )]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The reason staff give for an action: trimmed, 1–500 characters.
pub fn staff_reason(reason: &str) -> Result<&str, StaffActionError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(StaffActionError::Invalid {
            field: "reason",
            message: "say why in 1–500 characters",
        });
    }
    Ok(reason)
}

/// Staff suspend (`Suspended`) or revoke (`Revoked`: lost, misused) the card of the person with
/// `card_number`, audited. A suspended person gets no new card until staff act again; a revoked
/// card is replaced by the next serial at the holder's next `GET /me/card`. A person with no
/// card in use yet can be suspended too (a card row is made suspended, so none is issued), but
/// not revoked (409 `card_not_in_use`).
pub async fn staff_revoke(
    db: &DatabaseConnection,
    actor: (i32, crate::domain::roles::Role),
    card_number: &str,
    reason: RevocationReason,
    note: &str,
    now: DateTime<Utc>,
) -> Result<crate::views::cards::CardActionResponse, StaffActionError> {
    if actor.1 == crate::domain::roles::Role::Resident {
        return Err(StaffActionError::Forbidden);
    }
    let number = card_number.trim().replace(['-', ' '], "");
    if !crate::domain::card::is_valid_card_number(&number) {
        return Err(StaffActionError::Invalid {
            field: "card_number",
            message: "ten digits whose last is the check digit; check the number",
        });
    }
    let note = staff_reason(note)?;
    let txn = begin_write(db).await?;
    let person = user::Entity::find()
        .filter(user::Column::CardNumber.eq(number.clone()))
        .one(&txn)
        .await?
        .ok_or(StaffActionError::NotFound("card"))?;
    let card = match current_card(&txn, person.id).await? {
        Some(card) => card,
        None if reason == RevocationReason::Suspended => {
            if latest_card(&txn, person.id)
                .await?
                .is_some_and(|c| c.revoked_reason.as_deref() == Some("suspended"))
            {
                return Err(StaffActionError::Conflict {
                    code: "card_not_in_use",
                    message: "this card is already suspended",
                });
            }
            issue(&txn, person.id, now).await?
        }
        None => {
            return Err(StaffActionError::Conflict {
                code: "card_not_in_use",
                message: "this person has no card in use (never issued, or already revoked or suspended)",
            });
        }
    };
    revoke_current(&txn, person.id, reason, now).await?;
    crate::services::audit::record(
        &txn,
        actor.0,
        match reason {
            RevocationReason::Suspended => "card.suspended",
            _ => "card.revoked",
        },
        ("user", Some(i64::from(person.id))),
        serde_json::json!({ "card_id": card.id, "serial": card.serial, "reason": note }),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(crate::views::cards::CardActionResponse {
        card_id: card.id,
        serial: card.serial,
        card_number: number,
        user_id: person.id,
        reason,
        revoked_at: now.with_timezone(&tokyo()),
    })
}
