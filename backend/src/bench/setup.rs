//! Preparing the benchmark's database: reset it (or create it on PostgreSQL), seed the demo city,
//! generate a window of slots (facility by facility, with progress), insert residents in batches
//! (one transaction per batch, with progress) and mint their access tokens with the
//! application's own session keys; and reading back the settings that decide durability.
//! Every step is timed, so that seeding the full-size city (100,000 residents, 180 days) can be
//! reported.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, NaiveDate};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use serde::Serialize;

use super::BenchOptions;
use crate::auth::SessionKeys;
use crate::config::{LogFormat, Settings, SqliteSynchronous};
use crate::domain::roles::Role;
use crate::entities::{facility, room, slot};
use crate::services::seed::{self, CityFixture, SeedOptions};
use crate::startup::DEFAULT_DEMO_PASSWORD;

/// A resident who books (registration approved, no expiry), with a signed access token.
#[derive(Debug, Clone)]
pub struct Resident {
    pub id: i32,
    pub token: String,
}

/// A free slot of a room that shares no unit with any other bookable room chosen (only wholes and
/// plain rooms are used, never halves, so distinct slots never conflict).
#[derive(Debug, Clone, Copy)]
pub struct FreeSlot {
    pub slot_id: i64,
    pub room_id: i32,
}

/// What the benchmark works with.
#[derive(Debug, Clone)]
pub struct City {
    pub residents: Vec<Resident>,
    /// Free slots in a fixed pseudo-random order (seed 7), spread over rooms and days.
    pub free_slots: Vec<FreeSlot>,
    /// Bookable rooms without halves (wholes and plain rooms), by id.
    pub rooms: Vec<i32>,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Slots in the database after generation.
    pub slots_total: u64,
    /// Seconds per seeding step (`city`, `slots`, `free slots`, `residents`, `tokens`).
    pub seed_steps: BTreeMap<String, f64>,
}

/// The settings the server runs with: loopback port 0, no jobs, no demo seeding, a fresh secret.
pub fn bench_settings(options: &BenchOptions) -> Settings {
    let mut settings = Settings {
        database_url: options.database_url.clone(),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        demo: Some(false),
        run_jobs: false,
        session_secret: Some(
            format!(
                "bench-{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
            .into(),
        ),
        db_max_connections: options.pool_size(),
        db_max_writers: options.db_writers.unwrap_or(0),
        sqlite_synchronous: options.sqlite_synchronous,
        log_format: LogFormat::Pretty,
        ..Settings::default()
    };
    // First-come booking opens 12 months ahead, so every generated slot is bookable whatever the
    // date the benchmark runs on. The other rules (limits, payment) are the demo city's.
    settings.booking.window.first_come_opens_months_before = 12;
    if let Some(limit) = options.server_max_in_flight {
        settings.max_in_flight = limit;
    }
    settings
}

/// Drop everything: SQLite removes the file; PostgreSQL creates the database if missing (from the
/// `test` database) and drops and recreates its `public` schema.
pub async fn reset_database(url: &str) -> anyhow::Result<()> {
    if url.starts_with("sqlite:") {
        remove_sqlite_files(url);
        return Ok(());
    }
    ensure_database(url).await?;
    let conn = Database::connect(url)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    conn.execute_unprepared("DROP SCHEMA IF EXISTS public CASCADE")
        .await?;
    conn.execute_unprepared("CREATE SCHEMA public").await?;
    conn.close().await.ok();
    Ok(())
}

/// PostgreSQL: create the named database if it does not exist yet (SQLite creates its file).
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    if !url.starts_with("postgres") {
        return Ok(());
    }
    let (admin_url, name) = split_database(url)?;
    let admin = Database::connect(&admin_url)
        .await
        .with_context(|| format!("connecting to {}", redact(&admin_url)))?;
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.clone().into()],
        ))
        .await?
        .is_some();
    if !exists {
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .with_context(|| format!("creating database {name}"))?;
    }
    admin.close().await.ok();
    Ok(())
}

/// The `test` database's URL on the same server, and the database name (checked to be a plain
/// identifier, since it is spliced into SQL).
fn split_database(url: &str) -> anyhow::Result<(String, String)> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, name) = base
        .rsplit_once('/')
        .filter(|(server, _)| server.contains("://") && !server.ends_with('/'))
        .context("the PostgreSQL URL must name a database, e.g. postgres://postgres@127.0.0.1:5432/yoyaku_bench")?;
    anyhow::ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "database name `{name}`: use lower-case letters, digits and _"
    );
    anyhow::ensure!(
        name != "test",
        "the benchmark wipes its database: name another than `test`"
    );
    let admin = match query {
        Some(q) => format!("{server}/test?{q}"),
        None => format!("{server}/test"),
    };
    Ok((admin, name.to_owned()))
}

/// Remove a SQLite database file and its WAL companions.
pub fn remove_sqlite_files(url: &str) {
    let Some(path) = crate::db::sqlite_path(url) else {
        return;
    };
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}

/// The URL without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Seed the demo city (idempotent), generate slots for `days` days from `first_day`, insert
/// `residents` residents and mint their tokens. Progress goes to stderr.
pub async fn seed(
    db: &DatabaseConnection,
    first_day: NaiveDate,
    days: u32,
    residents: usize,
    keys: &SessionKeys,
) -> anyhow::Result<City> {
    let mut steps = BTreeMap::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, steps: &mut BTreeMap<String, f64>| {
        let seconds = clock.elapsed().as_secs_f64();
        eprintln!("bench: {name} in {seconds:.1} s");
        steps.insert(name.to_owned(), seconds);
        clock = Instant::now();
    };
    let fixture = CityFixture::demo()?;
    let options = SeedOptions {
        demo_users: true,
        demo_password: DEFAULT_DEMO_PASSWORD.to_owned(),
    };
    seed::load_city(db, &fixture, &options)
        .await
        .context("seeding the demo city")?;
    lap("city", &mut steps);

    let last_day = first_day + Duration::days(i64::from(days) - 1);
    // Facility by facility (each in its own transaction, as `slots generate` does), so a long
    // window shows progress.
    let facilities: Vec<i32> = facility::Entity::find()
        .order_by_asc(facility::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|f| f.id)
        .collect();
    let mut created = 0;
    for (done, id) in facilities.iter().enumerate() {
        created += crate::services::slots::generate(db, first_day, last_day, Some(*id))
            .await
            .context("generating slots")?
            .created;
        if (done + 1) % 10 == 0 || done + 1 == facilities.len() {
            eprintln!(
                "bench: slots: {}/{} facilities, {created} slots created",
                done + 1,
                facilities.len()
            );
        }
    }
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        // Fresh planner statistics after the bulk load: a live server's autovacuum would have
        // analysed these tables long since, and without it PostgreSQL plans the reads of half a
        // million slots as if the table were empty.
        db.execute_unprepared("ANALYZE").await?;
    }
    let slots_total = slot::Entity::find()
        .select_only()
        .column_as(slot::Column::Id.count(), "n")
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or_default() as u64;
    lap("slots", &mut steps);

    let rooms: Vec<i32> = room::Entity::find()
        .filter(room::Column::ParentRoomId.is_null())
        .filter(room::Column::RequiresGroup.eq(false))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let bookable: std::collections::HashSet<i32> = rooms.iter().copied().collect();
    // Slots that no claim holds yet (a fresh database: all of them).
    let claimed: std::collections::HashSet<i64> = crate::entities::slot_claim::Entity::find()
        .select_only()
        .column(crate::entities::slot_claim::Column::SlotId)
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    // Only the two columns needed: the full-size city has about 860,000 slots.
    let mut free_slots: Vec<FreeSlot> = slot::Entity::find()
        .select_only()
        .column(slot::Column::Id)
        .column(slot::Column::RoomId)
        .filter(slot::Column::Status.eq("open"))
        .filter(slot::Column::ServiceDate.between(first_day, last_day))
        .into_tuple::<(i64, i32)>()
        .all(db)
        .await?
        .into_iter()
        .filter(|(id, room)| bookable.contains(room) && !claimed.contains(id))
        .map(|(slot_id, room_id)| FreeSlot { slot_id, room_id })
        .collect();
    free_slots.sort_by_key(|s| s.slot_id);
    free_slots.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    lap("free slots", &mut steps);

    let ids = insert_residents(db, residents).await?;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        db.execute_unprepared("ANALYZE users").await?;
    }
    lap("residents", &mut steps);
    let residents = ids
        .into_iter()
        .map(|id| Resident {
            id,
            token: keys.issue_access(id, Role::Resident).0,
        })
        .collect();
    lap("tokens", &mut steps);
    Ok(City {
        residents,
        free_slots,
        rooms,
        first_day,
        last_day,
        slots_total,
        seed_steps: steps,
    })
}

/// Rows per INSERT of residents (literal values, no bound parameters, so no parameter limit).
const RESIDENT_ROWS_PER_INSERT: usize = 1000;
/// Rows per transaction: one commit (one fsync) per 10,000 residents, not one per statement.
const RESIDENTS_PER_TRANSACTION: usize = 10_000;

/// Insert `count` approved residents; their ids, in insertion order.
async fn insert_residents(db: &DatabaseConnection, count: usize) -> anyhow::Result<Vec<i32>> {
    // A run-unique tag, so a database that already holds residents of an earlier run still works.
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let tag = &tag[..12];
    for batch in (0..count).step_by(RESIDENTS_PER_TRANSACTION) {
        let txn = db.begin().await?;
        let batch_end = (batch + RESIDENTS_PER_TRANSACTION).min(count);
        for start in (batch..batch_end).step_by(RESIDENT_ROWS_PER_INSERT) {
            let end = (start + RESIDENT_ROWS_PER_INSERT).min(batch_end);
            let values: Vec<String> = (start..end)
                .map(|i| {
                    format!(
                        "('bench-{tag}-{i:06}@bench.yoyaku.jp', NULL, 'ベンチ 利用者', 'resident', 'resident', 'ja', \
                         '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 'approved')"
                    )
                })
                .collect();
            txn.execute_unprepared(&format!(
                "INSERT INTO users (email, password_hash, display_name, role, residency, locale, email_verified_at, created_at, registration_state) VALUES {}",
                values.join(", ")
            ))
            .await
            .context("inserting residents")?;
        }
        txn.commit().await?;
        if count > RESIDENTS_PER_TRANSACTION {
            eprintln!("bench: residents: {batch_end}/{count}");
        }
    }
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id FROM users WHERE email LIKE 'bench-{tag}-%' ORDER BY email"),
        ))
        .await?;
    let ids = rows
        .into_iter()
        .map(|row| row.try_get_by_index::<i32>(0))
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(ids.len() == count, "residents were not all inserted");
    Ok(ids)
}

/// The settings that decide whether a commit survives a power cut.
#[derive(Debug, Clone, Serialize)]
pub struct Durability {
    pub engine: &'static str,
    /// SQLite `synchronous`: `full` (durable) or `normal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqlite_synchronous: Option<&'static str>,
    /// PostgreSQL `SHOW synchronous_commit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synchronous_commit: Option<String>,
    /// PostgreSQL `SHOW fsync`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fsync: Option<String>,
    /// PostgreSQL `SHOW server_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
}

impl Durability {
    /// One short phrase for the table.
    pub fn summary(&self) -> String {
        match self.engine {
            "sqlite" => format!(
                "SQLite, WAL, synchronous={}",
                self.sqlite_synchronous.unwrap_or("?").to_uppercase()
            ),
            _ => format!(
                "PostgreSQL {}, synchronous_commit={}, fsync={}",
                self.server_version.as_deref().unwrap_or("?"),
                self.synchronous_commit.as_deref().unwrap_or("?"),
                self.fsync.as_deref().unwrap_or("?")
            ),
        }
    }
}

/// Read the durability settings in force.
pub async fn durability(
    db: &DatabaseConnection,
    options: &BenchOptions,
) -> anyhow::Result<Durability> {
    if options.is_sqlite() {
        return Ok(Durability {
            engine: "sqlite",
            sqlite_synchronous: Some(match options.sqlite_synchronous {
                SqliteSynchronous::Full => "full",
                SqliteSynchronous::Normal => "normal",
            }),
            synchronous_commit: None,
            fsync: None,
            server_version: None,
        });
    }
    let show = |name: &'static str| async move {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SHOW {name}"),
            ))
            .await?
            .context("SHOW returned nothing")?;
        anyhow::Ok(row.try_get_by_index::<String>(0)?)
    };
    Ok(Durability {
        engine: "postgresql",
        sqlite_synchronous: None,
        synchronous_commit: Some(show("synchronous_commit").await?),
        fsync: Some(show("fsync").await?),
        server_version: Some(show("server_version").await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_url_is_the_test_database_on_the_same_server() {
        let (admin, name) =
            split_database("postgres://postgres@127.0.0.1:5432/yoyaku_bench").unwrap();
        assert_eq!(admin, "postgres://postgres@127.0.0.1:5432/test");
        assert_eq!(name, "yoyaku_bench");
        assert!(split_database("postgres://postgres@127.0.0.1:5432/x;drop").is_err());
        assert!(split_database("postgres://postgres@127.0.0.1:5432/test").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
