//! A room's slots with state and price, and the city-wide free-slot search.

use chrono::{Datelike, Duration, NaiveDate, Utc, Weekday};
use serde_json::Value;
use yoyaku::domain::calendar::tokyo_date;
use yoyaku::services::slots;
use yoyaku_tests::{TestApp, blamed_fields, spawn_app};

fn today() -> NaiveDate {
    tokyo_date(Utc::now())
}

/// The first `weekday` at least `days` days from today.
fn next(weekday: Weekday, days: i64) -> NaiveDate {
    let mut date = today() + Duration::days(days);
    while date.weekday() != weekday {
        date += Duration::days(1);
    }
    date
}

async fn holiday(app: &TestApp, date: NaiveDate) -> bool {
    app.count(&format!(
        "SELECT COUNT(*) FROM public_holidays WHERE date = '{date}'"
    ))
    .await
        > 0
}

async fn tsurumi_main_gym(app: &TestApp) -> (i32, i64) {
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

fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().expect("items")
}

#[tokio::test]
async fn a_rooms_slots_show_japan_times_state_and_the_resident_price() {
    let app = spawn_app().await;
    let (facility, gym) = tsurumi_main_gym(&app).await;
    // A weekday (not the third Monday, not a holiday) three weeks out.
    let mut day = next(Weekday::Wed, 21);
    while holiday(&app, day).await {
        day += Duration::days(7);
    }
    slots::generate(&app.db, day, day, Some(facility))
        .await
        .unwrap();
    let (status, body) = app
        .get_json(&format!("/api/v1/rooms/{gym}/slots?from={day}&to={day}"))
        .await;
    assert_eq!(status, 200);
    let slots = items(&body);
    assert_eq!(slots.len(), 6, "two-hour blocks from 9:00 to 21:00");
    assert_eq!(slots[0]["starts_at"], format!("{day}T09:00:00+09:00"));
    assert_eq!(slots[0]["ends_at"], format!("{day}T11:00:00+09:00"));
    assert!(slots.iter().all(|s| s["state"] == "available"));
    // The fixture's resident weekday fees: day 4,200 yen, night 4,800 yen.
    assert_eq!(slots[0]["band"], "day");
    assert_eq!(slots[0]["price_yen"], 4200);
    assert_eq!(slots[5]["band"], "night");
    assert_eq!(slots[5]["price_yen"], 4800);
}

#[tokio::test]
async fn weekend_slots_cost_the_weekend_rate() {
    let app = spawn_app().await;
    let (facility, gym) = tsurumi_main_gym(&app).await;
    let saturday = next(Weekday::Sat, 21);
    slots::generate(&app.db, saturday, saturday, Some(facility))
        .await
        .unwrap();
    let (_, body) = app
        .get_json(&format!(
            "/api/v1/rooms/{gym}/slots?from={saturday}&to={saturday}"
        ))
        .await;
    let slots = items(&body);
    // 120 % of 4,200 and of 4,800, in 10-yen steps.
    assert_eq!(slots[0]["price_yen"], 5040);
    assert_eq!(slots.last().unwrap()["price_yen"], 5760);
}

#[tokio::test]
async fn slots_that_have_begun_are_closed() {
    let app = spawn_app().await;
    let (facility, gym) = tsurumi_main_gym(&app).await;
    let (from, to) = (today() - Duration::days(7), today() - Duration::days(1));
    slots::generate(&app.db, from, to, Some(facility))
        .await
        .unwrap();
    let (_, body) = app
        .get_json(&format!("/api/v1/rooms/{gym}/slots?from={from}&to={to}"))
        .await;
    // A week always has open days, so there are slots to look at.
    assert!(items(&body).len() >= 30, "{} slots", items(&body).len());
    assert!(items(&body).iter().all(|s| s["state"] == "closed"));
}

#[tokio::test]
async fn slot_listing_dates_are_checked_and_named() {
    let app = spawn_app().await;
    let (_, gym) = tsurumi_main_gym(&app).await;
    let day = today();
    let cases = [
        (format!("from={day}&to={}", day - Duration::days(1)), "to"),
        (format!("from={day}&to={}", day + Duration::days(90)), "to"),
        ("from=2026-02-30".to_owned(), "from"),
        ("from=tomorrow".to_owned(), "from"),
    ];
    for (query, field) in cases {
        let (status, body) = app
            .get_json(&format!("/api/v1/rooms/{gym}/slots?{query}"))
            .await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(blamed_fields(&body), vec![field], "{query}");
    }
    let (status, _) = app.get_json("/api/v1/rooms/999999/slots").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn free_tennis_courts_on_saturday_morning_in_any_ward() {
    let app = spawn_app().await;
    let saturday = next(Weekday::Sat, 14);
    slots::generate(&app.db, saturday, saturday, None)
        .await
        .unwrap();
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/availability?kind=court&from={saturday}&starts_after=09:00&ends_before=12:00"
        ))
        .await;
    assert_eq!(status, 200);
    let rooms = items(&body);
    assert!(rooms.len() >= 20, "{} courts", rooms.len());
    let facilities: std::collections::HashSet<_> =
        rooms.iter().map(|r| r["facility_id"].as_i64()).collect();
    assert!(facilities.len() >= 5, "courts from many facilities");
    for room in rooms {
        assert_eq!(room["kind"], "court");
        for slot in room["slots"].as_array().unwrap() {
            let starts = slot["starts_at"].as_str().unwrap();
            let ends = slot["ends_at"].as_str().unwrap();
            assert!(
                starts >= format!("{saturday}T09:00").as_str()
                    && ends <= format!("{saturday}T12:00:00+09:00").as_str(),
                "{starts}–{ends}"
            );
            assert_eq!(slot["state"], "available");
            assert!(slot["price_yen"].as_i64().unwrap() > 0);
        }
    }
}

#[tokio::test]
async fn the_search_narrows_by_ward_and_capacity() {
    let app = spawn_app().await;
    let day = next(Weekday::Tue, 14);
    slots::generate(&app.db, day, day, None).await.unwrap();
    let (_, body) = app
        .get_json(&format!(
            "/api/v1/availability?kind=gymnasium&from={day}&ward=kohoku"
        ))
        .await;
    let rooms = items(&body);
    assert!(!rooms.is_empty());
    assert!(rooms.iter().all(|r| r["ward_code"] == "141097"));
    let (_, body) = app
        .get_json(&format!(
            "/api/v1/availability?kind=gymnasium&from={day}&min_capacity=300"
        ))
        .await;
    assert!(
        items(&body)
            .iter()
            .all(|r| r["capacity"].as_i64().unwrap() >= 300)
    );
}

#[tokio::test]
async fn the_search_refuses_bad_filters_by_name() {
    let app = spawn_app().await;
    let day = today();
    for (query, field) in [
        ("starts_after=9am".to_owned(), "starts_after"),
        ("ends_before=25:00".to_owned(), "ends_before"),
        ("kind=bowling".to_owned(), "kind"),
        ("ward=atlantis".to_owned(), "ward"),
        ("min_capacity=0".to_owned(), "min_capacity"),
        (format!("from={day}&to={}", day + Duration::days(30)), "to"),
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/availability?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(blamed_fields(&body), vec![field], "{query}");
    }
}
