//! Workload C's L0 on PostgreSQL as BENCHMARK.md puts it: the exact SQL one booking runs,
//! replayed by `pgbench` at the same concurrency, next to the in-process L0.
//!
//! The script (`pgbench_booking.sql` beside this file) is the statement sequence of
//! `services::bookings::create_booking` on PostgreSQL, captured from the server's statement log,
//! with the values the service computes in Rust (price, quote, payment deadline, the stored
//! answer) filled in as constants of the same shape. Each transaction books a distinct free
//! slot for its own resident: a plan table lists them, and a sequence hands each transaction
//! its row. (Random ids drawn with `\set` would collide, and pgbench ends a client at its first
//! error, a unique violation included.) The plan lookup runs before `BEGIN`; it is one indexed
//! read, and its cost is counted in pgbench's latency.
//!
//! Latency comes from pgbench's per-transaction log (`-l`), so percentiles are exact as for the
//! other rows. Throughput is pgbench's own `tps` without connection set-up. When the `pgbench`
//! binary is missing the row is left out and the report says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use sea_orm::ConnectionTrait;

use super::invariants;
use super::load::{Model, Outcome, Sample, Samples};
use super::report::Run;
use super::setup::{FreeSlot, Resident};
use super::workloads::Ctx;

/// The booking transaction, as pgbench runs it.
pub const SCRIPT: &str = include_str!("pgbench_booking.sql");

/// The line of the per-month count that leaves group bookings out; dropped from the script on a
/// schema without group bookings, so the script follows the service on either.
const GROUP_CLAUSE: &str =
    "  AND \"bookings\".\"id\" NOT IN (SELECT \"booking_id\" FROM \"group_bookings\")\n";

/// Find `pgbench` on the `PATH`.
pub fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("pgbench"))
        .find(|candidate| candidate.is_file())
}

/// Book `slots` (one per resident) through pgbench with `concurrency` clients. `Ok(Err(why))`
/// when pgbench cannot run here (not installed, or too few bookings for the clients).
pub async fn l0(
    ctx: &Ctx,
    workload: &str,
    residents: &[Resident],
    slots: &[FreeSlot],
    concurrency: usize,
) -> anyhow::Result<Result<Run, String>> {
    let Some(pgbench) = binary() else {
        return Ok(Err(
            "L0-pgbench skipped: no `pgbench` on the PATH (Debian: apt-get install postgresql-client)"
                .into(),
        ));
    };
    // pgbench opens one connection per client, next to the server's pool (up to 64 idle
    // connections after a wide run) and whatever else uses the server: stay within
    // max_connections, and say so when that lowers the concurrency.
    let free = ctx
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            ctx.db.get_database_backend(),
            "SELECT current_setting('max_connections')::int - (SELECT count(*) FROM pg_stat_activity)::int",
        ))
        .await?
        .map(|row| row.try_get_by_index::<i32>(0))
        .transpose()?
        .unwrap_or(0);
    let room = usize::try_from(free - 10).unwrap_or(0).max(1);
    let clients = concurrency.min(slots.len()).min(room).max(1);
    let capped = (clients < concurrency.min(slots.len())).then(|| {
        format!(" (capped from {concurrency}: {free} connections were free on the server)")
    });
    let per_client = slots.len() / clients;
    if per_client == 0 {
        return Ok(Err("L0-pgbench skipped: no slot to book".into()));
    }
    let total = clients * per_client;
    prepare_plan(&ctx.db, &residents[..total], &slots[..total]).await?;

    let dir =
        std::env::temp_dir().join(format!("yoyaku-pgbench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let script = dir.join("booking.sql");
    let has_groups = ctx
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            ctx.db.get_database_backend(),
            "SELECT to_regclass('group_bookings') IS NOT NULL",
        ))
        .await?
        .map(|row| row.try_get_by_index::<bool>(0))
        .transpose()?
        .unwrap_or(false);
    let text = if has_groups {
        SCRIPT.to_owned()
    } else {
        SCRIPT.replace(GROUP_CLAUSE, "")
    };
    std::fs::write(&script, text)?;
    let since = invariants::last_booking_id(&ctx.db).await?;
    let threads = clients.min(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let output = tokio::process::Command::new(&pgbench)
        .arg("--no-vacuum")
        .args(["--protocol", "prepared"])
        .args(["--client", &clients.to_string()])
        .args(["--jobs", &threads.to_string()])
        .args(["--transactions", &per_client.to_string()])
        .arg("--file")
        .arg(&script)
        .arg("--log")
        .arg(format!("--log-prefix={}", dir.join("log").display()))
        .arg(&ctx.database_url)
        .output()
        .await
        .context("running pgbench")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut latencies = read_logs(&dir)?;
    let _ = std::fs::remove_dir_all(&dir);
    // A client that hits an error stops, and its remaining transactions leave no log line.
    latencies.resize(latencies.len().max(total), None);
    anyhow::ensure!(
        output.status.success() || !latencies.is_empty(),
        "pgbench failed ({}): {}",
        output.status,
        last_lines(&stderr)
    );
    let tps = parse_tps(&stdout).context("pgbench printed no tps")?;

    let created = ctx
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            ctx.db.get_database_backend(),
            format!("SELECT id FROM bookings WHERE id > {since}"),
        ))
        .await?
        .into_iter()
        .map(|row| row.try_get_by_index::<i64>(0))
        .collect::<Result<Vec<_>, _>>()?;
    let done = latencies.iter().filter(|l| l.is_some()).count();
    // Every committed transaction made one booking; if the counts differ the script did not do
    // what a booking does, and the check says so.
    let answered = if created.len() == done {
        created
    } else {
        Vec::new()
    };
    let checked = invariants::check(&ctx.db, since, &answered).await?;
    let samples: Vec<Sample> = latencies
        .into_iter()
        .map(|latency| match latency {
            Some(latency) => Sample {
                outcome: Outcome {
                    status: 201,
                    booking_id: None,
                    error: None,
                },
                latency,
                tag: "",
            },
            None => Sample {
                outcome: Outcome {
                    status: 0,
                    booking_id: None,
                    error: Some(format!(
                        "pgbench: failed transaction; {}",
                        last_lines(&stderr)
                    )),
                },
                latency: Duration::ZERO,
                tag: "",
            },
        })
        .collect();
    let elapsed = Duration::from_secs_f64(if tps > 0.0 { done as f64 / tps } else { 0.0 });
    let run = Run::new(
        workload,
        "L0-pgbench (raw SQL)",
        Samples {
            jobs: samples.len(),
            samples,
            elapsed,
            model: Model::Closed {
                concurrency: clients,
            },
            dropped: 0,
            late: 0,
        },
        Some(checked),
    )
    .with_note(format!(
        "pgbench --protocol prepared, {clients} clients{} × {per_client} transactions, {threads} threads; req/s is pgbench's tps without connection set-up",
        capped.unwrap_or_default()
    ));
    Ok(Ok(run))
}

/// The plan table: row `n` (from 1) is the resident and slot of the `n`-th transaction, and the
/// sequence that hands the rows out.
async fn prepare_plan(
    db: &sea_orm::DatabaseConnection,
    residents: &[Resident],
    slots: &[FreeSlot],
) -> anyhow::Result<()> {
    db.execute_unprepared(
        "DROP TABLE IF EXISTS bench_pgbench_plan; \
         CREATE TABLE bench_pgbench_plan (n integer PRIMARY KEY, user_id integer NOT NULL, \
         slot_id bigint NOT NULL, idem_key text NOT NULL); \
         DROP SEQUENCE IF EXISTS bench_pgbench_seq; CREATE SEQUENCE bench_pgbench_seq",
    )
    .await
    .context("creating the pgbench plan")?;
    let rows: Vec<String> = residents
        .iter()
        .zip(slots)
        .enumerate()
        .map(|(i, (r, s))| {
            format!(
                "({}, {}, {}, '{}')",
                i + 1,
                r.id,
                s.slot_id,
                uuid::Uuid::new_v4()
            )
        })
        .collect();
    for chunk in rows.chunks(1000) {
        db.execute_unprepared(&format!(
            "INSERT INTO bench_pgbench_plan (n, user_id, slot_id, idem_key) VALUES {}",
            chunk.join(", ")
        ))
        .await
        .context("filling the pgbench plan")?;
    }
    db.execute_unprepared("ANALYZE bench_pgbench_plan").await?;
    Ok(())
}

/// Per-transaction latencies from pgbench's logs (`client transaction latency_us script epoch
/// epoch_us`); `None` for a failed transaction.
fn read_logs(dir: &Path) -> anyhow::Result<Vec<Option<Duration>>> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_log = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("log."));
        if !is_log {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        latencies.extend(text.lines().filter_map(parse_log_line));
    }
    Ok(latencies)
}

fn parse_log_line(line: &str) -> Option<Option<Duration>> {
    let field = line.split_whitespace().nth(2)?;
    Some(field.parse::<u64>().ok().map(Duration::from_micros))
}

/// `tps = 1234.5 (without initial connection time)`.
fn parse_tps(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_output_is_read() {
        let stdout =
            "latency average = 12.3 ms\ntps = 812.345678 (without initial connection time)\n";
        assert_eq!(parse_tps(stdout), Some(812.345678));
        assert_eq!(
            parse_log_line("3 17 2345 0 1732600000 123456"),
            Some(Some(Duration::from_micros(2345)))
        );
        assert_eq!(
            parse_log_line("3 17 failed 0 1732600000 123456"),
            Some(None)
        );
        assert_eq!(parse_log_line(""), None);
    }

    #[test]
    fn the_script_books_in_one_transaction() {
        assert!(SCRIPT.contains("BEGIN;"));
        assert!(SCRIPT.contains("COMMIT;"));
        assert!(SCRIPT.contains("FOR UPDATE"));
        assert!(SCRIPT.contains("INSERT INTO \"slot_claims\""));
        assert!(SCRIPT.contains(GROUP_CLAUSE));
    }
}
