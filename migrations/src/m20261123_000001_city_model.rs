//! The city's data model: wards, facilities and their closing days, rooms (with the units that
//! divisible rooms are made of), equipment, slot templates, slots, closures, public holidays,
//! prices and fee policy, users with roles, and staff assignments to facilities.
//!
//! Rules that must hold whatever code runs against the database are written here as CHECK,
//! UNIQUE and FOREIGN KEY constraints.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables in creation order; dropped in reverse.
const TABLES: &[&str] = &[
    "cities",
    "wards",
    "facilities",
    "regular_closing_days",
    "slot_templates",
    "slot_template_periods",
    "rooms",
    "room_units",
    "room_unit_coverage",
    "equipment",
    "public_holidays",
    "closures",
    "slots",
    "room_prices",
    "fee_policies",
    "fee_reductions",
    "users",
    "staff_assignments",
];

fn fk(from_table: &str, from_col: &str, to_table: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{from_col}"))
        .from(Alias::new(from_table), Alias::new(from_col))
        .to(Alias::new(to_table), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(table: &str, name: &str, cols: &[&str], unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(format!(
        "{}_{table}_{name}",
        if unique { "ux" } else { "ix" }
    ))
    .table(Alias::new(table));
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

fn one_of(col: &str, values: &[&str]) -> SimpleExpr {
    Expr::col(Alias::new(col)).is_in(values.iter().map(|v| String::from(*v)))
}

fn between(col: &str, low: i32, high: i32) -> SimpleExpr {
    Expr::col(Alias::new(col)).between(low, high)
}

fn non_negative(col: &str) -> SimpleExpr {
    Expr::col(Alias::new(col)).gte(0)
}

/// Kinds of facility in the city; mirrored by `domain::kinds::FacilityKind`.
pub const FACILITY_KINDS: &[&str] = &[
    "sports_center",
    "gymnasium",
    "pool",
    "baseball_field",
    "ball_field",
    "sports_ground",
    "tennis_courts",
    "hall",
    "community_center",
    "budokan",
];

/// Kinds of room; mirrored by `domain::kinds::RoomKind`.
pub const ROOM_KINDS: &[&str] = &[
    "hall",
    "gymnasium",
    "martial_arts_hall",
    "court",
    "field",
    "meeting_room",
    "japanese_room",
    "training_room",
    "studio",
    "pool_lane",
];

/// Roles a user can hold; mirrored by `domain::roles::Role`.
pub const ROLES: &[&str] = &["resident", "staff", "manager", "admin"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The one city this deployment serves (全国地方公共団体コード with its check digit).
        m.create_table(
            Table::create()
                .table("cities")
                .col(pk_auto("id"))
                .col(string_len_uniq("code", 6))
                .col(string("name"))
                .col(string("name_kana"))
                .col(string("name_en"))
                .col(string("prefecture"))
                .col(string("prefecture_en"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("wards")
                .col(pk_auto("id"))
                .col(string_len_uniq("code", 6))
                .col(string("name"))
                .col(string("name_kana"))
                .col(string("name_en"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("facilities")
                .col(pk_auto("id"))
                .col(string_uniq("code"))
                .col(integer("ward_id"))
                .col(string("name"))
                .col(string("name_kana"))
                .col(string("name_en"))
                .col(string("kind").check(one_of("kind", FACILITY_KINDS)))
                .col(string("postal_code"))
                .col(string("address"))
                .col(string("address_en"))
                .col(double("latitude").check(between("latitude", -90, 90)))
                .col(double("longitude").check(between("longitude", -180, 180)))
                .col(string("phone"))
                // Opening hours as minutes after local midnight: 09:00 is 540.
                .col(small_integer("opens_minute").check(between("opens_minute", 0, 1440)))
                .col(small_integer("closes_minute").check(between("closes_minute", 0, 1440)))
                .col(boolean("closes_on_holidays"))
                .col(boolean("year_end_closure"))
                .col(json("barrier_free_ja"))
                .col(json("barrier_free_en"))
                .col(text("description_ja"))
                .col(text("description_en"))
                // Name, kana, English name and address folded by `domain::search::fold` so that a
                // query in hiragana, katakana, full-width or any case finds the facility.
                .col(text("search_text"))
                .check(Expr::col("opens_minute").lt(Expr::col("closes_minute")))
                .foreign_key(&mut fk("facilities", "ward_id", "wards"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("facilities", "ward", &["ward_id"], false))
            .await?;
        m.create_index(index("facilities", "kind", &["kind"], false))
            .await?;

        // 休館日: every week on a weekday (nth NULL), or the nth weekday of each month.
        m.create_table(
            Table::create()
                .table("regular_closing_days")
                .col(pk_auto("id"))
                .col(integer("facility_id"))
                // ISO weekday: 1 = Monday … 7 = Sunday.
                .col(small_integer("weekday").check(between("weekday", 1, 7)))
                .col(small_integer_null("nth_of_month").check(between("nth_of_month", 1, 5)))
                .foreign_key(&mut fk("regular_closing_days", "facility_id", "facilities"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "regular_closing_days",
            "facility",
            &["facility_id"],
            false,
        ))
        .await?;

        // A named set of daily periods (コマ), chosen by season and kind of day.
        m.create_table(
            Table::create()
                .table("slot_templates")
                .col(pk_auto("id"))
                .col(string_uniq("code"))
                .col(string("name"))
                .col(string("name_en"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("slot_template_periods")
                .col(pk_auto("id"))
                .col(integer("template_id"))
                // Season as month*100+day, inclusive; a season may wrap the year (1001..0331).
                .col(small_integer("season_from_md").check(between("season_from_md", 101, 1231)))
                .col(small_integer("season_to_md").check(between("season_to_md", 101, 1231)))
                .col(
                    string("day_type")
                        .check(one_of("day_type", &["any", "weekday", "weekend_holiday"])),
                )
                .col(small_integer("starts_minute").check(between("starts_minute", 0, 1440)))
                .col(small_integer("ends_minute").check(between("ends_minute", 0, 1440)))
                .col(string("band"))
                .col(boolean("lighting"))
                .check(Expr::col("starts_minute").lt(Expr::col("ends_minute")))
                .foreign_key(&mut fk(
                    "slot_template_periods",
                    "template_id",
                    "slot_templates",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "slot_template_periods",
            "template",
            &["template_id"],
            false,
        ))
        .await?;

        // 室場. A divisible room is a whole (parent_room_id NULL) with halves pointing at it.
        m.create_table(
            Table::create()
                .table("rooms")
                .col(pk_auto("id"))
                .col(integer("facility_id"))
                .col(integer_null("parent_room_id"))
                .col(string("code"))
                .col(string("name"))
                .col(string("name_kana"))
                .col(string("name_en"))
                .col(string("kind").check(one_of("kind", ROOM_KINDS)))
                .col(integer("capacity").check(Expr::col("capacity").gt(0)))
                .col(integer_null("area_m2").check(Expr::col("area_m2").gt(0)))
                .col(integer("slot_template_id"))
                .col(boolean("uses_lottery"))
                .col(boolean("requires_group"))
                .foreign_key(&mut fk("rooms", "facility_id", "facilities"))
                .foreign_key(&mut fk("rooms", "parent_room_id", "rooms"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_rooms_slot_template_id")
                        .from("rooms", "slot_template_id")
                        .to("slot_templates", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "rooms",
            "facility_code",
            &["facility_id", "code"],
            true,
        ))
        .await?;
        m.create_index(index("rooms", "parent", &["parent_room_id"], false))
            .await?;
        m.create_index(index("rooms", "kind", &["kind"], false))
            .await?;

        // The indivisible pieces of floor a booking claims. A plain room has one unit; a divisible
        // room has one per half, and its whole covers them all.
        m.create_table(
            Table::create()
                .table("room_units")
                .col(pk_auto("id"))
                .col(integer("room_id"))
                .col(string("code"))
                .foreign_key(&mut fk("room_units", "room_id", "rooms"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("room_units", "room_code", &["room_id", "code"], true))
            .await?;
        m.create_table(
            Table::create()
                .table("room_unit_coverage")
                .col(integer("room_id"))
                .col(integer("unit_id"))
                .primary_key(Index::create().col("room_id").col("unit_id"))
                .foreign_key(&mut fk("room_unit_coverage", "room_id", "rooms"))
                .foreign_key(&mut fk("room_unit_coverage", "unit_id", "room_units"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("room_unit_coverage", "unit", &["unit_id"], false))
            .await?;

        // 付帯設備, rented per slot.
        m.create_table(
            Table::create()
                .table("equipment")
                .col(pk_auto("id"))
                .col(integer("room_id"))
                .col(string("code"))
                .col(string("name"))
                .col(string("name_en"))
                .col(integer("fee_yen").check(non_negative("fee_yen")))
                .col(
                    integer("quantity")
                        .default(1)
                        .check(Expr::col("quantity").gt(0)),
                )
                .foreign_key(&mut fk("equipment", "room_id", "rooms"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("equipment", "room_code", &["room_id", "code"], true))
            .await?;

        m.create_table(
            Table::create()
                .table("public_holidays")
                .col(date("date").primary_key())
                .col(string("name"))
                .col(string("name_en"))
                .to_owned(),
        )
        .await?;

        // Manager closures of a whole facility (room_id NULL) or one room, by whole days.
        m.create_table(
            Table::create()
                .table("closures")
                .col(pk_auto("id"))
                .col(integer("facility_id"))
                .col(integer_null("room_id"))
                .col(date("starts_on"))
                .col(date("ends_on"))
                .col(string("kind").check(one_of(
                    "kind",
                    &["maintenance", "weather", "event", "official_use"],
                )))
                .col(string("reason"))
                .col(integer_null("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .check(Expr::col("starts_on").lte(Expr::col("ends_on")))
                .foreign_key(&mut fk("closures", "facility_id", "facilities"))
                .foreign_key(&mut fk("closures", "room_id", "rooms"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "closures",
            "facility_range",
            &["facility_id", "starts_on"],
            false,
        ))
        .await?;

        // コマ: one bookable period of one room, materialised from its template.
        m.create_table(
            Table::create()
                .table("slots")
                .col(big_pk_auto("id"))
                .col(integer("room_id"))
                .col(date("service_date"))
                .col(timestamp_with_time_zone("starts_at"))
                .col(timestamp_with_time_zone("ends_at"))
                .col(string("band"))
                .col(boolean("lighting"))
                .col(string("status").check(one_of("status", &["open", "closed"])))
                .col(integer_null("closure_id"))
                .check(Expr::col("starts_at").lt(Expr::col("ends_at")))
                .foreign_key(&mut fk("slots", "room_id", "rooms"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_slots_closure_id")
                        .from("slots", "closure_id")
                        .to("closures", "id")
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "slots",
            "room_start",
            &["room_id", "starts_at"],
            true,
        ))
        .await?;
        m.create_index(index(
            "slots",
            "date_room",
            &["service_date", "room_id"],
            false,
        ))
        .await?;

        // 使用料: resident weekday fee per slot of a band, effective from a date (history kept).
        m.create_table(
            Table::create()
                .table("room_prices")
                .col(pk_auto("id"))
                .col(integer("room_id"))
                .col(string("band"))
                .col(integer("amount_yen").check(non_negative("amount_yen")))
                .col(date("effective_from"))
                .foreign_key(&mut fk("room_prices", "room_id", "rooms"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "room_prices",
            "room_band_from",
            &["room_id", "band", "effective_from"],
            true,
        ))
        .await?;

        // City-wide multipliers, in percent, effective from a date.
        m.create_table(
            Table::create()
                .table("fee_policies")
                .col(pk_auto("id"))
                .col(date_uniq("effective_from"))
                .col(
                    integer("non_resident_percent")
                        .check(Expr::col("non_resident_percent").gte(100)),
                )
                .col(
                    integer("weekend_holiday_percent")
                        .check(Expr::col("weekend_holiday_percent").gte(100)),
                )
                .col(
                    integer("admission_event_percent")
                        .check(Expr::col("admission_event_percent").gte(100)),
                )
                .col(integer("commercial_percent").check(Expr::col("commercial_percent").gte(100)))
                .to_owned(),
        )
        .await?;

        // 減免: reductions granted to some users or groups.
        m.create_table(
            Table::create()
                .table("fee_reductions")
                .col(pk_auto("id"))
                .col(string_uniq("code"))
                .col(string("name"))
                .col(string("name_en"))
                .col(integer("percent_off").check(between("percent_off", 0, 100)))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("users")
                .col(pk_auto("id"))
                // Stored lower-cased; unique so one address is one account.
                .col(string_uniq("email"))
                .col(text_null("password_hash"))
                .col(string("display_name"))
                .col(string_null("name_kana"))
                .col(string("role").check(one_of("role", ROLES)))
                .col(
                    string("locale")
                        .default("ja")
                        .check(one_of("locale", &["ja", "en"])),
                )
                .col(timestamp_with_time_zone_null("email_verified_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("staff_assignments")
                .col(integer("user_id"))
                .col(integer("facility_id"))
                .primary_key(Index::create().col("user_id").col("facility_id"))
                .foreign_key(&mut fk("staff_assignments", "user_id", "users"))
                .foreign_key(&mut fk("staff_assignments", "facility_id", "facilities"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "staff_assignments",
            "facility",
            &["facility_id"],
            false,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            m.drop_table(
                Table::drop()
                    .table(Alias::new(*table))
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
