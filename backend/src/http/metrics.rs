//! `GET /metrics`: Prometheus text (`observability`). With `YOYAKU_METRICS_TOKEN` set, a scraper
//! sends it as a bearer token; without one, only loopback clients are served (a sidecar or an
//! agent on the same host), so the page is never public by accident.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::error::{AppError, codes};
use crate::state::AppState;

/// The metrics page.
pub async fn metrics(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, AppError> {
    match &state.settings.metrics_token {
        Some(token) => {
            let sent = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            // Compare digests, so the time taken says nothing about the token.
            if Sha256::digest(sent.as_bytes()) != Sha256::digest(token.expose_secret().as_bytes()) {
                return Err(AppError::client(
                    StatusCode::UNAUTHORIZED,
                    codes::UNAUTHORIZED,
                    "metrics need the metrics token",
                ));
            }
        }
        None => {
            let loopback = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
            if !loopback {
                return Err(AppError::client(
                    StatusCode::FORBIDDEN,
                    codes::FORBIDDEN,
                    "metrics are served to loopback clients unless a metrics token is set",
                ));
            }
        }
    }
    let page = crate::observability::render(&state.db, state.settings.db_max_connections);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        page,
    )
        .into_response())
}
