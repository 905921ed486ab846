//! Workloads B (one hot slot, all requests released together), C (distinct slots, at L2 over
//! HTTP and at L0 through the booking service in-process), D (mixed: 20 availability reads per
//! booking), E (availability reads: one room's month, and a city-wide Saturday search for
//! courts), and the concurrency sweep of C with the open-model run at 80 % of its peak.
//! Workload A lives in [`super::rush`], C's pgbench level in [`super::pgbench`].

use std::sync::Arc;

use axum::response::IntoResponse;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use sea_orm::DatabaseConnection;

use super::invariants;
use super::load::{self, Model, Outcome, Sample, Samples};
use super::report::{Run, SweepPoint, Target};
use super::setup::{City, FreeSlot, Resident};
use super::{BenchOptions, Pools};
use crate::auth::SessionKeys;
use crate::domain::booking::BookingRules;
use crate::http::error::AppError;
use crate::services::bookings::create_booking;
use crate::views::booking::CreateBookingRequest;

const PURPOSE: &str = "ベンチマーク";

/// What every workload works with.
#[derive(Clone)]
pub struct Ctx {
    pub db: DatabaseConnection,
    pub client: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub rules: Arc<BookingRules>,
    pub keys: SessionKeys,
    /// For pgbench, which connects on its own.
    pub database_url: String,
}

pub(crate) fn booking_request(slot: FreeSlot) -> CreateBookingRequest {
    CreateBookingRequest {
        room_id: slot.room_id,
        slot_ids: vec![slot.slot_id],
        purpose: PURPOSE.to_owned(),
        attendees: 1,
        group_id: None,
        purpose_kind: None,
        equipment: Vec::new(),
    }
}

/// C at L0: `services::bookings::create_booking` called directly on the server's own pool, one
/// resident per slot. The status is the one the API would answer.
pub async fn c_service(
    ctx: &Ctx,
    workload: &str,
    residents: &[Resident],
    slots: &[FreeSlot],
    model: Model,
) -> anyhow::Result<Run> {
    let since = invariants::last_booking_id(&ctx.db).await?;
    let samples = load::drive_single(model, slots.len(), "", |i| {
        let (db, rules) = (ctx.db.clone(), ctx.rules.clone());
        let user = residents[i].id;
        let request = booking_request(slots[i]);
        async move {
            let key = uuid::Uuid::new_v4().to_string();
            match create_booking(&db, &rules, user, &key, &request, Utc::now()).await {
                Ok((booking, _)) => Outcome {
                    status: 201,
                    booking_id: Some(booking.id),
                    error: None,
                },
                Err(error) => {
                    let message = error.to_string();
                    Outcome {
                        status: AppError::from(error).into_response().status().as_u16(),
                        booking_id: None,
                        error: Some(message),
                    }
                }
            }
        }
    })
    .await;
    let checked = invariants::check(&ctx.db, since, &success_ids(&samples, "")).await?;
    Ok(Run::new(
        workload,
        "L0 (service, in-process)",
        samples,
        Some(checked),
    ))
}

/// C at L2: `POST /api/v1/bookings` over loopback HTTP, one resident per slot.
pub async fn c_http(
    ctx: &Ctx,
    workload: &str,
    residents: &[Resident],
    slots: &[FreeSlot],
    model: Model,
) -> anyhow::Result<Run> {
    let since = invariants::last_booking_id(&ctx.db).await?;
    let url = format!("{}/api/v1/bookings", ctx.base);
    let samples = load::drive_single(model, slots.len(), "", |i| {
        post_booking(
            ctx.client.clone(),
            url.clone(),
            residents[i].token.clone(),
            slots[i],
            uuid::Uuid::new_v4().to_string(),
        )
    })
    .await;
    let checked = invariants::check(&ctx.db, since, &success_ids(&samples, "")).await?;
    Ok(Run::new(workload, "L2 (HTTP)", samples, Some(checked)))
}

/// B: each resident books the same slot, all requests released together. Exactly one may win.
pub async fn b_http(ctx: &Ctx, residents: &[Resident], hot: FreeSlot) -> anyhow::Result<Run> {
    let since = invariants::last_booking_id(&ctx.db).await?;
    let url = format!("{}/api/v1/bookings", ctx.base);
    let samples = load::released_together(residents.len(), |i| {
        let fut = post_booking(
            ctx.client.clone(),
            url.clone(),
            residents[i].token.clone(),
            hot,
            uuid::Uuid::new_v4().to_string(),
        );
        async move { Some(fut.await) }
    })
    .await;
    let checked = invariants::check(&ctx.db, since, &success_ids(&samples, "")).await?;
    Ok(Run::new("B", "L2 (HTTP)", samples, Some(checked)))
}

/// The first Saturday on or after `from`, and the Saturdays after it up to `to`.
fn saturdays(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    // Monday is 0, so Saturday is 5.
    let offset = (5 - i64::from(from.weekday().num_days_from_monday())).rem_euclid(7);
    let mut out = Vec::new();
    let mut day = from + Duration::days(offset);
    while day <= to || out.is_empty() {
        out.push(day);
        day += Duration::days(7);
    }
    out
}

/// One room's slots for a month, as the facility-month grid asks: `from`..`from+30`.
fn grid_url(base: &str, room: i32, from: NaiveDate) -> String {
    let to = from + Duration::days(30);
    format!("{base}/api/v1/rooms/{room}/slots?from={from}&to={to}")
}

/// The city-wide search for free courts on one Saturday.
fn search_url(base: &str, saturday: NaiveDate) -> String {
    format!("{base}/api/v1/availability?kind=court&from={saturday}&to={saturday}")
}

/// E: `n` month grids (rooms taken in turn), then `n` city-wide searches for free courts on the
/// first Saturday of the window.
pub async fn e_http(ctx: &Ctx, city: &City, n: usize, model: Model) -> anyhow::Result<Vec<Run>> {
    anyhow::ensure!(!city.rooms.is_empty(), "no rooms to read");
    let from = city.first_day;
    let rooms = city.rooms.clone();
    let month = load::drive_single(model, n, "", |i| {
        get(
            ctx.client.clone(),
            grid_url(&ctx.base, rooms[i % rooms.len()], from),
        )
    })
    .await;
    let saturday = saturdays(from, city.last_day)[0];
    let search = load::drive_single(model, n, "", |_| {
        get(ctx.client.clone(), search_url(&ctx.base, saturday))
    })
    .await;
    Ok(vec![
        Run::new("E", "L2 room month (GET …/slots)", month, None),
        Run::new("E", "L2 Saturday courts (GET /availability)", search, None),
    ])
}

/// Reads per booking in workload D.
pub const READS_PER_BOOKING: usize = 20;

/// D: `n` requests, interleaved: of every 21, one booking (a distinct slot, its own resident) and
/// 20 availability reads, of which every fourth is the city-wide Saturday search (the Saturdays
/// of the window in turn) and the rest one room's month grid (rooms in turn). Reported as three
/// rows: writes, grids, searches; the invariants are checked on the writes.
pub async fn d_http(
    ctx: &Ctx,
    city: &City,
    residents: &[Resident],
    slots: &[FreeSlot],
    n: usize,
    model: Model,
) -> anyhow::Result<Vec<Run>> {
    anyhow::ensure!(!city.rooms.is_empty(), "no rooms to read");
    let since = invariants::last_booking_id(&ctx.db).await?;
    let booking_url = format!("{}/api/v1/bookings", ctx.base);
    let from = city.first_day;
    let saturdays = saturdays(from, city.last_day);
    let rooms = city.rooms.clone();
    let every = READS_PER_BOOKING + 1;
    let samples = load::drive(model, n, |i, start| {
        let (group, place) = (i / every, i % every);
        let client = ctx.client.clone();
        let (tag, request): (&'static str, _) = if place == READS_PER_BOOKING {
            let fut = post_booking(
                client,
                booking_url.clone(),
                residents[group].token.clone(),
                slots[group],
                uuid::Uuid::new_v4().to_string(),
            );
            ("write", futures::future::Either::Left(fut))
        } else if place % 4 == 3 {
            let saturday = saturdays[(i / 4) % saturdays.len()];
            let fut = get(client, search_url(&ctx.base, saturday));
            ("search", futures::future::Either::Right(fut))
        } else {
            let room = rooms[i % rooms.len()];
            let fut = get(client, grid_url(&ctx.base, room, from));
            ("grid", futures::future::Either::Right(fut))
        };
        async move { vec![Sample::since(start, tag, request.await)] }
    })
    .await;
    let writes = samples.only("write");
    let checked = invariants::check(&ctx.db, since, &success_ids(&writes, "write")).await?;
    let mut write_run = Run::new("D", "L2 writes (POST /bookings)", writes, Some(checked));
    // Distinct slots never conflict: anything but a 201 is a failure, as in C.
    if write_run.successes != write_run.requests {
        write_run.violations += 1;
    }
    let note = format!(
        "{} reads per booking; req/s of each row is its own share of the mixed run",
        READS_PER_BOOKING
    );
    Ok(vec![
        write_run.with_note(note),
        Run::new("D", "L2 reads: room month grid", samples.only("grid"), None),
        Run::new(
            "D",
            "L2 reads: Saturday courts search",
            samples.only("search"),
            None,
        ),
    ])
}

/// What the sweep found.
pub(super) struct SweepOutcome {
    pub runs: Vec<Run>,
    pub points: Vec<SweepPoint>,
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
}

/// The sweep: C at L0 (and pgbench on PostgreSQL) and L2, closed model, at each concurrency of
/// `--sweep`, `--sweep-requests` bookings each, to show the knee. Then the peak is searched for
/// in the open model ([`sustained_peak`]), and C's L2 runs in the open model at 80 % of it for
/// `--peak-duration` seconds while month grids are read at `--probe-rate` alongside. Booking p99
/// (target < 50 ms) and grid p99 (target < 10 ms) come from that run.
pub(super) async fn sweep(
    ctx: &Ctx,
    options: &BenchOptions,
    pools: &mut Pools,
    city: &City,
) -> anyhow::Result<SweepOutcome> {
    let mut out = SweepOutcome {
        runs: Vec::new(),
        points: Vec::new(),
        targets: Vec::new(),
        notes: Vec::new(),
    };
    let n = options.sweep_requests;
    for &concurrency in &options.sweep {
        pools.refresh_tokens(&ctx.keys);
        let model = Model::Closed { concurrency };
        let residents = pools.residents(n, "the sweep")?;
        let slots = pools.slots(n, "the sweep")?;
        let l0 = c_service(ctx, "C/sw", &residents, &slots, model).await?;
        let mut pgbench_run = None;
        if options.runs_pgbench() {
            let residents = pools.residents(n, "the sweep")?;
            let slots = pools.slots(n, "the sweep")?;
            match super::pgbench::l0(ctx, "C/sw", &residents, &slots, concurrency).await? {
                Ok(run) => pgbench_run = Some(run),
                Err(why) => {
                    if !out.notes.contains(&why) {
                        out.notes.push(why);
                    }
                }
            }
        }
        let residents = pools.residents(n, "the sweep")?;
        let slots = pools.slots(n, "the sweep")?;
        let l2 = c_http(ctx, "C/sw", &residents, &slots, model).await?;
        eprintln!(
            "bench: sweep {concurrency}: L0 {:.0}/s, L2 {:.0}/s (p99 {:.1} ms)",
            l0.throughput_per_s, l2.throughput_per_s, l2.latency.p99_ms
        );
        out.points.push(SweepPoint {
            concurrency,
            l0_per_s: l0.throughput_per_s,
            l0_p50_ms: l0.latency.p50_ms,
            l0_p99_ms: l0.latency.p99_ms,
            pgbench_per_s: pgbench_run.as_ref().map(|r| r.throughput_per_s),
            pgbench_p99_ms: pgbench_run.as_ref().map(|r| r.latency.p99_ms),
            l2_per_s: l2.throughput_per_s,
            l2_p50_ms: l2.latency.p50_ms,
            l2_p99_ms: l2.latency.p99_ms,
            l2_p999_ms: l2.latency.p999_ms,
        });
        out.runs.push(l0);
        out.runs.extend(pgbench_run);
        out.runs.push(l2);
    }
    let Some(best) = out
        .points
        .iter()
        .max_by(|a, b| a.l2_per_s.total_cmp(&b.l2_per_s))
        .cloned()
    else {
        return Ok(out);
    };
    let search = sustained_peak(ctx, options, pools, best.l2_per_s).await?;
    out.runs.extend(search.steps);
    out.notes.extend(search.notes);
    let Some(peak) = search.peak else {
        out.notes
            .push("no step of the peak search kept up: no 80 % run".into());
        return Ok(out);
    };
    let rate = 0.8 * peak;
    let wanted = (rate * options.peak_duration_s).round() as usize;
    let n = wanted
        .min(pools.slots_left())
        .min(pools.residents_left())
        .min(pools.residents.len());
    if n == 0 {
        out.notes
            .push("no slot or resident left for the 80 % run: raise --days or --residents".into());
        return Ok(out);
    }
    if n < wanted {
        out.notes.push(format!(
            "the 80 % run was cut to {n} bookings ({:.1} s) of {wanted}: raise --days or --residents",
            n as f64 / rate
        ));
    }
    pools.refresh_tokens(&ctx.keys);
    let residents = pools.residents(n, "the 80 % run")?;
    let slots = pools.slots(n, "the 80 % run")?;
    let model = Model::Open {
        rate,
        max_in_flight: options.max_in_flight,
    };
    let seconds = n as f64 / rate;
    let probes = ((options.probe_rate * seconds).round() as usize).max(1);
    let probe_model = Model::Open {
        rate: options.probe_rate,
        max_in_flight: options.max_in_flight,
    };
    let rooms = city.rooms.clone();
    let from = city.first_day;
    let (bookings, grids) = tokio::join!(
        c_http(ctx, "C/80%", &residents, &slots, model),
        load::drive_single(probe_model, probes, "", |i| get(
            ctx.client.clone(),
            grid_url(&ctx.base, rooms[i % rooms.len()], from)
        )),
    );
    let bookings = bookings?.with_note(format!(
        "open model at 80 % of the sustained peak ({peak:.0}/s; the sweep's best closed level was {:.0}/s at concurrency {})",
        best.l2_per_s, best.concurrency
    ));
    let grids = Run::new("E/80%", "L2 room month grid, alongside", grids, None).with_note(format!(
        "month grids at {:.0}/s while C/80% books",
        options.probe_rate
    ));
    out.targets.push(Target::below(
        "booking p99 at 80 % of peak, ms",
        bookings.latency.p99_ms,
        50.0,
    ));
    out.targets.push(Target::below(
        "month grid p99 at that load, ms",
        grids.latency.p99_ms,
        10.0,
    ));
    out.runs.push(bookings);
    out.runs.push(grids);
    Ok(out)
}

/// What the peak search found.
pub(super) struct PeakSearch {
    /// The highest arrival rate the server kept up with, as served (answers per second).
    pub peak: Option<f64>,
    pub steps: Vec<Run>,
    pub notes: Vec<String>,
}

/// Steps of the peak search, as fractions of the sweep's best closed-model level.
const PEAK_STEPS: [f64; 9] = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3];

/// Whether an open-model step kept up with its arrival rate: nothing dropped at the in-flight
/// cap, no 5xx, at least 97 % of the offered rate served, and p99 under a second (a queue that
/// grows through the step shows as a p99 that does).
fn kept_up(run: &Run, rate: f64) -> bool {
    run.dropped == 0
        && run.server_errors == 0
        && run.throughput_per_s >= 0.97 * rate
        && run.latency.p99_ms < 1000.0
}

/// The peak the 80 % run is measured against: the highest arrival rate the server keeps up with
/// in the open model. The sweep's closed-model levels overstate it: 1,000 requests end before
/// queues, group commits and checkpoints settle, and a closed client slows down with the server
/// where arrivals at the rush do not. So C's L2 runs in the open model at rising rates, from
/// half of the sweep's best level up in steps of 10 %, each as long as the 80 % run
/// (`--peak-duration`: queues, WAL growth and checkpoints show only in runs that long), and the
/// search stops at the first step that falls behind; the peak is what the last step that kept
/// up served.
pub(super) async fn sustained_peak(
    ctx: &Ctx,
    options: &BenchOptions,
    pools: &mut Pools,
    best_closed: f64,
) -> anyhow::Result<PeakSearch> {
    let mut search = PeakSearch {
        peak: None,
        steps: Vec::new(),
        notes: Vec::new(),
    };
    let seconds = options.peak_duration_s.max(1.0);
    for fraction in PEAK_STEPS {
        let rate = (fraction * best_closed).max(1.0);
        let n = (rate * seconds).round() as usize;
        if n > pools.slots_left().min(pools.residents_left()) {
            search.notes.push(format!(
                "the peak search stopped at {rate:.0}/s: no slots or residents left (raise --days or --residents)"
            ));
            break;
        }
        pools.refresh_tokens(&ctx.keys);
        let residents = pools.residents(n, "the peak search")?;
        let slots = pools.slots(n, "the peak search")?;
        let model = Model::Open {
            rate,
            max_in_flight: options.max_in_flight,
        };
        let run = c_http(ctx, "C/peak?", &residents, &slots, model).await?;
        let ok = kept_up(&run, rate);
        eprintln!(
            "bench: peak search {rate:.0}/s: served {:.0}/s, p99 {:.1} ms, dropped {} — {}",
            run.throughput_per_s,
            run.latency.p99_ms,
            run.dropped,
            if ok { "kept up" } else { "fell behind" }
        );
        let served = run.throughput_per_s;
        search.steps.push(run.with_note(format!(
            "peak search at {:.0} % of the sweep's best ({rate:.0}/s for {seconds:.0} s): {}",
            fraction * 100.0,
            if ok { "kept up" } else { "fell behind" }
        )));
        if !ok {
            break;
        }
        search.peak = Some(served);
    }
    if let Some(peak) = search.peak {
        search.notes.push(format!(
            "sustained peak {peak:.0}/s (open model, the highest step that kept up); the sweep's best closed level was {best_closed:.0}/s"
        ));
    }
    Ok(search)
}

/// The booking ids of the 201s tagged `tag`.
pub(crate) fn success_ids(samples: &Samples, tag: &str) -> Vec<i64> {
    samples
        .samples
        .iter()
        .filter(|s| s.tag == tag && s.outcome.status == 201)
        .filter_map(|s| s.outcome.booking_id)
        .collect()
}

/// `POST /api/v1/bookings` for one slot with `key` as its Idempotency-Key. A 201's booking id
/// is read from the body; a refusal keeps the body (it names the error code).
pub(crate) async fn post_booking(
    client: reqwest::Client,
    url: String,
    token: String,
    slot: FreeSlot,
    key: String,
) -> Outcome {
    let body = match serde_json::to_vec(&booking_request(slot)) {
        Ok(body) => body,
        Err(e) => return failed(0, e.to_string()),
    };
    let sent = client
        .post(url)
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => return failed(0, e.to_string()),
    };
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    if status == 201 {
        let id = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["id"].as_i64());
        Outcome {
            status,
            booking_id: id,
            error: id.is_none().then(|| "201 without a booking id".to_owned()),
        }
    } else {
        failed(status, text)
    }
}

/// A GET whose latency runs to the last byte of the body.
pub(crate) async fn get(client: reqwest::Client, url: String) -> Outcome {
    match client.get(url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(_) if status == 200 => Outcome {
                    status,
                    booking_id: None,
                    error: None,
                },
                Ok(body) => failed(status, String::from_utf8_lossy(&body).into_owned()),
                Err(e) => failed(0, e.to_string()),
            }
        }
        Err(e) => failed(0, e.to_string()),
    }
}

pub(crate) fn failed(status: u16, message: String) -> Outcome {
    let mut message = message;
    if message.len() > 300 {
        let mut end = 300;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    Outcome {
        status,
        booking_id: None,
        error: Some(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturdays_of_a_window() {
        let from = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(); // a Wednesday
        let to = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
        assert_eq!(
            saturdays(from, to),
            vec![
                NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
                NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            ]
        );
        // A window without a Saturday still searches the next one.
        assert_eq!(saturdays(from, from).len(), 1);
    }
}
