//! The OpenAPI description of the whole API, served at `/api/v1/openapi.json` and browsable at
//! `/api/docs` (Swagger UI, vendored into the binary: nothing is fetched at build or run time).

use utoipa::OpenApi;

use super::account;
use super::cards;
use super::documents;
use super::error::{ErrorBody, ErrorResponse, FieldError};
use super::lottery;
use super::payments;
use super::{auth, availability, bookings, facilities, groups, health, registration, review};

/// Declares the `bearer` security scheme the signed-in routes use.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Yoyaku API",
        description = "Reservation of a city's public sports and cultural facilities.\n\n\
Errors share one envelope: `{\"error\": {\"code\", \"message\", \"fields\"?}}`. Stable codes: \
`invalid_input` (a field is malformed; `fields` names it), `unknown_parameter`, `not_found`, \
`method_not_allowed`, `invalid_json`, `unavailable`, `timeout`, `internal`. Every response carries an \
`x-request-id` header to quote when asking for help. Times are RFC 3339; dates are `YYYY-MM-DD` in \
Asia/Tokyo; money is whole yen.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        health::healthz,
        health::readyz,
        registration::register,
        registration::verify_email,
        registration::demo_outbox,
        crate::http::password_reset::request_password_reset,
        crate::http::password_reset::confirm_password_reset,
        review::list_registrations,
        review::approve_registration,
        review::reject_registration,
        documents::list_registration_documents,
        documents::get_registration_document,
        documents::upload_document,
        documents::list_my_documents,
        auth::login,
        auth::refresh,
        auth::logout,
        auth::me,
        account::renew_registration,
        account::export_my_data,
        account::delete_my_account,
        facilities::list_wards,
        facilities::list_facilities,
        facilities::get_facility,
        facilities::list_facility_rooms,
        facilities::get_room,
        availability::list_room_slots,
        availability::search_availability,
        bookings::quote_booking,
        bookings::create_booking,
        bookings::list_bookings,
        bookings::get_booking,
        bookings::cancel_booking,
        payments::create_checkout,
        payments::booking_payments,
        payments::stripe_webhook,
        payments::record_counter_payment,
        payments::daily_reconciliation,
        payments::hand_back_refund,
        payments::cancel_booking_by_staff,
        groups::create_group,
        groups::list_groups,
        groups::get_group,
        groups::add_member,
        groups::remove_member,
        groups::leave_group,
        groups::register_group,
        groups::dissolve_group,
        groups::set_fee_reduction,
        cards::my_card,
        cards::jwks,
        cards::revocations,
        cards::check_in,
        cards::sync_checkins,
        cards::my_penalties,
        lottery::list_rounds,
        lottery::get_round,
        lottery::apply,
        lottery::withdraw,
        lottery::round_results,
        lottery::my_lottery,
        lottery::confirm_win,
        lottery::create_round,
        lottery::generate_round,
        lottery::draw_round,
        cards::suspend_card,
        cards::revoke_card,
        cards::void_penalty,
    ),
    components(schemas(ErrorResponse, ErrorBody, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Signing in and out"),
        (name = "account", description = "My account: renewing the registration, my data, deleting the account"),
        (name = "facilities", description = "Wards, facilities and rooms"),
        (name = "bookings", description = "Booking, listing and cancelling"),
        (name = "groups", description = "Groups (団体): members, registration and its rules"),
        (name = "admin", description = "Staff: the registration queue"),
        (name = "documents", description = "Identity and residency documents for the review of a registration"),
        (name = "availability", description = "Slots, their state and price, and free-slot search"),
        (name = "operations", description = "Health and readiness"),
        (name = "cards", description = "The user card (QR), its public keys, check-in at the venue (online and offline), no-show penalties"),
        (name = "lottery", description = "The lottery (抽選): rounds, applications, the auditable draw and its results, confirming wins"),
        (name = "payments", description = "Checkout (Stripe, or the embedded test-mode provider), the booking's ledger, Stripe's webhook"),
    )
)]
pub struct ApiDoc;
