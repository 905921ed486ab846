//! The OpenAPI description of the whole API, served at `/api/v1/openapi.json` and browsable at
//! `/api/docs` (Swagger UI, vendored into the binary: nothing is fetched at build or run time).

use utoipa::OpenApi;

use super::error::{ErrorBody, ErrorResponse, FieldError};
use super::{facilities, health};

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
        facilities::list_wards,
        facilities::list_facilities,
        facilities::get_facility,
        facilities::list_facility_rooms,
        facilities::get_room,
    ),
    components(schemas(ErrorResponse, ErrorBody, FieldError)),
    tags(
        (name = "facilities", description = "Wards, facilities and rooms"),
        (name = "operations", description = "Health and readiness"),
    )
)]
pub struct ApiDoc;
