//! The workloads of this version: C (distinct slots, at L2 over HTTP and at L0 through the booking
//! service in-process), B (one hot slot, all requests released together) and E (availability
//! reads: one room's month, and a city-wide Saturday search for courts).

use std::sync::Arc;

use axum::response::IntoResponse;
use chrono::{Datelike, Duration, Utc};
use sea_orm::DatabaseConnection;

use super::invariants;
use super::load::{self, Outcome};
use super::report::Run;
use super::setup::{City, FreeSlot};
use crate::domain::booking::BookingRules;
use crate::http::error::AppError;
use crate::services::bookings::create_booking;
use crate::views::booking::CreateBookingRequest;

const PURPOSE: &str = "ベンチマーク";

fn booking_request(slot: FreeSlot) -> CreateBookingRequest {
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
/// resident per slot, `concurrency` calls in flight. The status is the one the API would answer.
pub async fn c_service(
    db: &DatabaseConnection,
    rules: &Arc<BookingRules>,
    city: &City,
    slots: &[FreeSlot],
    concurrency: usize,
) -> anyhow::Result<Run> {
    let since = invariants::last_booking_id(db).await?;
    let samples = load::bounded(slots.len(), concurrency, |i| {
        let (db, rules) = (db.clone(), rules.clone());
        let user = city.residents[i].id;
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
    let checked = invariants::check(db, since, &success_ids(&samples)).await?;
    Ok(Run::new(
        "C",
        "L0 (service, in-process)",
        concurrency,
        samples,
        Some(checked),
    ))
}

/// C at L2: `POST /api/v1/bookings` over loopback HTTP, one resident per slot.
pub async fn c_http(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    base: &str,
    city: &City,
    slots: &[FreeSlot],
    concurrency: usize,
) -> anyhow::Result<Run> {
    let since = invariants::last_booking_id(db).await?;
    let url = format!("{base}/api/v1/bookings");
    let samples = load::bounded(slots.len(), concurrency, |i| {
        post_booking(
            client.clone(),
            url.clone(),
            city.residents[i].token.clone(),
            slots[i],
        )
    })
    .await;
    let checked = invariants::check(db, since, &success_ids(&samples)).await?;
    Ok(Run::new(
        "C",
        "L2 (HTTP)",
        concurrency,
        samples,
        Some(checked),
    ))
}

/// B: `n` residents book the same slot, all requests released together. Exactly one may win.
pub async fn b_http(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    base: &str,
    city: &City,
    hot: FreeSlot,
    n: usize,
) -> anyhow::Result<Run> {
    let since = invariants::last_booking_id(db).await?;
    let url = format!("{base}/api/v1/bookings");
    let residents = city.residents.len();
    let samples = load::released_together(n, |i| {
        post_booking(
            client.clone(),
            url.clone(),
            city.residents[i % residents].token.clone(),
            hot,
        )
    })
    .await;
    let checked = invariants::check(db, since, &success_ids(&samples)).await?;
    Ok(Run::new("B", "L2 (HTTP)", n, samples, Some(checked)))
}

/// E: one room's slots for a month (rooms taken in turn), then the city-wide search for free
/// courts on the first Saturday of the window.
pub async fn e_http(
    client: &reqwest::Client,
    base: &str,
    city: &City,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Run>> {
    anyhow::ensure!(!city.rooms.is_empty(), "no rooms to read");
    let from = city.first_day;
    let to = from + Duration::days(30);
    let rooms = city.rooms.clone();
    let month = load::bounded(n, concurrency, |i| {
        let url = format!(
            "{base}/api/v1/rooms/{}/slots?from={from}&to={to}",
            rooms[i % rooms.len()]
        );
        get(client.clone(), url)
    })
    .await;
    let offset = (6 - i64::from(from.weekday().num_days_from_monday())).rem_euclid(7);
    let saturday = from + Duration::days(offset);
    let search = load::bounded(n, concurrency, |_| {
        get(
            client.clone(),
            format!("{base}/api/v1/availability?kind=court&from={saturday}&to={saturday}"),
        )
    })
    .await;
    Ok(vec![
        Run::new("E", "L2 room month (GET …/slots)", concurrency, month, None),
        Run::new(
            "E",
            "L2 Saturday courts (GET /availability)",
            concurrency,
            search,
            None,
        ),
    ])
}

fn success_ids(samples: &load::Samples) -> Vec<i64> {
    samples
        .samples
        .iter()
        .filter(|s| s.outcome.status == 201)
        .filter_map(|s| s.outcome.booking_id)
        .collect()
}

async fn post_booking(
    client: reqwest::Client,
    url: String,
    token: String,
    slot: FreeSlot,
) -> Outcome {
    let body = match serde_json::to_vec(&booking_request(slot)) {
        Ok(body) => body,
        Err(e) => return failed(0, e.to_string()),
    };
    let sent = client
        .post(url)
        .bearer_auth(token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
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

async fn get(client: reqwest::Client, url: String) -> Outcome {
    match client.get(url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            // Read the whole body: the time to the last byte is the latency.
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

fn failed(status: u16, message: String) -> Outcome {
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
