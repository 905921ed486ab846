//! Every route in one place, and the layers every request passes through: a request id (taken
//! from `x-request-id` or made), a tracing span carrying it, the id echoed on the response, and a
//! panic guard that turns a panic into our 500 envelope.

use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::http::{HeaderName, Request};
use axum::routing::{delete, get, post};
use tower::{BoxError, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::http::account;
use crate::http::cards;
use crate::http::documents;
use crate::http::error::{AppError, codes, method_not_allowed, route_not_found};
use crate::http::lottery;
use crate::http::{
    auth, availability, bookings, facilities, groups, health, openapi::ApiDoc, payments,
    registration, review, web, web_session,
};
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request still running after this answers 503 in our envelope rather than hanging the client.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

async fn request_timed_out(error: BoxError) -> AppError {
    if error.is::<tower::timeout::error::Elapsed>() {
        AppError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::TIMEOUT,
            "the request took too long; please try again",
        )
    } else {
        AppError::Internal(anyhow::anyhow!(error))
    }
}

/// Build the application's router.
pub fn build(state: AppState) -> Router {
    let in_flight = crate::http::overload::InFlightLimit::new(state.settings.max_in_flight);
    let api = Router::new()
        .route("/auth/register", post(registration::register))
        .route("/auth/verify-email", post(registration::verify_email))
        .route(
            "/auth/password-reset",
            post(crate::http::password_reset::request_password_reset),
        )
        .route(
            "/auth/password-reset/confirm",
            post(crate::http::password_reset::confirm_password_reset),
        )
        .route("/dev/outbox", get(registration::demo_outbox))
        .route("/admin/registrations", get(review::list_registrations))
        .route(
            "/admin/registrations/{id}/approve",
            post(review::approve_registration),
        )
        .route(
            "/admin/registrations/{id}/reject",
            post(review::reject_registration),
        )
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route(
            "/me/documents",
            post(documents::upload_document)
                .get(documents::list_my_documents)
                // The file limit plus the form's framing; the handler enforces the exact limit.
                .layer(DefaultBodyLimit::max(
                    usize::try_from(state.settings.document_max_bytes)
                        .unwrap_or(usize::MAX)
                        .saturating_add(documents::FORM_OVERHEAD_BYTES),
                )),
        )
        .route(
            "/admin/registrations/{id}/documents",
            get(documents::list_registration_documents),
        )
        .route(
            "/admin/registrations/{id}/documents/{doc_id}",
            get(documents::get_registration_document),
        )
        .route("/me/registration/renew", post(account::renew_registration))
        .route("/me/export", get(account::export_my_data))
        .route("/me/delete", post(account::delete_my_account))
        .route("/me/card", get(cards::my_card))
        .route("/me/penalties", get(cards::my_penalties))
        .route("/checkins", post(cards::check_in))
        .route("/checkins/sync", post(cards::sync_checkins))
        .route("/checkins/revocations", get(cards::revocations))
        .route(
            "/admin/cards/{card_number}/suspend",
            post(cards::suspend_card),
        )
        .route(
            "/admin/cards/{card_number}/revoke",
            post(cards::revoke_card),
        )
        .route(
            "/admin/bookings/{id}/penalty/void",
            post(cards::void_penalty),
        )
        .route(
            "/bookings",
            post(bookings::create_booking).get(bookings::list_bookings),
        )
        .route("/bookings/quote", post(bookings::quote_booking))
        .route("/bookings/{id}", get(bookings::get_booking))
        .route("/bookings/{id}/cancel", post(bookings::cancel_booking))
        .route("/bookings/{id}/checkout", post(payments::create_checkout))
        .route("/bookings/{id}/payments", get(payments::booking_payments))
        .route("/payments/stripe/webhook", post(payments::stripe_webhook))
        .route(
            "/admin/bookings/{id}/counter-payment",
            post(payments::record_counter_payment),
        )
        .route(
            "/admin/facilities/{id}/reconciliation",
            get(payments::daily_reconciliation),
        )
        .route(
            "/admin/bookings/{id}/cancel",
            post(payments::cancel_booking_by_staff),
        )
        .route(
            "/admin/refunds/{id}/hand-back",
            post(payments::hand_back_refund),
        )
        .route(
            "/groups",
            post(groups::create_group).get(groups::list_groups),
        )
        .route("/groups/{id}", get(groups::get_group))
        .route("/groups/{id}/members", post(groups::add_member))
        .route(
            "/groups/{id}/members/{user_id}",
            delete(groups::remove_member),
        )
        .route("/groups/{id}/leave", post(groups::leave_group))
        .route("/groups/{id}/register", post(groups::register_group))
        .route("/groups/{id}/dissolve", post(groups::dissolve_group))
        .route(
            "/admin/groups/{id}/fee-reduction",
            post(groups::set_fee_reduction),
        )
        .route("/wards", get(facilities::list_wards))
        .route("/facilities", get(facilities::list_facilities))
        .route("/facilities/{id}", get(facilities::get_facility))
        .route(
            "/facilities/{id}/rooms",
            get(facilities::list_facility_rooms),
        )
        .route("/rooms/{id}", get(facilities::get_room))
        .route("/rooms/{id}/slots", get(availability::list_room_slots))
        .route("/availability", get(availability::search_availability))
        .route("/lottery/rounds", get(lottery::list_rounds))
        .route("/lottery/rounds/{id}", get(lottery::get_round))
        .route("/lottery/rounds/{id}/applications", post(lottery::apply))
        .route(
            "/lottery/rounds/{id}/applications/withdraw",
            post(lottery::withdraw),
        )
        .route("/lottery/rounds/{id}/results", get(lottery::round_results))
        .route("/me/lottery", get(lottery::my_lottery))
        .route("/me/lottery/wins/{id}/confirm", post(lottery::confirm_win))
        .route("/admin/lottery/rounds", post(lottery::create_round))
        .route("/admin/lottery/calendar", post(lottery::generate_round))
        .route("/admin/lottery/rounds/{id}/draw", post(lottery::draw_round))
        // The staff and manager console's API (http::console): one module per area.
        .merge(crate::http::console::api());

    Router::new()
        .route("/", get(web::home))
        .route("/login", get(web::sign_in_form).post(web::sign_in))
        .route("/logout", post(web::sign_out))
        // The resident web pages (http::web): the same services as the API, as HTML.
        .route("/language", get(web::switch_language))
        // Static files are gzipped when the browser accepts it (htmx shrinks to a third). Pages
        // are not: they carry the CSRF token next to text a request can choose (BREACH).
        .route(
            "/static/{hash}/{name}",
            get(web::assets::serve).layer(tower_http::compression::CompressionLayer::new()),
        )
        .route("/facilities/{id}", get(web::catalogue::facility))
        .route("/rooms/{id}", get(web::catalogue::room))
        .route(
            "/book",
            get(web::booking::confirm).post(web::booking::create),
        )
        .route("/bookings", get(web::booking::list))
        .route("/bookings/{id}", get(web::booking::show))
        .route(
            "/bookings/{id}/cancel",
            get(web::booking::cancel_form).post(web::booking::cancel),
        )
        .route("/bookings/{id}/pay", post(web::booking::pay))
        .route(
            "/register",
            get(web::account::register_form).post(web::account::register),
        )
        .route("/register/sent", get(web::account::register_sent))
        // Password reset, my account, groups, lottery and penalties (http::web::resident_pages).
        .merge(web::resident_pages())
        // The user card (installable, offline) and the staff scanner.
        .route("/card", get(web::card::show))
        .route("/card/print", get(web::card::print))
        .route("/manifest.webmanifest", get(web::card::manifest))
        .route("/card-sw.js", get(web::card::service_worker))
        .route(
            "/staff/scan",
            get(web::scanner::form).post(web::scanner::submit),
        )
        .route(
            "/verify-email",
            get(web::account::verify_form).post(web::account::verify),
        )
        // Payment pages: the embedded provider's checkout, the return pages, the receipt.
        .route("/pay/complete", get(payments::payment_complete))
        .route("/pay/cancelled", get(payments::payment_cancelled))
        .route("/pay/{token}", get(payments::checkout_page))
        .route("/pay/{token}/complete", post(payments::complete_checkout))
        .route("/pay/{token}/abandon", post(payments::abandon_checkout))
        .route("/bookings/{id}/receipt", get(payments::receipt_page))
        // The staff and manager console's pages, under /staff/.
        .merge(crate::http::console::pages())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::http::metrics::metrics))
        // Card verification keys: well-known, outside the API prefix.
        .route("/.well-known/jwks.json", get(cards::jwks))
        .nest("/api/v1", api)
        .merge(SwaggerUi::new("/api/docs").url("/api/v1/openapi.json", {
            let mut doc = ApiDoc::openapi();
            doc.merge(crate::http::console::openapi());
            doc
        }))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Browser sessions: refresh an expired access cookie before any handler looks at it.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web_session::refresh_from_cookies,
        ))
        .with_state(state)
        .layer(CatchPanicLayer::custom(|_| {
            AppError::Internal(anyhow::anyhow!("handler panicked")).into_response_owned()
        }))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(request_timed_out))
                .timeout(REQUEST_TIMEOUT),
        )
        // Overload: refuse at once beyond the in-flight limit (inside the request id and the
        // trace, so a refusal is logged and carries its id), measured by the metrics layer.
        .layer(axum::middleware::from_fn_with_state(
            in_flight,
            crate::http::overload::shed,
        ))
        .layer(axum::middleware::from_fn(crate::observability::track))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .extensions()
                        .get::<RequestId>()
                        .and_then(|id| id.header_value().to_str().ok())
                        .unwrap_or_default();
                    // The path only, never the query: queries can carry names or emails.
                    tracing::info_span!(
                        "http.request",
                        http.method = %request.method(),
                        http.path = %request.uri().path(),
                        request.id = %request_id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                // Not an ERROR line per 5xx: a real failure is logged once, with its cause, where
                // AppError becomes a response, and at the rush thousands of 503 `overloaded` are
                // the server working as meant (counted in `http_shed_total`), not errors.
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

impl AppError {
    /// Render outside a handler (the panic guard).
    fn into_response_owned(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}
