//! The resident pages beyond search and booking, without a browser: my account and renewal,
//! penalty points, groups and the lottery. Each form is sent as a browser without JavaScript
//! would send it: success redirects (303), refusals come back with the message next to the
//! field and in the summary.

use chrono::{Datelike, Duration, Utc};
use reqwest::header::LOCATION;
use sea_orm::ConnectionTrait;
use serde_json::json;
use yoyaku::domain::calendar::tokyo_date;
use yoyaku_tests::{TestApp, spawn_app};

use crate::web_pages::{Jar, form_token, get, post};

/// An approved resident with a card number and a date of birth, and a browser signed in as
/// them (the access cookie carries a token the app's keys signed).
struct Resident {
    id: i32,
    card: String,
    born: &'static str,
    token: String,
    jar: Jar,
    csrf: String,
}

async fn resident(app: &TestApp, residency: &str, born: &'static str) -> Resident {
    let card = yoyaku::domain::card::card_number(uuid::Uuid::new_v4().as_u128() as u64);
    let email = format!("{}@test.yoyaku.jp", uuid::Uuid::new_v4().simple());
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO users (email, password_hash, display_name, role, residency, locale, \
             email_verified_at, created_at, registration_state, card_number, date_of_birth, \
             registration_valid_until, postal_code, address, phone) \
             VALUES ('{email}', NULL, 'テスト 利用者', 'resident', '{residency}', 'ja', \
             '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 'approved', '{card}', \
             '{born}', '2099-12-31', '231-0017', '横浜市中区港町1-1', '045-671-2121')"
        ))
        .await
        .expect("insert a resident");
    let id = app
        .count(&format!("SELECT id FROM users WHERE email = '{email}'"))
        .await as i32;
    let (token, _) = app
        .keys
        .issue_access(id, yoyaku::domain::roles::Role::Resident);
    let mut jar = Jar::default();
    jar.0.insert("yoyaku_access".to_owned(), token.clone());
    let (_, _, html) = get(app, &mut jar, "/account").await;
    let csrf = form_token(&html);
    Resident {
        id,
        card,
        born,
        token,
        jar,
        csrf,
    }
}

#[tokio::test]
async fn my_account_links_every_personal_page_and_renewal_follows_the_form() {
    let app = spawn_app().await;
    let mut me = resident(&app, "resident", "1980-04-01").await;
    // Signed out, the page sends to sign in and back.
    let (status, headers, _) = get(&app, &mut Jar::default(), "/account").await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/login?next=%2Faccount");

    let (status, _, html) = get(&app, &mut me.jar, "/account").await;
    assert_eq!(status, 200);
    assert!(html.contains(&me.card), "the card number is shown");
    for link in [
        "/groups",
        "/lottery/mine",
        "/account/penalties",
        "/password-reset",
    ] {
        assert!(html.contains(&format!(r#"href="{link}""#)), "{link}");
    }
    // Years away from expiry: renewal is not open, and the page says from when.
    assert!(!html.contains(r#"href="/account/renew""#));

    let today = tokyo_date(Utc::now());
    let expiry = today + Duration::days(10);
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET registration_valid_until = '{expiry}' WHERE id = {}",
            me.id
        ))
        .await
        .unwrap();
    let (_, _, html) = get(&app, &mut me.jar, "/account").await;
    assert!(html.contains(r#"href="/account/renew""#));
    let (status, _, html) = get(&app, &mut me.jar, "/account/renew").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"value="231-0017""#),
        "the form holds the details on file"
    );

    let form = |postal: &'static str| {
        vec![
            ("postal_code", postal),
            ("address", "横浜市中区港町1-1"),
            ("phone", "045-671-2121"),
            ("residency", "resident"),
        ]
    };
    let mut bad = form("12");
    bad.push(("csrf", &me.csrf));
    let (status, _, html) = post(&app, &mut me.jar, "/account/renew", &bad).await;
    assert_eq!(status, 400);
    assert!(html.contains(r#"id="postal_code-error""#));
    assert!(
        html.contains(r##"href="#postal_code""##),
        "the summary links the field"
    );

    let mut good = form("231-0017");
    good.push(("csrf", &me.csrf));
    let (status, headers, _) = post(&app, &mut me.jar, "/account/renew", &good).await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/account?renewed=renewed");
    let renewed = app
        .count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {} AND registration_valid_until > '{}'",
            me.id,
            expiry + Duration::days(365 * 2)
        ))
        .await;
    assert_eq!(renewed, 1, "three years from the old expiry");
}

#[tokio::test]
async fn the_penalty_page_lists_each_no_show_and_a_withdrawn_one_says_why() {
    let app = spawn_app().await;
    let mut me = resident(&app, "resident", "1980-04-01").await;
    let (_, _, html) = get(&app, &mut me.jar, "/account/penalties").await;
    assert!(html.contains("ペナルティ点数はありません"));

    let room = app
        .count("SELECT MIN(id) FROM rooms WHERE uses_lottery = FALSE")
        .await;
    let (_, slots) = app.free_slots_from(room, 3).await;
    let (status, booking) = app.book(&me.token, room, &slots[..1]).await;
    assert_eq!(status, 201, "{booking}");
    let booking_id = booking["id"].as_i64().unwrap();
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO penalty_points (user_id, booking_id, points, reason, incurred_at, \
             recorded_at, voided_at, void_reason) VALUES ({}, {booking_id}, 1, 'no_show', \
             '2026-11-01 10:00:00+00:00', '2026-11-01 10:00:00+00:00', \
             '2026-11-02 10:00:00+00:00', '受付の記録漏れ')",
            me.id
        ))
        .await
        .unwrap();
    let (status, _, html) = get(&app, &mut me.jar, "/account/penalties?lang=en").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!(r#"href="/bookings/{booking_id}""#)));
    assert!(html.contains("Withdrawn: 受付の記録漏れ"), "{html}");
}

#[tokio::test]
async fn a_representative_builds_and_registers_a_group_with_the_forms() {
    let app = spawn_app().await;
    let mut rep = resident(&app, "resident", "1975-01-01").await;
    let csrf = rep.csrf.clone();

    // A mistake comes back next to its field.
    let (status, _, html) = post(
        &app,
        &mut rep.jar,
        "/groups",
        &[
            ("csrf", &csrf),
            ("name", "港北バドミントンクラブ"),
            ("name_kana", "abc"),
            ("activity", "バドミントン"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains(r#"id="name_kana-error""#));
    let (status, headers, _) = post(
        &app,
        &mut rep.jar,
        "/groups",
        &[
            ("csrf", &csrf),
            ("name", "港北バドミントンクラブ"),
            ("name_kana", "こうほくばどみんとんくらぶ"),
            ("activity", "バドミントン"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let page = headers[LOCATION].to_str().unwrap().to_owned();
    let id: i64 = page
        .trim_start_matches("/groups/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // Registering too early names the rule next to the members.
    let (status, _, html) = post(
        &app,
        &mut rep.jar,
        &format!("/groups/{id}/register"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="members-error""#), "{html}");
    assert!(html.contains("16歳以上のメンバーが5人以上"));

    // A card number with the wrong date of birth adds no one.
    let stranger = resident(&app, "resident", "1990-02-02").await;
    let (status, _, html) = post(
        &app,
        &mut rep.jar,
        &format!("/groups/{id}/members"),
        &[
            ("csrf", &csrf),
            ("card_number", &stranger.card),
            ("date_of_birth", "1990-02-03"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains(r#"id="card_number-error""#) && html.contains(r#"id="date_of_birth-error""#)
    );

    let mut members = vec![stranger];
    for _ in 0..4 {
        members.push(resident(&app, "resident", "1985-05-05").await);
    }
    for m in &members {
        let (status, headers, _) = post(
            &app,
            &mut rep.jar,
            &format!("/groups/{id}/members"),
            &[
                ("csrf", &csrf),
                ("card_number", &m.card),
                ("date_of_birth", m.born),
            ],
        )
        .await;
        assert_eq!(status, 303);
        assert_eq!(
            headers[LOCATION],
            format!("/groups/{id}?done=added").as_str()
        );
    }
    let (status, _, _) = post(
        &app,
        &mut rep.jar,
        &format!("/groups/{id}/register"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM group_registrations WHERE id = {id} AND state = 'registered'"
        ))
        .await,
        1
    );

    // A member sees the group and may leave it; the representative stays.
    let mut member = members.pop().unwrap();
    let (status, _, html) = get(&app, &mut member.jar, &format!("/groups/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!(r#"action="/groups/{id}/leave""#)));
    let member_csrf = member.csrf.clone();
    let (status, headers, _) = post(
        &app,
        &mut member.jar,
        &format!("/groups/{id}/leave"),
        &[("csrf", &member_csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/groups?done=left");
    // Someone outside the group cannot see it.
    let (status, _, _) = get(&app, &mut member.jar, &format!("/groups/{id}")).await;
    assert_eq!(status, 404);

    // Dissolving cannot be undone: the box must be ticked.
    let (status, _, html) = post(
        &app,
        &mut rep.jar,
        &format!("/groups/{id}/dissolve"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains(r#"id="confirm-error""#));
    let (status, headers, _) = post(
        &app,
        &mut rep.jar,
        &format!("/groups/{id}/dissolve"),
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/groups?done=dissolved");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM group_registrations WHERE id = {id} AND state = 'dissolved'"
        ))
        .await,
        1
    );
}

/// A round over one lottery room, taking applications now, for the month of `day`.
async fn open_round(app: &TestApp, room: i64, day: chrono::NaiveDate) -> i64 {
    let admin = app.login("admin@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = |hours: i64| (Utc::now() + Duration::hours(hours)).to_rfc3339();
    let (status, _, round) = app
        .post_as(
            &admin,
            "/api/v1/admin/lottery/rounds",
            None,
            &json!({
                "name": "テスト抽選",
                "month_of_use": day.to_string(),
                "room_ids": [room],
                "applications_open_at": at(-1),
                "applications_close_at": at(1),
                "draw_at": at(2),
                "confirm_by": at(3),
                "first_come_opens_at": at(4),
                "max_wishes": 3,
                "max_wins_per_applicant": 1,
            }),
        )
        .await;
    assert_eq!(status, 201, "{round}");
    round["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_resident_ranks_wishes_without_javascript_applies_and_withdraws() {
    let app = spawn_app().await;
    let room = app
        .count(
            "SELECT MIN(id) FROM rooms WHERE uses_lottery = TRUE AND requires_group = FALSE \
             AND parent_room_id IS NULL",
        )
        .await;
    let today = tokyo_date(Utc::now());
    let next_month = today
        .with_day(1)
        .unwrap()
        .checked_add_months(chrono::Months::new(1))
        .unwrap();
    let (day, slots) = app
        .free_slots_from(room, (next_month + Duration::days(7) - today).num_days())
        .await;
    assert!(slots.len() >= 2);
    let round = open_round(&app, room, day).await;
    let facility = app
        .count(&format!("SELECT facility_id FROM rooms WHERE id = {room}"))
        .await;
    let mut me = resident(&app, "resident", "1980-04-01").await;
    let csrf = me.csrf.clone();

    // The round is listed, and its page offers the facility's free slots of the day as links.
    let (_, _, html) = get(&app, &mut me.jar, "/lottery").await;
    assert!(html.contains(&format!(r#"href="/lottery/rounds/{round}""#)));
    let (status, _, html) = get(
        &app,
        &mut me.jar,
        &format!("/lottery/rounds/{round}?edit=1&facility={facility}&date={day}"),
    )
    .await;
    assert_eq!(status, 200);
    let add_first = format!("wish={}", slots[0]);
    assert!(html.contains(&add_first), "a link adds the first slot");
    // Following two such links leaves both wishes in the address and the form.
    let (_, _, html) = get(
        &app,
        &mut me.jar,
        &format!(
            "/lottery/rounds/{round}?edit=1&wish={}&wish={}&facility={facility}&date={day}",
            slots[0], slots[1]
        ),
    )
    .await;
    assert!(html.contains(&format!(r#"name="rank_{}""#, slots[1])));

    // The second wish is ranked first with the plain selects.
    let (first, second) = (slots[0].to_string(), slots[1].to_string());
    let rank_first = format!("rank_{first}");
    let rank_second = format!("rank_{second}");
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("wish", first.as_str()),
        ("wish", second.as_str()),
        (rank_first.as_str(), "2"),
        (rank_second.as_str(), "1"),
        ("purpose", ""),
        ("attendees", "10"),
    ];
    let (status, _, html) = post(
        &app,
        &mut me.jar,
        &format!("/lottery/rounds/{round}/apply"),
        &form,
    )
    .await;
    assert_eq!(status, 400, "a purpose is needed");
    assert!(html.contains(r#"id="purpose-error""#));
    form[5] = ("purpose", "バドミントン練習");
    let (status, headers, _) = post(
        &app,
        &mut me.jar,
        &format!("/lottery/rounds/{round}/apply"),
        &form,
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        headers[LOCATION],
        format!("/lottery/rounds/{round}?done=applied").as_str()
    );
    let (_, mine) = app.get_as(&me.token, "/api/v1/me/lottery").await;
    let wishes = &mine["applications"][0]["wishes"];
    assert_eq!(wishes[0]["slot_id"], slots[1], "{mine}");
    assert_eq!(wishes[1]["slot_id"], slots[0]);

    // "My lottery" lists it; withdrawing while open is a button.
    let (_, _, html) = get(&app, &mut me.jar, "/lottery/mine").await;
    assert!(html.contains(&format!(r#"href="/lottery/rounds/{round}""#)));
    let (status, _, _) = post(
        &app,
        &mut me.jar,
        &format!("/lottery/rounds/{round}/withdraw"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    let (_, mine) = app.get_as(&me.token, "/api/v1/me/lottery").await;
    assert_eq!(mine["applications"][0]["state"], "withdrawn");
}

#[tokio::test]
async fn results_are_published_pseudonymised_and_a_winner_confirms_from_my_lottery() {
    let app = spawn_app().await;
    let room = app
        .count(
            "SELECT MIN(id) FROM rooms WHERE uses_lottery = TRUE AND requires_group = FALSE \
             AND parent_room_id IS NULL",
        )
        .await;
    let today = tokyo_date(Utc::now());
    let next_month = today
        .with_day(1)
        .unwrap()
        .checked_add_months(chrono::Months::new(1))
        .unwrap();
    let (day, slots) = app
        .free_slots_from(room, (next_month + Duration::days(7) - today).num_days())
        .await;
    let round = open_round(&app, room, day).await;
    let mut me = resident(&app, "resident", "1980-04-01").await;
    let (status, _, body) = app
        .post_as(
            &me.token,
            &format!("/api/v1/lottery/rounds/{round}/applications"),
            None,
            &json!({"wishes": [slots[0]], "purpose": "練習", "attendees": 5}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // Close the window and draw.
    app.db
        .execute_unprepared(&format!(
            "UPDATE lottery_rounds SET applications_open_at = '2020-01-01 00:00:00+00:00', \
             applications_close_at = '2020-01-02 00:00:00+00:00', \
             draw_at = '2020-01-03 00:00:00+00:00' WHERE id = {round}"
        ))
        .await
        .unwrap();
    let admin = app.login("admin@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, drawn) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/lottery/rounds/{round}/draw"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{drawn}");
    let seed = drawn["round"]["seed"].as_str().unwrap().to_owned();

    let (status, _, html) = get(
        &app,
        &mut Jar::default(),
        &format!("/lottery/rounds/{round}/results"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains(&seed), "the seed is published");
    assert!(!html.contains("テスト 利用者"), "no names in the results");
    let (_, _, html) = get(
        &app,
        &mut me.jar,
        &format!("/lottery/rounds/{round}/results"),
    )
    .await;
    assert!(
        html.contains(r#"class="yours""#),
        "the winner finds their line"
    );

    let (_, _, html) = get(&app, &mut me.jar, "/lottery/mine").await;
    let start = html.find("/lottery/wins/").expect("a confirm form") + "/lottery/wins/".len();
    let win: i64 = html[start..].split('/').next().unwrap().parse().unwrap();
    let csrf = me.csrf.clone();
    let (status, headers, _) = post(
        &app,
        &mut me.jar,
        &format!("/lottery/wins/{win}/confirm"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        headers[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/bookings/")
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM bookings WHERE user_id = {}",
            me.id
        ))
        .await,
        1
    );
}

/// The amount in the price table's total row.
fn total_of(html: &str) -> String {
    let row = html.find(r#"<tr class="total">"#).expect("a total row");
    let cell = html[row..].find(r#"<td class="num">"#).unwrap() + row + r#"<td class="num">"#.len();
    html[cell..].split('<').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_booking_form_prices_the_kind_of_use_and_equipment_and_books_them() {
    let app = spawn_app().await;
    let mut me = resident(&app, "resident", "1980-04-01").await;
    let facility = app
        .count("SELECT id FROM facilities WHERE code = 'tsurumi-sports-center'")
        .await;
    let room = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {facility} AND code = 'main-gym'"
        ))
        .await;
    let (_, slots) = app.free_slots_from(room, 3).await;
    let path = format!("/book?room={room}&slot={}", slots[0]);
    let (status, _, html) = get(&app, &mut me.jar, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"name="purpose_kind" value="commercial""#));
    assert!(html.contains(r#"name="equipment_scoreboard""#));
    let ordinary = total_of(&html);
    let key = crate::web_pages::hidden(&html, "key");

    let room_text = room.to_string();
    let slot_text = slots[0].to_string();
    let mut form = vec![
        ("csrf", me.csrf.as_str()),
        ("key", key.as_str()),
        ("room", room_text.as_str()),
        ("slot", slot_text.as_str()),
        ("purpose", "物産展"),
        ("attendees", "50"),
        ("purpose_kind", "commercial"),
        ("equipment_scoreboard", "1"),
        ("update", "1"),
    ];
    // "Update the price" books nothing and shows the new total.
    let (status, _, html) = post(&app, &mut me.jar, "/book", &form).await;
    assert_eq!(status, 200);
    let commercial = total_of(&html);
    assert_ne!(
        commercial, ordinary,
        "commercial use with a scoreboard costs more"
    );
    assert!(html.contains(
        r#"id="purpose_kind-commercial" name="purpose_kind" value="commercial" checked"#
    ));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM bookings WHERE user_id = {}",
            me.id
        ))
        .await,
        0
    );

    // More than the room has is refused next to the field, and the rest is still priced.
    form[7] = ("equipment_scoreboard", "9");
    let (status, _, html) = post(&app, &mut me.jar, "/book", &form).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="equipment_scoreboard-error""#));

    form[7] = ("equipment_scoreboard", "1");
    form.pop();
    let (status, headers, _) = post(&app, &mut me.jar, "/book", &form).await;
    assert_eq!(status, 303);
    let id = headers[LOCATION]
        .to_str()
        .unwrap()
        .trim_start_matches("/bookings/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, booking) = app
        .get_as(&me.token, &format!("/api/v1/bookings/{id}"))
        .await;
    assert_eq!(booking["purpose_kind"], "commercial");
    assert!(
        booking["quote"].to_string().contains("scoreboard"),
        "{booking}"
    );
}

#[tokio::test]
async fn a_room_for_groups_only_says_so_to_a_person_without_a_group() {
    let app = spawn_app().await;
    let mut me = resident(&app, "resident", "1980-04-01").await;
    // Group-only rooms (baseball fields) use the lottery, but with no round held they are
    // booked first-come.
    let room = app
        .count("SELECT MIN(id) FROM rooms WHERE requires_group = TRUE AND parent_room_id IS NULL")
        .await;
    let (_, slots) = app.free_slots_from(room, 3).await;
    let (status, _, html) = get(
        &app,
        &mut me.jar,
        &format!("/book?room={room}&slot={}", slots[0]),
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("登録団体だけが予約できます"), "{html}");
}
