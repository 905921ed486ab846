//! The payment ledger: every yen from booking to payment to refund.
//!
//! - `checkout_attempts`: one per "pay now" (a Stripe Checkout Session, or an embedded test-mode
//!   checkout page). Its `provider_session_id` is unique, so a webhook or a page finds it again.
//! - `payments`: money received for a booking, online or at the counter. Amounts are whole yen
//!   (JPY is zero-decimal). `refunded_yen` is what has been committed to refunds so far; a CHECK
//!   keeps it between 0 and the amount, so no sequence of refunds can give back more than was
//!   paid. A payment either `applied` (it confirmed its booking) or was `returned` (it arrived
//!   for a booking that had ended, and was refunded in full); a partial unique index allows one
//!   applied payment per booking, so a booking is never paid twice, whatever races.
//! - `refunds`: money given back, each with the idempotency key sent to the provider and, once
//!   done, the provider's refund id (unique).
//! - `webhook_events`: the provider events processed, keyed by the provider's event id: a
//!   repeated or concurrent delivery of one event finds its row and changes nothing.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Who took the money; mirrored by `domain::payments::Provider`.
pub const PAYMENT_PROVIDERS: &[&str] = &["stripe", "embedded", "counter_cash", "counter_terminal"];
/// A checkout attempt's life; mirrored by `domain::payments::AttemptState`.
pub const ATTEMPT_STATES: &[&str] = &["creating", "open", "completed", "expired", "failed"];
/// Refund states; mirrored by `domain::payments::RefundState`.
pub const REFUND_STATES: &[&str] = &["pending", "succeeded", "failed"];
/// Why money was given back; mirrored by `domain::payments::RefundReason`.
pub const REFUND_REASONS: &[&str] = &[
    "cancelled_by_resident",
    "cancelled_by_staff",
    "cancelled_by_closure",
    "late_payment",
    "external",
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
                .table("checkout_attempts")
                .col(big_pk_auto("id"))
                .col(big_integer("booking_id"))
                .col(string("provider").check(one_of("provider", &["stripe", "embedded"])))
                // Stripe's Checkout Session id, or `emb_cs_…` (a hash of the page's token).
                .col(string_len_null("provider_session_id", 255).unique_key())
                .col(string_len("idempotency_key", 255).unique_key())
                .col(big_integer("amount_yen").check(Expr::col("amount_yen").gt(0)))
                .col(string("state").check(one_of("state", ATTEMPT_STATES)))
                .col(text_null("checkout_url"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(integer_null("created_by"))
                .foreign_key(&mut fk(
                    "fk_checkout_attempts_booking_id",
                    ("checkout_attempts", "booking_id"),
                    "bookings",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_checkout_attempts_created_by",
                    ("checkout_attempts", "created_by"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_checkout_attempts_booking")
                .table("checkout_attempts")
                .col("booking_id")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("payments")
                .col(big_pk_auto("id"))
                // Money records are kept: a booking with payments is never deleted.
                .col(big_integer("booking_id"))
                .col(string("provider").check(one_of("provider", PAYMENT_PROVIDERS)))
                .col(big_integer_null("checkout_attempt_id").unique_key())
                // Stripe's Checkout Session and PaymentIntent ids (or the embedded provider's).
                .col(string_len_null("provider_session_id", 255).unique_key())
                .col(string_len_null("provider_payment_id", 255).unique_key())
                .col(big_integer("amount_yen").check(Expr::col("amount_yen").gt(0)))
                .col(string_len("currency", 3).check(Expr::col("currency").eq("jpy")))
                .col(
                    big_integer("refunded_yen")
                        .default(0)
                        .check(Expr::col("refunded_yen").gte(0)),
                )
                .col(string("disposition").check(one_of("disposition", &["applied", "returned"])))
                // 領収番号 of a counter payment.
                .col(string_len_null("receipt_number", 64).unique_key())
                .col(timestamp_with_time_zone("paid_at"))
                .col(timestamp_with_time_zone("created_at"))
                // The staff member who took a counter payment; NULL online.
                .col(integer_null("recorded_by"))
                .check(Expr::col("refunded_yen").lte(Expr::col("amount_yen")))
                // A counter payment always has its receipt number; an online one its ids.
                .check(
                    Expr::col("provider")
                        .is_in(["stripe", "embedded"])
                        .and(Expr::col("provider_payment_id").is_not_null())
                        .or(Expr::col("provider")
                            .is_in(["counter_cash", "counter_terminal"])
                            .and(Expr::col("receipt_number").is_not_null())
                            .and(Expr::col("recorded_by").is_not_null())),
                )
                .foreign_key(&mut fk(
                    "fk_payments_booking_id",
                    ("payments", "booking_id"),
                    "bookings",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_payments_checkout_attempt_id",
                    ("payments", "checkout_attempt_id"),
                    "checkout_attempts",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_payments_recorded_by",
                    ("payments", "recorded_by"),
                    "users",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_payments_booking")
                .table("payments")
                .col("booking_id")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_payments_paid_at")
                .table("payments")
                .col("paid_at")
                .to_owned(),
        )
        .await?;
        // One applied payment per booking: a second payment can only be a returned one. The same
        // partial-index syntax works on SQLite and PostgreSQL.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_payments_one_applied_per_booking \
                 ON payments (booking_id) WHERE disposition = 'applied'",
            )
            .await?;

        m.create_table(
            Table::create()
                .table("refunds")
                .col(big_pk_auto("id"))
                .col(big_integer("payment_id"))
                .col(big_integer("amount_yen").check(Expr::col("amount_yen").gt(0)))
                .col(string("reason").check(one_of("reason", REFUND_REASONS)))
                .col(string("state").check(one_of("state", REFUND_STATES)))
                // Sent to the provider so that a retried refund is made once.
                .col(string_len("idempotency_key", 255).unique_key())
                .col(string_len_null("provider_refund_id", 255).unique_key())
                .col(text_null("failure"))
                .col(integer("attempts").default(0))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("completed_at"))
                // The person or staff member whose action caused it; NULL for the system.
                .col(integer_null("requested_by"))
                .foreign_key(&mut fk(
                    "fk_refunds_payment_id",
                    ("refunds", "payment_id"),
                    "payments",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_refunds_requested_by",
                    ("refunds", "requested_by"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refunds_payment")
                .table("refunds")
                .col("payment_id")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refunds_state")
                .table("refunds")
                .col("state")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("webhook_events")
                .col(string_len("event_id", 255).primary_key())
                .col(string_len("event_type", 255))
                // What processing did: `applied`, `ignored`, `duplicate_payment`, `mismatch`, …
                .col(string_len("outcome", 64))
                .col(timestamp_with_time_zone("received_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["webhook_events", "refunds", "payments", "checkout_attempts"] {
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
