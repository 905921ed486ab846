//! Mail delivery: the outbox job hands mail to an SMTP server (a local stub), retries failures
//! with backoff, gives up after the configured attempts, never sends one mail twice however many
//! senders run, and without SMTP leaves mail readable through `yoyaku outbox`.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::json;
use yoyaku::config::Settings;
use yoyaku::jobs::mail_delivery::{DeliveryReport, MailDelivery};
use yoyaku::services::mail::{self, AfterFailure, DeliveryStatus};
use yoyaku_tests::smtp::{Behaviour, SmtpStub};
use yoyaku_tests::{TestApp, spawn_app, spawn_app_with};

/// Settings that send through `stub`.
fn smtp_settings(stub: &SmtpStub) -> Settings {
    Settings {
        smtp_url: Some(stub.url().into()),
        mail_from: "横浜市 施設予約 <noreply@test.yoyaku.jp>".into(),
        ..Settings::default()
    }
}

fn delivery(settings: &Settings) -> MailDelivery {
    MailDelivery::from_settings(settings)
        .expect("usable mail settings")
        .expect("smtp_url is set")
}

/// The present, to whole seconds (both databases then store it exactly).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Put a verification mail to `to` in the outbox and return its id.
async fn enqueue(app: &TestApp, to: &str, at: DateTime<Utc>) -> i64 {
    let message = mail::verify_email("ja", "港 次郎", "http://x/verify-email?token=abc");
    mail::enqueue(&app.db, to, "ja", message, at)
        .await
        .expect("enqueue");
    mail::list(&app.db, 1).await.expect("list")[0].id
}

async fn row(app: &TestApp, id: i64) -> yoyaku::entities::mail_outbox::Model {
    mail::find(&app.db, id)
        .await
        .expect("read the outbox")
        .expect("the mail is kept")
}

#[tokio::test]
async fn a_registrations_verification_mail_reaches_the_smtp_server_and_its_link_works() {
    let stub = SmtpStub::start(Behaviour::Accept).await;
    let settings = smtp_settings(&stub);
    let app = spawn_app_with(|s| {
        s.smtp_url = settings.smtp_url.clone();
        s.mail_from = settings.mail_from.clone();
    })
    .await;
    let email = "hanako.mail@example.jp";
    let application = json!({
        "email": email,
        "password": "blue heron paints the harbour",
        "name": "港 花子",
        "name_kana": "みなと はなこ",
        "date_of_birth": "1990-04-01",
        "postal_code": "231-0017",
        "address": "横浜市中区港町1-1",
        "phone": "045-671-2121",
        "residency": "resident",
        "locale": "ja"
    });
    let (status, answer) = app.post_json("/api/v1/auth/register", &application).await;
    assert_eq!(status, 202, "{answer}");
    assert!(
        stub.received().is_empty(),
        "nothing is sent inside the request"
    );

    let report = delivery(&settings).run_once(&app.db, now()).await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");

    let received = stub.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.mail_from, "noreply@test.yoyaku.jp");
    assert_eq!(message.rcpt_to, vec![email.to_owned()]);
    assert!(
        message
            .header("From")
            .unwrap()
            .contains("noreply@test.yoyaku.jp")
    );
    let message_id = message.header("Message-ID").expect("a Message-ID");
    assert!(message_id.ends_with("@test.yoyaku.jp>"), "{message_id}");
    assert_eq!(message.subject(), "【Yoyaku】メールアドレスの確認");
    let text = message.text();
    assert!(text.contains("港 花子 様"), "{text}");
    let start = text.find("token=").expect("a link with a token") + "token=".len();
    let token = text[start..].split_whitespace().next().unwrap();
    let (status, verified) = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(status, 200, "the mailed link works: {verified}");
    assert_eq!(verified["registration_state"], "pending_review");

    let sent = &mail::list(&app.db, 10).await.unwrap()[0];
    assert_eq!(sent.status, DeliveryStatus::Sent);
    assert_eq!(sent.attempts, 1);
    // A sent mail is done with: the next pass finds nothing.
    let again = delivery(&settings).run_once(&app.db, now()).await.unwrap();
    assert_eq!(again, DeliveryReport::default());
    assert_eq!(stub.received().len(), 1);
}

#[tokio::test]
async fn a_refusing_server_costs_an_attempt_and_the_mail_is_retried_after_its_backoff() {
    let app = spawn_app().await;
    let stub = SmtpStub::start(Behaviour::RefuseRecipients).await;
    let sender = delivery(&smtp_settings(&stub));
    let t0 = now();
    let id = enqueue(&app, "refused@example.jp", t0).await;

    let report = sender.run_once(&app.db, t0).await.unwrap();
    assert_eq!(report.retrying, 1, "{report:?}");
    let failed = row(&app, id).await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.sent_at.is_none() && failed.failed_at.is_none());
    let error = failed.last_error.clone().expect("the error is kept");
    assert!(error.contains("550"), "{error}");
    let retry_at = failed.next_attempt_at.expect("a next attempt");
    assert_eq!(retry_at, t0 + mail::retry_delay(1));
    assert!(failed.claim_token.is_none(), "the claim is released");

    // Before its backoff is over the mail is left alone.
    let early = sender
        .run_once(&app.db, retry_at - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(early, DeliveryReport::default());
    assert_eq!(stub.connections(), 1);

    // The server takes mail again; at its time the mail goes, and the error is cleared.
    stub.set_behaviour(Behaviour::Accept);
    let report = sender.run_once(&app.db, retry_at).await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let sent = row(&app, id).await;
    assert_eq!(sent.attempts, 2);
    assert_eq!(sent.sent_at, Some(retry_at));
    assert!(sent.last_error.is_none() && sent.next_attempt_at.is_none());
    assert_eq!(stub.received().len(), 1);
    assert_eq!(stub.received()[0].rcpt_to, vec!["refused@example.jp"]);
}

#[tokio::test]
async fn a_server_that_hangs_up_fails_the_attempt_and_the_last_attempt_gives_the_mail_up() {
    let app = spawn_app().await;
    let stub = SmtpStub::start(Behaviour::HangUp).await;
    let sender = delivery(&Settings {
        mail_max_attempts: 2,
        ..smtp_settings(&stub)
    });
    let t0 = now();
    let id = enqueue(&app, "nobody-home@example.jp", t0).await;

    let first = sender.run_once(&app.db, t0).await.unwrap();
    assert_eq!(first.retrying, 1, "{first:?}");
    let after_first = row(&app, id).await;
    assert_eq!(after_first.attempts, 1);
    assert!(after_first.last_error.is_some());

    let second = sender
        .run_once(&app.db, after_first.next_attempt_at.unwrap())
        .await
        .unwrap();
    assert_eq!(second.given_up, 1, "{second:?}");
    let given_up = row(&app, id).await;
    assert_eq!(given_up.attempts, 2);
    assert!(given_up.failed_at.is_some() && given_up.sent_at.is_none());
    assert!(given_up.last_error.is_some(), "kept with its reason");
    assert_eq!(DeliveryStatus::of(&given_up), DeliveryStatus::Failed);
    assert_eq!(stub.connections(), 2);

    // Given up is final: later passes leave it, and it stays visible.
    let later = sender
        .run_once(&app.db, t0 + chrono::Duration::days(7))
        .await
        .unwrap();
    assert_eq!(later, DeliveryReport::default());
    assert_eq!(stub.connections(), 2);
    assert_eq!(
        mail::list(&app.db, 5).await.unwrap()[0].status,
        DeliveryStatus::Failed
    );
}

#[tokio::test]
async fn a_mail_to_an_address_that_cannot_be_used_is_given_up_at_once() {
    let app = spawn_app().await;
    let stub = SmtpStub::start(Behaviour::Accept).await;
    let id = enqueue(&app, "not an address", now()).await;
    let report = delivery(&smtp_settings(&stub))
        .run_once(&app.db, now())
        .await
        .unwrap();
    assert_eq!(report.given_up, 1, "{report:?}");
    let mail = row(&app, id).await;
    assert_eq!(DeliveryStatus::of(&mail), DeliveryStatus::Failed);
    assert!(mail.last_error.unwrap().contains("recipient"));
    assert_eq!(stub.connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_senders_working_the_outbox_at_once_send_each_mail_exactly_once() {
    let app = spawn_app().await;
    let stub = SmtpStub::start(Behaviour::Accept).await;
    let settings = smtp_settings(&stub);
    let t0 = now();
    let recipients: Vec<String> = (0..12).map(|n| format!("person{n}@example.jp")).collect();
    for to in &recipients {
        enqueue(&app, to, t0).await;
    }
    // A second instance: its own pool on the same database.
    let other_db = yoyaku::db::connect(&Settings {
        database_url: app.database.url.clone(),
        ..Settings::default()
    })
    .await
    .unwrap();
    let (a, b) = (delivery(&settings), delivery(&settings));
    let db = app.db.clone();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let (first, second) = {
        let (ba, bb) = (barrier.clone(), barrier.clone());
        let one = tokio::spawn(async move {
            ba.wait().await;
            a.run_once(&db, t0).await
        });
        let two = tokio::spawn(async move {
            bb.wait().await;
            b.run_once(&other_db, t0).await
        });
        (one.await.unwrap().unwrap(), two.await.unwrap().unwrap())
    };
    assert_eq!(first.sent + second.sent, 12, "{first:?} {second:?}");
    assert_eq!(
        first.retrying + second.retrying + first.given_up + second.given_up,
        0
    );

    let mut delivered: Vec<String> = stub
        .received()
        .into_iter()
        .flat_map(|m| m.rcpt_to)
        .collect();
    delivered.sort();
    let mut expected = recipients.clone();
    expected.sort();
    assert_eq!(delivered, expected, "every mail once, none twice");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NOT NULL AND attempts = 1")
            .await,
        12
    );
}

#[tokio::test]
async fn a_live_claim_keeps_other_senders_away_and_a_lapsed_one_is_taken_over() {
    let app = spawn_app().await;
    let stub = SmtpStub::start(Behaviour::Accept).await;
    let sender = delivery(&smtp_settings(&stub));
    let t0 = now();
    let id = enqueue(&app, "claimed@example.jp", t0).await;
    // A sender takes the mail and then dies without a word.
    let taken = mail::claim(&app.db, id, "dead-sender", t0).await.unwrap();
    assert!(taken.is_some());
    assert!(
        mail::claim(&app.db, id, "someone-else", t0)
            .await
            .unwrap()
            .is_none(),
        "a claimed mail cannot be claimed again"
    );

    let during = sender
        .run_once(&app.db, t0 + chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(during, DeliveryReport::default());
    assert!(stub.received().is_empty());

    let after = sender
        .run_once(&app.db, t0 + mail::CLAIM_LEASE)
        .await
        .unwrap();
    assert_eq!(after.sent, 1, "{after:?}");
    assert_eq!(stub.received().len(), 1);
    // The dead sender, should it wake, cannot overwrite what the new one recorded.
    let stale = row(&app, id).await;
    assert!(
        !mail::mark_sent(&app.db, &stale, "dead-sender", t0)
            .await
            .unwrap()
    );
    let outcome = mail::mark_failed(&app.db, &stale, "dead-sender", "late", 8, false, t0)
        .await
        .unwrap();
    assert_eq!(outcome, AfterFailure::ClaimLost);
    let kept = row(&app, id).await;
    assert_eq!(kept.sent_at, Some(t0 + mail::CLAIM_LEASE));
    assert!(kept.last_error.is_none());
}

#[tokio::test]
async fn without_smtp_mail_stays_in_the_outbox_listed_and_readable_in_full() {
    assert!(
        MailDelivery::from_settings(&Settings::default())
            .unwrap()
            .is_none(),
        "no smtp_url: no sender"
    );
    let app = spawn_app().await;
    let t0 = now();
    let failed = enqueue(&app, "gone@example.jp", t0).await;
    let sent = enqueue(&app, "sent@example.jp", t0).await;
    let pending = enqueue(&app, "waiting@example.jp", t0).await;
    // One sent, one given up, one still waiting.
    let mail = mail::claim(&app.db, sent, "t1", t0).await.unwrap().unwrap();
    assert!(mail::mark_sent(&app.db, &mail, "t1", t0).await.unwrap());
    let mail = mail::claim(&app.db, failed, "t2", t0)
        .await
        .unwrap()
        .unwrap();
    let outcome = mail::mark_failed(&app.db, &mail, "t2", "550 refused", 1, false, t0)
        .await
        .unwrap();
    assert_eq!(outcome, AfterFailure::GivenUp);

    let listed = mail::list(&app.db, 10).await.unwrap();
    let ours: Vec<(i64, &str, &str)> = listed
        .iter()
        .filter(|m| [failed, sent, pending].contains(&m.id))
        .map(|m| (m.id, m.to.as_str(), m.status.code()))
        .collect();
    assert_eq!(
        ours,
        vec![
            (pending, "waiting@example.jp", "pending"),
            (sent, "sent@example.jp", "sent"),
            (failed, "gone@example.jp", "failed"),
        ],
        "newest first, each with its state"
    );
    assert_eq!(listed[0].template, "verify_email");
    assert_eq!(mail::list(&app.db, 2).await.unwrap().len(), 2, "--limit");

    let full = mail::find(&app.db, pending).await.unwrap().unwrap();
    assert!(full.body.contains("http://x/verify-email?token=abc"));
    assert_eq!(full.subject, "【Yoyaku】メールアドレスの確認");
    assert!(mail::find(&app.db, pending + 1000).await.unwrap().is_none());
}

#[test]
fn a_bad_smtp_url_is_refused_without_repeating_its_password() {
    let settings = Settings {
        smtp_url: Some("smtpx://user:hunter2@mail.example.jp".to_owned().into()),
        ..Settings::default()
    };
    let error = MailDelivery::from_settings(&settings)
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("smtp_url"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");

    let settings = Settings {
        smtp_url: Some("smtp://127.0.0.1:2525".to_owned().into()),
        mail_from: "not a mailbox".into(),
        ..Settings::default()
    };
    assert!(MailDelivery::from_settings(&settings).is_err());
}
