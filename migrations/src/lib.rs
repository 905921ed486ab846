//! Yoyaku's database schema, as sea-orm migrations that run unchanged on SQLite and PostgreSQL.
//!
//! Each migration owns a group of tables; later features add their own files rather than editing
//! shipped ones. Names follow `mYYYYMMDD_HHMMSS_<what>.rs`.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_city_model;
mod m20261123_000002_sessions;
mod m20261123_000003_bookings;
mod m20261123_000004_registration;
mod m20261123_000005_review_and_audit;
mod m20261123_000006_groups;
/// Public for its `DOCUMENT_KINDS` and `DOCUMENT_CONTENT_TYPES` (the domain's consistency test).
pub mod m20261123_000007_identity_documents;
mod m20261123_000008_mail_delivery;
mod m20261123_000009_account_lifecycle;
/// Public for its CHECK lists (the domain's consistency test).
pub mod m20261123_000010_payments;
/// Public for its CHECK lists (the domain's consistency test).
pub mod m20261123_000011_cards_and_checkins;
mod m20261123_000012_counter_refunds;
/// Public for its CHECK lists (the domain's consistency test).
pub mod m20261123_000013_lottery;
/// Public for its CHECK list (the job runner's consistency test).
pub mod m20261123_000015_job_leases;
mod m20261123_000016_slot_blocks;
mod m20261123_000017_counter_lookups;
mod m20261123_000018_report_indexes;
/// Public for its CHECK list (the domain's consistency test).
pub mod m20261123_000019_rule_history;
mod m20261123_000020_password_resets;

/// Every migration, in the order they apply.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_city_model::Migration),
            Box::new(m20261123_000002_sessions::Migration),
            Box::new(m20261123_000003_bookings::Migration),
            Box::new(m20261123_000004_registration::Migration),
            Box::new(m20261123_000005_review_and_audit::Migration),
            Box::new(m20261123_000006_groups::Migration),
            Box::new(m20261123_000007_identity_documents::Migration),
            Box::new(m20261123_000008_mail_delivery::Migration),
            Box::new(m20261123_000009_account_lifecycle::Migration),
            Box::new(m20261123_000010_payments::Migration),
            Box::new(m20261123_000011_cards_and_checkins::Migration),
            Box::new(m20261123_000012_counter_refunds::Migration),
            Box::new(m20261123_000013_lottery::Migration),
            Box::new(m20261123_000015_job_leases::Migration),
            Box::new(m20261123_000016_slot_blocks::Migration),
            Box::new(m20261123_000017_counter_lookups::Migration),
            Box::new(m20261123_000018_report_indexes::Migration),
            Box::new(m20261123_000019_rule_history::Migration),
            Box::new(m20261123_000020_password_resets::Migration),
        ]
    }
}

/// Facility kinds allowed by the database, for the domain's consistency test.
pub const FACILITY_KINDS_FOR_CODE: &[&str] = m20261123_000001_city_model::FACILITY_KINDS;
/// Room kinds allowed by the database, for the domain's consistency test.
pub const ROOM_KINDS_FOR_CODE: &[&str] = m20261123_000001_city_model::ROOM_KINDS;
/// Roles allowed by the database, for the domain's consistency test.
pub const ROLES_FOR_CODE: &[&str] = m20261123_000001_city_model::ROLES;
/// Booking states allowed by the database, for the domain's consistency test.
pub const BOOKING_STATES_FOR_CODE: &[&str] = m20261123_000003_bookings::BOOKING_STATES;
/// Registration states allowed by the database, for the domain's consistency test.
pub const REGISTRATION_STATES_FOR_CODE: &[&str] =
    m20261123_000004_registration::REGISTRATION_STATES;
/// Group states allowed by the database, for the domain's consistency test.
pub const GROUP_STATES_FOR_CODE: &[&str] = m20261123_000006_groups::GROUP_STATES;
