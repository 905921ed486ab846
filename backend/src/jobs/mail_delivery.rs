//! Works the mail outbox: when `smtp_url` is set, sends each due mail over SMTP (lettre, tokio,
//! rustls), retrying failures with backoff and giving a mail up after `mail_max_attempts`.
//! Without `smtp_url` it is not started, and mail stays in the outbox for `yoyaku outbox`.
//!
//! Any number of instances may run this job on one database: each mail is claimed first
//! (`services::mail::claim`), so only one instance sends it. Logs name outbox ids only, never an
//! address, a body or an SMTP answer (which can quote the address); the error is kept in the
//! row's `last_error`.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::{DatabaseConnection, DbErr};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::entities::mail_outbox;
use crate::services::mail::{self, AfterFailure};

/// How often the outbox is looked at (`jobs::runner` schedules the runs).
pub const EVERY: Duration = Duration::from_secs(10);

/// Mails claimed per pass; a full pass is followed by another at once.
const BATCH: u64 = 50;

/// One SMTP exchange may take this long before it counts as a failed attempt. Far shorter than
/// the claim lease, so a slow server never lets a second instance take the same mail.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Mails handed to the SMTP server.
    pub sent: u32,
    /// Attempts that failed and will be retried.
    pub retrying: u32,
    /// Attempts that failed for the last time.
    pub given_up: u32,
}

impl DeliveryReport {
    /// Mails this pass claimed.
    pub fn claimed(&self) -> u32 {
        self.sent + self.retrying + self.given_up
    }
}

/// The SMTP transport and the delivery policy, built from the settings.
#[derive(Clone)]
pub struct MailDelivery {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    max_attempts: u32,
}

impl MailDelivery {
    /// `None` when `smtp_url` is not set (mail stays in the outbox). An error when it or
    /// `mail_from` cannot be used; the message never repeats the URL, which may hold a password.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<MailDelivery>> {
        let Some(url) = settings.smtp_url.as_ref() else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|_| {
                anyhow::anyhow!(
                    "smtp_url is not a usable SMTP URL (smtp://host:port, smtp://host?tls=required or smtps://user:password@host)"
                )
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = settings
            .mail_from
            .parse::<Mailbox>()
            .with_context(|| format!("mail_from `{}` is not a mail address", settings.mail_from))?;
        anyhow::ensure!(
            settings.mail_max_attempts >= 1,
            "mail_max_attempts must be at least 1"
        );
        Ok(Some(MailDelivery {
            transport,
            from,
            max_attempts: settings.mail_max_attempts,
        }))
    }

    /// One run of the job (`jobs::runner`): passes until the outbox has nothing due, so a
    /// backlog goes out at once rather than a batch per period. Returns the mails claimed.
    pub async fn drain(&self, db: &DatabaseConnection) -> Result<u64, DbErr> {
        let mut claimed = 0u64;
        loop {
            let report = self.run_once(db, Utc::now()).await?;
            if report.claimed() > 0 {
                tracing::info!(
                    job = "mail_delivery",
                    mail.sent = report.sent,
                    mail.retrying = report.retrying,
                    mail.given_up = report.given_up,
                    "mail outbox worked"
                );
            }
            claimed += u64::from(report.claimed());
            if u64::from(report.claimed()) < BATCH {
                return Ok(claimed);
            }
        }
    }

    /// One pass at `now`: claim the due mails one by one and send each claimed one. Safe to run
    /// on several instances (or twice in one) at the same time: a mail is sent by one of them.
    pub async fn run_once(
        &self,
        db: &DatabaseConnection,
        now: DateTime<Utc>,
    ) -> Result<DeliveryReport, DbErr> {
        let mut report = DeliveryReport::default();
        for id in mail::due(db, now, BATCH).await? {
            let token = uuid::Uuid::new_v4().simple().to_string();
            let Some(claimed) = mail::claim(db, id, &token, now).await? else {
                continue;
            };
            match self.send(&claimed).await {
                Ok(()) => {
                    if !mail::mark_sent(db, &claimed, &token, now).await? {
                        tracing::warn!(
                            job = "mail_delivery",
                            outbox.id = id,
                            "mail sent after its claim ran out; another sender may send it again"
                        );
                    }
                    report.sent += 1;
                }
                Err(failure) => {
                    let after = mail::mark_failed(
                        db,
                        &claimed,
                        &token,
                        &failure.message,
                        self.max_attempts,
                        failure.permanent,
                        now,
                    )
                    .await?;
                    let attempts = claimed.attempts.saturating_add(1);
                    match after {
                        AfterFailure::RetryAt(at) => {
                            tracing::warn!(
                                job = "mail_delivery",
                                outbox.id = id,
                                mail.attempts = attempts,
                                mail.failure = failure.kind,
                                mail.next_attempt_at = %at,
                                "mail not sent; will retry"
                            );
                            report.retrying += 1;
                        }
                        AfterFailure::GivenUp => {
                            tracing::error!(
                                job = "mail_delivery",
                                outbox.id = id,
                                mail.attempts = attempts,
                                mail.failure = failure.kind,
                                "mail not sent; given up (see `yoyaku outbox show`)"
                            );
                            report.given_up += 1;
                        }
                        AfterFailure::ClaimLost => {}
                    }
                }
            }
        }
        Ok(report)
    }

    /// Hand one mail to the SMTP server.
    async fn send(&self, mail: &mail_outbox::Model) -> Result<(), Failure> {
        let message = self.message(mail)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| Failure {
                kind: if error.is_permanent() {
                    "smtp_permanent"
                } else if error.is_transient() {
                    "smtp_transient"
                } else if error.is_timeout() {
                    "timeout"
                } else {
                    "connection"
                },
                message: error.to_string(),
                // Even a 5xx answer is retried: a relay that refuses everything (wrong
                // credentials, a full quota) is fixed by people, and the mail should then go.
                permanent: false,
            })
    }

    /// The mail as a MIME message: plain text in UTF-8, base64 (Japanese text does not fit 7-bit).
    fn message(&self, mail: &mail_outbox::Model) -> Result<Message, Failure> {
        let to = mail
            .to_address
            .parse::<Address>()
            .map_err(|error| Failure::unsendable(format!("the recipient address: {error}")))?;
        // The same Message-ID on every attempt of one mail, so that a receiver can drop a copy
        // should a mail ever go twice (a sender whose lease ran out mid-send).
        let message_id = format!(
            "<outbox-{}-{}@{}>",
            mail.id,
            mail.created_at.timestamp(),
            self.from.email.domain()
        );
        Message::builder()
            .message_id(Some(message_id))
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(mail.subject.clone())
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::Base64)
                    .body(mail.body.clone()),
            )
            .map_err(|error| Failure::unsendable(format!("the message: {error}")))
    }
}

/// Why an attempt failed.
struct Failure {
    /// A short class for the log (never the SMTP answer itself).
    kind: &'static str,
    /// Stored in `last_error`.
    message: String,
    /// No retry can help (the stored address or message cannot be built): give up at once.
    permanent: bool,
}

impl Failure {
    fn unsendable(message: String) -> Failure {
        Failure {
            kind: "unsendable",
            message,
            permanent: true,
        }
    }
}
