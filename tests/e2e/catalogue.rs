//! The read API of wards, facilities and rooms.

use serde_json::Value;
use yoyaku_tests::spawn_app;

fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn all_facilities_are_listed_with_their_total() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/facilities").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 89);
    assert_eq!(body["items"].as_array().unwrap().len(), 89);
    let first = &body["items"][0];
    for field in [
        "id",
        "name",
        "name_kana",
        "name_en",
        "ward",
        "kind",
        "address",
        "latitude",
        "longitude",
    ] {
        assert!(!first[field].is_null(), "{field} missing");
    }
}

#[tokio::test]
async fn the_ward_filter_accepts_code_english_and_japanese_names() {
    let app = spawn_app().await;
    let (_, by_code) = app.get_json("/api/v1/facilities?ward=141011").await;
    let (_, by_english) = app.get_json("/api/v1/facilities?ward=tsurumi").await;
    let (_, by_japanese) = app
        .get_json("/api/v1/facilities?ward=%E9%B6%B4%E8%A6%8B%E5%8C%BA")
        .await; // 鶴見区
    assert!(by_code["total"].as_u64().unwrap() >= 3);
    assert_eq!(names(&by_code), names(&by_english));
    assert_eq!(names(&by_code), names(&by_japanese));
    assert!(
        by_code["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["ward"]["code"] == "141011")
    );
}

#[tokio::test]
async fn the_kind_filter_keeps_only_that_kind() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/facilities?kind=tennis_courts").await;
    assert_eq!(status, 200);
    assert!(body["total"].as_u64().unwrap() >= 5);
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["kind"] == "tennis_courts")
    );
}

#[tokio::test]
async fn free_text_in_hiragana_finds_katakana_names() {
    let app = spawn_app().await;
    // すぽーつせんたー (hiragana) matches スポーツセンター (katakana) names.
    let (_, body) = app
        .get_json("/api/v1/facilities?q=%E3%81%99%E3%81%BD%E3%83%BC%E3%81%A4%E3%81%9B%E3%82%93%E3%81%9F%E3%83%BC")
        .await;
    let found = names(&body);
    assert_eq!(found.len(), 18, "{found:?}");
    assert!(found.iter().all(|n| n.contains("スポーツセンター")));
}

#[tokio::test]
async fn free_text_in_kanji_english_and_half_width_katakana_all_match() {
    let app = spawn_app().await;
    let (_, kanji) = app
        .get_json("/api/v1/facilities?q=%E9%B6%B4%E8%A6%8B")
        .await; // 鶴見
    let (_, english) = app.get_json("/api/v1/facilities?q=TSURUMI%20sports").await;
    let (_, half_width) = app
        .get_json("/api/v1/facilities?q=%EF%BD%BD%EF%BE%8E%EF%BE%9F%EF%BD%B0%EF%BE%82")
        .await; // ｽﾎﾟｰﾂ
    assert!(names(&kanji).iter().any(|n| n == "鶴見スポーツセンター"));
    assert_eq!(names(&english), vec!["鶴見スポーツセンター".to_owned()]);
    assert!(names(&half_width).contains(&"鶴見スポーツセンター".to_owned()));
}

#[tokio::test]
async fn filters_combine_and_an_unmatched_search_is_empty_not_an_error() {
    let app = spawn_app().await;
    let (_, both) = app
        .get_json("/api/v1/facilities?ward=kohoku&kind=sports_center")
        .await;
    assert_eq!(both["total"], 1);
    let (status, none) = app
        .get_json("/api/v1/facilities?q=%E5%AE%87%E5%AE%99%E6%B8%AF")
        .await; // 宇宙港
    assert_eq!(status, 200);
    assert_eq!(none["total"], 0);
    assert_eq!(none["items"], serde_json::json!([]));
}

#[tokio::test]
async fn like_wildcards_in_the_search_are_literal() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/facilities?q=%25").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 0, "`%` must not match everything");
}

#[tokio::test]
async fn pages_split_the_list_without_overlap() {
    let app = spawn_app().await;
    let (_, first) = app.get_json("/api/v1/facilities?per_page=50&page=1").await;
    let (_, second) = app.get_json("/api/v1/facilities?per_page=50&page=2").await;
    assert_eq!(first["total"], 89);
    assert_eq!(first["items"].as_array().unwrap().len(), 50);
    assert_eq!(second["items"].as_array().unwrap().len(), 39);
    let ids = |b: &Value| {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert!(ids(&first).iter().all(|id| !ids(&second).contains(id)));
}

#[tokio::test]
async fn a_facility_shows_hours_closing_days_and_barrier_free_notes() {
    let app = spawn_app().await;
    let (_, list) = app
        .get_json("/api/v1/facilities?q=tsurumi%20sports%20center")
        .await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    let (status, f) = app.get_json(&format!("/api/v1/facilities/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(f["name"], "鶴見スポーツセンター");
    assert_eq!(f["opening_hours"]["opens"], "09:00");
    assert_eq!(f["closing_days"][0]["label"], "第3月曜日");
    assert_eq!(f["closing_days"][0]["label_en"], "3rd Monday of the month");
    assert!(f["year_end_closure"].as_bool().unwrap());
    assert_eq!(
        f["barrier_free"].as_array().unwrap().len(),
        f["barrier_free_en"].as_array().unwrap().len()
    );
    assert!(f["room_count"].as_u64().unwrap() >= 5);
}

#[tokio::test]
async fn a_divisible_gym_lists_its_halves_after_it() {
    let app = spawn_app().await;
    let (_, list) = app
        .get_json("/api/v1/facilities?q=tsurumi%20sports%20center")
        .await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    let (status, rooms) = app
        .get_json(&format!("/api/v1/facilities/{id}/rooms"))
        .await;
    assert_eq!(status, 200);
    let items = rooms["items"].as_array().unwrap();
    assert_eq!(rooms["total"].as_u64().unwrap() as usize, items.len());
    let whole_index = items
        .iter()
        .position(|r| r["half_room_ids"].as_array().unwrap().len() == 2)
        .expect("a divisible room");
    let whole = &items[whole_index];
    let halves = whole["half_room_ids"].as_array().unwrap();
    assert_eq!(items[whole_index + 1]["id"], halves[0]);
    assert_eq!(items[whole_index + 2]["id"], halves[1]);
    assert_eq!(items[whole_index + 1]["parent_room_id"], whole["id"]);
    // Halves use the whole's slot template, so their slots line up with the whole's.
    assert_eq!(
        items[whole_index + 1]["slot_template"]["code"],
        whole["slot_template"]["code"]
    );
}

#[tokio::test]
async fn a_room_shows_its_prices_by_band_and_its_equipment() {
    let app = spawn_app().await;
    let (_, list) = app
        .get_json("/api/v1/facilities?q=tsurumi%20sports%20center")
        .await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    let (_, rooms) = app
        .get_json(&format!("/api/v1/facilities/{id}/rooms"))
        .await;
    let gym_id = rooms["items"][0]["id"].as_i64().unwrap();
    let (status, room) = app.get_json(&format!("/api/v1/rooms/{gym_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(room["name"], "大体育室");
    let bands: Vec<_> = room["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["band"].as_str().unwrap())
        .collect();
    assert_eq!(bands, vec!["day", "night"]);
    assert_eq!(room["prices"][0]["amount_yen"], 4200);
    assert!(
        room["equipment"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "scoreboard" && e["fee_yen"] == 200)
    );
}

#[tokio::test]
async fn the_eighteen_wards_are_listed_in_code_order() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/wards").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 18);
    let codes: Vec<_> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted);
    assert_eq!(body["items"][0]["name"], "鶴見区");
}
