//! Slot generation from templates: holidays, closing days, year-end, closures, opening hours,
//! and idempotent re-runs, on the real database.

use chrono::NaiveDate;
use sea_orm::ConnectionTrait;
use yoyaku::services::slots;
use yoyaku_tests::{TestApp, spawn_app};

fn d(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

async fn facility_id(app: &TestApp, code: &str) -> i32 {
    app.count(&format!("SELECT id FROM facilities WHERE code = '{code}'"))
        .await as i32
}

async fn slots_on(app: &TestApp, facility: i32, date: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM slots s JOIN rooms r ON r.id = s.room_id WHERE r.facility_id = {facility} AND s.service_date = '{date}'"
    ))
    .await
}

#[tokio::test]
async fn a_month_of_a_sports_center_follows_its_closing_day_and_templates() {
    let app = spawn_app().await;
    let center = facility_id(&app, "tsurumi-sports-center").await;
    let report = slots::generate(&app.db, d("2026-11-01"), d("2026-11-30"), Some(center))
        .await
        .unwrap();
    assert_eq!(report.created as usize, report.planned);
    // Third Monday (16th): closed. 23rd (勤労感謝の日) is a holiday but sports centers open.
    assert_eq!(slots_on(&app, center, "2026-11-16").await, 0);
    assert!(slots_on(&app, center, "2026-11-23").await > 0);
    assert_eq!(
        slots_on(&app, center, "2026-11-23").await,
        slots_on(&app, center, "2026-11-24").await
    );
    // Every slot starts in opening hours, in Tokyo time, and halves line up with their whole.
    let misaligned = app
        .count(&format!(
            "SELECT COUNT(*) FROM slots h JOIN rooms r ON r.id = h.room_id WHERE r.facility_id = {center} \
             AND r.parent_room_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM slots w WHERE w.room_id = r.parent_room_id \
             AND w.starts_at = h.starts_at AND w.ends_at = h.ends_at)"
        ))
        .await;
    assert_eq!(misaligned, 0);
}

#[tokio::test]
async fn generation_skips_the_year_end_closure() {
    let app = spawn_app().await;
    let center = facility_id(&app, "tsurumi-sports-center").await;
    slots::generate(&app.db, d("2026-12-27"), d("2027-01-05"), Some(center))
        .await
        .unwrap();
    for closed in ["2026-12-29", "2026-12-31", "2027-01-01", "2027-01-03"] {
        assert_eq!(slots_on(&app, center, closed).await, 0, "{closed}");
    }
    for open in ["2026-12-28", "2027-01-04"] {
        assert!(slots_on(&app, center, open).await > 0, "{open}");
    }
}

#[tokio::test]
async fn a_facility_that_closes_on_holidays_has_no_slots_on_them() {
    let app = spawn_app().await;
    let code = app
        .count("SELECT id FROM facilities WHERE closes_on_holidays = TRUE ORDER BY id LIMIT 1")
        .await;
    assert!(code > 0, "the demo city has a facility closed on holidays");
    let facility = code as i32;
    slots::generate(&app.db, d("2026-11-20"), d("2026-11-27"), Some(facility))
        .await
        .unwrap();
    assert_eq!(
        slots_on(&app, facility, "2026-11-23").await,
        0,
        "勤労感謝の日"
    );
}

#[tokio::test]
async fn a_field_without_lights_has_no_evening_slots() {
    let app = spawn_app().await;
    let field = app
        .count("SELECT id FROM facilities WHERE closes_minute = 1020 ORDER BY id LIMIT 1")
        .await as i32;
    slots::generate(&app.db, d("2026-11-24"), d("2026-11-24"), Some(field))
        .await
        .unwrap();
    let all = slots_on(&app, field, "2026-11-24").await;
    assert!(all > 0);
    // The facility closes at 17:00, so the lit evening (night) periods are not generated.
    let late = app
        .count(&format!(
            "SELECT COUNT(*) FROM slots s JOIN rooms r ON r.id = s.room_id WHERE r.facility_id = {field} \
             AND s.service_date = '2026-11-24' AND s.band = 'night'"
        ))
        .await;
    assert_eq!(late, 0);
}

#[tokio::test]
async fn re_running_generation_creates_nothing_new() {
    let app = spawn_app().await;
    let center = facility_id(&app, "kohoku-sports-center").await;
    let first = slots::generate(&app.db, d("2026-11-23"), d("2026-12-06"), Some(center))
        .await
        .unwrap();
    let before = app.count("SELECT COUNT(*) FROM slots").await;
    let second = slots::generate(&app.db, d("2026-11-23"), d("2026-12-06"), Some(center))
        .await
        .unwrap();
    assert!(first.created > 0);
    assert_eq!(second.created, 0);
    assert_eq!(second.removed, 0);
    assert_eq!(second.planned, first.planned);
    assert_eq!(app.count("SELECT COUNT(*) FROM slots").await, before);
}

#[tokio::test]
async fn a_closure_added_later_removes_the_open_slots_of_its_days_on_the_next_run() {
    let app = spawn_app().await;
    let center = facility_id(&app, "tsurumi-sports-center").await;
    slots::generate(&app.db, d("2026-11-23"), d("2026-11-30"), Some(center))
        .await
        .unwrap();
    assert!(slots_on(&app, center, "2026-11-25").await > 0);
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO closures (facility_id, room_id, starts_on, ends_on, kind, reason, created_at) \
             VALUES ({center}, NULL, '2026-11-25', '2026-11-26', 'maintenance', '空調工事', '2026-11-01 00:00:00+00:00')"
        ))
        .await
        .unwrap();
    let report = slots::generate(&app.db, d("2026-11-23"), d("2026-11-30"), Some(center))
        .await
        .unwrap();
    assert!(report.removed > 0);
    assert_eq!(slots_on(&app, center, "2026-11-25").await, 0);
    assert_eq!(slots_on(&app, center, "2026-11-26").await, 0);
    assert!(slots_on(&app, center, "2026-11-27").await > 0);
}

#[tokio::test]
async fn a_closed_half_also_closes_its_whole_but_not_the_other_half() {
    let app = spawn_app().await;
    let center = facility_id(&app, "tsurumi-sports-center").await;
    let half_a = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {center} AND code = 'main-gym-a'"
        ))
        .await;
    let whole = app
        .count(&format!(
            "SELECT parent_room_id FROM rooms WHERE id = {half_a}"
        ))
        .await;
    let half_b = app
        .count(&format!(
            "SELECT id FROM rooms WHERE parent_room_id = {whole} AND id <> {half_a}"
        ))
        .await;
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO closures (facility_id, room_id, starts_on, ends_on, kind, reason, created_at) \
             VALUES ({center}, {half_a}, '2026-11-25', '2026-11-25', 'maintenance', '床の補修', '2026-11-01 00:00:00+00:00')"
        ))
        .await
        .unwrap();
    slots::generate(&app.db, d("2026-11-25"), d("2026-11-25"), Some(center))
        .await
        .unwrap();
    let on = |room: i64| {
        format!("SELECT COUNT(*) FROM slots WHERE room_id = {room} AND service_date = '2026-11-25'")
    };
    assert_eq!(app.count(&on(half_a)).await, 0);
    assert_eq!(app.count(&on(whole)).await, 0);
    assert!(app.count(&on(half_b)).await > 0);
}
