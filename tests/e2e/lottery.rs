//! The lottery (抽選): applying (window, caps, duplicates, non-lottery slots, group-only rooms,
//! edit and withdraw), the draw and its published, verifiable results, confirming a win into a
//! booking, and unconfirmed wins lapsing to first-come.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use yoyaku_tests::{TestApp, blamed_fields, error_of, spawn_app, spawn_app_with};

async fn token_of(app: &TestApp, email: &str) -> String {
    app.login(email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A whole room of the demo city that uses the lottery (`requires_group` as asked), skipping
/// `except`.
async fn lottery_room(app: &TestApp, requires_group: bool, except: &[i64]) -> i64 {
    let flag = if requires_group { "TRUE" } else { "FALSE" };
    let not_in = if except.is_empty() {
        String::new()
    } else {
        format!(
            " AND id NOT IN ({})",
            except
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    app.count(&format!(
        "SELECT MIN(id) FROM rooms WHERE uses_lottery = TRUE AND requires_group = {flag} \
         AND parent_room_id IS NULL{not_in}"
    ))
    .await
}

/// Days from today to the 8th of next month: a date of use well inside one month, whose
/// first-come window (by the default configuration) has opened.
fn days_to_next_month() -> i64 {
    let today = yoyaku::domain::calendar::tokyo_date(Utc::now());
    let first_next = today
        .with_day(1)
        .unwrap()
        .checked_add_months(chrono::Months::new(1))
        .unwrap();
    (first_next + Duration::days(7) - today).num_days()
}

/// Times of a round relative to now, in hours: (opens, closes, draw, confirm by, first-come).
struct Hours(i64, i64, i64, i64, i64);

fn at(hours: i64) -> String {
    (Utc::now() + Duration::hours(hours)).to_rfc3339()
}

async fn create_round(
    app: &TestApp,
    admin: &str,
    month: NaiveDate,
    rooms: &[i64],
    hours: Hours,
    limits: (i64, i64),
) -> Value {
    let (status, _, round) = app
        .post_as(
            admin,
            "/api/v1/admin/lottery/rounds",
            None,
            &json!({
                "name": "テスト抽選",
                "month_of_use": month.to_string(),
                "room_ids": rooms,
                "applications_open_at": at(hours.0),
                "applications_close_at": at(hours.1),
                "draw_at": at(hours.2),
                "confirm_by": at(hours.3),
                "first_come_opens_at": at(hours.4),
                "max_wishes": limits.0,
                "max_wins_per_applicant": limits.1,
            }),
        )
        .await;
    assert_eq!(status, 201, "{round}");
    round
}

async fn apply(app: &TestApp, token: &str, round: i64, body: Value) -> (u16, Value) {
    let (status, _, answer) = app
        .post_as(
            token,
            &format!("/api/v1/lottery/rounds/{round}/applications"),
            None,
            &body,
        )
        .await;
    (status.as_u16(), answer)
}

fn wishes(slots: &[i64]) -> Value {
    json!({"wishes": slots, "purpose": "バドミントン練習", "attendees": 10})
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .to_utc()
}

#[tokio::test]
async fn applications_are_checked_edited_and_withdrawn_within_the_window() {
    let app = spawn_app_with(|s| {
        s.lottery.max_wishes = 3;
        s.lottery.max_wishes_per_month = 3;
    })
    .await;
    let admin = token_of(&app, "admin@demo.yoyaku.jp").await;
    let room = lottery_room(&app, false, &[]).await;
    let other_room = lottery_room(&app, false, &[room]).await;
    let group_room = lottery_room(&app, true, &[]).await;
    let from = days_to_next_month();
    let (day, slots) = app.free_slots_from(room, from).await;
    let (other_day, other_slots) = app.free_slots_from(other_room, from).await;
    let (group_day, group_slots) = app.free_slots_from(group_room, from).await;
    assert!(slots.len() >= 3, "{slots:?}");
    assert_eq!(
        (day.month(), other_day.month(), group_day.month()),
        (day.month(), day.month(), day.month())
    );
    let plain_room = app
        .count("SELECT MIN(id) FROM rooms WHERE uses_lottery = FALSE")
        .await;
    let (_, plain_slots) = app.free_slots_from(plain_room, from).await;

    let round = create_round(
        &app,
        &admin,
        day,
        &[room, group_room],
        Hours(-1, 1, 2, 3, 4),
        (2, 1),
    )
    .await;
    let round_id = round["id"].as_i64().unwrap();
    assert_eq!(round["phase"], "open");
    assert_eq!(
        round["seed"],
        Value::Null,
        "the seed stays secret until the draw"
    );
    assert_eq!(round["commitment"].as_str().unwrap().len(), 64);

    // The round's slots show `lottery`, and first-come booking waits for the opening.
    let (_, listing) = app
        .get_json(&format!("/api/v1/rooms/{room}/slots?from={day}&to={day}"))
        .await;
    let first = listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == slots[0])
        .unwrap();
    assert_eq!(first["state"], "lottery");
    let (resident_id, resident) = app.new_resident("resident").await;
    let (status, body) = app.book(&resident, room, &slots[..1]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["code"], "lottery_period");

    // Apply, then edit (the same applicant replaces its application).
    let (status, body) = apply(&app, &resident, round_id, wishes(&slots[..2])).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["wishes"].as_array().unwrap().len(), 2);
    assert_eq!(body["wishes"][0]["slot_id"], slots[0]);
    assert_eq!(body["tier"], 0);
    let (status, body) = apply(&app, &resident, round_id, wishes(&[slots[2]])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["wishes"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM lottery_applications WHERE user_id = {resident_id}"
        ))
        .await,
        1
    );

    // Bad wishes: over the round's cap, duplicated, not in the lottery, group-only.
    let (status, body) = apply(&app, &resident, round_id, wishes(&slots[..3])).await;
    assert_eq!(
        (status, error_of(&body)["code"].clone()),
        (409, json!("limit_reached"))
    );
    assert_eq!(blamed_fields(&body), ["max_wishes"]);
    let (status, body) = apply(&app, &resident, round_id, wishes(&[slots[0], slots[0]])).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(blamed_fields(&body), ["wishes[1]"]);
    let (status, body) = apply(&app, &resident, round_id, wishes(&[plain_slots[0]])).await;
    assert_eq!(
        (status, error_of(&body)["code"].clone()),
        (422, json!("slot_not_in_lottery"))
    );
    assert_eq!(blamed_fields(&body), ["wishes[0]"]);
    let (status, body) = apply(&app, &resident, round_id, wishes(&[group_slots[0]])).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(blamed_fields(&body), ["group_id"]);
    let (status, body) = apply(
        &app,
        &resident,
        round_id,
        json!({"wishes": [slots[0]], "purpose": "", "attendees": 1}),
    )
    .await;
    assert_eq!(
        (status, blamed_fields(&body)),
        (400, vec!["purpose".to_owned()])
    );

    // A registered group's representative applies for the group-only room as the group.
    let group_token = token_of(&app, "group@demo.yoyaku.jp").await;
    let (_, groups) = app.get_as(&group_token, "/api/v1/groups").await;
    let group_id = groups["items"][0]["id"].as_i64().unwrap();
    let mut body = wishes(&[group_slots[0]]);
    body["group_id"] = json!(group_id);
    let (status, answer) = apply(&app, &group_token, round_id, body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["group_id"], group_id);

    // The monthly cap spans the month's rounds: 1 wish held + 3 here > 3.
    let second = create_round(
        &app,
        &admin,
        day,
        &[other_room],
        Hours(-1, 1, 2, 3, 4),
        (3, 1),
    )
    .await;
    let second_id = second["id"].as_i64().unwrap();
    assert!(other_slots.len() >= 3, "{other_slots:?}");
    let (status, body) = apply(&app, &resident, second_id, wishes(&other_slots[..3])).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(blamed_fields(&body), ["max_wishes_per_month"]);
    let (status, body) = apply(&app, &resident, second_id, wishes(&other_slots[..2])).await;
    assert_eq!(status, 201, "1 + 2 wishes are within the cap of 3: {body}");

    // Outside the window: a round that opens later.
    let later = create_round(&app, &admin, day, &[room], Hours(1, 2, 3, 4, 5), (2, 1)).await;
    let (status, body) = apply(
        &app,
        &resident,
        later["id"].as_i64().unwrap(),
        wishes(&[slots[0]]),
    )
    .await;
    assert_eq!(
        (status, error_of(&body)["code"].clone()),
        (409, json!("lottery_window_closed"))
    );

    // Withdraw, once.
    let withdraw = format!("/api/v1/lottery/rounds/{round_id}/applications/withdraw");
    let (status, _, body) = app.post_as(&resident, &withdraw, None, &json!({})).await;
    assert_eq!(
        (status.as_u16(), body["state"].clone()),
        (200, json!("withdrawn"))
    );
    let (status, _, _) = app.post_as(&resident, &withdraw, None, &json!({})).await;
    assert_eq!(status, 404);

    // Staff accounts do not apply; the public list shows the rounds.
    let staff = token_of(&app, "staff@demo.yoyaku.jp").await;
    assert_eq!(
        apply(&app, &staff, round_id, wishes(&[slots[0]])).await.0,
        403
    );
    let (status, list) = app.get_json("/api/v1/lottery/rounds").await;
    assert_eq!((status.as_u16(), list["total"].clone()), (200, json!(3)));
}

#[tokio::test]
async fn the_draw_is_published_verifiable_and_wins_are_confirmed_or_lapse_to_first_come() {
    let app = spawn_app().await;
    let admin = token_of(&app, "admin@demo.yoyaku.jp").await;
    let room = lottery_room(&app, false, &[]).await;
    let (day, slots) = app.free_slots_from(room, days_to_next_month()).await;
    assert!(slots.len() >= 3);
    let round = create_round(&app, &admin, day, &[room], Hours(-1, 1, 2, 3, 4), (3, 1)).await;
    let round_id = round["id"].as_i64().unwrap() as i32;
    let (s0, s1, s2) = (slots[0], slots[1], slots[2]);

    let mut people = Vec::new();
    for (residency, wished) in [
        ("resident", vec![s0, s1]),
        ("resident", vec![s0, s2]),
        ("resident", vec![s0]),
        ("non_resident", vec![s0, s1]),
    ] {
        let (id, token) = app.new_resident(residency).await;
        let (status, body) = apply(&app, &token, round_id as i64, wishes(&wished)).await;
        assert_eq!(status, 201, "{body}");
        people.push((id, token));
    }
    let (status, body) = app
        .get_json(&format!("/api/v1/lottery/rounds/{round_id}/results"))
        .await;
    assert_eq!(
        (status.as_u16(), error_of(&body)["code"].clone()),
        (409, json!("lottery_not_drawn"))
    );
    let (status, _, body) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/lottery/rounds/{round_id}/draw"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_of(&body)["code"].clone()),
        (409, json!("lottery_too_early"))
    );

    // The job draws at the draw time; a second draw finds it drawn.
    let draw_time = instant(&round["draw_at"]) + Duration::minutes(1);
    let drawn = yoyaku::services::lottery::draw_round(&app.db, None, round_id, draw_time)
        .await
        .expect("the draw");
    assert_eq!(drawn.applications, 4);
    assert!(matches!(
        yoyaku::services::lottery::draw_round(&app.db, None, round_id, draw_time).await,
        Err(yoyaku::services::lottery::LotteryError::AlreadyDrawn)
    ));

    let (status, results) = app
        .get_json(&format!("/api/v1/lottery/rounds/{round_id}/results"))
        .await;
    assert_eq!(status, 200, "{results}");
    // SHA-256 itself is pinned to a known vector in the domain's unit tests.
    let seed = yoyaku::domain::lottery::parse_seed(results["seed"].as_str().unwrap()).unwrap();
    assert_eq!(
        yoyaku::domain::lottery::commitment(&seed),
        round["commitment"].as_str().unwrap(),
        "the seed revealed is the one committed to before applications closed"
    );
    assert_eq!(results["algorithm"], "yoyaku-rank-rounds");
    assert_eq!(results["applications"].as_array().unwrap().len(), 4);
    let winners = results["winners"].as_array().unwrap().clone();
    assert!(winners.len() >= 2, "{winners:?}");
    let mut won_slots: Vec<i64> = winners
        .iter()
        .map(|w| w["slot_id"].as_i64().unwrap())
        .collect();
    won_slots.sort_unstable();
    won_slots.dedup();
    assert_eq!(won_slots.len(), winners.len(), "a slot is won once");
    let mut applicants: Vec<&str> = winners
        .iter()
        .map(|w| w["applicant"].as_str().unwrap())
        .collect();
    applicants.sort_unstable();
    applicants.dedup();
    assert_eq!(
        applicants.len(),
        winners.len(),
        "one win per applicant (the cap)"
    );
    // The first wish for s0 goes to a tier-0 (resident) applicant.
    let tier_of = |pseudonym: &str| {
        results["applications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["applicant"] == pseudonym)
            .unwrap()["tier"]
            .as_i64()
            .unwrap()
    };
    let s0_winner = winners.iter().find(|w| w["slot_id"] == s0).unwrap();
    assert_eq!(
        (
            s0_winner["rank"].as_i64(),
            tier_of(s0_winner["applicant"].as_str().unwrap())
        ),
        (Some(1), 0)
    );
    let body = results.to_string();
    assert!(
        !body.contains("test.yoyaku.jp"),
        "no personal data in the published results"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mail_outbox WHERE template = 'lottery_result'")
            .await,
        4,
        "every applicant is told"
    );

    // `yoyaku lottery verify`: the published file passes, a tampered one fails naming where.
    let dir = std::env::temp_dir().join(format!("lottery-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("results.json");
    std::fs::write(&file, &body).unwrap();
    let summary =
        yoyaku::services::lottery::verify_file(&file).expect("the published file verifies");
    assert!(summary.contains("verified"), "{summary}");
    let mut tampered = results.clone();
    let loser = results["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["applicant"].as_str().unwrap())
        .find(|a| !applicants.contains(a))
        .unwrap()
        .to_owned();
    tampered["winners"][0]["applicant"] = json!(loser);
    let bad = dir.join("tampered.json");
    std::fs::write(&bad, tampered.to_string()).unwrap();
    let difference = yoyaku::services::lottery::verify_file(&bad).unwrap_err();
    assert!(difference.contains("winners[0]"), "{difference}");
    std::fs::remove_dir_all(&dir).ok();

    // An interrupted draw commits nothing; re-run, it gives the same result.
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(&format!(
            "DELETE FROM lottery_wins WHERE round_id = {round_id}; \
             UPDATE lottery_rounds SET state = 'scheduled', drawn_at = NULL, results = NULL WHERE id = {round_id}"
        ))
        .await
        .unwrap();
    yoyaku::services::lottery::draw_round(&app.db, None, round_id, draw_time)
        .await
        .expect("the draw again");
    let (_, again) = app
        .get_json(&format!("/api/v1/lottery/rounds/{round_id}/results"))
        .await;
    assert_eq!(again, results);

    // Each winner sees their win; one confirms (a booking awaiting payment), one does not.
    let mut wins = Vec::new();
    for (_, token) in &people {
        let (status, mine) = app.get_as(token, "/api/v1/me/lottery").await;
        assert_eq!(status, 200);
        let application = &mine["applications"][0];
        assert!(application["pseudonym"].is_string());
        if let Some(win) = application["wins"].as_array().unwrap().first() {
            assert_eq!(win["state"], "won");
            wins.push((token.clone(), win.clone()));
        }
    }
    assert_eq!(wins.len(), winners.len());
    let (confirmer, confirmed) = &wins[0];
    let confirm = format!("/api/v1/me/lottery/wins/{}/confirm", confirmed["id"]);
    let (other_token, lapsing) = &wins[1];
    let (status, _, _) = app.post_as(other_token, &confirm, None, &json!({})).await;
    assert_eq!(status, 404, "someone else's win");
    let (status, _, booking) = app.post_as(confirmer, &confirm, None, &json!({})).await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(booking["state"], "awaiting_payment");
    assert_eq!(booking["slot_ids"], json!([confirmed["slot_id"]]));
    let (status, _, again) = app.post_as(confirmer, &confirm, None, &json!({})).await;
    assert_eq!(
        (status.as_u16(), again["id"].clone()),
        (201, booking["id"].clone())
    );

    // At the deadline the unconfirmed win lapses and can no longer be confirmed.
    let deadline = instant(&round["confirm_by"]) + Duration::minutes(1);
    let lapsed = yoyaku::services::lottery::settle_due(&app.db, deadline)
        .await
        .unwrap();
    assert_eq!(lapsed as usize, wins.len() - 1);
    let lapse = format!("/api/v1/me/lottery/wins/{}/confirm", lapsing["id"]);
    let (status, _, body) = app.post_as(other_token, &lapse, None, &json!({})).await;
    assert_eq!(
        (status.as_u16(), error_of(&body)["code"].clone()),
        (409, json!("win_not_confirmable"))
    );

    // The lapsed slot is still held until first-come opens, then anyone may book it.
    let slot = lapsing["slot_id"].as_i64().unwrap();
    let (_, booker) = app.new_resident("resident").await;
    let (status, body) = app.book(&booker, room, &[slot]).await;
    assert_eq!(
        (status.as_u16(), error_of(&body)["code"].clone()),
        (422, json!("lottery_period"))
    );
    let booker_id = app
        .count("SELECT MAX(id) FROM users WHERE email LIKE '%@test.yoyaku.jp'")
        .await as i32;
    let request = yoyaku::views::booking::CreateBookingRequest {
        room_id: room as i32,
        slot_ids: vec![slot],
        purpose: "先着順".into(),
        attendees: 4,
        group_id: None,
        purpose_kind: None,
        equipment: Vec::new(),
    };
    let opens = instant(&round["first_come_opens_at"]) + Duration::minutes(1);
    let (booked, _) = yoyaku::services::bookings::create_booking(
        &app.db,
        &yoyaku::domain::booking::BookingRules::default(),
        booker_id,
        "first-come-after-lottery",
        &request,
        opens,
    )
    .await
    .expect("first-come after the opening");
    assert_eq!(booked.slot_ids, vec![slot]);
}

#[tokio::test]
async fn a_calendar_round_covers_every_lottery_room_once_per_month() {
    let app = spawn_app().await;
    let admin = token_of(&app, "admin@demo.yoyaku.jp").await;
    let body = json!({"month_of_use": "2099-03-15"});
    let (status, _, first) = app
        .post_as(&admin, "/api/v1/admin/lottery/calendar", None, &body)
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["month_of_use"], "2099-03-01");
    assert_eq!(first["applications_open_at"], "2099-01-01T09:00:00+09:00");
    let lottery_rooms = app
        .count("SELECT COUNT(*) FROM rooms WHERE uses_lottery = TRUE")
        .await;
    assert_eq!(
        first["room_ids"].as_array().unwrap().len() as i64,
        lottery_rooms
    );
    let (_, _, second) = app
        .post_as(&admin, "/api/v1/admin/lottery/calendar", None, &body)
        .await;
    assert_eq!(second["id"], first["id"]);
    let (status, body) = app
        .get_json(&format!("/api/v1/lottery/rounds/{}", first["id"]))
        .await;
    assert_eq!(
        (status.as_u16(), body["phase"].clone()),
        (200, json!("upcoming"))
    );
    // The routes are described in OpenAPI.
    let (_, spec) = app.get_json("/api/v1/openapi.json").await;
    for path in [
        "/api/v1/lottery/rounds",
        "/api/v1/lottery/rounds/{id}/applications",
        "/api/v1/lottery/rounds/{id}/results",
        "/api/v1/me/lottery",
        "/api/v1/admin/lottery/rounds/{id}/draw",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is not in OpenAPI");
    }
    assert!(spec["components"]["schemas"]["PublishedResults"].is_object());
}
