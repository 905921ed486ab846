//! The card and scanner web pages: the card page (QR, number, refresh time, manifest), the
//! printable card, the manifest and the service worker, and the staff scanner's form without
//! JavaScript (results, refusals next to the field, who may use it).

use std::collections::HashMap;

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use yoyaku_tests::{DEMO_PASSWORD, TestApp, spawn_app};

/// The cookies a browser would keep.
#[derive(Default)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, response: &reqwest::Response) {
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

async fn get(
    app: &TestApp,
    jar: &mut Jar,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .header(COOKIE, jar.header())
        .send()
        .await
        .unwrap();
    jar.absorb(&response);
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

async fn post(app: &TestApp, jar: &mut Jar, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .header(COOKIE, jar.header())
        .form(form)
        .send()
        .await
        .unwrap();
    jar.absorb(&response);
    (response.status().as_u16(), response.text().await.unwrap())
}

fn form_token(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

async fn sign_in(app: &TestApp, email: &str) -> Jar {
    let mut jar = Jar::default();
    jar.0.insert("yoyaku_lang".into(), "en".into());
    let (_, _, html) = get(app, &mut jar, "/login").await;
    let csrf = form_token(&html);
    let (status, _) = post(
        app,
        &mut jar,
        "/login",
        &[
            ("email", email),
            ("password", DEMO_PASSWORD),
            ("csrf", &csrf),
            ("next", "/"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    jar
}

#[tokio::test]
async fn the_card_page_shows_the_qr_the_number_in_plain_text_and_when_it_was_refreshed() {
    let app = spawn_app().await;
    let mut anonymous = Jar::default();
    let (status, headers, _) = get(&app, &mut anonymous, "/card").await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/login?next=%2Fcard");

    let mut jar = sign_in(&app, "resident@demo.yoyaku.jp").await;
    let (status, headers, html) = get(&app, &mut jar, "/card").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    assert!(html.contains("9000-0000-68"), "the number, grouped");
    assert!(html.contains("<svg role=\"img\""), "the QR inline");
    assert!(html.contains("Last refreshed"));
    assert!(html.contains(r#"<link rel="manifest" href="/manifest.webmanifest">"#));
    assert!(html.contains("card.js"));
    assert!(html.contains(r#"href="/card/print""#));

    let (status, _, print) = get(&app, &mut jar, "/card/print").await;
    assert_eq!(status, 200);
    assert!(print.contains("class=\"user-card printable\""));
    assert!(print.contains("After that, reception can still check you in with the card number"));

    // Staff have no card.
    let mut staff = sign_in(&app, "staff@demo.yoyaku.jp").await;
    let (status, _, _) = get(&app, &mut staff, "/card").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_manifest_and_the_service_worker_make_the_card_installable() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    let (status, headers, body) = get(&app, &mut jar, "/manifest.webmanifest").await;
    assert_eq!(status, 200);
    assert_eq!(headers[CONTENT_TYPE], "application/manifest+json");
    let manifest: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(manifest["start_url"], "/card");
    assert_eq!(manifest["scope"], "/card");
    assert_eq!(manifest["display"], "standalone");
    let icons = manifest["icons"].as_array().unwrap();
    assert_eq!(icons.len(), 2);
    for icon in icons {
        let src = icon["src"].as_str().unwrap();
        assert!(src.starts_with("/static/"), "{src}");
        let response = app
            .client
            .get(format!("{}{src}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CONTENT_TYPE], "image/png");
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
    }

    let (status, headers, script) = get(&app, &mut jar, "/card-sw.js").await;
    assert_eq!(status, 200);
    assert_eq!(headers[CACHE_CONTROL], "no-cache");
    assert!(
        headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    // It keeps the card page and the static files, and nothing else.
    assert!(script.contains(r#"const CARD = "/card";"#));
    assert!(script.contains(r#"url.pathname.startsWith("/static/")"#));
}

#[tokio::test]
async fn the_scanner_form_checks_in_without_javascript_and_shows_refusals_by_the_field() {
    let app = spawn_app().await;
    let mut anonymous = Jar::default();
    let (status, _, _) = get(&app, &mut anonymous, "/staff/scan").await;
    assert_eq!(status, 303);

    let mut resident = sign_in(&app, "resident@demo.yoyaku.jp").await;
    let (status, _, _) = get(&app, &mut resident, "/staff/scan").await;
    assert_eq!(status, 403);

    let mut jar = sign_in(&app, "staff@demo.yoyaku.jp").await;
    let (status, _, html) = get(&app, &mut jar, "/staff/scan").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"<label for="code">"#));
    assert!(html.contains("autofocus"));
    let csrf = form_token(&html);
    let tsurumi = app
        .count("SELECT id FROM facilities WHERE code = 'tsurumi-sports-center'")
        .await
        .to_string();

    // The demo resident's card number: the holder and the result (no booking today).
    let (status, html) = post(
        &app,
        &mut jar,
        "/staff/scan",
        &[
            ("csrf", &csrf),
            ("facility_id", &tsurumi),
            ("code", "9000-0000-68"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("横浜 花子"));
    assert!(html.contains("No booking at this facility today"));

    // A mistyped number: the message next to the field and in the summary.
    let (status, html) = post(
        &app,
        &mut jar,
        "/staff/scan",
        &[
            ("csrf", &csrf),
            ("facility_id", &tsurumi),
            ("code", "9000000069"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="error-summary""#));
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(html.contains("Check what was entered: a card number is ten digits."));
    // A tampered token, and an empty scan.
    let (status, html) = post(
        &app,
        &mut jar,
        "/staff/scan",
        &[
            ("csrf", &csrf),
            ("facility_id", &tsurumi),
            ("code", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("This is not a user card QR code, or it has been altered."),
        "{html}"
    );
    let (status, html) = post(
        &app,
        &mut jar,
        "/staff/scan",
        &[("csrf", &csrf), ("facility_id", &tsurumi), ("code", " ")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Scan a QR code or type a card number."));

    // A facility the staff member is not assigned to, and a form without its token.
    let other = app
        .count(
            "SELECT MIN(id) FROM facilities WHERE code NOT IN \
             ('tsurumi-sports-center', 'kohoku-sports-center')",
        )
        .await
        .to_string();
    let (status, _) = post(
        &app,
        &mut jar,
        "/staff/scan",
        &[
            ("csrf", &csrf),
            ("facility_id", &other),
            ("code", "9000000068"),
        ],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = get(&app, &mut jar, &format!("/staff/scan?facility={other}")).await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &app,
        &mut jar,
        "/staff/scan",
        &[("facility_id", &tsurumi), ("code", "9000000068")],
    )
    .await;
    assert_eq!(status, 403);
}
