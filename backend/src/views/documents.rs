//! Identity documents as the API shows them: metadata only. The bytes are served to staff alone,
//! by `GET /admin/registrations/{id}/documents/{doc_id}`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::entities::identity_document;

/// An uploaded document's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentResponse {
    pub id: i32,
    /// `my_number_card_front`, `drivers_licence`, `residence_card`, `passport`,
    /// `resident_record`, `student_id`, `employee_id` or `other`.
    pub kind: String,
    /// Detected from the file itself: `image/jpeg`, `image/png` or `application/pdf`.
    pub content_type: String,
    pub byte_size: i64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    #[schema(value_type = String, format = DateTime)]
    pub uploaded_at: chrono::DateTime<chrono::Utc>,
}

impl From<identity_document::Model> for DocumentResponse {
    fn from(d: identity_document::Model) -> Self {
        DocumentResponse {
            id: d.id,
            kind: d.kind,
            content_type: d.content_type,
            byte_size: d.byte_size,
            sha256: d.sha256,
            uploaded_at: d.uploaded_at,
        }
    }
}

/// `POST /me/documents`, as a `multipart/form-data` form (what a phone browser's file input
/// sends). Put `kind` before `file`, so a wrong kind is refused before the upload.
#[derive(Debug, ToSchema)]
pub struct DocumentUploadForm {
    /// One of the kind codes (see `DocumentResponse.kind`). For a My Number Card, the front only:
    /// never send the side with the individual number.
    pub kind: String,
    /// A JPEG or PNG photo, or a PDF, judged by its content (the file name and the declared type
    /// are ignored); at most `document_max_bytes` (10 MiB unless configured).
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    pub file: Vec<u8>,
}
