//! Typed settings, read from defaults, then an optional TOML file (`YOYAKU_CONFIG`, default
//! `yoyaku.toml` if present), then the environment (`YOYAKU_*`, and Stripe's own variable names).
//! Secrets are `SecretString` so they never reach a log line by accident.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Everything the service needs to start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://…` (the embedded default) or `postgres://…`.
    pub database_url: String,
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Seed demo users and data on an empty database. Unset: on for SQLite, off otherwise.
    /// Accepts `1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`.
    #[serde(deserialize_with = "flag")]
    pub demo: Option<bool>,
    /// Database connection pool size.
    pub db_max_connections: u32,
    /// PostgreSQL: write transactions allowed at once (the others wait their turn in the
    /// process, first come first served). 0, the default, means four per CPU, leaving at least
    /// a quarter of the pool to reads. SQLite always writes one at a time.
    pub db_max_writers: u32,
    /// SQLite `synchronous` pragma: `full` (durable, the default) or `normal` (faster; a power
    /// loss may lose the last transactions, never corrupt).
    pub sqlite_synchronous: SqliteSynchronous,
    /// `pretty` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// How many days ahead slots are materialised (a rolling window; default about six months).
    pub slot_window_days: u32,
    /// Run background jobs (slot generation, …) in this process. Tests turn them off and drive
    /// the jobs directly.
    pub run_jobs: bool,
    /// The address residents reach the service at, for links in mail and payment redirects.
    pub public_url: Option<String>,
    /// The folder for uploaded identity documents (`YOYAKU_DOCUMENT_DIR`). It must not be inside
    /// anything a web server serves. Unset: `documents` beside the SQLite file, or
    /// `data/documents` for PostgreSQL.
    pub document_dir: Option<PathBuf>,
    /// The largest identity document accepted, in bytes (default 10 MiB).
    pub document_max_bytes: u64,
    /// How many identity documents one person may upload in all.
    pub documents_per_person: u32,
    #[serde(skip_serializing)]
    pub stripe_secret_key: Option<SecretString>,
    #[serde(skip_serializing)]
    pub stripe_webhook_secret: Option<SecretString>,
    /// Another base URL for Stripe's API (a local stub in tests).
    pub stripe_api_base: Option<String>,
    /// Where mail is sent: `smtp://host:port` (plain), `smtp://host?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host` (TLS). Unset: mail stays in the outbox, readable with
    /// `yoyaku outbox`. A secret, because it can carry the relay's password.
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
    /// The From of every mail (`YOYAKU_MAIL_FROM`), e.g. `Yoyaku <noreply@city.example.jp>`.
    pub mail_from: String,
    /// Delivery attempts per mail before it is given up and kept as failed.
    pub mail_max_attempts: u32,
    /// The demo accounts' password (demo mode only); `yoyaku-demo` when unset.
    #[serde(skip_serializing)]
    pub demo_password: Option<SecretString>,
    /// Signs session tokens: 32+ random characters, the same on every instance. Required outside
    /// demo mode; in demo mode one is generated on first run and kept in the database.
    #[serde(skip_serializing)]
    pub session_secret: Option<SecretString>,
    /// Sign-in attempts allowed per minute for one email address.
    pub login_attempts_per_account: u32,
    /// Sign-in attempts allowed per minute from one client address.
    pub login_attempts_per_address: u32,
    /// Booking windows, payment deadline, refund tiers and per-person limits (`[booking]` in the
    /// config file); the defaults are the demo city's.
    pub booking: crate::domain::booking::BookingRules,
    /// When renewal opens, the grace period after expiry and the reminder days (`[renewal]`).
    pub renewal: crate::domain::renewal::RenewalRules,
    /// The card signing keys (`YOYAKU_CARD_SIGNING_KEYS`): Ed25519 private keys as PKCS#8 PEM
    /// text, or comma-separated paths of PEM files; the first signs, the others are published
    /// for verification (rotation). Unset: generated and kept in the database in demo mode;
    /// otherwise cards are unavailable. See `services::card_keys`.
    #[serde(skip_serializing)]
    pub card_signing_keys: Option<SecretString>,
    /// Card token lifetime and check-in windows (`[checkin]`).
    pub checkin: crate::domain::checkin::CheckinRules,
    /// No-shows, penalty points and suspension (`[penalties]`).
    pub penalties: crate::domain::penalties::PenaltyRules,
    /// Lottery limits (wishes, wins) and the monthly round calendar (`[lottery]`).
    pub lottery: crate::domain::lottery::LotteryRules,
    /// Requests served at once (`YOYAKU_MAX_IN_FLIGHT`); more are refused at once with 503 and
    /// `Retry-After` rather than queued until they time out. Health, readiness and metrics are
    /// never refused.
    pub max_in_flight: u32,
    /// Bearer token for `GET /metrics` (`YOYAKU_METRICS_TOKEN`). Unset: only loopback clients.
    #[serde(skip_serializing)]
    pub metrics_token: Option<SecretString>,
    /// Seconds readiness reports `draining` after SIGTERM before the listener closes, so load
    /// balancers stop sending new requests first (`YOYAKU_DRAIN_SECONDS`).
    pub drain_seconds: u64,
    /// Seconds in-flight requests may take to finish after the listener closes
    /// (`YOYAKU_SHUTDOWN_GRACE_SECONDS`); the rest are cut off.
    pub shutdown_grace_seconds: u64,
    /// How long a background job's lease lasts without renewal (`YOYAKU_JOB_LEASE_SECONDS`):
    /// the time after which another instance takes over the job of one that died.
    pub job_lease_seconds: u64,
    /// How often each instance rereads the rule versions saved in the console
    /// (`YOYAKU_RULES_RELOAD_SECONDS`): how soon a change saved on one instance reaches the others.
    pub rules_reload_seconds: u64,
    /// This instance's name in job leases and runs (`YOYAKU_INSTANCE_ID`). Unset: the host
    /// name, the process id and a random suffix.
    pub instance_id: Option<String>,
}

/// SQLite durability setting; see [`Settings::sqlite_synchronous`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A yes/no setting as people write it in environment files.
fn flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Number(i64),
        Text(String),
    }
    let raw = Option::<Raw>::deserialize(deserializer)?;
    let parsed = match raw {
        None => None,
        Some(Raw::Bool(b)) => Some(b),
        Some(Raw::Number(0)) => Some(false),
        Some(Raw::Number(1)) => Some(true),
        Some(Raw::Text(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            "" => None,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "`{other}` is not yes or no (use 1 or 0)"
                )));
            }
        },
        Some(Raw::Number(other)) => {
            return Err(serde::de::Error::custom(format!(
                "`{other}` is not yes or no (use 1 or 0)"
            )));
        }
    };
    Ok(parsed)
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "sqlite://data/yoyaku.db".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            demo: None,
            db_max_connections: 16,
            db_max_writers: 0,
            sqlite_synchronous: SqliteSynchronous::Full,
            log_format: LogFormat::Pretty,
            public_url: None,
            document_dir: None,
            document_max_bytes: 10 * 1024 * 1024,
            documents_per_person: 10,
            slot_window_days: 183,
            run_jobs: true,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: None,
            smtp_url: None,
            mail_from: "Yoyaku <noreply@yoyaku.example>".into(),
            mail_max_attempts: 8,
            demo_password: None,
            session_secret: None,
            login_attempts_per_account: 5,
            login_attempts_per_address: 30,
            booking: crate::domain::booking::BookingRules::default(),
            renewal: crate::domain::renewal::RenewalRules::default(),
            card_signing_keys: None,
            checkin: crate::domain::checkin::CheckinRules::default(),
            penalties: crate::domain::penalties::PenaltyRules::default(),
            lottery: crate::domain::lottery::LotteryRules::default(),
            max_in_flight: 2048,
            metrics_token: None,
            drain_seconds: 0,
            shutdown_grace_seconds: 25,
            job_lease_seconds: 60,
            rules_reload_seconds: 15,
            instance_id: None,
        }
    }
}

impl Settings {
    /// Read settings from defaults, the config file and the environment. A misspelt key or
    /// `YOYAKU_*` variable is an error rather than a silent fallback to a default.
    pub fn load() -> Result<Settings, Box<figment::Error>> {
        let file = match std::env::var_os("YOYAKU_CONFIG").map(PathBuf::from) {
            Some(named) if !named.is_file() => {
                return Err(Box::new(figment::Error::from(format!(
                    "YOYAKU_CONFIG names {}, which is not a readable file",
                    named.display()
                ))));
            }
            Some(named) => Some(named),
            // ./yoyaku.toml only (no search of parent folders), and only if it is there.
            None => Some(PathBuf::from("yoyaku.toml")).filter(|p| p.is_file()),
        };
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed("YOYAKU_").ignore(&["config"]))
            .merge(
                Env::raw()
                    .only(&[
                        "STRIPE_SECRET_KEY",
                        "STRIPE_WEBHOOK_SECRET",
                        "STRIPE_API_BASE",
                    ])
                    .map(|key| key.as_str().to_ascii_lowercase().into()),
            )
            .extract()
            .map_err(Box::new)
    }

    /// Whether the database is SQLite (the embedded default).
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// PostgreSQL: how many write transactions may run at once (see [`Settings::db_max_writers`]).
    pub fn postgres_max_writers(&self) -> u32 {
        if self.db_max_writers > 0 {
            return self.db_max_writers;
        }
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        (4 * cpus).min(self.db_max_connections * 3 / 4).max(1)
    }

    /// Whether demo data and accounts are seeded on an empty database.
    pub fn demo_enabled(&self) -> bool {
        self.demo.unwrap_or_else(|| self.is_sqlite())
    }

    /// The folder uploaded identity documents are kept in (see [`Settings::document_dir`]).
    pub fn documents_path(&self) -> PathBuf {
        if let Some(dir) = &self.document_dir {
            return dir.clone();
        }
        let beside_database = crate::db::sqlite_path(&self.database_url)
            .filter(|_| self.is_sqlite())
            .and_then(|file| {
                std::path::Path::new(file)
                    .parent()
                    .map(|p| p.join("documents"))
            });
        beside_database.unwrap_or_else(|| PathBuf::from("data/documents"))
    }

    /// The base URL links point at.
    pub fn public_base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

#[cfg(test)]
// figment's Jail closures must return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn demo_mode_defaults_on_for_sqlite_only() {
        let mut s = Settings::default();
        assert!(s.demo_enabled());
        s.database_url = "postgres://localhost/yoyaku".into();
        assert!(!s.demo_enabled());
        s.demo = Some(true);
        assert!(s.demo_enabled());
    }

    #[test]
    fn documents_are_kept_beside_the_sqlite_file_unless_a_folder_is_set() {
        let mut s = Settings::default();
        assert_eq!(s.documents_path(), PathBuf::from("data/documents"));
        s.database_url = "sqlite:///var/lib/yoyaku/yoyaku.db?mode=rwc".into();
        assert_eq!(
            s.documents_path(),
            PathBuf::from("/var/lib/yoyaku/documents")
        );
        s.database_url = "postgres://localhost/yoyaku".into();
        assert_eq!(s.documents_path(), PathBuf::from("data/documents"));
        s.document_dir = Some(PathBuf::from("/srv/private/documents"));
        assert_eq!(s.documents_path(), PathBuf::from("/srv/private/documents"));
    }

    #[test]
    fn environment_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("YOYAKU_LISTEN", "127.0.0.1:9999");
            jail.set_env("YOYAKU_DEMO", "1");
            jail.set_env("STRIPE_API_BASE", "http://127.0.0.1:12111");
            let s = Settings::load().expect("settings load");
            assert_eq!(s.listen.port(), 9999);
            assert_eq!(s.demo, Some(true));
            assert_eq!(s.stripe_api_base.as_deref(), Some("http://127.0.0.1:12111"));
            Ok(())
        });
    }

    #[test]
    fn a_misspelt_variable_is_an_error_not_a_silent_default() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("YOYAKU_DATABSE_URL", "postgres://elsewhere/yoyaku");
            let error = Settings::load().unwrap_err().to_string();
            assert!(error.contains("databse_url"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_config_file_sets_values_and_the_environment_wins() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "yoyaku.toml",
                "listen = \"127.0.0.1:7000\"\ndb_max_connections = 4\n",
            )?;
            jail.set_env("YOYAKU_LISTEN", "127.0.0.1:7001");
            let s = Settings::load().expect("loads");
            assert_eq!(s.db_max_connections, 4);
            assert_eq!(s.listen.port(), 7001);
            Ok(())
        });
    }

    #[test]
    fn a_named_config_file_that_is_missing_is_an_error() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("YOYAKU_CONFIG", "/nonexistent/yoyaku.toml");
            assert!(
                Settings::load()
                    .unwrap_err()
                    .to_string()
                    .contains("/nonexistent/yoyaku.toml")
            );
            Ok(())
        });
    }

    #[test]
    fn demo_accepts_the_ways_people_write_yes_and_no_and_refuses_others() {
        for (value, expected) in [
            ("0", Some(false)),
            ("true", Some(true)),
            ("off", Some(false)),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.set_env("YOYAKU_DEMO", value);
                assert_eq!(Settings::load().expect("loads").demo, expected, "{value}");
                Ok(())
            });
        }
        figment::Jail::expect_with(|jail| {
            jail.set_env("YOYAKU_DEMO", "maybe");
            let error = Settings::load().unwrap_err().to_string();
            assert!(error.contains("demo") || error.contains("maybe"), "{error}");
            Ok(())
        });
    }
}
