//! Booking: consecutive slots, prices, the database rule against double booking (one slot,
//! whole vs half), idempotency, limits under concurrency, expiry, cancellation and bad input.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use yoyaku::domain::calendar::tokyo_date;
use yoyaku::services::{bookings, slots};
use yoyaku_tests::{TestApp, blamed_fields, error_of, spawn_app, spawn_app_with};

/// The Tsurumi sports center's id and the room ids of its main gym (whole, half A, half B).
async fn main_gym(app: &TestApp) -> (i32, i64, i64, i64) {
    let facility = app
        .count("SELECT id FROM facilities WHERE code = 'tsurumi-sports-center'")
        .await as i32;
    let room = |code: &str| {
        format!("SELECT id FROM rooms WHERE facility_id = {facility} AND code = '{code}'")
    };
    (
        facility,
        app.count(&room("main-gym")).await,
        app.count(&room("main-gym-a")).await,
        app.count(&room("main-gym-b")).await,
    )
}

/// An open weekday in the first-come window (from two days ahead), with its slots generated.
async fn bookable_day(app: &TestApp, facility: i32) -> NaiveDate {
    app.bookable_day(facility, 2).await
}

/// The main gym (whole), a bookable day, and the gym's slot ids that day.
async fn main_gym_on_a_bookable_day(app: &TestApp) -> (i64, NaiveDate, Vec<i64>) {
    let (facility, gym, _, _) = main_gym(app).await;
    let day = bookable_day(app, facility).await;
    (gym, day, slot_ids(app, gym, day).await)
}

/// The ids of a room's slots on a day, in time order.
async fn slot_ids(app: &TestApp, room: i64, day: NaiveDate) -> Vec<i64> {
    let (_, body) = app
        .get_json(&format!("/api/v1/rooms/{room}/slots?from={day}&to={day}"))
        .await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect()
}

async fn slot_state(app: &TestApp, room: i64, day: NaiveDate, slot: i64) -> String {
    let (_, body) = app
        .get_json(&format!("/api/v1/rooms/{room}/slots?from={day}&to={day}"))
        .await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == slot)
        .unwrap()["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_resident_books_two_consecutive_slots_and_they_show_as_held() {
    let app = spawn_app().await;
    let (gym, day, ids) = main_gym_on_a_bookable_day(&app).await;
    let (_, token) = app.new_resident("resident").await;
    let (status, booking) = app.book(&token, gym, &[ids[1], ids[0]]).await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(booking["state"], "awaiting_payment");
    assert_eq!(booking["slot_ids"], json!([ids[0], ids[1]]));
    assert_eq!(booking["starts_at"], format!("{day}T09:00:00+09:00"));
    assert_eq!(booking["ends_at"], format!("{day}T13:00:00+09:00"));
    // Two weekday day-band slots of the main gym at 4,200 yen.
    assert_eq!(booking["total_yen"], 8400);
    assert_eq!(booking["quote"]["total_yen"], 8400);
    assert!(booking["pay_by"].as_str().unwrap().ends_with("+09:00"));
    assert_eq!(slot_state(&app, gym, day, ids[0]).await, "held");
    // The city-wide search no longer offers it.
    let (_, free) = app
        .get_json(&format!(
            "/api/v1/availability?kind=gymnasium&from={day}&ward=141011"
        ))
        .await;
    let offered: Vec<i64> = free["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["slots"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_i64().unwrap())
        })
        .collect();
    assert!(!offered.contains(&ids[0]));
    // Its history starts with the booking.
    let events = app
        .count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {}",
            booking["id"]
        ))
        .await;
    assert_eq!(events, 1);
}

#[tokio::test]
async fn a_non_resident_pays_the_non_resident_rate() {
    let app = spawn_app().await;
    let (gym, _, ids) = main_gym_on_a_bookable_day(&app).await;
    let (_, token) = app.new_resident("non_resident").await;
    let (status, booking) = app.book(&token, gym, &[ids[0]]).await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(booking["residency"], "non_resident");
    assert_eq!(booking["total_yen"], 6300, "4,200 × 150 %");
}

#[tokio::test]
async fn a_thousand_presses_on_one_slot_make_exactly_one_booking() {
    let app = Arc::new(spawn_app_with(|s| s.db_max_connections = 16).await);
    let (facility, gym, _, _) = main_gym(&app).await;
    let day = bookable_day(&app, facility).await;
    let slot = slot_ids(&app, gym, day).await[2];
    const N: usize = 40;
    let mut tokens = Vec::new();
    for _ in 0..N {
        tokens.push(app.new_resident("resident").await.1);
    }
    let barrier = Arc::new(Barrier::new(N));
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.book(&token, gym, &[slot]).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status.as_u16() {
            201 => created += 1,
            409 => assert_eq!(error_of(&body)["code"], "slot_taken"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM bookings").await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM slot_claims WHERE slot_id = {slot}"
        ))
        .await,
        2,
        "the whole claims both units"
    );
}

#[tokio::test]
async fn a_booked_half_blocks_the_whole_and_a_booked_whole_blocks_both_halves() {
    let app = spawn_app().await;
    let (facility, whole, half_a, half_b) = main_gym(&app).await;
    let day = bookable_day(&app, facility).await;
    let (w, a, b) = (
        slot_ids(&app, whole, day).await,
        slot_ids(&app, half_a, day).await,
        slot_ids(&app, half_b, day).await,
    );
    let (_, token) = app.new_resident("resident").await;

    // Half A at 9:00 takes the whole at 9:00, but half B stays free.
    assert_eq!(app.book(&token, half_a, &[a[0]]).await.0, 201);
    let (status, body) = app.book(&token, whole, &[w[0]]).await;
    assert_eq!(status, 409);
    assert_eq!(error_of(&body)["code"], "slot_taken");
    assert_eq!(slot_state(&app, whole, day, w[0]).await, "held");
    assert_eq!(slot_state(&app, half_b, day, b[0]).await, "available");
    assert_eq!(app.book(&token, half_b, &[b[0]]).await.0, 201);

    // The whole at 11:00 takes both halves at 11:00.
    let (_, other) = app.new_resident("resident").await;
    assert_eq!(app.book(&other, whole, &[w[1]]).await.0, 201);
    for (room, slot) in [(half_a, a[1]), (half_b, b[1])] {
        let (status, body) = app.book(&token, room, &[slot]).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(error_of(&body)["code"], "slot_taken");
    }
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_return_the_first_booking() {
    let app = spawn_app().await;
    let (gym, _, ids) = main_gym_on_a_bookable_day(&app).await;
    let (_, token) = app.new_resident("resident").await;
    let body = json!({"room_id": gym, "slot_ids": [ids[3]], "purpose": "練習", "attendees": 10});
    let (first_status, first_headers, first) = app
        .post_as(&token, "/api/v1/bookings", Some("key-1"), &body)
        .await;
    let (again_status, again_headers, again) = app
        .post_as(&token, "/api/v1/bookings", Some("key-1"), &body)
        .await;
    assert_eq!(first_status, 201);
    assert_eq!(again_status, 201);
    assert_eq!(first["id"], again["id"]);
    assert!(first_headers.get("idempotent-replayed").is_none());
    assert_eq!(again_headers["idempotent-replayed"], "true");
    assert_eq!(app.count("SELECT COUNT(*) FROM bookings").await, 1);

    let other = json!({"room_id": gym, "slot_ids": [ids[4]], "purpose": "練習", "attendees": 10});
    let (status, _, answer) = app
        .post_as(&token, "/api/v1/bookings", Some("key-1"), &other)
        .await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&answer)["code"], "idempotency_key_reused");
    assert_eq!(app.count("SELECT COUNT(*) FROM bookings").await, 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_make_one_booking() {
    let app = Arc::new(spawn_app().await);
    let (facility, gym, _, _) = main_gym(&app).await;
    let day = bookable_day(&app, facility).await;
    let slot = slot_ids(&app, gym, day).await[4];
    let (_, token) = app.new_resident("resident").await;
    let body = json!({"room_id": gym, "slot_ids": [slot], "purpose": "練習", "attendees": 10});
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, barrier, token, body) =
                (app.clone(), barrier.clone(), token.clone(), body.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.post_as(&token, "/api/v1/bookings", Some("same-key"), &body)
                    .await
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let (status, _, answer) = task.await.unwrap();
        assert_eq!(status, 201, "{answer}");
        ids.insert(answer["id"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM bookings").await, 1);
}

#[tokio::test]
async fn a_persons_monthly_limit_holds_under_concurrent_requests() {
    let app = Arc::new(
        spawn_app_with(|s| {
            s.booking.limits.max_active_per_month_per_room_kind = 2;
            s.booking.limits.max_unpaid_at_once = 10;
        })
        .await,
    );
    let (gym, _, ids) = main_gym_on_a_bookable_day(&app).await;
    let (_, token) = app.new_resident("resident").await;
    let barrier = Arc::new(Barrier::new(5));
    let tasks: Vec<_> = ids[..5]
        .iter()
        .map(|slot| {
            let (app, barrier, token, slot) = (app.clone(), barrier.clone(), token.clone(), *slot);
            tokio::spawn(async move {
                barrier.wait().await;
                app.book(&token, gym, &[slot]).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status == 201 {
            created += 1;
        } else {
            assert_eq!(status, 409, "{body}");
            assert_eq!(error_of(&body)["code"], "limit_reached");
            assert_eq!(
                blamed_fields(&body),
                vec!["max_active_per_month_per_room_kind"]
            );
        }
    }
    assert_eq!(created, 2);
}

#[tokio::test]
async fn an_unpaid_booking_expires_after_its_deadline_and_frees_its_slots() {
    let app = spawn_app().await;
    let (gym, day, ids) = main_gym_on_a_bookable_day(&app).await;
    let (_, token) = app.new_resident("resident").await;
    let (_, booking) = app.book(&token, gym, &[ids[0]]).await;
    let pay_by = chrono::DateTime::parse_from_rfc3339(booking["pay_by"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);

    assert_eq!(
        bookings::expire_unpaid(&app.db, pay_by - Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        bookings::expire_unpaid(&app.db, pay_by + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    let (_, after) = app
        .get_as(&token, &format!("/api/v1/bookings/{}", booking["id"]))
        .await;
    assert_eq!(after["state"], "expired");
    assert_eq!(slot_state(&app, gym, day, ids[0]).await, "available");
    let history = app
        .count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {}",
            booking["id"]
        ))
        .await;
    assert_eq!(history, 2);
    // Running it again changes nothing.
    assert_eq!(
        bookings::expire_unpaid(&app.db, pay_by + Duration::hours(1))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn cancelling_frees_the_slots_and_reports_the_refund_and_cannot_happen_twice() {
    let app = spawn_app().await;
    let (gym, day, ids) = main_gym_on_a_bookable_day(&app).await;
    let (_, token) = app.new_resident("resident").await;
    let (_, booking) = app.book(&token, gym, &[ids[0], ids[1]]).await;
    let path = format!("/api/v1/bookings/{}/cancel", booking["id"]);
    let (status, _, cancelled) = app.post_as(&token, &path, None, &json!({})).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["booking"]["state"], "cancelled");
    // Nothing was paid yet, so nothing is refunded.
    assert_eq!(cancelled["refund_yen"], 0);
    assert_eq!(slot_state(&app, gym, day, ids[0]).await, "available");
    let (status, _, again) = app.post_as(&token, &path, None, &json!({})).await;
    assert_eq!(status, 409);
    assert_eq!(error_of(&again)["code"], "booking_not_cancellable");
}

#[tokio::test]
async fn other_peoples_bookings_are_not_found_and_mine_are_listed() {
    let app = spawn_app().await;
    let (gym, _, ids) = main_gym_on_a_bookable_day(&app).await;
    let (_, mine) = app.new_resident("resident").await;
    let (_, theirs) = app.new_resident("resident").await;
    let (_, booking) = app.book(&mine, gym, &[ids[0]]).await;
    let (status, list) = app.get_as(&mine, "/api/v1/bookings").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    let (status, _) = app
        .get_as(&theirs, &format!("/api/v1/bookings/{}", booking["id"]))
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = app
        .post_as(
            &theirs,
            &format!("/api/v1/bookings/{}/cancel", booking["id"]),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.get_json("/api/v1/bookings").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bad_bookings_are_refused_with_a_clear_code_and_leave_nothing_behind() {
    let app = spawn_app().await;
    let (facility, gym, half_a, _) = main_gym(&app).await;
    let day = bookable_day(&app, facility).await;
    let ids = slot_ids(&app, gym, day).await;
    let half = slot_ids(&app, half_a, day).await;
    let (_, token) = app.new_resident("resident").await;
    let request = |room: i64, slots: Vec<i64>, attendees: i64| json!({"room_id": room, "slot_ids": slots, "purpose": "練習", "attendees": attendees});
    let far = tokyo_date(Utc::now()) + Duration::days(120);
    slots::generate(&app.db, far, far + Duration::days(7), Some(facility))
        .await
        .unwrap();
    let far_slot = app
        .count(&format!(
            "SELECT MIN(s.id) FROM slots s WHERE s.room_id = {gym} AND s.service_date >= '{far}'"
        ))
        .await;
    // A room without a lottery (a meeting room) is simply not open that far ahead.
    let plain = app
        .count(&format!(
            "SELECT MIN(id) FROM rooms WHERE facility_id = {facility} AND uses_lottery = FALSE"
        ))
        .await;
    let plain_far_slot = app
        .count(&format!(
            "SELECT MIN(s.id) FROM slots s WHERE s.room_id = {plain} AND s.service_date >= '{far}'"
        ))
        .await;
    let past_day = tokyo_date(Utc::now()) - Duration::days(7);
    slots::generate(
        &app.db,
        past_day,
        past_day + Duration::days(3),
        Some(facility),
    )
    .await
    .unwrap();
    let past_slot = app
        .count(&format!(
            "SELECT MIN(s.id) FROM slots s WHERE s.room_id = {gym} AND s.service_date < '{}'",
            tokyo_date(Utc::now())
        ))
        .await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            request(gym, vec![ids[0], ids[2]], 5),
            422,
            "slots_not_consecutive",
        ),
        (
            request(gym, vec![ids[0], half[1]], 5),
            422,
            "slots_of_other_room",
        ),
        (request(gym, vec![past_slot], 5), 422, "slot_in_past"),
        (request(gym, vec![far_slot], 5), 422, "lottery_period"),
        (
            request(plain, vec![plain_far_slot], 5),
            422,
            "booking_not_open",
        ),
        (request(gym, vec![999_999_999], 5), 422, "unknown_slots"),
        (request(999_999, vec![ids[0]], 5), 422, "unknown_room"),
        (request(gym, vec![], 5), 400, "invalid_input"),
        (request(gym, vec![ids[0]], 0), 400, "invalid_input"),
        (request(gym, vec![ids[0]], 5000), 400, "invalid_input"),
        (request(gym, vec![ids[0], ids[0]], 5), 400, "invalid_input"),
    ];
    for (body, status, code) in cases {
        let key = uuid::Uuid::new_v4().to_string();
        let (got, _, answer) = app
            .post_as(&token, "/api/v1/bookings", Some(&key), &body)
            .await;
        assert_eq!(got.as_u16(), status, "{body} → {answer}");
        assert_eq!(error_of(&answer)["code"], code, "{body}");
    }
    // Without an Idempotency-Key the header is named.
    let (status, _, answer) = app
        .post_as(
            &token,
            "/api/v1/bookings",
            None,
            &request(gym, vec![ids[0]], 5),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&answer), vec!["Idempotency-Key"]);
    // A field of the wrong type is named.
    let (status, _, answer) = app
        .post_as(
            &token,
            "/api/v1/bookings",
            Some("k"),
            &json!({"room_id": "gym", "slot_ids": [], "purpose": "x", "attendees": 1}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&answer), vec!["room_id"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM bookings").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM slot_claims").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM idempotency_keys").await, 0);
}

#[tokio::test]
async fn a_room_for_groups_only_cannot_be_booked_by_a_person() {
    let app = spawn_app().await;
    let room = app
        .count("SELECT MIN(id) FROM rooms WHERE requires_group = TRUE")
        .await;
    let facility = app
        .count(&format!("SELECT facility_id FROM rooms WHERE id = {room}"))
        .await as i32;
    let day = bookable_day(&app, facility).await;
    let ids = slot_ids(&app, room, day).await;
    let (_, token) = app.new_resident("resident").await;
    let (status, body) = app.book(&token, room, &[ids[0]]).await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), vec!["group_id"]);
}

#[tokio::test]
async fn the_quote_before_booking_is_the_price_booked_and_writes_nothing() {
    let app = spawn_app().await;
    let (gym, _, ids) = main_gym_on_a_bookable_day(&app).await;
    let (_, token) = app.new_resident("non_resident").await;
    // 15:00 (day band) and 17:00 (night band), with the scoreboard rented.
    let body = json!({
        "room_id": gym, "slot_ids": [ids[3], ids[4]], "purpose": "大会", "attendees": 30,
        "equipment": [{"code": "scoreboard", "quantity": 1}]
    });
    let (status, _, quote) = app
        .post_as(&token, "/api/v1/bookings/quote", None, &body)
        .await;
    assert_eq!(status, 200, "{quote}");
    // Non-resident: 4,200 × 150 % + 4,800 × 150 %, plus the scoreboard at 200 yen per slot.
    assert_eq!(quote["total_yen"], 6300 + 7200 + 400);
    let kinds: Vec<&str> = quote["quote"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["room", "room", "equipment"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM bookings").await, 0);

    let (status, _, booking) = app
        .post_as(&token, "/api/v1/bookings", Some("q-1"), &body)
        .await;
    assert_eq!(status, 201);
    assert_eq!(booking["total_yen"], quote["total_yen"]);
    assert_eq!(booking["quote"], quote["quote"]);

    let gap = json!({"room_id": gym, "slot_ids": [ids[0], ids[2]], "purpose": "x", "attendees": 1});
    let (status, _, refused) = app
        .post_as(&token, "/api/v1/bookings/quote", None, &gap)
        .await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&refused)["code"], "slots_not_consecutive");
    let unknown = json!({"room_id": gym, "slot_ids": [ids[1]], "purpose": "x", "attendees": 1,
        "equipment": [{"code": "jacuzzi", "quantity": 1}]});
    let (status, _, refused) = app
        .post_as(&token, "/api/v1/bookings/quote", None, &unknown)
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&refused), vec!["equipment[0].code"]);
}
