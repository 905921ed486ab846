//! End-to-end tests of the console's calendar area (http::console::calendar), on SQLite and PostgreSQL.

use chrono::{Duration, NaiveDate};
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use yoyaku::domain::roles::Role;
use yoyaku_tests::{TestApp, blamed_fields, error_of, spawn_app};

/// The Tsurumi sports center (the demo manager's and staff's) and its main gym (with halves).
async fn tsurumi_gym(app: &TestApp) -> (i32, i64) {
    let facility = app
        .count("SELECT id FROM facilities WHERE code = 'tsurumi-sports-center'")
        .await as i32;
    let gym = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {facility} AND code = 'main-gym'"
        ))
        .await;
    (facility, gym)
}

async fn demo_token(app: &TestApp, email: &str) -> String {
    app.login(email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A console account of `role` assigned to the facility with `code` (or to none), and a token.
async fn console_person(app: &TestApp, role: Role, facility_code: Option<&str>) -> String {
    let email = format!("{}@staff.test.yoyaku.jp", uuid::Uuid::new_v4().simple());
    let code = role.code();
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO users (email, password_hash, display_name, role, residency, locale, email_verified_at, created_at, registration_state) \
             VALUES ('{email}', NULL, '別施設 職員', '{code}', 'resident', 'ja', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 'approved')"
        ))
        .await
        .unwrap();
    let id = app
        .count(&format!("SELECT id FROM users WHERE email = '{email}'"))
        .await as i32;
    if let Some(facility) = facility_code {
        app.db
            .execute_unprepared(&format!(
                "INSERT INTO staff_assignments (user_id, facility_id) \
                 SELECT {id}, id FROM facilities WHERE code = '{facility}'"
            ))
            .await
            .unwrap();
    }
    app.keys.issue_access(id, role).0
}

/// A facility none of the demo staff work at.
async fn other_facility_code(app: &TestApp) -> String {
    let id = app
        .count(
            "SELECT MIN(id) FROM facilities WHERE code NOT IN ('tsurumi-sports-center', 'kohoku-sports-center')",
        )
        .await;
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT code FROM facilities WHERE id = {id}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0).unwrap()
}

async fn put_as(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let mut request = app.client.put(format!("{}{path}", app.address)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn call(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    match (method, token) {
        ("GET", Some(token)) => app.get_as(token, path).await,
        ("GET", None) => app.get_json(path).await,
        ("POST", Some(token)) => {
            let (status, _, body) = app.post_as(token, path, None, body).await;
            (status, body)
        }
        ("POST", None) => app.post_json(path, body).await,
        ("PUT", token) => put_as(app, token, path, body).await,
        _ => unreachable!(),
    }
}

/// Pay a booking on the embedded provider's page, as a browser would.
async fn pay_embedded(app: &TestApp, token: &str, id: i64) {
    let (status, _, body) = app
        .post_as(
            token,
            &format!("/api/v1/bookings/{id}/checkout"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let url = body["checkout_url"].as_str().unwrap();
    let response = app
        .client
        .post(format!("{url}/complete"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

/// A new resident's booking of `slot` in `room`: (token, booking id, total).
async fn book_one(app: &TestApp, room: i64, slot: i64) -> (String, i64, i64) {
    let (_, token) = app.new_resident("resident").await;
    let (status, booking) = app.book(&token, room, &[slot]).await;
    assert_eq!(status, 201, "{booking}");
    (
        token,
        booking["id"].as_i64().unwrap(),
        booking["total_yen"].as_i64().unwrap(),
    )
}

fn slot_of(calendar: &Value, room: i64, slot: i64) -> &Value {
    calendar["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .and_then(|r| {
            r["slots"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == slot)
        })
        .unwrap_or_else(|| panic!("slot {slot} of room {room} in {calendar}"))
}

#[tokio::test]
async fn the_calendar_shows_each_slot_with_its_holder_paid_and_checked_in_and_audits_the_view() {
    let app = spawn_app().await;
    let (facility, gym) = tsurumi_gym(&app).await;
    let (day, slots) = app.free_slots_from(gym, 3).await;
    let (paid_token, paid, _) = book_one(&app, gym, slots[0]).await;
    pay_embedded(&app, &paid_token, paid).await;
    let (_, unpaid, _) = book_one(&app, gym, slots[1]).await;
    let (used_token, used, _) = book_one(&app, gym, slots[2]).await;
    pay_embedded(&app, &used_token, used).await;
    // Arranged directly: a check-in can only happen on the day itself.
    app.db
        .execute_unprepared(&format!(
            "UPDATE bookings SET state = 'checked_in' WHERE id = {used}"
        ))
        .await
        .unwrap();

    let staff = demo_token(&app, "staff@demo.yoyaku.jp").await;
    let path =
        format!("/api/v1/admin/calendar?facility_id={facility}&room_id={gym}&from={day}&to={day}");
    let (status, calendar) = app.get_as(&staff, &path).await;
    assert_eq!(status, 200, "{calendar}");
    assert_eq!(calendar["days"], json!([day.to_string()]));
    let first = slot_of(&calendar, gym, slots[0]);
    assert_eq!(first["state"], "booked");
    assert_eq!(first["booking"]["id"], paid);
    assert_eq!(first["booking"]["holder_name"], "テスト 利用者");
    assert_eq!(first["booking"]["paid"], true);
    assert_eq!(first["booking"]["checked_in"], false);
    let second = slot_of(&calendar, gym, slots[1]);
    assert_eq!(second["booking"]["paid"], false);
    assert_eq!(second["booking"]["state"], "awaiting_payment");
    assert_eq!(second["booking"]["id"], unpaid);
    let third = slot_of(&calendar, gym, slots[2]);
    assert_eq!(third["booking"]["checked_in"], true);
    assert_eq!(slot_of(&calendar, gym, slots[3])["state"], "free");
    // The halves share the floor: a booking of the whole takes them too, and says whose.
    let half = app
        .count(&format!(
            "SELECT MIN(id) FROM rooms WHERE parent_room_id = {gym}"
        ))
        .await;
    let half_slot = calendar["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == half)
        .unwrap()["slots"][0]
        .clone();
    assert_eq!(half_slot["state"], "booked");
    assert_eq!(half_slot["booking"]["room_id"], gym);

    let staff_id = app
        .count("SELECT id FROM users WHERE email = 'staff@demo.yoyaku.jp'")
        .await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'calendar.view' AND actor_user_id = {staff_id} \
             AND subject_type = 'facility' AND subject_id = {facility}"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_calendar_longer_than_31_days_or_of_an_unknown_kind_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let (facility, _) = tsurumi_gym(&app).await;
    let manager = demo_token(&app, "manager@demo.yoyaku.jp").await;
    let (status, body) = app
        .get_as(
            &manager,
            &format!("/api/v1/admin/calendar?facility_id={facility}&from=2027-01-01&to=2027-02-01"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["code"], "invalid_input");
    assert_eq!(blamed_fields(&body), vec!["to"]);
    let (status, body) = app
        .get_as(
            &manager,
            &format!("/api/v1/admin/calendar?facility_id={facility}&from=2027-01-01&to=2027-01-31&kind=spaceport"),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(blamed_fields(&body), vec!["kind"]);
    let (status, body) = app
        .get_as(&manager, "/api/v1/admin/calendar?from=someday")
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), vec!["from"]);
}

/// The closure form's body for the gym on `day`.
fn gym_closure(facility: i32, gym: i64, day: NaiveDate) -> Value {
    json!({
        "facility_id": facility, "room_id": gym, "starts_on": day, "ends_on": day,
        "kind": "maintenance", "reason": "空調設備の緊急点検のため"
    })
}

#[tokio::test]
async fn a_closure_previews_its_bookings_then_cancels_and_refunds_them_in_full_on_confirmation() {
    let app = spawn_app().await;
    let (facility, gym) = tsurumi_gym(&app).await;
    let (day, slots) = app.free_slots_from(gym, 4).await;
    let (paid_token, paid, total) = book_one(&app, gym, slots[0]).await;
    pay_embedded(&app, &paid_token, paid).await;
    let (unpaid_token, unpaid, _) = book_one(&app, gym, slots[1]).await;
    let manager = demo_token(&app, "manager@demo.yoyaku.jp").await;
    let body = gym_closure(facility, gym, day);

    let (status, _, preview) = app
        .post_as(&manager, "/api/v1/admin/closures/preview", None, &body)
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["affected_count"], 2);
    assert_eq!(preview["needs_confirmation"], true);
    assert_eq!(preview["refund_total_yen"], total);
    let ids: Vec<i64> = preview["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![paid, unpaid]);
    assert_eq!(preview["affected"][0]["holder_name"], "テスト 利用者");
    assert_eq!(preview["affected"][0]["refund_yen"], total);
    assert_eq!(preview["affected"][1]["refund_yen"], 0);
    // The preview changed nothing.
    assert_eq!(app.count("SELECT COUNT(*) FROM closures").await, 0);

    // Without the explicit confirmation nothing happens.
    let (status, _, refused) = app
        .post_as(&manager, "/api/v1/admin/closures", None, &body)
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(error_of(&refused)["code"], "confirmation_required");

    // A booking made after the preview changes the affected set: refused, nothing written.
    let (_, late, _) = book_one(&app, gym, slots[2]).await;
    let mut confirmed = body.clone();
    confirmed["confirm"] = json!(true);
    confirmed["expected_booking_ids"] = json!(ids);
    let (status, _, changed) = app
        .post_as(&manager, "/api/v1/admin/closures", None, &confirmed)
        .await;
    assert_eq!(status, 409, "{changed}");
    assert_eq!(error_of(&changed)["code"], "affected_set_changed");
    assert_eq!(app.count("SELECT COUNT(*) FROM closures").await, 0);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM bookings WHERE id = {paid} AND state = 'confirmed'"
        ))
        .await,
        1
    );

    confirmed["expected_booking_ids"] = json!([late, unpaid, paid]);
    let (status, _, done) = app
        .post_as(&manager, "/api/v1/admin/closures", None, &confirmed)
        .await;
    assert_eq!(status, 201, "{done}");
    assert_eq!(done["refund_total_yen"], total);
    assert_eq!(done["cancelled"].as_array().unwrap().len(), 3);
    let closure = done["closure"]["id"].as_i64().unwrap();
    for (token, id) in [(&paid_token, paid), (&unpaid_token, unpaid)] {
        let (_, booking) = app.get_as(token, &format!("/api/v1/bookings/{id}")).await;
        assert_eq!(booking["state"], "cancelled", "{booking}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM refunds f JOIN payments p ON p.id = f.payment_id WHERE p.booking_id = {paid} AND f.amount_yen = {total} AND f.reason = 'cancelled_by_closure'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM mail_outbox WHERE template = 'booking_cancelled_by_facility' AND body LIKE '%空調設備の緊急点検%'"
        )
        .await,
        3
    );
    // The day's slots of the gym and its halves are out of sale, and stay so when generated again.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM slots s JOIN rooms r ON r.id = s.room_id \
             WHERE (r.id = {gym} OR r.parent_room_id = {gym}) AND s.service_date = '{day}' AND s.status = 'open'"
        ))
        .await,
        0
    );
    yoyaku::services::slots::generate(&app.db, day, day, Some(facility))
        .await
        .unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM slots WHERE room_id = {gym} AND service_date = '{day}' AND (status = 'open' OR closure_id IS NULL)"
        ))
        .await,
        0
    );
    let (_, public) = app
        .get_json(&format!("/api/v1/rooms/{gym}/slots?from={day}&to={day}"))
        .await;
    assert!(
        public["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "closed"),
        "{public}"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'closure.create' AND subject_id = {closure}"
        ))
        .await,
        1
    );
    let (_, calendar) = app
        .get_as(
            &manager,
            &format!("/api/v1/admin/calendar?room_id={gym}&from={day}&to={day}"),
        )
        .await;
    assert_eq!(slot_of(&calendar, gym, slots[0])["state"], "closed");
    assert_eq!(slot_of(&calendar, gym, slots[0])["closure_id"], closure);
}

#[tokio::test]
async fn a_closure_that_affects_no_booking_needs_no_confirmation_and_bad_fields_are_named() {
    let app = spawn_app().await;
    let (facility, gym) = tsurumi_gym(&app).await;
    let day = app.bookable_day(facility, 10).await;
    let manager = demo_token(&app, "manager@demo.yoyaku.jp").await;
    let mut whole = gym_closure(facility, gym, day);
    whole["room_id"] = Value::Null;
    whole["kind"] = json!("weather");
    let (status, _, done) = app
        .post_as(&manager, "/api/v1/admin/closures", None, &whole)
        .await;
    assert_eq!(status, 201, "{done}");
    assert!(done["slots_closed"].as_u64().unwrap() > 0);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM slots s JOIN rooms r ON r.id = s.room_id \
             WHERE r.facility_id = {facility} AND s.service_date = '{day}' AND s.status = 'open'"
        ))
        .await,
        0
    );
    let (_, list) = app
        .get_as(
            &manager,
            &format!("/api/v1/admin/closures?facility_id={facility}"),
        )
        .await;
    assert_eq!(list["closures"][0]["kind"], "weather");

    let bad = json!({
        "facility_id": facility, "room_id": 999_999, "starts_on": "2020-01-01",
        "ends_on": "2019-12-31", "kind": "holiday", "reason": " "
    });
    let (status, _, body) = app
        .post_as(&manager, "/api/v1/admin/closures/preview", None, &bad)
        .await;
    assert_eq!(status, 422, "{body}");
    let mut fields = blamed_fields(&body);
    fields.sort();
    assert_eq!(
        fields,
        vec!["ends_on", "kind", "reason", "room_id", "starts_on"]
    );
    let (status, _, body) = app
        .post_as(
            &manager,
            "/api/v1/admin/closures",
            None,
            &json!({"facility_id": facility}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), vec!["starts_on"]);
}

#[tokio::test]
async fn a_block_takes_free_slots_out_of_sale_is_refused_over_a_booking_and_can_be_lifted() {
    let app = spawn_app().await;
    let (facility, gym) = tsurumi_gym(&app).await;
    let (day, slots) = app.free_slots_from(gym, 5).await;
    // The 09:00 slot is booked; 13:00–17:00 is free.
    let (_, booked, _) = book_one(&app, gym, slots[0]).await;
    let manager = demo_token(&app, "manager@demo.yoyaku.jp").await;
    let over_booking = json!({
        "room_id": gym, "starts_on": day, "ends_on": day, "starts": "09:00", "ends": "17:00",
        "reason": "市の公式行事"
    });
    let (status, _, body) = app
        .post_as(&manager, "/api/v1/admin/blocks", None, &over_booking)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body)["code"], "slots_booked");
    assert!(body.to_string().contains(&format!("booking {booked}")));
    assert_eq!(app.count("SELECT COUNT(*) FROM slot_blocks").await, 0);

    let afternoon = json!({
        "room_id": gym, "starts_on": day, "ends_on": day, "starts": "13:00", "ends": "17:00",
        "reason": "市の公式行事"
    });
    let (status, _, done) = app
        .post_as(&manager, "/api/v1/admin/blocks", None, &afternoon)
        .await;
    assert_eq!(status, 201, "{done}");
    // Two slots of the gym and two of each half.
    assert_eq!(done["slots_blocked"], 6);
    let block = done["block"]["id"].as_i64().unwrap();
    let (_, public) = app
        .get_json(&format!("/api/v1/rooms/{gym}/slots?from={day}&to={day}"))
        .await;
    let states: Vec<&str> = public["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states[2..4], ["closed", "closed"], "{public}");
    assert_ne!(states[1], "closed");
    // Generation keeps them blocked.
    yoyaku::services::slots::generate(&app.db, day, day, Some(facility))
        .await
        .unwrap();
    let (_, calendar) = app
        .get_as(
            &manager,
            &format!("/api/v1/admin/calendar?room_id={gym}&from={day}&to={day}"),
        )
        .await;
    let afternoon_slot = calendar["rooms"][0]["slots"][2].clone();
    assert_eq!(afternoon_slot["state"], "blocked", "{calendar}");
    assert_eq!(afternoon_slot["block_id"], block);
    assert_eq!(calendar["rooms"][0]["slots"][0]["state"], "booked");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM bookings WHERE id = {booked} AND state = 'awaiting_payment'"
        ))
        .await,
        1
    );

    let (status, _, lifted) = app
        .post_as(
            &manager,
            &format!("/api/v1/admin/blocks/{block}/lift"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{lifted}");
    assert_eq!(lifted["slots_reopened"], 6);
    let (_, public) = app
        .get_json(&format!("/api/v1/rooms/{gym}/slots?from={day}&to={day}"))
        .await;
    assert_eq!(public["items"][2]["state"], "available");

    let bad = json!({"room_id": gym, "starts_on": day, "ends_on": day, "starts": "17:00", "ends": "9時", "reason": ""});
    let (status, _, body) = app
        .post_as(&manager, "/api/v1/admin/blocks", None, &bad)
        .await;
    assert_eq!(status, 422);
    let mut fields = blamed_fields(&body);
    fields.sort();
    assert_eq!(fields, vec!["ends", "reason"]);
}

#[tokio::test]
async fn editing_a_rooms_periods_and_regenerating_previews_then_applies_and_keeps_booked_slots() {
    let app = spawn_app().await;
    let (facility, gym) = tsurumi_gym(&app).await;
    let (day, slots) = app.free_slots_from(gym, 3).await;
    // The 11:00 slot is booked; the new template has no 11:00 period.
    let (_, booked, _) = book_one(&app, gym, slots[1]).await;
    let manager = demo_token(&app, "manager@demo.yoyaku.jp").await;
    let small_gym = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {facility} AND code = 'small-gym'"
        ))
        .await;
    let template_before = app
        .count(&format!(
            "SELECT slot_template_id FROM rooms WHERE id = {small_gym}"
        ))
        .await;

    let period = |starts: &str, ends: &str, band: &str| json!({"season_from": "01-01", "season_to": "12-31", "day_type": "any", "starts": starts, "ends": ends, "band": band});
    let bad =
        json!({"periods": [period("09:00", "12:00", "day"), period("11:30", "13:00", "morning")]});
    let (status, body) = put_as(
        &app,
        Some(&manager),
        &format!("/api/v1/admin/templates/rooms/{gym}/periods"),
        &bad,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        blamed_fields(&body),
        vec!["periods[1].band", "periods[1].starts"]
    );

    let new = json!({"periods": [
        period("09:00", "12:00", "day"), period("13:00", "17:00", "day"), period("18:00", "21:00", "night")
    ]});
    let (status, setup) = put_as(
        &app,
        Some(&manager),
        &format!("/api/v1/admin/templates/rooms/{gym}/periods"),
        &new,
    )
    .await;
    assert_eq!(status, 200, "{setup}");
    assert_eq!(setup["periods"].as_array().unwrap().len(), 3);
    // The shared template was copied for the gym and its halves; the small gym is untouched.
    assert_eq!(
        app.count(&format!(
            "SELECT slot_template_id FROM rooms WHERE id = {small_gym}"
        ))
        .await,
        template_before
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(DISTINCT slot_template_id) FROM rooms WHERE id = {gym} OR parent_room_id = {gym}"
        ))
        .await,
        1
    );
    assert_ne!(
        app.count(&format!(
            "SELECT slot_template_id FROM rooms WHERE id = {gym}"
        ))
        .await,
        template_before
    );
    // Editing changed no slot yet.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM slots WHERE room_id = {gym} AND service_date = '{day}'"
        ))
        .await,
        6
    );

    let request = json!({"facility_id": facility, "room_id": gym, "from": day, "to": day});
    let (status, _, preview) = app
        .post_as(
            &manager,
            "/api/v1/admin/templates/regeneration/preview",
            None,
            &request,
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    // The gym: 13:00–17:00 and 18:00–21:00 are new; 09:00–12:00 is not added, since it would
    // overlap the booked 11:00 slot that stays; five free slots go.
    let gym_changes = preview["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["room_id"] == gym)
        .unwrap()
        .clone();
    assert_eq!(gym_changes["to_add"], 2, "{preview}");
    assert_eq!(gym_changes["to_remove"], 5);
    assert_eq!(gym_changes["kept"][0]["slot_id"], slots[1]);
    assert_eq!(preview["kept"], 1);
    assert_eq!(preview["applied"], false);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM slots WHERE room_id = {gym} AND service_date = '{day}'"
        ))
        .await,
        6
    );

    let (status, _, applied) = app
        .post_as(
            &manager,
            "/api/v1/admin/templates/regeneration",
            None,
            &request,
        )
        .await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["applied"], true);
    assert_eq!(applied["to_add"], preview["to_add"]);
    let minutes = app
        .count(&format!(
            "SELECT COUNT(*) FROM slots WHERE room_id = {gym} AND service_date = '{day}'"
        ))
        .await;
    // The booked 11:00–13:00 slot, 13:00–17:00 and 18:00–21:00.
    assert_eq!(minutes, 3);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM slots WHERE id = {}",
            slots[1]
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM bookings WHERE id = {booked} AND state = 'awaiting_payment'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'slots.regenerate'")
            .await,
        1
    );
    // Applying again changes nothing.
    let (_, _, again) = app
        .post_as(
            &manager,
            "/api/v1/admin/templates/regeneration/preview",
            None,
            &request,
        )
        .await;
    assert_eq!(again["to_add"], 0, "{again}");
    assert_eq!(again["to_remove"], 0);
}

#[tokio::test]
async fn the_slot_job_after_a_template_change_never_lays_a_new_slot_across_a_booked_one() {
    let app = spawn_app().await;
    let (facility, gym) = tsurumi_gym(&app).await;
    let (day, slots) = app.free_slots_from(gym, 3).await;
    book_one(&app, gym, slots[1]).await;
    let manager = demo_token(&app, "manager@demo.yoyaku.jp").await;
    let period = |starts: &str, ends: &str| json!({"season_from": "01-01", "season_to": "12-31", "day_type": "any", "starts": starts, "ends": ends, "band": "day"});
    let (status, body) = put_as(
        &app,
        Some(&manager),
        &format!("/api/v1/admin/templates/rooms/{gym}/periods"),
        &json!({"periods": [period("10:00", "12:00"), period("13:00", "17:00")]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The job, not the console's regeneration, runs first.
    yoyaku::services::slots::generate(&app.db, day, day, Some(facility))
        .await
        .unwrap();
    // Gym and halves: the booked 11:00–13:00 holds their floor, so no 10:00–12:00 slot is laid
    // across it, and no two slots of a room overlap.
    let (_, calendar) = app
        .get_as(
            &manager,
            &format!("/api/v1/admin/calendar?room_id={gym}&from={day}&to={day}"),
        )
        .await;
    for room in calendar["rooms"].as_array().unwrap() {
        let slots = room["slots"].as_array().unwrap();
        assert!(!slots.is_empty(), "{calendar}");
        for pair in slots.windows(2) {
            assert!(
                pair[0]["ends_at"].as_str() <= pair[1]["starts_at"].as_str(),
                "overlapping slots in {room}"
            );
        }
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM slots WHERE room_id = {gym} AND service_date = '{day}'"
        ))
        .await,
        2
    );
}

#[tokio::test]
async fn equipment_is_added_and_edited_with_named_errors() {
    let app = spawn_app().await;
    let (_, gym) = tsurumi_gym(&app).await;
    let manager = demo_token(&app, "manager@demo.yoyaku.jp").await;
    let path = format!("/api/v1/admin/templates/rooms/{gym}/equipment");
    let item = json!({"code": "projector", "name": "プロジェクター", "name_en": "Projector", "fee_yen": 500, "quantity": 1});
    let (status, _, added) = app.post_as(&manager, &path, None, &item).await;
    assert_eq!(status, 201, "{added}");
    let (status, _, again) = app.post_as(&manager, &path, None, &item).await;
    assert_eq!(status, 422);
    assert_eq!(blamed_fields(&again), vec!["code"]);
    let id = added["id"].as_i64().unwrap();
    let (status, edited) = put_as(
        &app,
        Some(&manager),
        &format!("/api/v1/admin/templates/equipment/{id}"),
        &json!({"name": "プロジェクター", "name_en": "Projector", "fee_yen": 800, "quantity": 2}),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["fee_yen"], 800);
    let (status, bad) = put_as(
        &app,
        Some(&manager),
        &format!("/api/v1/admin/templates/equipment/{id}"),
        &json!({"name": "", "name_en": "Projector", "fee_yen": -1, "quantity": 0}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(blamed_fields(&bad), vec!["name", "fee_yen", "quantity"]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action IN ('equipment.create', 'equipment.update')")
            .await,
        2
    );
}

#[tokio::test]
async fn the_openapi_description_lists_the_calendar_area_with_its_schemas() {
    let app = spawn_app().await;
    let (status, spec) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/api/v1/admin/calendar",
        "/api/v1/admin/closures",
        "/api/v1/admin/closures/preview",
        "/api/v1/admin/blocks",
        "/api/v1/admin/blocks/{id}/lift",
        "/api/v1/admin/templates",
        "/api/v1/admin/templates/rooms/{id}/periods",
        "/api/v1/admin/templates/regeneration/preview",
        "/api/v1/admin/templates/regeneration",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} is documented");
    }
    for schema in [
        "CalendarResponse",
        "ClosurePreview",
        "ClosureRequest",
        "RegenerationReport",
    ] {
        assert!(
            spec["components"]["schemas"].get(schema).is_some(),
            "{schema} is documented"
        );
    }
}

/// Who asks, for the table below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Nobody,
    Resident,
    StaffElsewhere,
    ManagerElsewhere,
    Staff,
    Manager,
    Admin,
}

#[tokio::test]
async fn every_calendar_area_route_answers_each_role_by_the_role_rules() {
    let app = spawn_app().await;
    let (facility, gym) = tsurumi_gym(&app).await;
    let day = app.bookable_day(facility, 20).await;
    let elsewhere = other_facility_code(&app).await;
    let (_, resident) = app.new_resident("resident").await;
    let tokens = [
        (Who::Nobody, None),
        (Who::Resident, Some(resident)),
        (
            Who::StaffElsewhere,
            Some(console_person(&app, Role::Staff, Some(&elsewhere)).await),
        ),
        (
            Who::ManagerElsewhere,
            Some(console_person(&app, Role::Manager, Some(&elsewhere)).await),
        ),
        (
            Who::Staff,
            Some(demo_token(&app, "staff@demo.yoyaku.jp").await),
        ),
        (
            Who::Manager,
            Some(demo_token(&app, "manager@demo.yoyaku.jp").await),
        ),
        (
            Who::Admin,
            Some(demo_token(&app, "admin@demo.yoyaku.jp").await),
        ),
    ];
    let equipment = app
        .count(&format!(
            "SELECT MIN(id) FROM equipment WHERE room_id = {gym}"
        ))
        .await;
    let (_, setup) = app
        .get_as(
            tokens[6].1.as_deref().unwrap(),
            &format!("/api/v1/admin/templates?facility_id={facility}"),
        )
        .await;
    let periods = setup["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == gym)
        .unwrap()["periods"]
        .clone();
    let later = |n: i64| day + Duration::days(n);
    // (method, path, body, whether staff may use it)
    let routes: Vec<(&str, String, Value, bool)> = vec![
        (
            "GET",
            format!("/api/v1/admin/calendar?facility_id={facility}&from={day}&to={day}"),
            json!({}),
            true,
        ),
        (
            "GET",
            format!("/api/v1/admin/closures?facility_id={facility}"),
            json!({}),
            false,
        ),
        (
            "POST",
            "/api/v1/admin/closures/preview".into(),
            gym_closure(facility, gym, day),
            false,
        ),
        ("POST", "/api/v1/admin/closures".into(), json!({}), false),
        ("POST", "/api/v1/admin/blocks".into(), json!({}), false),
        (
            "GET",
            format!("/api/v1/admin/templates?facility_id={facility}"),
            json!({}),
            false,
        ),
        (
            "PUT",
            format!("/api/v1/admin/templates/rooms/{gym}/periods"),
            json!({"periods": periods}),
            false,
        ),
        (
            "POST",
            format!("/api/v1/admin/templates/rooms/{gym}/equipment"),
            json!({}),
            false,
        ),
        (
            "PUT",
            format!("/api/v1/admin/templates/equipment/{equipment}"),
            json!({"name": "得点板", "name_en": "Scoreboard", "fee_yen": 200, "quantity": 1}),
            false,
        ),
        (
            "POST",
            "/api/v1/admin/templates/regeneration/preview".into(),
            json!({"facility_id": facility, "room_id": gym, "from": day, "to": day}),
            false,
        ),
        (
            "POST",
            "/api/v1/admin/templates/regeneration".into(),
            json!({"facility_id": facility, "room_id": gym, "from": day, "to": day}),
            false,
        ),
    ];
    for (n, (method, path, body, staff_may)) in routes.iter().enumerate() {
        for (i, (who, token)) in tokens.iter().enumerate() {
            // Bodies that make something get fresh days, so one role's change never decides
            // another's answer.
            let offset = (n * tokens.len() + i) as i64;
            let body = match path.as_str() {
                "/api/v1/admin/closures" => json!({
                    "facility_id": facility, "room_id": gym, "starts_on": later(offset), "ends_on": later(offset),
                    "kind": "event", "reason": "施設行事"
                }),
                "/api/v1/admin/blocks" => json!({
                    "room_id": gym, "starts_on": later(offset), "ends_on": later(offset),
                    "starts": "09:00", "ends": "11:00", "reason": "公用"
                }),
                p if p.ends_with("/equipment") => json!({
                    "code": format!("item-{offset}"), "name": "譜面台", "name_en": "Music stand", "fee_yen": 0, "quantity": 3
                }),
                _ => body.clone(),
            };
            let (status, answer) = call(&app, token.as_deref(), method, path, &body).await;
            let expected: &[u16] = match who {
                Who::Nobody => &[401],
                Who::Resident | Who::StaffElsewhere | Who::ManagerElsewhere => &[403],
                Who::Staff if !staff_may => &[403],
                _ => &[200, 201],
            };
            assert!(
                expected.contains(&status.as_u16()),
                "{who:?} {method} {path}: {status} {answer}"
            );
            if status.as_u16() == 403 {
                assert_eq!(error_of(&answer)["code"], "forbidden", "{who:?} {path}");
            }
        }
    }
}

mod pages {
    //! The area's pages without a browser: plain forms, a session cookie and the CSRF token.

    use super::*;
    use crate::web_pages::{Jar, form_token, get, hidden, post};
    use yoyaku_tests::DEMO_PASSWORD;

    async fn sign_in(app: &TestApp, email: &str) -> Jar {
        let mut jar = Jar::default();
        let (_, _, html) = get(app, &mut jar, "/login").await;
        let csrf = form_token(&html);
        let (status, _, _) = post(
            app,
            &mut jar,
            "/login",
            &[
                ("email", email),
                ("password", DEMO_PASSWORD),
                ("csrf", &csrf),
                ("next", "/staff"),
            ],
        )
        .await;
        assert_eq!(status, 303);
        jar
    }

    #[tokio::test]
    async fn the_calendar_page_is_a_table_with_states_in_words_and_refuses_a_long_range_by_the_field()
     {
        let app = spawn_app().await;
        let (facility, gym) = tsurumi_gym(&app).await;
        let (day, slots) = app.free_slots_from(gym, 3).await;
        book_one(&app, gym, slots[0]).await;
        let mut jar = sign_in(&app, "staff@demo.yoyaku.jp").await;
        let (status, _, html) = get(
            &app,
            &mut jar,
            &format!(
                "/staff/calendar?facility_id={facility}&room_id={gym}&from={day}&to={day}&lang=en"
            ),
        )
        .await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("<caption id=\"calendar-caption\">"));
        assert!(
            html.contains("<th scope=\"row\">Main Gymnasium</th>"),
            "{html}"
        );
        assert!(html.contains("<strong>Booked</strong>"));
        assert!(html.contains("テスト 利用者"));
        assert!(html.contains("Not paid"));
        assert!(html.contains("<strong>Free</strong>"));

        let (status, _, html) = get(
            &app,
            &mut jar,
            &format!("/staff/calendar?facility_id={facility}&from=2027-01-01&to=2027-03-01"),
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains("id=\"error-summary\""));
        assert!(html.contains("href=\"#to\""));
        assert!(html.contains("id=\"to-error\""));

        // Staff do not close rooms; residents do not reach the console.
        let (status, _, _) = get(&app, &mut jar, "/staff/closures").await;
        assert_eq!(status, 403);
        let mut resident = sign_in(&app, "resident@demo.yoyaku.jp").await;
        let (status, _, _) = get(&app, &mut resident, "/staff/calendar").await;
        assert_eq!(status, 403);
    }

    #[tokio::test]
    async fn closing_through_the_forms_previews_the_booking_and_cancels_it_only_once_confirmed() {
        let app = spawn_app().await;
        let (facility, gym) = tsurumi_gym(&app).await;
        let (day, slots) = app.free_slots_from(gym, 4).await;
        let (_, booking, _) = book_one(&app, gym, slots[0]).await;
        let mut jar = sign_in(&app, "manager@demo.yoyaku.jp").await;
        let (status, _, html) = get(
            &app,
            &mut jar,
            &format!("/staff/closures?facility_id={facility}"),
        )
        .await;
        assert_eq!(status, 200, "{html}");
        let csrf = form_token(&html);
        let day = day.to_string();
        let gym = gym.to_string();
        let facility = facility.to_string();
        let form = [
            ("csrf", csrf.as_str()),
            ("facility_id", facility.as_str()),
            ("room_id", gym.as_str()),
            ("starts_on", day.as_str()),
            ("ends_on", day.as_str()),
            ("closure_kind", "maintenance"),
            ("reason", "床の補修工事のため"),
        ];
        // A blank reason comes back next to its field.
        let mut blank = form;
        blank[6] = ("reason", "");
        let (status, _, html) = post(&app, &mut jar, "/staff/closures/preview", &blank).await;
        assert_eq!(status, 422);
        assert!(html.contains("id=\"reason-error\""));

        let (status, _, html) = post(&app, &mut jar, "/staff/closures/preview", &form).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(&format!("#{booking}")));
        assert!(html.contains("テスト 利用者"));
        let expected = hidden(&html, "expected");
        assert_eq!(expected, booking.to_string());
        assert_eq!(app.count("SELECT COUNT(*) FROM closures").await, 0);

        // The box not ticked: the preview again with the error by the box.
        let mut confirm: Vec<(&str, &str)> = form.to_vec();
        confirm.push(("expected", expected.as_str()));
        let (status, _, html) = post(&app, &mut jar, "/staff/closures", &confirm).await;
        assert_eq!(status, 409);
        assert!(html.contains("id=\"confirm-error\""));
        assert_eq!(app.count("SELECT COUNT(*) FROM closures").await, 0);

        confirm.push(("confirm", "true"));
        let (status, headers, _) = post(&app, &mut jar, "/staff/closures", &confirm).await;
        assert_eq!(status, 303);
        let location = headers["location"].to_str().unwrap().to_owned();
        assert!(location.contains("cancelled=1"), "{location}");
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM bookings WHERE id = {booking} AND state = 'cancelled'"
            ))
            .await,
            1
        );
        let (status, _, html) = get(&app, &mut jar, &location).await;
        assert_eq!(status, 200);
        assert!(html.contains("床の補修工事のため"));
    }

    #[tokio::test]
    async fn the_slot_setup_pages_save_periods_and_preview_the_regeneration() {
        let app = spawn_app().await;
        let (facility, gym) = tsurumi_gym(&app).await;
        let day = app.bookable_day(facility, 3).await.to_string();
        let mut jar = sign_in(&app, "manager@demo.yoyaku.jp").await;
        let (status, _, html) = get(&app, &mut jar, "/staff/templates").await;
        assert_eq!(status, 200, "{html}");
        let (status, _, html) = get(&app, &mut jar, &format!("/staff/templates/rooms/{gym}")).await;
        assert_eq!(status, 200, "{html}");
        let csrf = form_token(&html);
        let (status, _, html) = post(
            &app,
            &mut jar,
            &format!("/staff/templates/rooms/{gym}"),
            &[
                ("csrf", &csrf),
                ("season_from_0", "01-01"),
                ("season_to_0", "12-31"),
                ("day_type_0", "any"),
                ("starts_0", "09:00"),
                ("ends_0", "12:00"),
                ("band_0", "day"),
                ("season_from_1", "01-01"),
                ("season_to_1", "12-31"),
                ("day_type_1", "any"),
                ("starts_1", "11:00"),
                ("ends_1", "13:00"),
                ("band_1", "day"),
            ],
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains("href=\"#row1\""), "{html}");
        let (status, headers, _) = post(
            &app,
            &mut jar,
            &format!("/staff/templates/rooms/{gym}"),
            &[
                ("csrf", &csrf),
                ("season_from_0", "01-01"),
                ("season_to_0", "12-31"),
                ("day_type_0", "any"),
                ("starts_0", "09:00"),
                ("ends_0", "12:00"),
                ("band_0", "day"),
                ("season_from_1", ""),
                ("season_to_1", ""),
                ("day_type_1", "any"),
                ("starts_1", ""),
                ("ends_1", ""),
                ("band_1", ""),
            ],
        )
        .await;
        assert_eq!(status, 303);
        assert!(headers["location"].to_str().unwrap().contains("saved=1"));
        let facility = facility.to_string();
        let gym = gym.to_string();
        let (status, _, html) = post(
            &app,
            &mut jar,
            "/staff/templates/regeneration/preview",
            &[
                ("csrf", &csrf),
                ("facility_id", &facility),
                ("regen_room_id", &gym),
                ("regen_from", &day),
                ("regen_to", &day),
            ],
        )
        .await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("id=\"regen-summary\""));
        let (status, headers, _) = post(
            &app,
            &mut jar,
            "/staff/templates/regeneration",
            &[
                ("csrf", &csrf),
                ("facility_id", &facility),
                ("regen_room_id", &gym),
                ("regen_from", &day),
                ("regen_to", &day),
            ],
        )
        .await;
        assert_eq!(status, 303);
        assert!(
            headers["location"]
                .to_str()
                .unwrap()
                .contains("regenerated=")
        );
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM slots WHERE room_id = {gym} AND service_date = '{day}'"
            ))
            .await,
            1
        );
    }
}
