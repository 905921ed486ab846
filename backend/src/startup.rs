//! Building the application: connect, migrate, seed the demo city on an empty database, bind the
//! listener (so the port is known before serving), then serve until a shutdown signal, finishing
//! requests in flight.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::auth::{LoginThrottle, SessionKeys};
use crate::config::Settings;
use crate::services::seed::{self, CityFixture, SeedOptions};
use crate::state::AppState;
use crate::{db, router};

/// A built, bound application, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// The SMTP sender, when `smtp_url` is set.
    mail_delivery: Option<crate::jobs::mail_delivery::MailDelivery>,
}

/// The demo accounts' password unless `YOYAKU_DEMO_PASSWORD` sets another.
pub const DEFAULT_DEMO_PASSWORD: &str = "yoyaku-demo";

impl Application {
    /// Connect, migrate, seed (demo mode, empty database) and bind.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db = db::connect(&settings)
            .await
            .context("connecting to the database")?;
        db::migrate(&db).await.context("applying migrations")?;
        if settings.demo_enabled() && seed::is_empty(&db).await? {
            let fixture = CityFixture::demo()?;
            let options = SeedOptions {
                demo_users: true,
                demo_password: demo_password(&settings),
            };
            let report = seed::load_city(&db, &fixture, &options).await?;
            // One lottery round taking applications and one drawn, so both can be seen.
            // Only a demo nicety: a failure is logged, it does not stop the start.
            if let Err(error) = crate::services::lottery::seed_demo(
                &db,
                &settings.lottery,
                &settings.booking,
                chrono::Utc::now(),
            )
            .await
            {
                tracing::warn!(error = %error, "the demo lottery rounds were not seeded");
            }
            tracing::info!(
                seed.facilities = report.facilities,
                seed.rooms = report.rooms,
                seed.holidays = report.holidays,
                "seeded the demo city on an empty database"
            );
        }
        if settings.demo_enabled() {
            tracing::warn!(
                "demo mode is on: demo accounts with a published password may exist; set YOYAKU_DEMO=0 for a real city"
            );
        }
        // A bad smtp_url or mail_from stops start-up rather than leaving mail silently unsent.
        let mail_delivery = crate::jobs::mail_delivery::MailDelivery::from_settings(&settings)
            .context("mail settings")?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let secret = settings
            .session_secret
            .as_ref()
            .map(|s| secrecy::ExposeSecret::expose_secret(s).to_owned());
        let keys = SessionKeys::load(&db, secret.as_deref(), settings.demo_enabled()).await?;
        let login_throttle = Arc::new(LoginThrottle::new(
            settings.login_attempts_per_account,
            settings.login_attempts_per_address,
        ));
        let booking_rules = settings.booking.clone();
        booking_rules
            .validate()
            .context("booking rules in the configuration")?;
        settings
            .renewal
            .validate()
            .context("renewal rules in the configuration")?;
        // Links in checkouts point at the public URL, or at the address actually bound (port 0
        // in tests), so an embedded checkout link always works.
        let base_url = match &settings.public_url {
            Some(url) => url.clone(),
            None => format!("http://{}", listener.local_addr()?),
        };
        let payments = crate::payments::Payments::from_settings(&settings, &base_url)
            .context("payment settings")?;
        if payments.is_test_mode() {
            tracing::warn!(
                "STRIPE_SECRET_KEY is not set: payments use the embedded test-mode provider and move no real money"
            );
        }
        settings
            .checkin
            .validate()
            .map_err(anyhow::Error::msg)
            .context("check-in rules in the configuration")?;
        settings
            .penalties
            .validate()
            .map_err(anyhow::Error::msg)
            .context("penalty rules in the configuration")?;
        settings
            .lottery
            .validate()
            .context("lottery rules in the configuration")?;
        let card_keys = crate::services::card_keys::CardKeyConfig::parse(
            settings
                .card_signing_keys
                .as_ref()
                .map(secrecy::ExposeSecret::expose_secret),
        )?;
        crate::services::card_keys::prepare(
            &db,
            &card_keys,
            settings.demo_enabled(),
            chrono::Utc::now(),
        )
        .await
        .context("card signing keys")?;
        let rules = Arc::new(crate::services::rule_book::RuleBook::new(
            crate::domain::rule_history::RuleSet {
                booking: Arc::new(booking_rules),
                penalties: Arc::new(settings.penalties.clone()),
                lottery: Arc::new(settings.lottery.clone()),
            },
        ));
        rules
            .reload(&db)
            .await
            .context("reading the rule versions saved in the console")?;
        let state = AppState {
            db,
            settings: Arc::new(settings),
            keys,
            login_throttle,
            rules,
            payments,
            card_keys: Arc::new(card_keys),
            draining: Arc::default(),
        };
        Ok(Application {
            listener,
            state,
            mail_delivery,
        })
    }

    /// The port actually bound (useful when the settings asked for port 0).
    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// The shared state, for tests and jobs.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until SIGINT or SIGTERM, then drain and finish in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serve until `signal` resolves, then finish in-flight requests.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let address = self.listener.local_addr()?;
        let settings = self.state.settings.clone();
        // Jobs run under leases, once per period across instances (`jobs::runner`); they stop
        // (and release their leases) as soon as shutdown begins.
        let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(false);
        let mut jobs = tokio::task::JoinSet::new();
        if settings.run_jobs {
            let holder: Arc<str> =
                crate::jobs::runner::instance_id(settings.instance_id.as_deref()).into();
            let lease = std::time::Duration::from_secs(settings.job_lease_seconds.max(3));
            tracing::info!(instance = %holder, "background jobs on, under leases");
            for job in crate::jobs::runner::jobs(&self.state, self.mail_delivery) {
                jobs.spawn(crate::jobs::runner::run(
                    self.state.db.clone(),
                    job,
                    holder.clone(),
                    lease,
                    jobs_stopped.clone(),
                ));
            }
        }
        crate::observability::handle();
        let upkeep = tokio::spawn(async {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                every.tick().await;
                crate::observability::upkeep();
            }
        });
        // Rule versions saved on another instance arrive within this period (services::rule_book).
        let rules_reload = {
            let state = self.state.clone();
            let period = std::time::Duration::from_secs(settings.rules_reload_seconds.max(1));
            tokio::spawn(async move {
                let mut every = tokio::time::interval(period);
                every.tick().await;
                loop {
                    every.tick().await;
                    if let Err(error) = state.rules.reload(&state.db).await {
                        tracing::warn!(error = %error, "the rule versions could not be reread");
                    }
                }
            })
        };
        tracing::info!(listen = %address, "yoyaku is serving");
        let app = router::build(self.state.clone());
        // Connection info gives handlers the client address (login throttling, /metrics).
        let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        // Shutdown: readiness fails at once, jobs stop; after `drain_seconds` (for load
        // balancers to notice) the listener closes and requests in flight get
        // `shutdown_grace_seconds` to finish.
        let (closing, listener_closed) = tokio::sync::watch::channel(false);
        let draining = self.state.draining.clone();
        let drain = std::time::Duration::from_secs(settings.drain_seconds);
        let shutdown = async move {
            signal.await;
            draining.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = stop_jobs.send(true);
            tracing::info!(
                drain_seconds = drain.as_secs(),
                "draining: readiness fails, jobs stop"
            );
            tokio::time::sleep(drain).await;
            tracing::info!("listener closed; finishing requests in flight");
            let _ = closing.send(true);
        };
        let grace = std::time::Duration::from_secs(settings.shutdown_grace_seconds);
        let deadline = async move {
            let mut listener_closed = listener_closed;
            let _ = listener_closed.wait_for(|closed| *closed).await;
            tokio::time::sleep(grace).await;
        };
        let server = axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .into_future();
        tokio::select! {
            served = server => served?,
            () = deadline => tracing::warn!(
                grace_seconds = grace.as_secs(),
                "requests still in flight after the grace period were cut off"
            ),
        }
        // Tell the jobs to stop (again, if the server ended without a signal) and give them a
        // moment to record their runs and release their leases.
        drop(jobs_stopped);
        let finish_jobs = async { while jobs.join_next().await.is_some() {} };
        if tokio::time::timeout(std::time::Duration::from_secs(10), finish_jobs)
            .await
            .is_err()
        {
            tracing::warn!("background jobs did not stop in time; their leases will expire");
        }
        upkeep.abort();
        rules_reload.abort();
        self.state.db.clone().close().await.ok();
        tracing::info!("stopped");
        Ok(())
    }
}

/// The demo accounts' password: `YOYAKU_DEMO_PASSWORD` (or `demo_password` in the config file),
/// or the documented default.
pub fn demo_password(settings: &Settings) -> String {
    use secrecy::ExposeSecret;
    settings
        .demo_password
        .as_ref()
        .map(|p| p.expose_secret().to_owned())
        .unwrap_or_else(|| DEFAULT_DEMO_PASSWORD.to_owned())
}

/// Resolves at SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled: a SIGTERM that arrives between "serving" and that first poll would
/// otherwise kill the process outright instead of draining it.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let terminate = async {
                match terminate.as_mut() {
                    Some(stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = interrupt => {},
                () = terminate => {},
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.ok();
        tracing::info!("shutdown signal received; finishing requests in flight");
    }
}
