//! Connecting to SQLite or PostgreSQL with the settings each needs, and applying migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous as SqlxSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::config::{Settings, SqliteSynchronous};

mod writers;

pub use writers::{
    WriteTransaction, begin_write, on_writer_thread, set_sqlite_writer_queue,
    sqlite_writer_queue_enabled,
};

/// Open the connection pool. For SQLite: create the file (and its folder), WAL journal, foreign
/// keys on, a busy timeout so writers queue instead of failing, and the configured durability.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(settings.database_url.clone());
    options
        .max_connections(settings.db_max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if settings.is_sqlite() {
        create_sqlite_folder(&settings.database_url)?;
        let synchronous = match settings.sqlite_synchronous {
            SqliteSynchronous::Full => SqlxSynchronous::Full,
            SqliteSynchronous::Normal => SqlxSynchronous::Normal,
        };
        options.map_sqlx_sqlite_opts(move |opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma(
                    "wal_autocheckpoint",
                    SAFETY_NET_CHECKPOINT_PAGES.to_string(),
                )
        });
    }
    let db = Database::connect(options).await?;
    if !settings.is_sqlite() {
        writers::limit_postgres_writers(&db, settings.postgres_max_writers());
    }
    Ok(db)
}

/// SQLite's own checkpoint threshold, raised from its 1,000 pages: the writers checkpoint every
/// so many commits instead, beside the writer queue (see `writers`). This is the safety net for
/// writes made outside `begin_write` (40 MB of log).
const SAFETY_NET_CHECKPOINT_PAGES: u32 = 10_000;

/// Apply every pending migration.
/// Whether `error` is a UNIQUE (or primary key) violation: the database's answer to two writers
/// claiming the same thing, which services turn into a 409 rather than a 500.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The file path of a `sqlite://` URL; `None` for an in-memory database or an empty path.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

fn create_sqlite_folder(url: &str) -> Result<(), DbErr> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", parent.display())))?;
    }
    Ok(())
}
