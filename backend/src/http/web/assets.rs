//! The pages' static files (`web/static/`), compiled into the binary and served at
//! `/static/<hash>/<name>`, where `<hash>` is the start of the file's SHA-256. A changed file gets
//! a new URL, so each URL can be cached for a year (`immutable`) and a browser never mixes an old
//! script with a new page. Nothing is fetched from another site.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// The first 16 hex digits of the SHA-256 of `bytes`.
    pub hash: String,
}

impl Asset {
    /// The URL pages refer to it by.
    pub fn url(&self) -> String {
        format!("/static/{}/{}", self.hash, self.name)
    }
}

/// The file name of the vendored htmx; its version and checksum are in `web/static/README.md`.
pub const HTMX: &str = "htmx-2.0.11.min.js";
pub const APP_CSS: &str = "app.css";
pub const APP_JS: &str = "app.js";
/// The card page's script: registers the service worker, refreshes the token when online.
pub const CARD_JS: &str = "card.js";
/// The staff scanner's script: camera, keyboard wedge, offline verification and queue.
pub const SCANNER_JS: &str = "scanner.js";
/// jsQR 1.4.0 (Apache-2.0), the QR decoder where the browser has no BarcodeDetector; its
/// source and checksum are in `web/static/README.md`.
pub const JSQR: &str = "jsQR-1.4.0.js";
/// The card app's icons (web app manifest).
pub const ICON_192: &str = "card-icon-192.png";
pub const ICON_512: &str = "card-icon-512.png";

static FILES: [(&str, &str, &[u8]); 8] = [
    (
        HTMX,
        "text/javascript; charset=utf-8",
        include_bytes!("../../../../web/static/htmx-2.0.11.min.js"),
    ),
    (
        APP_CSS,
        "text/css; charset=utf-8",
        include_bytes!("../../../../web/static/app.css"),
    ),
    (
        APP_JS,
        "text/javascript; charset=utf-8",
        include_bytes!("../../../../web/static/app.js"),
    ),
    (
        CARD_JS,
        "text/javascript; charset=utf-8",
        include_bytes!("../../../../web/static/card.js"),
    ),
    (
        SCANNER_JS,
        "text/javascript; charset=utf-8",
        include_bytes!("../../../../web/static/scanner.js"),
    ),
    (
        JSQR,
        "text/javascript; charset=utf-8",
        include_bytes!("../../../../web/static/jsQR-1.4.0.js"),
    ),
    (
        ICON_192,
        "image/png",
        include_bytes!("../../../../web/static/card-icon-192.png"),
    ),
    (
        ICON_512,
        "image/png",
        include_bytes!("../../../../web/static/card-icon-512.png"),
    ),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, content_type, bytes)| Asset {
            name,
            content_type,
            bytes,
            hash: hex::encode(&Sha256::digest(bytes)[..8]),
        })
        .collect()
});

/// The embedded file called `name`.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The URL of the embedded file `name` (an empty string for an unknown name, which the tests
/// rule out).
pub fn url(name: &str) -> String {
    asset(name).map(Asset::url).unwrap_or_default()
}

/// `GET /static/{hash}/{name}`: a file whose hash matches; anything else is 404, so an old URL
/// never serves new bytes under a year-long cache.
pub async fn serve(Path((hash, name)): Path<(String, String)>) -> Response {
    let Some(asset) = asset(&name).filter(|a| a.hash == hash) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_hashed_url_on_this_site() {
        for name in [
            HTMX, APP_CSS, APP_JS, CARD_JS, SCANNER_JS, JSQR, ICON_192, ICON_512,
        ] {
            let url = url(name);
            assert!(url.starts_with("/static/"), "{url}");
            assert!(url.ends_with(name));
            assert_eq!(asset(name).unwrap().hash.len(), 16);
        }
    }

    #[test]
    fn the_vendored_htmx_is_version_2() {
        let text = std::str::from_utf8(asset(HTMX).unwrap().bytes).unwrap();
        assert!(
            text.contains("version:\"2.0.11\""),
            "htmx 2.0.11 is vendored"
        );
    }
}
