//! Signing in and out: tokens, rotation, reuse detection, throttling, and bad input.

use serde_json::json;
use yoyaku_tests::{blamed_fields, error_of, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_demo_resident_signs_in_and_me_shows_them() {
    let app = spawn_app().await;
    let tokens = app.login("resident@demo.yoyaku.jp").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);
    let (status, me) = app
        .get_as(tokens["access_token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "resident@demo.yoyaku.jp");
    assert_eq!(me["role"], "resident");
    assert_eq!(me["facility_ids"], json!([]));
}

#[tokio::test]
async fn staff_see_the_facilities_they_are_assigned_to() {
    let app = spawn_app().await;
    let tokens = app.login("STAFF@demo.yoyaku.jp").await;
    let (_, me) = app
        .get_as(tokens["access_token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(me["role"], "staff");
    assert_eq!(me["facility_ids"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    let (wrong_status, wrong) = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "resident@demo.yoyaku.jp", "password": "guess"}),
        )
        .await;
    let (unknown_status, unknown) = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "nobody@example.jp", "password": "guess"}),
        )
        .await;
    assert_eq!(wrong_status, 401);
    assert_eq!(unknown_status, 401);
    assert_eq!(error_of(&wrong), error_of(&unknown));
    assert_eq!(error_of(&wrong)["code"], "invalid_credentials");
}

#[tokio::test]
async fn an_unverified_email_cannot_sign_in_yet() {
    let app = spawn_app().await;
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(
            "UPDATE users SET email_verified_at = NULL WHERE email = 'group@demo.yoyaku.jp'",
        )
        .await
        .unwrap();
    let (status, body) = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "group@demo.yoyaku.jp", "password": yoyaku_tests::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(error_of(&body)["code"], "email_not_verified");
}

#[tokio::test]
async fn a_malformed_login_names_the_field_and_a_non_json_body_is_refused() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "resident@demo.yoyaku.jp"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), vec!["password"]);
    let (status, body) = app
        .post_json("/api/v1/auth/login", &json!({"email": 5, "password": "x"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), vec!["email"]);
    let (status, body) = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "a@b.jp", "password": "x", "remember": true}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), vec!["remember"]);
    let response = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .body("email=a&password=b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn a_refresh_token_works_once_and_its_reuse_ends_the_session_everywhere() {
    let app = spawn_app().await;
    let first = app.login("resident@demo.yoyaku.jp").await;
    let (status, second) = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let (status, _) = app
        .get_as(second["access_token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(status, 200);

    // The first token again: somebody copied it. The whole family is revoked.
    let (status, body) = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(error_of(&body)["code"], "refresh_token_reused");
    let (status, body) = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(error_of(&body)["code"], "invalid_refresh_token");
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_let_exactly_one_through() {
    let app = spawn_app().await;
    let tokens = app.login("resident@demo.yoyaku.jp").await;
    let body = json!({"refresh_token": tokens["refresh_token"]});
    let attempts = (0..8).map(|_| app.post_json("/api/v1/auth/refresh", &body));
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(winners, 1, "{results:?}");
}

#[tokio::test]
async fn signing_out_stops_the_refresh_token() {
    let app = spawn_app().await;
    let tokens = app.login("resident@demo.yoyaku.jp").await;
    let body = json!({"refresh_token": tokens["refresh_token"]});
    let response = app
        .client
        .post(format!("{}/api/v1/auth/logout", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (status, _) = app.post_json("/api/v1/auth/refresh", &body).await;
    assert_eq!(status, 401);
    // Signing out again is fine.
    let again = app
        .client
        .post(format!("{}/api/v1/auth/logout", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 204);
}

#[tokio::test]
async fn me_needs_a_valid_bearer_token() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/me").await;
    assert_eq!(status, 401);
    assert_eq!(error_of(&body)["code"], "unauthorized");
    let (status, _) = app
        .get_as("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "/api/v1/me")
        .await;
    assert_eq!(status, 401);
    // A token from another deployment (another secret) is refused.
    let other = spawn_app().await;
    let foreign = other.login("resident@demo.yoyaku.jp").await;
    let (status, _) = app
        .get_as(foreign["access_token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_slowed_down_with_retry_after() {
    let app = spawn_app_with(|s| s.login_attempts_per_account = 3).await;
    let wrong = json!({"email": "resident@demo.yoyaku.jp", "password": "guess"});
    for _ in 0..3 {
        let (status, _) = app.post_json("/api/v1/auth/login", &wrong).await;
        assert_eq!(status, 401);
    }
    let response = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_of(&body)["code"], "too_many_attempts");
}
