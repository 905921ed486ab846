//! Bookings and the claims that make double booking impossible.
//!
//! `slot_claims` has one row per room unit and slot start an active booking holds, with that pair
//! as its primary key. A divisible whole claims both halves' units and a half claims its own, so a
//! whole and a half at the same time collide on the key, whichever commits first. Claims are
//! written inside the booking's transaction and deleted when the booking ends (cancelled,
//! expired); `booking_slots` keeps which slots a booking had, for its history and receipts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Booking states; mirrored by `domain::booking::BookingState`.
pub const BOOKING_STATES: &[&str] = &[
    "awaiting_payment",
    "confirmed",
    "cancelled",
    "expired",
    "checked_in",
    "no_show",
];

fn one_of(col: &str, values: &[&str]) -> SimpleExpr {
    Expr::col(Alias::new(col)).is_in(values.iter().map(|v| String::from(*v)))
}

fn fk(
    name: &str,
    from: (&str, &str),
    to: &str,
    action: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(Alias::new(from.0), Alias::new(from.1))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(action)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("bookings")
                .col(big_pk_auto("id"))
                .col(integer("user_id"))
                .col(integer("room_id"))
                .col(string("state").check(one_of("state", BOOKING_STATES)))
                .col(string("residency").check(one_of("residency", &["resident", "non_resident"])))
                .col(string("purpose_kind").check(one_of(
                    "purpose_kind",
                    &["ordinary", "admission_event", "commercial"],
                )))
                .col(text("purpose"))
                .col(integer("attendees").check(Expr::col("attendees").gt(0)))
                // Kind of room and month of use, kept with the booking for per-person limits.
                .col(string("room_kind"))
                .col(date("service_date"))
                .col(timestamp_with_time_zone("starts_at"))
                .col(timestamp_with_time_zone("ends_at"))
                .col(integer("total_yen").check(Expr::col("total_yen").gte(0)))
                // The fee breakdown shown before booking, as booked (domain::pricing::Quote).
                .col(json("quote"))
                .col(timestamp_with_time_zone("pay_by"))
                .col(string("channel").check(one_of("channel", &["online", "counter"])))
                .col(integer_null("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("cancelled_at"))
                // What the cancellation rules give back (the money moves with the payment work).
                .col(integer_null("refund_yen").check(Expr::col("refund_yen").gte(0)))
                .check(Expr::col("starts_at").lt(Expr::col("ends_at")))
                .foreign_key(&mut fk(
                    "fk_bookings_user_id",
                    ("bookings", "user_id"),
                    "users",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_bookings_room_id",
                    ("bookings", "room_id"),
                    "rooms",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_bookings_created_by",
                    ("bookings", "created_by"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_bookings_user_state", &["user_id", "state"][..]),
            ("ix_bookings_state_pay_by", &["state", "pay_by"][..]),
            ("ix_bookings_room_date", &["room_id", "service_date"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Alias::new("bookings"));
            for col in cols {
                index.col(Alias::new(*col));
            }
            m.create_index(index.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table("booking_slots")
                .col(big_integer("booking_id"))
                .col(big_integer("slot_id"))
                .primary_key(Index::create().col("booking_id").col("slot_id"))
                .foreign_key(&mut fk(
                    "fk_booking_slots_booking_id",
                    ("booking_slots", "booking_id"),
                    "bookings",
                    ForeignKeyAction::Cascade,
                ))
                // A slot that was ever booked is never deleted (slot generation leaves it alone).
                .foreign_key(&mut fk(
                    "fk_booking_slots_slot_id",
                    ("booking_slots", "slot_id"),
                    "slots",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_booking_slots_slot")
                .table("booking_slots")
                .col("slot_id")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("slot_claims")
                .col(integer("unit_id"))
                .col(timestamp_with_time_zone("starts_at"))
                .col(big_integer("booking_id"))
                .col(big_integer("slot_id"))
                // The rule itself: one active booking per unit and start, checked by the database.
                .primary_key(Index::create().col("unit_id").col("starts_at"))
                .foreign_key(&mut fk(
                    "fk_slot_claims_unit_id",
                    ("slot_claims", "unit_id"),
                    "room_units",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_slot_claims_booking_id",
                    ("slot_claims", "booking_id"),
                    "bookings",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_slot_claims_slot_id",
                    ("slot_claims", "slot_id"),
                    "slots",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_slot_claims_booking")
                .table("slot_claims")
                .col("booking_id")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_slot_claims_slot")
                .table("slot_claims")
                .col("slot_id")
                .to_owned(),
        )
        .await?;

        // How a person is priced: living, working or studying in the city counts as resident (市内).
        // Registration (the accounts work) sets it; existing accounts count as residents.
        m.alter_table(
            Table::alter()
                .table("users")
                .add_column(string("residency").default("resident").check(one_of(
                    "residency",
                    &[
                        "resident",
                        "works_in_city",
                        "studies_in_city",
                        "non_resident",
                    ],
                )))
                .to_owned(),
        )
        .await?;

        // Every state change of a booking: who, when, why.
        m.create_table(
            Table::create()
                .table("booking_events")
                .col(big_pk_auto("id"))
                .col(big_integer("booking_id"))
                .col(timestamp_with_time_zone("at"))
                .col(integer_null("actor_user_id"))
                .col(string_null("from_state"))
                .col(string("to_state").check(one_of("to_state", BOOKING_STATES)))
                .col(string("reason"))
                .foreign_key(&mut fk(
                    "fk_booking_events_booking_id",
                    ("booking_events", "booking_id"),
                    "bookings",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_booking_events_actor",
                    ("booking_events", "actor_user_id"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_booking_events_booking")
                .table("booking_events")
                .col("booking_id")
                .to_owned(),
        )
        .await?;

        // Idempotency-Key: the first answer to a key is kept and replayed for the same body.
        m.create_table(
            Table::create()
                .table("idempotency_keys")
                .col(integer("user_id"))
                .col(string_len("key", 255))
                .col(string_len("request_hash", 64))
                .col(integer("status_code"))
                .col(json("response"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(Index::create().col("user_id").col("key"))
                .foreign_key(&mut fk(
                    "fk_idempotency_keys_user_id",
                    ("idempotency_keys", "user_id"),
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("users")
                .drop_column("residency")
                .to_owned(),
        )
        .await?;
        for table in [
            "idempotency_keys",
            "booking_events",
            "slot_claims",
            "booking_slots",
            "bookings",
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
