//! Write transactions: the queue writers wait their turn in, SQLite's group commit and its
//! writer thread, and checkpoints taken beside the writers.
//!
//! Every write in Yoyaku goes through [`begin_write`]. Writers first wait their turn at their
//! database's gate, first come first served, before they take a pooled connection:
//! - **SQLite** writes one transaction at a time. Without the queue, SQLite's busy handler makes
//!   a writer that finds the lock taken sleep for growing spells (up to 100 ms) and retry, so an
//!   unlucky writer lost again and again (a p99.9 of 1.6–2.3 s in the benchmark).
//! - **PostgreSQL** runs at most `Settings::postgres_max_writers` write transactions at once.
//!   Past the machine's knee more of them only share the CPUs more thinly, and every pooled
//!   connection a writer holds is one a plain read (a month grid) would wait for.
//!
//! **Group commit (SQLite).** With `synchronous=FULL` every commit ends in an fsync, and one slow
//! fsync held up every writer queued behind it, each of which then paid its own. So writers that
//! are queued together share one transaction: each writer's part runs in a savepoint of it (a
//! part that fails or is dropped rolls back to its savepoint, leaving the others' parts alone),
//! and the transaction is committed once for all of them, by a task that queues for the turn
//! after the first part ends — that is, after the writers already waiting have had theirs — or
//! at once when [`MAX_GROUP`] parts are done. A writer's `commit` returns only when that commit
//! has succeeded (it is durable), and reports its failure otherwise. Parts see the parts before
//! them in the same group, as they would have seen them committed.
//!
//! One failure is not fully contained: when SQLite itself aborts the whole transaction (disk
//! full, an I/O error), a later part's savepoint starts a transaction of its own, which its
//! release commits, while the group's final commit fails and every part is told so. Such a part
//! is told "failed" although it was kept (never the reverse); a retried booking finds its
//! Idempotency-Key and answers with what was kept.
//!
//! **Checkpoints (SQLite).** SQLite's own automatic checkpoint runs inside the commit that
//! crosses its threshold, so that writer, and every writer queued behind it, waited for the
//! database file's copy and fsync. The writers here checkpoint every
//! [`CHECKPOINT_EVERY_COMMITS`] commits instead, in a task beside the queue (`PASSIVE`: it waits
//! for no one).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// SQLite commits between two checkpoints (a booking writes about ten pages, so this keeps the
/// log near SQLite's default size of 1,000 pages).
const CHECKPOINT_EVERY_COMMITS: u64 = 100;

/// The most SQLite writers' parts one commit takes. A part waits for the parts after it in its
/// group, so this bounds that wait (a booking's part takes about 2 ms of CPU).
const MAX_GROUP: usize = 16;

/// Whether SQLite writers queue in the process (on unless switched off).
static SQLITE_WRITER_QUEUE: AtomicBool = AtomicBool::new(true);

/// Switch the in-process queue of SQLite writers (and with it group commit) on or off; the
/// benchmark compares both.
pub fn set_sqlite_writer_queue(on: bool) {
    SQLITE_WRITER_QUEUE.store(on, Ordering::Relaxed);
}

/// Whether SQLite writers queue in the process.
pub fn sqlite_writer_queue_enabled() -> bool {
    SQLITE_WRITER_QUEUE.load(Ordering::Relaxed)
}

/// The turns the writers of one database wait for, and on SQLite the group they add to.
struct WriterGate {
    turns: Arc<Semaphore>,
    /// SQLite only.
    group_commit: Option<GroupCommit>,
}

/// SQLite's open group and checkpoint bookkeeping.
#[derive(Default)]
struct GroupCommit {
    /// The group the next writer adds its part to; taken by whoever holds the turn.
    open: Mutex<Option<Group>>,
    commits: AtomicU64,
    checkpoint_running: AtomicBool,
}

/// One SQLite transaction shared by several writers' parts, until it is committed.
struct Group {
    txn: DatabaseTransaction,
    /// The writers whose part is done, waiting to hear whether the group committed.
    done: Vec<oneshot::Sender<Result<(), String>>>,
    /// A task is queued for the turn to end the group.
    end_queued: bool,
}

type Gates = Mutex<HashMap<String, Arc<WriterGate>>>;

/// One gate per database (a SQLite file; a PostgreSQL host, port and database), since one process
/// (the tests) may open several. Gates hold no connection, so a closed database leaves only its
/// small entry behind.
fn gates() -> &'static Gates {
    static GATES: LazyLock<Gates> = LazyLock::new(Gates::default);
    &GATES
}

fn gate_key(db: &DatabaseConnection) -> Option<String> {
    match db.get_database_backend() {
        DbBackend::Sqlite => Some(format!(
            "sqlite:{}",
            db.get_sqlite_connection_pool()
                .connect_options()
                .get_filename()
                .display()
        )),
        DbBackend::Postgres => {
            let options = db.get_postgres_connection_pool().connect_options();
            Some(format!(
                "postgres://{}:{}/{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or_default()
            ))
        }
        _ => None,
    }
}

/// Limit PostgreSQL writers to `max_writers` at once (called by `db::connect`; a database reached
/// without it has no limit). The first pool of a database sets its limit.
pub(super) fn limit_postgres_writers(db: &DatabaseConnection, max_writers: u32) {
    let Some(key) = gate_key(db) else { return };
    let mut gates = gates().lock().unwrap_or_else(PoisonError::into_inner);
    gates.entry(key).or_insert_with(|| {
        Arc::new(WriterGate {
            turns: Arc::new(Semaphore::new(max_writers.max(1) as usize)),
            group_commit: None,
        })
    });
}

fn writer_gate(db: &DatabaseConnection) -> Option<Arc<WriterGate>> {
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    if sqlite && !sqlite_writer_queue_enabled() {
        return None;
    }
    let key = gate_key(db)?;
    let mut gates = gates().lock().unwrap_or_else(PoisonError::into_inner);
    if sqlite {
        let gate = gates.entry(key).or_insert_with(|| {
            Arc::new(WriterGate {
                turns: Arc::new(Semaphore::new(1)),
                group_commit: Some(GroupCommit::default()),
            })
        });
        Some(Arc::clone(gate))
    } else {
        gates.get(&key).cloned()
    }
}

async fn begin_immediate(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Begin a transaction that will write. On SQLite it begins IMMEDIATE, taking the write lock up
/// front: a deferred transaction that reads first and writes later fails at once with SQLITE_BUSY
/// when another writer committed in between, instead of waiting its turn. See the module's notes
/// for the queue, and for SQLite's group commit (the transaction is then a savepoint of the
/// group's, and its `commit` returns once the group's commit is durable).
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTransaction, DbErr> {
    let Some(gate) = writer_gate(db) else {
        return Ok(WriteTransaction {
            txn: Some(begin_immediate(db).await?),
            turn: None,
            group: None,
        });
    };
    let turn = Arc::clone(&gate.turns)
        .acquire_owned()
        .await
        .map_err(|e| DbErr::Custom(format!("writer queue: {e}")))?;
    let Some(group_commit) = &gate.group_commit else {
        return Ok(WriteTransaction {
            txn: Some(begin_immediate(db).await?),
            turn: Some(turn),
            group: None,
        });
    };
    let open = group_commit
        .open
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let group = match open {
        Some(group) => group,
        None => Group {
            txn: begin_immediate(db).await?,
            done: Vec::new(),
            end_queued: false,
        },
    };
    let part = match group.txn.begin().await {
        Ok(part) => part,
        Err(error) => {
            hand_back(&gate, db, group, Ending::IfEmpty);
            return Err(error);
        }
    };
    Ok(WriteTransaction {
        txn: Some(part),
        turn: Some(turn),
        group: Some(GroupMember {
            gate,
            db: db.clone(),
            group: Some(group),
        }),
    })
}

/// What [`hand_back`] does with a group no writer's part is waiting on.
#[derive(PartialEq)]
enum Ending {
    /// Roll it back now (the caller's part has ended, and nothing else is in it).
    IfEmpty,
    /// Leave it to the queued task (the caller's part is still being dropped).
    Queued,
}

/// Give the group back for the next writer, making sure that someone will end it: a task that
/// queues for the turn behind the writers already waiting. Called while holding the turn.
fn hand_back(gate: &Arc<WriterGate>, db: &DatabaseConnection, mut group: Group, ending: Ending) {
    let Some(group_commit) = &gate.group_commit else {
        return;
    };
    if group.done.is_empty() && !group.end_queued && ending == Ending::IfEmpty {
        // Nothing to keep: dropping the transaction rolls it back and frees its connection.
        drop(group);
        return;
    }
    if !group.end_queued {
        group.end_queued = true;
        writer_runtime().spawn(end_group_in_turn(Arc::clone(gate), db.clone()));
    }
    *group_commit
        .open
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(group);
}

/// Wait for the turn, then end whatever group is open.
async fn end_group_in_turn(gate: Arc<WriterGate>, db: DatabaseConnection) {
    let Ok(_turn) = Arc::clone(&gate.turns).acquire_owned().await else {
        return;
    };
    let open = gate
        .group_commit
        .as_ref()
        .and_then(|g| g.open.lock().unwrap_or_else(PoisonError::into_inner).take());
    if let Some(group) = open {
        end_group(&gate, &db, group).await;
    }
}

/// Commit the group (roll it back when no part in it is waiting) and tell every waiting writer
/// how it went. Called while holding the turn.
async fn end_group(gate: &Arc<WriterGate>, db: &DatabaseConnection, group: Group) {
    let Group { txn, done, .. } = group;
    if done.is_empty() {
        if let Err(error) = txn.rollback().await {
            tracing::warn!(%error, "rolling back an empty write group failed");
        }
        return;
    }
    let outcome = txn.commit().await.map_err(|e| e.to_string());
    let parts = done.len() as u64;
    for writer in done {
        // A writer that stopped waiting (its request was cancelled) just misses the news.
        let _ = writer.send(outcome.clone());
    }
    if outcome.is_ok() {
        checkpoint_when_due(gate, db, parts);
    }
}

/// Start a checkpoint beside the queue every [`CHECKPOINT_EVERY_COMMITS`] writers.
fn checkpoint_when_due(gate: &Arc<WriterGate>, db: &DatabaseConnection, parts: u64) {
    let Some(group_commit) = &gate.group_commit else {
        return;
    };
    let before = group_commit.commits.fetch_add(parts, Ordering::Relaxed);
    let due = before / CHECKPOINT_EVERY_COMMITS != (before + parts) / CHECKPOINT_EVERY_COMMITS;
    if due && !group_commit.checkpoint_running.swap(true, Ordering::AcqRel) {
        writer_runtime().spawn(checkpoint(Arc::clone(gate), db.clone()));
    }
}

/// Copy the SQLite log back into the database file without waiting for writers or readers.
async fn checkpoint(gate: Arc<WriterGate>, db: DatabaseConnection) {
    if let Err(error) = db
        .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
        .await
    {
        tracing::warn!(%error, "SQLite checkpoint failed; the next one will try again");
    }
    if let Some(group_commit) = &gate.group_commit {
        group_commit
            .checkpoint_running
            .store(false, Ordering::Release);
    }
}

/// Run `work` (a whole write transaction) where writes run best for this database: on SQLite, on
/// the process's one writer thread; on PostgreSQL, where it is.
///
/// SQLite commits one group at a time, so the writer holding the turn is the bottleneck of every
/// write. Each of its statements is a hop to SQLite's connection thread and back, and on the
/// shared runtime each hop back waits behind every runnable request task (HTTP parsing, reads,
/// JSON): under load the turn stretched from a few milliseconds to tens. On its own thread the
/// turn holder resumes as soon as the operating system runs that thread; the writers queued
/// behind it wait there too, idle until their turn.
pub async fn on_writer_thread<T, F>(db: &DatabaseConnection, work: F) -> Result<T, DbErr>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    if db.get_database_backend() != DbBackend::Sqlite || !sqlite_writer_queue_enabled() {
        return Ok(work.await);
    }
    match writer_runtime().spawn(work).await {
        Ok(output) => Ok(output),
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => Err(DbErr::Custom(format!("writer thread: {error}"))),
    }
}

/// The SQLite writer thread: a one-thread runtime of its own, started on first use, which also
/// runs the tasks that end groups and checkpoint (they outlive any one request or test).
fn writer_runtime() -> &'static tokio::runtime::Handle {
    static WRITER: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("yoyaku-sqlite-writer")
            .enable_all()
            .build()
            // Only when the operating system refuses a thread, which nothing here can mend.
            .expect("the SQLite writer thread starts")
    });
    WRITER.handle()
}

/// A writer's place in a SQLite group.
struct GroupMember {
    gate: Arc<WriterGate>,
    db: DatabaseConnection,
    group: Option<Group>,
}

/// A write transaction from [`begin_write`]: used like a [`sea_orm::DatabaseTransaction`] (it
/// runs queries and dereferences to one), and holding the writer's turn until it ends.
pub struct WriteTransaction {
    // Declared before the turn, so that when dropped it rolls back (to its savepoint, in a group)
    // while the turn is still held.
    txn: Option<DatabaseTransaction>,
    turn: Option<OwnedSemaphorePermit>,
    group: Option<GroupMember>,
}

impl WriteTransaction {
    fn txn(&self) -> &DatabaseTransaction {
        self.txn
            .as_ref()
            .expect("a write transaction is only taken apart by commit or rollback")
    }

    /// Commit. In a SQLite group: end this writer's part, and return once the group's commit is
    /// durable (or with its error).
    pub async fn commit(mut self) -> Result<(), DbErr> {
        let txn = self
            .txn
            .take()
            .expect("a write transaction is committed once");
        let turn = self.turn.take();
        let Some(mut member) = self.group.take() else {
            return txn.commit().await;
        };
        let mut group = member.group.take().expect("a member has its group");
        if let Err(error) = txn.commit().await {
            hand_back(&member.gate, &member.db, group, Ending::IfEmpty);
            return Err(error);
        }
        let (done, outcome) = oneshot::channel();
        group.done.push(done);
        if group.done.len() >= MAX_GROUP {
            end_group(&member.gate, &member.db, group).await;
        } else {
            hand_back(&member.gate, &member.db, group, Ending::IfEmpty);
        }
        drop(turn);
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(DbErr::Custom(format!("the commit failed: {message}"))),
            Err(_) => Err(DbErr::Custom(
                "the commit was abandoned before it ran".into(),
            )),
        }
    }

    /// Roll back (in a SQLite group, only this writer's part), then give up the turn.
    pub async fn rollback(mut self) -> Result<(), DbErr> {
        let txn = self
            .txn
            .take()
            .expect("a write transaction is rolled back once");
        let turn = self.turn.take();
        let result = txn.rollback().await;
        if let Some(mut member) = self.group.take()
            && let Some(group) = member.group.take()
        {
            hand_back(&member.gate, &member.db, group, Ending::IfEmpty);
        }
        drop(turn);
        result
    }
}

impl Drop for WriteTransaction {
    /// Dropped without commit or rollback (an error returned early): the part's transaction rolls
    /// back as it is dropped just after this, and the group goes back for the next writer, with a
    /// task queued to end it.
    fn drop(&mut self) {
        if let Some(mut member) = self.group.take()
            && let Some(group) = member.group.take()
        {
            hand_back(&member.gate, &member.db, group, Ending::Queued);
        }
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &Self::Target {
        self.txn()
    }
}

type BoxedQuery<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, DbErr>> + Send + 'a>>;

// Written out by hand (the trait is declared with `async_trait`), delegating every query to the
// transaction, so that call sites pass `&txn` to sea-orm exactly as before.
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DbBackend {
        self.txn().get_database_backend()
    }

    fn execute_raw<'a, 'b>(
        &'a self,
        stmt: sea_orm::Statement,
    ) -> BoxedQuery<'b, sea_orm::ExecResult>
    where
        'a: 'b,
        Self: 'b,
    {
        self.txn().execute_raw(stmt)
    }

    fn execute_unprepared<'a, 'c, 'b>(&'a self, sql: &'c str) -> BoxedQuery<'b, sea_orm::ExecResult>
    where
        'a: 'b,
        'c: 'b,
        Self: 'b,
    {
        self.txn().execute_unprepared(sql)
    }

    fn query_one_raw<'a, 'b>(
        &'a self,
        stmt: sea_orm::Statement,
    ) -> BoxedQuery<'b, Option<sea_orm::QueryResult>>
    where
        'a: 'b,
        Self: 'b,
    {
        self.txn().query_one_raw(stmt)
    }

    fn query_all_raw<'a, 'b>(
        &'a self,
        stmt: sea_orm::Statement,
    ) -> BoxedQuery<'b, Vec<sea_orm::QueryResult>>
    where
        'a: 'b,
        Self: 'b,
    {
        self.txn().query_all_raw(stmt)
    }

    fn support_returning(&self) -> bool {
        self.txn().support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.txn().is_mock_connection()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    /// A fresh SQLite file with one table, `t (id, v UNIQUE)`, holding the row `(1000, 'taken')`.
    async fn scratch_database() -> (DatabaseConnection, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "yoyaku-writers-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let settings = Settings {
            database_url: format!("sqlite://{}", path.display()),
            db_max_connections: 4,
            ..Settings::default()
        };
        let db = crate::db::connect(&settings).await.unwrap();
        db.execute_unprepared(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE);
             INSERT INTO t (id, v) VALUES (1000, 'taken');",
        )
        .await
        .unwrap();
        (db, path)
    }

    /// What writer `i` does after inserting its row: commit, roll back, drop the transaction, or
    /// fail on a unique constraint (and drop it, as `?` does).
    async fn write(db: DatabaseConnection, i: i64) -> Result<bool, DbErr> {
        let txn = begin_write(&db).await?;
        txn.execute_unprepared(&format!("INSERT INTO t (id, v) VALUES ({i}, 'v{i}')"))
            .await?;
        match i % 4 {
            0 => txn.commit().await.map(|()| true),
            1 => txn.rollback().await.map(|()| false),
            2 => {
                drop(txn);
                Ok(false)
            }
            _ => {
                txn.execute_unprepared(&format!(
                    "INSERT INTO t (id, v) VALUES ({}, 'taken')",
                    i + 500
                ))
                .await?;
                txn.commit().await.map(|()| true)
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_queued_together_keep_exactly_the_parts_that_committed() {
        let (db, path) = scratch_database().await;
        let writers: Vec<_> = (0..64)
            .map(|i| (i, tokio::spawn(write(db.clone(), i))))
            .collect();
        for (i, writer) in writers {
            let outcome = writer.await.unwrap();
            match i % 4 {
                0 => assert!(outcome.unwrap(), "writer {i} committed"),
                1 | 2 => assert!(!outcome.unwrap(), "writer {i} gave up"),
                _ => assert!(outcome.is_err(), "writer {i} hit the unique constraint"),
            }
        }
        let kept: Vec<i64> = db
            .query_all_raw(sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                "SELECT id FROM t ORDER BY id",
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index(0).unwrap())
            .collect();
        let mut expected: Vec<i64> = (0..64).filter(|i| i % 4 == 0).collect();
        expected.push(1000);
        assert_eq!(kept, expected);
        // Another writer after the rush still gets its turn and commits.
        assert!(write(db.clone(), 100).await.unwrap());
        db.close().await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
