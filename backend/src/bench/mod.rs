//! `yoyaku bench`: the benchmark harness described in `shared/BENCHMARK.md` (first version).
//!
//! It prepares a database (a fresh SQLite file, or a PostgreSQL database whose schema is dropped
//! and recreated), seeds the demo city, generates slots for a short window, inserts residents in
//! bulk and mints their access tokens, starts the real server in-process on a loopback port, and
//! drives it with bounded, closed-model load (a fixed number of requests in flight, latency
//! measured per request). After every run the invariants are checked in the database.
//!
//! Covered: workload C (distinct slots) at L2 (HTTP) and L0 (the booking service called
//! in-process, same pool), workload B (one hot slot), workload E (availability reads).
//! Not yet: workloads A and D, L0 via pgbench, an open-model arrival rate, 100k residents and the
//! concurrency sweep.
//!
//! Modules: [`setup`] (database, seed, slots, residents), [`load`] (the bounded driver and
//! latency statistics), [`workloads`] (B, C, E), [`invariants`] (database checks), [`report`]
//! (the table and the JSON).

pub mod invariants;
pub mod load;
pub mod report;
pub mod setup;
pub mod workloads;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;

use crate::domain::calendar::tokyo_date;
use crate::startup::Application;

pub use report::BenchReport;

/// A workload this version can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// One hot slot: N requests released together.
    B,
    /// Distinct slots: the booking write ceiling, at L2 and L0.
    C,
    /// Availability reads.
    E,
}

impl std::str::FromStr for Workload {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "b" => Ok(Workload::B),
            "c" => Ok(Workload::C),
            "e" => Ok(Workload::E),
            "a" | "d" => anyhow::bail!("workload {s} is not implemented yet (only b, c, e)"),
            other => anyhow::bail!("unknown workload `{other}` (use b, c, e)"),
        }
    }
}

/// Parse `c,b,e`.
pub fn parse_workloads(list: &str) -> anyhow::Result<Vec<Workload>> {
    let mut out = Vec::new();
    for part in list.split(',').filter(|p| !p.trim().is_empty()) {
        let w: Workload = part.parse()?;
        if !out.contains(&w) {
            out.push(w);
        }
    }
    anyhow::ensure!(!out.is_empty(), "no workload given");
    Ok(out)
}

/// What to run, and on what.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Drop everything in the database first (PostgreSQL: the `public` schema; SQLite: the file).
    /// The command line always resets; tests hand over a fresh database and pass `false`.
    pub reset: bool,
    pub workloads: Vec<Workload>,
    /// Requests in flight at once (workloads C and E).
    pub concurrency: usize,
    /// Requests per level of workload C.
    pub requests: usize,
    /// Requests released together at one slot (workload B).
    pub hot_requests: usize,
    /// Requests per query of workload E.
    pub read_requests: usize,
    /// Days of slots to generate, from two days ahead.
    pub days: u32,
    /// Residents to insert.
    pub residents: usize,
    /// Pool size; default by engine.
    pub db_connections: Option<u32>,
    /// SQLite durability, from the loaded settings.
    pub sqlite_synchronous: crate::config::SqliteSynchronous,
    /// Where the JSON goes; `None` writes nothing.
    pub out: Option<PathBuf>,
    /// Remove the SQLite file at the end (the default temporary file).
    pub remove_after: bool,
}

impl BenchOptions {
    /// The defaults of the command line, on `database_url`.
    pub fn new(database_url: impl Into<String>) -> BenchOptions {
        BenchOptions {
            database_url: database_url.into(),
            reset: true,
            workloads: vec![Workload::C, Workload::B, Workload::E],
            concurrency: 32,
            requests: 2000,
            hot_requests: 1000,
            read_requests: 500,
            days: 14,
            residents: 2000,
            db_connections: None,
            sqlite_synchronous: crate::config::SqliteSynchronous::Full,
            out: None,
            remove_after: false,
        }
    }

    fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    fn pool_size(&self) -> u32 {
        self.db_connections.unwrap_or(if self.is_sqlite() {
            8
        } else {
            (self.concurrency as u32).clamp(4, 64)
        })
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.concurrency >= 1, "--concurrency must be at least 1");
        anyhow::ensure!(self.residents >= 1, "--residents must be at least 1");
        anyhow::ensure!(self.days >= 1, "--days must be at least 1");
        if self.workloads.contains(&Workload::C) {
            // Each level of C books one slot per resident (two bookings each in all, within the
            // default per-person limits of 3 unpaid and 4 per month and kind of room).
            anyhow::ensure!(
                self.requests <= self.residents,
                "--requests ({}) must not exceed --residents ({}): each booking of workload C is made by its own resident",
                self.requests,
                self.residents
            );
        }
        Ok(())
    }
}

/// Run the benchmark; returns the report (also printed and written, if asked).
pub async fn run(options: BenchOptions) -> anyhow::Result<BenchReport> {
    options.check()?;
    let started = Utc::now();
    let clock = Instant::now();
    if options.reset {
        setup::reset_database(&options.database_url).await?;
    } else {
        setup::ensure_database(&options.database_url).await?;
    }
    let settings = setup::bench_settings(&options);
    let app = Application::build(settings)
        .await
        .context("building the application")?;
    let port = app.port();
    let db = app.state().db.clone();
    let keys = app.state().keys.clone();
    let rules = app.state().booking_rules.clone();

    let seed_clock = Instant::now();
    let first_day = tokyo_date(Utc::now()) + chrono::Duration::days(2);
    let city = setup::seed(&db, first_day, options.days, options.residents, &keys).await?;
    let seed_seconds = seed_clock.elapsed().as_secs_f64();
    eprintln!(
        "bench: seeded {} slots and {} residents in {seed_seconds:.1} s; running on port {port}",
        city.slots_total,
        city.residents.len()
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()?;

    let mut runs = Vec::new();
    let mut slot_pool = city.free_slots.clone().into_iter();
    for workload in &options.workloads {
        match workload {
            Workload::C => {
                let l0_slots: Vec<_> = slot_pool.by_ref().take(options.requests).collect();
                let l2_slots: Vec<_> = slot_pool.by_ref().take(options.requests).collect();
                anyhow::ensure!(
                    l0_slots.len() == options.requests && l2_slots.len() == options.requests,
                    "not enough free slots for workload C: raise --days"
                );
                runs.push(
                    workloads::c_service(&db, &rules, &city, &l0_slots, options.concurrency)
                        .await?,
                );
                runs.push(
                    workloads::c_http(&db, &client, &base, &city, &l2_slots, options.concurrency)
                        .await?,
                );
            }
            Workload::B => {
                let hot = slot_pool
                    .next()
                    .context("no free slot left for workload B")?;
                runs.push(
                    workloads::b_http(&db, &client, &base, &city, hot, options.hot_requests)
                        .await?,
                );
            }
            Workload::E => {
                runs.extend(
                    workloads::e_http(
                        &client,
                        &base,
                        &city,
                        options.read_requests,
                        options.concurrency,
                    )
                    .await?,
                );
            }
        }
    }
    let durability = setup::durability(&db, &options).await?;
    let _ = stop.send(());
    server.await.context("the server task")??;

    let report = report::build(
        report::Meta::new(
            &options,
            started,
            durability,
            seed_seconds,
            &city,
            clock.elapsed().as_secs_f64(),
        ),
        runs,
    );
    println!("{}", report::table(&report));
    if let Some(path) = &options.out {
        report::write_json(&report, path)?;
        eprintln!("bench: wrote {}", path.display());
    }
    if options.remove_after && options.is_sqlite() {
        setup::remove_sqlite_files(&options.database_url);
    }
    Ok(report)
}

/// A fresh SQLite file in the temporary folder.
pub fn temp_sqlite_url() -> String {
    let path =
        std::env::temp_dir().join(format!("yoyaku-bench-{}.db", uuid::Uuid::new_v4().simple()));
    format!("sqlite://{}", path.display())
}
