//! Health, readiness, request ids, OpenAPI and the docs UI.

use yoyaku_tests::{error_of, spawn_app};

#[tokio::test]
async fn healthz_says_the_process_is_up() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_says_the_database_answers() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_fails_with_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db.clone().close().await.expect("close the pool");
    // The app shares the closed pool, so it can no longer reach the database.
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(error_of(&body)["code"], "unavailable");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_echoed() {
    let app = spawn_app().await;
    let made = app.get("/api/v1/facilities/999999").await;
    let id = made
        .headers()
        .get("x-request-id")
        .expect("a request id")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let echoed = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "counter-7-trace")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "counter-7-trace");
}

#[tokio::test]
async fn the_openapi_description_lists_the_catalogue_and_the_error_envelope() {
    let app = spawn_app().await;
    let (status, spec) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/facilities",
        "/api/v1/facilities/{id}",
        "/api/v1/facilities/{id}/rooms",
        "/api/v1/rooms/{id}",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(spec["components"]["schemas"].get("ErrorResponse").is_some());
}

#[tokio::test]
async fn the_docs_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let page = app.get("/api/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "not the Swagger UI page");
    assert!(
        !html.contains("cdn."),
        "the docs UI must not load from a CDN"
    );
    let script = app.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(script.status(), 200);
}

#[tokio::test]
async fn the_home_page_renders_in_japanese_and_english() {
    let app = spawn_app().await;
    let page = app.get("/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("lang=\"ja\""));
    assert!(html.contains("89"), "the home page counts the facilities");
}
