//! The resident web pages without a browser: they render in both languages, the language is
//! chosen by the switch, then the cookie, then Accept-Language; forms without the CSRF token are
//! refused; no asset comes from another site; personal pages are never cached; the locale files
//! hold the same keys; booking through the forms books once per confirmation form; the mailed
//! verification link confirms an address.

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate, Utc, Weekday};
use reqwest::header::{ACCEPT_LANGUAGE, CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use yoyaku::domain::calendar::tokyo_date;
use yoyaku::http::web::i18n::{EN_FILES, JA_FILES, flatten_all};
use yoyaku::services::slots;
use yoyaku_tests::{DEMO_PASSWORD, TestApp, spawn_app, spawn_app_with};

/// A cookie jar kept by hand, so each test sees exactly what it sends.
#[derive(Default, Clone)]
pub(crate) struct Jar(pub(crate) HashMap<String, String>);

impl Jar {
    pub(crate) fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) fn absorb(&mut self, response: &reqwest::Response) {
        for line in response.headers().get_all(SET_COOKIE) {
            let line = line.to_str().unwrap();
            let (name, value) = line.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || line.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }
}

pub(crate) async fn get(
    app: &TestApp,
    jar: &mut Jar,
    path: &str,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .header(COOKIE, jar.header())
        .send()
        .await
        .unwrap();
    jar.absorb(&response);
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

pub(crate) async fn post(
    app: &TestApp,
    jar: &mut Jar,
    path: &str,
    form: &[(&str, &str)],
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .header(COOKIE, jar.header())
        .form(form)
        .send()
        .await
        .unwrap();
    jar.absorb(&response);
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

/// The CSRF token in a rendered form.
pub(crate) fn form_token(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

/// The value of hidden field `name` in a rendered form.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).expect("the field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Sign in through the form as the demo resident; the jar then holds the session.
async fn sign_in(app: &TestApp) -> Jar {
    let mut jar = Jar::default();
    let (_, _, html) = get(app, &mut jar, "/login").await;
    let csrf = form_token(&html);
    let (status, _, _) = post(
        app,
        &mut jar,
        "/login",
        &[
            ("email", "resident@demo.yoyaku.jp"),
            ("password", DEMO_PASSWORD),
            ("csrf", &csrf),
            ("next", "/bookings"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert!(jar.0.contains_key("yoyaku_access"));
    jar
}

/// The Tsurumi sports center's main gym and two consecutive slots of it on an open weekday.
async fn two_slots(app: &TestApp) -> (i64, i64, NaiveDate, [i64; 2]) {
    let facility = app
        .count("SELECT id FROM facilities WHERE code = 'tsurumi-sports-center'")
        .await;
    let room = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {facility} AND code = 'main-gym'"
        ))
        .await;
    let mut day = tokyo_date(Utc::now()) + Duration::days(2);
    loop {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            slots::generate(&app.db, day, day, Some(facility as i32))
                .await
                .unwrap();
            let (_, body) = app
                .get_json(&format!("/api/v1/rooms/{room}/slots?from={day}&to={day}"))
                .await;
            let items = body["items"].as_array().unwrap();
            let free: Vec<&serde_json::Value> =
                items.iter().filter(|s| s["state"] == "available").collect();
            if let Some(pair) = free
                .windows(2)
                .find(|w| w[0]["ends_at"] == w[1]["starts_at"])
            {
                return (
                    facility,
                    room,
                    day,
                    [
                        pair[0]["id"].as_i64().unwrap(),
                        pair[1]["id"].as_i64().unwrap(),
                    ],
                );
            }
        }
        day += Duration::days(1);
    }
}

#[tokio::test]
async fn pages_render_in_japanese_and_in_english() {
    let app = spawn_app().await;
    let (facility, room, day, _) = two_slots(&app).await;
    let paths = [
        "/".to_owned(),
        format!("/?kind=gymnasium&date={day}&time=morning"),
        format!("/facilities/{facility}"),
        format!("/rooms/{room}?from={day}"),
        format!("/rooms/{room}?from={day}&view=month"),
        "/login".to_owned(),
        "/register".to_owned(),
        "/verify-email?token=x".to_owned(),
    ];
    for path in &paths {
        for (lang, accept, marker) in [
            ("ja", "ja", "本文へ移動"),
            ("en", "en-GB,en;q=0.9", "Skip to main content"),
        ] {
            let response = app
                .client
                .get(format!("{}{path}", app.address))
                .header(ACCEPT_LANGUAGE, accept)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path} in {lang}");
            assert_eq!(response.headers()["content-language"], lang);
            let html = response.text().await.unwrap();
            assert!(
                html.contains(&format!(r#"<html lang="{lang}">"#)),
                "{path} in {lang}"
            );
            assert!(html.contains(marker), "{path} in {lang}");
            assert!(
                html.contains(r#"<main id="main""#),
                "{path} has a main landmark"
            );
        }
    }
    // The search found the gym's free slots and links them to the booking page.
    let (_, _, html) = get(
        &app,
        &mut Jar::default(),
        &format!("/?kind=gymnasium&date={day}"),
    )
    .await;
    assert!(
        html.contains(&format!("/book?room={room}&amp;slot=")),
        "{html}"
    );
    // An unknown facility is a 404 page in the site's frame.
    let (status, _, html) = get(&app, &mut Jar::default(), "/facilities/999999").await;
    assert_eq!(status, 404);
    assert!(html.contains("ページが見つかりません"));
}

#[tokio::test]
async fn the_switch_beats_the_cookie_which_beats_accept_language() {
    let app = spawn_app().await;
    let lang_of = |html: &str| {
        if html.contains(r#"<html lang="en">"#) {
            "en"
        } else {
            "ja"
        }
    };
    let fetch = |path: &'static str, cookie: Option<&'static str>, accept: Option<&'static str>| {
        let mut request = app.client.get(format!("{}{path}", app.address));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        if let Some(accept) = accept {
            request = request.header(ACCEPT_LANGUAGE, accept);
        }
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(
        lang_of(&fetch("/", None, None).await),
        "ja",
        "Japanese by default"
    );
    assert_eq!(
        lang_of(&fetch("/", None, Some("en-US,en;q=0.9")).await),
        "en"
    );
    assert_eq!(
        lang_of(&fetch("/", None, Some("fr, en;q=0.5, ja;q=0.8")).await),
        "ja"
    );
    assert_eq!(
        lang_of(&fetch("/", Some("yoyaku_lang=ja"), Some("en")).await),
        "ja",
        "cookie over browser"
    );
    assert_eq!(
        lang_of(&fetch("/", Some("yoyaku_lang=en"), Some("ja")).await),
        "en"
    );
    assert_eq!(
        lang_of(&fetch("/?lang=en", Some("yoyaku_lang=ja"), Some("ja")).await),
        "en",
        "switch over cookie"
    );
    assert_eq!(
        lang_of(&fetch("/?lang=ja", Some("yoyaku_lang=en"), Some("en")).await),
        "ja"
    );

    // The switch link remembers the choice and comes back to the page.
    let mut jar = Jar::default();
    let (status, headers, _) =
        get(&app, &mut jar, "/language?lang=en&next=%2Ffacilities%2F1").await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/facilities/1");
    assert_eq!(jar.0.get("yoyaku_lang").map(String::as_str), Some("en"));
    let (_, _, html) = get(&app, &mut jar, "/").await;
    assert_eq!(lang_of(&html), "en");
    // …and never sends people to another site.
    let (_, headers, _) = get(
        &app,
        &mut jar,
        "/language?lang=ja&next=https%3A%2F%2Fevil.example%2F",
    )
    .await;
    assert_eq!(headers[LOCATION], "/");
    // The header's switch link points at the other language and back here.
    let (_, _, html) = get(&app, &mut Jar::default(), "/facilities/1").await;
    assert!(
        html.contains(r#"href="/language?lang=en&#38;next=%2Ffacilities%2F1""#),
        "{html}"
    );
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = spawn_app_with(|s| s.demo = Some(true)).await;
    let (_, room, _, [a, b]) = two_slots(&app).await;
    let mut jar = sign_in(&app).await;
    let room = room.to_string();
    let (a, b) = (a.to_string(), b.to_string());
    let before = app.count("SELECT COUNT(*) FROM bookings").await;
    for token in ["", "forged"] {
        let (status, _, html) = post(
            &app,
            &mut jar,
            "/book",
            &[
                ("room", &room),
                ("slot", &a),
                ("slot", &b),
                ("purpose", "練習"),
                ("attendees", "5"),
                ("key", "k-1"),
                ("csrf", token),
            ],
        )
        .await;
        assert_eq!(status, 403, "{html}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM bookings").await, before);
    for path in [
        "/bookings/1/cancel",
        "/bookings/1/pay",
        "/logout",
        "/verify-email",
    ] {
        let (status, _, _) = post(&app, &mut jar, path, &[("csrf", "")]).await;
        assert_eq!(status, 403, "{path}");
    }
    let users = app.count("SELECT COUNT(*) FROM users").await;
    let (status, _, _) = post(
        &app,
        &mut Jar::default(),
        "/register",
        &[
            ("email", "csrf@example.jp"),
            ("password", "a long enough passphrase"),
        ],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, users);
}

#[tokio::test]
async fn booking_through_the_forms_books_once_and_cancelling_shows_the_refund() {
    let app = spawn_app().await;
    let (_, room, _, [a, b]) = two_slots(&app).await;
    let mut jar = sign_in(&app).await;
    let (status, headers, html) = get(
        &app,
        &mut jar,
        &format!("/book?room={room}&slot={a}&slot={b}"),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(
        headers[CACHE_CONTROL], "no-store",
        "signed-in pages are never cached"
    );
    let key = hidden(&html, "key");
    let csrf = form_token(&html);
    assert!(
        !key.is_empty(),
        "the confirmation form carries an Idempotency-Key"
    );
    let room = room.to_string();
    let (a, b) = (a.to_string(), b.to_string());
    let form = [
        ("room", room.as_str()),
        ("slot", a.as_str()),
        ("slot", b.as_str()),
        ("purpose", "バドミントン練習"),
        ("attendees", "8"),
        ("key", key.as_str()),
        ("csrf", csrf.as_str()),
    ];
    let (first, h1, _) = post(&app, &mut jar, "/book", &form).await;
    let (second, h2, _) = post(&app, &mut jar, "/book", &form).await;
    assert_eq!((first.as_u16(), second.as_u16()), (303, 303));
    assert_eq!(h1[LOCATION], h2[LOCATION], "a double submit books once");
    assert_eq!(app.count("SELECT COUNT(*) FROM bookings").await, 1);
    let booking = h1[LOCATION].to_str().unwrap().to_owned();

    let (status, headers, html) = get(&app, &mut jar, &booking).await;
    assert_eq!(status, 200);
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    assert!(html.contains("支払待ち"), "{html}");
    let id = booking
        .trim_start_matches("/bookings/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, _, html) = get(&app, &mut jar, "/bookings").await;
    assert!(html.contains(&format!("/bookings/{id}")));
    let (status, _, html) = get(&app, &mut jar, &format!("/bookings/{id}/cancel")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("まだお支払いがないため"),
        "unpaid: nothing to refund: {html}"
    );
    let (status, headers, _) = post(
        &app,
        &mut jar,
        &format!("/bookings/{id}/cancel"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    let (_, _, html) = get(&app, &mut jar, headers[LOCATION].to_str().unwrap()).await;
    assert!(html.contains("取消済み"), "{html}");
    assert!(html.contains("返金額は 0円"), "{html}");

    // Another person's booking, or none, is a 404 page; signed out, the sign-in page.
    let (status, _, _) = get(&app, &mut jar, "/bookings/999999").await;
    assert_eq!(status, 404);
    let (status, headers, _) = get(&app, &mut Jar::default(), "/bookings").await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/login?next=%2Fbookings");
}

#[tokio::test]
async fn a_form_with_mistakes_comes_back_with_messages_by_the_fields_and_a_summary() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    let (_, _, html) = get(&app, &mut jar, "/register").await;
    let csrf = form_token(&html);
    let (status, headers, html) = post(
        &app,
        &mut jar,
        "/register",
        &[
            ("csrf", &csrf),
            ("email", "not-an-address"),
            ("name", "横浜 次郎"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    assert!(html.contains(r#"class="error-summary""#));
    assert!(
        html.contains(r##"<a href="#email">"##),
        "the summary links to the field"
    );
    assert!(html.contains(r#"id="email-error""#));
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(html.contains("横浜 次郎"), "what was typed is kept");
    assert!(html.contains("<title>エラー："));
}

#[tokio::test]
async fn the_verification_link_confirms_the_address_when_its_button_is_pressed() {
    let app = spawn_app_with(|s| s.demo = Some(true)).await;
    let mut jar = Jar::default();
    let (_, _, html) = get(&app, &mut jar, "/register").await;
    let csrf = form_token(&html);
    let email = "hanako.web@example.jp";
    let (status, headers, html) = post(
        &app,
        &mut jar,
        "/register",
        &[
            ("csrf", &csrf),
            ("email", email),
            ("password", "correct horse battery staple 2026"),
            ("name", "港南 花子"),
            ("name_kana", "こうなん はなこ"),
            ("date_of_birth", "1990-04-01"),
            ("postal_code", "233-0003"),
            ("address", "横浜市港南区港南4-2-10"),
            ("phone", "045-847-8484"),
            ("residency", "resident"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    assert_eq!(headers[LOCATION], "/register/sent");
    let (_, outbox) = app.get_json("/api/v1/dev/outbox").await;
    let body = outbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["to"] == email)
        .expect("a mail")["body"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = body.find("/verify-email?token=").expect("the link");
    let link = body[start..].split_whitespace().next().unwrap().to_owned();
    // Opening the link changes nothing by itself (mail scanners open links).
    let (status, _, html) = get(&app, &mut jar, &link).await;
    assert_eq!(status, 200);
    let pending = format!(
        "SELECT COUNT(*) FROM users WHERE email = '{email}' AND registration_state = 'pending_review'"
    );
    assert_eq!(app.count(&pending).await, 0);
    let token = hidden(&html, "token");
    let csrf = form_token(&html);
    let (status, _, html) = post(
        &app,
        &mut jar,
        "/verify-email",
        &[("csrf", &csrf), ("token", &token)],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("確認待ち"), "{html}");
    assert_eq!(app.count(&pending).await, 1);
    let (status, _, _) = post(
        &app,
        &mut jar,
        "/verify-email",
        &[("csrf", &csrf), ("token", "forged")],
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn no_asset_comes_from_another_site_and_assets_are_cached_for_a_year() {
    let app = spawn_app().await;
    let (_, _, html) = get(&app, &mut Jar::default(), "/facilities/1").await;
    let mut assets = BTreeSet::new();
    for marker in [
        r#"src=""#,
        r#"<link rel="stylesheet" href=""#,
        r#"<link rel="icon" href=""#,
    ] {
        for (index, _) in html.match_indices(marker) {
            let url = html[index + marker.len()..].split('"').next().unwrap();
            assert!(
                url.starts_with('/') && !url.starts_with("//") || url.starts_with("data:"),
                "{url} is not on this site"
            );
            if url.starts_with("/static/") {
                assets.insert(url.to_owned());
            }
        }
    }
    assert!(!html.contains("cdn"), "nothing from a CDN");
    assert_eq!(
        assets.len(),
        3,
        "htmx, the script and the stylesheet: {assets:?}"
    );
    assert!(assets.iter().any(|a| a.ends_with("/htmx-2.0.11.min.js")));
    for url in &assets {
        let response = app.get(url).await;
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(
            response.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
    }
    // An old or made-up hash is not served under a year-long cache.
    assert_eq!(
        app.get("/static/0000000000000000/app.css").await.status(),
        404
    );
    // The page forbids scripts and styles from elsewhere.
    let response = app.get("/").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
}

#[test]
fn every_locale_has_every_key() {
    let ja: BTreeSet<String> = flatten_all(JA_FILES).into_keys().collect();
    let en: BTreeSet<String> = flatten_all(EN_FILES).into_keys().collect();
    assert!(ja.len() > 100);
    assert_eq!(
        ja.symmetric_difference(&en).collect::<Vec<_>>(),
        Vec::<&String>::new()
    );
}
