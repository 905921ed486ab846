//! A local stand-in for the parts of Stripe's API Yoyaku calls, so payment tests run without the
//! internet: `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`,
//! `POST /v1/checkout/sessions/{id}/expire` and `POST /v1/refunds`. The app reaches it through
//! `STRIPE_API_BASE`.
//!
//! Every request is recorded (method, path, `Idempotency-Key`, the form fields as sent) before
//! it is answered, so once the app's call has returned, tests can assert the amount in yen, the
//! currency, the metadata and `expires_at`. Like Stripe, a repeated `Idempotency-Key` replays the
//! first answer. Objects carry the fields async-stripe requires to decode them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct StubRequest {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    /// The form-encoded body, in order (`line_items[0][price_data][unit_amount]` = `8400`, …).
    pub form: Vec<(String, String)>,
}

impl StubRequest {
    /// The value of form field `key`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<StubRequest>,
    sessions: HashMap<String, Value>,
    /// Idempotency-Key → first answer.
    replies: HashMap<String, Value>,
    next_id: u64,
}

/// A running stub.
#[derive(Clone)]
pub struct StripeStub {
    /// `http://127.0.0.1:PORT/`, for `STRIPE_API_BASE`.
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
}

impl StripeStub {
    /// Start the stub on a free port.
    pub async fn start() -> StripeStub {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(retrieve_session))
            .route("/v1/checkout/sessions/{id}/expire", post(expire_session))
            .route("/v1/refunds", post(create_refund))
            .fallback(unknown)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Stripe stub");
        let port = listener.local_addr().expect("stub address").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        StripeStub {
            base_url: format!("http://127.0.0.1:{port}/"),
            inner,
        }
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<StubRequest> {
        self.lock().requests.clone()
    }

    /// The requests to `path` with `method`.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<StubRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// A session as the stub holds it.
    pub fn session(&self, id: &str) -> Option<Value> {
        self.lock().sessions.get(id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Shared = Arc<Mutex<Inner>>;

fn record(
    inner: &Shared,
    method: Method,
    path: String,
    headers: &HeaderMap,
    body: &Bytes,
) -> (Option<String>, Vec<(String, String)>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
    inner.requests.push(StubRequest {
        method: method.to_string(),
        path,
        idempotency_key: key.clone(),
        form: form.clone(),
    });
    (key, form)
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn metadata(form: &[(String, String)], prefix: &str) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in form {
        if let Some(name) = k
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(']'))
        {
            map.insert(name.to_owned(), Value::String(v.clone()));
        }
    }
    Value::Object(map)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The fields of a Checkout Session that async-stripe needs, plus the ones Yoyaku reads.
fn session_object(id: &str, form: &[(String, String)]) -> Value {
    let unit: i64 = field(form, "line_items[0][price_data][unit_amount]")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let quantity: i64 = field(form, "line_items[0][quantity]")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    json!({
        "id": id,
        "object": "checkout.session",
        "amount_subtotal": unit * quantity,
        "amount_total": unit * quantity,
        "automatic_tax": {"enabled": false, "liability": null, "status": null},
        "client_reference_id": field(form, "client_reference_id"),
        "created": now(),
        "currency": field(form, "currency").unwrap_or("jpy"),
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "expires_at": field(form, "expires_at").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0),
        "livemode": false,
        "metadata": metadata(form, "metadata["),
        "mode": field(form, "mode").unwrap_or("payment"),
        "payment_intent": null,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "shipping_options": [],
        "status": "open",
        "success_url": field(form, "success_url"),
        "cancel_url": field(form, "cancel_url"),
        "url": format!("https://checkout.stripe.test/c/pay/{id}"),
    })
}

async fn create_session(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (key, form) = record(
        &inner,
        Method::POST,
        "/v1/checkout/sessions".into(),
        &headers,
        &body,
    );
    let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(reply) = key.as_ref().and_then(|k| inner.replies.get(k)) {
        return (StatusCode::OK, axum::Json(reply.clone())).into_response();
    }
    inner.next_id += 1;
    let id = format!("cs_test_{}", inner.next_id);
    let session = session_object(&id, &form);
    inner.sessions.insert(id, session.clone());
    if let Some(key) = key {
        inner.replies.insert(key, session.clone());
    }
    (StatusCode::OK, axum::Json(session)).into_response()
}

async fn retrieve_session(
    State(inner): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    record(
        &inner,
        Method::GET,
        format!("/v1/checkout/sessions/{id}"),
        &headers,
        &Bytes::new(),
    );
    let inner = inner.lock().unwrap_or_else(|e| e.into_inner());
    match inner.sessions.get(&id) {
        Some(session) => (StatusCode::OK, axum::Json(session.clone())).into_response(),
        None => not_found(),
    }
}

async fn expire_session(
    State(inner): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(
        &inner,
        Method::POST,
        format!("/v1/checkout/sessions/{id}/expire"),
        &headers,
        &body,
    );
    let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
    match inner.sessions.get_mut(&id) {
        Some(session) => {
            session["status"] = json!("expired");
            session["url"] = Value::Null;
            (StatusCode::OK, axum::Json(session.clone())).into_response()
        }
        None => not_found(),
    }
}

async fn create_refund(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (key, form) = record(&inner, Method::POST, "/v1/refunds".into(), &headers, &body);
    let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(reply) = key.as_ref().and_then(|k| inner.replies.get(k)) {
        return (StatusCode::OK, axum::Json(reply.clone())).into_response();
    }
    inner.next_id += 1;
    let refund = json!({
        "id": format!("re_test_{}", inner.next_id),
        "object": "refund",
        "amount": field(&form, "amount").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0),
        "charge": null,
        "created": now(),
        "currency": "jpy",
        "metadata": metadata(&form, "metadata["),
        "payment_intent": field(&form, "payment_intent"),
        "reason": null,
        "status": "succeeded",
    });
    if let Some(key) = key {
        inner.replies.insert(key, refund.clone());
    }
    (StatusCode::OK, axum::Json(refund)).into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(
            json!({"error": {"type": "invalid_request_error", "message": "No such object"}}),
        ),
    )
        .into_response()
}

async fn unknown(method: Method, uri: axum::http::Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": {"type": "invalid_request_error", "message": format!("the stub does not implement {method} {}", uri.path())}})),
    )
        .into_response()
}
