//! Bad input gets a 4xx in the envelope naming the field; unknown things are 404; nothing panics.

use yoyaku_tests::{blamed_fields, error_of, spawn_app};

#[tokio::test]
async fn an_unknown_query_parameter_is_named() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/facilities?colour=red").await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body)["code"], "unknown_parameter");
    assert_eq!(blamed_fields(&body), vec!["colour"]);
}

#[tokio::test]
async fn an_unknown_kind_is_refused_naming_kind() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/facilities?kind=bowling").await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body)["code"], "invalid_input");
    assert_eq!(blamed_fields(&body), vec!["kind"]);
}

#[tokio::test]
async fn an_unknown_ward_is_refused_naming_ward() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/facilities?ward=atlantis").await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), vec!["ward"]);
}

#[tokio::test]
async fn malformed_paging_is_refused_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, field) in [
        ("page=abc", "page"),
        ("page=0", "page"),
        ("per_page=0", "per_page"),
        ("per_page=5000", "per_page"),
        ("page=-1", "page"),
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/facilities?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(blamed_fields(&body), vec![field], "{query}");
    }
}

#[tokio::test]
async fn an_overlong_search_is_refused_naming_q() {
    let app = spawn_app().await;
    let long = "a".repeat(101);
    let (status, body) = app.get_json(&format!("/api/v1/facilities?q={long}")).await;
    assert_eq!(status, 400);
    assert_eq!(blamed_fields(&body), vec!["q"]);
}

#[tokio::test]
async fn empty_filter_values_are_ignored_like_an_empty_form_field() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/facilities?ward=&kind=&q=").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 89);
}

#[tokio::test]
async fn malformed_ids_are_400_naming_id_and_unknown_ids_are_404() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/facilities/abc",
        "/api/v1/facilities/1.5/rooms",
        "/api/v1/rooms/99999999999",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(blamed_fields(&body), vec!["id"], "{path}");
    }
    for path in [
        "/api/v1/facilities/999999",
        "/api/v1/facilities/999999/rooms",
        "/api/v1/rooms/999999",
        "/api/v1/rooms/-4",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(error_of(&body)["code"], "not_found");
    }
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_in_the_envelope() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/spaceships").await;
    assert_eq!(status, 404);
    assert_eq!(error_of(&body)["code"], "not_found");

    let response = app
        .client
        .delete(format!("{}/api/v1/facilities", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_of(&body)["code"], "method_not_allowed");
}
