//! The demo city as loaded into the database: counts, divisible rooms, holidays, idempotency.

use yoyaku::services::seed::{self, CityFixture, SeedOptions};
use yoyaku_tests::{DEMO_PASSWORD, spawn_app};

#[tokio::test]
async fn the_demo_city_has_the_facilities_rooms_and_wards_of_a_designated_city() {
    let app = spawn_app().await;
    assert_eq!(app.count("SELECT COUNT(*) FROM wards").await, 18);
    assert!(app.count("SELECT COUNT(*) FROM facilities").await >= 80);
    assert!(
        app.count("SELECT COUNT(*) FROM rooms WHERE parent_room_id IS NULL")
            .await
            >= 600
    );
    // Every ward has facilities.
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT ward_id) FROM facilities")
            .await,
        18
    );
}

#[tokio::test]
async fn divisible_rooms_have_two_halves_each_covering_its_own_unit() {
    let app = spawn_app().await;
    let wholes = app
        .count("SELECT COUNT(*) FROM rooms r WHERE EXISTS (SELECT 1 FROM rooms h WHERE h.parent_room_id = r.id)")
        .await;
    assert!(wholes >= 20, "{wholes} divisible rooms");
    // A whole covers exactly two units; each half exactly one, which its whole also covers.
    let wrong_wholes = app
        .count(
            "SELECT COUNT(*) FROM rooms r WHERE EXISTS (SELECT 1 FROM rooms h WHERE h.parent_room_id = r.id) \
             AND (SELECT COUNT(*) FROM room_unit_coverage c WHERE c.room_id = r.id) <> 2",
        )
        .await;
    assert_eq!(wrong_wholes, 0);
    let halves_outside_their_whole = app
        .count(
            "SELECT COUNT(*) FROM rooms h JOIN room_unit_coverage c ON c.room_id = h.id \
             WHERE h.parent_room_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM room_unit_coverage w \
             WHERE w.room_id = h.parent_room_id AND w.unit_id = c.unit_id)",
        )
        .await;
    assert_eq!(halves_outside_their_whole, 0);
    let halves_with_one_unit = app
        .count(
            "SELECT COUNT(*) FROM rooms h WHERE h.parent_room_id IS NOT NULL \
             AND (SELECT COUNT(*) FROM room_unit_coverage c WHERE c.room_id = h.id) = 1",
        )
        .await;
    assert_eq!(halves_with_one_unit, 2 * wholes);
}

#[tokio::test]
async fn public_holidays_from_2024_to_2035_include_substitute_and_citizens_holidays() {
    let app = spawn_app().await;
    assert_eq!(app.count("SELECT COUNT(*) FROM public_holidays").await, 218);
    for (date, name) in [
        ("2024-02-12", "休日"),
        ("2026-09-22", "休日"),
        ("2025-03-20", "春分の日"),
        ("2035-01-01", "元日"),
    ] {
        let found = app
            .count(&format!(
                "SELECT COUNT(*) FROM public_holidays WHERE date = '{date}' AND name = '{name}'"
            ))
            .await;
        assert_eq!(found, 1, "{date} {name}");
    }
}

#[tokio::test]
async fn every_room_has_a_price_for_each_band_of_its_template() {
    let app = spawn_app().await;
    let missing = app
        .count(
            "SELECT COUNT(*) FROM rooms r JOIN slot_template_periods p ON p.template_id = r.slot_template_id \
             WHERE NOT EXISTS (SELECT 1 FROM room_prices rp WHERE rp.room_id = r.id AND rp.band = p.band)",
        )
        .await;
    assert_eq!(missing, 0);
}

#[tokio::test]
async fn the_demo_accounts_exist_with_their_roles_and_assignments() {
    let app = spawn_app().await;
    for (email, role) in [
        ("resident@demo.yoyaku.jp", "resident"),
        ("group@demo.yoyaku.jp", "resident"),
        ("staff@demo.yoyaku.jp", "staff"),
        ("manager@demo.yoyaku.jp", "manager"),
        ("admin@demo.yoyaku.jp", "admin"),
    ] {
        let n = app
            .count(&format!(
                "SELECT COUNT(*) FROM users WHERE email = '{email}' AND role = '{role}'"
            ))
            .await;
        assert_eq!(n, 1, "{email}");
    }
    let assigned = app
        .count("SELECT COUNT(*) FROM staff_assignments s JOIN users u ON u.id = s.user_id WHERE u.email = 'staff@demo.yoyaku.jp'")
        .await;
    assert_eq!(assigned, 2);
}

#[tokio::test]
async fn loading_the_city_twice_changes_nothing() {
    let app = spawn_app().await;
    let tables = [
        "wards",
        "facilities",
        "regular_closing_days",
        "rooms",
        "room_units",
        "room_unit_coverage",
        "equipment",
        "slot_templates",
        "slot_template_periods",
        "room_prices",
        "public_holidays",
        "fee_policies",
        "fee_reductions",
        "users",
        "staff_assignments",
        "cities",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(app.count(&format!("SELECT COUNT(*) FROM {table}")).await);
    }
    let fixture = CityFixture::demo().unwrap();
    let options = SeedOptions {
        demo_users: true,
        demo_password: DEMO_PASSWORD.into(),
    };
    seed::load_city(&app.db, &fixture, &options)
        .await
        .expect("second load");
    for (table, count) in tables.iter().zip(before) {
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) FROM {table}")).await,
            count,
            "{table} changed"
        );
    }
}

#[tokio::test]
async fn the_database_refuses_rows_that_break_its_rules() {
    let app = spawn_app().await;
    use sea_orm::ConnectionTrait;
    // A room kind the city does not have, a negative price and an unknown role are all refused by
    // CHECK constraints, whatever code tries to write them.
    let attempts = [
        "UPDATE rooms SET kind = 'bowling_alley' WHERE id = 1",
        "UPDATE room_prices SET amount_yen = -1 WHERE id = 1",
        "UPDATE users SET role = 'superuser' WHERE id = 1",
        "UPDATE facilities SET opens_minute = 1300, closes_minute = 600 WHERE id = 1",
        "INSERT INTO room_unit_coverage (room_id, unit_id) VALUES (999999, 999999)",
    ];
    for sql in attempts {
        assert!(
            app.db.execute_unprepared(sql).await.is_err(),
            "accepted: {sql}"
        );
    }
}
