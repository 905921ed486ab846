//! Payments: the embedded provider end to end, Stripe Checkout against a local stub of Stripe's
//! API, signed webhooks (bad signatures, stale timestamps, duplicate and concurrent deliveries),
//! a payment after expiry refunded, refunds by the cancellation tiers, counter payments by
//! assigned and unassigned staff, the receipt and the daily reconciliation.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use yoyaku::domain::booking::{RefundPolicy, days_before_use};
use yoyaku::domain::calendar::{tokyo_date, tokyo_instant};
use yoyaku::payments::signature;
use yoyaku::services::bookings;
use yoyaku_tests::stripe_stub::StripeStub;
use yoyaku_tests::{TestApp, error_of, spawn_app, spawn_app_with};

const WEBHOOK_SECRET: &str = "whsec_test_yoyaku";

/// The Tsurumi sports center's id and its main gym's id.
async fn main_gym(app: &TestApp) -> (i32, i64) {
    let facility = app
        .count("SELECT id FROM facilities WHERE code = 'tsurumi-sports-center'")
        .await as i32;
    let gym = app
        .count(&format!(
            "SELECT id FROM rooms WHERE facility_id = {facility} AND code = 'main-gym'"
        ))
        .await;
    (facility, gym)
}

/// The first open weekday at least `days` ahead with the gym's slots generated, and its slots.
async fn gym_slots_from(app: &TestApp, days: i64) -> (i64, NaiveDate, Vec<i64>) {
    let (_, gym) = main_gym(app).await;
    let (day, ids) = app.free_slots_from(gym, days).await;
    (gym, day, ids)
}

/// A new resident's booking of one gym slot at least `days` ahead: (token, booking).
async fn booked(app: &TestApp, days: i64) -> (String, Value) {
    let (gym, _, ids) = gym_slots_from(app, days).await;
    let (_, token) = app.new_resident("resident").await;
    let (status, booking) = app.book(&token, gym, &[ids[0]]).await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(booking["state"], "awaiting_payment");
    (token, booking)
}

async fn checkout(app: &TestApp, token: &str, id: i64) -> (reqwest::StatusCode, Value) {
    let (status, _, body) = app
        .post_as(
            token,
            &format!("/api/v1/bookings/{id}/checkout"),
            None,
            &json!({}),
        )
        .await;
    (status, body)
}

async fn ledger(app: &TestApp, token: &str, id: i64) -> Value {
    let (status, body) = app
        .get_as(token, &format!("/api/v1/bookings/{id}/payments"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn state_of(app: &TestApp, token: &str, id: i64) -> String {
    let (_, body) = app.get_as(token, &format!("/api/v1/bookings/{id}")).await;
    body["state"].as_str().unwrap().to_owned()
}

/// Pay a booking on the embedded provider's page, as a browser would.
async fn pay_embedded(app: &TestApp, token: &str, id: i64) {
    let (status, body) = checkout(app, token, id).await;
    assert_eq!(status, 200, "{body}");
    let url = body["checkout_url"].as_str().unwrap();
    let response = app
        .client
        .post(format!("{url}/complete"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

/// An app using Stripe through the stub.
async fn stripe_app(stub: &StripeStub) -> TestApp {
    let base = stub.base_url.clone();
    spawn_app_with(move |s| {
        s.stripe_secret_key = Some("sk_test_yoyaku".to_owned().into());
        s.stripe_webhook_secret = Some(WEBHOOK_SECRET.to_owned().into());
        s.stripe_api_base = Some(base);
    })
    .await
}

/// A Stripe event as Stripe sends it.
fn event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "object": "event", "type": kind, "api_version": "2025-10-29.clover",
        "created": Utc::now().timestamp(), "livemode": false,
        "data": {"object": object}
    }))
    .unwrap()
}

/// A completed, paid Checkout Session for the stub's session `session_id`.
fn paid_session(stub: &StripeStub, session_id: &str, payment_intent: &str) -> Value {
    let mut session = stub.session(session_id).expect("the stub's session");
    session["status"] = json!("complete");
    session["payment_status"] = json!("paid");
    session["payment_intent"] = json!(payment_intent);
    session
}

async fn deliver(app: &TestApp, body: &[u8], header: &str) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/api/v1/payments/stripe/webhook", app.address))
        .header("Stripe-Signature", header)
        .header("Content-Type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn deliver_signed(app: &TestApp, body: &[u8]) -> (u16, Value) {
    let header = signature::sign(body, WEBHOOK_SECRET, Utc::now().timestamp());
    deliver(app, body, &header).await
}

/// Book and open a Stripe checkout: (token, booking id, session id).
async fn stripe_checkout(app: &TestApp, stub: &StripeStub) -> (String, i64, String) {
    let (token, booking) = booked(app, 2).await;
    let id = booking["id"].as_i64().unwrap();
    let (status, body) = checkout(app, &token, id).await;
    assert_eq!(status, 200, "{body}");
    let session = stub.requests_to("POST", "/v1/checkout/sessions").len();
    let session_id = format!("cs_test_{session}");
    assert!(stub.session(&session_id).is_some());
    (token, id, session_id)
}

#[tokio::test]
async fn the_embedded_checkout_confirms_the_booking_and_writes_the_ledger() {
    let app = spawn_app().await;
    let (token, booking) = booked(&app, 2).await;
    let id = booking["id"].as_i64().unwrap();
    let total = booking["total_yen"].as_i64().unwrap();

    let (status, body) = checkout(&app, &token, id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider"], "embedded");
    assert_eq!(body["test_mode"], true);
    assert_eq!(body["amount_yen"], total);
    let url = body["checkout_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/pay/", app.address)), "{url}");

    // The page says test mode and shows the amount.
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("テストモード") && html.contains("test mode"));
    assert!(
        html.contains(&format!("¥{},{:03}", total / 1000, total % 1000)),
        "{html}"
    );

    // Paying confirms the booking in the same transaction as the payment.
    let paid = app
        .client
        .post(format!("{url}/complete"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(paid.headers()["location"], "/pay/complete");
    let done = app.get("/pay/complete").await.text().await.unwrap();
    assert!(done.contains("テストモード"));
    assert_eq!(state_of(&app, &token, id).await, "confirmed");
    let ledger = ledger(&app, &token, id).await;
    assert_eq!(ledger["paid_yen"], total);
    let payments = ledger["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["provider"], "embedded");
    assert_eq!(payments[0]["applied"], true);
    assert_eq!(payments[0]["amount_yen"], total);
    assert!(
        payments[0]["provider_payment_id"]
            .as_str()
            .unwrap()
            .starts_with("emb_pi_")
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {id} AND to_state = 'confirmed'"
        ))
        .await,
        1
    );

    // Pressing pay again changes nothing.
    let again = app
        .client
        .post(format!("{url}/complete"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("テストモード"));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM payments WHERE booking_id = {id}"
        ))
        .await,
        1
    );
    // A confirmed booking has nothing more to pay.
    let (status, body) = checkout(&app, &token, id).await;
    assert_eq!(status, 409);
    assert_eq!(error_of(&body)["code"], "booking_not_payable");

    // Its receipt is printable by its owner, and nobody else's business.
    let receipt = app
        .client
        .get(format!("{}/bookings/{id}/receipt", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(receipt.status(), 200);
    let html = receipt.text().await.unwrap();
    assert!(html.contains("領収書") && html.contains("テストモード"));
    let (_, stranger) = app.new_resident("resident").await;
    let other = app
        .client
        .get(format!("{}/bookings/{id}/receipt", app.address))
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn an_abandoned_embedded_checkout_leaves_the_booking_waiting() {
    let app = spawn_app().await;
    let (token, booking) = booked(&app, 2).await;
    let id = booking["id"].as_i64().unwrap();
    let (_, body) = checkout(&app, &token, id).await;
    let url = body["checkout_url"].as_str().unwrap().to_owned();
    let abandoned = app
        .client
        .post(format!("{url}/abandon"))
        .send()
        .await
        .unwrap();
    assert_eq!(abandoned.status(), 303);
    assert_eq!(abandoned.headers()["location"], "/pay/cancelled");
    assert_eq!(state_of(&app, &token, id).await, "awaiting_payment");
    // The abandoned page can no longer pay.
    let late = app
        .client
        .post(format!("{url}/complete"))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 200);
    assert_eq!(state_of(&app, &token, id).await, "awaiting_payment");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payments").await,
        0,
        "nothing was paid"
    );
    // An unknown token is a 404 page.
    let unknown = app
        .client
        .get(format!("{}/pay/not-a-token", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_stripe_checkout_asks_for_yen_in_jpy_with_the_booking_expiry_and_a_key() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;
    let (token, booking) = booked(&app, 2).await;
    let id = booking["id"].as_i64().unwrap();
    let total = booking["total_yen"].as_i64().unwrap();
    let pay_by = chrono::DateTime::parse_from_rfc3339(booking["pay_by"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let before = Utc::now().timestamp();
    let (status, body) = checkout(&app, &token, id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider"], "stripe");
    assert_eq!(body["test_mode"], false);
    assert!(
        body["checkout_url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.test/")
    );

    let calls = stub.requests_to("POST", "/v1/checkout/sessions");
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    // Zero-decimal JPY: the yen themselves, never ×100.
    assert_eq!(
        call.field("line_items[0][price_data][unit_amount]"),
        Some(total.to_string().as_str())
    );
    assert_eq!(call.field("line_items[0][quantity]"), Some("1"));
    assert_eq!(
        call.field("line_items[0][price_data][currency]"),
        Some("jpy")
    );
    assert_eq!(call.field("currency"), Some("jpy"));
    assert_eq!(call.field("mode"), Some("payment"));
    assert_eq!(
        call.field("metadata[booking_id]"),
        Some(id.to_string().as_str())
    );
    assert_eq!(
        call.field("payment_intent_data[metadata][booking_id]"),
        Some(id.to_string().as_str())
    );
    // Tied to pay_by, within what Stripe accepts (30 minutes to 24 hours).
    let expires: i64 = call.field("expires_at").unwrap().parse().unwrap();
    assert!(
        expires <= pay_by.max(before + 31 * 60),
        "{expires} vs {pay_by}"
    );
    assert!(expires >= before + 30 * 60 && expires <= before + 24 * 3600 + 60);
    let key = call.idempotency_key.as_deref().expect("an Idempotency-Key");
    assert!(key.starts_with(&format!("checkout-{id}-")), "{key}");

    // Stripe reports the payment: the booking is confirmed, the ledger has Stripe's ids.
    let body = event(
        "evt_paid_1",
        "checkout.session.completed",
        paid_session(&stub, "cs_test_1", "pi_test_1"),
    );
    let (status, answer) = deliver_signed(&app, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "confirmed");
    assert_eq!(state_of(&app, &token, id).await, "confirmed");
    let ledger = ledger(&app, &token, id).await;
    let payment = &ledger["payments"][0];
    assert_eq!(payment["provider"], "stripe");
    assert_eq!(payment["provider_payment_id"], "pi_test_1");
    assert_eq!(payment["provider_session_id"], "cs_test_1");
    assert_eq!(payment["amount_yen"], total);
}

#[tokio::test]
async fn webhooks_with_a_wrong_or_stale_signature_are_refused_and_duplicates_change_nothing() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    let body = event(
        "evt_dup",
        "checkout.session.completed",
        paid_session(&stub, &session, "pi_dup"),
    );
    let now = Utc::now().timestamp();

    // Signed with another secret.
    let wrong = signature::sign(&body, "whsec_someone_else", now);
    let (status, answer) = deliver(&app, &body, &wrong).await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&answer)["code"], "invalid_signature");
    // Genuine, but six minutes old.
    let stale = signature::sign(&body, WEBHOOK_SECRET, now - 360);
    let (status, answer) = deliver(&app, &body, &stale).await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&answer)["code"], "invalid_signature");
    // No header at all.
    let (status, _) = deliver(&app, &body, "").await;
    assert_eq!(status, 400);
    // A body changed after signing.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let (status, _) = deliver(
        &app,
        &tampered,
        &signature::sign(&body, WEBHOOK_SECRET, now),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(state_of(&app, &token, id).await, "awaiting_payment");
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_events").await, 0);

    // The genuine one, twice: applied once.
    let (status, first) = deliver_signed(&app, &body).await;
    assert_eq!(
        (status, first["outcome"].as_str()),
        (200, Some("confirmed"))
    );
    let (status, second) = deliver_signed(&app, &body).await;
    assert_eq!(
        (status, second["outcome"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {id}"
        ))
        .await,
        2,
        "booked, then paid: one change"
    );

    // Another event for the same payment (a retry under a new event id) changes nothing either.
    let again = event(
        "evt_dup_2",
        "checkout.session.completed",
        paid_session(&stub, &session, "pi_dup"),
    );
    let (status, answer) = deliver_signed(&app, &again).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("already_recorded"))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 1);

    // Unknown event types are acknowledged and ignored.
    let other = event("evt_other", "customer.created", json!({"id": "cus_1"}));
    let (status, answer) = deliver_signed(&app, &other).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));
}

#[tokio::test]
async fn two_concurrent_deliveries_of_one_event_have_one_effect() {
    let stub = StripeStub::start().await;
    let app = Arc::new(stripe_app(&stub).await);
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    let body = Arc::new(event(
        "evt_race",
        "checkout.session.completed",
        paid_session(&stub, &session, "pi_race"),
    ));
    let barrier = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (app, body, barrier) = (app.clone(), body.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                deliver_signed(&app, &body).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        outcomes.push(answer["outcome"].as_str().unwrap().to_owned());
    }
    outcomes.sort();
    assert_eq!(outcomes, ["confirmed", "duplicate"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM refunds").await, 0);
    assert_eq!(state_of(&app, &token, id).await, "confirmed");
}

#[tokio::test]
async fn a_payment_after_expiry_is_recorded_and_refunded_in_full() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    let total = booking_total(&app, id).await;
    // The deadline passes before the payment arrives.
    let (_, booking) = app.get_as(&token, &format!("/api/v1/bookings/{id}")).await;
    let pay_by: chrono::DateTime<Utc> = booking["pay_by"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        bookings::expire_unpaid(&app.db, pay_by + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(state_of(&app, &token, id).await, "expired");

    let body = event(
        "evt_late",
        "checkout.session.completed",
        paid_session(&stub, &session, "pi_late"),
    );
    let (status, answer) = deliver_signed(&app, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "refunded_late_payment");
    assert_eq!(state_of(&app, &token, id).await, "expired");

    // The money went back through Stripe, in full, with a key.
    let refunds = stub.requests_to("POST", "/v1/refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].field("payment_intent"), Some("pi_late"));
    assert_eq!(refunds[0].field("amount"), Some(total.to_string().as_str()));
    assert!(refunds[0].idempotency_key.is_some());
    let ledger = ledger(&app, &token, id).await;
    let payment = &ledger["payments"][0];
    assert_eq!(payment["applied"], false);
    assert_eq!(payment["refunded_yen"], total);
    assert_eq!(payment["refunds"][0]["reason"], "late_payment");
    assert_eq!(payment["refunds"][0]["state"], "succeeded");
    assert_eq!(payment["refunds"][0]["provider_refund_id"], "re_test_2");

    // Stripe then confirms the refund: the ledger already knows it, nothing is added.
    let charge = json!({
        "id": "ch_late", "object": "charge", "payment_intent": "pi_late", "amount": total,
        "amount_refunded": total, "refunded": true,
        "refunds": {"object": "list", "data": [{
            "id": "re_test_2", "amount": total, "status": "succeeded",
            "metadata": {"yoyaku_refund_id": payment["refunds"][0]["id"].to_string()}
        }]}
    });
    let (status, answer) =
        deliver_signed(&app, &event("evt_refunded", "charge.refunded", charge)).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("refunds_reconciled"))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM refunds").await, 1);
}

#[tokio::test]
async fn a_payment_racing_the_deadline_job_ends_in_exactly_one_outcome() {
    let stub = StripeStub::start().await;
    let app = Arc::new(stripe_app(&stub).await);
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    let (_, booking) = app.get_as(&token, &format!("/api/v1/bookings/{id}")).await;
    let pay_by: chrono::DateTime<Utc> = booking["pay_by"].as_str().unwrap().parse().unwrap();
    let body = Arc::new(event(
        "evt_vs_deadline",
        "checkout.session.completed",
        paid_session(&stub, &session, "pi_vs_deadline"),
    ));
    let barrier = Arc::new(Barrier::new(2));
    let payment = {
        let (app, body, barrier) = (app.clone(), body.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            deliver_signed(&app, &body).await
        })
    };
    let expiry = {
        let (app, barrier) = (app.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            bookings::expire_unpaid(&app.db, pay_by + Duration::seconds(1)).await
        })
    };
    let (status, answer) = payment.await.unwrap();
    assert_eq!(status, 200, "{answer}");
    let expired = expiry.await.unwrap().unwrap();
    let state = state_of(&app, &token, id).await;
    let refunds = app.count("SELECT COUNT(*) FROM refunds").await;
    let applied = app
        .count("SELECT COUNT(*) FROM payments WHERE disposition = 'applied'")
        .await;
    match state.as_str() {
        "confirmed" => {
            assert_eq!((expired, applied, refunds), (0, 1, 0));
            assert_eq!(answer["outcome"], "confirmed");
        }
        "expired" => {
            assert_eq!((expired, applied, refunds), (1, 0, 1));
            assert_eq!(answer["outcome"], "refunded_late_payment");
        }
        other => panic!("unexpected state {other}"),
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 1);
}

#[tokio::test]
async fn cancelling_a_paid_booking_refunds_by_the_tier_table_through_the_provider() {
    let app = spawn_app().await;
    let policy = RefundPolicy::default();
    // At least 7 days ahead (100 %), 3–6 days (50 %), and 2 days (nothing) where the calendar
    // allows; the expectation is computed from the day actually booked.
    let mut percents = Vec::new();
    for days in [8, 4, 2] {
        let (token, booking) = booked(&app, days).await;
        let id = booking["id"].as_i64().unwrap();
        let total = booking["total_yen"].as_i64().unwrap();
        pay_embedded(&app, &token, id).await;
        let starts: chrono::DateTime<Utc> = booking["starts_at"].as_str().unwrap().parse().unwrap();
        let percent = i64::from(policy.percent_for(days_before_use(Utc::now(), starts)));
        percents.push(percent);
        let (status, _, cancelled) = app
            .post_as(
                &token,
                &format!("/api/v1/bookings/{id}/cancel"),
                None,
                &json!({}),
            )
            .await;
        assert_eq!(status, 200, "{cancelled}");
        let expected = total * percent / 100;
        assert_eq!(cancelled["refund_percent"], percent);
        assert_eq!(cancelled["refund_yen"], expected);
        let ledger = ledger(&app, &token, id).await;
        assert_eq!(ledger["booking_state"], "cancelled");
        assert_eq!(ledger["refunded_yen"], expected);
        let refunds = ledger["payments"][0]["refunds"].as_array().unwrap();
        if expected == 0 {
            assert!(refunds.is_empty());
        } else {
            assert_eq!(refunds.len(), 1);
            assert_eq!(refunds[0]["amount_yen"], expected);
            assert_eq!(refunds[0]["reason"], "cancelled_by_resident");
            assert_eq!(
                refunds[0]["state"], "succeeded",
                "made through the provider"
            );
        }
    }
    assert_eq!(percents[0], 100, "eight days ahead refunds in full");
}

#[tokio::test]
async fn cancelling_a_stripe_payment_refunds_part_of_it_with_an_idempotency_key() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;
    let (token, booking) = booked(&app, 4).await;
    let id = booking["id"].as_i64().unwrap();
    let total = booking["total_yen"].as_i64().unwrap();
    let (status, _) = checkout(&app, &token, id).await;
    assert_eq!(status, 200);
    let session = format!(
        "cs_test_{}",
        stub.requests_to("POST", "/v1/checkout/sessions").len()
    );
    let paid = event(
        "evt_partial",
        "checkout.session.completed",
        paid_session(&stub, &session, "pi_partial"),
    );
    assert_eq!(deliver_signed(&app, &paid).await.0, 200);
    let starts: chrono::DateTime<Utc> = booking["starts_at"].as_str().unwrap().parse().unwrap();
    let percent =
        i64::from(RefundPolicy::default().percent_for(days_before_use(Utc::now(), starts)));
    let (status, _, cancelled) = app
        .post_as(
            &token,
            &format!("/api/v1/bookings/{id}/cancel"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    let expected = total * percent / 100;
    assert_eq!(cancelled["refund_yen"], expected);
    let refunds = stub.requests_to("POST", "/v1/refunds");
    if expected > 0 {
        assert_eq!(refunds.len(), 1);
        assert_eq!(
            refunds[0].field("amount"),
            Some(expected.to_string().as_str())
        );
        assert_eq!(refunds[0].field("payment_intent"), Some("pi_partial"));
        assert!(
            refunds[0]
                .idempotency_key
                .as_deref()
                .is_some_and(|k| k.starts_with("refund-"))
        );
    } else {
        assert!(refunds.is_empty());
    }
}

#[tokio::test]
async fn assigned_staff_take_a_counter_payment_and_unassigned_staff_cannot() {
    let app = spawn_app().await;
    let (token, booking) = booked(&app, 2).await;
    let id = booking["id"].as_i64().unwrap();
    let total = booking["total_yen"].as_i64().unwrap();
    let path = format!("/api/v1/admin/bookings/{id}/counter-payment");

    // A staff member with no facility.
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(
            "INSERT INTO users (email, password_hash, display_name, role, residency, locale, email_verified_at, created_at, registration_state) \
             VALUES ('lonely-staff@test.yoyaku.jp', NULL, '未配属 職員', 'staff', 'resident', 'ja', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 'approved')",
        )
        .await
        .unwrap();
    let lonely = app
        .count("SELECT id FROM users WHERE email = 'lonely-staff@test.yoyaku.jp'")
        .await as i32;
    let (lonely_token, _) = app
        .keys
        .issue_access(lonely, yoyaku::domain::roles::Role::Staff);
    let cash = json!({"method": "cash", "amount_yen": total});
    let (status, _, body) = app.post_as(&lonely_token, &path, None, &cash).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_of(&body)["code"], "forbidden");
    // The resident cannot record their own counter payment.
    let (status, _, _) = app.post_as(&token, &path, None, &cash).await;
    assert_eq!(status, 403);

    let staff = app.login("staff@demo.yoyaku.jp").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The wrong amount is refused.
    let (status, _, body) = app
        .post_as(
            &staff,
            &path,
            None,
            &json!({"method": "cash", "amount_yen": total * 100}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["code"], "amount_mismatch");
    let (status, _, body) = app
        .post_as(
            &staff,
            &path,
            None,
            &json!({"method": "card", "amount_yen": total}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    let (status, _, body) = app.post_as(&staff, &path, None, &cash).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["booking_state"], "confirmed");
    assert_eq!(body["payment"]["provider"], "counter_cash");
    let receipt = body["payment"]["receipt_number"].as_str().unwrap();
    assert!(
        receipt.starts_with('R') && receipt.ends_with(&format!("{id:06}")),
        "{receipt}"
    );
    assert_eq!(state_of(&app, &token, id).await, "confirmed");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'payment.counter' AND subject_id = {id}"
        ))
        .await,
        1
    );
    // Paid once only.
    let (status, _, body) = app.post_as(&staff, &path, None, &cash).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body)["code"], "booking_not_payable");

    // The day's reconciliation at the facility shows it, by provider.
    let (facility, _) = main_gym(&app).await;
    let today = tokyo_date(Utc::now());
    let (status, report) = app
        .get_as(
            &staff,
            &format!("/api/v1/admin/facilities/{facility}/reconciliation?date={today}"),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["paid_yen"], total);
    assert_eq!(report["net_yen"], total);
    assert_eq!(report["by_provider"][0]["provider"], "counter_cash");
    assert_eq!(report["by_provider"][0]["payments"], 1);
    assert_eq!(report["payments"][0]["receipt_number"], receipt);
    // Unassigned staff see no other facility's money.
    let (status, _) = app
        .get_as(
            &lonely_token,
            &format!("/api/v1/admin/facilities/{facility}/reconciliation?date={today}"),
        )
        .await;
    assert_eq!(status, 403);
    // Another day is empty.
    let yesterday = tokyo_instant(today, 0) - Duration::hours(1);
    let (_, empty) = app
        .get_as(
            &staff,
            &format!(
                "/api/v1/admin/facilities/{facility}/reconciliation?date={}",
                tokyo_date(yesterday)
            ),
        )
        .await;
    assert_eq!(empty["paid_yen"], 0);
}

#[tokio::test]
async fn a_payment_that_does_not_match_the_booking_is_not_applied() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    // ×100, as if the yen were cents.
    let mut object = paid_session(&stub, &session, "pi_wrong");
    let total = object["amount_total"].as_i64().unwrap();
    object["amount_total"] = json!(total * 100);
    let (status, answer) = deliver_signed(
        &app,
        &event("evt_wrong", "checkout.session.completed", object),
    )
    .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("mismatch"))
    );
    // Another currency.
    let mut object = paid_session(&stub, &session, "pi_usd");
    object["currency"] = json!("usd");
    let (status, answer) = deliver_signed(
        &app,
        &event("evt_usd", "checkout.session.completed", object),
    )
    .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("mismatch"))
    );
    assert_eq!(state_of(&app, &token, id).await, "awaiting_payment");
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_events WHERE outcome = 'mismatch'")
            .await,
        2,
        "kept for a person to resolve"
    );
}

// ---------------------------------------------------------------------------------------------
// Cancellation by staff, counter refunds, mails, the CSV report and the data export
// ---------------------------------------------------------------------------------------------

/// A staff member assigned to no facility, and their token.
async fn unassigned_staff(app: &TestApp) -> String {
    use sea_orm::ConnectionTrait;
    let email = format!("staff-{}@test.yoyaku.jp", uuid::Uuid::new_v4().simple());
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO users (email, password_hash, display_name, role, residency, locale, email_verified_at, created_at, registration_state) \
             VALUES ('{email}', NULL, '未配属 職員', 'staff', 'resident', 'ja', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 'approved')"
        ))
        .await
        .unwrap();
    let id = app
        .count(&format!("SELECT id FROM users WHERE email = '{email}'"))
        .await as i32;
    app.keys
        .issue_access(id, yoyaku::domain::roles::Role::Staff)
        .0
}

async fn demo_token(app: &TestApp, email: &str) -> String {
    app.login(email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Mails with `template` in the outbox for the holder of `booking_id` (whose body contains
/// `needle`).
async fn mails_to_holder(app: &TestApp, booking_id: i64, template: &str, needle: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM mail_outbox m JOIN users u ON u.email = m.to_address \
         JOIN bookings b ON b.user_id = u.id \
         WHERE b.id = {booking_id} AND m.template = '{template}' AND m.body LIKE '%{needle}%'"
    ))
    .await
}

async fn staff_cancel(
    app: &TestApp,
    token: &str,
    id: i64,
    body: Value,
) -> (reqwest::StatusCode, Value) {
    let (status, _, answer) = app
        .post_as(
            token,
            &format!("/api/v1/admin/bookings/{id}/cancel"),
            None,
            &body,
        )
        .await;
    (status, answer)
}

async fn hand_back(app: &TestApp, token: &str, refund: i64) -> (reqwest::StatusCode, Value) {
    let (status, _, answer) = app
        .post_as(
            token,
            &format!("/api/v1/admin/refunds/{refund}/hand-back"),
            None,
            &json!({}),
        )
        .await;
    (status, answer)
}

/// The booking's total, as stored.
async fn booking_total(app: &TestApp, id: i64) -> i64 {
    app.count(&format!("SELECT total_yen FROM bookings WHERE id = {id}"))
        .await
}

/// Deliver Stripe's signed `checkout.session.completed` for `session`, paid by the payment
/// intent `payment_intent`, and check that it confirmed the booking.
async fn confirm_through_stripe(
    app: &TestApp,
    stub: &StripeStub,
    session: &str,
    event_id: &str,
    payment_intent: &str,
) {
    let paid = event(
        event_id,
        "checkout.session.completed",
        paid_session(stub, session, payment_intent),
    );
    assert_eq!(deliver_signed(app, &paid).await.1["outcome"], "confirmed");
}

#[tokio::test]
async fn staff_cancelling_a_paid_booking_refunds_it_in_full_through_stripe_and_mails_the_holder() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    let total = booking_total(&app, id).await;
    confirm_through_stripe(&app, &stub, &session, "evt_staff_paid", "pi_staff").await;
    // The payment is confirmed by mail, with the receipt's link.
    assert_eq!(
        mails_to_holder(
            &app,
            id,
            "payment_confirmed",
            &format!("{}/bookings/{id}/receipt", app.address)
        )
        .await,
        1
    );

    let reason = json!({"reason": "床の緊急補修のため"});
    // Residents, and staff of other facilities, may not.
    let (status, body) = staff_cancel(&app, &token, id, reason.clone()).await;
    assert_eq!(status, 403, "{body}");
    let lonely = unassigned_staff(&app).await;
    let (status, body) = staff_cancel(&app, &lonely, id, reason.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_of(&body)["code"], "forbidden");
    // A reason is required: the holder reads it.
    let staff = demo_token(&app, "staff@demo.yoyaku.jp").await;
    for bad in [
        json!({}),
        json!({"reason": "   "}),
        json!({"reason": "長".repeat(201)}),
    ] {
        let (status, body) = staff_cancel(&app, &staff, id, bad).await;
        assert!(status == 400 || status == 422, "{status} {body}");
        assert_eq!(state_of(&app, &token, id).await, "confirmed");
    }
    let (status, body) = staff_cancel(&app, &staff, id, json!({"reason": ""})).await;
    assert_eq!(status, 400);
    assert_eq!(yoyaku_tests::blamed_fields(&body), ["reason"]);

    let (status, cancelled) = staff_cancel(&app, &staff, id, reason.clone()).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["booking"]["state"], "cancelled");
    assert_eq!(cancelled["refund_percent"], 100);
    // Two days before use a resident would get nothing back; staff cancellation gives it all.
    assert_eq!(cancelled["refund_yen"], total);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM slot_claims WHERE booking_id = {id}"
        ))
        .await,
        0,
        "the slots are free"
    );

    // Through Stripe, in full, with a key.
    let refunds = stub.requests_to("POST", "/v1/refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].field("payment_intent"), Some("pi_staff"));
    assert_eq!(refunds[0].field("amount"), Some(total.to_string().as_str()));
    assert!(
        refunds[0]
            .idempotency_key
            .as_deref()
            .is_some_and(|k| k.starts_with("refund-"))
    );
    let ledger = ledger(&app, &token, id).await;
    assert_eq!(ledger["refunded_yen"], total);
    let refund = &ledger["payments"][0]["refunds"][0];
    assert_eq!(refund["reason"], "cancelled_by_staff");
    assert_eq!(refund["state"], "succeeded");
    assert_eq!(refund["handed_back_by"], Value::Null);

    // History, audit and mails.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {id} \
             AND to_state = 'cancelled' AND reason LIKE 'cancelled by staff: %'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'booking.cancel_by_staff' AND subject_id = {id}"
        ))
        .await,
        1
    );
    assert_eq!(
        mails_to_holder(
            &app,
            id,
            "booking_cancelled_by_facility",
            "床の緊急補修のため"
        )
        .await,
        1
    );
    assert_eq!(
        mails_to_holder(&app, id, "refund_made", &total.to_string()).await,
        1
    );

    // An online refund is not handed back at the counter.
    let (status, body) = hand_back(&app, &staff, refund["id"].as_i64().unwrap()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body)["code"], "not_a_counter_refund");
    // Cancelled once only.
    let (status, body) = staff_cancel(&app, &staff, id, reason).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body)["code"], "booking_not_cancellable");
    assert_eq!(stub.requests_to("POST", "/v1/refunds").len(), 1);
}

#[tokio::test]
async fn staff_cancelling_an_unpaid_booking_only_cancels_it() {
    let app = spawn_app().await;
    let (token, booking) = booked(&app, 2).await;
    let id = booking["id"].as_i64().unwrap();
    // Administrators act at every facility.
    let admin = demo_token(&app, "admin@demo.yoyaku.jp").await;
    let (status, cancelled) =
        staff_cancel(&app, &admin, id, json!({"reason": "施設点検のため"})).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["refund_yen"], 0);
    assert_eq!(state_of(&app, &token, id).await, "cancelled");
    assert_eq!(app.count("SELECT COUNT(*) FROM refunds").await, 0);
    assert_eq!(
        mails_to_holder(
            &app,
            id,
            "booking_cancelled_by_facility",
            "返金はありません"
        )
        .await,
        1
    );
    assert_eq!(mails_to_holder(&app, id, "refund_made", "").await, 0);
    // A cancelled booking can no longer be paid.
    let (status, _) = checkout(&app, &token, id).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_counter_refund_is_handed_back_by_staff_and_never_sent_to_stripe() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;
    let (token, booking) = booked(&app, 2).await;
    let id = booking["id"].as_i64().unwrap();
    let total = booking["total_yen"].as_i64().unwrap();
    let staff = demo_token(&app, "staff@demo.yoyaku.jp").await;
    let staff_id = app.get_as(&staff, "/api/v1/me").await.1["id"]
        .as_i64()
        .unwrap();
    let (status, _, paid) = app
        .post_as(
            &staff,
            &format!("/api/v1/admin/bookings/{id}/counter-payment"),
            None,
            &json!({"method": "cash", "amount_yen": total}),
        )
        .await;
    assert_eq!(status, 201, "{paid}");
    let receipt_number = paid["payment"]["receipt_number"].as_str().unwrap();
    assert_eq!(
        mails_to_holder(
            &app,
            id,
            "payment_confirmed",
            &format!("/bookings/{id}/receipt")
        )
        .await,
        1
    );
    let (status, cancelled) = staff_cancel(&app, &staff, id, json!({"reason": "停電のため"})).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["refund_yen"], total);

    // Cash is handed back at the counter, not refunded through Stripe: it waits for staff.
    assert!(stub.requests_to("POST", "/v1/refunds").is_empty());
    let ledger_before = ledger(&app, &token, id).await;
    let refund = &ledger_before["payments"][0]["refunds"][0];
    assert_eq!(refund["state"], "pending");
    assert_eq!(refund["amount_yen"], total);
    let refund_id = refund["id"].as_i64().unwrap();
    assert_eq!(mails_to_holder(&app, id, "refund_made", "").await, 0);

    // Only staff of the facility (or an administrator) record it.
    let (status, _) = hand_back(&app, &token, refund_id).await;
    assert_eq!(status, 403);
    let lonely = unassigned_staff(&app).await;
    let (status, _) = hand_back(&app, &lonely, refund_id).await;
    assert_eq!(status, 403);
    let (status, body) = hand_back(&app, &staff, 999_999).await;
    assert_eq!(status, 404, "{body}");

    let (status, handed) = hand_back(&app, &staff, refund_id).await;
    assert_eq!(status, 200, "{handed}");
    assert_eq!(handed["state"], "succeeded");
    assert_eq!(handed["handed_back_by"], staff_id);
    assert!(handed["handed_back_at"].is_string());
    // Once only.
    let (status, body) = hand_back(&app, &staff, refund_id).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body)["code"], "refund_not_pending");
    assert!(stub.requests_to("POST", "/v1/refunds").is_empty());

    let ledger = ledger(&app, &token, id).await;
    assert_eq!(ledger["refunded_yen"], total);
    let refund = &ledger["payments"][0]["refunds"][0];
    assert_eq!(refund["state"], "succeeded");
    assert_eq!(refund["handed_back_by"], staff_id);
    assert!(refund["completed_at"].is_string());
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'refund.hand_back' AND subject_id = {id}"
        ))
        .await,
        1
    );
    assert_eq!(
        mails_to_holder(&app, id, "refund_made", "窓口").await,
        1,
        "the holder is told it was handed back at the counter"
    );

    // The day's reconciliation: taken and handed back in cash, net zero; also as CSV.
    let (facility, _) = main_gym(&app).await;
    let today = tokyo_date(Utc::now());
    let path = format!("/api/v1/admin/facilities/{facility}/reconciliation?date={today}");
    let (status, report) = app.get_as(&staff, &path).await;
    assert_eq!(status, 200, "{report}");
    let cash = &report["by_provider"][0];
    assert_eq!(cash["provider"], "counter_cash");
    assert_eq!(
        (cash["payments"].as_i64(), cash["paid_yen"].as_i64()),
        (Some(1), Some(total))
    );
    assert_eq!(
        (cash["refunds"].as_i64(), cash["refunded_yen"].as_i64()),
        (Some(1), Some(total))
    );
    assert_eq!(report["net_yen"], 0);
    assert_eq!(report["payments"][0]["receipt_number"], receipt_number);

    let response = app
        .client
        .get(format!("{}{path}&format=csv", app.address))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("reconciliation-{facility}-{today}.csv"))
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 with a BOM, for Excel");
    let csv = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[0].starts_with("date,facility_id,facility_name,method,"),
        "{csv}"
    );
    assert!(
        rows[1].starts_with(&format!("{today},{facility},"))
            && rows[1].contains(&format!(
                ",counter_cash,現金（窓口）,1,{total},1,{total},0,0,0"
            )),
        "{csv}"
    );
    assert!(
        rows[2].contains(&format!(",total,合計,1,{total},1,{total},0,0,0")),
        "{csv}"
    );
    assert_eq!(rows.len(), 3, "{csv}");
    // An unknown format is refused, naming the parameter.
    let (status, _) = app.get_as(&staff, &format!("{path}&format=xlsx")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn konbini_payments_confirm_on_async_success_and_leave_the_booking_waiting_on_failure() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;

    // Completed but unpaid (konbini): nothing is applied yet.
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    let mut unpaid = paid_session(&stub, &session, "pi_konbini");
    unpaid["payment_status"] = json!("unpaid");
    let (status, answer) =
        deliver_signed(&app, &event("evt_k1", "checkout.session.completed", unpaid)).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("awaiting_async_payment"))
    );
    assert_eq!(state_of(&app, &token, id).await, "awaiting_payment");
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 0);
    // The money arrives days later.
    let (status, answer) = deliver_signed(
        &app,
        &event(
            "evt_k2",
            "checkout.session.async_payment_succeeded",
            paid_session(&stub, &session, "pi_konbini"),
        ),
    )
    .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("confirmed"))
    );
    assert_eq!(state_of(&app, &token, id).await, "confirmed");

    // Another booking whose konbini payment fails: the attempt ends, the booking keeps waiting
    // for another payment until its deadline.
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    let mut failed = paid_session(&stub, &session, "pi_konbini_failed");
    failed["payment_status"] = json!("unpaid");
    let (status, answer) = deliver_signed(
        &app,
        &event("evt_k3", "checkout.session.async_payment_failed", failed),
    )
    .await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("failed")));
    assert_eq!(state_of(&app, &token, id).await, "awaiting_payment");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM checkout_attempts WHERE provider_session_id = '{session}' AND state = 'failed'"
        ))
        .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 1);
    // It can be paid again.
    let (status, _) = checkout(&app, &token, id).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_expired_session_event_ends_the_checkout_and_keeps_the_booking() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    let mut expired = stub.session(&session).unwrap();
    expired["status"] = json!("expired");
    let (status, answer) =
        deliver_signed(&app, &event("evt_exp", "checkout.session.expired", expired)).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("expired")));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM checkout_attempts WHERE provider_session_id = '{session}' AND state = 'expired'"
        ))
        .await,
        1
    );
    assert_eq!(state_of(&app, &token, id).await, "awaiting_payment");
    // A session we never opened is acknowledged and changes nothing.
    let (status, answer) = deliver_signed(
        &app,
        &event(
            "evt_exp_other",
            "checkout.session.expired",
            json!({"id": "cs_test_not_ours", "object": "checkout.session"}),
        ),
    )
    .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("unknown_session"))
    );
}

#[tokio::test]
async fn refunds_made_in_stripe_directly_join_the_ledger_but_never_beyond_the_payment() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    let total = booking_total(&app, id).await;
    confirm_through_stripe(&app, &stub, &session, "evt_ext_paid", "pi_ext").await;
    let part = total / 2;
    assert!(part > 0 && part < total);
    let charge = |refunds: Value| {
        json!({"id": "ch_ext", "object": "charge", "payment_intent": "pi_ext", "amount": total,
               "refunds": {"object": "list", "data": refunds}})
    };
    // A partial refund made in Stripe's dashboard (no metadata of ours).
    let first = charge(json!([{"id": "re_dash_1", "amount": part, "status": "succeeded"}]));
    let (status, answer) =
        deliver_signed(&app, &event("evt_ext_1", "charge.refunded", first)).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("refunds_reconciled"))
    );
    let ledger_now = ledger(&app, &token, id).await;
    let payment = &ledger_now["payments"][0];
    assert_eq!(payment["refunded_yen"], part);
    assert_eq!(payment["refunds"][0]["reason"], "external");
    assert_eq!(payment["refunds"][0]["amount_yen"], part);
    assert_eq!(payment["refunds"][0]["provider_refund_id"], "re_dash_1");
    assert_eq!(
        ledger_now["booking_state"], "confirmed",
        "a partial refund keeps the booking"
    );
    assert_eq!(
        mails_to_holder(&app, id, "refund_made", &part.to_string()).await,
        1
    );

    // Stripe lists every refund of the charge each time: the known one is not added again, and
    // one that would give back more than was paid is refused for a person to resolve.
    let second = charge(json!([
        {"id": "re_dash_1", "amount": part, "status": "succeeded"},
        {"id": "re_dash_2", "amount": total, "status": "succeeded"}
    ]));
    let (status, answer) =
        deliver_signed(&app, &event("evt_ext_2", "charge.refunded", second)).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("mismatch"))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM refunds").await, 1);
    assert_eq!(
        ledger(&app, &token, id).await["payments"][0]["refunded_yen"],
        part
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_events WHERE outcome = 'mismatch'")
            .await,
        1,
        "kept for a person to resolve"
    );
}

#[tokio::test]
async fn a_signature_header_with_several_v1_values_is_accepted_when_one_matches() {
    let stub = StripeStub::start().await;
    let app = stripe_app(&stub).await;
    let (token, id, session) = stripe_checkout(&app, &stub).await;
    let body = event(
        "evt_rotated",
        "checkout.session.completed",
        paid_session(&stub, &session, "pi_rotated"),
    );
    let now = Utc::now().timestamp();
    let genuine = signature::sign(&body, WEBHOOK_SECRET, now);
    let v1 = genuine.split_once(",v1=").unwrap().1;
    let wrong_only = format!("t={now},v1={},v1={}", "00".repeat(32), "11".repeat(32));
    let (status, _) = deliver(&app, &body, &wrong_only).await;
    assert_eq!(status, 400);
    let several = format!("t={now},v1={},v1={v1}", "00".repeat(32));
    let (status, answer) = deliver(&app, &body, &several).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("confirmed"))
    );
    assert_eq!(state_of(&app, &token, id).await, "confirmed");
}

#[tokio::test]
async fn my_data_export_lists_my_payments_and_refunds() {
    let app = spawn_app().await;
    let (token, booking) = booked(&app, 2).await;
    let id = booking["id"].as_i64().unwrap();
    let total = booking["total_yen"].as_i64().unwrap();
    pay_embedded(&app, &token, id).await;
    let staff = demo_token(&app, "staff@demo.yoyaku.jp").await;
    let (status, _) = staff_cancel(&app, &staff, id, json!({"reason": "設備故障のため"})).await;
    assert_eq!(status, 200);
    let (status, export) = app.get_as(&token, "/api/v1/me/export").await;
    assert_eq!(status, 200, "{export}");
    let mine = export["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .expect("the booking");
    let payment = &mine["payments"][0];
    assert_eq!(payment["provider"], "embedded");
    assert_eq!(payment["amount_yen"], total);
    assert_eq!(payment["refunds"][0]["amount_yen"], total);
    assert_eq!(payment["refunds"][0]["reason"], "cancelled_by_staff");
    assert_eq!(payment["refunds"][0]["state"], "succeeded");
}

#[tokio::test]
async fn a_closure_cancels_a_list_of_bookings_in_one_transaction_and_skips_those_already_ended() {
    use yoyaku::services::cancellations::{
        FacilityCancellation, FacilitySide, Outcome, cancel_in_full_within,
    };
    let app = spawn_app().await;
    let (paid_token, paid) = booked(&app, 2).await;
    let paid_id = paid["id"].as_i64().unwrap();
    let total = paid["total_yen"].as_i64().unwrap();
    pay_embedded(&app, &paid_token, paid_id).await;
    let (gone_token, gone) = booked(&app, 2).await;
    let gone_id = gone["id"].as_i64().unwrap();
    let (status, _, _) = app
        .post_as(
            &gone_token,
            &format!("/api/v1/bookings/{gone_id}/cancel"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);

    let txn = yoyaku::db::begin_write(&app.db).await.unwrap();
    let outcomes = cancel_in_full_within(
        &txn,
        &RefundPolicy::default(),
        &[gone_id, 999_999, paid_id],
        FacilityCancellation {
            side: FacilitySide::Closure,
            actor: None,
            reason: "台風のため臨時休館",
        },
        Utc::now(),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let mut expected = vec![
        Outcome::Cancelled {
            booking_id: paid_id,
            refund_yen: total,
        },
        Outcome::Unchanged {
            booking_id: gone_id,
            state: "cancelled".into(),
        },
        Outcome::Missing {
            booking_id: 999_999,
        },
    ];
    expected.sort_by_key(|o| match o {
        Outcome::Cancelled { booking_id, .. }
        | Outcome::Unchanged { booking_id, .. }
        | Outcome::Missing { booking_id } => *booking_id,
    });
    assert_eq!(outcomes, expected);
    assert_eq!(state_of(&app, &paid_token, paid_id).await, "cancelled");
    let ledger = ledger(&app, &paid_token, paid_id).await;
    assert_eq!(
        ledger["payments"][0]["refunds"][0]["reason"],
        "cancelled_by_closure"
    );
    assert_eq!(ledger["refunded_yen"], total);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM booking_events WHERE booking_id = {paid_id} \
             AND reason = 'cancelled for a closure: 台風のため臨時休館'"
        ))
        .await,
        1
    );
    assert_eq!(
        mails_to_holder(&app, paid_id, "booking_cancelled_by_facility", "台風").await,
        1
    );
    assert_eq!(
        mails_to_holder(&app, gone_id, "booking_cancelled_by_facility", "").await,
        0
    );
}

#[tokio::test]
async fn two_staff_handing_back_one_counter_refund_at_once_record_it_once() {
    let app = Arc::new(spawn_app().await);
    let (token, booking) = booked(&app, 2).await;
    let id = booking["id"].as_i64().unwrap();
    let total = booking["total_yen"].as_i64().unwrap();
    let staff = demo_token(&app, "staff@demo.yoyaku.jp").await;
    let (status, _, _) = app
        .post_as(
            &staff,
            &format!("/api/v1/admin/bookings/{id}/counter-payment"),
            None,
            &json!({"method": "terminal", "amount_yen": total}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = staff_cancel(&app, &staff, id, json!({"reason": "空調故障のため"})).await;
    assert_eq!(status, 200);
    let refund = ledger(&app, &token, id).await["payments"][0]["refunds"][0]["id"]
        .as_i64()
        .unwrap();
    let admin = demo_token(&app, "admin@demo.yoyaku.jp").await;
    let barrier = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = [staff, admin]
        .into_iter()
        .map(|who| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                hand_back(&app, &who, refund).await.0.as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM counter_refund_handovers WHERE refund_id = {refund}"
        ))
        .await,
        1
    );
    assert_eq!(mails_to_holder(&app, id, "refund_made", "").await, 1);
}
