//! End-to-end tests of the console's reports area (http::console::reports), on SQLite and PostgreSQL.
//!
//! The figures are checked against a hand-made data set: slots, bookings, payments, refunds,
//! no-shows and lottery wishes written straight into the database for a past month at one
//! facility, with every expected number worked out by hand in the comments.

use chrono::NaiveDate;
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, Set};
use serde_json::{Value, json};
use yoyaku::domain::calendar::tokyo_instant;
use yoyaku::entities::{
    booking, booking_slot, lottery_application, lottery_round, lottery_wish, payment, refund, slot,
};
use yoyaku_tests::{TestApp, blamed_fields, error_of, spawn_app};

use crate::web_pages::{Jar, form_token, get, post};

async fn facility_id(app: &TestApp, code: &str) -> i32 {
    app.count(&format!("SELECT id FROM facilities WHERE code = '{code}'"))
        .await as i32
}

async fn room_id(app: &TestApp, facility: i32, code: &str) -> i32 {
    app.count(&format!(
        "SELECT id FROM rooms WHERE facility_id = {facility} AND code = '{code}'"
    ))
    .await as i32
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// A slot of `room` on `date` from `start` to `end` (minutes of the day, Japan time).
async fn add_slot(app: &TestApp, room: i32, date: &str, start: i16, end: i16, open: bool) -> i64 {
    let date = day(date);
    slot::ActiveModel {
        id: NotSet,
        room_id: Set(room),
        service_date: Set(date),
        starts_at: Set(tokyo_instant(date, start)),
        ends_at: Set(tokyo_instant(date, end)),
        band: Set("day".into()),
        lighting: Set(false),
        status: Set(if open { "open" } else { "closed" }.into()),
        closure_id: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("insert a slot")
    .id
}

/// A booking by `user` of `room` holding `slots` (all on one day), in `state`.
async fn add_booking(
    app: &TestApp,
    user: i32,
    room: i32,
    kind: &str,
    slots: &[i64],
    state: &str,
) -> i64 {
    let rows: Vec<slot::Model> = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        slot::Entity::find()
            .filter(slot::Column::Id.is_in(slots.to_vec()))
            .order_by_asc(slot::Column::StartsAt)
            .all(&app.db)
            .await
            .expect("the slots")
    };
    let first = rows.first().expect("a slot");
    let last = rows.last().expect("a slot");
    let created = tokyo_instant(day("2025-05-01"), 600);
    let b = booking::ActiveModel {
        id: NotSet,
        user_id: Set(user),
        room_id: Set(room),
        state: Set(state.into()),
        residency: Set("resident".into()),
        purpose_kind: Set("ordinary".into()),
        purpose: Set("バドミントン".into()),
        attendees: Set(8),
        room_kind: Set(kind.into()),
        service_date: Set(first.service_date),
        starts_at: Set(first.starts_at),
        ends_at: Set(last.ends_at),
        total_yen: Set(0),
        quote: Set(json!({})),
        pay_by: Set(created),
        channel: Set("online".into()),
        created_by: Set(None),
        created_at: Set(created),
        cancelled_at: Set(None),
        refund_yen: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("insert a booking");
    for id in slots {
        booking_slot::ActiveModel {
            booking_id: Set(b.id),
            slot_id: Set(*id),
        }
        .insert(&app.db)
        .await
        .expect("insert a booking slot");
    }
    b.id
}

/// A payment of `amount` for `booking` through `provider`, of which `refunded` is committed to
/// refunds.
async fn add_payment(
    app: &TestApp,
    booking: i64,
    provider: &str,
    amount: i64,
    refunded: i64,
    staff: i32,
) -> i64 {
    let counter = provider.starts_with("counter");
    let at = tokyo_instant(day("2025-05-02"), 600);
    let unique = uuid::Uuid::new_v4().simple().to_string();
    payment::ActiveModel {
        id: NotSet,
        booking_id: Set(booking),
        provider: Set(provider.into()),
        checkout_attempt_id: Set(None),
        provider_session_id: Set(None),
        provider_payment_id: Set((!counter).then(|| format!("pi_{unique}"))),
        amount_yen: Set(amount),
        currency: Set("jpy".into()),
        refunded_yen: Set(refunded),
        disposition: Set(if refunded == amount {
            "returned"
        } else {
            "applied"
        }
        .into()),
        receipt_number: Set(counter.then(|| format!("R-{unique}"))),
        paid_at: Set(at),
        created_at: Set(at),
        recorded_by: Set(counter.then_some(staff)),
    }
    .insert(&app.db)
    .await
    .expect("insert a payment")
    .id
}

async fn add_refund(app: &TestApp, payment: i64, amount: i64, reason: &str, state: &str) {
    let at = tokyo_instant(day("2025-05-20"), 600);
    refund::ActiveModel {
        id: NotSet,
        payment_id: Set(payment),
        amount_yen: Set(amount),
        reason: Set(reason.into()),
        state: Set(state.into()),
        idempotency_key: Set(uuid::Uuid::new_v4().to_string()),
        provider_refund_id: Set(None),
        failure: Set(None),
        attempts: Set(0),
        created_at: Set(at),
        completed_at: Set((state == "succeeded").then_some(at)),
        requested_by: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("insert a refund");
}

async fn add_application(app: &TestApp, round: i32, user: i32, state: &str, wishes: &[i64]) {
    let at = tokyo_instant(day("2025-04-05"), 600);
    let application = lottery_application::ActiveModel {
        id: NotSet,
        round_id: Set(round),
        user_id: Set(user),
        group_id: Set(None),
        applicant_key: Set(format!("u{user}")),
        tier: Set(0),
        state: Set(state.into()),
        purpose: Set("練習".into()),
        attendees: Set(6),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&app.db)
    .await
    .expect("insert an application");
    for (i, slot) in wishes.iter().enumerate() {
        lottery_wish::ActiveModel {
            application_id: Set(application.id),
            rank: Set(i as i16 + 1),
            slot_id: Set(*slot),
        }
        .insert(&app.db)
        .await
        .expect("insert a wish");
    }
}

async fn add_round(app: &TestApp) -> i32 {
    let at = |d: &str| tokyo_instant(day(d), 600);
    lottery_round::ActiveModel {
        id: NotSet,
        name: Set("2025年6月利用分".into()),
        month_of_use: Set(day("2025-06-01")),
        applications_open_at: Set(at("2025-04-01")),
        applications_close_at: Set(at("2025-04-10")),
        draw_at: Set(at("2025-04-11")),
        confirm_by: Set(at("2025-04-20")),
        first_come_opens_at: Set(at("2025-04-21")),
        state: Set("scheduled".into()),
        max_wishes: Set(3),
        max_wins_per_applicant: Set(2),
        seed_hex: Set("0".repeat(64)),
        commitment_hex: Set("1".repeat(64)),
        algorithm: Set("test".into()),
        algorithm_version: Set(1),
        created_at: Set(at("2025-03-01")),
        drawn_at: Set(None),
        results: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("insert a round")
    .id
}

/// The hand-made month: June 2025 at 鶴見スポーツセンター (and one July slot).
///
/// Gymnasiums (kind `gymnasium`) on 2025-06-02/03:
/// - main gym (two units, halves A and B): whole 09–11 and 11–13 open, 13–15 closed; half A 09–11.
///   Offered: 2 × 120 min × 2 units = 480 unit-minutes (the closed slot and the half's own slot
///   are not offered on top of the whole).
/// - small gym (one unit): 06-02 09–11, 11–13 and 06-03 09–11. Offered: 3 × 120 = 360.
///   → offered 840 unit-minutes = 14 h.
/// - bookings: half A 09–11 confirmed (120 × 1), whole 11–13 checked in (120 × 2), small gym
///   06-02 09–11 no-show (120), 11–13 cancelled (—), 06-03 expired (—).
///   → booked 480 unit-minutes = 8 h; occupancy 480 / 840 = 0.5714.
///   → reached their time: confirmed + checked in + no-show = 3, no-shows 1 → 0.3333.
///
/// Martial arts (kind `martial_arts_hall`, the judo hall): 06-02 09–11 confirmed (offered 120,
/// booked 120 → 1.0; reached 1, no-shows 0 → 0.0); 07-01 09–12 awaiting payment (offered 180,
/// booked 180 → 1.0; never reached, so no no-show row for July).
///
/// Payments (month of use June):
/// - gym, stripe: half A 2,100; cancelled small gym 3,300 with 1,650 refunded (succeeded,
///   cancelled_by_resident); expired small gym 3,300 returned in full (pending, late_payment)
///   → 3 payments, 8,700 paid, 4,950 refunded, 3,750 net.
/// - gym, counter_cash: whole 4,200. gym, counter_terminal: no-show 2,100, with a failed
///   refund of 500 that gave nothing back (not counted anywhere).
/// - martial arts, counter_cash: 1,700.
///
/// Lottery (June round): applicant 1 wishes main gym 09–11 then small gym 06-03; applicant 2
/// the main gym 09–11; applicant 3 the same but withdrew (not counted); applicant 4 the judo
/// hall. Gym: 2 applications, 3 wishes, 2 first wishes, 2 slots, 2 rooms, 1.5 per slot and per
/// room. Martial arts: 1, 1, 1, 1, 1, 1.0, 1.0.
struct HandMade {
    facility: i32,
}

async fn hand_made_month(app: &TestApp) -> HandMade {
    let facility = facility_id(app, "tsurumi-sports-center").await;
    let main = room_id(app, facility, "main-gym").await;
    let half_a = room_id(app, facility, "main-gym-a").await;
    let small = room_id(app, facility, "small-gym").await;
    let judo = room_id(app, facility, "judo").await;
    let staff = app
        .count("SELECT id FROM users WHERE email = 'staff@demo.yoyaku.jp'")
        .await as i32;
    let (resident, _) = app.new_resident("resident").await;

    let main_9 = add_slot(app, main, "2025-06-02", 540, 660, true).await;
    let main_11 = add_slot(app, main, "2025-06-02", 660, 780, true).await;
    add_slot(app, main, "2025-06-02", 780, 900, false).await;
    let half_a_9 = add_slot(app, half_a, "2025-06-02", 540, 660, true).await;
    let small_9 = add_slot(app, small, "2025-06-02", 540, 660, true).await;
    let small_11 = add_slot(app, small, "2025-06-02", 660, 780, true).await;
    let small_next = add_slot(app, small, "2025-06-03", 540, 660, true).await;
    let judo_9 = add_slot(app, judo, "2025-06-02", 540, 660, true).await;
    let judo_july = add_slot(app, judo, "2025-07-01", 540, 720, true).await;

    let gym = "gymnasium";
    let b_half = add_booking(app, resident, half_a, gym, &[half_a_9], "confirmed").await;
    let b_whole = add_booking(app, resident, main, gym, &[main_11], "checked_in").await;
    let b_no_show = add_booking(app, resident, small, gym, &[small_9], "no_show").await;
    let b_cancelled = add_booking(app, resident, small, gym, &[small_11], "cancelled").await;
    let b_expired = add_booking(app, resident, small, gym, &[small_next], "expired").await;
    let hall = "martial_arts_hall";
    let b_judo = add_booking(app, resident, judo, hall, &[judo_9], "confirmed").await;
    add_booking(app, resident, judo, hall, &[judo_july], "awaiting_payment").await;

    add_payment(app, b_half, "stripe", 2100, 0, staff).await;
    let cancelled = add_payment(app, b_cancelled, "stripe", 3300, 1650, staff).await;
    add_refund(app, cancelled, 1650, "cancelled_by_resident", "succeeded").await;
    let late = add_payment(app, b_expired, "stripe", 3300, 3300, staff).await;
    add_refund(app, late, 3300, "late_payment", "pending").await;
    add_payment(app, b_whole, "counter_cash", 4200, 0, staff).await;
    let terminal = add_payment(app, b_no_show, "counter_terminal", 2100, 0, staff).await;
    add_refund(app, terminal, 500, "external", "failed").await;
    add_payment(app, b_judo, "counter_cash", 1700, 0, staff).await;

    let round = add_round(app).await;
    let mut applicants = Vec::new();
    for _ in 0..4 {
        applicants.push(app.new_resident("resident").await.0);
    }
    add_application(
        app,
        round,
        applicants[0],
        "submitted",
        &[main_9, small_next],
    )
    .await;
    add_application(app, round, applicants[1], "submitted", &[main_9]).await;
    add_application(app, round, applicants[2], "withdrawn", &[main_9]).await;
    add_application(app, round, applicants[3], "submitted", &[judo_9]).await;

    HandMade { facility }
}

async fn admin_token(app: &TestApp) -> String {
    app.login("admin@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// The report's rows, asserting a 200.
async fn rows(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let (status, body) = app.get_as(token, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["rows"].as_array().expect("rows").clone()
}

/// The row of `kind` and `month` (and `extra` = value, e.g. method), asserting there is one.
fn row<'a>(rows: &'a [Value], kind: &str, month: &str, extra: Option<(&str, &str)>) -> &'a Value {
    let found: Vec<&Value> = rows
        .iter()
        .filter(|r| r["room_kind"] == kind && r["month"] == month)
        .filter(|r| extra.is_none_or(|(k, v)| r[k] == v))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one row for {kind} {month} {extra:?} in {rows:?}"
    );
    found[0]
}

fn range(facility: i32) -> String {
    format!("facility_id={facility}&from=2025-06&to=2025-07")
}

#[tokio::test]
async fn occupancy_counts_unit_hours_booked_over_offered_per_kind_and_month() {
    let app = spawn_app().await;
    let data = hand_made_month(&app).await;
    let token = admin_token(&app).await;
    let rows = rows(
        &app,
        &token,
        &format!("/api/v1/admin/reports/occupancy?{}", range(data.facility)),
    )
    .await;
    assert_eq!(rows.len(), 3, "gym June, judo June and judo July: {rows:?}");
    let gym = row(&rows, "gymnasium", "2025-06", None);
    assert_eq!(gym["offered_minutes"], 840);
    assert_eq!(gym["booked_minutes"], 480);
    assert_eq!(gym["offered_hours"], 14.0);
    assert_eq!(gym["booked_hours"], 8.0);
    assert_eq!(gym["occupancy"], 0.5714);
    assert_eq!(gym["facility_name"], "鶴見スポーツセンター");
    let judo = row(&rows, "martial_arts_hall", "2025-06", None);
    assert_eq!(
        (
            judo["offered_minutes"].as_i64(),
            judo["booked_minutes"].as_i64()
        ),
        (Some(120), Some(120))
    );
    assert_eq!(judo["occupancy"], 1.0);
    let july = row(&rows, "martial_arts_hall", "2025-07", None);
    assert_eq!(july["offered_minutes"], 180);
    assert_eq!(
        july["occupancy"], 1.0,
        "a booking awaiting payment holds its slot"
    );
}

#[tokio::test]
async fn revenue_is_payments_net_of_refunds_by_method() {
    let app = spawn_app().await;
    let data = hand_made_month(&app).await;
    let token = admin_token(&app).await;
    let rows = rows(
        &app,
        &token,
        &format!("/api/v1/admin/reports/revenue?{}", range(data.facility)),
    )
    .await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    let stripe = row(&rows, "gymnasium", "2025-06", Some(("method", "stripe")));
    assert_eq!(
        [
            &stripe["payments"],
            &stripe["paid_yen"],
            &stripe["refunded_yen"],
            &stripe["net_yen"]
        ],
        [3, 8700, 4950, 3750]
    );
    let cash = row(
        &rows,
        "gymnasium",
        "2025-06",
        Some(("method", "counter_cash")),
    );
    assert_eq!([&cash["payments"], &cash["net_yen"]], [1, 4200]);
    let terminal = row(
        &rows,
        "gymnasium",
        "2025-06",
        Some(("method", "counter_terminal")),
    );
    assert_eq!(
        [
            &terminal["paid_yen"],
            &terminal["refunded_yen"],
            &terminal["net_yen"]
        ],
        [2100, 0, 2100],
        "a failed refund gave nothing back"
    );
    let judo = row(
        &rows,
        "martial_arts_hall",
        "2025-06",
        Some(("method", "counter_cash")),
    );
    assert_eq!(judo["net_yen"], 1700);
}

#[tokio::test]
async fn refunds_are_counted_by_reason_with_the_pending_part_and_without_failed_ones() {
    let app = spawn_app().await;
    let data = hand_made_month(&app).await;
    let token = admin_token(&app).await;
    let rows = rows(
        &app,
        &token,
        &format!("/api/v1/admin/reports/refunds?{}", range(data.facility)),
    )
    .await;
    assert_eq!(rows.len(), 2, "the failed refund is left out: {rows:?}");
    let resident = row(
        &rows,
        "gymnasium",
        "2025-06",
        Some(("reason", "cancelled_by_resident")),
    );
    assert_eq!(
        [
            &resident["refunds"],
            &resident["refunded_yen"],
            &resident["pending_yen"]
        ],
        [1, 1650, 0]
    );
    let late = row(
        &rows,
        "gymnasium",
        "2025-06",
        Some(("reason", "late_payment")),
    );
    assert_eq!([&late["refunded_yen"], &late["pending_yen"]], [3300, 3300]);
}

#[tokio::test]
async fn the_no_show_rate_divides_no_shows_by_the_bookings_that_reached_their_time() {
    let app = spawn_app().await;
    let data = hand_made_month(&app).await;
    let token = admin_token(&app).await;
    let rows = rows(
        &app,
        &token,
        &format!("/api/v1/admin/reports/no-shows?{}", range(data.facility)),
    )
    .await;
    assert_eq!(
        rows.len(),
        2,
        "July's unpaid booking never reached its time: {rows:?}"
    );
    let gym = row(&rows, "gymnasium", "2025-06", None);
    assert_eq!([&gym["bookings_reached"], &gym["no_shows"]], [3, 1]);
    assert_eq!(gym["no_show_rate"], 0.3333);
    let judo = row(&rows, "martial_arts_hall", "2025-06", None);
    assert_eq!([&judo["bookings_reached"], &judo["no_shows"]], [1, 0]);
    assert_eq!(judo["no_show_rate"], 0.0);
}

#[tokio::test]
async fn lottery_demand_counts_submitted_wishes_per_slot_and_per_room() {
    let app = spawn_app().await;
    let data = hand_made_month(&app).await;
    let token = admin_token(&app).await;
    let rows = rows(
        &app,
        &token,
        &format!(
            "/api/v1/admin/reports/lottery-demand?{}",
            range(data.facility)
        ),
    )
    .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let gym = row(&rows, "gymnasium", "2025-06", None);
    assert_eq!(
        [
            &gym["applications"],
            &gym["wishes"],
            &gym["first_wishes"],
            &gym["wished_slots"],
            &gym["wished_rooms"]
        ],
        [2, 3, 2, 2, 2],
        "the withdrawn application is left out"
    );
    assert_eq!(
        [&gym["wishes_per_slot"], &gym["wishes_per_room"]],
        [1.5, 1.5]
    );
    let judo = row(&rows, "martial_arts_hall", "2025-06", None);
    assert_eq!(
        [
            &judo["applications"],
            &judo["wishes"],
            &judo["wished_slots"]
        ],
        [1, 1, 1]
    );
}

#[tokio::test]
async fn reports_filter_by_kind_of_room_and_by_month() {
    let app = spawn_app().await;
    let data = hand_made_month(&app).await;
    let token = admin_token(&app).await;
    let only_gyms = rows(
        &app,
        &token,
        &format!(
            "/api/v1/admin/reports/occupancy?{}&room_kind=gymnasium",
            range(data.facility)
        ),
    )
    .await;
    assert_eq!(only_gyms.len(), 1);
    assert_eq!(only_gyms[0]["room_kind"], "gymnasium");
    let july = rows(
        &app,
        &token,
        &format!(
            "/api/v1/admin/reports/occupancy?facility_id={}&from=2025-07&to=2025-07",
            data.facility
        ),
    )
    .await;
    assert_eq!(july.len(), 1);
    assert_eq!(july[0]["month"], "2025-07");
    let other = facility_id(&app, "kohoku-sports-center").await;
    let elsewhere = rows(
        &app,
        &token,
        &format!("/api/v1/admin/reports/occupancy?facility_id={other}&from=2025-06&to=2025-07"),
    )
    .await;
    assert!(
        elsewhere.is_empty(),
        "another facility has none of it: {elsewhere:?}"
    );
}

#[tokio::test]
async fn a_report_as_csv_is_utf8_with_a_bom_and_the_same_figures() {
    let app = spawn_app().await;
    let data = hand_made_month(&app).await;
    let token = admin_token(&app).await;
    let response = app
        .client
        .get(format!(
            "{}/api/v1/admin/reports/occupancy?{}&room_kind=gymnasium&format=csv",
            app.address,
            range(data.facility)
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"occupancy-2025-06-2025-07.csv\""
    );
    let bytes = response.bytes().await.expect("a body");
    assert!(
        bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "a UTF-8 byte order mark"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
    assert_eq!(
        text,
        format!(
            "month,facility_id,facility_name,room_kind,offered_hours,booked_hours,occupancy\r\n\
             2025-06,{},鶴見スポーツセンター,gymnasium,14,8,0.5714\r\n",
            data.facility
        )
    );
}

#[tokio::test]
async fn a_bad_range_kind_or_facility_is_a_422_naming_the_parameter() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    for (query, field) in [
        ("from=2025-13", "from"),
        ("from=june", "from"),
        ("to=2025-6", "to"),
        ("from=2025-06&to=2025-05", "to"),
        ("from=2023-01&to=2025-01", "to"),
        ("room_kind=bowling", "room_kind"),
        ("facility_id=999999", "facility_id"),
    ] {
        let (status, body) = app
            .get_as(&token, &format!("/api/v1/admin/reports/occupancy?{query}"))
            .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(error_of(&body)["code"], "invalid_input");
        assert_eq!(blamed_fields(&body), [field], "{query}");
    }
    let (status, body) = app
        .get_as(&token, "/api/v1/admin/reports/revenue?facility_id=abc")
        .await;
    assert_eq!(
        status, 400,
        "a malformed id is refused before anything else"
    );
    assert_eq!(blamed_fields(&body), ["facility_id"]);
    let (status, body) = app
        .get_as(&token, "/api/v1/admin/reports/revenue?colour=red")
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body)["code"], "unknown_parameter");
}

/// Every report route × every role: who may read it, and which facility a manager may name.
#[tokio::test]
async fn each_report_is_for_managers_of_the_facility_and_administrators_only() {
    let app = spawn_app().await;
    let own = facility_id(&app, "tsurumi-sports-center").await;
    let other = facility_id(&app, "kohoku-sports-center").await;
    let token = |email: &'static str| {
        let app = &app;
        async move {
            app.login(email).await["access_token"]
                .as_str()
                .expect("a token")
                .to_owned()
        }
    };
    let resident = token("resident@demo.yoyaku.jp").await;
    let staff = token("staff@demo.yoyaku.jp").await;
    let manager = token("manager@demo.yoyaku.jp").await;
    let admin = token("admin@demo.yoyaku.jp").await;
    let cases: Vec<(&str, Option<&str>, String, u16)> = vec![
        ("nobody", None, String::new(), 401),
        ("resident", Some(&resident), String::new(), 403),
        ("staff", Some(&staff), format!("facility_id={own}"), 403),
        ("staff", Some(&staff), String::new(), 403),
        ("manager", Some(&manager), format!("facility_id={own}"), 200),
        ("manager", Some(&manager), String::new(), 200),
        (
            "manager",
            Some(&manager),
            format!("facility_id={other}"),
            403,
        ),
        ("admin", Some(&admin), format!("facility_id={other}"), 200),
        ("admin", Some(&admin), String::new(), 200),
    ];
    for report in [
        "occupancy",
        "revenue",
        "refunds",
        "no-shows",
        "lottery-demand",
    ] {
        for (who, token, query, expected) in &cases {
            let path = format!("/api/v1/admin/reports/{report}?{query}");
            let status = match token {
                Some(token) => app.get_as(token, &path).await.0,
                None => app.get(&path).await.status(),
            };
            assert_eq!(status.as_u16(), *expected, "{who} GET {path}");
        }
    }
}

#[tokio::test]
async fn a_manager_without_a_filter_sees_only_their_facilities() {
    let app = spawn_app().await;
    let data = hand_made_month(&app).await;
    // The same month at a facility the manager is not assigned to.
    let other = facility_id(&app, "kohoku-sports-center").await;
    let gym = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {other} AND parent_room_id IS NULL ORDER BY id LIMIT 1"
        ))
        .await as i32;
    add_slot(&app, gym, "2025-06-02", 540, 660, true).await;
    let manager = app.login("manager@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let seen = rows(
        &app,
        &manager,
        "/api/v1/admin/reports/occupancy?from=2025-06&to=2025-07",
    )
    .await;
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|r| r["facility_id"] == data.facility),
        "only 鶴見: {seen:?}"
    );
    let admin = admin_token(&app).await;
    let all = rows(
        &app,
        &admin,
        "/api/v1/admin/reports/occupancy?from=2025-06&to=2025-07",
    )
    .await;
    assert!(all.iter().any(|r| r["facility_id"] == other), "{all:?}");
}

/// Sign in through the form, in English; the jar then holds the browser session.
async fn browser_as(app: &TestApp, email: &str) -> Jar {
    let mut jar = Jar::default();
    jar.0.insert("yoyaku_lang".into(), "en".into());
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
async fn the_reports_page_draws_an_accessible_chart_beside_the_full_table() {
    let app = spawn_app().await;
    let data = hand_made_month(&app).await;
    let mut jar = browser_as(&app, "manager@demo.yoyaku.jp").await;
    let path = format!(
        "/staff/reports?report=occupancy&facility_id={}&from=2025-06&to=2025-07",
        data.facility
    );
    let (status, headers, html) = get(&app, &mut jar, &path).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        html.contains(r#"<svg class="chart" role="img" aria-labelledby="chart-occupancy-title chart-occupancy-desc""#),
        "{html}"
    );
    assert!(html.contains("<title id=\"chart-occupancy-title\">Occupancy by month</title>"));
    // June over both kinds: (480 + 120) / (840 + 120) = 62.5 %; July 180 / 180.
    assert!(
        html.contains("2025-06 62.5%, 2025-07 100.0%"),
        "the description reads the figures: {html}"
    );
    assert_eq!(
        html.matches("<rect class=\"chart-bar\"").count(),
        2,
        "a bar a month"
    );
    assert!(html.contains("<caption id=\"report-table-caption\">Occupancy</caption>"));
    for cell in ["14.0", "8.0", "57.1%", "Gymnasium", "Martial arts hall"] {
        assert!(
            html.contains(&format!(">{cell}</td>")),
            "{cell} in the table"
        );
    }
    assert!(html.contains(&format!(
        "href=\"/api/v1/admin/reports/occupancy?facility_id={}&#38;from=2025-06&#38;to=2025-07&#38;format=csv\"",
        data.facility
    )), "the CSV link keeps the filters: {html}");
    // Every report has its link, keeping the filters.
    let (_, _, revenue) = get(
        &app,
        &mut jar,
        &format!(
            "/staff/reports?report=revenue&facility_id={}&from=2025-06&to=2025-06",
            data.facility
        ),
    )
    .await;
    assert!(
        revenue.contains(">Card and others (online)</td>"),
        "{revenue}"
    );
    assert!(revenue.contains("¥3,750"), "net of refunds: {revenue}");
    assert!(revenue.contains("aria-current=\"page\">Revenue</a>"));
}

#[tokio::test]
async fn the_reports_page_shows_bad_filters_next_to_the_field_and_in_a_summary() {
    let app = spawn_app().await;
    let mut jar = browser_as(&app, "admin@demo.yoyaku.jp").await;
    let (status, _, html) = get(
        &app,
        &mut jar,
        "/staff/reports?report=no-shows&from=2026-13&to=2026-01",
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("class=\"error-summary\""));
    assert!(html.contains("<a href=\"#from\">Enter the first month as YYYY-MM"));
    assert!(html.contains("<p class=\"field-error\" id=\"from-error\">"));
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(
        !html.contains("<svg class=\"chart\""),
        "no figures for a bad range"
    );
}

#[tokio::test]
async fn the_reports_page_is_for_managers_and_administrators() {
    let app = spawn_app().await;
    let other = facility_id(&app, "kohoku-sports-center").await;
    let mut anonymous = Jar::default();
    let (status, _, _) = get(&app, &mut anonymous, "/staff/reports").await;
    assert_eq!(status, 303, "to the sign-in page");
    for (email, path, expected) in [
        ("resident@demo.yoyaku.jp", "/staff/reports".to_owned(), 403),
        ("staff@demo.yoyaku.jp", "/staff/reports".to_owned(), 403),
        ("manager@demo.yoyaku.jp", "/staff/reports".to_owned(), 200),
        (
            "manager@demo.yoyaku.jp",
            format!("/staff/reports?facility_id={other}"),
            403,
        ),
        (
            "admin@demo.yoyaku.jp",
            format!("/staff/reports?facility_id={other}"),
            200,
        ),
    ] {
        let mut jar = browser_as(&app, email).await;
        let (status, _, html) = get(&app, &mut jar, &path).await;
        assert_eq!(status.as_u16(), expected, "{email} {path}: {html}");
    }
}

#[tokio::test]
async fn the_facility_list_is_public_csv_in_the_standard_layout() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/opendata/facilities.csv").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let bytes = response.bytes().await.expect("a body");
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "a byte order mark");
    let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
    assert!(text.ends_with("\r\n"));
    let lines: Vec<&str> = text.trim_end_matches("\r\n").split("\r\n").collect();
    assert_eq!(
        lines[0],
        "全国地方公共団体コード,ID,地方公共団体名,名称,名称_カナ,名称_英字,種類,住所,方書,緯度,経度,\
         利用可能曜日,開始時間,終了時間,利用可能日時特記事項,料金（基本）,料金（詳細）,説明,\
         バリアフリー情報,電話番号,内線番号,FAX番号,法人番号,団体名,郵便番号,画像,画像_ライセンス,URL,備考"
    );
    let facilities = app.count("SELECT COUNT(*) FROM facilities").await as usize;
    assert_eq!(lines.len(), facilities + 1, "a row per facility");
    let tsurumi = lines
        .iter()
        .find(|l| l.contains(",tsurumi-sports-center,"))
        .expect("鶴見スポーツセンター");
    assert!(tsurumi.starts_with("141003,tsurumi-sports-center,神奈川県横浜市,鶴見スポーツセンター,ツルミスポーツセンター,Tsurumi Sports Center,スポーツセンター,神奈川県横浜市鶴見区元宮2-19-15,,35.5075,139.6737,月火水木金土日祝,09:00,21:30,"),
        "{tsurumi}");
    assert!(tsurumi.contains("休館日: 第3月曜日、年末年始（12月29日〜1月3日）"));
    assert!(tsurumi.contains(",045-295-3050,"));
    assert!(tsurumi.contains(",230-0004,"));
}

/// A room with free slots on an open weekday, one of them booked by a new resident.
async fn a_day_with_one_slot_booked(app: &TestApp) -> (i32, NaiveDate, i64, Vec<i64>) {
    let facility = facility_id(app, "tsurumi-sports-center").await;
    let room = room_id(app, facility, "small-gym").await;
    let (day, free) = app.free_slots_from(i64::from(room), 20).await;
    let (_, token) = app.new_resident("resident").await;
    let (status, body) = app.book(&token, i64::from(room), &free[..1]).await;
    assert_eq!(status, 201, "{body}");
    (room, day, free[0], free[1..].to_vec())
}

#[tokio::test]
async fn availability_json_says_which_slots_are_free_without_personal_data() {
    let app = spawn_app().await;
    let (room, day, booked, free) = a_day_with_one_slot_booked(&app).await;
    let response = app
        .get(&format!(
            "/api/v1/opendata/rooms/{room}/availability.json?from={day}&to={day}"
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let text = response.text().await.expect("a body");
    assert!(
        !text.contains("テスト 利用者") && !text.contains("@test.yoyaku.jp"),
        "no person"
    );
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(body["room_id"], room);
    let slots = body["slots"].as_array().expect("slots");
    let free_of = |id: i64| {
        slots
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["free"].clone())
    };
    assert_eq!(free_of(booked), Some(json!(false)));
    for id in &free {
        assert_eq!(free_of(*id), Some(json!(true)), "slot {id}");
    }
    assert!(
        slots.iter().all(|s| s.as_object().unwrap().len() == 4),
        "id, times, free only"
    );
}

#[tokio::test]
async fn availability_ics_lists_the_free_slots_as_events_with_stable_uids() {
    let app = spawn_app().await;
    let (room, day, booked, free) = a_day_with_one_slot_booked(&app).await;
    let path = format!("/api/v1/opendata/rooms/{room}/availability.ics?from={day}&to={day}");
    let response = app.get(&path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let ics = response.text().await.expect("a body");
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    assert!(!ics.replace("\r\n", "").contains('\n'), "CRLF only");
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), free.len());
    let unfolded = ics.replace("\r\n ", "");
    for id in &free {
        assert!(
            unfolded.contains(&format!("\r\nUID:slot-{id}@127.0.0.1:")),
            "slot {id}"
        );
    }
    assert!(
        !unfolded.contains(&format!("UID:slot-{booked}@")),
        "the booked slot is busy"
    );
    let again = app.get(&path).await.text().await.expect("a body");
    let uids = |text: &str| {
        text.replace("\r\n ", "")
            .lines()
            .filter(|l| l.starts_with("UID:"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(uids(&ics), uids(&again), "UIDs are stable");
}

#[tokio::test]
async fn open_data_needs_no_sign_in_and_refuses_bad_input_by_field() {
    let app = spawn_app().await;
    let facility = facility_id(&app, "tsurumi-sports-center").await;
    let room = room_id(&app, facility, "small-gym").await;
    for path in [
        "/api/v1/opendata/facilities.csv".to_owned(),
        format!("/api/v1/opendata/rooms/{room}/availability.json"),
        format!("/api/v1/opendata/rooms/{room}/availability.ics"),
        "/opendata".to_owned(),
    ] {
        assert_eq!(app.get(&path).await.status(), 200, "{path} without a token");
    }
    let resident = app.login("resident@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let (status, _) = app
        .get_as(
            &resident,
            &format!("/api/v1/opendata/rooms/{room}/availability.json"),
        )
        .await;
    assert_eq!(status, 200, "a token changes nothing");
    for (query, status, field) in [
        ("from=2026-13-01", 400, "from"),
        ("to=tomorrow", 400, "to"),
        ("from=2026-04-01&to=2026-03-31", 422, "to"),
        ("from=2026-04-01&to=2026-06-02", 422, "to"),
        ("colour=red", 400, "colour"),
    ] {
        for ext in ["json", "ics"] {
            let (got, body) = app
                .get_json(&format!(
                    "/api/v1/opendata/rooms/{room}/availability.{ext}?{query}"
                ))
                .await;
            assert_eq!(got, status, "{ext} {query}: {body}");
            assert_eq!(blamed_fields(&body), [field], "{ext} {query}");
        }
    }
    let (status, body) = app
        .get_json("/api/v1/opendata/rooms/abc/availability.json")
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), ["id"]);
    let (status, _) = app
        .get_json("/api/v1/opendata/rooms/999999/availability.ics")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_openapi_description_lists_the_reports_and_open_data_with_their_schemas() {
    let app = spawn_app().await;
    let (status, spec) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let mut refs = Vec::new();
    for path in [
        "/api/v1/admin/reports/occupancy",
        "/api/v1/admin/reports/revenue",
        "/api/v1/admin/reports/refunds",
        "/api/v1/admin/reports/no-shows",
        "/api/v1/admin/reports/lottery-demand",
        "/api/v1/opendata/facilities.csv",
        "/api/v1/opendata/rooms/{id}/availability.json",
        "/api/v1/opendata/rooms/{id}/availability.ics",
    ] {
        let operation = &spec["paths"][path]["get"];
        assert!(operation.is_object(), "{path} missing from OpenAPI");
        collect_refs(&operation["responses"], &mut refs);
    }
    assert!(!refs.is_empty());
    for reference in refs {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected ref {reference}"));
        assert!(
            spec["components"]["schemas"].get(name).is_some(),
            "{reference} does not resolve"
        );
    }
    let params: Vec<&str> = spec["paths"]["/api/v1/admin/reports/occupancy"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["facility_id", "room_kind", "from", "to", "format"]);
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}
