//! The web user card (利用者証) and check-in at the venue.
//!
//! - `card_signing_keys`: the Ed25519 keys cards are signed with, by key id (`kid`). Every row
//!   holds the public key, which `/.well-known/jwks.json` publishes while the key signs and for a
//!   while after it retires. The private key is stored **only for keys generated in demo mode**
//!   (`origin = 'generated'`); keys configured from the environment (`origin = 'configured'`) keep
//!   their private part outside the database, and a CHECK makes storing it impossible.
//! - `cards`: one row per card a person was given. `serial` counts a person's cards; a revoked
//!   card is never valid again, and the next `GET /me/card` issues the next serial. A partial
//!   unique index allows one unrevoked card per person. `last_token_expires_at` is the expiry of
//!   the newest token handed out, so the revocation list can leave out cards whose every token
//!   has expired.
//! - `checkin_scans`: every scan the server was told about, online or synced from an offline
//!   scanner. `client_id` is the scanner's own id for the scan (unique), which makes a resent
//!   offline batch change nothing twice.
//! - `booking_checkins`: the check-in of a booking; its primary key is the booking, so a booking
//!   is checked in once however many scans race.
//! - `penalty_points`: points for a no-show, one row per booking (unique), voided rather than
//!   deleted when staff accept that the person came after all.
//! - `booking_suspensions`: the person's current suspension from booking, recomputed from their
//!   points whenever they change, so booking needs only one lookup.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Why a card stopped being valid; mirrored by `domain::card_token::RevocationReason`.
pub const CARD_REVOCATION_REASONS: &[&str] = &["registration_ended", "suspended", "revoked"];
/// What a scan ended in; mirrored by `domain::checkin::ScanResult`.
pub const SCAN_RESULTS: &[&str] = &[
    "checked_in",
    "already_checked_in",
    "not_yet",
    "payment_due",
    "no_booking",
    "refused",
];

fn one_of(col: &str, values: &[&str]) -> SimpleExpr {
    Expr::col(Alias::new(col)).is_in(values.iter().map(|v| String::from(*v)))
}

fn fk(
    name: &str,
    from: (&str, &str),
    to: &str,
    to_col: &str,
    action: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(Alias::new(from.0), Alias::new(from.1))
        .to(Alias::new(to), Alias::new(to_col))
        .on_delete(action)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("card_signing_keys")
                .col(string_len("kid", 32).primary_key())
                // The raw 32-byte Ed25519 public key, base64url without padding (the JWK's `x`).
                .col(string_len("public_key", 64).unique_key())
                // The 32-byte seed, base64url: demo mode only (see the CHECK below).
                .col(string_len_null("private_key", 64))
                .col(string_len("origin", 16).check(one_of("origin", &["generated", "configured"])))
                .col(timestamp_with_time_zone("created_at"))
                // When it stopped signing; published until every card it signed has expired.
                .col(timestamp_with_time_zone_null("retired_at"))
                .check(Expr::cust("origin = 'generated' OR private_key IS NULL"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("cards")
                .col(big_pk_auto("id"))
                .col(integer("user_id"))
                .col(integer("serial").check(Expr::col("serial").gt(0)))
                .col(timestamp_with_time_zone("issued_at"))
                .col(timestamp_with_time_zone_null("last_token_expires_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(
                    string_len_null("revoked_reason", 32)
                        .check(one_of("revoked_reason", CARD_REVOCATION_REASONS)),
                )
                .check(Expr::cust(
                    "(revoked_at IS NULL AND revoked_reason IS NULL) \
                     OR (revoked_at IS NOT NULL AND revoked_reason IS NOT NULL)",
                ))
                .foreign_key(&mut fk(
                    "fk_cards_user",
                    ("cards", "user_id"),
                    "users",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_cards_user_serial")
                .table("cards")
                .col("user_id")
                .col("serial")
                .unique()
                .to_owned(),
        )
        .await?;
        // One card in use per person, whatever races: a second concurrent first `GET /me/card`
        // fails here and reads the winner's card instead.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_cards_one_current \
                 ON cards (user_id) WHERE revoked_at IS NULL",
            )
            .await?;
        m.create_index(
            Index::create()
                .name("ix_cards_revoked_at")
                .table("cards")
                .col("revoked_at")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("checkin_scans")
                .col(big_pk_auto("id"))
                // The scanner's id for an offline scan (e.g. a UUID); NULL for online scans sent
                // without one. Unique: a resent batch finds its scans again.
                .col(string_len_null("client_id", 64).unique_key())
                .col(integer("staff_user_id"))
                .col(integer("facility_id"))
                .col(integer_null("holder_user_id"))
                .col(big_integer_null("card_id"))
                .col(string_len("method", 16).check(one_of("method", &["qr", "manual"])))
                .col(string_len("result", 32).check(one_of("result", SCAN_RESULTS)))
                // The error code of a refused scan (e.g. `card_revoked`).
                .col(string_len_null("refusal_code", 64))
                // When the card was scanned (the scanner's clock for offline scans).
                .col(timestamp_with_time_zone("scanned_at"))
                // When the server learnt of it.
                .col(timestamp_with_time_zone("recorded_at"))
                .foreign_key(&mut fk(
                    "fk_checkin_scans_staff",
                    ("checkin_scans", "staff_user_id"),
                    "users",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_checkin_scans_facility",
                    ("checkin_scans", "facility_id"),
                    "facilities",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_checkin_scans_holder",
                    ("checkin_scans", "holder_user_id"),
                    "users",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_checkin_scans_card",
                    ("checkin_scans", "card_id"),
                    "cards",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("booking_checkins")
                .col(big_integer("booking_id").primary_key())
                .col(big_integer("scan_id"))
                .col(timestamp_with_time_zone("checked_in_at"))
                .col(timestamp_with_time_zone("recorded_at"))
                .foreign_key(&mut fk(
                    "fk_booking_checkins_booking",
                    ("booking_checkins", "booking_id"),
                    "bookings",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_booking_checkins_scan",
                    ("booking_checkins", "scan_id"),
                    "checkin_scans",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("penalty_points")
                .col(big_pk_auto("id"))
                .col(integer("user_id"))
                // One penalty per booking: the no-show job and a second instance of it cannot
                // both add one.
                .col(big_integer("booking_id").unique_key())
                .col(integer("points").check(Expr::col("points").gt(0)))
                .col(string_len("reason", 32).check(one_of("reason", &["no_show"])))
                // The end of the booking's last slot: the moment the person did not come.
                .col(timestamp_with_time_zone("incurred_at"))
                .col(timestamp_with_time_zone("recorded_at"))
                .col(timestamp_with_time_zone_null("voided_at"))
                .col(string_len_null("void_reason", 200))
                .foreign_key(&mut fk(
                    "fk_penalty_points_user",
                    ("penalty_points", "user_id"),
                    "users",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_penalty_points_booking",
                    ("penalty_points", "booking_id"),
                    "bookings",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_penalty_points_user")
                .table("penalty_points")
                .col("user_id")
                .col("incurred_at")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("booking_suspensions")
                .col(integer("user_id").primary_key())
                .col(timestamp_with_time_zone("suspended_from"))
                .col(timestamp_with_time_zone("suspended_until"))
                .col(timestamp_with_time_zone("computed_at"))
                .check(Expr::cust("suspended_until > suspended_from"))
                .foreign_key(&mut fk(
                    "fk_booking_suspensions_user",
                    ("booking_suspensions", "user_id"),
                    "users",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        // The no-show job looks for confirmed bookings that have ended.
        m.create_index(
            Index::create()
                .name("ix_bookings_state_ends_at")
                .table("bookings")
                .col("state")
                .col("ends_at")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_bookings_state_ends_at")
                .table(Alias::new("bookings"))
                .to_owned(),
        )
        .await?;
        for table in [
            "booking_suspensions",
            "penalty_points",
            "booking_checkins",
            "checkin_scans",
            "cards",
            "card_signing_keys",
        ] {
            m.drop_table(
                Table::drop()
                    .table(Alias::new(table))
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
