//! The account after approval: renewing online (from the old expiry, not before it opens, back to
//! staff on a new residency category), reminders before expiry (once per threshold even with two
//! job runs at once), expiry stopping bookings, the data export (mine and nobody else's) and
//! deleting the account (anonymised, signed out, paid bookings kept, sign-in refused).

use chrono::{Duration, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use yoyaku::domain::calendar::tokyo_date;
use yoyaku::domain::renewal::{RenewalRules, add_years, fresh_until};
use yoyaku::entities::booking;
use yoyaku::jobs::registration_reminders;
use yoyaku_tests::{TestApp, blamed_fields, error_of, spawn_app};

const PASSWORD: &str = "blue heron paints the harbour";

/// A person registered, verified and approved through the API, signed in.
struct Person {
    id: i64,
    email: String,
    access: String,
    refresh: String,
}

async fn approved_person(app: &TestApp, name: &str) -> Person {
    let email = format!("{name}-{}@example.jp", uuid::Uuid::new_v4().simple());
    let application = json!({
        "email": email, "password": PASSWORD, "name": "港 次郎", "name_kana": "みなと じろう",
        "date_of_birth": "1985-06-15", "postal_code": "231-0017", "address": "横浜市中区港町1-1",
        "phone": "045-671-2121", "residency": "resident", "locale": "ja"
    });
    let (status, body) = app.post_json("/api/v1/auth/register", &application).await;
    assert_eq!(status, 202, "{body}");
    let id = app
        .count(&format!("SELECT id FROM users WHERE email = '{email}'"))
        .await;
    let link = app.keys.issue_email_verification(id as i32, &email);
    let (status, _) = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": link}))
        .await;
    assert_eq!(status, 200);
    let staff = staff_token(app).await;
    let (status, _, approved) = app
        .post_as(
            &staff,
            &format!("/api/v1/admin/registrations/{id}/approve"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    let tokens = sign_in(app, &email).await;
    Person {
        id,
        email,
        access: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
    }
}

async fn staff_token(app: &TestApp) -> String {
    app.login("staff@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sign_in(app: &TestApp, email: &str) -> Value {
    let (status, tokens) = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

fn today() -> NaiveDate {
    tokyo_date(Utc::now())
}

/// Move a person's expiry (instead of waiting for years to pass).
async fn set_valid_until(app: &TestApp, id: i64, date: NaiveDate) {
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET registration_valid_until = '{date}' WHERE id = {id}"
        ))
        .await
        .unwrap();
}

async fn valid_until_of(app: &TestApp, id: i64) -> NaiveDate {
    let person = yoyaku::entities::user::Entity::find_by_id(id as i32)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    person.registration_valid_until.unwrap()
}

fn renewal(residency: &str) -> Value {
    json!({
        "postal_code": "2310017", "address": "横浜市中区港町1-1", "phone": "045-671-2121",
        "residency": residency
    })
}

async fn renew(app: &TestApp, person: &Person, body: &Value) -> (u16, Value) {
    let (status, _, answer) = app
        .post_as(&person.access, "/api/v1/me/registration/renew", None, body)
        .await;
    (status.as_u16(), answer)
}

async fn mails(app: &TestApp, email: &str, template: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM mail_outbox WHERE to_address = '{email}' AND template = '{template}'"
    ))
    .await
}

/// The Tsurumi sports center's main gym (whole) and its slot ids on an open weekday in the
/// first-come window.
async fn gym_slots(app: &TestApp) -> (i64, Vec<i64>) {
    let facility = app
        .count("SELECT id FROM facilities WHERE code = 'tsurumi-sports-center'")
        .await as i32;
    let gym = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {facility} AND code = 'main-gym'"
        ))
        .await;
    let (_, ids) = app.free_slots_from(gym, 2).await;
    (gym, ids)
}

#[tokio::test]
async fn renewing_before_expiry_extends_three_years_from_the_old_expiry() {
    let app = spawn_app().await;
    let person = approved_person(&app, "renew").await;
    let old = today() + Duration::days(30);
    set_valid_until(&app, person.id, old).await;

    let (status, answer) = renew(&app, &person, &renewal("resident")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "renewed");
    assert_eq!(answer["registration_state"], "approved");
    let expected = add_years(old, 3);
    assert_eq!(answer["valid_until"], expected.to_string());
    assert_eq!(valid_until_of(&app, person.id).await, expected);
    assert_eq!(mails(&app, &person.email, "registration_renewed").await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'registration.renew' AND subject_id = {}",
            person.id
        ))
        .await,
        1
    );
    // Renewing again at once: the new expiry is years away, so renewal is not open.
    let (status, again) = renew(&app, &person, &renewal("resident")).await;
    assert_eq!(status, 409);
    assert_eq!(error_of(&again)["code"], "renewal_not_open");
    assert_eq!(valid_until_of(&app, person.id).await, expected);
}

#[tokio::test]
async fn renewal_is_refused_before_it_opens_and_for_accounts_it_does_not_fit() {
    let app = spawn_app().await;
    let person = approved_person(&app, "early").await;
    let until = today() + Duration::days(200);
    set_valid_until(&app, person.id, until).await;
    let (status, answer) = renew(&app, &person, &renewal("resident")).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(error_of(&answer)["code"], "renewal_not_open");
    let opens_on = until - Duration::days(i64::from(RenewalRules::default().opens_days_before));
    assert!(
        error_of(&answer)["message"]
            .as_str()
            .unwrap()
            .contains(&opens_on.to_string()),
        "{answer}"
    );
    assert_eq!(valid_until_of(&app, person.id).await, until);

    // Every bad field is named.
    let (status, answer) = renew(
        &app,
        &person,
        &json!({"postal_code": "12", "address": "x", "phone": "999", "residency": "martian"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        blamed_fields(&answer),
        ["postal_code", "address", "phone", "residency"]
    );

    // Already waiting for review: not allowed.
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET registration_state = 'pending_review' WHERE id = {}",
            person.id
        ))
        .await
        .unwrap();
    set_valid_until(&app, person.id, today() + Duration::days(10)).await;
    let (status, answer) = renew(&app, &person, &renewal("resident")).await;
    assert_eq!(status, 409);
    assert_eq!(error_of(&answer)["code"], "renewal_not_allowed");

    // Staff accounts have no registration to renew.
    let staff = staff_token(&app).await;
    let (status, _, answer) = app
        .post_as(
            &staff,
            "/api/v1/me/registration/renew",
            None,
            &renewal("resident"),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(error_of(&answer)["code"], "forbidden");
}

#[tokio::test]
async fn a_new_residency_category_goes_to_staff_who_approve_with_the_same_card() {
    let app = spawn_app().await;
    let person = approved_person(&app, "moving").await;
    let old = today() + Duration::days(20);
    set_valid_until(&app, person.id, old).await;
    let card = app
        .count(&format!(
            "SELECT CAST(card_number AS BIGINT) FROM users WHERE id = {}",
            person.id
        ))
        .await;

    let (status, answer) = renew(&app, &person, &renewal("non_resident")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "pending_review");
    assert_eq!(answer["valid_until"], old.to_string());
    assert_eq!(mails(&app, &person.email, "renewal_under_review").await, 1);
    // Until staff confirm the new category, booking is paused (it sets the price).
    let (gym, ids) = gym_slots(&app).await;
    let (status, refused) = app.book(&person.access, gym, &[ids[0]]).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(error_of(&refused)["code"], "registration_not_approved");

    let staff = staff_token(&app).await;
    let (status, _, approved) = app
        .post_as(
            &staff,
            &format!("/api/v1/admin/registrations/{}/approve", person.id),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(
        approved["card_number"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap(),
        card
    );
    assert_eq!(approved["valid_until"], add_years(old, 3).to_string());
    let (status, booked) = app.book(&person.access, gym, &[ids[0]]).await;
    assert_eq!(status, 201, "{booked}");
    assert_eq!(booked["residency"], "non_resident");
}

#[tokio::test]
async fn an_expired_registration_cannot_book_until_renewed_within_the_grace_period() {
    let app = spawn_app().await;
    let (gym, ids) = gym_slots(&app).await;
    let person = approved_person(&app, "expired").await;
    set_valid_until(&app, person.id, today() - Duration::days(1)).await;

    // Past its last day it cannot book, even before the job has marked it.
    let (status, refused) = app.book(&person.access, gym, &[ids[0]]).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(error_of(&refused)["code"], "registration_not_approved");

    let link = "http://localhost/login";
    let rules = RenewalRules::default();
    let report = registration_reminders::run_once(&app.db, &rules, link, Utc::now())
        .await
        .unwrap();
    assert!(report.expired >= 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {} AND registration_state = 'expired'",
            person.id
        ))
        .await,
        1
    );
    let (status, refused) = app.book(&person.access, gym, &[ids[0]]).await;
    assert_eq!(status, 403);
    assert_eq!(error_of(&refused)["code"], "registration_not_approved");

    // Within the grace period: renewed online, three years from today (not back-dated).
    let (status, answer) = renew(&app, &person, &renewal("resident")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "renewed");
    assert_eq!(answer["valid_until"], fresh_until(today()).to_string());
    let (status, booked) = app.book(&person.access, gym, &[ids[0]]).await;
    assert_eq!(status, 201, "{booked}");

    // Expired longer ago than the grace period: staff check again.
    let late = approved_person(&app, "late").await;
    set_valid_until(
        &app,
        late.id,
        today() - Duration::days(i64::from(rules.grace_days) + 1),
    )
    .await;
    let (status, answer) = renew(&app, &late, &renewal("resident")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "pending_review");
}

#[tokio::test]
async fn the_reminder_job_sends_each_threshold_once_even_when_run_twice_at_once() {
    let app = spawn_app().await;
    let person = approved_person(&app, "remind").await;
    let until = today() + Duration::days(60);
    set_valid_until(&app, person.id, until).await;
    let rules = RenewalRules::default();
    let link = "http://localhost/login";
    let reminders = format!(
        "SELECT COUNT(*) FROM registration_reminders WHERE user_id = {}",
        person.id
    );

    let now = Utc::now();
    let (a, b) = tokio::join!(
        registration_reminders::run_once(&app.db, &rules, link, now),
        registration_reminders::run_once(&app.db, &rules, link, now),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(app.count(&reminders).await, 1);
    assert_eq!(mails(&app, &person.email, "registration_reminder").await, 1);
    // A later run the same day (or on another instance) sends nothing more.
    registration_reminders::run_once(&app.db, &rules, link, now + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(mails(&app, &person.email, "registration_reminder").await, 1);

    // 46 days on, 14 days are left: the second threshold, again once.
    let later = now + Duration::days(46);
    let (a, b) = tokio::join!(
        registration_reminders::run_once(&app.db, &rules, link, later),
        registration_reminders::run_once(&app.db, &rules, link, later),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(app.count(&reminders).await, 2);
    assert_eq!(mails(&app, &person.email, "registration_reminder").await, 2);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM registration_reminders WHERE user_id = {} AND threshold_days = 14",
            person.id
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn my_export_holds_my_bookings_and_nothing_of_anyone_else() {
    let app = spawn_app().await;
    let (gym, ids) = gym_slots(&app).await;
    let me = approved_person(&app, "me").await;
    let other = approved_person(&app, "other").await;
    let (status, mine) = app.book(&me.access, gym, &[ids[0]]).await;
    assert_eq!(status, 201, "{mine}");
    let (status, theirs) = app.book(&other.access, gym, &[ids[1]]).await;
    assert_eq!(status, 201, "{theirs}");
    // A staff view of the queue that listed both of us.
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET registration_state = 'pending_review' WHERE id IN ({}, {})",
            me.id, other.id
        ))
        .await
        .unwrap();
    let (status, _) = app
        .get_as(&staff_token(&app).await, "/api/v1/admin/registrations")
        .await;
    assert_eq!(status, 200);

    let response = app
        .client
        .get(format!("{}/api/v1/me/export", app.address))
        .bearer_auth(&me.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    let text = response.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();

    assert_eq!(export["profile"]["email"], me.email);
    assert_eq!(export["profile"]["address"], "横浜市中区港町1-1");
    assert!(export["registration"]["card_number"].is_string());
    let bookings = export["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0]["id"], mine["id"]);
    assert_eq!(bookings[0]["slot_ids"], json!([ids[0]]));
    assert_eq!(bookings[0]["events"][0]["to_state"], "awaiting_payment");
    assert!(!export["sessions"].as_array().unwrap().is_empty());
    assert!(!text.contains("token_hash"));
    let templates: Vec<&str> = export["mails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["template"].as_str().unwrap())
        .collect();
    assert!(templates.contains(&"verify_email"), "{templates:?}");
    assert!(
        templates.contains(&"registration_approved"),
        "{templates:?}"
    );
    let actions: Vec<&str> = export["audit_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"registration.approve"), "{actions:?}");
    let view = export["audit_log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "registration.view_queue")
        .expect("the queue view that listed me");
    assert_eq!(view["detail"], json!({"state": "pending_review"}));
    assert_eq!(view["actor"], "staff");

    // Nothing of the other person: not their booking, not their address, not their id list.
    assert!(!text.contains(&other.email));
    assert!(
        !bookings
            .iter()
            .any(|b| b["id"] == theirs["id"] || b["slot_ids"] == json!([ids[1]]))
    );
    assert!(!text.contains("user_ids"));
    // The download is audited.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account.export' AND actor_user_id = {}",
            me.id
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn deleting_my_account_anonymises_me_signs_me_out_and_keeps_paid_bookings() {
    let app = spawn_app().await;
    let (gym, ids) = gym_slots(&app).await;
    let me = approved_person(&app, "leaving").await;
    let (_, unpaid) = app.book(&me.access, gym, &[ids[0]]).await;
    let (_, paid) = app.book(&me.access, gym, &[ids[1]]).await;
    let (unpaid, paid) = (unpaid["id"].as_i64().unwrap(), paid["id"].as_i64().unwrap());
    // An identity document uploaded for the review (its file is not needed to forget it).
    {
        use sea_orm::ConnectionTrait;
        app.db
            .execute_unprepared(&format!(
                "INSERT INTO identity_documents (user_id, kind, content_type, byte_size, sha256, storage_key, uploaded_at) \
                 VALUES ({}, 'resident_record', 'application/pdf', 1234, '{}', '{}', '2026-01-01 00:00:00+00:00')",
                me.id,
                "0".repeat(64),
                "a".repeat(32)
            ))
            .await
            .unwrap();
    }
    let (status, export) = app.get_as(&me.access, "/api/v1/me/export").await;
    assert_eq!(status, 200);
    assert_eq!(export["identity_documents"][0]["kind"], "resident_record");
    // The second one is paid (the payment work will set this; here the column is set).
    booking::Entity::update_many()
        .col_expr(booking::Column::State, Expr::value("confirmed"))
        .filter(booking::Column::Id.eq(paid))
        .exec(&app.db)
        .await
        .unwrap();
    let delete = |password: &str| {
        let body = json!({"password": password});
        let app = &app;
        let token = me.access.clone();
        async move {
            let (status, _, answer) = app.post_as(&token, "/api/v1/me/delete", None, &body).await;
            (status.as_u16(), answer)
        }
    };

    let (status, answer) = delete("not my password at all").await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(error_of(&answer)["code"], "password_incorrect");
    assert_eq!(blamed_fields(&answer), ["password"]);

    // A paid booking still to come needs its refund first.
    let (status, answer) = delete(PASSWORD).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(error_of(&answer)["code"], "paid_bookings_ahead");
    assert_eq!(blamed_fields(&answer), [format!("bookings[{paid}]")]);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {} AND deleted_at IS NULL",
            me.id
        ))
        .await,
        1,
        "a refused deletion changes nothing"
    );

    // Once it has taken place, it is kept for the accounts.
    let past = Utc::now() - Duration::days(2);
    booking::Entity::update_many()
        .col_expr(booking::Column::StartsAt, Expr::value(past))
        .col_expr(
            booking::Column::EndsAt,
            Expr::value(past + Duration::hours(2)),
        )
        .filter(booking::Column::Id.eq(paid))
        .exec(&app.db)
        .await
        .unwrap();
    let (status, answer) = delete(PASSWORD).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cancelled_booking_ids"], json!([unpaid]));
    assert_eq!(answer["kept_booking_ids"], json!([paid]));

    // Anonymised, within the database's constraints.
    let row = yoyaku::entities::user::Entity::find_by_id(me.id as i32)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.email, format!("deleted-{}@deleted.invalid", me.id));
    assert_eq!(row.display_name, "(deleted)");
    assert!(row.name_kana.is_none() && row.address.is_none() && row.phone.is_none());
    assert!(row.postal_code.is_none() && row.date_of_birth.is_none());
    assert!(row.password_hash.is_none() && row.card_number.is_none());
    assert!(row.deleted_at.is_some());
    assert_ne!(row.registration_state, "approved");

    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM identity_documents WHERE user_id = {}",
            me.id
        ))
        .await,
        0
    );

    // The unpaid booking was cancelled through the booking service: slot free, history kept.
    let kept_unpaid = booking::Entity::find_by_id(unpaid)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept_unpaid.state, "cancelled");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM slot_claims WHERE booking_id = {unpaid}"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {unpaid}"
        ))
        .await,
        2
    );
    // The paid one stays, for the accounts, without its free text.
    let kept_paid = booking::Entity::find_by_id(paid)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept_paid.state, "confirmed");
    assert_eq!(kept_paid.user_id, me.id as i32);
    assert_eq!(kept_paid.purpose, "(deleted)");

    // A confirmation went to the old address, and it is the only mail left to it.
    assert_eq!(mails(&app, &me.email, "account_deleted").await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM mail_outbox WHERE to_address = '{}'",
            me.email
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account.delete' AND subject_id = {}",
            me.id
        ))
        .await,
        1
    );

    // Signed out everywhere, and signing in fails like an unknown account.
    let (status, refreshed) = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": me.refresh}),
        )
        .await;
    assert_eq!(status, 401, "{refreshed}");
    let (status, login) = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": me.email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(error_of(&login)["code"], "invalid_credentials");
    // The access token still in hand for a few minutes can do nothing with the account.
    let (status, _) = app.book(&me.access, gym, &[ids[2]]).await;
    assert_eq!(status, 403);
    let (status, _) = app.get_as(&me.access, "/api/v1/me/export").await;
    assert_eq!(status, 401);
    let (status, _) = delete(PASSWORD).await;
    assert_eq!(status, 401);
}
