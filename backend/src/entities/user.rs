//! A person who signs in: resident, staff, manager or admin.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Lower-cased.
    pub email: String,
    /// argon2id PHC string; `None` for an account that cannot sign in with a password.
    pub password_hash: Option<String>,
    pub display_name: String,
    pub name_kana: Option<String>,
    pub role: String,
    /// `resident`, `works_in_city`, `studies_in_city` or `non_resident`.
    pub residency: String,
    pub locale: String,
    pub email_verified_at: Option<DateTimeUtc>,
    pub date_of_birth: Option<Date>,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    /// `domain::registration::RegistrationState` code.
    pub registration_state: String,
    /// 利用者番号, given on approval.
    pub card_number: Option<String>,
    pub registration_valid_until: Option<Date>,
    /// The reason staff gave with their decision on the registration.
    pub review_note: Option<String>,
    pub created_at: DateTimeUtc,
    /// When the person deleted their account; the personal fields are cleared by then.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
