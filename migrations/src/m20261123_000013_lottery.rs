//! 抽選: lottery rounds, the applications to them with their ranked wishes, and the wins a draw
//! gives out.
//!
//! A round's secret seed is stored from its creation (its SHA-256, the commitment, is public from
//! then on); the draw writes the wins and the published results document in the same transaction
//! that moves the round from `scheduled` to `drawn`, so results are never half-written and the
//! draw happens once. What one row or key can hold is held here: the round's times in order, one
//! application per applicant and round, one wish per slot and per rank in an application, one win
//! per slot, a confirmed win pointing at its booking.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Round states; mirrored by `domain::lottery::RoundState`.
pub const ROUND_STATES: &[&str] = &["scheduled", "drawn", "settled"];
/// Application states; mirrored by `domain::lottery::ApplicationState`.
pub const APPLICATION_STATES: &[&str] = &["submitted", "withdrawn"];
/// Win states; mirrored by `domain::lottery::WinState`.
pub const WIN_STATES: &[&str] = &["won", "confirmed", "lapsed"];

fn one_of(column: &str, values: &[&str]) -> SimpleExpr {
    Expr::col(Alias::new(column)).is_in(values.iter().map(|s| String::from(*s)))
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
                .table("lottery_rounds")
                .col(pk_auto("id"))
                .col(string("name").check(Expr::cust("length(name) BETWEEN 1 AND 100")))
                // The first day of the month of use.
                .col(date("month_of_use"))
                .col(timestamp_with_time_zone("applications_open_at"))
                .col(timestamp_with_time_zone("applications_close_at"))
                .col(timestamp_with_time_zone("draw_at"))
                .col(timestamp_with_time_zone("confirm_by"))
                .col(timestamp_with_time_zone("first_come_opens_at"))
                .col(string("state").check(one_of("state", ROUND_STATES)))
                .col(small_integer("max_wishes").check(Expr::cust("max_wishes BETWEEN 1 AND 20")))
                .col(
                    small_integer("max_wins_per_applicant")
                        .check(Expr::cust("max_wins_per_applicant BETWEEN 1 AND 100")),
                )
                // 32 random bytes as 64 hex digits; secret until the draw.
                .col(string("seed_hex").check(Expr::cust("length(seed_hex) = 64")))
                // SHA-256 of the seed's bytes, 64 hex digits; public from the start.
                .col(string("commitment_hex").check(Expr::cust("length(commitment_hex) = 64")))
                .col(string("algorithm"))
                .col(integer("algorithm_version"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("drawn_at"))
                // The published results document, written with the wins.
                .col(json_null("results"))
                .check(Expr::cust(
                    "applications_open_at < applications_close_at \
                     AND applications_close_at <= draw_at \
                     AND draw_at < confirm_by \
                     AND confirm_by <= first_come_opens_at",
                ))
                .check(Expr::cust(
                    "(state = 'scheduled' AND drawn_at IS NULL AND results IS NULL) \
                     OR (state <> 'scheduled' AND drawn_at IS NOT NULL AND results IS NOT NULL)",
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("lottery_round_rooms")
                .col(integer("round_id"))
                .col(integer("room_id"))
                .primary_key(Index::create().col("round_id").col("room_id"))
                .foreign_key(&mut fk(
                    "fk_lottery_round_rooms_round",
                    ("lottery_round_rooms", "round_id"),
                    "lottery_rounds",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_lottery_round_rooms_room",
                    ("lottery_round_rooms", "room_id"),
                    "rooms",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_lottery_round_rooms_room")
                .table("lottery_round_rooms")
                .col("room_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("lottery_applications")
                .col(big_pk_auto("id"))
                .col(integer("round_id"))
                // Who applied: the person, or the representative for a group.
                .col(integer("user_id"))
                .col(integer_null("group_id"))
                // `u<user id>` or `g<group id>`: the applicant caps and the draw count by.
                .col(string("applicant_key"))
                // 0: residents and registered groups; 1: everyone else (see docs/LOTTERY.md).
                .col(small_integer("tier").check(Expr::cust("tier IN (0, 1)")))
                .col(string("state").check(one_of("state", APPLICATION_STATES)))
                .col(string("purpose").check(Expr::cust("length(purpose) BETWEEN 1 AND 200")))
                .col(integer("attendees").check(Expr::cust("attendees >= 1")))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .check(Expr::cust(
                    "(group_id IS NULL AND applicant_key = 'u' || user_id) \
                     OR (group_id IS NOT NULL AND applicant_key = 'g' || group_id)",
                ))
                .foreign_key(&mut fk(
                    "fk_lottery_applications_round",
                    ("lottery_applications", "round_id"),
                    "lottery_rounds",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_lottery_applications_user",
                    ("lottery_applications", "user_id"),
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_lottery_applications_group",
                    ("lottery_applications", "group_id"),
                    "group_registrations",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_lottery_applications_applicant")
                .table("lottery_applications")
                .col("round_id")
                .col("applicant_key")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_lottery_applications_user")
                .table("lottery_applications")
                .col("user_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("lottery_wishes")
                .col(big_integer("application_id"))
                .col(small_integer("rank").check(Expr::cust("rank BETWEEN 1 AND 20")))
                .col(big_integer("slot_id"))
                .primary_key(Index::create().col("application_id").col("rank"))
                .foreign_key(&mut fk(
                    "fk_lottery_wishes_application",
                    ("lottery_wishes", "application_id"),
                    "lottery_applications",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_lottery_wishes_slot",
                    ("lottery_wishes", "slot_id"),
                    "slots",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
        )
        .await?;
        // One wish per slot in an application.
        m.create_index(
            Index::create()
                .name("ux_lottery_wishes_slot")
                .table("lottery_wishes")
                .col("application_id")
                .col("slot_id")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("lottery_wins")
                .col(big_pk_auto("id"))
                .col(integer("round_id"))
                .col(big_integer("application_id"))
                .col(small_integer("rank"))
                .col(big_integer("slot_id"))
                .col(string("state").check(one_of("state", WIN_STATES)))
                .col(big_integer_null("booking_id"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .check(Expr::cust(
                    "(state = 'confirmed' AND booking_id IS NOT NULL) \
                     OR (state <> 'confirmed' AND booking_id IS NULL)",
                ))
                .foreign_key(&mut fk(
                    "fk_lottery_wins_round",
                    ("lottery_wins", "round_id"),
                    "lottery_rounds",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_lottery_wins_application",
                    ("lottery_wins", "application_id"),
                    "lottery_applications",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_lottery_wins_slot",
                    ("lottery_wins", "slot_id"),
                    "slots",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_lottery_wins_booking",
                    ("lottery_wins", "booking_id"),
                    "bookings",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
        )
        .await?;
        // A slot is won once per round; an application wins with each wish at most once.
        m.create_index(
            Index::create()
                .name("ux_lottery_wins_slot")
                .table("lottery_wins")
                .col("round_id")
                .col("slot_id")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_lottery_wins_application_rank")
                .table("lottery_wins")
                .col("application_id")
                .col("rank")
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "lottery_wins",
            "lottery_wishes",
            "lottery_applications",
            "lottery_round_rooms",
            "lottery_rounds",
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
