//! The report: each run's load model, counts, throughput, latency and invariants; R = L2/L0 for
//! workload C (against the in-process L0, and against pgbench on PostgreSQL); the concurrency
//! sweep and the 80 %-of-peak check with the targets of issue 4; the conditions of the
//! measurement (engine, durability, sizes, build, load average). Printed as tables and written
//! as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::BenchOptions;
use super::invariants::Invariants;
use super::load::{Latency, Model, Samples};
use super::rush::RushSummary;
use super::setup::{City, Durability, redact};

/// What this version does not measure yet.
pub const NOT_COVERED: &[&str] = &[
    "figures from a quiet machine, repeated, with the median reported",
    "workload A over halves as well as wholes (it draws from whole and plain rooms only)",
];

/// One workload at one level.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub workload: String,
    pub level: String,
    /// `closed 32`, `open 400/s ≤512` or `released 1000`: how the load was sent.
    pub model: String,
    pub load_model: Model,
    /// Requests in flight at once (closed), the in-flight cap (open), all of them (released).
    pub concurrency: usize,
    /// Requests sent (and answered, or failed without an answer).
    pub requests: usize,
    /// Open model: jobs not sent because the in-flight cap was full.
    pub dropped: usize,
    /// Open model: jobs sent more than 10 ms after their intended time.
    pub late: usize,
    /// Answers by HTTP status (`0`: no answer).
    pub statuses: BTreeMap<u16, usize>,
    pub successes: usize,
    pub conflicts: usize,
    pub server_errors: usize,
    pub other_errors: usize,
    pub elapsed_s: f64,
    /// Answers per second over the run (requests / elapsed).
    pub throughput_per_s: f64,
    /// Latency: from the intended send time (open model), from the send (closed), from the
    /// release (released); to the end of the answer's body.
    pub latency: Latency,
    /// The first message seen for each status other than success and 409.
    pub first_errors: BTreeMap<u16, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invariants: Option<Invariants>,
    /// Workload A's summary (residents served, attempts, replays, skew).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rush: Option<RushSummary>,
    /// Anything the reader should know about this row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Failed checks: the invariants, for B "exactly one 201, the rest 409", for C "every
    /// request 201".
    pub violations: usize,
}

impl Run {
    pub fn new(
        workload: &str,
        level: &str,
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
        // 503s are the server shedding load (`overloaded`, beyond `--server-max-in-flight`) or
        // a request timing out; the overload run is there to show the first.
        let shed = count(&|s| s == 503);
        if workload.starts_with('C') && successes + shed != requests {
            // Distinct slots never conflict: anything but 201 (or a refusal to take the request
            // at all) is a failure of the run.
            violations += 1;
        }
        Run {
            workload: workload.to_owned(),
            level: level.to_owned(),
            model: samples.model.label(),
            load_model: samples.model,
            concurrency: samples.model.concurrency(),
            requests,
            dropped: samples.dropped,
            late: samples.late,
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
            rush: None,
            note: None,
            violations,
        }
    }

    /// The same row with a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Run {
        self.note = Some(note.into());
        self
    }
}

/// One level of the concurrency sweep (workload C, closed model).
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub concurrency: usize,
    pub l0_per_s: f64,
    pub l0_p50_ms: f64,
    pub l0_p99_ms: f64,
    /// pgbench at this concurrency (PostgreSQL, when pgbench is installed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgbench_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgbench_p99_ms: Option<f64>,
    pub l2_per_s: f64,
    pub l2_p50_ms: f64,
    pub l2_p99_ms: f64,
    pub l2_p999_ms: f64,
}

/// A target of issue 4 and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub measured: f64,
    /// `< 50` or `>= 0.8`.
    pub target: String,
    pub met: bool,
}

impl Target {
    pub fn below(name: &str, measured: f64, limit: f64) -> Target {
        Target {
            name: name.to_owned(),
            measured,
            target: format!("< {limit}"),
            met: measured < limit,
        }
    }

    pub fn at_least(name: &str, measured: f64, floor: f64) -> Target {
        Target {
            name: name.to_owned(),
            measured,
            target: format!(">= {floor}"),
            met: measured >= floor,
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
    /// `/proc/loadavg` (1, 5, 15 minutes) when the run started and when it ended: other work on
    /// the machine skews every figure.
    pub load_average_start: Option<String>,
    pub load_average_end: Option<String>,
    pub database_url: String,
    pub durability: Durability,
    /// SQLite: write transactions wait their turn in the process (a semaphore of one) rather
    /// than in SQLite's busy handler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqlite_writer_queue: Option<bool>,
    pub db_pool: u32,
    /// PostgreSQL: write transactions allowed at once (the others queue in the process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_writers: Option<u32>,
    /// The server's in-flight limit: beyond it requests are shed with 503 `overloaded`.
    pub server_max_in_flight: u32,
    pub concurrency: usize,
    /// `--rate`: the open model's arrivals per second, when given.
    pub rate: Option<f64>,
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
    /// Seeding, step by step (seconds).
    pub seed_steps: BTreeMap<String, f64>,
    pub total_seconds: f64,
}

impl Meta {
    pub fn new(
        options: &BenchOptions,
        started_at: DateTime<Utc>,
        durability: Durability,
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
            load_average_start: None,
            load_average_end: load_average(),
            database_url: redact(&options.database_url),
            durability,
            sqlite_writer_queue: options
                .is_sqlite()
                .then(crate::db::sqlite_writer_queue_enabled),
            db_pool: options.pool_size(),
            db_writers: (!options.is_sqlite())
                .then(|| crate::bench::setup::bench_settings(options).postgres_max_writers()),
            server_max_in_flight: crate::bench::setup::bench_settings(options).max_in_flight,
            concurrency: options.concurrency,
            rate: options.rate,
            c_requests_per_level: options.requests,
            hot_requests: options.hot_requests,
            read_requests: options.read_requests,
            residents: city.residents.len(),
            slot_days: options.days,
            first_day: city.first_day,
            last_day: city.last_day,
            slots_in_database: city.slots_total,
            driver: "reqwest + tokio on loopback, in the server's process; closed model (fixed number in flight, latency from each send) or open model (fixed arrival rate, latency from the intended send time, in-flight cap with drops counted)",
            rust_log: std::env::var("RUST_LOG").ok(),
            seed_seconds: city.seed_steps.values().sum(),
            seed_steps: city.seed_steps.clone(),
            total_seconds,
        }
    }
}

/// `/proc/loadavg`'s first three fields, on Linux.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Everything one `yoyaku bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub meta: Meta,
    pub runs: Vec<Run>,
    /// Workload C: L2 throughput / L0 (service, in-process) throughput, same concurrency.
    pub r_c: Option<f64>,
    /// Workload C on PostgreSQL: L2 throughput / L0-pgbench throughput, same concurrency.
    pub r_c_pgbench: Option<f64>,
    /// Throughput and latency against concurrency (`--sweep`).
    pub sweep: Vec<SweepPoint>,
    /// The targets, met or not (figures from a busy machine are indicative).
    pub targets: Vec<Target>,
    /// Sum of every run's failed checks; must be 0.
    pub violations: usize,
    /// Things to know about this report (pgbench missing, a run cut short, …).
    pub notes: Vec<String>,
    pub not_covered: Vec<&'static str>,
}

/// Assemble the report.
pub fn build(
    meta: Meta,
    runs: Vec<Run>,
    sweep: Vec<SweepPoint>,
    mut targets: Vec<Target>,
    notes: Vec<String>,
) -> BenchReport {
    // R compares ceilings, which only the closed model measures: in the open model both levels
    // answer at the offered rate.
    let throughput = |level: &str| {
        runs.iter()
            .find(|r| {
                r.workload == "C"
                    && r.level.starts_with(level)
                    && matches!(r.load_model, Model::Closed { .. })
            })
            .map(|r| r.throughput_per_s)
    };
    let ratio = |l0: Option<f64>| match (throughput("L2"), l0) {
        (Some(l2), Some(l0)) if l0 > 0.0 => Some(l2 / l0),
        _ => None,
    };
    let r_c = ratio(throughput("L0 (service"));
    let r_c_pgbench = ratio(throughput("L0-pgbench"));
    let floor = if meta.durability.engine == "sqlite" {
        0.8
    } else {
        0.7
    };
    if let Some(r) = r_c_pgbench.or(r_c) {
        let against = if r_c_pgbench.is_some() {
            "pgbench"
        } else {
            "L0 in-process"
        };
        targets.insert(
            0,
            Target::at_least(&format!("R = L2/L0 for C (vs {against})"), r, floor),
        );
    }
    BenchReport {
        violations: runs.iter().map(|r| r.violations).sum(),
        meta,
        runs,
        r_c,
        r_c_pgbench,
        sweep,
        targets,
        notes,
        not_covered: NOT_COVERED.to_vec(),
    }
}

/// The tables printed to stdout.
pub fn table(report: &BenchReport) -> String {
    let m = &report.meta;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "yoyaku bench {} ({} build, {} CPUs, load average {} → {}) — {}{} — pool {}{} — {} residents, {} slots ({} days from {})",
        m.version,
        m.build,
        m.cpus,
        m.load_average_start.as_deref().unwrap_or("?"),
        m.load_average_end.as_deref().unwrap_or("?"),
        m.durability.summary(),
        match m.sqlite_writer_queue {
            Some(true) => ", writers queued in-process",
            Some(false) => ", writers wait in SQLite's busy handler",
            None => "",
        },
        m.db_pool,
        m.db_writers
            .map(|w| format!(", at most {w} writers at once"))
            .unwrap_or_default(),
        m.residents,
        m.slots_in_database,
        m.slot_days,
        m.first_day
    );
    let _ = writeln!(
        out,
        "{:<6} {:<34} {:<18} {:>6} {:>5} {:>6} {:>6} {:>5} {:>5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>4}",
        "wl",
        "level",
        "model",
        "reqs",
        "drop",
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
            "{:<6} {:<34} {:<18} {:>6} {:>5} {:>6} {:>6} {:>5} {:>5} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>4}",
            r.workload,
            r.level,
            r.model,
            r.requests,
            r.dropped,
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
        if r.late > 0 {
            let _ = writeln!(out, "    {} sent more than 10 ms late", r.late);
        }
        if let Some(note) = &r.note {
            let _ = writeln!(out, "    {note}");
        }
        if let Some(rush) = &r.rush {
            let _ = writeln!(out, "    {}", rush.line());
        }
        if let Some(idem) = r.invariants.as_ref().and_then(|i| i.idempotency.as_ref()) {
            let _ = writeln!(
                out,
                "    replays: {} keys sent twice ({} after a 201): {} answers differ, {} stored keys wrong, {} extra bookings",
                idem.replayed_keys,
                idem.replayed_after_201,
                idem.answers_differ,
                idem.stored_key_mismatch,
                idem.extra_bookings
            );
        }
        for (status, message) in &r.first_errors {
            let _ = writeln!(out, "    first {status}: {message}");
        }
    }
    if !report.sweep.is_empty() {
        let _ = writeln!(
            out,
            "\nconcurrency sweep, workload C (closed model):\n{:>5} {:>9} {:>8} {:>8} {:>11} {:>10} {:>9} {:>8} {:>8} {:>9} {:>6}",
            "conc",
            "L0 req/s",
            "L0 p50",
            "L0 p99",
            "pgbench/s",
            "pgb p99",
            "L2 req/s",
            "L2 p50",
            "L2 p99",
            "L2 p99.9",
            "R"
        );
        for p in &report.sweep {
            let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
            let _ = writeln!(
                out,
                "{:>5} {:>9.1} {:>8.2} {:>8.2} {:>11} {:>10} {:>9.1} {:>8.2} {:>8.2} {:>9.2} {:>6.2}",
                p.concurrency,
                p.l0_per_s,
                p.l0_p50_ms,
                p.l0_p99_ms,
                opt(p.pgbench_per_s),
                opt(p.pgbench_p99_ms),
                p.l2_per_s,
                p.l2_p50_ms,
                p.l2_p99_ms,
                p.l2_p999_ms,
                if p.l0_per_s > 0.0 {
                    p.l2_per_s / p.l0_per_s
                } else {
                    0.0
                }
            );
        }
    }
    match (report.r_c, report.r_c_pgbench) {
        (Some(r), Some(p)) => {
            let _ = writeln!(
                out,
                "R (workload C, L2/L0 throughput) = {r:.2} against the in-process L0, {p:.2} against pgbench"
            );
        }
        (Some(r), None) => {
            let _ = writeln!(out, "R (workload C, L2/L0 throughput) = {r:.2}");
        }
        _ => {
            let _ = writeln!(
                out,
                "R: workload C was not run in the closed model (R compares ceilings)"
            );
        }
    }
    for t in &report.targets {
        let _ = writeln!(
            out,
            "target {}: {:.2} (want {}) {}",
            t.name,
            t.measured,
            t.target,
            if t.met { "met" } else { "NOT met" }
        );
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
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
