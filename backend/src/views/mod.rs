//! Request and response types of the JSON API (serde + OpenAPI schemas), built from entities.

pub mod account;
pub mod availability;
pub mod booking;
pub mod cards;
pub mod documents;
pub mod facility;
pub mod group;
pub mod lottery;
pub mod payment;
pub mod registration;
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
