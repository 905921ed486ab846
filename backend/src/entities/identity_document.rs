//! An identity or residency document a person uploaded for the review of their registration.
//! The bytes are a file named by `storage_key` in the document folder (`services::document_store`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identity_documents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    /// `domain::documents::DocumentKind` code.
    pub kind: String,
    /// Detected from the file's first bytes, never taken from the client.
    pub content_type: String,
    pub byte_size: i64,
    /// Lower-case hex SHA-256 of the bytes, checked again whenever staff open the file.
    pub sha256: String,
    /// The file's random name in the document folder.
    pub storage_key: String,
    pub uploaded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
