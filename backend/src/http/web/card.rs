//! The resident's user card (利用者証) as a web page: the QR, the card number in plain text and
//! when it was last refreshed (`GET /card`), a printable card (`GET /card/print`), and what makes
//! the card page an installable app that works offline: the web app manifest
//! (`/manifest.webmanifest`) and the service worker (`/card-sw.js`, scope `/card`).
//!
//! The service worker is registered with the scope `/card`, so it never sees another page: only
//! the card page is kept for offline use (with the static files it uses), and every other
//! signed-in page goes to the network as if there were no worker. Signing out deletes its cache
//! (`web/static/app.js`), and the worker drops it when the server answers the card page with a
//! redirect to the sign-in page.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::assets;
use super::page::Chrome;
use crate::services::cards::{self, CardError};
use crate::state::AppState;
use crate::views::cards::CardResponse;

/// `GET /card` and `GET /card/print`.
#[derive(Template)]
#[template(path = "card.html")]
pub struct CardPage<'a> {
    pub c: &'a Chrome,
    pub card: CardResponse,
    /// The printable variant: only the card, with the note on the QR's expiry.
    pub print: bool,
    pub manifest_url: &'static str,
}

impl CardPage<'_> {
    pub fn card_js_url(&self) -> String {
        assets::url(assets::CARD_JS)
    }

    /// `0123-4567-89`: easier to read out and type than ten digits in a row.
    pub fn grouped_number(&self) -> String {
        let n = &self.card.card_number;
        if n.len() == 10 && n.is_ascii() {
            format!("{}-{}-{}", &n[..4], &n[4..8], &n[8..])
        } else {
            n.clone()
        }
    }
}

async fn card_page(c: Chrome, state: AppState, print: bool) -> Response {
    let user = match c.require_user() {
        Ok(user) => user.clone(),
        Err(redirect) => return redirect,
    };
    match cards::my_card(
        &state.db,
        &state.card_keys,
        &state.settings.checkin,
        user.id,
        Utc::now(),
    )
    .await
    {
        Ok(card) => {
            let page = CardPage {
                c: &c,
                card,
                print,
                manifest_url: MANIFEST_PATH,
            };
            c.respond(StatusCode::OK, &page)
        }
        Err(CardError::NotAvailable(_)) => {
            c.error(StatusCode::FORBIDDEN, c.t("card.not_available"))
        }
        Err(CardError::KeysMissing) => {
            c.error(StatusCode::SERVICE_UNAVAILABLE, c.t("card.unavailable"))
        }
        Err(CardError::Db(error)) => c.internal(error),
    }
}

/// `GET /card`: my card. Each visit signs a fresh token; the service worker keeps the last one
/// for offline use.
pub async fn show(c: Chrome, State(state): State<AppState>) -> Response {
    card_page(c, state, false).await
}

/// `GET /card/print`: the card alone, to print for people without a smartphone.
pub async fn print(c: Chrome, State(state): State<AppState>) -> Response {
    card_page(c, state, true).await
}

/// Where the manifest is served.
pub const MANIFEST_PATH: &str = "/manifest.webmanifest";

/// `GET /manifest.webmanifest`: the card page as an installable app (start and scope `/card`).
pub async fn manifest() -> Response {
    let body = serde_json::json!({
        "name": "Yoyaku 利用者証 / User card",
        "short_name": "利用者証",
        "description": "公共施設の利用者証（QR コード） / Your user card for public facilities",
        "lang": "ja",
        "start_url": "/card",
        "scope": "/card",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d4f91",
        "icons": [
            {"src": assets::url(assets::ICON_192), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": assets::url(assets::ICON_512), "sizes": "512x512", "type": "image/png", "purpose": "any"},
        ],
    });
    let mut response = body.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/manifest+json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// The service worker's source (`web/static/card-sw.js`).
const SERVICE_WORKER: &str = include_str!("../../../../web/static/card-sw.js");

/// `GET /card-sw.js`: the service worker. Served from the site's root (not under `/static/`,
/// whose URLs change with their content) so that its URL stays the same and the browser checks
/// it for updates; never cached by HTTP caches for the same reason.
pub async fn service_worker() -> Response {
    let mut response = SERVICE_WORKER.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
