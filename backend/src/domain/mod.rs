//! Pure rules of the city's reservation business: no I/O, unit-tested beside the code.

pub mod booking;
pub mod calendar;
pub mod card;
pub mod card_token;
pub mod checkin;
pub mod documents;
pub mod groups;
pub mod kinds;
pub mod lottery;
pub mod payments;
pub mod penalties;
pub mod pricing;
pub mod registration;
pub mod renewal;
pub mod roles;
pub mod search;
pub mod slotgen;
