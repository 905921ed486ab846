//! An Ed25519 key cards are signed with, by key id. The private part is stored only for keys
//! generated in demo mode.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "card_signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// The raw public key, base64url without padding (the JWK's `x`).
    pub public_key: String,
    /// The 32-byte seed, base64url; `None` for configured keys (always) and never logged.
    pub private_key: Option<String>,
    /// `generated` (demo mode) or `configured` (from the environment).
    pub origin: String,
    pub created_at: DateTimeUtc,
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
