//! End-to-end tests of the console's settings area (http::console::settings): the city-wide
//! rules, room prices, the fee policy and reduction rates as configuration that takes effect from
//! a date and keeps its history, on SQLite and PostgreSQL.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use yoyaku::domain::calendar::tokyo_date;
use yoyaku_tests::{TestApp, blamed_fields, error_of, spawn_app};

fn today() -> NaiveDate {
    tokyo_date(Utc::now())
}

async fn token(app: &TestApp, email: &str) -> String {
    app.login(email).await["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// The main gym (whole) of the Tsurumi sports center, which the demo manager runs.
async fn tsurumi_gym(app: &TestApp) -> i64 {
    app.count(
        "SELECT r.id FROM rooms r JOIN facilities f ON f.id = r.facility_id \
         WHERE f.code = 'tsurumi-sports-center' AND r.code = 'main-gym'",
    )
    .await
}

/// A room of a facility the demo manager is not assigned to.
async fn other_facilitys_room(app: &TestApp) -> i64 {
    app.count(
        "SELECT MIN(r.id) FROM rooms r JOIN facilities f ON f.id = r.facility_id \
         WHERE f.code NOT IN ('tsurumi-sports-center', 'kohoku-sports-center')",
    )
    .await
}

async fn save_rules(
    app: &TestApp,
    token: &str,
    section: &str,
    from: NaiveDate,
    toml: &str,
) -> (u16, Value) {
    let (status, _, body) = app
        .post_as(
            token,
            &format!("/api/v1/admin/settings/rules/{section}"),
            None,
            &json!({"effective_from": from, "toml": toml, "note": "テスト"}),
        )
        .await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn a_limit_saved_from_today_applies_to_the_next_booking_at_once() {
    let app = spawn_app().await;
    let admin = token(&app, "admin@demo.yoyaku.jp").await;
    let gym = tsurumi_gym(&app).await;
    let (_, slots) = app.free_slots_from(gym, 2).await;
    let (_, resident) = app.new_resident("resident").await;
    let (status, first) = app.book(&resident, gym, &[slots[0]]).await;
    assert_eq!(status, 201, "{first}");

    // One unpaid booking at a time, from today.
    let (status, saved) = save_rules(
        &app,
        &admin,
        "booking",
        today(),
        "[limits]\nmax_unpaid_at_once = 1\n",
    )
    .await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!(saved["status"], "in_force");

    let (status, refused) = app.book(&resident, gym, &[slots[2]]).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(error_of(&refused)["code"], "limit_reached");
    assert_eq!(blamed_fields(&refused), vec!["max_unpaid_at_once"]);
}

#[tokio::test]
async fn a_version_waits_for_its_day_and_the_history_keeps_every_version() {
    let app = spawn_app().await;
    let admin = token(&app, "admin@demo.yoyaku.jp").await;
    let tomorrow = today() + Duration::days(1);
    let (status, saved) = save_rules(&app, &admin, "penalties", tomorrow, "threshold = 5\n").await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!(saved["status"], "scheduled");
    assert_eq!(saved["values"]["threshold"], 5);

    let (status, view) = app
        .get_as(&admin, "/api/v1/admin/settings/rules/penalties")
        .await;
    assert_eq!(status, 200, "{view}");
    // Until tomorrow the configuration file's values stay in force.
    assert_eq!(view["in_force_since"], Value::Null);
    assert_eq!(view["in_force_values"]["threshold"], 3);
    assert_eq!(view["versions"].as_array().unwrap().len(), 1);
    assert_eq!(view["versions"][0]["saved_by"], "City Administrator");
    assert_eq!(view["versions"][0]["note"], "テスト");

    // A scheduled version may be replaced: still one version for that day, with the new values.
    let (status, _) = save_rules(&app, &admin, "penalties", tomorrow, "threshold = 6\n").await;
    assert_eq!(status, 201);
    let (_, view) = app
        .get_as(&admin, "/api/v1/admin/settings/rules/penalties")
        .await;
    assert_eq!(view["versions"].as_array().unwrap().len(), 1);
    assert_eq!(view["versions"][0]["values"]["threshold"], 6);
    // Both saves are in the audit log, the second with the values it replaced.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'rules.schedule'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'rules.replace_scheduled'")
            .await,
        1
    );

    // And withdrawn before its day.
    let id = view["versions"][0]["id"].as_i64().unwrap();
    let (status, _, _) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/settings/rules/penalties/versions/{id}/withdraw"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.count("SELECT COUNT(*) FROM rule_versions").await, 0);
}

#[tokio::test]
async fn a_version_in_force_can_neither_be_replaced_nor_withdrawn() {
    let app = spawn_app().await;
    let admin = token(&app, "admin@demo.yoyaku.jp").await;
    let (status, saved) = save_rules(&app, &admin, "lottery", today(), "max_wishes = 3\n").await;
    assert_eq!(status, 201, "{saved}");

    let (status, refused) = save_rules(&app, &admin, "lottery", today(), "max_wishes = 4\n").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(error_of(&refused)["code"], "already_in_force");

    let id = saved["id"].as_i64().unwrap();
    let (status, _, refused) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/settings/rules/lottery/versions/{id}/withdraw"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    let (_, view) = app
        .get_as(&admin, "/api/v1/admin/settings/rules/lottery")
        .await;
    assert_eq!(view["in_force_values"]["max_wishes"], 3);
}

#[tokio::test]
async fn bad_rules_are_refused_naming_the_field_and_nothing_is_saved() {
    let app = spawn_app().await;
    let admin = token(&app, "admin@demo.yoyaku.jp").await;
    let tomorrow = today() + Duration::days(1);
    for (section, from, toml, field) in [
        ("penalties", tomorrow, "treshold = 4\n", "toml"),
        ("penalties", tomorrow, "threshold = 0\n", "toml.threshold"),
        (
            "booking",
            tomorrow,
            "[window]\nopens_on_day = 40\n",
            "toml.window.opens_on_day",
        ),
        ("lottery", tomorrow, "max_wishes = \"five\"\n", "toml"),
        (
            "penalties",
            today() - Duration::days(1),
            "threshold = 4\n",
            "effective_from",
        ),
        (
            "penalties",
            today() + Duration::days(3 * 365),
            "threshold = 4\n",
            "effective_from",
        ),
    ] {
        let (status, body) = save_rules(&app, &admin, section, from, toml).await;
        assert_eq!(status, 422, "{section} {toml}: {body}");
        assert_eq!(
            blamed_fields(&body),
            vec![field],
            "{section} {toml}: {body}"
        );
    }
    let (status, _) = save_rules(&app, &admin, "prices", tomorrow, "").await;
    assert_eq!(status, 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM rule_versions").await, 0);
}

#[tokio::test]
async fn a_scheduled_room_fee_prices_the_uses_from_its_day_only() {
    let app = spawn_app().await;
    let manager = token(&app, "manager@demo.yoyaku.jp").await;
    let gym = tsurumi_gym(&app).await;
    let (_, resident) = app.new_resident("resident").await;
    let (day, slots) = app.free_slots_from(gym, 3).await;
    let quote = |slot: i64| {
        let (app, resident) = (&app, resident.clone());
        async move {
            let (status, _, body) = app
                .post_as(
                    &resident,
                    "/api/v1/bookings/quote",
                    None,
                    &json!({"room_id": gym, "slot_ids": [slot], "purpose": "練習", "attendees": 8}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            body["total_yen"].as_i64().unwrap()
        }
    };
    let before = quote(slots[0]).await;

    let (status, view) = app
        .get_as(
            &manager,
            &format!("/api/v1/admin/settings/rooms/{gym}/prices"),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    let bands: Vec<String> = view["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect();
    // Double every band's fee from the day of use on.
    let prices: serde_json::Map<String, Value> = bands
        .iter()
        .map(|b| (b.clone(), json!(view["in_force"][b].as_i64().unwrap() * 2)))
        .collect();
    let (status, _, saved) = app
        .post_as(
            &manager,
            &format!("/api/v1/admin/settings/rooms/{gym}/prices"),
            None,
            &json!({"effective_from": day, "prices": prices}),
        )
        .await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!(quote(slots[0]).await, before * 2);

    // A day earlier it would not have applied: schedule the old fees back for the day after,
    // and a slot that day is priced as before.
    let (later, later_slots) = app.free_slots_from(gym, 7).await;
    assert!(later > day);
    let old: serde_json::Map<String, Value> = bands
        .iter()
        .map(|b| (b.clone(), view["in_force"][b].clone()))
        .collect();
    let (status, _, _) = app
        .post_as(
            &manager,
            &format!("/api/v1/admin/settings/rooms/{gym}/prices"),
            None,
            &json!({"effective_from": later, "prices": old}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(quote(later_slots[0]).await, before);
    assert_eq!(quote(slots[0]).await, before * 2);
}

#[tokio::test]
async fn bad_prices_name_the_band_and_a_fee_in_force_is_history() {
    let app = spawn_app().await;
    let manager = token(&app, "manager@demo.yoyaku.jp").await;
    let gym = tsurumi_gym(&app).await;
    let path = format!("/api/v1/admin/settings/rooms/{gym}/prices");
    let (_, view) = app.get_as(&manager, &path).await;
    let band = view["bands"][0].as_str().unwrap().to_owned();
    let tomorrow = today() + Duration::days(1);
    for (prices, field) in [
        (json!({"nosuchband": 100}), "prices.nosuchband".to_owned()),
        (json!({&band: -1}), format!("prices.{band}")),
        (json!({&band: 2_000_000}), format!("prices.{band}")),
        (json!({}), "prices".to_owned()),
    ] {
        let (status, _, body) = app
            .post_as(
                &manager,
                &path,
                None,
                &json!({"effective_from": tomorrow, "prices": prices}),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(blamed_fields(&body), vec![field]);
    }
    // The seeded fees are in force: changing their own day is refused.
    let first_day = view["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "in_force")
        .unwrap()["effective_from"]
        .clone();
    let (status, _, body) = app
        .post_as(
            &manager,
            &path,
            None,
            &json!({"effective_from": first_day, "prices": {&band: 100}}),
        )
        .await;
    // Its day is in the past (refused as a date) or today (refused as history).
    assert!(status == 422 || status == 409, "{status} {body}");
}

#[tokio::test]
async fn the_fee_policy_and_reduction_rates_are_scheduled_by_administrators() {
    let app = spawn_app().await;
    let admin = token(&app, "admin@demo.yoyaku.jp").await;
    let tomorrow = today() + Duration::days(1);
    let (status, _, rows) = app
        .post_as(
            &admin,
            "/api/v1/admin/settings/fee-policy",
            None,
            &json!({"effective_from": tomorrow, "non_resident_percent": 200,
                    "weekend_holiday_percent": 120, "admission_event_percent": 150,
                    "commercial_percent": 300}),
        )
        .await;
    assert_eq!(status, 201, "{rows}");
    assert_eq!(rows[0]["status"], "scheduled");
    assert_eq!(rows[0]["non_resident_percent"], 200);

    let (status, _, body) = app
        .post_as(
            &admin,
            "/api/v1/admin/settings/fee-policy",
            None,
            &json!({"effective_from": tomorrow, "non_resident_percent": 90,
                    "weekend_holiday_percent": 120, "admission_event_percent": 150,
                    "commercial_percent": 300}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(blamed_fields(&body), vec!["non_resident_percent"]);

    let (_, list) = app
        .get_as(&admin, "/api/v1/admin/settings/reductions")
        .await;
    let code = list[0]["code"].as_str().unwrap().to_owned();
    let (status, _, list) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/settings/reductions/{code}/rates"),
            None,
            &json!({"effective_from": tomorrow, "percent_off": 30, "note": "条例改正"}),
        )
        .await;
    assert_eq!(status, 201, "{list}");
    let reduction = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code.as_str())
        .unwrap();
    assert_eq!(reduction["rates"][0]["percent_off"], 30);
    assert_eq!(reduction["rates"][0]["status"], "scheduled");
    assert_eq!(reduction["rates"][1]["status"], "in_force");

    let (status, _, body) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/settings/reductions/{code}/rates"),
            None,
            &json!({"effective_from": tomorrow, "percent_off": 101}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(blamed_fields(&body), vec!["percent_off"]);
}

/// Each settings route × role: who may read, who may change.
#[tokio::test]
async fn each_settings_route_is_allowed_to_exactly_the_roles_it_names() {
    let app = spawn_app().await;
    let gym = tsurumi_gym(&app).await;
    let elsewhere = other_facilitys_room(&app).await;
    let (_, resident) = app.new_resident("resident").await;
    let staff = token(&app, "staff@demo.yoyaku.jp").await;
    let manager = token(&app, "manager@demo.yoyaku.jp").await;
    let admin = token(&app, "admin@demo.yoyaku.jp").await;
    let tomorrow = today() + Duration::days(1);
    let (_, view) = app
        .get_as(
            &admin,
            &format!("/api/v1/admin/settings/rooms/{gym}/prices"),
        )
        .await;
    let band = view["bands"][0].as_str().unwrap().to_owned();
    let fee = view["in_force"][&band].as_i64().unwrap();

    let reads = [
        "/api/v1/admin/settings/rules/booking".to_owned(),
        "/api/v1/admin/settings/fee-policy".to_owned(),
        "/api/v1/admin/settings/reductions".to_owned(),
        format!("/api/v1/admin/settings/rooms/{gym}/prices"),
    ];
    for path in &reads {
        assert_eq!(app.get(path).await.status(), 401, "{path}");
        assert_eq!(app.get_as(&resident, path).await.0, 403, "{path}");
        for who in [&staff, &manager, &admin] {
            assert_eq!(app.get_as(who, path).await.0, 200, "{path}");
        }
    }
    // Another facility's room: its manager and staff may not even read it.
    let path = format!("/api/v1/admin/settings/rooms/{elsewhere}/prices");
    assert_eq!(app.get_as(&manager, &path).await.0, 403);
    assert_eq!(app.get_as(&staff, &path).await.0, 403);
    assert_eq!(app.get_as(&admin, &path).await.0, 200);

    // City-wide rules: administrators only.
    for who in [&resident, &staff, &manager] {
        let (status, _) = save_rules(&app, who, "penalties", tomorrow, "threshold = 4\n").await;
        assert_eq!(status, 403);
    }
    let (status, _) = save_rules(&app, &admin, "penalties", tomorrow, "threshold = 4\n").await;
    assert_eq!(status, 201);
    let policy = json!({"effective_from": tomorrow, "non_resident_percent": 150,
        "weekend_holiday_percent": 120, "admission_event_percent": 150, "commercial_percent": 300});
    for who in [&resident, &staff, &manager] {
        let (status, _, _) = app
            .post_as(who, "/api/v1/admin/settings/fee-policy", None, &policy)
            .await;
        assert_eq!(status, 403);
    }
    // Room prices: the facility's manager and administrators; not staff, not another manager.
    let prices = json!({"effective_from": tomorrow, "prices": {&band: fee}});
    let own = format!("/api/v1/admin/settings/rooms/{gym}/prices");
    for (who, expected) in [
        (&resident, 403),
        (&staff, 403),
        (&manager, 201),
        (&admin, 201),
    ] {
        let (status, _, body) = app.post_as(who, &own, None, &prices).await;
        assert_eq!(status, expected, "{body}");
    }
    let (status, _, _) = app
        .post_as(
            &manager,
            &format!("/api/v1/admin/settings/rooms/{elsewhere}/prices"),
            None,
            &prices,
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_settings_pages_open_on_the_values_in_force_and_refuse_residents() {
    let app = spawn_app().await;
    let gym = tsurumi_gym(&app).await;
    let admin = token(&app, "admin@demo.yoyaku.jp").await;
    let (_, resident) = app.new_resident("resident").await;
    let page = |token: String, path: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .get(format!("{}{path}", app.address))
                .header("Cookie", format!("yoyaku_access={token}"))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    for path in [
        "/staff/settings".to_owned(),
        "/staff/settings/rules/booking".to_owned(),
        "/staff/settings/rules/penalties".to_owned(),
        "/staff/settings/rules/lottery".to_owned(),
        "/staff/settings/fee-policy".to_owned(),
        "/staff/settings/reductions".to_owned(),
        format!("/staff/settings/rooms/{gym}/prices"),
    ] {
        let (status, html) = page(admin.clone(), path.clone()).await;
        assert_eq!(status, 200, "{path}: {html}");
        assert!(html.contains("<h1>"), "{path}");
        let (status, _) = page(resident.clone(), path.clone()).await;
        assert_eq!(status, 403, "{path}");
    }
    let (_, html) = page(admin.clone(), "/staff/settings/rules/penalties".into()).await;
    // The editor starts from the values in force, in the configuration file's TOML.
    assert!(html.contains("threshold = 3"), "{html}");
    assert!(html.contains("name=\"effective_from\""));
    let (status, _) = page(admin.clone(), "/staff/settings/rules/nosuch".into()).await;
    assert_eq!(status, 404);
}

/// Two instances on one database: a rule saved on one reaches the other by its periodic reload,
/// without a restart.
#[tokio::test]
async fn a_rule_saved_on_one_instance_reaches_another_within_its_reload_period() {
    let app = spawn_app().await;
    let mut settings = yoyaku_tests::test_settings(&app.database);
    settings.rules_reload_seconds = 1;
    let other = yoyaku::startup::Application::build(settings)
        .await
        .expect("a second instance");
    let other_state = other.state().clone();
    tokio::spawn(other.run_until(std::future::pending()));
    assert_eq!(other_state.rules.now().penalties.threshold, 3);

    let admin = token(&app, "admin@demo.yoyaku.jp").await;
    let (status, body) = save_rules(&app, &admin, "penalties", today(), "threshold = 7\n").await;
    assert_eq!(status, 201, "{body}");
    // The saving instance has it at once.
    let (_, view) = app
        .get_as(&admin, "/api/v1/admin/settings/rules/penalties")
        .await;
    assert_eq!(view["in_force_values"]["threshold"], 7);
    // The other within its reload period (1 s here); given up after 10 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while other_state.rules.now().penalties.threshold != 7 {
        assert!(
            std::time::Instant::now() < deadline,
            "the second instance never reread the rules"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
