//! Pure rules of the city's reservation business: no I/O, unit-tested beside the code.

pub mod booking;
pub mod calendar;
pub mod card;
pub mod card_token;
pub mod checkin;
pub mod console_calendar;
pub mod counter;
pub mod documents;
pub mod groups;
pub mod ical;
pub mod kinds;
pub mod local_government_code;
pub mod lottery;
pub mod opendata;
pub mod payments;
pub mod penalties;
pub mod pricing;
pub mod registration;
pub mod renewal;
pub mod reports;
pub mod roles;
pub mod rule_history;
pub mod search;
pub mod slotgen;
