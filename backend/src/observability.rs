//! Metrics for `/metrics`: the process-wide `metrics` recorder rendered as Prometheus text, and
//! the layer that measures every request by route template (never the raw path, which would
//! carry ids) and counts what the city watches at the rush: bookings made and refused by code,
//! slot conflicts, and payments. Job runs are counted by `jobs::runner`, requests refused for
//! overload by `http::overload`, and the database pool is read when metrics are rendered.
//!
//! Series (all prefixed `yoyaku_`): `http_request_duration_seconds{method,route,status}`
//! (histogram), `http_in_flight`, `http_shed_total`, `bookings_created_total`,
//! `bookings_refused_total{code}`, `booking_conflicts_total`, `payments_total{kind,outcome}`,
//! `job_runs_total{job,outcome}`, `job_run_duration_seconds{job}`, `db_pool_connections`,
//! `db_pool_idle_connections`, `db_pool_max_connections`.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseBackend, DatabaseConnection};

use crate::http::error::ErrorCode;

/// Request latency buckets, in seconds: fine below the 200 ms booking target, coarse above.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder's handle, installed on first use. If another recorder was
/// installed first (by a program embedding this library), ours renders an empty page.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics stays empty");
        }
        handle
    })
}

/// Keep the recorder's histograms compact; called every few seconds while serving.
pub fn upkeep() {
    handle().run_upkeep();
}

/// The Prometheus text page, with the database pool's current state.
pub fn render(db: &DatabaseConnection, max_connections: u32) -> String {
    let (size, idle) = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    };
    metrics::gauge!("yoyaku_db_pool_connections").set(f64::from(size));
    metrics::gauge!("yoyaku_db_pool_idle_connections").set(idle as f64);
    metrics::gauge!("yoyaku_db_pool_max_connections").set(f64::from(max_connections));
    handle().render()
}

/// The layer: time the request, then count it by route template and status, and count the
/// bookings and payments it made or was refused.
pub async fn track(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    metrics::histogram!(
        "yoyaku_http_request_duration_seconds",
        "method" => method.as_str().to_owned(),
        "route" => route.clone(),
        "status" => status.as_str().to_owned(),
    )
    .record(started.elapsed().as_secs_f64());
    if method == Method::POST {
        let code = response.extensions().get::<ErrorCode>().map(|c| c.0);
        count_business(&route, status, code);
    }
    response
}

/// What a POST to `route` meant for bookings and payments.
fn count_business(route: &str, status: axum::http::StatusCode, code: Option<&'static str>) {
    let outcome = || code.unwrap_or(if status.is_success() { "ok" } else { "error" });
    match route {
        "/api/v1/bookings" => {
            if status == axum::http::StatusCode::CREATED {
                metrics::counter!("yoyaku_bookings_created_total").increment(1);
            } else if let Some(code) = code {
                metrics::counter!("yoyaku_bookings_refused_total", "code" => code).increment(1);
                if code == crate::http::error::codes::SLOT_TAKEN {
                    metrics::counter!("yoyaku_booking_conflicts_total").increment(1);
                }
            }
        }
        "/api/v1/bookings/{id}/checkout" | "/bookings/{id}/pay" => {
            metrics::counter!("yoyaku_payments_total", "kind" => "checkout", "outcome" => outcome())
                .increment(1);
        }
        "/pay/{token}/complete" | "/api/v1/payments/stripe/webhook" => {
            metrics::counter!("yoyaku_payments_total", "kind" => "online", "outcome" => outcome())
                .increment(1);
        }
        "/api/v1/admin/bookings/{id}/counter-payment" => {
            metrics::counter!("yoyaku_payments_total", "kind" => "counter", "outcome" => outcome())
                .increment(1);
        }
        _ => {}
    }
}
