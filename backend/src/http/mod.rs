//! The HTTP edge: handlers (one module per resource), the one error type, and extractors that turn
//! bad input into a 400 naming the field.

pub mod account;
pub mod auth;
pub mod availability;
pub mod bookings;
pub mod cards;
pub mod console;
pub mod documents;
pub mod error;
pub mod extract;
pub mod facilities;
pub mod groups;
pub mod health;
pub mod lottery;
pub mod metrics;
pub mod openapi;
pub mod overload;
pub mod password_reset;
pub mod payments;
pub mod registration;
pub mod review;
pub mod web;
pub mod web_session;
