//! Runs each background job once per period across all instances (`services::job_leases`): every
//! instance looks now and then whether a job is due, one of them takes its lease and runs it,
//! renewing the lease meanwhile, and records the run. On shutdown a running job is stopped, its
//! run recorded as `interrupted` and its lease released, so another instance runs it at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;

use crate::services::job_leases::{self, Outcome};
use crate::state::AppState;

/// One run's work: what it processed, or why it failed.
pub type RunFuture = Pin<Box<dyn Future<Output = anyhow::Result<u64>> + Send>>;

/// A background job: its name (the lease and the metrics label), its period and its work.
pub struct Job {
    pub name: &'static str,
    pub every: Duration,
    pub work: Box<dyn Fn() -> RunFuture + Send + Sync>,
}

/// How often an instance looks whether a job is due, at most. A job due while all instances
/// are between looks waits this long.
const LOOK_EVERY: Duration = Duration::from_secs(15);

/// A failed run is tried again after this, or its period if that is shorter.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// The service's jobs. Mail delivery only with SMTP configured (otherwise mail stays in the
/// outbox for `yoyaku outbox`).
pub fn jobs(
    state: &AppState,
    mail_delivery: Option<crate::jobs::mail_delivery::MailDelivery>,
) -> Vec<Job> {
    use crate::jobs::{
        no_shows, payment_deadlines, refunds, registration_reminders, slot_generation,
    };
    let mut jobs = Vec::new();
    let (db, window) = (state.db.clone(), state.settings.slot_window_days);
    jobs.push(Job {
        name: "slot_generation",
        every: slot_generation::EVERY,
        work: Box::new(move || {
            let db = db.clone();
            Box::pin(async move { Ok(slot_generation::pass(&db, window).await?) })
        }),
    });
    let db = state.db.clone();
    jobs.push(Job {
        name: "payment_deadlines",
        every: payment_deadlines::EVERY,
        work: Box::new(move || {
            let db = db.clone();
            Box::pin(async move { Ok(payment_deadlines::pass(&db).await?) })
        }),
    });
    let (db, provider) = (state.db.clone(), state.payments.clone());
    jobs.push(Job {
        name: "refunds",
        every: refunds::EVERY,
        work: Box::new(move || {
            let (db, provider) = (db.clone(), provider.clone());
            Box::pin(async move { refunds::pass(&db, &provider).await })
        }),
    });
    let (db, settings) = (state.db.clone(), state.settings.clone());
    jobs.push(Job {
        name: "registration_reminders",
        every: registration_reminders::EVERY,
        work: Box::new(move || {
            let (db, settings) = (db.clone(), settings.clone());
            Box::pin(async move { Ok(registration_reminders::pass(&db, &settings).await?) })
        }),
    });
    let (db, rules) = (state.db.clone(), state.rules.clone());
    jobs.push(Job {
        name: "no_shows",
        every: no_shows::EVERY,
        work: Box::new(move || {
            let (db, rules) = (db.clone(), rules.clone());
            Box::pin(async move { Ok(no_shows::pass(&db, &rules).await?) })
        }),
    });
    let db = state.db.clone();
    jobs.push(Job {
        name: "lottery",
        every: crate::jobs::lottery::EVERY,
        work: Box::new(move || {
            let db = db.clone();
            Box::pin(async move { crate::jobs::lottery::pass(&db).await })
        }),
    });
    match mail_delivery {
        Some(delivery) => {
            let db = state.db.clone();
            let delivery = Arc::new(delivery);
            jobs.push(Job {
                name: "mail_delivery",
                every: crate::jobs::mail_delivery::EVERY,
                work: Box::new(move || {
                    let (db, delivery) = (db.clone(), delivery.clone());
                    Box::pin(async move { Ok(delivery.drain(&db).await?) })
                }),
            });
        }
        None => {
            tracing::info!("smtp_url is not set: mail stays in the outbox (`yoyaku outbox list`)")
        }
    }
    jobs
}

/// This instance's name in leases and runs: `YOYAKU_INSTANCE_ID`, or the host name (the pod's
/// name on Kubernetes), the process id and a random suffix, so a restarted process is new.
pub fn instance_id(configured: Option<&str>) -> String {
    if let Some(id) = configured.filter(|id| !id.trim().is_empty()) {
        return id.trim().to_owned();
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "yoyaku".to_owned());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &suffix[..8])
}

/// Run `job` until `stop` turns true: look whether it is due, run it under its lease, repeat.
pub async fn run(
    db: DatabaseConnection,
    job: Job,
    holder: Arc<str>,
    lease: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let look_every = job.every.min(LOOK_EVERY);
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(error) = run_if_due(&db, &job, &holder, lease, &mut stop).await {
            tracing::warn!(job = job.name, error = %error, "job lease not taken or not recorded");
        }
        tokio::select! {
            () = tokio::time::sleep(look_every) => {}
            () = stopped(&mut stop) => return,
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone, which also means stop).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// One look: if the job is due and its lease free, take it, run the job, record and release.
async fn run_if_due(
    db: &DatabaseConnection,
    job: &Job,
    holder: &str,
    lease: Duration,
    stop: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let lease_span = chrono::Duration::from_std(lease)?;
    if !job_leases::try_acquire(db, job.name, holder, lease_span, Utc::now()).await? {
        return Ok(());
    }
    let run_id = match job_leases::start_run(db, job.name, holder, Utc::now()).await {
        Ok(id) => id,
        Err(error) => {
            job_leases::release(db, job.name, holder, None, Utc::now()).await?;
            return Err(error.into());
        }
    };
    let started = std::time::Instant::now();
    // In a block of its own so that a stopped job's future is dropped (and its transaction
    // rolled back, freeing SQLite's write lock) before the run and the lease are written below.
    let result = {
        let work = (job.work)();
        tokio::pin!(work);
        // Renew well before the lease runs out; a missed renewal or two still leaves it held.
        let mut renew = tokio::time::interval(lease / 3);
        renew.tick().await;
        loop {
            tokio::select! {
                result = &mut work => break Some(result),
                _ = renew.tick() => {
                    match job_leases::renew(db, job.name, holder, lease_span, Utc::now()).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(
                            job = job.name,
                            "job lease lost during a run; another instance may run it too"
                        ),
                        Err(error) => tracing::warn!(job = job.name, error = %error, "job lease not renewed"),
                    }
                }
                () = stopped(stop) => break None,
            }
        }
    };
    let now = Utc::now();
    let every = chrono::Duration::from_std(job.every)?;
    let (outcome, processed, next_due) = match result {
        Some(Ok(processed)) => (Outcome::Ok, processed, Some(now + every)),
        Some(Err(error)) => {
            tracing::error!(
                job = job.name,
                error = format!("{error:#}"),
                "job run failed"
            );
            let retry = chrono::Duration::from_std(job.every.min(RETRY_AFTER_FAILURE))?;
            (Outcome::Failed, 0, Some(now + retry))
        }
        None => {
            tracing::info!(
                job = job.name,
                "shutting down: job run stopped, lease released"
            );
            (Outcome::Interrupted, 0, None)
        }
    };
    metrics::counter!("yoyaku_job_runs_total", "job" => job.name, "outcome" => outcome.code())
        .increment(1);
    metrics::histogram!("yoyaku_job_run_duration_seconds", "job" => job.name)
        .record(started.elapsed().as_secs_f64());
    job_leases::finish_run(db, run_id, outcome, processed, now).await?;
    job_leases::release(db, job.name, holder, next_due, now).await?;
    Ok(())
}
