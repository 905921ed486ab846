//! The user card and check-in: the token verifies with the published JWKS and the QR decodes to
//! it; key rotation keeps old cards verifiable; refused cards; checking in twice; facility
//! scope; offline sync without duplicates; the no-show job, penalty points and suspension.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use yoyaku::domain::calendar::{tokyo, tokyo_date, tokyo_instant};
use yoyaku::domain::card_token::{RevocationReason, pkcs8_der};
use yoyaku::domain::penalties::PenaltyRules;
use yoyaku::entities::{booking, card, card_signing_key};
use yoyaku::services::{card_keys, cards, penalties};
use yoyaku::startup::Application;
use yoyaku_tests::{
    TestApp, card_key_pem, error_of, random_card_seed, spawn_app, spawn_app_with, test_settings,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async fn facility_id(app: &TestApp, code: &str) -> i32 {
    app.count(&format!("SELECT id FROM facilities WHERE code = '{code}'"))
        .await as i32
}

/// A resident with an approved registration valid for a year and a card number.
async fn resident_with_card(app: &TestApp) -> (i32, String, String) {
    let (id, token) = app.new_resident("resident").await;
    let number = yoyaku::domain::card::card_number(700_000_000 + id as u64);
    let until = tokyo_date(Utc::now()) + Duration::days(365);
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET card_number = '{number}', registration_valid_until = '{until}' WHERE id = {id}"
        ))
        .await
        .unwrap();
    (id, token, number)
}

async fn get_card(app: &TestApp, token: &str) -> Value {
    let (status, body) = app.get_as(token, "/api/v1/me/card").await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn check_in(app: &TestApp, staff: &str, body: Value) -> (u16, Value) {
    let (status, _, answer) = app.post_as(staff, "/api/v1/checkins", None, &body).await;
    (status.as_u16(), answer)
}

async fn staff_token(app: &TestApp, email: &str) -> String {
    app.login(email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The published key set, parsed by jsonwebtoken's own JWK types.
async fn jwks(app: &TestApp) -> JwkSet {
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache.contains("max-age"), "{cache}");
    response.json::<JwkSet>().await.unwrap()
}

/// Verify a card token the way any verifier would: the key named by `kid` in the JWKS, EdDSA.
fn verify_with(set: &JwkSet, token: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set.find(&kid).ok_or("kid not published")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

/// Draw the served SVG (`M{x} {y}h{w}v{h}H{x}V{y}` rectangles on white) into pixels and read it
/// back with rqrr, an independent decoder. Returns the text, the version and the ECC bits.
fn decode_qr(svg: &str) -> (String, usize, u16) {
    let view = svg.split("viewBox=\"0 0 ").nth(1).unwrap();
    let size: usize = view.split(' ').next().unwrap().parse().unwrap();
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut pixels = vec![255u8; size * size];
    for rect in path.split('M').filter(|r| !r.is_empty()) {
        let n: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().unwrap())
            .collect();
        for y in n[1]..n[1] + n[3] {
            for x in n[0]..n[0] + n[2] {
                pixels[y * size + x] = 0;
            }
        }
    }
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| pixels[y * size + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the SVG");
    let (meta, text) = grids[0].decode().unwrap();
    (text, meta.version.0, meta.ecc_level)
}

/// An open weekday from two days ahead at the facility, with its slots generated.
async fn bookable_day(app: &TestApp, facility: i32) -> NaiveDate {
    app.bookable_day(facility, 2).await
}

/// Book `count` single-slot bookings of the Tsurumi main gym for the bearer of `token`, paid,
/// and move each to start at `starts` (one after another, two hours apart), on `starts`' date.
/// 10:00 yesterday (Tokyo) plus `minutes`: a past time whose booking and scans fall on one day
/// whatever the time of day the tests run at ("30 minutes ago" crosses midnight just after it).
/// Offline scans up to 72 hours old are taken at sync.
fn yesterday_at_ten(minutes: i64) -> DateTime<Utc> {
    let yesterday = tokyo_date(Utc::now()) - Duration::days(1);
    tokyo_instant(yesterday, 10 * 60) + Duration::minutes(minutes)
}

async fn paid_bookings_at(
    app: &TestApp,
    token: &str,
    count: usize,
    starts: DateTime<Utc>,
) -> Vec<i64> {
    let facility = facility_id(app, "tsurumi-sports-center").await;
    let gym = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {facility} AND code = 'main-gym'"
        ))
        .await;
    let day = bookable_day(app, facility).await;
    let (_, body) = app
        .get_json(&format!("/api/v1/rooms/{gym}/slots?from={day}&to={day}"))
        .await;
    let slot_ids: Vec<i64> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    let mut ids = Vec::new();
    for (i, slot) in slot_ids.iter().take(count).enumerate() {
        let (status, booking) = app.book(token, gym, &[*slot]).await;
        assert_eq!(status, 201, "{booking}");
        let id = booking["id"].as_i64().unwrap();
        // Move time: the booking is paid and takes place at `starts` (+2 h per booking).
        let start = starts + Duration::hours(2 * i as i64);
        booking::Entity::update_many()
            .col_expr(booking::Column::State, Expr::value("confirmed"))
            .col_expr(booking::Column::StartsAt, Expr::value(start))
            .col_expr(
                booking::Column::EndsAt,
                Expr::value(start + Duration::hours(2)),
            )
            .col_expr(booking::Column::ServiceDate, Expr::value(tokyo_date(start)))
            .filter(booking::Column::Id.eq(id))
            .exec(&app.db)
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

async fn booking_state(app: &TestApp, id: i64) -> String {
    booking::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .state
}

/// Another application on the same database with other settings (a restart with new keys).
async fn restart_with(
    app: &TestApp,
    configure: impl FnOnce(&mut yoyaku::config::Settings),
) -> (String, yoyaku::auth::SessionKeys) {
    let mut settings = test_settings(&app.database);
    configure(&mut settings);
    let second = Application::build(settings).await.expect("build");
    let address = format!("http://127.0.0.1:{}", second.port());
    let keys = second.state().keys.clone();
    tokio::spawn(second.run_until(std::future::pending()));
    (address, keys)
}

// ---------------------------------------------------------------------------------------------
// The card, its token and its QR
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_card_token_verifies_with_the_published_keys_and_the_qr_decodes_to_it() {
    let app = spawn_app().await;
    let resident = staff_token(&app, "resident@demo.yoyaku.jp").await;
    let response = app
        .client
        .get(format!("{}/api/v1/me/card", app.address))
        .bearer_auth(&resident)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["card_number"], "9000000068");
    let token = body["token"].as_str().unwrap();
    assert!(
        token.len() <= 213,
        "fits a version 10 QR at level M: {}",
        token.len()
    );

    // The QR, read by an independent decoder, is exactly the token.
    let svg = body["qr_svg"].as_str().unwrap();
    assert!(
        svg.starts_with("<svg "),
        "inline SVG without an XML declaration"
    );
    let (text, version, ecc) = decode_qr(svg);
    assert_eq!(text, token);
    assert!(version <= 10, "version {version}");
    assert_eq!(ecc, 0, "error correction level M");

    // The token verifies against the published JWKS, and says nothing about the person.
    let set = jwks(&app).await;
    let jwk = serde_json::to_value(&set.keys[0]).unwrap();
    assert_eq!(
        (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
        (
            &json!("OKP"),
            &json!("Ed25519"),
            &json!("EdDSA"),
            &json!("sig")
        )
    );
    let claims = verify_with(&set, token).unwrap();
    let mut keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["cid", "exp", "iat", "v"]);
    assert_eq!(claims["cid"], body["card_id"]);
    assert_eq!(claims["v"], 1);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 7 * 24 * 3600);
    let valid_until = DateTime::parse_from_rfc3339(body["valid_until"].as_str().unwrap()).unwrap();
    assert_eq!(valid_until.timestamp(), claims["exp"].as_i64().unwrap());
    assert_eq!(
        jsonwebtoken::decode_header(token).unwrap().kid,
        body["kid"].as_str().map(str::to_owned)
    );

    // Refreshing gives a new token for the same card.
    let again = get_card(&app, &resident).await;
    assert_eq!(again["card_id"], body["card_id"]);
    assert_eq!(again["serial"], 1);

    // Staff accounts have no card number, so no card.
    let staff = staff_token(&app, "staff@demo.yoyaku.jp").await;
    let (status, refused) = app.get_as(&staff, "/api/v1/me/card").await;
    assert_eq!(status, 403);
    assert_eq!(error_of(&refused)["code"], "card_not_available");
}

#[tokio::test]
async fn a_card_token_never_outlives_the_registration() {
    let app = spawn_app().await;
    let (id, token, _) = resident_with_card(&app).await;
    let last_day = tokyo_date(Utc::now()) + Duration::days(2);
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET registration_valid_until = '{last_day}' WHERE id = {id}"
        ))
        .await
        .unwrap();
    let body = get_card(&app, &token).await;
    let valid_until = DateTime::parse_from_rfc3339(body["valid_until"].as_str().unwrap()).unwrap();
    assert_eq!(
        valid_until.with_timezone(&tokyo()).date_naive(),
        last_day + Duration::days(1)
    );
    assert_eq!(
        valid_until
            .with_timezone(&tokyo())
            .format("%H:%M")
            .to_string(),
        "00:00"
    );
}

// ---------------------------------------------------------------------------------------------
// Key rotation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_configured_key_rotation_keeps_old_cards_verifiable_until_they_expire() {
    let first = random_card_seed();
    let app = spawn_app_with(|s| s.card_signing_keys = Some(card_key_pem(&first).into())).await;
    let (user_id, token, _) = resident_with_card(&app).await;
    let old = get_card(&app, &token).await;
    let old_token = old["token"].as_str().unwrap().to_owned();

    // The next key is configured first (it signs); the old one is dropped from the settings.
    let second = random_card_seed();
    let (address, keys) = restart_with(&app, |s| {
        s.card_signing_keys = Some(card_key_pem(&second).into());
    })
    .await;
    let (resident, _) = keys.issue_access(user_id, yoyaku::domain::roles::Role::Resident);
    let new: Value = app
        .client
        .get(format!("{address}/api/v1/me/card"))
        .bearer_auth(&resident)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(new["kid"], old["kid"]);
    let set: JwkSet = app
        .client
        .get(format!("{address}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set.keys.len(), 2, "the retired key stays published");
    verify_with(&set, &old_token).expect("an old card still verifies");
    verify_with(&set, new["token"].as_str().unwrap()).expect("a new card verifies");

    // The server accepts the old card at the scanner too.
    let admin = staff_token(&app, "admin@demo.yoyaku.jp").await;
    let tsurumi = facility_id(&app, "tsurumi-sports-center").await;
    let (status, body) = check_in(
        &app,
        &admin,
        json!({"facility_id": tsurumi, "token": old_token}),
    )
    .await;
    assert_eq!(
        (status, &body["result"]),
        (200, &json!("no_booking")),
        "{body}"
    );

    // Once every card it signed has expired (7 days and a day's margin), it is withdrawn.
    let retired = Utc::now() - Duration::days(9);
    card_signing_key::Entity::update_many()
        .col_expr(card_signing_key::Column::RetiredAt, Expr::value(retired))
        .filter(card_signing_key::Column::Kid.eq(old["kid"].as_str().unwrap()))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(jwks(&app).await.keys.len(), 1);
    // Configured keys keep no private part in the database.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM card_signing_keys WHERE private_key IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn a_demo_key_is_generated_once_and_rotation_keeps_old_cards_verifiable() {
    let app = spawn_app_with(|s| {
        s.demo = Some(true);
        s.card_signing_keys = None;
    })
    .await;
    let (_, token, _) = resident_with_card(&app).await;
    let old = get_card(&app, &token).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM card_signing_keys WHERE origin = 'generated'")
            .await,
        1
    );
    let new_kid = card_keys::rotate_generated(&app.db, &Default::default(), Utc::now())
        .await
        .unwrap();
    let new = get_card(&app, &token).await;
    assert_eq!(new["kid"], new_kid.as_str());
    let set = jwks(&app).await;
    assert_eq!(set.keys.len(), 2);
    verify_with(&set, old["token"].as_str().unwrap()).expect("the old card verifies");
    verify_with(&set, new["token"].as_str().unwrap()).expect("the new card verifies");
}

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revoked_expired_tampered_and_foreign_cards_are_refused_at_check_in() {
    let seed = random_card_seed();
    let app = spawn_app_with(|s| s.card_signing_keys = Some(card_key_pem(&seed).into())).await;
    let staff = staff_token(&app, "staff@demo.yoyaku.jp").await;
    let tsurumi = facility_id(&app, "tsurumi-sports-center").await;
    let scan = |token: &str| json!({"facility_id": tsurumi, "token": token});

    let (id, resident, number) = resident_with_card(&app).await;
    let body = get_card(&app, &resident).await;
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, ok) = check_in(&app, &staff, scan(&token)).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["holder"]["card_number"], number.as_str());

    // Altered: one character of the signature changed.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let (status, refused) =
        check_in(&app, &staff, scan(std::str::from_utf8(&tampered).unwrap())).await;
    assert_eq!(
        (status, &error_of(&refused)["code"]),
        (400, &json!("card_token_invalid"))
    );
    let (status, refused) = check_in(&app, &staff, scan("not a token")).await;
    assert_eq!(
        (status, &error_of(&refused)["code"]),
        (400, &json!("card_token_invalid"))
    );

    // Another city's card: signed by a key this city does not publish.
    let claims = json!({"cid": body["card_id"], "v": 1, "iat": Utc::now().timestamp(), "exp": Utc::now().timestamp() + 3600});
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("otherkid".into());
    let foreign = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ed_der(&pkcs8_der(&random_card_seed())),
    )
    .unwrap();
    let (status, refused) = check_in(&app, &staff, scan(&foreign)).await;
    assert_eq!(
        (status, &error_of(&refused)["code"]),
        (422, &json!("card_unknown_key"))
    );

    // Expired: signed with this city's key, but its week is over.
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = body["kid"].as_str().map(str::to_owned);
    let week_ago = Utc::now() - Duration::days(8);
    let expired = jsonwebtoken::encode(
        &header,
        &json!({"cid": body["card_id"], "v": 1, "iat": week_ago.timestamp(), "exp": (week_ago + Duration::days(7)).timestamp()}),
        &EncodingKey::from_ed_der(&pkcs8_der(&seed)),
    )
    .unwrap();
    let (status, refused) = check_in(&app, &staff, scan(&expired)).await;
    assert_eq!(
        (status, &error_of(&refused)["code"]),
        (422, &json!("card_token_expired"))
    );

    // Suspended by staff: refused, and listed for offline scanners.
    assert!(
        cards::revoke_current(&app.db, id, RevocationReason::Suspended, Utc::now())
            .await
            .unwrap()
    );
    let (status, refused) = check_in(&app, &staff, scan(&token)).await;
    assert_eq!(
        (status, &error_of(&refused)["code"]),
        (422, &json!("card_revoked"))
    );
    let (status, refused) = check_in(
        &app,
        &staff,
        json!({"facility_id": tsurumi, "card_number": number}),
    )
    .await;
    assert_eq!(
        (status, &error_of(&refused)["code"]),
        (422, &json!("card_revoked"))
    );

    // An expired registration: refused, and its card is revoked for offline scanners.
    let (other, other_token, _) = resident_with_card(&app).await;
    let other_card = get_card(&app, &other_token).await;
    let yesterday = tokyo_date(Utc::now()) - Duration::days(1);
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET registration_valid_until = '{yesterday}' WHERE id = {other}"
        ))
        .await
        .unwrap();
    let (status, refused) =
        check_in(&app, &staff, scan(other_card["token"].as_str().unwrap())).await;
    assert_eq!(
        (status, &error_of(&refused)["code"]),
        (422, &json!("registration_not_current"))
    );
    let (status, refused) = app.get_as(&other_token, "/api/v1/me/card").await;
    assert_eq!(
        (status.as_u16(), &error_of(&refused)["code"]),
        (403, &json!("card_not_available"))
    );

    // Manual entry: a mistyped number names the field; an unknown one is not found.
    let (status, refused) = check_in(
        &app,
        &staff,
        json!({"facility_id": tsurumi, "card_number": "1234567890"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["fields"][0]["field"], "card_number");
    let unknown = yoyaku::domain::card::card_number(123_456_789);
    let (status, refused) = check_in(
        &app,
        &staff,
        json!({"facility_id": tsurumi, "card_number": unknown}),
    )
    .await;
    assert_eq!(
        (status, &error_of(&refused)["code"]),
        (422, &json!("card_not_found"))
    );

    // The revocation list: both cards, signed, with an ETag.
    let response = app
        .client
        .get(format!("{}/api/v1/checkins/revocations", app.address))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let signature = response.headers()["x-yoyaku-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    let raw = response.bytes().await.unwrap();
    let list: Value = serde_json::from_slice(&raw).unwrap();
    let entries: Vec<(i64, &str)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["card_id"].as_i64().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        entries.contains(&(body["card_id"].as_i64().unwrap(), "suspended")),
        "{list}"
    );
    assert!(
        entries.contains(&(
            other_card["card_id"].as_i64().unwrap(),
            "registration_ended"
        )),
        "{list}"
    );
    assert!(list["issued_at"].is_string());
    // The detached JWS verifies with the published key over the exact body.
    let (protected, sig) = signature.split_once("..").unwrap();
    let message = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(&raw));
    let set = jwks(&app).await;
    let key = DecodingKey::from_jwk(&set.keys[0]).unwrap();
    assert!(jsonwebtoken::crypto::verify(sig, message.as_bytes(), &key, Algorithm::EdDSA).unwrap());
    // Unchanged entries: 304.
    let again = app
        .client
        .get(format!("{}/api/v1/checkins/revocations", app.address))
        .bearer_auth(&staff)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // `since` leaves out what was revoked before it.
    let later = (Utc::now() + Duration::minutes(1))
        .to_rfc3339()
        .replace('+', "%2B");
    let (status, recent) = app
        .get_as(
            &staff,
            &format!("/api/v1/checkins/revocations?since={later}"),
        )
        .await;
    assert_eq!(status, 200, "{recent}");
    assert_eq!(recent["total"], 0);

    // A suspended card is not replaced by asking for a new one.
    let card_row = card::Entity::find()
        .filter(card::Column::UserId.eq(id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card_row.revoked_reason.as_deref(), Some("suspended"));
    let (status, refused) = app.get_as(&resident, "/api/v1/me/card").await;
    assert_eq!(
        (status.as_u16(), &error_of(&refused)["code"]),
        (403, &json!("card_not_available"))
    );

    // A renewed registration gets the next card; the old card stays refused.
    let next_year = tokyo_date(Utc::now()) + Duration::days(365);
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET registration_valid_until = '{next_year}' WHERE id = {other}"
        ))
        .await
        .unwrap();
    let renewed = get_card(&app, &other_token).await;
    assert_eq!(renewed["serial"], 2);
    let (status, _) = check_in(&app, &staff, scan(renewed["token"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    let (status, refused) =
        check_in(&app, &staff, scan(other_card["token"].as_str().unwrap())).await;
    assert_eq!(
        (status, &error_of(&refused)["code"]),
        (422, &json!("card_revoked"))
    );
}

// ---------------------------------------------------------------------------------------------
// Check-in
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn checking_in_twice_says_already_checked_in_with_the_time_and_records_once() {
    let app = spawn_app().await;
    let staff = staff_token(&app, "staff@demo.yoyaku.jp").await;
    let tsurumi = facility_id(&app, "tsurumi-sports-center").await;
    let (_, resident, number) = resident_with_card(&app).await;
    let booked = paid_bookings_at(&app, &resident, 1, Utc::now() - Duration::minutes(10)).await;
    let token = get_card(&app, &resident).await["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, first) = check_in(
        &app,
        &staff,
        json!({"facility_id": tsurumi, "token": token}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["result"], "checked_in");
    assert_eq!(first["holder"]["name"], "テスト 利用者");
    assert_eq!(first["checked_in_booking_ids"], json!(booked));
    assert_eq!(first["bookings"][0]["state"], "checked_in");
    assert_eq!(booking_state(&app, booked[0]).await, "checked_in");

    let (status, second) = check_in(
        &app,
        &staff,
        json!({"facility_id": tsurumi, "token": token}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(second["result"], "already_checked_in");
    let at = DateTime::parse_from_rfc3339(first["bookings"][0]["checked_in_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&tokyo())
        .format("%H:%M")
        .to_string();
    assert_eq!(second["already_checked_in_at"], at.as_str());
    assert_eq!(second["message"], format!("already checked in at {at}"));
    // Typing the card number finds the same.
    let (_, typed) = check_in(
        &app,
        &staff,
        json!({"facility_id": tsurumi, "card_number": number}),
    )
    .await;
    assert_eq!(typed["result"], "already_checked_in");

    let id = booked[0];
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM booking_checkins WHERE booking_id = {id}"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {id} AND to_state = 'checked_in'"
        ))
        .await,
        1
    );
    // A checked-in booking is never a no-show.
    let rules = PenaltyRules::default();
    assert_eq!(
        penalties::mark_no_shows(&app.db, &rules, Utc::now() + Duration::days(1))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn staff_check_in_only_at_their_own_facilities() {
    let app = spawn_app().await;
    let (_, resident, _) = resident_with_card(&app).await;
    let token = get_card(&app, &resident).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tsurumi = facility_id(&app, "tsurumi-sports-center").await;
    let kohoku = facility_id(&app, "kohoku-sports-center").await;
    // The demo manager is assigned to Tsurumi only.
    let manager = staff_token(&app, "manager@demo.yoyaku.jp").await;
    let (status, _) = check_in(
        &app,
        &manager,
        json!({"facility_id": tsurumi, "token": token}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, refused) = check_in(
        &app,
        &manager,
        json!({"facility_id": kohoku, "token": token}),
    )
    .await;
    assert_eq!(
        (status, &error_of(&refused)["code"]),
        (403, &json!("forbidden"))
    );
    // Residents never; administrators anywhere that exists.
    let (status, _) = check_in(
        &app,
        &resident,
        json!({"facility_id": tsurumi, "token": token}),
    )
    .await;
    assert_eq!(status, 403);
    let admin = staff_token(&app, "admin@demo.yoyaku.jp").await;
    let (status, _) = check_in(&app, &admin, json!({"facility_id": kohoku, "token": token})).await;
    assert_eq!(status, 200);
    let (status, _) = check_in(
        &app,
        &admin,
        json!({"facility_id": 999_999, "token": token}),
    )
    .await;
    assert_eq!(status, 404);
    // Nothing was recorded for the refused scans.
    assert_eq!(app.count("SELECT COUNT(*) FROM checkin_scans").await, 2);
}

#[tokio::test]
async fn an_offline_batch_sent_twice_records_each_scan_once() {
    let seed = random_card_seed();
    let app = spawn_app_with(|s| s.card_signing_keys = Some(card_key_pem(&seed).into())).await;
    let staff = staff_token(&app, "staff@demo.yoyaku.jp").await;
    let tsurumi = facility_id(&app, "tsurumi-sports-center").await;
    let (_, resident, _) = resident_with_card(&app).await;
    let booked = paid_bookings_at(&app, &resident, 1, yesterday_at_ten(0)).await;
    // The token the phone showed: fetched an hour before the scans (the card page refreshed it
    // then), signed with this city's key.
    let card = get_card(&app, &resident).await;
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = None;
    header.kid = card["kid"].as_str().map(str::to_owned);
    let hour_before = yesterday_at_ten(-50);
    let token = jsonwebtoken::encode(
        &header,
        &json!({"cid": card["card_id"], "v": card["serial"], "iat": hour_before.timestamp(), "exp": (hour_before + Duration::days(7)).timestamp()}),
        &EncodingKey::from_ed_der(&pkcs8_der(&seed)),
    )
    .unwrap();
    // The scans, 10, 15 and 20 minutes into the booking.
    let scanned = |minutes_before_half_past: i64| {
        yesterday_at_ten(30 - minutes_before_half_past)
            .with_timezone(&tokyo())
            .to_rfc3339()
    };
    let batch = json!({"items": [
        {"client_id": "scanner-1:0001", "facility_id": tsurumi, "token": token, "scanned_at": scanned(20)},
        {"client_id": "scanner-1:0002", "facility_id": tsurumi, "token": token, "scanned_at": scanned(15)},
        {"client_id": "scanner-1:0003", "facility_id": tsurumi, "token": format!("{token}x"), "scanned_at": scanned(10)},
    ]});
    let (status, _, first) = app
        .post_as(&staff, "/api/v1/checkins/sync", None, &batch)
        .await;
    assert_eq!(status, 200, "{first}");
    let statuses: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["recorded", "recorded", "refused"]);
    assert_eq!(first["items"][0]["result"], "checked_in");
    assert_eq!(first["items"][0]["checked_in_booking_ids"], json!(booked));
    assert_eq!(first["items"][1]["result"], "already_checked_in");
    assert_eq!(first["items"][2]["error"]["code"], "card_token_invalid");

    // The scanner lost the answer and sends everything again.
    let (status, _, second) = app
        .post_as(&staff, "/api/v1/checkins/sync", None, &batch)
        .await;
    assert_eq!(status, 200);
    let statuses: Vec<&str> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["duplicate", "duplicate", "duplicate"]);
    assert_eq!(second["items"][0]["checked_in_booking_ids"], json!(booked));

    assert_eq!(app.count("SELECT COUNT(*) FROM checkin_scans").await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM booking_checkins").await, 1);
    let id = booked[0];
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {id} AND to_state = 'checked_in'"
        ))
        .await,
        1
    );
    // The check-in time is when the card was scanned (10:10), not when it was synced.
    let checkin = yoyaku::entities::booking_checkin::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("a check-in row");
    assert_eq!(
        checkin.checked_in_at.timestamp(),
        yesterday_at_ten(10).timestamp()
    );

    // Scans from the future or from long ago are refused, item by item.
    let odd = json!({"items": [
        {"client_id": "scanner-1:0004", "facility_id": tsurumi, "token": token, "scanned_at": (Utc::now() + Duration::hours(2)).to_rfc3339()},
    ]});
    let (_, _, answer) = app
        .post_as(&staff, "/api/v1/checkins/sync", None, &odd)
        .await;
    assert_eq!(answer["items"][0]["status"], "refused");
}

// ---------------------------------------------------------------------------------------------
// No-shows and penalties
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_no_show_job_adds_points_suspends_at_the_threshold_and_runs_once_however_many_run() {
    let app = spawn_app().await;
    let (id, resident, _) = resident_with_card(&app).await;
    // Three paid bookings that ended yesterday and nobody came to.
    let booked = paid_bookings_at(
        &app,
        &resident,
        3,
        Utc::now() - Duration::days(1) - Duration::hours(8),
    )
    .await;
    let rules = PenaltyRules::default();

    // Two instances run the job at the same moment, each with its own connections.
    let other = Database::connect(&app.database.url).await.unwrap();
    let now = Utc::now();
    let (a, b) = tokio::join!(
        penalties::mark_no_shows(&app.db, &rules, now),
        penalties::mark_no_shows(&other, &rules, now)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 3);
    for id in &booked {
        assert_eq!(booking_state(&app, *id).await, "no_show");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM penalty_points WHERE user_id = {id}"
        ))
        .await,
        3
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM booking_events WHERE to_state = 'no_show'")
            .await,
        3
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM slot_claims WHERE booking_id IN (SELECT id FROM bookings WHERE state = 'no_show')").await, 0);
    // Running again changes nothing.
    assert_eq!(
        penalties::mark_no_shows(&app.db, &rules, now)
            .await
            .unwrap(),
        0
    );

    // Three points within 90 days: booking is suspended, and the resident sees why.
    let (status, mine) = app.get_as(&resident, "/api/v1/me/penalties").await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["items"].as_array().unwrap().len(), 3);
    assert_eq!(mine["items"][0]["reason"], "no_show");
    assert!(
        mine["items"][0]["description"]
            .as_str()
            .unwrap()
            .contains("was not checked in")
    );
    assert_eq!(mine["threshold"], 3);
    let until = DateTime::parse_from_rfc3339(mine["suspended_until"].as_str().unwrap()).unwrap();
    assert!(until > Utc::now() + Duration::days(85));

    let facility = facility_id(&app, "tsurumi-sports-center").await;
    let gym = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {facility} AND code = 'main-gym'"
        ))
        .await;
    let day = bookable_day(&app, facility).await;
    let (_, slots) = app
        .get_json(&format!("/api/v1/rooms/{gym}/slots?from={day}&to={day}"))
        .await;
    let free = slots["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "available")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, refused) = app.book(&resident, gym, &[free]).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(error_of(&refused)["code"], "booking_suspended");
}

#[tokio::test]
async fn two_no_shows_are_points_but_not_yet_a_suspension() {
    let app = spawn_app().await;
    let (_, resident, _) = resident_with_card(&app).await;
    paid_bookings_at(&app, &resident, 2, Utc::now() - Duration::days(1)).await;
    let marked = penalties::mark_no_shows(&app.db, &PenaltyRules::default(), Utc::now())
        .await
        .unwrap();
    assert_eq!(marked, 2);
    let (_, mine) = app.get_as(&resident, "/api/v1/me/penalties").await;
    assert_eq!(mine["points"], 2);
    assert!(mine["suspended_until"].is_null());
}

// ---------------------------------------------------------------------------------------------
// Staff: suspending and revoking cards, voiding penalties, late-synced offline scans
// ---------------------------------------------------------------------------------------------

async fn staff_post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, _, answer) = app.post_as(token, path, None, &body).await;
    (status.as_u16(), answer)
}

fn code_of(body: &Value) -> String {
    error_of(body)["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn staff_suspend_and_revoke_cards_and_every_scanner_then_refuses_them() {
    let app = spawn_app().await;
    let staff = staff_token(&app, "staff@demo.yoyaku.jp").await;
    let tsurumi = facility_id(&app, "tsurumi-sports-center").await;

    // Suspended: the token the phone holds is refused online and is on the revocation list.
    let (id, resident, number) = resident_with_card(&app).await;
    let card = get_card(&app, &resident).await;
    let token = card["token"].as_str().unwrap().to_owned();
    let suspend = format!("/api/v1/admin/cards/{number}/suspend");
    let (status, done) = staff_post(&app, &staff, &suspend, json!({"reason": "misuse"})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["reason"], "suspended");
    assert_eq!(done["card_id"], card["card_id"]);
    assert_eq!(done["user_id"], id);
    let (status, refused) = check_in(
        &app,
        &staff,
        json!({"facility_id": tsurumi, "token": token}),
    )
    .await;
    assert_eq!((status, code_of(&refused).as_str()), (422, "card_revoked"));
    let (status, refused) = check_in(
        &app,
        &staff,
        json!({"facility_id": tsurumi, "card_number": number}),
    )
    .await;
    assert_eq!((status, code_of(&refused).as_str()), (422, "card_revoked"));
    let (_, list) = app.get_as(&staff, "/api/v1/checkins/revocations").await;
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["card_id"] == card["card_id"] && i["reason"] == "suspended");
    assert!(listed, "{list}");
    // No new card while suspended, and suspending twice is a conflict.
    let (status, body) = app.get_as(&resident, "/api/v1/me/card").await;
    assert_eq!(
        (status.as_u16(), code_of(&body).as_str()),
        (403, "card_not_available")
    );
    let (status, again) = staff_post(&app, &staff, &suspend, json!({"reason": "again"})).await;
    assert_eq!((status, code_of(&again).as_str()), (409, "card_not_in_use"));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'card.suspended' AND subject_id = {id}"
        ))
        .await,
        1
    );

    // Revoked (lost): the old token is refused; the next card page issues serial 2, whose token
    // checks in; revoking a person with no card in use is a conflict.
    let (_, other, other_number) = resident_with_card(&app).await;
    let old = get_card(&app, &other).await;
    let revoke = format!("/api/v1/admin/cards/{other_number}/revoke");
    let (status, done) = staff_post(&app, &staff, &revoke, json!({"reason": "lost"})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["reason"], "revoked");
    let (status, again) = staff_post(&app, &staff, &revoke, json!({"reason": "lost"})).await;
    assert_eq!((status, code_of(&again).as_str()), (409, "card_not_in_use"));
    let (status, refused) = check_in(
        &app,
        &staff,
        json!({"facility_id": tsurumi, "token": old["token"]}),
    )
    .await;
    assert_eq!((status, code_of(&refused).as_str()), (422, "card_revoked"));
    let new = get_card(&app, &other).await;
    assert_eq!(new["serial"], 2);
    let (status, scanned) = check_in(
        &app,
        &staff,
        json!({"facility_id": tsurumi, "token": new["token"]}),
    )
    .await;
    assert_eq!(status, 200, "{scanned}");

    // A person who never opened the card page can be suspended before any card exists.
    let (_, never, never_number) = resident_with_card(&app).await;
    let (status, done) = staff_post(
        &app,
        &staff,
        &format!("/api/v1/admin/cards/{never_number}/suspend"),
        json!({"reason": "fraud"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    let (status, _) = app.get_as(&never, "/api/v1/me/card").await;
    assert_eq!(status, 403);

    // Refusals.
    let (status, body) = staff_post(&app, &resident, &suspend, json!({"reason": "x"})).await;
    assert_eq!((status, code_of(&body).as_str()), (403, "forbidden"));
    let (status, body) = staff_post(
        &app,
        &staff,
        "/api/v1/admin/cards/1234567890/suspend",
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!((status, code_of(&body).as_str()), (400, "invalid_input"));
    assert_eq!(error_of(&body)["fields"][0]["field"], "card_number");
    let unknown = yoyaku::domain::card::card_number(123_456_789);
    let (status, body) = staff_post(
        &app,
        &staff,
        &format!("/api/v1/admin/cards/{unknown}/revoke"),
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!((status, code_of(&body).as_str()), (404, "card_not_found"));
    for reason in [
        json!({"reason": "  "}),
        json!({"reason": "x".repeat(501)}),
        json!({}),
    ] {
        let (status, body) = staff_post(&app, &staff, &revoke, reason).await;
        assert_eq!((status, code_of(&body).as_str()), (400, "invalid_input"));
        assert_eq!(error_of(&body)["fields"][0]["field"], "reason");
    }
}

/// Three no-shows (a suspension) for a new resident; returns the resident and the bookings.
async fn suspended_resident(app: &TestApp) -> (i32, String, Vec<i64>) {
    let (id, resident, _) = resident_with_card(app).await;
    let booked = paid_bookings_at(
        app,
        &resident,
        3,
        Utc::now() - Duration::days(1) - Duration::hours(8),
    )
    .await;
    penalties::mark_no_shows(&app.db, &PenaltyRules::default(), Utc::now())
        .await
        .unwrap();
    (id, resident, booked)
}

#[tokio::test]
async fn staff_void_a_penalty_with_a_reason_and_the_suspension_is_recomputed() {
    let app = spawn_app().await;
    let staff = staff_token(&app, "staff@demo.yoyaku.jp").await;
    let manager = staff_token(&app, "manager@demo.yoyaku.jp").await;
    let (id, resident, booked) = suspended_resident(&app).await;
    let (_, mine) = app.get_as(&resident, "/api/v1/me/penalties").await;
    assert!(mine["suspended_until"].is_string(), "{mine}");

    let void = format!("/api/v1/admin/bookings/{}/penalty/void", booked[0]);
    let reason = "came; the scanner's battery died before it synced";
    let (status, done) = staff_post(&app, &staff, &void, json!({"reason": reason})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["user_id"], id);
    assert_eq!(done["points"], 1);
    assert!(done["suspended_until"].is_null(), "{done}");
    let (_, mine) = app.get_as(&resident, "/api/v1/me/penalties").await;
    assert_eq!(mine["points"], 2);
    assert!(mine["suspended_until"].is_null());
    let voided = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["booking_id"] == booked[0])
        .unwrap();
    assert_eq!(voided["void_reason"], reason);
    assert!(voided["voided_at"].is_string());
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'penalty.voided' AND subject_id = {}",
            booked[0]
        ))
        .await,
        1
    );

    // Refusals: twice, a resident, an empty reason, no such booking, a facility not assigned.
    let (status, body) = staff_post(&app, &staff, &void, json!({"reason": "again"})).await;
    assert_eq!((status, code_of(&body).as_str()), (409, "no_penalty"));
    let other = format!("/api/v1/admin/bookings/{}/penalty/void", booked[1]);
    let (status, body) = staff_post(&app, &resident, &other, json!({"reason": "me"})).await;
    assert_eq!((status, code_of(&body).as_str()), (403, "forbidden"));
    let (status, body) = staff_post(&app, &staff, &other, json!({"reason": ""})).await;
    assert_eq!((status, code_of(&body).as_str()), (400, "invalid_input"));
    assert_eq!(error_of(&body)["fields"][0]["field"], "reason");
    let (status, body) = staff_post(
        &app,
        &staff,
        "/api/v1/admin/bookings/99999999/penalty/void",
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!((status, code_of(&body).as_str()), (404, "not_found"));
    app.db
        .execute_unprepared(
            "DELETE FROM staff_assignments WHERE user_id = \
             (SELECT id FROM users WHERE email = 'manager@demo.yoyaku.jp')",
        )
        .await
        .unwrap();
    let (status, body) = staff_post(&app, &manager, &other, json!({"reason": "x"})).await;
    assert_eq!((status, code_of(&body).as_str()), (403, "forbidden"));
    // Nothing of the refused requests was written.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM penalty_points WHERE user_id = {id} AND voided_at IS NULL"
        ))
        .await,
        2
    );
}

#[tokio::test]
async fn an_offline_scan_synced_after_the_no_show_job_checks_in_and_withdraws_the_penalty() {
    let seed = random_card_seed();
    let app = spawn_app_with(|s| s.card_signing_keys = Some(card_key_pem(&seed).into())).await;
    let staff = staff_token(&app, "staff@demo.yoyaku.jp").await;
    let tsurumi = facility_id(&app, "tsurumi-sports-center").await;
    let (id, resident, _) = resident_with_card(&app).await;
    // A booking yesterday from 10:00 to 12:00: past its end plus the hour of grace.
    let start = yesterday_at_ten(0);
    let booked = paid_bookings_at(&app, &resident, 1, start).await;
    let card = get_card(&app, &resident).await;
    let marked = penalties::mark_no_shows(&app.db, &PenaltyRules::default(), Utc::now())
        .await
        .unwrap();
    assert_eq!(marked, 1);
    assert_eq!(booking_state(&app, booked[0]).await, "no_show");
    let claims = format!(
        "SELECT COUNT(*) FROM slot_claims WHERE booking_id = {}",
        booked[0]
    );
    assert_eq!(app.count(&claims).await, 0);

    // The phone's token from the morning; the scanner scanned it at 11:00, in the window.
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = None;
    header.kid = card["kid"].as_str().map(str::to_owned);
    let issued = start - Duration::hours(2);
    let token = jsonwebtoken::encode(
        &header,
        &json!({"cid": card["card_id"], "v": card["serial"], "iat": issued.timestamp(), "exp": (issued + Duration::days(7)).timestamp()}),
        &EncodingKey::from_ed_der(&pkcs8_der(&seed)),
    )
    .unwrap();
    let scanned_at = yesterday_at_ten(60).with_timezone(&tokyo());
    let batch = json!({"items": [
        {"client_id": "basement:0001", "facility_id": tsurumi, "token": token, "scanned_at": scanned_at.to_rfc3339()},
    ]});
    let (status, synced) = staff_post(&app, &staff, "/api/v1/checkins/sync", batch.clone()).await;
    assert_eq!(status, 200, "{synced}");
    assert_eq!(synced["items"][0]["status"], "recorded");
    assert_eq!(synced["items"][0]["result"], "checked_in");
    assert_eq!(synced["items"][0]["checked_in_booking_ids"], json!(booked));
    assert_eq!(booking_state(&app, booked[0]).await, "checked_in");
    assert!(
        app.count(&claims).await > 0,
        "the booking holds its slots again"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM penalty_points WHERE user_id = {id} AND voided_at IS NULL"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {} \
             AND from_state = 'no_show' AND to_state = 'checked_in'",
            booked[0]
        ))
        .await,
        1
    );
    // Sent again: a duplicate, nothing changes.
    let (_, again) = staff_post(&app, &staff, "/api/v1/checkins/sync", batch).await;
    assert_eq!(again["items"][0]["status"], "duplicate");
    assert_eq!(app.count("SELECT COUNT(*) FROM booking_checkins").await, 1);
    // An online scan now (after the end) does not touch another no-show.
    let (_, mine) = app.get_as(&resident, "/api/v1/me/penalties").await;
    assert_eq!(mine["points"], 0);
}

#[tokio::test]
async fn the_key_inventory_shows_the_new_signer_and_the_old_key_still_published() {
    let app = spawn_app_with(|s| {
        s.demo = Some(true);
        s.card_signing_keys = None;
    })
    .await;
    let rules = yoyaku::domain::checkin::CheckinRules::default();
    let config = card_keys::CardKeyConfig::default();
    let before = card_keys::inventory(&app.db, &config, &rules, Utc::now())
        .await
        .unwrap();
    let old = before.iter().find(|k| k.signing).expect("a demo signer");
    let new_kid = card_keys::rotate_generated(&app.db, &config, Utc::now())
        .await
        .unwrap();
    let after = card_keys::inventory(&app.db, &config, &rules, Utc::now())
        .await
        .unwrap();
    let signing: Vec<&str> = after
        .iter()
        .filter(|k| k.signing)
        .map(|k| k.kid.as_str())
        .collect();
    assert_eq!(signing, [new_kid.as_str()]);
    let retired = after.iter().find(|k| k.kid == old.kid).unwrap();
    assert!(retired.retired_at.is_some() && retired.published);
    // A configured key set cannot be rotated from the command line.
    let configured =
        card_keys::CardKeyConfig::parse(Some(card_key_pem(&random_card_seed()).as_str())).unwrap();
    assert!(
        card_keys::rotate_generated(&app.db, &configured, Utc::now())
            .await
            .is_err()
    );
}
