//! Use cases: each takes a connection or transaction, applies the domain rules, and reads or writes
//! through the entities. Handlers call exactly one of these.

pub mod account;
pub mod audit;
pub mod availability;
pub mod bookings;
pub mod cancellations;
pub mod card_keys;
pub mod cards;
pub mod checkins;
pub mod document_store;
pub mod documents;
pub mod facilities;
pub mod groups;
pub mod holidays;
pub mod job_leases;
pub mod lottery;
pub mod mail;
pub mod payments;
pub mod penalties;
pub mod prices;
pub mod registration;
pub mod renewal;
pub mod review;
pub mod seed;
pub mod sessions;
pub mod slots;
pub mod staff_scope;
