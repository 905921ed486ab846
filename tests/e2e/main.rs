//! End-to-end tests over real HTTP, one test binary. Run on SQLite by default and on PostgreSQL
//! with `TEST_DATABASE_URL` (see README).

mod account_lifecycle;
mod auth;
mod authorization;
mod availability;
mod bad_input;
mod bench;
mod bookings;
mod card_pages;
mod cards;
mod catalogue;
mod console_calendar;
mod console_counter;
mod console_reports;
mod console_settings;
mod deploy;
mod documents;
mod fixtures;
mod groups;
mod lottery;
mod mail;
mod migrations;
mod operations;
mod password_reset;
mod payments;
mod registration;
mod resident_pages;
mod slots;
mod web_pages;
mod web_session;
