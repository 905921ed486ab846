//! Overload control: at most `max_in_flight` requests are served at once; one more is refused at
//! once with 503, `Retry-After` and the `overloaded` code, rather than queued until it times out
//! (at the 9:00 rush a fast "try again" beats a slow failure, and the pool stays bounded).
//! Health, readiness and metrics are never refused: an orchestrator must see a busy instance as
//! alive and ready.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::error::{AppError, codes};

/// Seconds a refused client is asked to wait.
const RETRY_AFTER_SECONDS: u32 = 1;

/// Paths outside the limit.
const NEVER_SHED: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// The shared count of requests in flight.
#[derive(Clone)]
pub struct InFlightLimit {
    permits: Arc<Semaphore>,
}

impl InFlightLimit {
    /// A limit of `max` requests at once (at least one).
    pub fn new(max: u32) -> InFlightLimit {
        let max = usize::try_from(max.max(1)).unwrap_or(usize::MAX);
        InFlightLimit {
            permits: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
        }
    }
}

/// The middleware: take a permit for the request's whole life, or refuse it at once.
pub async fn shed(State(limit): State<InFlightLimit>, request: Request, next: Next) -> Response {
    if NEVER_SHED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(permit) = limit.permits.clone().try_acquire_owned() else {
        metrics::counter!("yoyaku_http_shed_total").increment(1);
        let mut response = AppError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::OVERLOADED,
            "the service is busy; please try again in a moment",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        return response;
    };
    let _in_flight = InFlight::start(permit);
    next.run(request).await
}

/// A request's permit and its place in the in-flight gauge, both given back when it ends, also
/// when the client goes away and the request is dropped half-way.
struct InFlight {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl InFlight {
    fn start(permit: tokio::sync::OwnedSemaphorePermit) -> InFlight {
        metrics::gauge!("yoyaku_http_in_flight").increment(1.0);
        InFlight { _permit: permit }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("yoyaku_http_in_flight").decrement(1.0);
    }
}
