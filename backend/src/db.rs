//! Connecting to SQLite or PostgreSQL with the settings each needs, and applying migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous as SqlxSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::config::{Settings, SqliteSynchronous};

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
        });
    }
    Database::connect(options).await
}

/// Apply every pending migration.
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

/// Begin a transaction that will write. On SQLite it begins IMMEDIATE, taking the write lock up
/// front: a deferred transaction that reads first and writes later fails at once with SQLITE_BUSY
/// when another writer committed in between, instead of waiting its turn.
///
/// On SQLite the writers of one process also wait their turn in a first-come queue here, before
/// they take a pooled connection (see [`set_sqlite_writer_queue`]): SQLite's busy handler makes
/// a writer that finds the lock taken sleep for growing spells (up to 100 ms) and retry, so under
/// contention an unlucky writer could lose again and again, which showed as a p99.9 of 1.6–2.3 s
/// in the benchmark. The turn is held until the transaction commits, rolls back or is dropped.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let turn = match sqlite_writer_gate(db) {
        Some(gate) => Some(
            gate.acquire_owned()
                .await
                .map_err(|e| DbErr::Custom(format!("SQLite writer queue: {e}")))?,
        ),
        None => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    Ok(WriteTransaction { txn, _turn: turn })
}

/// Whether SQLite writers queue in the process (on unless switched off).
static SQLITE_WRITER_QUEUE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(true);

/// Switch the in-process queue of SQLite writers on or off (the benchmark compares both).
pub fn set_sqlite_writer_queue(on: bool) {
    SQLITE_WRITER_QUEUE.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether SQLite writers queue in the process.
pub fn sqlite_writer_queue_enabled() -> bool {
    SQLITE_WRITER_QUEUE.load(std::sync::atomic::Ordering::Relaxed)
}

/// One queue per SQLite file, since one process (the tests) may open several databases.
fn sqlite_writer_gate(db: &DatabaseConnection) -> Option<std::sync::Arc<tokio::sync::Semaphore>> {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};
    static GATES: LazyLock<Mutex<HashMap<std::path::PathBuf, Arc<tokio::sync::Semaphore>>>> =
        LazyLock::new(Mutex::default);
    if sea_orm::ConnectionTrait::get_database_backend(db) != sea_orm::DbBackend::Sqlite
        || !sqlite_writer_queue_enabled()
    {
        return None;
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    let mut gates = GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(
        gates
            .entry(file)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(1)))
            .clone(),
    )
}

/// A write transaction from [`begin_write`]: used like a [`sea_orm::DatabaseTransaction`] (it
/// runs queries and dereferences to one), and holding the SQLite writer's turn until it ends.
pub struct WriteTransaction {
    // Declared first so that it is dropped (and rolled back) before the turn is given up.
    txn: sea_orm::DatabaseTransaction,
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl WriteTransaction {
    /// Commit, then give up the turn.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    /// Roll back, then give up the turn.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = sea_orm::DatabaseTransaction;
    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

type BoxedQuery<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, DbErr>> + Send + 'a>>;

// Written out by hand (the trait is declared with `async_trait`), delegating every query to the
// transaction, so that call sites pass `&txn` to sea-orm exactly as before.
impl sea_orm::ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        sea_orm::ConnectionTrait::get_database_backend(&self.txn)
    }

    fn execute_raw<'a, 'b>(
        &'a self,
        stmt: sea_orm::Statement,
    ) -> BoxedQuery<'b, sea_orm::ExecResult>
    where
        'a: 'b,
        Self: 'b,
    {
        sea_orm::ConnectionTrait::execute_raw(&self.txn, stmt)
    }

    fn execute_unprepared<'a, 'c, 'b>(&'a self, sql: &'c str) -> BoxedQuery<'b, sea_orm::ExecResult>
    where
        'a: 'b,
        'c: 'b,
        Self: 'b,
    {
        sea_orm::ConnectionTrait::execute_unprepared(&self.txn, sql)
    }

    fn query_one_raw<'a, 'b>(
        &'a self,
        stmt: sea_orm::Statement,
    ) -> BoxedQuery<'b, Option<sea_orm::QueryResult>>
    where
        'a: 'b,
        Self: 'b,
    {
        sea_orm::ConnectionTrait::query_one_raw(&self.txn, stmt)
    }

    fn query_all_raw<'a, 'b>(
        &'a self,
        stmt: sea_orm::Statement,
    ) -> BoxedQuery<'b, Vec<sea_orm::QueryResult>>
    where
        'a: 'b,
        Self: 'b,
    {
        sea_orm::ConnectionTrait::query_all_raw(&self.txn, stmt)
    }

    fn support_returning(&self) -> bool {
        sea_orm::ConnectionTrait::support_returning(&self.txn)
    }

    fn is_mock_connection(&self) -> bool {
        sea_orm::ConnectionTrait::is_mock_connection(&self.txn)
    }
}
