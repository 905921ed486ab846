//! Online registration: apply, follow the mailed link, wait for approval, then book.

use serde_json::{Value, json};
use yoyaku_tests::{TestApp, blamed_fields, error_of, spawn_app, spawn_app_with};

fn application(email: &str) -> Value {
    json!({
        "email": email,
        "password": "blue heron paints the harbour",
        "name": "港 次郎",
        "name_kana": "みなと じろう",
        "date_of_birth": "1985-06-15",
        "postal_code": "231-0017",
        "address": "横浜市中区港町1-1",
        "phone": "045-671-2121",
        "residency": "resident",
        "locale": "ja"
    })
}

/// The verification token in the newest mail to `email`.
async fn mailed_token(app: &TestApp, email: &str) -> String {
    let (status, outbox) = app.get_json("/api/v1/dev/outbox").await;
    assert_eq!(status, 200);
    let mail = outbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["to"] == email)
        .unwrap_or_else(|| panic!("no mail to {email}: {outbox}"));
    let body = mail["body"].as_str().unwrap();
    let start = body.find("token=").expect("a link with a token") + "token=".len();
    body[start..].split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn a_resident_registers_follows_the_link_and_books_once_approved() {
    let app = spawn_app_with(|s| s.demo = Some(true)).await;
    let email = "jiro@example.jp";
    let (status, answer) = app
        .post_json("/api/v1/auth/register", &application(email))
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "verification_sent");

    // Not verified yet: signing in is refused.
    let login = json!({"email": email, "password": "blue heron paints the harbour"});
    let (status, body) = app.post_json("/api/v1/auth/login", &login).await;
    assert_eq!(status, 403);
    assert_eq!(error_of(&body)["code"], "email_not_verified");

    let token = mailed_token(&app, email).await;
    let (status, verified) = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(verified["registration_state"], "pending_review");
    // Following the link again changes nothing.
    let (_, again) = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(again["registration_state"], "pending_review");

    let (status, tokens) = app.post_json("/api/v1/auth/login", &login).await;
    assert_eq!(status, 200);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    // Pending review: booking is refused (browsing only).
    let gym = app.count("SELECT MIN(id) FROM rooms").await;
    let (status, _, refused) = app
        .post_as(
            &access,
            "/api/v1/bookings/quote",
            None,
            &json!({"room_id": gym, "slot_ids": [1], "purpose": "x", "attendees": 1}),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(error_of(&refused)["code"], "registration_not_approved");

    // Staff approve (the approval queue is the next step of the accounts work).
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET registration_state = 'approved' WHERE email = '{email}'"
        ))
        .await
        .unwrap();
    let (status, _, body) = app
        .post_as(
            &access,
            "/api/v1/bookings/quote",
            None,
            &json!({"room_id": gym, "slot_ids": [999999999], "purpose": "x", "attendees": 1}),
        )
        .await;
    assert_eq!(
        status, 422,
        "approved: now the request gets as far as the slots: {body}"
    );
}

#[tokio::test]
async fn every_bad_field_of_a_registration_is_named_at_once() {
    let app = spawn_app().await;
    let mut bad = application("not-an-email");
    bad["name_kana"] = json!("港次郎");
    bad["phone"] = json!("12");
    bad["password"] = json!("password123");
    let (status, body) = app.post_json("/api/v1/auth/register", &bad).await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body)["code"], "invalid_input");
    assert_eq!(
        blamed_fields(&body),
        vec!["email", "name_kana", "phone", "password"]
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email = 'not-an-email'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM mail_outbox").await, 0);
}

#[tokio::test]
async fn registering_a_known_address_answers_the_same_and_mails_the_owner() {
    let app = spawn_app().await;
    let (first, first_body) = app
        .post_json(
            "/api/v1/auth/register",
            &application("resident@demo.yoyaku.jp"),
        )
        .await;
    let (second, second_body) = app
        .post_json("/api/v1/auth/register", &application("new@example.jp"))
        .await;
    assert_eq!(first, 202);
    assert_eq!(second, 202);
    assert_eq!(
        first_body, second_body,
        "the answer must not reveal which address is registered"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email = 'resident@demo.yoyaku.jp'")
            .await,
        1
    );
    let owner_mail = app
        .count("SELECT COUNT(*) FROM mail_outbox WHERE to_address = 'resident@demo.yoyaku.jp' AND template = 'already_registered'")
        .await;
    assert_eq!(owner_mail, 1);
    // The existing account is untouched: the demo password still works.
    app.login("resident@demo.yoyaku.jp").await;
}

#[tokio::test]
async fn a_forged_verification_link_is_refused() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            "/api/v1/auth/verify-email",
            &json!({"token": "abc.def.ghi"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body)["code"], "link_invalid");
}

#[tokio::test]
async fn the_outbox_page_exists_only_in_demo_mode() {
    let app = spawn_app().await;
    let (status, _) = app.get_json("/api/v1/dev/outbox").await;
    assert_eq!(status, 404);
}

/// Register and verify a person; returns their user id.
async fn verified_applicant(app: &TestApp, email: &str) -> i64 {
    let (status, _) = app
        .post_json("/api/v1/auth/register", &application(email))
        .await;
    assert_eq!(status, 202);
    let id = app
        .count(&format!("SELECT id FROM users WHERE email = '{email}'"))
        .await;
    let token = app.keys.issue_email_verification(id as i32, email);
    let (status, _) = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(status, 200);
    id
}

#[tokio::test]
async fn staff_see_the_queue_approve_with_a_card_number_and_every_view_is_audited() {
    let app = spawn_app().await;
    let applicant = verified_applicant(&app, "queue@example.jp").await;
    let staff = app.login("staff@demo.yoyaku.jp").await;
    let staff_token = staff["access_token"].as_str().unwrap();

    let (status, queue) = app.get_as(staff_token, "/api/v1/admin/registrations").await;
    assert_eq!(status, 200);
    let row = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] == applicant)
        .expect("in the queue");
    assert_eq!(row["address"], "横浜市中区港町1-1");
    assert_eq!(row["registration_state"], "pending_review");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'registration.view_queue'")
            .await,
        1
    );

    let (status, _, approved) = app
        .post_as(
            staff_token,
            &format!("/api/v1/admin/registrations/{applicant}/approve"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    let card = approved["card_number"].as_str().unwrap();
    assert!(yoyaku::domain::card::is_valid_card_number(card), "{card}");
    let today = yoyaku::domain::calendar::tokyo_date(chrono::Utc::now());
    assert_eq!(
        approved["valid_until"],
        yoyaku::services::review::valid_until(today).to_string()
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mail_outbox WHERE template = 'registration_approved'")
            .await,
        1
    );
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM audit_log WHERE action = 'registration.approve' AND subject_id = {applicant}")).await,
        1
    );
    // Approving again is a conflict, not a second card.
    let (status, _, again) = app
        .post_as(
            staff_token,
            &format!("/api/v1/admin/registrations/{applicant}/approve"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error_of(&again)["code"], "not_pending");
}

#[tokio::test]
async fn a_rejection_needs_a_reason_which_is_mailed() {
    let app = spawn_app().await;
    let applicant = verified_applicant(&app, "reject@example.jp").await;
    let admin = app.login("admin@demo.yoyaku.jp").await;
    let token = admin["access_token"].as_str().unwrap();
    let path = format!("/api/v1/admin/registrations/{applicant}/reject");
    let (status, _, body) = app
        .post_as(token, &path, None, &json!({"reason": "no"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), vec!["reason"]);
    let (status, _, _) = app
        .post_as(
            token,
            &path,
            None,
            &json!({"reason": "住所を確認できる書類が読み取れませんでした"}),
        )
        .await;
    assert_eq!(status, 204);
    let state = app
        .count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {applicant} AND registration_state = 'rejected'"
        ))
        .await;
    assert_eq!(state, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mail_outbox WHERE template = 'registration_rejected'")
            .await,
        1
    );
}

#[tokio::test]
async fn residents_cannot_see_or_decide_the_queue() {
    let app = spawn_app().await;
    let applicant = verified_applicant(&app, "nosy@example.jp").await;
    let resident = app.login("resident@demo.yoyaku.jp").await;
    let token = resident["access_token"].as_str().unwrap();
    let (status, body) = app.get_as(token, "/api/v1/admin/registrations").await;
    assert_eq!(status, 403);
    assert_eq!(error_of(&body)["code"], "forbidden");
    let (status, _, _) = app
        .post_as(
            token,
            &format!("/api/v1/admin/registrations/{applicant}/approve"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app.get_json("/api/v1/admin/registrations").await;
    assert_eq!(status, 401);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, 0);
}

#[tokio::test]
async fn an_approval_and_a_rejection_sent_together_cannot_both_apply() {
    let app = spawn_app().await;
    let applicant = verified_applicant(&app, "race@example.jp").await;
    let staff = app.login("staff@demo.yoyaku.jp").await;
    let manager = app.login("manager@demo.yoyaku.jp").await;
    let (approve_path, reject_path) = (
        format!("/api/v1/admin/registrations/{applicant}/approve"),
        format!("/api/v1/admin/registrations/{applicant}/reject"),
    );
    let (staff_token, manager_token) = (
        staff["access_token"].as_str().unwrap(),
        manager["access_token"].as_str().unwrap(),
    );
    let (empty, reason) = (json!({}), json!({"reason": "書類の住所が読み取れません"}));
    let (approve, reject) = futures::join!(
        app.post_as(staff_token, &approve_path, None, &empty),
        app.post_as(manager_token, &reject_path, None, &reason),
    );
    let outcomes = [approve.0.as_u16(), reject.0.as_u16()];
    assert_eq!(
        outcomes.iter().filter(|s| **s == 409).count(),
        1,
        "{outcomes:?}"
    );
    let decided = app
        .count(&format!("SELECT COUNT(*) FROM audit_log WHERE subject_id = {applicant} AND action LIKE 'registration.%' AND action <> 'registration.view_queue'"))
        .await;
    assert_eq!(decided, 1);
    let card = app
        .count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {applicant} AND card_number IS NOT NULL"
        ))
        .await;
    let approved = app
        .count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {applicant} AND registration_state = 'approved'"
        ))
        .await;
    assert_eq!(card, approved, "a card number exactly when approved");
}
