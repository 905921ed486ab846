//! Identity documents: `POST /me/documents` (a multipart form) and `GET /me/documents` for the
//! person; `GET /admin/registrations/{id}/documents` and `…/{doc_id}` (the bytes) for staff.
//!
//! The form is read part by part as it streams: `kind` is checked when it arrives, and `file` is
//! handed to `services::documents::receive`, which judges the type from the first bytes and stops
//! at the size limit. The route's body limit (the file limit plus room for the form's other parts)
//! stops anything larger before it is read.

use axum::Json;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::StreamExt;
use serde::Deserialize;

use super::error::{AppError, ErrorResponse};
use super::extract::{AuthUser, IdParam, ValidPath};
use crate::domain::documents::{self, DocumentKind, DocumentLimits, DocumentType};
use crate::services::document_store::DocumentStore;
use crate::services::documents::{self as service, DocumentError, Received};
use crate::state::AppState;
use crate::views::ListResponse;
use crate::views::documents::{DocumentResponse, DocumentUploadForm};

/// Room for the multipart framing and the `kind` part on top of the file itself.
pub const FORM_OVERHEAD_BYTES: usize = 64 * 1024;

/// The upload limits in force.
pub fn limits(state: &AppState) -> DocumentLimits {
    DocumentLimits {
        max_bytes: state.settings.document_max_bytes,
        max_per_person: state.settings.documents_per_person,
    }
}

/// Upload an identity or residency document for the review of your registration. Allowed while
/// the registration waits for review, or after a rejection (the upload re-submits it).
#[utoipa::path(
    post, path = "/api/v1/me/documents", tag = "documents",
    security(("bearer" = [])),
    request_body(content = inline(DocumentUploadForm), content_type = "multipart/form-data"),
    responses(
        (status = 201, body = DocumentResponse),
        (status = 400, description = "`invalid_input` naming `kind` or `file` (missing, empty, sent twice), or `unknown_parameter` naming an unknown part", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 409, description = "`not_pending` (the registration is not waiting for review or rejected), `limit_reached` naming `documents_per_person`", body = ErrorResponse),
        (status = 413, description = "`file_too_large` naming `file`, with the limit", body = ErrorResponse),
        (status = 422, description = "`unsupported_file_type` naming `file`: not a JPEG, PNG or PDF", body = ErrorResponse),
    )
)]
pub async fn upload_document(
    State(state): State<AppState>,
    user: AuthUser,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<DocumentResponse>), AppError> {
    let limits = limits(&state);
    // Refuse before reading a byte of the body when the person may not upload at all.
    service::ensure_may_upload(&state.db, user.id, limits).await?;
    let form = form.map_err(|_| {
        AppError::invalid_field(
            "file",
            "send a multipart/form-data form with the parts `kind` and `file`",
        )
    })?;
    let store = DocumentStore::new(state.settings.documents_path());
    let (kind, received) = read_form(form, &store, limits).await?;
    let document =
        service::record_upload(&state.db, user.id, kind, received, limits, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(document.into())))
}

/// Read the form's parts in order: one `kind`, one `file`, and a web form's `csrf` (ignored).
async fn read_form(
    mut form: Multipart,
    store: &DocumentStore,
    limits: DocumentLimits,
) -> Result<(DocumentKind, Received), DocumentError> {
    let mut kind = None;
    let mut received = None;
    while let Some(field) = form.next_field().await.map_err(|e| form_error(e, limits))? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "kind" if kind.is_none() => {
                let text = short_text(field, "kind", limits).await?;
                kind = Some(
                    documents::parse_kind(&text)
                        .map_err(|message| DocumentError::invalid("kind", message))?,
                );
            }
            "file" if received.is_none() => {
                let chunks =
                    std::pin::pin!(field.map(|chunk| chunk.map_err(|e| form_error(e, limits))));
                received = Some(service::receive(store, limits, chunks).await?);
            }
            // A web page's form carries its CSRF token as a part too; for cookie sessions
            // `AuthUser` has already checked the token in the `X-CSRF-Token` header.
            "csrf" => {
                short_text(field, "csrf", limits).await?;
            }
            "kind" | "file" => {
                return Err(DocumentError::invalid(
                    "file",
                    "send one `kind` and one `file`",
                ));
            }
            other => {
                return Err(DocumentError::UnknownPart(other.to_owned()));
            }
        }
    }
    let kind = kind.ok_or_else(|| {
        DocumentError::invalid("kind", format!("choose one of {}", DocumentKind::codes()))
    })?;
    let received = received.ok_or_else(|| DocumentError::invalid("file", "choose a file"))?;
    Ok((kind, received))
}

/// A text part, at most a few hundred bytes (a kind code or a CSRF token is short).
async fn short_text(
    mut field: Field<'_>,
    name: &str,
    limits: DocumentLimits,
) -> Result<String, DocumentError> {
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| form_error(e, limits))? {
        text.extend_from_slice(&chunk);
        if text.len() > 256 {
            return Err(DocumentError::invalid(name, "too long"));
        }
    }
    String::from_utf8(text).map_err(|_| DocumentError::invalid(name, "not text"))
}

/// A broken or oversize form. Over the route's body limit is the file being too large; anything
/// else is a form the client cut short or built wrong, not a failure of ours.
fn form_error(error: MultipartError, limits: DocumentLimits) -> DocumentError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        DocumentError::TooLarge {
            max_bytes: limits.max_bytes,
        }
    } else {
        DocumentError::invalid("file", error.body_text())
    }
}

/// Your own documents, oldest first: metadata only (the images are shown to staff alone).
#[utoipa::path(
    get, path = "/api/v1/me/documents", tag = "documents",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ListResponse<DocumentResponse>),
        (status = 401, body = ErrorResponse),
    )
)]
pub async fn list_my_documents(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<ListResponse<DocumentResponse>>, AppError> {
    let items: Vec<DocumentResponse> = service::list_own(&state.db, user.id)
        .await?
        .into_iter()
        .map(DocumentResponse::from)
        .collect();
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}

/// A registration's documents (metadata). Staff, managers and admins only; audited.
#[utoipa::path(
    get, path = "/api/v1/admin/registrations/{id}/documents", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The person's user id")),
    responses(
        (status = 200, body = ListResponse<DocumentResponse>),
        (status = 403, description = "`forbidden` for residents", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    )
)]
pub async fn list_registration_documents(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(IdParam { id }): ValidPath<IdParam>,
) -> Result<Json<ListResponse<DocumentResponse>>, AppError> {
    let items: Vec<DocumentResponse> =
        service::list_for_staff(&state.db, (user.id, user.role), id, Utc::now())
            .await?
            .into_iter()
            .map(DocumentResponse::from)
            .collect();
    let total = items.len() as u64;
    Ok(Json(ListResponse { items, total }))
}

/// `{id}` and `{doc_id}` of a document's path.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct DocumentPath {
    pub id: i32,
    pub doc_id: i32,
}

/// One document's bytes, with its stored type, to be shown in the browser and never cached.
/// Staff, managers and admins only; every view is written to the audit log.
#[utoipa::path(
    get, path = "/api/v1/admin/registrations/{id}/documents/{doc_id}", tag = "admin",
    security(("bearer" = [])),
    params(
        ("id" = i32, Path, description = "The person's user id"),
        ("doc_id" = i32, Path, description = "The document's id"),
    ),
    responses(
        (status = 200, description = "The document as uploaded, `Cache-Control: no-store`",
            content(("image/jpeg"), ("image/png"), ("application/pdf"))),
        (status = 403, description = "`forbidden` for residents", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    )
)]
pub async fn get_registration_document(
    State(state): State<AppState>,
    user: AuthUser,
    ValidPath(path): ValidPath<DocumentPath>,
) -> Result<Response, AppError> {
    let store = DocumentStore::new(state.settings.documents_path());
    let (document, bytes) = service::open_for_staff(
        &state.db,
        &store,
        (user.id, user.role),
        path.id,
        path.doc_id,
        Utc::now(),
    )
    .await?;
    document_response(&document.content_type, document.id, bytes)
}

/// The bytes with headers that keep them out of caches and stop the browser guessing another
/// type; the file name is ours, never the uploader's.
fn document_response(content_type: &str, id: i32, bytes: Vec<u8>) -> Result<Response, AppError> {
    // The stored type is one of ours (a CHECK constraint); anything else would be a bug.
    let kind = DocumentType::from_mime(content_type).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("document {id} has an unknown content type"))
    })?;
    let disposition = HeaderValue::from_str(&format!(
        "inline; filename=\"document-{id}.{}\"",
        kind.extension()
    ))
    .map_err(|e| AppError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind.mime())),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response())
}
