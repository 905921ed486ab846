//! End-to-end tests of the console's counter area (http::console::counter), on SQLite and PostgreSQL.
//!
//! Finding a person by each method and the refusals; booking on their behalf at the counter
//! (marked as staff-made, with conflicts and limits still enforced, only at assigned
//! facilities), then the counter payment; walk-ins after the online cutoff for staff but not
//! for the resident's own call; the audit log and its filters; every route × role; and the
//! pages without JavaScript.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use yoyaku::domain::calendar::tokyo_date;
use yoyaku_tests::{TestApp, blamed_fields, error_of, spawn_app, spawn_app_with};

use crate::web_pages::{Jar, form_token, get, post};

const DEMO_CARD: &str = "9000000068";

async fn token(app: &TestApp, email: &str) -> String {
    app.login(email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn id_of(app: &TestApp, sql: &str) -> i64 {
    app.count(sql).await
}

/// The Tsurumi sports center and its main gym.
async fn tsurumi_gym(app: &TestApp) -> (i64, i64) {
    let facility = id_of(
        app,
        "SELECT id FROM facilities WHERE code = 'tsurumi-sports-center'",
    )
    .await;
    let gym = id_of(
        app,
        &format!("SELECT id FROM rooms WHERE facility_id = {facility} AND code = 'main-gym'"),
    )
    .await;
    (facility, gym)
}

/// A staff member assigned only to a facility other than Tsurumi and Kohoku.
async fn stranger_staff(app: &TestApp) -> String {
    use sea_orm::ConnectionTrait;
    let other = id_of(
        app,
        "SELECT MIN(id) FROM facilities WHERE code NOT IN ('tsurumi-sports-center', 'kohoku-sports-center')",
    )
    .await;
    app.db
        .execute_unprepared(
            "INSERT INTO users (email, password_hash, display_name, role, residency, locale, email_verified_at, created_at, registration_state) \
             VALUES ('elsewhere@test.yoyaku.jp', NULL, '他館 職員', 'staff', 'resident', 'ja', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 'approved')",
        )
        .await
        .unwrap();
    let id = id_of(
        app,
        "SELECT id FROM users WHERE email = 'elsewhere@test.yoyaku.jp'",
    )
    .await;
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO staff_assignments (user_id, facility_id) VALUES ({id}, {other})"
        ))
        .await
        .unwrap();
    app.keys
        .issue_access(id as i32, yoyaku::domain::roles::Role::Staff)
        .0
}

async fn demo_resident(app: &TestApp) -> i64 {
    id_of(
        app,
        "SELECT id FROM users WHERE email = 'resident@demo.yoyaku.jp'",
    )
    .await
}

fn request(room: i64, slots: &[i64]) -> Value {
    json!({"room_id": room, "slot_ids": slots, "purpose": "卓球の練習", "attendees": 4})
}

async fn counter_book(
    app: &TestApp,
    staff: &str,
    resident: i64,
    room: i64,
    slots: &[i64],
) -> (StatusCode, Value) {
    let key = uuid::Uuid::new_v4().to_string();
    let (status, _, body) = app
        .post_as(
            staff,
            &format!("/api/v1/admin/residents/{resident}/bookings"),
            Some(&key),
            &request(room, slots),
        )
        .await;
    (status, body)
}

async fn audit_rows(app: &TestApp, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
    ))
    .await
}

#[tokio::test]
async fn staff_find_a_person_by_card_number_by_name_and_birth_or_by_phone_and_each_search_is_audited()
 {
    let app = spawn_app().await;
    let staff = token(&app, "staff@demo.yoyaku.jp").await;
    let resident = demo_resident(&app).await;
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET phone = '0456712121' WHERE id = {resident}"
        ))
        .await
        .unwrap();

    for query in [
        "card_number=9000-0000-68".to_owned(),
        "name=%E3%83%8F%E3%83%8A%E3%82%B3&date_of_birth=1985-05-05".to_owned(), // ハナコ (kana, katakana)
        "name=%E6%A8%AA%E6%B5%9C%20%E8%8A%B1%E5%AD%90&date_of_birth=1985-05-05".to_owned(), // 横浜 花子
        "phone=045-671-2121".to_owned(),
    ] {
        let (status, body) = app
            .get_as(&staff, &format!("/api/v1/admin/residents?{query}"))
            .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body["total"], 1, "{query}: {body}");
        let person = &body["items"][0];
        assert_eq!(person["user_id"], resident);
        assert_eq!(person["card_number"], DEMO_CARD);
        assert_eq!(person["may_book"], true);
        assert!(person.get("email").is_none() && person.get("address").is_none());
    }
    assert_eq!(audit_rows(&app, "resident.search").await, 4);

    // The right name with another birthday finds no one, and shows no one: nothing audited.
    let (status, body) = app
        .get_as(
            &staff,
            "/api/v1/admin/residents?name=%E3%81%AF%E3%81%AA%E3%81%93&date_of_birth=1985-05-06",
        )
        .await;
    assert_eq!((status.as_u16(), body["total"].as_u64()), (200, Some(0)));
    assert_eq!(audit_rows(&app, "resident.search").await, 4);
}

#[tokio::test]
async fn vague_or_malformed_searches_are_refused_naming_the_field_and_never_list_everyone() {
    let app = spawn_app().await;
    let staff = token(&app, "staff@demo.yoyaku.jp").await;
    for (query, status, code, field) in [
        ("", 422, "search_too_broad", "card_number"),
        (
            "name=%E6%A8%AA%E6%B5%9C",
            422,
            "search_too_broad",
            "date_of_birth",
        ),
        (
            "name=%E6%A8%AA&date_of_birth=1985-05-05",
            422,
            "search_too_broad",
            "name",
        ),
        (
            "card_number=9000000068&phone=0456712121",
            422,
            "search_too_broad",
            "card_number",
        ),
        (
            "card_number=9000000069",
            400,
            "invalid_input",
            "card_number",
        ),
        ("phone=12345", 400, "invalid_input", "phone"),
        (
            "name=%E6%A8%AA%E6%B5%9C&date_of_birth=1985-02-30",
            400,
            "invalid_input",
            "date_of_birth",
        ),
        (
            "email=resident%40demo.yoyaku.jp",
            400,
            "unknown_parameter",
            "email",
        ),
    ] {
        let (got, body) = app
            .get_as(&staff, &format!("/api/v1/admin/residents?{query}"))
            .await;
        assert_eq!(got.as_u16(), status, "{query}: {body}");
        assert_eq!(error_of(&body)["code"], code, "{query}");
        assert_eq!(blamed_fields(&body), vec![field.to_owned()], "{query}");
    }

    // Six people sharing a phone number are too many to show: refused, not listed.
    use sea_orm::ConnectionTrait;
    for _ in 0..6 {
        let (id, _) = app.new_resident("resident").await;
        app.db
            .execute_unprepared(&format!(
                "UPDATE users SET phone = '0311112222' WHERE id = {id}"
            ))
            .await
            .unwrap();
    }
    let (status, body) = app
        .get_as(&staff, "/api/v1/admin/residents?phone=03-1111-2222")
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(blamed_fields(&body), vec!["phone".to_owned()]);
    assert!(body.get("items").is_none());
    assert_eq!(audit_rows(&app, "resident.search").await, 0);
}

#[tokio::test]
async fn a_counter_booking_is_marked_as_made_by_staff_and_paid_at_the_counter_with_a_receipt() {
    let app = spawn_app().await;
    let staff = token(&app, "staff@demo.yoyaku.jp").await;
    let staff_id = id_of(
        &app,
        "SELECT id FROM users WHERE email = 'staff@demo.yoyaku.jp'",
    )
    .await;
    let resident = demo_resident(&app).await;
    let (facility, gym) = tsurumi_gym(&app).await;
    let (_, slots) = app.free_slots_from(gym, 10).await;

    let (status, _, quote) = app
        .post_as(
            &staff,
            &format!("/api/v1/admin/residents/{resident}/bookings/quote"),
            None,
            &request(gym, &slots[..2]),
        )
        .await;
    assert_eq!(status, 200, "{quote}");
    assert!(quote["total_yen"].as_i64().unwrap() > 0, "{quote}");

    let (status, booking) = counter_book(&app, &staff, resident, gym, &slots[..2]).await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(booking["channel"], "counter");
    assert_eq!(booking["state"], "awaiting_payment");
    assert_eq!(booking["total_yen"], quote["total_yen"]);
    let id = booking["id"].as_i64().unwrap();

    // On the booking, in its history and in the audit log: who, at which facility.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM bookings WHERE id = {id} AND user_id = {resident} \
             AND channel = 'counter' AND created_by = {staff_id}"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {id} \
             AND actor_user_id = {staff_id} AND reason LIKE '%counter of facility {facility}%'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'booking.counter' \
             AND subject_id = {id} AND actor_user_id = {staff_id}"
        ))
        .await,
        1
    );
    // The resident sees it among their own bookings, marked as made at the counter.
    let own = token(&app, "resident@demo.yoyaku.jp").await;
    let (_, mine) = app.get_as(&own, &format!("/api/v1/bookings/{id}")).await;
    assert_eq!(mine["channel"], "counter");

    let total = booking["total_yen"].as_i64().unwrap();
    let (status, _, paid) = app
        .post_as(
            &staff,
            &format!("/api/v1/admin/bookings/{id}/counter-payment"),
            None,
            &json!({"method": "cash", "amount_yen": total}),
        )
        .await;
    assert_eq!(status, 201, "{paid}");
    let receipt = paid["payment"]["receipt_number"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, view) = app
        .get_as(&staff, &format!("/api/v1/admin/counter/bookings/{id}"))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["booking"]["state"], "confirmed");
    assert_eq!(view["receipt_number"], receipt.as_str());
    assert_eq!(view["paid_with"], "counter_cash");
    assert_eq!(view["booked_by"], "鶴見 受付");
    assert_eq!(view["holder"]["card_number"], DEMO_CARD);
    assert_eq!(audit_rows(&app, "booking.view").await, 1);
}

#[tokio::test]
async fn counter_bookings_still_meet_conflicts_limits_and_registration_rules() {
    let app = spawn_app().await;
    let staff = token(&app, "staff@demo.yoyaku.jp").await;
    let (_, gym) = tsurumi_gym(&app).await;
    let (_, slots) = app.free_slots_from(gym, 10).await;

    // Taken online first: the counter gets slot_taken.
    let (_, online) = app.new_resident("resident").await;
    let (status, _) = app.book(&online, gym, &[slots[0]]).await;
    assert_eq!(status, 201);
    let (person, _) = app.new_resident("resident").await;
    let (status, body) = counter_book(&app, &staff, i64::from(person), gym, &[slots[0]]).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body)["code"], "slot_taken");

    // The unpaid limit (3 at once) counts counter bookings like online ones.
    for slot in &slots[1..4] {
        let (status, body) = counter_book(&app, &staff, i64::from(person), gym, &[*slot]).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = counter_book(&app, &staff, i64::from(person), gym, &[slots[4]]).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body)["code"], "limit_reached");
    assert_eq!(blamed_fields(&body), vec!["max_unpaid_at_once".to_owned()]);

    // A registration still under review cannot book, at the counter either.
    use sea_orm::ConnectionTrait;
    let (pending, _) = app.new_resident("resident").await;
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET registration_state = 'pending_review' WHERE id = {pending}"
        ))
        .await
        .unwrap();
    let (status, body) = counter_book(&app, &staff, i64::from(pending), gym, &[slots[4]]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_of(&body)["code"], "registration_not_approved");

    // Staff cannot book "for" another staff member, nor for no one.
    let manager = id_of(
        &app,
        "SELECT id FROM users WHERE email = 'manager@demo.yoyaku.jp'",
    )
    .await;
    let (status, _) = counter_book(&app, &staff, manager, gym, &[slots[4]]).await;
    assert_eq!(status, 404);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM bookings WHERE channel = 'counter'")
            .await,
        3
    );
}

#[tokio::test]
async fn staff_book_only_at_their_facilities() {
    let app = spawn_app().await;
    let manager = token(&app, "manager@demo.yoyaku.jp").await;
    let resident = demo_resident(&app).await;
    let kohoku = id_of(
        &app,
        "SELECT id FROM facilities WHERE code = 'kohoku-sports-center'",
    )
    .await;
    let room = id_of(
        &app,
        &format!("SELECT MIN(id) FROM rooms WHERE facility_id = {kohoku} AND requires_group = false AND uses_lottery = false"),
    )
    .await;
    let (_, slots) = app.free_slots_from(room, 10).await;
    // The manager is assigned to Tsurumi only.
    let (status, body) = counter_book(&app, &manager, resident, room, &[slots[0]]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_of(&body)["code"], "forbidden");
    // Staff of Tsurumi and Kohoku may.
    let staff = token(&app, "staff@demo.yoyaku.jp").await;
    let (status, body) = counter_book(&app, &staff, resident, room, &[slots[0]]).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn after_online_booking_closes_staff_take_a_walk_in_but_the_resident_cannot_book_online() {
    // Online booking closes a week before use here, so the next open weekday is in the counter
    // phase, as today's slots are with the default rules.
    let app = spawn_app_with(|s| s.booking.window.closes_days_before = 7).await;
    let (_, gym) = tsurumi_gym(&app).await;
    let (day, slots) = app.free_slots_from(gym, 1).await;
    assert!(day <= tokyo_date(Utc::now()) + chrono::Duration::days(7));

    let own = token(&app, "resident@demo.yoyaku.jp").await;
    let (status, body) = app.book(&own, gym, &[slots[0]]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["code"], "booking_closed");

    let staff = token(&app, "staff@demo.yoyaku.jp").await;
    let resident = demo_resident(&app).await;
    let (status, booking) = counter_book(&app, &staff, resident, gym, &[slots[0]]).await;
    assert_eq!(status, 201, "{booking}");
    let id = booking["id"].as_i64().unwrap();
    let (status, _, paid) = app
        .post_as(
            &staff,
            &format!("/api/v1/admin/bookings/{id}/counter-payment"),
            None,
            &json!({"method": "terminal", "amount_yen": booking["total_yen"]}),
        )
        .await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["booking_state"], "confirmed");
}

#[tokio::test]
async fn the_audit_log_lists_staff_actions_newest_first_with_filters_for_administrators_only() {
    let app = spawn_app().await;
    let staff = token(&app, "staff@demo.yoyaku.jp").await;
    let staff_id = id_of(
        &app,
        "SELECT id FROM users WHERE email = 'staff@demo.yoyaku.jp'",
    )
    .await;
    let resident = demo_resident(&app).await;
    let (_, gym) = tsurumi_gym(&app).await;
    let (_, slots) = app.free_slots_from(gym, 10).await;
    app.get_as(
        &staff,
        &format!("/api/v1/admin/residents?card_number={DEMO_CARD}"),
    )
    .await;
    let (_, booking) = counter_book(&app, &staff, resident, gym, &[slots[0]]).await;
    let booking_id = booking["id"].as_i64().unwrap();
    let manager = token(&app, "manager@demo.yoyaku.jp").await;
    app.get_as(
        &manager,
        &format!("/api/v1/admin/counter/bookings/{booking_id}"),
    )
    .await;

    let admin = token(&app, "admin@demo.yoyaku.jp").await;
    let (status, page) = app
        .get_as(&admin, &format!("/api/v1/admin/audit?actor={staff_id}"))
        .await;
    assert_eq!(status, 200, "{page}");
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["booking.counter", "resident.search"],
        "newest first"
    );
    assert_eq!(page["items"][0]["actor_name"], "鶴見 受付");
    assert_eq!(page["per_page"], 50);

    let (_, by_subject) = app
        .get_as(
            &admin,
            &format!("/api/v1/admin/audit?subject_type=booking&subject_id={booking_id}"),
        )
        .await;
    assert_eq!(by_subject["total"], 2, "booked and viewed: {by_subject}");
    let (_, views) = app
        .get_as(&admin, "/api/v1/admin/audit?action=booking.view")
        .await;
    assert_eq!(views["total"], 1);
    let (_, family) = app
        .get_as(&admin, "/api/v1/admin/audit?action=resident.")
        .await;
    assert_eq!(family["total"], 1);
    let today = tokyo_date(Utc::now());
    let yesterday = today - chrono::Duration::days(1);
    let (_, none) = app
        .get_as(
            &admin,
            &format!("/api/v1/admin/audit?actor={staff_id}&from={yesterday}&to={yesterday}"),
        )
        .await;
    assert_eq!(none["total"], 0);
    let (_, todays) = app
        .get_as(
            &admin,
            &format!("/api/v1/admin/audit?actor={staff_id}&from={today}&to={today}"),
        )
        .await;
    assert_eq!(todays["total"], 2);

    for (query, field) in [
        ("page=0", "page"),
        ("action=DROP", "action"),
        ("from=2026-11-02&to=2026-11-01", "to"),
        ("actor=abc", "actor"),
    ] {
        let (status, body) = app
            .get_as(&admin, &format!("/api/v1/admin/audit?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(blamed_fields(&body), vec![field.to_owned()], "{query}");
    }

    let csv = app
        .client
        .get(format!(
            "{}/api/v1/admin/audit.csv?actor={staff_id}",
            app.address
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert!(text.starts_with('\u{FEFF}'));
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("booking.counter"));
    // Reading the log is itself recorded.
    assert!(audit_rows(&app, "audit.view").await >= 6);
    assert_eq!(audit_rows(&app, "audit.export").await, 1);
}

/// The roles the table below tries, in its column order.
const ROLES: [&str; 6] = [
    "nobody", "resident", "stranger", "staff", "manager", "admin",
];

#[tokio::test]
async fn every_counter_route_answers_each_role_as_its_scope_allows() {
    let app = spawn_app().await;
    let resident = demo_resident(&app).await;
    let (_, gym) = tsurumi_gym(&app).await;
    let (_, slots) = app.free_slots_from(gym, 10).await;
    let staff = token(&app, "staff@demo.yoyaku.jp").await;
    let (_, booking) = counter_book(&app, &staff, resident, gym, &[slots[0]]).await;
    let booking_id = booking["id"].as_i64().unwrap();
    let tokens = [
        String::new(),
        token(&app, "resident@demo.yoyaku.jp").await,
        stranger_staff(&app).await,
        staff,
        token(&app, "manager@demo.yoyaku.jp").await,
        token(&app, "admin@demo.yoyaku.jp").await,
    ];

    let get_routes: [(String, [u16; 6]); 4] = [
        (
            format!("/api/v1/admin/residents?card_number={DEMO_CARD}"),
            [401, 403, 200, 200, 200, 200],
        ),
        (
            format!("/api/v1/admin/counter/bookings/{booking_id}"),
            [401, 403, 403, 200, 200, 200],
        ),
        ("/api/v1/admin/audit".into(), [401, 403, 403, 403, 403, 200]),
        (
            "/api/v1/admin/audit.csv".into(),
            [401, 403, 403, 403, 403, 200],
        ),
    ];
    for (path, expected) in &get_routes {
        for (i, who) in tokens.iter().enumerate() {
            let (status, body) = if who.is_empty() {
                app.get_json(path).await
            } else {
                app.get_as(who, path).await
            };
            assert_eq!(
                status.as_u16(),
                expected[i],
                "{} GET {path}: {body}",
                ROLES[i]
            );
        }
    }

    // Writes: each allowed role books its own slot for a new resident.
    let quote_path = format!("/api/v1/admin/residents/{resident}/bookings/quote");
    let expected = [401, 403, 403, 201, 201, 201];
    for (i, who) in tokens.iter().enumerate() {
        let (person, _) = app.new_resident("resident").await;
        let path = format!("/api/v1/admin/residents/{person}/bookings");
        // Refused roles book nothing, so they try the slot the first allowed role then books.
        let body = request(gym, &[slots[if i >= 3 { i - 2 } else { 1 }]]);
        let key = uuid::Uuid::new_v4().to_string();
        let (status, answer) = if who.is_empty() {
            app.post_json(&path, &body).await
        } else {
            let (s, _, a) = app.post_as(who, &path, Some(&key), &body).await;
            (s, a)
        };
        assert_eq!(
            status.as_u16(),
            expected[i],
            "{} POST {path}: {answer}",
            ROLES[i]
        );
        let (status, answer) = if who.is_empty() {
            app.post_json(&quote_path, &body).await
        } else {
            let (s, _, a) = app.post_as(who, &quote_path, None, &body).await;
            (s, a)
        };
        let quoted = if expected[i] == 201 { 200 } else { expected[i] };
        assert_eq!(status.as_u16(), quoted, "{} POST quote: {answer}", ROLES[i]);
    }
}

/// Sign in through the form; the jar then holds the browser session.
pub(crate) async fn sign_in_as(app: &TestApp, email: &str) -> Jar {
    let mut jar = Jar::default();
    let (_, _, html) = get(app, &mut jar, "/login").await;
    let csrf = form_token(&html);
    let (status, _, _) = post(
        app,
        &mut jar,
        "/login",
        &[
            ("email", email),
            ("password", yoyaku_tests::DEMO_PASSWORD),
            ("csrf", &csrf),
            ("next", "/staff"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    jar
}

#[tokio::test]
async fn the_counter_pages_answer_each_role_as_its_scope_allows() {
    let app = spawn_app().await;
    let mut jars = vec![Jar::default()];
    for email in [
        "resident@demo.yoyaku.jp",
        "staff@demo.yoyaku.jp",
        "manager@demo.yoyaku.jp",
        "admin@demo.yoyaku.jp",
    ] {
        jars.push(sign_in_as(&app, email).await);
    }
    for (path, expected) in [
        ("/staff/counter", [303, 403, 200, 200, 200]),
        ("/staff/registrations", [303, 403, 200, 200, 200]),
        ("/staff/audit", [303, 403, 403, 403, 200]),
    ] {
        for (i, jar) in jars.iter_mut().enumerate() {
            let (status, _, html) = get(&app, jar, path).await;
            assert_eq!(status.as_u16(), expected[i], "{path} as #{i}: {html}");
        }
    }
}

/// Upload a small PNG as the bearer's identity document (a multipart form written by hand).
async fn upload_png(app: &TestApp, token: &str) {
    let boundary = "----yoyakucounter";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ndrivers_licence\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"id.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\0\0\0\0");
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = app
        .client
        .post(format!("{}/api/v1/me/documents", app.address))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn staff_review_a_registration_through_the_pages_and_every_view_is_recorded() {
    let app = spawn_app().await;
    use sea_orm::ConnectionTrait;
    let (person, token) = app.new_resident("resident").await;
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET registration_state = 'pending_review', card_number = NULL WHERE id = {person}"
        ))
        .await
        .unwrap();
    upload_png(&app, &token).await;
    let mut jar = sign_in_as(&app, "staff@demo.yoyaku.jp").await;

    let (status, _, queue) = get(&app, &mut jar, "/staff/registrations").await;
    assert_eq!(status, 200);
    assert!(queue.contains(&format!("/staff/registrations/{person}")));
    let (status, _, page) = get(&app, &mut jar, &format!("/staff/registrations/{person}")).await;
    assert_eq!(status, 200);
    let document = app
        .count(&format!(
            "SELECT id FROM identity_documents WHERE user_id = {person}"
        ))
        .await;
    let src = format!("/api/v1/admin/registrations/{person}/documents/{document}");
    assert!(page.contains(&format!("<img src=\"{src}\"")), "{page}");
    // The image itself, with the browser session, never cached.
    let (status, headers, _) = get(&app, &mut jar, &src).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    for action in [
        "registration.view_queue",
        "registration.view",
        "document.list",
        "document.view",
    ] {
        assert_eq!(audit_rows(&app, action).await, 1, "{action}");
    }

    // Sending back needs a reason, named by the field; then approval works once.
    let csrf = form_token(&page);
    let (status, _, refused) = post(
        &app,
        &mut jar,
        &format!("/staff/registrations/{person}/reject"),
        &[("csrf", &csrf), ("reason", "no")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(refused.contains("href=\"#reason\""), "{refused}");
    let (status, _, _) = post(
        &app,
        &mut jar,
        &format!("/staff/registrations/{person}/approve"),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(status, 403, "a form without its token is refused");
    let (status, headers, _) = post(
        &app,
        &mut jar,
        &format!("/staff/registrations/{person}/approve"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/staff/registrations?done=approved");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {person} AND registration_state = 'approved' AND card_number IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(audit_rows(&app, "registration.approve").await, 1);
}

#[tokio::test]
async fn the_counter_search_form_needs_its_token_and_shows_refusals_by_the_field() {
    let app = spawn_app().await;
    let mut jar = sign_in_as(&app, "staff@demo.yoyaku.jp").await;
    let (_, _, page) = get(&app, &mut jar, "/staff/counter").await;
    let csrf = form_token(&page);
    let (status, _, _) = post(
        &app,
        &mut jar,
        "/staff/counter",
        &[("csrf", "forged"), ("card_number", DEMO_CARD)],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, refused) = post(
        &app,
        &mut jar,
        "/staff/counter",
        &[("csrf", &csrf), ("name", "横浜")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(refused.contains("href=\"#date_of_birth\""), "{refused}");
    assert!(refused.contains("id=\"date_of_birth-error\""));
    let (status, _, found) = post(
        &app,
        &mut jar,
        "/staff/counter",
        &[("csrf", &csrf), ("card_number", DEMO_CARD)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(found.contains("横浜 花子"), "{found}");
    assert_eq!(audit_rows(&app, "resident.search").await, 1);
}

#[tokio::test]
async fn the_openapi_description_lists_the_counter_routes() {
    let app = spawn_app().await;
    let (_, spec) = app.get_json("/api/v1/openapi.json").await;
    for path in [
        "/api/v1/admin/residents",
        "/api/v1/admin/residents/{id}/bookings",
        "/api/v1/admin/residents/{id}/bookings/quote",
        "/api/v1/admin/counter/bookings/{id}",
        "/api/v1/admin/audit",
        "/api/v1/admin/audit.csv",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} is described");
    }
    assert!(spec["components"]["schemas"].get("ResidentMatch").is_some());
}
