//! The report: each run's counts, throughput, latency and invariants, R = L2/L0 for workload C,
//! the conditions of the measurement (engine, durability, sizes, build); printed as one table
//! and written as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::BenchOptions;
use super::invariants::Invariants;
use super::load::{Latency, Samples};
use super::setup::{City, Durability, redact};

/// What this version does not measure yet.
pub const NOT_COVERED: &[&str] = &[
    "workload A (Zipf opening rush with retries)",
    "workload D (mixed: 20 reads per booking)",
    "L0 via pgbench on PostgreSQL (L0 here is the booking service called in-process)",
    "open-model load at a fixed arrival rate (this driver keeps a fixed number in flight)",
    "the throughput-vs-concurrency sweep",
    "the full-size city: 100k residents and 180 days of slots",
    "the Idempotency-Key replay invariant (needs workload A's retries)",
];

/// One workload at one level.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub workload: String,
    pub level: String,
    /// Requests in flight at once (B: all of them).
    pub concurrency: usize,
    pub requests: usize,
    /// Answers by HTTP status (`0`: no answer).
    pub statuses: BTreeMap<u16, usize>,
    pub successes: usize,
    pub conflicts: usize,
    pub server_errors: usize,
    pub other_errors: usize,
    pub elapsed_s: f64,
    pub throughput_per_s: f64,
    pub latency: Latency,
    /// The first message seen for each status other than success and 409.
    pub first_errors: BTreeMap<u16, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invariants: Option<Invariants>,
    /// Failed checks: the invariants, and for B "exactly one 201, the rest 409".
    pub violations: usize,
}

impl Run {
    pub fn new(
        workload: &str,
        level: &str,
        concurrency: usize,
        samples: Samples,
        invariants: Option<Invariants>,
    ) -> Run {
        let mut statuses = BTreeMap::new();
        let mut first_errors = BTreeMap::new();
        for s in &samples.samples {
            *statuses.entry(s.outcome.status).or_insert(0) += 1;
            if let Some(error) = &s.outcome.error
                && s.outcome.status != 409
            {
                first_errors
                    .entry(s.outcome.status)
                    .or_insert_with(|| error.clone());
            }
        }
        let count = |f: &dyn Fn(u16) -> bool| {
            statuses
                .iter()
                .filter(|(s, _)| f(**s))
                .map(|(_, n)| n)
                .sum::<usize>()
        };
        let successes = count(&|s| (200..300).contains(&s));
        let conflicts = count(&|s| s == 409);
        let server_errors = count(&|s| s >= 500);
        let requests = samples.samples.len();
        let other_errors = requests - successes - conflicts - server_errors;
        let elapsed_s = samples.elapsed.as_secs_f64();
        let mut violations = invariants.as_ref().map_or(0, Invariants::violations);
        if workload == "B" && !(successes == 1 && conflicts == requests - 1) {
            violations += 1;
        }
        if workload == "C" && successes != requests {
            // Distinct slots never conflict: anything but 201 is a failure of the run.
            violations += 1;
        }
        Run {
            workload: workload.to_owned(),
            level: level.to_owned(),
            concurrency,
            requests,
            statuses,
            successes,
            conflicts,
            server_errors,
            other_errors,
            elapsed_s,
            throughput_per_s: if elapsed_s > 0.0 {
                requests as f64 / elapsed_s
            } else {
                0.0
            },
            latency: Latency::of(&samples.samples),
            first_errors,
            invariants,
            violations,
        }
    }
}

/// The conditions of the measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub started_at: DateTime<Utc>,
    pub version: &'static str,
    /// `release` or `debug`: only release figures mean anything.
    pub build: &'static str,
    pub cpus: usize,
    pub database_url: String,
    pub durability: Durability,
    pub db_pool: u32,
    pub concurrency: usize,
    pub c_requests_per_level: usize,
    pub hot_requests: usize,
    pub read_requests: usize,
    pub residents: usize,
    pub slot_days: u32,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub slots_in_database: u64,
    pub driver: &'static str,
    /// `RUST_LOG` during the run: per-request logging costs time (use `warn` for figures).
    pub rust_log: Option<String>,
    pub seed_seconds: f64,
    pub total_seconds: f64,
}

impl Meta {
    pub fn new(
        options: &BenchOptions,
        started_at: DateTime<Utc>,
        durability: Durability,
        seed_seconds: f64,
        city: &City,
        total_seconds: f64,
    ) -> Meta {
        Meta {
            started_at,
            version: env!("CARGO_PKG_VERSION"),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            database_url: redact(&options.database_url),
            durability,
            db_pool: options.pool_size(),
            concurrency: options.concurrency,
            c_requests_per_level: options.requests,
            hot_requests: options.hot_requests,
            read_requests: options.read_requests,
            residents: city.residents.len(),
            slot_days: options.days,
            first_day: city.first_day,
            last_day: city.last_day,
            slots_in_database: city.slots_total,
            driver: "closed model: a fixed number of requests in flight, reqwest + tokio on loopback; latency per request from its send",
            rust_log: std::env::var("RUST_LOG").ok(),
            seed_seconds,
            total_seconds,
        }
    }
}

/// Everything one `yoyaku bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub meta: Meta,
    pub runs: Vec<Run>,
    /// Workload C: L2 throughput / L0 throughput, at the same concurrency.
    pub r_c: Option<f64>,
    /// Sum of every run's failed checks; must be 0.
    pub violations: usize,
    pub not_covered: Vec<&'static str>,
}

/// Assemble the report.
pub fn build(meta: Meta, runs: Vec<Run>) -> BenchReport {
    let throughput = |level: &str| {
        runs.iter()
            .find(|r| r.workload == "C" && r.level.starts_with(level))
            .map(|r| r.throughput_per_s)
    };
    let r_c = match (throughput("L2"), throughput("L0")) {
        (Some(l2), Some(l0)) if l0 > 0.0 => Some(l2 / l0),
        _ => None,
    };
    BenchReport {
        violations: runs.iter().map(|r| r.violations).sum(),
        meta,
        runs,
        r_c,
        not_covered: NOT_COVERED.to_vec(),
    }
}

/// The table printed to stdout.
pub fn table(report: &BenchReport) -> String {
    let m = &report.meta;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "yoyaku bench {} ({} build, {} CPUs) — {} — pool {} — {} residents, {} slots ({} days from {})",
        m.version,
        m.build,
        m.cpus,
        m.durability.summary(),
        m.db_pool,
        m.residents,
        m.slots_in_database,
        m.slot_days,
        m.first_day
    );
    let _ = writeln!(
        out,
        "{:<3} {:<40} {:>5} {:>6} {:>6} {:>6} {:>5} {:>5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>4}",
        "wl",
        "level",
        "conc",
        "reqs",
        "2xx",
        "409",
        "5xx",
        "other",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "viol"
    );
    for r in &report.runs {
        let _ = writeln!(
            out,
            "{:<3} {:<40} {:>5} {:>6} {:>6} {:>6} {:>5} {:>5} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>4}",
            r.workload,
            r.level,
            r.concurrency,
            r.requests,
            r.successes,
            r.conflicts,
            r.server_errors,
            r.other_errors,
            r.throughput_per_s,
            r.latency.p50_ms,
            r.latency.p99_ms,
            r.latency.p999_ms,
            r.latency.max_ms,
            r.violations
        );
        for (status, message) in &r.first_errors {
            let _ = writeln!(out, "    first {status}: {message}");
        }
    }
    match report.r_c {
        Some(r) => {
            let _ = writeln!(out, "R (workload C, L2/L0 throughput) = {r:.2}");
        }
        None => {
            let _ = writeln!(out, "R: workload C was not run");
        }
    }
    let _ = write!(
        out,
        "invariant violations: {}{}",
        report.violations,
        if report.violations == 0 {
            " (ok)"
        } else {
            " (FAILED)"
        }
    );
    out
}

/// Write the JSON report, creating its folder.
pub fn write_json(report: &BenchReport, path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
}
