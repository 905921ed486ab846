//! sea-orm entities: the shape of each table, nothing more. Rules live in `domain`, writes in
//! `services`.

pub mod app_secret;
pub mod audit_log;
pub mod booking;
pub mod booking_event;
pub mod booking_slot;
pub mod city;
pub mod closure;
pub mod equipment;
pub mod facility;
pub mod fee_policy;
pub mod fee_reduction;
pub mod group_booking;
pub mod group_member;
pub mod group_registration;
pub mod idempotency_key;
pub mod identity_document;
pub mod mail_outbox;
pub mod public_holiday;
pub mod refresh_token;
pub mod registration_reminder;
pub mod regular_closing_day;
pub mod room;
pub mod room_price;
pub mod room_unit;
pub mod room_unit_coverage;
pub mod slot;
pub mod slot_claim;
pub mod slot_template;
pub mod slot_template_period;
pub mod staff_assignment;
pub mod user;
pub mod ward;
