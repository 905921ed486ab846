//! Groups (団体): registration and each of its rules, members joining and leaving, booking rooms
//! that require a group, the city's fee reductions, and registrations racing for shared members.

use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use yoyaku::domain::calendar::tokyo_date;
use yoyaku_tests::{TestApp, blamed_fields, error_of, spawn_app};

/// A registered individual, as a test arranges them.
#[derive(Clone)]
struct Person {
    id: i32,
    token: String,
    card: String,
    born: String,
}

/// An approved resident with a card number and a date of birth.
async fn person(app: &TestApp, residency: &str, born: &str) -> Person {
    use sea_orm::ConnectionTrait;
    let card = yoyaku::domain::card::card_number(uuid::Uuid::new_v4().as_u128() as u64);
    let email = format!("{}@test.yoyaku.jp", uuid::Uuid::new_v4().simple());
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO users (email, password_hash, display_name, role, residency, locale, email_verified_at, created_at, registration_state, card_number, date_of_birth, registration_valid_until) \
             VALUES ('{email}', NULL, 'テスト 構成員', 'resident', '{residency}', 'ja', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 'approved', '{card}', '{born}', '2099-12-31')"
        ))
        .await
        .expect("insert a person");
    let id = app
        .count(&format!("SELECT id FROM users WHERE email = '{email}'"))
        .await as i32;
    let (token, _) = app
        .keys
        .issue_access(id, yoyaku::domain::roles::Role::Resident);
    Person {
        id,
        token,
        card,
        born: born.to_owned(),
    }
}

/// `n` adults living in the city.
async fn adults(app: &TestApp, n: usize) -> Vec<Person> {
    let mut people = Vec::new();
    for _ in 0..n {
        people.push(person(app, "resident", "1980-04-01").await);
    }
    people
}

/// A forming group led by `representative`; returns its id.
async fn start_group(app: &TestApp, representative: &Person) -> i64 {
    let (status, _, body) = app
        .post_as(
            &representative.token,
            "/api/v1/groups",
            None,
            &json!({"name": "テストクラブ", "name_kana": "てすとくらぶ", "activity": "バドミントン"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"], "forming");
    body["id"].as_i64().unwrap()
}

async fn add(
    app: &TestApp,
    representative: &Person,
    group: i64,
    member: &Person,
) -> (reqwest::StatusCode, Value) {
    let (status, _, body) = app
        .post_as(
            &representative.token,
            &format!("/api/v1/groups/{group}/members"),
            None,
            &json!({"card_number": member.card, "date_of_birth": member.born}),
        )
        .await;
    (status, body)
}

async fn register(
    app: &TestApp,
    representative: &Person,
    group: i64,
) -> (reqwest::StatusCode, Value) {
    let (status, _, body) = app
        .post_as(
            &representative.token,
            &format!("/api/v1/groups/{group}/register"),
            None,
            &json!({}),
        )
        .await;
    (status, body)
}

/// A registered group: `representative` and `members`, all added; returns its id.
async fn registered_group(app: &TestApp, representative: &Person, members: &[Person]) -> i64 {
    let group = start_group(app, representative).await;
    for m in members {
        let (status, body) = add(app, representative, group, m).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = register(app, representative, group).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "registered");
    group
}

/// The Hodogaya park hardball field (lottery room, groups only) and its slot ids on an open
/// weekday in the first-come window.
async fn baseball_field_slots(app: &TestApp) -> (i64, Vec<i64>) {
    let facility = app
        .count("SELECT id FROM facilities WHERE code = 'hodogaya-park-baseball'")
        .await as i32;
    let room = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {facility} AND code = 'hardball'"
        ))
        .await;
    let (_, ids) = app.free_slots_from(room, 2).await;
    (room, ids)
}

fn booking_body(room: i64, slot: i64, group: Option<i64>) -> Value {
    json!({
        "room_id": room, "slot_ids": [slot], "purpose": "練習試合", "attendees": 20,
        "group_id": group,
    })
}

#[tokio::test]
async fn a_registered_group_books_a_field_that_only_groups_may_book() {
    let app = spawn_app().await;
    let people = adults(&app, 6).await;
    let (representative, members) = (&people[0], &people[1..]);
    let group = registered_group(&app, representative, members).await;

    // The representative sees the members; a member sees the group but not the list; anyone
    // else does not see it at all.
    let (status, body) = app
        .get_as(&representative.token, &format!("/api/v1/groups/{group}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["member_count"], 6);
    assert_eq!(body["members"].as_array().unwrap().len(), 6);
    assert!(body["valid_until"].is_string());
    let (status, body) = app
        .get_as(&members[0].token, &format!("/api/v1/groups/{group}"))
        .await;
    assert_eq!(status, 200);
    assert!(body.get("members").is_none(), "{body}");
    assert_eq!(body["you_are_representative"], false);
    let stranger = person(&app, "resident", "1980-04-01").await;
    let (status, _) = app
        .get_as(&stranger.token, &format!("/api/v1/groups/{group}"))
        .await;
    assert_eq!(status, 404);

    let (field, slot_ids) = baseball_field_slots(&app).await;
    // Without a group the field is refused, naming group_id.
    let (status, _, body) = app
        .post_as(
            &representative.token,
            "/api/v1/bookings",
            Some("no-group"),
            &booking_body(field, slot_ids[0], None),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(blamed_fields(&body), ["group_id"]);
    // A member who is not the representative cannot book for the group.
    let (status, _, body) = app
        .post_as(
            &members[0].token,
            "/api/v1/bookings",
            Some("member"),
            &booking_body(field, slot_ids[0], Some(group)),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // The representative can, and the booking says for which group.
    let (status, _, body) = app
        .post_as(
            &representative.token,
            "/api/v1/bookings",
            Some("group"),
            &booking_body(field, slot_ids[0], Some(group)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["group_id"], group);
    let id = body["id"].as_i64().unwrap();
    let (_, listed) = app.get_as(&representative.token, "/api/v1/bookings").await;
    assert_eq!(listed["items"][0]["id"], id);
    assert_eq!(listed["items"][0]["group_id"], group);
    assert_eq!(
        app.count(&format!(
            "SELECT group_id FROM group_bookings WHERE booking_id = {id}"
        ))
        .await,
        group
    );
}

#[tokio::test]
async fn each_group_rule_is_refused_with_its_own_code() {
    let app = spawn_app().await;

    // Too small: the representative and four adults.
    let people = adults(&app, 5).await;
    let group = start_group(&app, &people[0]).await;
    for m in &people[1..] {
        add(&app, &people[0], group, m).await;
    }
    let (status, body) = register(&app, &people[0], group).await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&body)["code"], "group_too_small");
    assert_eq!(blamed_fields(&body), ["members"]);
    // A fifth member who turns 16 tomorrow does not count yet.
    let tomorrow_16 = tokyo_date(Utc::now()) + Duration::days(1);
    let born = NaiveDate::from_ymd_opt(
        tomorrow_16.year() - 16,
        tomorrow_16.month(),
        tomorrow_16.day(),
    )
    .unwrap_or(tomorrow_16);
    let young = person(&app, "resident", &born.to_string()).await;
    add(&app, &people[0], group, &young).await;
    let (status, body) = register(&app, &people[0], group).await;
    assert_eq!(
        (status.as_u16(), error_of(&body)["code"].as_str()),
        (422, Some("group_too_small"))
    );
    // A sixteen-year-old does.
    let today = tokyo_date(Utc::now());
    let sixteen =
        NaiveDate::from_ymd_opt(today.year() - 16, today.month(), today.day().min(28)).unwrap();
    let of_age = person(&app, "resident", &sixteen.to_string()).await;
    add(&app, &people[0], group, &of_age).await;
    let (status, body) = register(&app, &people[0], group).await;
    assert_eq!(status, 200, "{body}");

    // Not enough in the city: four of seven live outside.
    let representative = person(&app, "resident", "1970-01-01").await;
    let group = start_group(&app, &representative).await;
    for residency in [
        "works_in_city",
        "studies_in_city",
        "non_resident",
        "non_resident",
        "non_resident",
        "non_resident",
    ] {
        let m = person(&app, residency, "1990-01-01").await;
        add(&app, &representative, group, &m).await;
    }
    let (status, body) = register(&app, &representative, group).await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&body)["code"], "group_not_in_city");

    // Three members shared with a registered group.
    let first = adults(&app, 6).await;
    registered_group(&app, &first[0], &first[1..]).await;
    let others = adults(&app, 3).await;
    let copy = start_group(&app, &others[0]).await;
    for m in first[1..4].iter().chain(&others[1..]) {
        add(&app, &others[0], copy, m).await;
    }
    let (status, body) = register(&app, &others[0], copy).await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&body)["code"], "group_members_shared");
    // Two shared are allowed.
    let response = app
        .client
        .delete(format!(
            "{}/api/v1/groups/{copy}/members/{}",
            app.address, first[3].id
        ))
        .bearer_auth(&others[0].token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let extra = person(&app, "resident", "1985-01-01").await;
    add(&app, &others[0], copy, &extra).await;
    let (status, body) = register(&app, &others[0], copy).await;
    assert_eq!(status, 200, "{body}");

    // A person already in two registered groups cannot be added to a third registered one.
    let busy = &first[1]; // in `first` and `copy`
    let third_people = adults(&app, 6).await;
    let third = registered_group(&app, &third_people[0], &third_people[1..]).await;
    let (status, body) = add(&app, &third_people[0], third, busy).await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&body)["code"], "member_in_too_many_groups");
    // Nor start a fourth group of their own.
    let (status, _, body) = app
        .post_as(
            &busy.token,
            "/api/v1/groups",
            None,
            &json!({"name": "三つ目", "name_kana": "みっつめ", "activity": "卓球"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&body)["code"], "member_in_too_many_groups");
}

#[tokio::test]
async fn members_are_found_only_by_matching_card_number_and_birth_date() {
    let app = spawn_app().await;
    let people = adults(&app, 3).await;
    let group = start_group(&app, &people[0]).await;
    let (status, _, body) = app
        .post_as(
            &people[0].token,
            &format!("/api/v1/groups/{group}/members"),
            None,
            &json!({"card_number": people[1].card, "date_of_birth": "1999-09-09"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&body)["code"], "member_not_found");
    assert_eq!(blamed_fields(&body), ["card_number", "date_of_birth"]);
    let (status, _, body) = app
        .post_as(
            &people[0].token,
            &format!("/api/v1/groups/{group}/members"),
            None,
            &json!({"card_number": "12ab", "date_of_birth": "1980-04-01"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), ["card_number"]);
    let (status, _, body) = app
        .post_as(
            &people[0].token,
            &format!("/api/v1/groups/{group}/members"),
            None,
            &json!({"card_number": people[1].card, "date_of_birth": "1 April 1980"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), ["date_of_birth"]);

    let (status, body) = add(&app, &people[0], group, &people[1]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = add(&app, &people[0], group, &people[1]).await;
    assert_eq!(status, 409);
    assert_eq!(error_of(&body)["code"], "already_member");
    // Only the representative adds members.
    let (status, body) = add(&app, &people[1], group, &people[2]).await;
    assert_eq!(status, 403, "{body}");
    // The new member was told by mail.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mail_outbox WHERE template = 'added_to_group'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_member_may_leave_and_a_group_below_the_rules_must_register_again() {
    let app = spawn_app().await;
    let people = adults(&app, 6).await;
    let (representative, members) = (&people[0], &people[1..]);
    let group = registered_group(&app, representative, members).await;

    // The representative cannot remove a member below the minimum, nor themselves.
    let delete = |who: &Person, member: i32| {
        app.client
            .delete(format!(
                "{}/api/v1/groups/{group}/members/{member}",
                app.address
            ))
            .bearer_auth(who.token.clone())
            .send()
    };
    let response = delete(representative, members[0].id).await.unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_of(&body)["code"], "group_too_small");
    let response = delete(representative, representative.id).await.unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_of(&body)["code"], "representative_stays");

    // A member can always leave; the group goes back to forming and the representative is told.
    let (status, _, _) = app
        .post_as(
            &members[0].token,
            &format!("/api/v1/groups/{group}/leave"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let (_, body) = app
        .get_as(&representative.token, &format!("/api/v1/groups/{group}"))
        .await;
    assert_eq!(body["state"], "forming");
    assert_eq!(body["member_count"], 5);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mail_outbox WHERE template = 'group_needs_members'")
            .await,
        1
    );
    // It cannot book until registered again.
    let (field, slot_ids) = baseball_field_slots(&app).await;
    let (status, _, body) = app
        .post_as(
            &representative.token,
            "/api/v1/bookings",
            Some("forming"),
            &booking_body(field, slot_ids[0], Some(group)),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(error_of(&body)["code"], "group_not_bookable");
    let newcomer = person(&app, "resident", "1999-12-31").await;
    add(&app, representative, group, &newcomer).await;
    let (status, body) = register(&app, representative, group).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_group_with_bookings_to_come_cannot_be_dissolved() {
    let app = spawn_app().await;
    let people = adults(&app, 6).await;
    let group = registered_group(&app, &people[0], &people[1..]).await;
    let (field, slot_ids) = baseball_field_slots(&app).await;
    let (status, _, booking) = app
        .post_as(
            &people[0].token,
            "/api/v1/bookings",
            Some("to-come"),
            &booking_body(field, slot_ids[0], Some(group)),
        )
        .await;
    assert_eq!(status, 201, "{booking}");
    let dissolve = async || {
        app.post_as(
            &people[0].token,
            &format!("/api/v1/groups/{group}/dissolve"),
            None,
            &json!({}),
        )
        .await
    };
    let (status, _, body) = dissolve().await;
    assert_eq!(status, 409);
    assert_eq!(error_of(&body)["code"], "group_has_bookings");
    let (status, _, _) = app
        .post_as(
            &people[0].token,
            &format!("/api/v1/bookings/{}/cancel", booking["id"]),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = dissolve().await;
    assert_eq!(status, 204);
    let (_, body) = app
        .get_as(&people[0].token, &format!("/api/v1/groups/{group}"))
        .await;
    assert_eq!(body["state"], "dissolved");
}

#[tokio::test]
async fn a_fee_reduction_granted_by_the_city_lowers_what_the_group_pays() {
    let app = spawn_app().await;
    let people = adults(&app, 6).await;
    let group = registered_group(&app, &people[0], &people[1..]).await;
    let (field, slot_ids) = baseball_field_slots(&app).await;
    let quote = async || {
        let (status, _, body) = app
            .post_as(
                &people[0].token,
                "/api/v1/bookings/quote",
                None,
                &booking_body(field, slot_ids[0], Some(group)),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["total_yen"].as_i64().unwrap()
    };
    let full = quote().await;
    assert!(full > 0);

    let admin = app.login("admin@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let staff = app.login("staff@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/admin/groups/{group}/fee-reduction");
    let (status, _, _) = app
        .post_as(&staff, &path, None, &json!({"code": "children_group"}))
        .await;
    assert_eq!(status, 403);
    let (status, _, body) = app
        .post_as(&admin, &path, None, &json!({"code": "no_such_reduction"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), ["code"]);
    let (status, _, body) = app
        .post_as(&admin, &path, None, &json!({"code": "children_group"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fee_reduction"], "children_group");
    // 50 % off the field (no equipment rented).
    assert_eq!(quote().await, full / 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'group.set_fee_reduction'")
            .await,
        1
    );
}

#[tokio::test]
async fn two_groups_racing_to_register_with_three_shared_members_cannot_both_succeed() {
    let app = Arc::new(spawn_app().await);
    // Two forming groups that share three members; each alone meets every rule.
    let shared = adults(&app, 3).await;
    let mut groups = Vec::new();
    for _ in 0..2 {
        let own = adults(&app, 3).await;
        let group = start_group(&app, &own[0]).await;
        for m in shared.iter().chain(&own[1..]) {
            let (status, body) = add(&app, &own[0], group, m).await;
            assert_eq!(status, 200, "{body}");
        }
        groups.push((own[0].clone(), group));
    }
    let barrier = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = groups
        .into_iter()
        .map(|(representative, group)| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                register(&app, &representative, group).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        outcomes.push((
            status.as_u16(),
            body["error"]["code"].as_str().map(str::to_owned),
        ));
    }
    outcomes.sort();
    assert_eq!(
        outcomes,
        [(200, None), (422, Some("group_members_shared".to_owned()))]
    );
}

#[tokio::test]
async fn the_demo_group_is_registered_with_its_members() {
    let app = spawn_app().await;
    let token = app.login("group@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = app.get_as(&token, "/api/v1/groups").await;
    assert_eq!(status, 200);
    let group = &body["items"][0];
    assert_eq!(group["name"], "港北バドミントンクラブ");
    assert_eq!(group["state"], "registered");
    assert_eq!(group["you_are_representative"], true);
    let members = group["members"].as_array().unwrap();
    assert_eq!(members.len(), 6);
    assert_eq!(
        members
            .iter()
            .filter(|m| m["counts_toward_minimum"] == true)
            .count(),
        5
    );
}

#[tokio::test]
async fn deleting_an_account_leaves_its_groups_but_a_representative_must_dissolve_first() {
    let app = spawn_app().await;
    let delete = async |email: &str| {
        let token = app.login(email).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, _, body) = app
            .post_as(
                &token,
                "/api/v1/me/delete",
                None,
                &json!({"password": "yoyaku-demo"}),
            )
            .await;
        (status, body)
    };
    let (status, body) = delete("group@demo.yoyaku.jp").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body)["code"], "represents_group");

    // A member's deletion takes them out; the demo group drops below five and must register
    // again, and its representative is told.
    let (status, body) = delete("member1@demo.yoyaku.jp").await;
    assert_eq!(status, 200, "{body}");
    let representative = app.login("group@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, groups) = app.get_as(&representative, "/api/v1/groups").await;
    assert_eq!(groups["items"][0]["member_count"], 5);
    assert_eq!(groups["items"][0]["state"], "forming");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mail_outbox WHERE template = 'group_needs_members'")
            .await,
        1
    );
}
