//! Identity and residency documents a person uploads for staff to check their registration.
//!
//! The row holds what staff and the person may see about a document (its kind, type, size,
//! checksum, when it came); the bytes live in a file named by `storage_key`, a random name that
//! never comes from the client, under the document folder outside anything the service serves.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Kinds of document; mirrored by `domain::documents::DocumentKind`.
pub const DOCUMENT_KINDS: &[&str] = &[
    // マイナンバーカード, the front only: the back carries the individual number, which the city
    // has no legal ground to collect for a booking registration.
    "my_number_card_front",
    "drivers_licence",
    "residence_card",
    "passport",
    // 住民票の写し: proves residency in the city.
    "resident_record",
    // For people who work or study in the city.
    "student_id",
    "employee_id",
    "other",
];

/// Content types accepted, as detected from the file's first bytes; mirrored by
/// `domain::documents::DocumentType`.
pub const DOCUMENT_CONTENT_TYPES: &[&str] = &["image/jpeg", "image/png", "application/pdf"];

fn one_of(col: &str, values: &[&str]) -> SimpleExpr {
    Expr::col(Alias::new(col)).is_in(values.iter().map(|v| String::from(*v)))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("identity_documents")
                .col(pk_auto("id"))
                .col(integer("user_id"))
                .col(string("kind").check(one_of("kind", DOCUMENT_KINDS)))
                .col(string("content_type").check(one_of("content_type", DOCUMENT_CONTENT_TYPES)))
                .col(big_integer("byte_size").check(Expr::col("byte_size").gt(0)))
                // Lower-case hex; LENGTH counts characters on both databases.
                .col(
                    string_len("sha256", 64)
                        .check(Expr::expr(Func::char_length(Expr::col("sha256"))).eq(64)),
                )
                .col(string_len("storage_key", 64).unique_key())
                .col(timestamp_with_time_zone("uploaded_at"))
                // The documents go with the person; the service removes their files first.
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_identity_documents_user_id")
                        .from(Alias::new("identity_documents"), Alias::new("user_id"))
                        .to(Alias::new("users"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_identity_documents_user_id")
                .table("identity_documents")
                .col("user_id")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("identity_documents"))
                .if_exists()
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
