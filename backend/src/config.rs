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
#[serde(default)]
pub struct Settings {
    /// `sqlite://…` (the embedded default) or `postgres://…`.
    pub database_url: String,
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Seed demo users and data on an empty database. Unset: on for SQLite, off otherwise.
    pub demo: Option<bool>,
    /// Database connection pool size.
    pub db_max_connections: u32,
    /// SQLite `synchronous` pragma: `full` (durable, the default) or `normal` (faster; a power
    /// loss may lose the last transactions, never corrupt).
    pub sqlite_synchronous: SqliteSynchronous,
    /// `pretty` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// The address residents reach the service at, for links in mail and payment redirects.
    pub public_url: Option<String>,
    #[serde(skip_serializing)]
    pub stripe_secret_key: Option<SecretString>,
    #[serde(skip_serializing)]
    pub stripe_webhook_secret: Option<SecretString>,
    /// Another base URL for Stripe's API (a local stub in tests).
    pub stripe_api_base: Option<String>,
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
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

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "sqlite://data/yoyaku.db".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            demo: None,
            db_max_connections: 16,
            sqlite_synchronous: SqliteSynchronous::Full,
            log_format: LogFormat::Pretty,
            public_url: None,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: None,
            smtp_url: None,
        }
    }
}

impl Settings {
    /// Read settings from defaults, the config file and the environment.
    pub fn load() -> Result<Settings, Box<figment::Error>> {
        let file: PathBuf = std::env::var_os("YOYAKU_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("yoyaku.toml"));
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
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

    /// Whether demo data and accounts are seeded on an empty database.
    pub fn demo_enabled(&self) -> bool {
        self.demo.unwrap_or_else(|| self.is_sqlite())
    }

    /// The base URL links point at.
    pub fn public_base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

#[cfg(test)]
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
    fn environment_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("YOYAKU_LISTEN", "127.0.0.1:9999");
            jail.set_env("YOYAKU_DEMO", "0");
            jail.set_env("STRIPE_API_BASE", "http://127.0.0.1:12111");
            let s = Settings::load().expect("settings load");
            assert_eq!(s.listen.port(), 9999);
            assert_eq!(s.demo, Some(false));
            assert_eq!(s.stripe_api_base.as_deref(), Some("http://127.0.0.1:12111"));
            Ok(())
        });
    }
}
