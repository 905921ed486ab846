//! Browser sessions: signing in with the form, the cookies' attributes, CSRF on every write made
//! with cookies, renewal from the refresh cookie (also when a page fires requests in parallel),
//! and signing out.

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use yoyaku_tests::{TestApp, error_of, spawn_app, spawn_app_with};

/// A browser's cookie jar, kept by hand so the tests can see and tamper with every cookie.
#[derive(Clone, Default)]
struct Browser {
    cookies: HashMap<String, String>,
}

impl Browser {
    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Apply a response's Set-Cookie headers; returns them raw, for checking attributes.
    fn absorb(&mut self, response: &reqwest::Response) -> Vec<String> {
        let raw: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for line in &raw {
            self.absorb_line(line);
        }
        raw
    }

    /// Apply one Set-Cookie line.
    fn absorb_line(&mut self, line: &str) {
        let pair = line.split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        if value.is_empty() || line.contains("Max-Age=0") {
            self.cookies.remove(name);
        } else {
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token in a rendered form.
fn form_token(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

/// Open the sign-in page; returns its CSRF token.
async fn open_sign_in(app: &TestApp, browser: &mut Browser) -> String {
    let response = client()
        .get(format!("{}/login", app.address))
        .header(COOKIE, browser.header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    browser.absorb(&response);
    form_token(&response.text().await.unwrap())
}

async fn submit_sign_in(
    app: &TestApp,
    browser: &mut Browser,
    csrf: &str,
    email: &str,
    password: &str,
) -> (reqwest::StatusCode, Vec<String>, Option<String>, String) {
    let response = client()
        .post(format!("{}/login", app.address))
        .header(COOKIE, browser.header())
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", csrf),
            ("next", "/bookings"),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let set = browser.absorb(&response);
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    (status, set, location, response.text().await.unwrap())
}

/// A browser signed in as the demo resident.
async fn signed_in(app: &TestApp) -> Browser {
    let mut browser = Browser::default();
    let csrf = open_sign_in(app, &mut browser).await;
    let (status, ..) = submit_sign_in(
        app,
        &mut browser,
        &csrf,
        "resident@demo.yoyaku.jp",
        "yoyaku-demo",
    )
    .await;
    assert_eq!(status, 303);
    browser
}

async fn me(app: &TestApp, browser: &mut Browser) -> (reqwest::StatusCode, Vec<String>) {
    let response = client()
        .get(format!("{}/api/v1/me", app.address))
        .header(COOKIE, browser.header())
        .send()
        .await
        .unwrap();
    let set = browser.absorb(&response);
    (response.status(), set)
}

#[tokio::test]
async fn a_browser_signs_in_with_the_form_and_its_cookies_are_locked_down() {
    let app = spawn_app().await;
    let mut browser = Browser::default();
    let csrf = open_sign_in(&app, &mut browser).await;
    let first_seed = browser.cookies["yoyaku_csrf"].clone();

    let (status, set, location, _) = submit_sign_in(
        &app,
        &mut browser,
        &csrf,
        "resident@demo.yoyaku.jp",
        "yoyaku-demo",
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/bookings"));
    for name in ["yoyaku_access", "yoyaku_refresh", "yoyaku_csrf"] {
        let line = set
            .iter()
            .find(|l| l.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} is set: {set:?}"));
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(line.contains(attribute), "{line} lacks {attribute}");
        }
        // Served over http here, so not Secure (browsers would drop it).
        assert!(!line.contains("Secure"), "{line}");
    }
    assert!(set.iter().any(|l| l.contains("Max-Age=900")));
    // Signing in replaces the CSRF seed.
    assert_ne!(browser.cookies["yoyaku_csrf"], first_seed);

    let response = client()
        .get(format!("{}/api/v1/me", app.address))
        .header(COOKIE, browser.header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], "resident@demo.yoyaku.jp");
}

#[tokio::test]
async fn a_write_with_cookies_needs_the_csrf_token_of_this_browser() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app).await;
    let quote = async |browser: &Browser, token: Option<&str>| {
        let mut request = client()
            .post(format!("{}/api/v1/bookings/quote", app.address))
            .header(COOKIE, browser.header())
            .json(&json!({"room_id": 999999, "slot_ids": [1], "purpose": "x", "attendees": 1}));
        if let Some(token) = token {
            request = request.header("X-CSRF-Token", token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json::<Value>().await.unwrap())
    };
    // No token, a made-up token, and the token from before sign-in: all refused.
    let (status, body) = quote(&browser, None).await;
    assert_eq!(status, 403);
    assert_eq!(error_of(&body)["code"], "csrf_failed");
    let (status, _) = quote(&browser, Some("bm90IGEgdG9rZW4")).await;
    assert_eq!(status, 403);
    // The page's token for this browser's current seed passes: the request reaches the
    // booking rules (an unknown room).
    let token = open_sign_in(&app, &mut browser).await;
    let (status, body) = quote(&browser, Some(&token)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["code"], "unknown_room");
    // Another browser's token does not fit this browser's seed.
    let mut other = Browser::default();
    let other_token = open_sign_in(&app, &mut other).await;
    let (status, _) = quote(&browser, Some(&other_token)).await;
    assert_eq!(status, 403);
    // A bearer token is not an ambient credential: no CSRF token needed.
    let bearer = app.login("resident@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = app
        .post_as(
            &bearer,
            "/api/v1/bookings/quote",
            None,
            &json!({"room_id": 999999, "slot_ids": [1], "purpose": "x", "attendees": 1}),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn an_expired_access_cookie_is_renewed_even_for_parallel_requests() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app).await;
    browser.cookies.remove("yoyaku_access");
    let old_refresh = browser.cookies["yoyaku_refresh"].clone();

    // A page and its fragments, all at once, with only the refresh cookie.
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (mut copy, address) = (browser.clone(), app.address.clone());
        tasks.push(tokio::spawn(async move {
            let response = client()
                .get(format!("{address}/api/v1/me"))
                .header(COOKIE, copy.header())
                .send()
                .await
                .unwrap();
            let set = copy.absorb(&response);
            (response.status(), set)
        }));
    }
    let mut new_refresh = Vec::new();
    for task in tasks {
        let (status, set) = task.await.unwrap();
        assert_eq!(status, 200, "{set:?}");
        assert!(set.iter().any(|l| l.starts_with("yoyaku_access=")));
        new_refresh.extend(
            set.iter()
                .filter(|l| l.starts_with("yoyaku_refresh="))
                .cloned(),
        );
    }
    // Exactly one rotated the refresh token; the others rode on it, and the session lives.
    assert_eq!(new_refresh.len(), 1, "{new_refresh:?}");
    let mut rotated = browser.clone();
    rotated.absorb_line(&new_refresh[0]);
    rotated.cookies.remove("yoyaku_access");
    let (status, _) = me(&app, &mut rotated).await;
    assert_eq!(status, 200);

    // The replaced token presented again after the grace period is reuse: the session ends and
    // the cookies are cleared.
    {
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        use yoyaku::entities::refresh_token;
        refresh_token::Entity::update_many()
            .col_expr(
                refresh_token::Column::RotatedAt,
                Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
            )
            .filter(refresh_token::Column::RotatedAt.is_not_null())
            .exec(&app.db)
            .await
            .unwrap();
    }
    let mut thief = Browser::default();
    thief
        .cookies
        .insert("yoyaku_refresh".into(), old_refresh.clone());
    let (status, set) = me(&app, &mut thief).await;
    assert_eq!(status, 401);
    assert!(
        set.iter()
            .any(|l| l.starts_with("yoyaku_refresh=") && l.contains("Max-Age=0")),
        "{set:?}"
    );
    rotated.cookies.remove("yoyaku_access");
    let (status, _) = me(&app, &mut rotated).await;
    assert_eq!(status, 401, "the whole session ended");
}

#[tokio::test]
async fn signing_out_needs_the_token_and_ends_the_session() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app).await;
    let sign_out = async |browser: &mut Browser, csrf: &str| {
        let response = client()
            .post(format!("{}/logout", app.address))
            .header(COOKIE, browser.header())
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        let set = browser.absorb(&response);
        (response.status(), set)
    };
    let kept = browser.clone();
    let (status, _) = sign_out(&mut browser, "forged").await;
    assert_eq!(status, 403);
    let token = open_sign_in(&app, &mut browser).await;
    let (status, set) = sign_out(&mut browser, &token).await;
    assert_eq!(status, 303);
    assert!(
        set.iter()
            .any(|l| l.starts_with("yoyaku_access=") && l.contains("Max-Age=0"))
    );
    assert!(!browser.cookies.contains_key("yoyaku_refresh"));
    // The cookies a copy of the browser kept no longer work either.
    let mut copy = kept;
    copy.cookies.remove("yoyaku_access");
    let (status, _) = me(&app, &mut copy).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_failed_sign_in_says_the_same_for_unknown_and_known_addresses_and_sets_no_session() {
    let app = spawn_app().await;
    let mut answers = Vec::new();
    for email in ["resident@demo.yoyaku.jp", "nobody@demo.yoyaku.jp"] {
        let mut browser = Browser::default();
        let csrf = open_sign_in(&app, &mut browser).await;
        let (status, set, _, html) =
            submit_sign_in(&app, &mut browser, &csrf, email, "wrong password").await;
        assert!(!set.iter().any(|l| l.starts_with("yoyaku_access=")));
        assert!(html.contains(r#"role="alert""#));
        // The page keeps what was typed, except the password.
        assert!(html.contains(email));
        // Equal but for what differs per browser and what was typed.
        let token = form_token(&html);
        answers.push((
            status,
            html.replace(email, "EMAIL").replace(&token, "TOKEN"),
        ));
    }
    assert_eq!(answers[0].0, 401);
    assert_eq!(answers[0], answers[1]);
    // A form without a valid token is refused before the password is even looked at.
    let mut browser = Browser::default();
    open_sign_in(&app, &mut browser).await;
    let (status, set, ..) = submit_sign_in(
        &app,
        &mut browser,
        "forged",
        "resident@demo.yoyaku.jp",
        "yoyaku-demo",
    )
    .await;
    assert_eq!(status, 403);
    assert!(!set.iter().any(|l| l.starts_with("yoyaku_access=")));
}

#[tokio::test]
async fn behind_https_the_cookies_are_secure() {
    let app = spawn_app_with(|s| s.public_url = Some("https://yoyaku.city.example".into())).await;
    let response = client()
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    let line = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(line.starts_with("yoyaku_csrf="));
    assert!(line.contains("Secure"), "{line}");
}
