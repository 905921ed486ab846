//! The load drivers and the latency statistics.
//!
//! Three ways to send load, each bounded and each stopping by itself:
//! - **closed** ([`Model::Closed`]): exactly `concurrency` jobs in flight; a new one starts when
//!   one finishes. Latency is timed from each job's start. Simple, but when the server slows
//!   down the driver slows down with it, so queueing delay is under-reported ("coordinated
//!   omission").
//! - **open** ([`Model::Open`]): jobs arrive at a fixed rate whatever the server does. Job `i` is
//!   due at `start + i / rate`, and its latency is timed from that *intended* time, so time spent
//!   waiting behind a slow server (or a lagging driver) shows in the figures. In-flight jobs are
//!   capped: a job due while the cap is full is not sent and counts as *dropped*; a job sent more
//!   than [`LATE_AFTER`] behind its time counts as *late* (its latency still includes the delay).
//! - **released together** ([`released_together`]): every job waits at a barrier and all start
//!   at once (workload B).
//!
//! A job may send several requests (workload A retries), so it answers a list of [`Sample`]s,
//! each timed by the job itself from the start instant it is handed. Percentiles are exact
//! (nearest rank over the sorted samples).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::{Barrier, Semaphore};

/// What one request came back with.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// HTTP status (for L0, the status the API would have answered); 0 when no answer came.
    pub status: u16,
    /// The booking id of a 201.
    pub booking_id: Option<i64>,
    /// A short description of a failure, kept for the report.
    pub error: Option<String>,
}

/// One timed request.
#[derive(Debug, Clone)]
pub struct Sample {
    pub outcome: Outcome,
    pub latency: Duration,
    /// What kind of request this was, when a job mixes kinds (workload D: `write`, `grid`,
    /// `search`; workload A: `attempt`, `replay`); empty otherwise.
    pub tag: &'static str,
}

impl Sample {
    /// `outcome`, timed from `start` to now.
    pub fn since(start: Instant, tag: &'static str, outcome: Outcome) -> Sample {
        Sample {
            outcome,
            latency: start.elapsed(),
            tag,
        }
    }
}

/// How the load was sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Model {
    /// A fixed number of jobs in flight.
    Closed { concurrency: usize },
    /// A fixed arrival rate (jobs per second), at most `max_in_flight` outstanding.
    Open { rate: f64, max_in_flight: usize },
    /// All jobs released together from a barrier.
    Released { requests: usize },
}

impl Model {
    /// A short label for the table: `closed 32`, `open 400/s ≤512`, `released 1000`.
    pub fn label(&self) -> String {
        match self {
            Model::Closed { concurrency } => format!("closed {concurrency}"),
            Model::Open {
                rate,
                max_in_flight,
            } => format!("open {rate:.0}/s ≤{max_in_flight}"),
            Model::Released { requests } => format!("released {requests}"),
        }
    }

    /// The concurrency figure of the old table column: in flight (closed), the cap (open), all
    /// (released).
    pub fn concurrency(&self) -> usize {
        match self {
            Model::Closed { concurrency } => *concurrency,
            Model::Open { max_in_flight, .. } => *max_in_flight,
            Model::Released { requests } => *requests,
        }
    }
}

/// A job sent this far behind its intended time counts as late (open model). Tokio's timer
/// wakes to the millisecond, so a few milliseconds behind is ordinary scheduling, not lag.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// Every sample of a run and how long the run took.
#[derive(Debug, Clone)]
pub struct Samples {
    pub samples: Vec<Sample>,
    pub elapsed: Duration,
    pub model: Model,
    /// Jobs due (open model) or run (the others).
    pub jobs: usize,
    /// Open model: jobs not sent because `max_in_flight` were outstanding.
    pub dropped: usize,
    /// Open model: jobs sent more than [`LATE_AFTER`] after their intended time.
    pub late: usize,
}

impl Samples {
    /// The samples tagged `tag`, with the run's timing and counts.
    pub fn only(&self, tag: &str) -> Samples {
        Samples {
            samples: self
                .samples
                .iter()
                .filter(|s| s.tag == tag)
                .cloned()
                .collect(),
            ..self.clone_without_samples()
        }
    }

    fn clone_without_samples(&self) -> Samples {
        Samples {
            samples: Vec::new(),
            elapsed: self.elapsed,
            model: self.model,
            jobs: self.jobs,
            dropped: self.dropped,
            late: self.late,
        }
    }
}

fn failed_task(e: tokio::task::JoinError) -> Vec<Sample> {
    vec![Sample {
        outcome: Outcome {
            status: 0,
            booking_id: None,
            error: Some(format!("task failed: {e}")),
        },
        latency: Duration::ZERO,
        tag: "",
    }]
}

/// Run jobs `0..n` under `model` (closed or open; for released use [`released_together`]).
/// `job(i, start)` builds job `i`; `start` is the instant its latency counts from: the intended
/// send time in the open model, the actual start in the closed one.
pub async fn drive<F, Fut>(model: Model, n: usize, job: F) -> Samples
where
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = Vec<Sample>> + Send + 'static,
{
    match model {
        Model::Closed { concurrency } => closed(concurrency, n, job).await,
        Model::Open {
            rate,
            max_in_flight,
        } => open(rate, max_in_flight, n, job).await,
        Model::Released { .. } => {
            released_together(n, |i| {
                let fut = job(i, Instant::now());
                async move { fut.await.into_iter().next().map(|s| s.outcome) }
            })
            .await
        }
    }
}

/// Run one-request jobs `0..n` under `model`, each timed from its start.
pub async fn drive_single<F, Fut>(model: Model, n: usize, tag: &'static str, job: F) -> Samples
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    drive(model, n, |i, start| {
        let fut = job(i);
        async move { vec![Sample::since(start, tag, fut.await)] }
    })
    .await
}

/// Run one-request jobs `0..n`, at most `concurrency` at once (closed model).
pub async fn bounded<F, Fut>(n: usize, concurrency: usize, job: F) -> Samples
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    drive_single(
        Model::Closed {
            concurrency: concurrency.max(1),
        },
        n,
        "",
        job,
    )
    .await
}

async fn closed<F, Fut>(concurrency: usize, n: usize, job: F) -> Samples
where
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = Vec<Sample>> + Send + 'static,
{
    let concurrency = concurrency.max(1);
    let started = Instant::now();
    // The stream builds each job only when a place in flight frees up, so `Instant::now()` here
    // is the job's real start.
    let nested = futures::stream::iter(0..n)
        .map(|i| {
            let fut = job(i, Instant::now());
            async move { tokio::spawn(fut).await.unwrap_or_else(failed_task) }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    Samples {
        samples: nested.into_iter().flatten().collect(),
        elapsed: started.elapsed(),
        model: Model::Closed { concurrency },
        jobs: n,
        dropped: 0,
        late: 0,
    }
}

async fn open<F, Fut>(rate: f64, max_in_flight: usize, n: usize, job: F) -> Samples
where
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = Vec<Sample>> + Send + 'static,
{
    let rate = if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        1.0
    };
    let max_in_flight = max_in_flight.max(1);
    let in_flight = Arc::new(Semaphore::new(max_in_flight));
    let start = tokio::time::Instant::now();
    let mut handles = Vec::with_capacity(n);
    let (mut dropped, mut late) = (0, 0);
    for i in 0..n {
        // Computed from the start, never by adding periods, so rounding never drifts the rate.
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            dropped += 1;
            continue;
        };
        if due.elapsed() > LATE_AFTER {
            late += 1;
        }
        let fut = job(i, due.into_std());
        handles.push(tokio::spawn(async move {
            let samples = fut.await;
            drop(permit);
            samples
        }));
    }
    let mut samples = Vec::with_capacity(handles.len());
    for handle in handles {
        samples.extend(handle.await.unwrap_or_else(failed_task));
    }
    Samples {
        samples,
        elapsed: start.elapsed(),
        model: Model::Open {
            rate,
            max_in_flight,
        },
        jobs: n,
        dropped,
        late,
    }
}

/// Run jobs `0..n` all at once: every task waits at a barrier, and all are released together.
/// Latency is measured from the release. A job answering `None` sent nothing.
pub async fn released_together<F, Fut>(n: usize, job: F) -> Samples
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Option<Outcome>> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let fut = job(i);
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            let t = Instant::now();
            fut.await
                .map(|outcome| Sample::since(t, "", outcome))
                .into_iter()
                .collect::<Vec<_>>()
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut samples = Vec::with_capacity(n);
    for handle in handles {
        samples.extend(handle.await.unwrap_or_else(failed_task));
    }
    Samples {
        samples,
        elapsed: started.elapsed(),
        model: Model::Released { requests: n },
        jobs: n,
        dropped: 0,
        late: 0,
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Exact nearest-rank percentiles of `samples`.
    pub fn of(samples: &[Sample]) -> Latency {
        Latency::of_durations(samples.iter().map(|s| s.latency))
    }

    /// Exact nearest-rank percentiles of some durations.
    pub fn of_durations(durations: impl Iterator<Item = Duration>) -> Latency {
        let mut micros: Vec<u64> = durations.map(|d| d.as_micros() as u64).collect();
        if micros.is_empty() {
            return Latency::default();
        }
        micros.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        let at = |q: f64| {
            let rank = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len());
            ms(micros[rank - 1])
        };
        Latency {
            count: micros.len(),
            mean_ms: ms(micros.iter().sum::<u64>()) / micros.len() as f64,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: ms(micros[micros.len() - 1]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64) -> Sample {
        Sample {
            outcome: Outcome {
                status: 200,
                booking_id: None,
                error: None,
            },
            latency: Duration::from_millis(ms),
            tag: "",
        }
    }

    fn ok(i: usize) -> Outcome {
        Outcome {
            status: 200,
            booking_id: Some(i as i64),
            error: None,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Sample> = (1..=1000).map(sample).collect();
        let l = Latency::of(&samples);
        assert_eq!(l.count, 1000);
        assert_eq!(l.p50_ms, 500.0);
        assert_eq!(l.p99_ms, 990.0);
        assert_eq!(l.p999_ms, 999.0);
        assert_eq!(l.max_ms, 1000.0);
        assert_eq!(Latency::of(&[]).count, 0);
    }

    #[tokio::test]
    async fn bounded_runs_every_job_once() {
        let run = bounded(50, 4, |i| async move { ok(i) }).await;
        let mut ids: Vec<i64> = run
            .samples
            .iter()
            .filter_map(|s| s.outcome.booking_id)
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..50).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn the_open_model_sends_every_job_at_its_rate_and_stops() {
        let model = Model::Open {
            rate: 1000.0,
            max_in_flight: 100,
        };
        let run = drive_single(model, 50, "", |i| async move { ok(i) }).await;
        assert_eq!(run.samples.len(), 50);
        assert_eq!(run.dropped, 0);
        // 50 jobs at 1,000/s are due over 49 ms.
        assert!(
            run.elapsed >= Duration::from_millis(45),
            "{:?}",
            run.elapsed
        );
    }

    #[tokio::test]
    async fn the_open_model_drops_what_the_cap_cannot_hold_and_times_from_the_due_time() {
        // Each job takes 50 ms; at 200/s with at most 5 in flight, the jobs due between 25 ms
        // and 50 ms find five still out.
        let model = Model::Open {
            rate: 200.0,
            max_in_flight: 5,
        };
        let run = drive_single(model, 20, "", |i| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            ok(i)
        })
        .await;
        assert_eq!(run.samples.len() + run.dropped, 20);
        assert!(run.dropped >= 5, "dropped {}", run.dropped);
        assert!(
            run.samples
                .iter()
                .all(|s| s.latency >= Duration::from_millis(50))
        );
    }
}
