//! Identity and residency documents (本人確認書類): which kinds a person may upload, which file
//! types are accepted (judged by the file's first bytes, never by the name or the client's
//! claim), and when a person may upload at all.
//!
//! A person uploads while their registration waits for review, or after a rejection, when a new
//! document re-submits the registration. Approved, expired and unverified registrations upload
//! nothing: an approved one needs no document, and an unverified one cannot sign in.

use std::fmt;
use std::str::FromStr;

use super::kinds::UnknownKind;
use super::registration::RegistrationState;

/// What a document is. The database holds the same list as a CHECK constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// マイナンバーカード, front side only: the back carries the individual number, which the
    /// city may not collect for this purpose.
    MyNumberCardFront,
    /// 運転免許証.
    DriversLicence,
    /// 在留カード.
    ResidenceCard,
    /// パスポート.
    Passport,
    /// 住民票の写し: proves residency in the city.
    ResidentRecord,
    /// 学生証, for people who study in the city.
    StudentId,
    /// 社員証, for people who work in the city.
    EmployeeId,
    /// Anything else staff may accept.
    Other,
}

impl DocumentKind {
    /// Every kind, in display order.
    pub const ALL: &'static [DocumentKind] = &[
        DocumentKind::MyNumberCardFront,
        DocumentKind::DriversLicence,
        DocumentKind::ResidenceCard,
        DocumentKind::Passport,
        DocumentKind::ResidentRecord,
        DocumentKind::StudentId,
        DocumentKind::EmployeeId,
        DocumentKind::Other,
    ];

    /// The stable code stored in the database and used in the API.
    pub fn code(self) -> &'static str {
        match self {
            DocumentKind::MyNumberCardFront => "my_number_card_front",
            DocumentKind::DriversLicence => "drivers_licence",
            DocumentKind::ResidenceCard => "residence_card",
            DocumentKind::Passport => "passport",
            DocumentKind::ResidentRecord => "resident_record",
            DocumentKind::StudentId => "student_id",
            DocumentKind::EmployeeId => "employee_id",
            DocumentKind::Other => "other",
        }
    }

    /// Japanese display name.
    pub fn name_ja(self) -> &'static str {
        match self {
            DocumentKind::MyNumberCardFront => "マイナンバーカード（表面）",
            DocumentKind::DriversLicence => "運転免許証",
            DocumentKind::ResidenceCard => "在留カード",
            DocumentKind::Passport => "パスポート",
            DocumentKind::ResidentRecord => "住民票の写し",
            DocumentKind::StudentId => "学生証",
            DocumentKind::EmployeeId => "社員証",
            DocumentKind::Other => "その他",
        }
    }

    /// English display name.
    pub fn name_en(self) -> &'static str {
        match self {
            DocumentKind::MyNumberCardFront => "My Number Card (front only)",
            DocumentKind::DriversLicence => "Driver's licence",
            DocumentKind::ResidenceCard => "Residence card",
            DocumentKind::Passport => "Passport",
            DocumentKind::ResidentRecord => "Certificate of residence",
            DocumentKind::StudentId => "Student ID",
            DocumentKind::EmployeeId => "Employee ID",
            DocumentKind::Other => "Other",
        }
    }

    /// Every code, comma-separated, for error messages.
    pub fn codes() -> String {
        DocumentKind::ALL
            .iter()
            .map(|k| k.code())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl FromStr for DocumentKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocumentKind::ALL
            .iter()
            .copied()
            .find(|k| k.code() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An accepted file type. Staff open documents in a browser, so only types every browser shows
/// inline are accepted: HEIC (an iPhone's camera format) is not, and phones convert a photo to
/// JPEG when a form asks for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentType {
    Jpeg,
    Png,
    Pdf,
}

impl DocumentType {
    /// Every accepted type. The database holds the same list as a CHECK constraint.
    pub const ALL: &'static [DocumentType] =
        &[DocumentType::Jpeg, DocumentType::Png, DocumentType::Pdf];

    /// The media type stored and sent back to staff.
    pub fn mime(self) -> &'static str {
        match self {
            DocumentType::Jpeg => "image/jpeg",
            DocumentType::Png => "image/png",
            DocumentType::Pdf => "application/pdf",
        }
    }

    /// The file name extension used when staff save a document.
    pub fn extension(self) -> &'static str {
        match self {
            DocumentType::Jpeg => "jpg",
            DocumentType::Png => "png",
            DocumentType::Pdf => "pdf",
        }
    }

    /// The type of a stored media type.
    pub fn from_mime(mime: &str) -> Option<DocumentType> {
        DocumentType::ALL.iter().copied().find(|t| t.mime() == mime)
    }
}

/// How many leading bytes [`sniff`] needs to decide (fewer are enough for a shorter file).
pub const SNIFF_BYTES: usize = 12;

/// What a file's first bytes say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    Accepted(DocumentType),
    /// HEIC/HEIF, named so the refusal can say what to do instead.
    Heic,
    Unknown,
}

/// Recognise a file by its signature: JPEG `FF D8 FF`, PNG's eight-byte signature, PDF `%PDF-`,
/// and an ISO media `ftyp` box with a HEIF brand. Anything else, including HTML or a script
/// renamed `.png`, is unknown.
pub fn sniff(head: &[u8]) -> Sniffed {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    const HEIF_BRANDS: &[&[u8]] = &[
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
    ];
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Sniffed::Accepted(DocumentType::Jpeg)
    } else if head.starts_with(PNG) {
        Sniffed::Accepted(DocumentType::Png)
    } else if head.starts_with(b"%PDF-") {
        Sniffed::Accepted(DocumentType::Pdf)
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" && HEIF_BRANDS.contains(&&head[8..12]) {
        Sniffed::Heic
    } else {
        Sniffed::Unknown
    }
}

/// Limits on uploads, from the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DocumentLimits {
    /// The largest file accepted, in bytes.
    pub max_bytes: u64,
    /// Documents one person may have in all.
    pub max_per_person: u32,
}

/// Why a person may not upload now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UploadRefusal {
    #[error(
        "documents are uploaded while the registration waits for review or after a rejection; this one is {0}"
    )]
    WrongState(&'static str),
    #[error("at most {0} documents per person; ask at a counter if you need to show more")]
    TooMany(u32),
}

/// Whether a person whose registration is in `state` and who has `existing` documents may upload
/// another.
pub fn may_upload(
    state: RegistrationState,
    existing: u64,
    limits: DocumentLimits,
) -> Result<(), UploadRefusal> {
    match state {
        RegistrationState::PendingReview | RegistrationState::Rejected => {}
        other => return Err(UploadRefusal::WrongState(other.code())),
    }
    if existing >= u64::from(limits.max_per_person) {
        return Err(UploadRefusal::TooMany(limits.max_per_person));
    }
    Ok(())
}

/// A document as the person chose it in the form (`kind`); checked here so the HTTP edge names
/// the field.
pub fn parse_kind(raw: &str) -> Result<DocumentKind, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("one of {}", DocumentKind::codes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: DocumentLimits = DocumentLimits {
        max_bytes: 10 * 1024 * 1024,
        max_per_person: 3,
    };

    #[test]
    fn kinds_and_types_match_the_database_check_constraints() {
        let kinds: Vec<_> = DocumentKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(
            kinds,
            migration::m20261123_000007_identity_documents::DOCUMENT_KINDS
        );
        let types: Vec<_> = DocumentType::ALL.iter().map(|t| t.mime()).collect();
        assert_eq!(
            types,
            migration::m20261123_000007_identity_documents::DOCUMENT_CONTENT_TYPES
        );
        for kind in DocumentKind::ALL {
            assert_eq!(kind.code().parse::<DocumentKind>(), Ok(*kind));
        }
    }

    #[test]
    fn files_are_recognised_by_their_first_bytes() {
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F']),
            Sniffed::Accepted(DocumentType::Jpeg)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Sniffed::Accepted(DocumentType::Png)
        );
        assert_eq!(
            sniff(b"%PDF-1.7\n%\xe2\xe3"),
            Sniffed::Accepted(DocumentType::Pdf)
        );
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Sniffed::Heic);
        // An MP4 is an ISO media file too, but not a picture.
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0"), Sniffed::Unknown);
    }

    #[test]
    fn a_renamed_web_page_or_a_truncated_signature_is_unknown() {
        assert_eq!(
            sniff(b"<!DOCTYPE html><script>alert(1)</script>"),
            Sniffed::Unknown
        );
        assert_eq!(sniff(b"\x89PNG"), Sniffed::Unknown);
        assert_eq!(sniff(&[0xFF, 0xD8]), Sniffed::Unknown);
        assert_eq!(sniff(b""), Sniffed::Unknown);
    }

    #[test]
    fn a_person_uploads_while_waiting_for_review_or_after_a_rejection() {
        assert_eq!(
            may_upload(RegistrationState::PendingReview, 0, LIMITS),
            Ok(())
        );
        assert_eq!(may_upload(RegistrationState::Rejected, 2, LIMITS), Ok(()));
        for state in [
            RegistrationState::EmailUnverified,
            RegistrationState::Approved,
            RegistrationState::Expired,
        ] {
            assert_eq!(
                may_upload(state, 0, LIMITS),
                Err(UploadRefusal::WrongState(state.code()))
            );
        }
    }

    #[test]
    fn a_person_has_at_most_the_configured_number_of_documents() {
        assert_eq!(
            may_upload(RegistrationState::PendingReview, 3, LIMITS),
            Err(UploadRefusal::TooMany(3))
        );
    }

    #[test]
    fn a_kind_is_one_of_the_codes() {
        assert_eq!(
            parse_kind(" drivers_licence "),
            Ok(DocumentKind::DriversLicence)
        );
        assert!(
            parse_kind("my_number_card_back")
                .unwrap_err()
                .contains("residence_card")
        );
    }
}
