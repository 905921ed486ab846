//! Request and response types of the JSON API (serde + OpenAPI schemas), built from entities.

pub mod account;
pub mod availability;
pub mod booking;
pub mod cards;
pub mod console_calendar;
pub mod console_counter;
pub mod csv;
pub mod documents;
pub mod facility;
pub mod group;
pub mod lottery;
pub mod opendata;
pub mod password_reset;
pub mod payment;
pub mod registration;
pub mod reports;
pub mod review;
pub mod session;

use serde::Serialize;
use utoipa::ToSchema;

/// A page of results with the total number that matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub items: Vec<T>,
    /// Matches in all, across pages.
    pub total: u64,
}
