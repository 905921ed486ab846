//! `yoyaku bench`: the benchmark harness described in `shared/BENCHMARK.md`.
//!
//! It prepares a database (a fresh SQLite file, or a PostgreSQL database whose schema is dropped
//! and recreated), seeds the demo city, generates slots for a window, inserts residents in bulk
//! and mints their access tokens, starts the real server in-process on a loopback port, and
//! drives it over HTTP with bounded load: closed (a fixed number in flight) or open (a fixed
//! arrival rate, latency from the intended send time). After every booking run the invariants
//! are checked in the database.
//!
//! Workloads: A (opening rush: Zipf demand, retries on 409, replayed Idempotency-Keys), B (one
//! hot slot), C (distinct slots: L0 in-process, L0-pgbench on PostgreSQL, L2 over HTTP), D (20
//! availability reads per booking), E (availability reads); and the concurrency sweep of C with
//! the open-model check at 80 % of peak throughput.
//!
//! Modules: [`setup`] (database, seed, slots, residents), [`load`] (the drivers and latency
//! statistics), [`workloads`] (B, C, D, E, the sweep and the 80 % check), [`rush`] (A and its
//! Zipf law), [`pgbench`] (C's L0 as raw SQL through pgbench), [`invariants`] (database checks),
//! [`report`] (the tables and the JSON).

pub mod invariants;
pub mod load;
pub mod pgbench;
pub mod report;
pub mod rush;
pub mod setup;
pub mod workloads;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;

use crate::domain::calendar::tokyo_date;
use crate::startup::Application;
use load::Model;
use report::{Run, Target};
use setup::{FreeSlot, Resident};

pub use report::BenchReport;

/// A workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Opening rush: Zipf-skewed demand, up to 3 retries on 409, some requests sent twice.
    A,
    /// One hot slot: N requests released together.
    B,
    /// Distinct slots: the booking write ceiling, at L2 and L0.
    C,
    /// Mixed: 20 availability reads per booking.
    D,
    /// Availability reads.
    E,
}

impl std::str::FromStr for Workload {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "a" => Ok(Workload::A),
            "b" => Ok(Workload::B),
            "c" => Ok(Workload::C),
            "d" => Ok(Workload::D),
            "e" => Ok(Workload::E),
            other => anyhow::bail!("unknown workload `{other}` (use a, b, c, d, e)"),
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

/// Parse `1,2,4,8`.
pub fn parse_sweep(list: &str) -> anyhow::Result<Vec<usize>> {
    let levels = list
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .with_context(|| format!("--sweep: `{p}` is not a concurrency of at least 1"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!levels.is_empty(), "--sweep: no level given");
    Ok(levels)
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
    /// Requests in flight at once (closed model: workloads A, C, D, E).
    pub concurrency: usize,
    /// Open model: arrivals per second for A, C, D and E; `None` runs them closed.
    pub rate: Option<f64>,
    /// Open model: stop after this many seconds (`rate × duration` arrivals) instead of after
    /// each workload's own count.
    pub duration_s: Option<f64>,
    /// Open model: at most this many jobs outstanding; arrivals beyond it are dropped.
    pub max_in_flight: usize,
    /// Requests per level of workload C.
    pub requests: usize,
    /// Requests released together at one slot (workload B).
    pub hot_requests: usize,
    /// Requests per query of workload E.
    pub read_requests: usize,
    /// Workload A: residents in the rush (each books at most one slot).
    pub rush_residents: usize,
    /// Workload A: the slots they compete for (Zipf ranks), taken from the window.
    pub rush_slots: usize,
    /// Workload A: the share of requests sent twice with the same Idempotency-Key and body.
    pub replay_fraction: f64,
    /// Workload D: bookings, each with 20 reads.
    pub mixed_bookings: usize,
    /// Concurrency levels of the sweep of workload C; empty: no sweep.
    pub sweep: Vec<usize>,
    /// Bookings per level and per L0/L2 in the sweep.
    pub sweep_requests: usize,
    /// Seconds of the open-model run at 80 % of the sweep's peak.
    pub peak_duration_s: f64,
    /// Month-grid reads per second sent alongside that run, to time the grid under that load.
    pub probe_rate: f64,
    /// Days of slots to generate, from two days ahead.
    pub days: u32,
    /// Residents to insert; 0: as many as the chosen workloads need (at least 2,000).
    pub residents: usize,
    /// Pool size; default by engine.
    pub db_connections: Option<u32>,
    /// PostgreSQL: write transactions at once (`Settings::db_max_writers`); default automatic.
    pub db_writers: Option<u32>,
    /// The server's in-flight limit (`Settings::max_in_flight`); default the server's.
    pub server_max_in_flight: Option<u32>,
    /// SQLite durability, from the loaded settings.
    pub sqlite_synchronous: crate::config::SqliteSynchronous,
    /// SQLite: queue writers in the process (see `db::begin_write`).
    pub sqlite_writer_queue: bool,
    /// PostgreSQL: also run C's L0 through pgbench when the binary is installed.
    pub pgbench: bool,
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
            rate: None,
            duration_s: None,
            max_in_flight: 512,
            requests: 2000,
            hot_requests: 1000,
            read_requests: 500,
            rush_residents: 2000,
            rush_slots: 5000,
            replay_fraction: 0.05,
            mixed_bookings: 100,
            sweep: Vec::new(),
            sweep_requests: 1000,
            peak_duration_s: 10.0,
            probe_rate: 20.0,
            days: 14,
            residents: 0,
            db_connections: None,
            db_writers: None,
            server_max_in_flight: None,
            sqlite_synchronous: crate::config::SqliteSynchronous::Full,
            sqlite_writer_queue: true,
            pgbench: true,
            out: None,
            remove_after: false,
        }
    }

    fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    fn pool_size(&self) -> u32 {
        let widest = self
            .sweep
            .iter()
            .copied()
            .chain([self.concurrency])
            .max()
            .unwrap_or(self.concurrency);
        self.db_connections.unwrap_or(if self.is_sqlite() {
            8
        } else {
            (widest as u32).clamp(4, 64)
        })
    }

    /// The model of A, C, D and E.
    fn model(&self) -> Model {
        match self.rate {
            Some(rate) => Model::Open {
                rate,
                max_in_flight: self.max_in_flight,
            },
            None => Model::Closed {
                concurrency: self.concurrency,
            },
        }
    }

    /// Jobs of a run whose own count is `count`: `rate × duration` when both are given.
    fn jobs(&self, count: usize) -> usize {
        match (self.rate, self.duration_s) {
            (Some(rate), Some(seconds)) => (rate * seconds).round().max(1.0) as usize,
            _ => count,
        }
    }

    fn runs_pgbench(&self) -> bool {
        self.pgbench && !self.is_sqlite()
    }

    /// Slots and resident bookings the workloads will take (the 80 % run takes what is left).
    fn demand(&self) -> (usize, usize) {
        let (mut slots, mut bookings) = (0, 0);
        let c_levels = 2 + usize::from(self.runs_pgbench());
        for w in &self.workloads {
            let (s, b) = match w {
                Workload::A => (self.rush_slots, self.jobs(self.rush_residents)),
                Workload::B => (1, self.hot_requests),
                Workload::C => {
                    let n = self.jobs(self.requests);
                    (c_levels * n, c_levels * n)
                }
                Workload::D => {
                    let n = self.jobs(self.mixed_bookings * 21).div_ceil(21);
                    (n, n)
                }
                Workload::E => (0, 0),
            };
            slots += s;
            bookings += b;
        }
        let sweep = self.sweep.len() * c_levels * self.sweep_requests;
        (slots + sweep, bookings + sweep)
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.concurrency >= 1, "--concurrency must be at least 1");
        anyhow::ensure!(self.days >= 1, "--days must be at least 1");
        if let Some(rate) = self.rate {
            anyhow::ensure!(
                rate.is_finite() && rate > 0.0,
                "--rate must be a positive number"
            );
        }
        if let Some(seconds) = self.duration_s {
            anyhow::ensure!(
                self.rate.is_some(),
                "--duration needs --rate (the closed model stops after its request count)"
            );
            anyhow::ensure!(seconds > 0.0, "--duration must be positive");
        }
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.replay_fraction),
            "--replay-fraction is a share between 0 and 1"
        );
        anyhow::ensure!(
            self.max_in_flight >= 1,
            "--max-in-flight must be at least 1"
        );
        Ok(())
    }
}

/// The free slots and residents the workloads take from, in turn, so that no two runs share a
/// slot and no resident goes over the per-person limits.
struct Pools {
    slots: Vec<FreeSlot>,
    next_slot: usize,
    residents: Vec<Resident>,
    next_resident: usize,
    /// Bookings one resident may make in the whole benchmark: the smaller of the unpaid and the
    /// per-month limits (bookings stay unpaid, and the window may lie in one month).
    per_resident: usize,
    /// When the residents' access tokens were minted.
    minted: Instant,
}

impl Pools {
    fn slots(&mut self, n: usize, what: &str) -> anyhow::Result<Vec<FreeSlot>> {
        let end = self.next_slot + n;
        anyhow::ensure!(
            end <= self.slots.len(),
            "not enough free slots for {what}: {n} wanted, {} left; raise --days",
            self.slots.len() - self.next_slot
        );
        let taken = self.slots[self.next_slot..end].to_vec();
        self.next_slot = end;
        Ok(taken)
    }

    fn slots_left(&self) -> usize {
        self.slots.len() - self.next_slot
    }

    /// `n` distinct residents, round the list, each used at most `per_resident` times overall.
    fn residents(&mut self, n: usize, what: &str) -> anyhow::Result<Vec<Resident>> {
        anyhow::ensure!(
            n <= self.residents.len() && n <= self.residents_left(),
            "not enough residents for {what}: {n} wanted, {} bookings left within the per-person limits; raise --residents",
            self.residents_left()
        );
        let len = self.residents.len();
        let taken = (self.next_resident..self.next_resident + n)
            .map(|i| self.residents[i % len].clone())
            .collect();
        self.next_resident += n;
        Ok(taken)
    }

    /// Access tokens live 15 minutes: mint them afresh once they are 5 minutes old, so that
    /// every token lasts out the run it is taken for.
    fn refresh_tokens(&mut self, keys: &crate::auth::SessionKeys) {
        if self.minted.elapsed() < std::time::Duration::from_secs(300) {
            return;
        }
        for r in &mut self.residents {
            r.token = keys
                .issue_access(r.id, crate::domain::roles::Role::Resident)
                .0;
        }
        self.minted = Instant::now();
    }

    fn residents_left(&self) -> usize {
        (self.residents.len() * self.per_resident).saturating_sub(self.next_resident)
    }
}

/// Run the benchmark; returns the report (also printed and written, if asked).
pub async fn run(options: BenchOptions) -> anyhow::Result<BenchReport> {
    options.check()?;
    let started = Utc::now();
    let load_start = report::load_average();
    let clock = Instant::now();
    crate::db::set_sqlite_writer_queue(options.sqlite_writer_queue);
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
    let rules = app.state().booking_rules();

    let per_resident = rules
        .limits
        .max_unpaid_at_once
        .min(rules.limits.max_active_per_month_per_room_kind)
        .max(1) as usize;
    let (slots_needed, bookings_needed) = options.demand();
    let widest = [
        options.jobs(options.requests),
        options.hot_requests,
        options.jobs(options.rush_residents),
        options.sweep_requests,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    // The peak search (up to nine steps of `peak_duration_s`, rising to 130 % of the sweep's
    // best) and the 80 % run book as fast as the server allows; allow for a peak of up to 1,000
    // bookings a second, and cut short (with a note) if it is higher.
    let peak_allowance = if options.sweep.is_empty() {
        0
    } else {
        (1000.0 * options.peak_duration_s * 8.5) as usize
    };
    let wanted_residents = (bookings_needed + peak_allowance)
        .div_ceil(per_resident)
        .max(widest)
        .max(2000);
    let residents = if options.residents == 0 {
        wanted_residents
    } else {
        options.residents
    };

    let first_day = tokyo_date(Utc::now()) + chrono::Duration::days(2);
    let mut city = setup::seed(&db, first_day, options.days, residents, &keys).await?;
    eprintln!(
        "bench: seeded {} slots ({} free in whole or plain rooms) and {} residents in {:.1} s; running on port {port}",
        city.slots_total,
        city.free_slots.len(),
        city.residents.len(),
        city.seed_steps.values().sum::<f64>()
    );
    anyhow::ensure!(
        slots_needed <= city.free_slots.len(),
        "the workloads need {slots_needed} free slots and the window has {}: raise --days or lower the counts",
        city.free_slots.len()
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

    let mut pools = Pools {
        slots: std::mem::take(&mut city.free_slots),
        next_slot: 0,
        residents: city.residents.clone(),
        next_resident: 0,
        per_resident,
        minted: Instant::now(),
    };
    let ctx = workloads::Ctx {
        db: db.clone(),
        client: client.clone(),
        base: base.clone(),
        rules: rules.clone(),
        keys: keys.clone(),
        database_url: options.database_url.clone(),
    };
    let mut runs: Vec<Run> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut sweep = Vec::new();
    let model = options.model();
    for workload in &options.workloads {
        // Access tokens live 15 minutes; a long benchmark mints them afresh.
        pools.refresh_tokens(&keys);
        match workload {
            Workload::C => {
                let n = options.jobs(options.requests);
                let residents = pools.residents(n, "C L0")?;
                let slots = pools.slots(n, "C L0")?;
                runs.push(workloads::c_service(&ctx, "C", &residents, &slots, model).await?);
                if options.runs_pgbench() {
                    let residents = pools.residents(n, "C L0-pgbench")?;
                    let slots = pools.slots(n, "C L0-pgbench")?;
                    match pgbench::l0(&ctx, "C", &residents, &slots, options.concurrency).await? {
                        Ok(run) => runs.push(run),
                        Err(why) => notes.push(why),
                    }
                } else if !options.is_sqlite() {
                    notes.push("L0-pgbench was not asked for (--no-pgbench)".into());
                }
                let residents = pools.residents(n, "C L2")?;
                let slots = pools.slots(n, "C L2")?;
                runs.push(workloads::c_http(&ctx, "C", &residents, &slots, model).await?);
            }
            Workload::B => {
                let hot = pools.slots(1, "B")?[0];
                let residents = pools.residents(options.hot_requests, "B")?;
                runs.push(workloads::b_http(&ctx, &residents, hot).await?);
            }
            Workload::E => {
                let n = options.jobs(options.read_requests);
                runs.extend(workloads::e_http(&ctx, &city, n, model).await?);
            }
            Workload::D => {
                let n = options.jobs(options.mixed_bookings * 21);
                let bookings = n.div_ceil(21);
                let residents = pools.residents(bookings, "D")?;
                let slots = pools.slots(bookings, "D")?;
                runs.extend(workloads::d_http(&ctx, &city, &residents, &slots, n, model).await?);
            }
            Workload::A => {
                let n = options.jobs(options.rush_residents);
                let residents = pools.residents(n, "A")?;
                let slots = pools.slots(options.rush_slots, "A")?;
                runs.extend(
                    rush::a_http(&ctx, &residents, &slots, model, options.replay_fraction).await?,
                );
            }
        }
    }
    if !options.sweep.is_empty() {
        let outcome = workloads::sweep(&ctx, &options, &mut pools, &city).await?;
        runs.extend(outcome.runs);
        sweep = outcome.points;
        targets.extend(outcome.targets);
        notes.extend(outcome.notes);
    }
    let durability = setup::durability(&db, &options).await?;
    let _ = stop.send(());
    server.await.context("the server task")??;

    let mut meta = report::Meta::new(
        &options,
        started,
        durability,
        &city,
        clock.elapsed().as_secs_f64(),
    );
    meta.load_average_start = load_start;
    let report = report::build(meta, runs, sweep, targets, notes);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_and_sweeps_parse() {
        assert_eq!(
            parse_workloads("a, d,a").unwrap(),
            vec![Workload::A, Workload::D]
        );
        assert!(parse_workloads("f").is_err());
        assert_eq!(parse_sweep("1,2, 4").unwrap(), vec![1, 2, 4]);
        assert!(parse_sweep("0").is_err());
    }

    #[test]
    fn the_open_model_runs_for_its_duration() {
        let options = BenchOptions {
            rate: Some(50.0),
            duration_s: Some(3.0),
            ..BenchOptions::new("sqlite::memory:")
        };
        assert_eq!(options.jobs(2000), 150);
        assert!(matches!(options.model(), Model::Open { .. }));
        assert_eq!(BenchOptions::new("sqlite::memory:").jobs(2000), 2000);
    }
}
