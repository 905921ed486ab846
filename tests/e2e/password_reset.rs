//! Resetting a forgotten password: the API always answers 202 and mails only existing accounts,
//! at most three links an hour; a link works once and for an hour; the new password follows the
//! registration's rules; every session of the account ends. The pages do the same by form.

use reqwest::header::LOCATION;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use yoyaku_tests::{DEMO_PASSWORD, TestApp, blamed_fields, error_of, spawn_app_with};

use crate::web_pages::{Jar, form_token, get, hidden, post};

const RESIDENT: &str = "resident@demo.yoyaku.jp";
const NEW_PASSWORD: &str = "violet kites drift over the bay";

async fn demo_app() -> TestApp {
    spawn_app_with(|s| s.demo = Some(true)).await
}

/// Mails in the outbox to `to` with `template`.
async fn mails(app: &TestApp, to: &str, template: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM mail_outbox WHERE to_address = '{to}' AND template = '{template}'"
    ))
    .await
}

/// The token of the newest reset link mailed to `to`.
async fn reset_token(app: &TestApp, to: &str) -> String {
    let (_, outbox) = app.get_json("/api/v1/dev/outbox").await;
    let mail = outbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["to"] == to
                && m["body"]
                    .as_str()
                    .unwrap()
                    .contains("/password-reset/confirm")
        })
        .unwrap_or_else(|| panic!("no reset mail to {to}: {outbox}"));
    let body = mail["body"].as_str().unwrap();
    let start = body.find("token=").expect("a link with a token") + "token=".len();
    body[start..].split_whitespace().next().unwrap().to_owned()
}

async fn ask(app: &TestApp, email: &str) -> (reqwest::StatusCode, Value) {
    app.post_json("/api/v1/auth/password-reset", &json!({ "email": email }))
        .await
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> (reqwest::StatusCode, Value) {
    app.post_json(
        "/api/v1/auth/password-reset/confirm",
        &json!({ "token": token, "password": password }),
    )
    .await
}

async fn sign_in(app: &TestApp, password: &str) -> (reqwest::StatusCode, Value) {
    app.post_json(
        "/api/v1/auth/login",
        &json!({ "email": RESIDENT, "password": password }),
    )
    .await
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_202_and_no_mail() {
    let app = demo_app().await;
    let (known_status, known) = ask(&app, RESIDENT).await;
    let (unknown_status, unknown) = ask(&app, "nobody@example.jp").await;
    assert_eq!(known_status, 202);
    assert_eq!(unknown_status, 202);
    assert_eq!(known, unknown, "the answers must not tell the two apart");
    assert_eq!(mails(&app, RESIDENT, "password_reset").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mail_outbox WHERE to_address = 'nobody@example.jp'")
            .await,
        0
    );
    // Only a hash of the token is stored.
    let token = reset_token(&app, RESIDENT).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM password_resets WHERE token_hash = '{token}'"
        ))
        .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM password_resets").await, 1);
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let app = demo_app().await;
    let session = app.login(RESIDENT).await;
    let refresh = session["refresh_token"].as_str().unwrap().to_owned();
    ask(&app, RESIDENT).await;
    let token = reset_token(&app, RESIDENT).await;

    // The registration's password rules apply, and the refusal names the field.
    let (status, body) = confirm(&app, &token, "password123").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(blamed_fields(&body), vec!["password"]);
    // A refused password does not use the link up.
    let (status, body) = confirm(&app, &token, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "password_changed");

    assert_eq!(sign_in(&app, DEMO_PASSWORD).await.0, 401);
    assert_eq!(sign_in(&app, NEW_PASSWORD).await.0, 200);
    // The session made before the reset is over.
    let (status, body) = app
        .post_json("/api/v1/auth/refresh", &json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(status, 401, "{body}");
    // Single use.
    let (status, body) = confirm(&app, &token, "another long phrase of words").await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body)["code"], "link_invalid");
    assert_eq!(sign_in(&app, NEW_PASSWORD).await.0, 200);
    // Recorded, and the person is told.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'password.reset'")
            .await,
        1
    );
    assert_eq!(mails(&app, RESIDENT, "password_changed").await, 1);
}

#[tokio::test]
async fn an_expired_link_is_refused_and_an_unknown_one_is_invalid() {
    let app = demo_app().await;
    ask(&app, RESIDENT).await;
    let token = reset_token(&app, RESIDENT).await;
    app.db
        .execute_unprepared(
            "UPDATE password_resets SET created_at = '2020-01-01 00:00:00+00:00', \
             expires_at = '2020-01-01 01:00:00+00:00'",
        )
        .await
        .unwrap();
    let (status, body) = confirm(&app, &token, NEW_PASSWORD).await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body)["code"], "link_expired");
    assert_eq!(sign_in(&app, DEMO_PASSWORD).await.0, 200);

    let (status, body) = confirm(&app, "not-a-token", NEW_PASSWORD).await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body)["code"], "link_invalid");
}

#[tokio::test]
async fn a_fourth_request_within_the_hour_is_answered_but_mails_nothing() {
    let app = demo_app().await;
    for _ in 0..4 {
        assert_eq!(ask(&app, RESIDENT).await.0, 202);
    }
    assert_eq!(mails(&app, RESIDENT, "password_reset").await, 3);
}

#[tokio::test]
async fn a_client_asking_too_often_is_throttled_with_retry_after() {
    let app = demo_app().await;
    let mut last = None;
    // The per-address budget is shared with sign-in (30 a minute by default).
    for n in 0..40 {
        let response = app
            .client
            .post(format!("{}/api/v1/auth/password-reset", app.address))
            .json(&json!({ "email": format!("someone{n}@example.jp") }))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            last = Some(response);
            break;
        }
        assert_eq!(response.status(), 202);
    }
    let response = last.expect("throttled before 40 requests");
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_of(&body)["code"], "too_many_attempts");
}

#[tokio::test]
async fn the_pages_reset_a_password_from_the_sign_in_page() {
    let app = demo_app().await;
    let mut jar = Jar::default();
    let (_, _, html) = get(&app, &mut jar, "/login").await;
    assert!(
        html.contains(r#"href="/password-reset""#),
        "sign-in links the reset page"
    );

    let (status, _, html) = get(&app, &mut jar, "/password-reset").await;
    assert_eq!(status, 200);
    let csrf = form_token(&html);
    // Not an address: the message is by the field and in the summary.
    let (status, _, html) = post(
        &app,
        &mut jar,
        "/password-reset",
        &[("csrf", &csrf), ("email", "resident")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains(r#"id="email-error""#) && html.contains(r##"href="#email""##));
    let (status, headers, _) = post(
        &app,
        &mut jar,
        "/password-reset",
        &[("csrf", &csrf), ("email", RESIDENT)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/password-reset/sent");

    let token = reset_token(&app, RESIDENT).await;
    let (status, _, html) = get(
        &app,
        &mut jar,
        &format!("/password-reset/confirm?token={token}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(hidden(&html, "token"), token);
    // Opening the link changes nothing.
    assert_eq!(sign_in(&app, DEMO_PASSWORD).await.0, 200);

    let (status, _, html) = post(
        &app,
        &mut jar,
        "/password-reset/confirm",
        &[("csrf", &csrf), ("token", &token), ("password", "short")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains(r#"id="password-error""#));
    let (status, _, _) = post(
        &app,
        &mut jar,
        "/password-reset/confirm",
        &[
            ("csrf", &csrf),
            ("token", &token),
            ("password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sign_in(&app, NEW_PASSWORD).await.0, 200);

    // The used link's page says so and offers a new one.
    let (status, _, html) = get(
        &app,
        &mut jar,
        &format!("/password-reset/confirm?token={token}"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains(r#"href="/password-reset""#));
}

#[tokio::test]
async fn the_reset_form_without_its_csrf_token_is_refused() {
    let app = demo_app().await;
    let mut jar = Jar::default();
    get(&app, &mut jar, "/password-reset").await;
    let (status, _, _) = post(&app, &mut jar, "/password-reset", &[("email", RESIDENT)]).await;
    assert_eq!(status, 403);
    assert_eq!(mails(&app, RESIDENT, "password_reset").await, 0);
}

#[tokio::test]
async fn the_openapi_description_lists_both_password_reset_routes() {
    let app = demo_app().await;
    let (status, spec) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/api/v1/auth/password-reset",
        "/api/v1/auth/password-reset/confirm",
    ] {
        assert!(spec["paths"][path]["post"].is_object(), "{path}");
    }
    assert!(spec["components"]["schemas"]["PasswordResetConfirmRequest"].is_object());
}
