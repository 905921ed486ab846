//! The load driver: run `n` jobs with at most `concurrency` in flight (closed model: a new request
//! starts when one finishes), each job on its own task, timing each one from its start to its
//! answer; and the latency statistics (exact percentiles from the sorted samples).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::Barrier;

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
}

/// Every sample of a run and how long the run took.
#[derive(Debug, Clone)]
pub struct Samples {
    pub samples: Vec<Sample>,
    pub elapsed: Duration,
}

/// Run jobs `0..n`, at most `concurrency` at once, each spawned on its own task.
pub async fn bounded<F, Fut>(n: usize, concurrency: usize, job: F) -> Samples
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let started = Instant::now();
    let samples = futures::stream::iter(0..n)
        .map(|i| {
            let fut = job(i);
            async move {
                let handle = tokio::spawn(async move {
                    let t = Instant::now();
                    let outcome = fut.await;
                    Sample {
                        outcome,
                        latency: t.elapsed(),
                    }
                });
                handle.await.unwrap_or_else(|e| Sample {
                    outcome: Outcome {
                        status: 0,
                        booking_id: None,
                        error: Some(format!("task failed: {e}")),
                    },
                    latency: Duration::ZERO,
                })
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    Samples {
        samples,
        elapsed: started.elapsed(),
    }
}

/// Run jobs `0..n` all at once: every task waits at a barrier, and all are released together.
/// Latency is measured from the release.
pub async fn released_together<F, Fut>(n: usize, job: F) -> Samples
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let fut = job(i);
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            let t = Instant::now();
            let outcome = fut.await;
            Sample {
                outcome,
                latency: t.elapsed(),
            }
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut samples = Vec::with_capacity(n);
    for handle in handles {
        samples.push(handle.await.unwrap_or_else(|e| Sample {
            outcome: Outcome {
                status: 0,
                booking_id: None,
                error: Some(format!("task failed: {e}")),
            },
            latency: Duration::ZERO,
        }));
    }
    Samples {
        samples,
        elapsed: started.elapsed(),
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
        let mut micros: Vec<u64> = samples
            .iter()
            .map(|s| s.latency.as_micros() as u64)
            .collect();
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
        let run = bounded(50, 4, |i| async move {
            Outcome {
                status: 200,
                booking_id: Some(i as i64),
                error: None,
            }
        })
        .await;
        let mut ids: Vec<i64> = run
            .samples
            .iter()
            .filter_map(|s| s.outcome.booking_id)
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..50).collect::<Vec<_>>());
    }
}
