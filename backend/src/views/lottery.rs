//! Request and response types of the lottery (抽選) API.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::lottery::{RoundPhase, RoundState};

/// A lottery round as everyone may see it. The seed appears only once the round is drawn.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoundResponse {
    pub id: i32,
    pub name: String,
    /// The first day of the month of use.
    #[schema(value_type = String, format = Date)]
    pub month_of_use: NaiveDate,
    pub room_ids: Vec<i32>,
    #[schema(value_type = String, format = DateTime)]
    pub applications_open_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub applications_close_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub draw_at: DateTime<FixedOffset>,
    /// Winners confirm by this instant.
    #[schema(value_type = String, format = DateTime)]
    pub confirm_by: DateTime<FixedOffset>,
    /// First-come booking of the round's rooms and month opens at this instant.
    #[schema(value_type = String, format = DateTime)]
    pub first_come_opens_at: DateTime<FixedOffset>,
    pub state: RoundState,
    /// Where the round is now: upcoming, open, closed, drawn or settled.
    pub phase: RoundPhase,
    pub max_wishes: i16,
    pub max_wins_per_applicant: i16,
    /// SHA-256 of the secret seed (hex), published from the round's creation.
    pub commitment: String,
    /// The seed (hex), revealed by the draw.
    pub seed: Option<String>,
    pub algorithm: String,
    pub algorithm_version: i32,
}

/// `POST /lottery/rounds/{id}/applications`: create or replace the applicant's application.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// Slot ids in order of preference, the first wish first (at most the round's `max_wishes`).
    pub wishes: Vec<i64>,
    /// What the room is for; used for the booking when a win is confirmed.
    pub purpose: String,
    pub attendees: i32,
    /// Apply for this registered group (the representative only); required for group-only rooms.
    #[serde(default)]
    pub group_id: Option<i32>,
}

/// `POST /lottery/rounds/{id}/applications/withdraw`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Withdraw the group's application rather than your own.
    #[serde(default)]
    pub group_id: Option<i32>,
}

/// A wish of an application.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WishResponse {
    pub rank: i16,
    pub slot_id: i64,
    pub room_id: i32,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: DateTime<FixedOffset>,
}

/// A win and what became of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WinResponse {
    pub id: i64,
    pub rank: i16,
    pub slot_id: i64,
    /// `won` (confirm by the round's `confirm_by`), `confirmed` or `lapsed`.
    pub state: String,
    pub booking_id: Option<i64>,
}

/// An application, its wishes, and after the draw its pseudonym and wins.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationResponse {
    pub id: i64,
    pub round_id: i32,
    pub group_id: Option<i32>,
    /// `submitted` or `withdrawn`.
    pub state: String,
    /// 0: residents and registered groups; 1: others (drawn after tier 0).
    pub tier: i16,
    pub purpose: String,
    pub attendees: i32,
    pub wishes: Vec<WishResponse>,
    /// The name the application is published under in the results (after the draw).
    pub pseudonym: Option<String>,
    pub wins: Vec<WinResponse>,
}

/// `GET /me/lottery`: my applications (and my groups') with the rounds they are in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyLotteryResponse {
    pub applications: Vec<ApplicationResponse>,
    pub rounds: Vec<RoundResponse>,
}

/// `POST /admin/lottery/rounds`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoundRequest {
    pub name: String,
    /// Any day of the month of use.
    #[schema(value_type = String, format = Date)]
    pub month_of_use: NaiveDate,
    /// Rooms that use the lottery (`uses_lottery`).
    pub room_ids: Vec<i32>,
    #[schema(value_type = String, format = DateTime)]
    pub applications_open_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub applications_close_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub draw_at: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub confirm_by: DateTime<FixedOffset>,
    #[schema(value_type = String, format = DateTime)]
    pub first_come_opens_at: DateTime<FixedOffset>,
    /// Default: the configuration's `lottery.max_wishes`.
    #[serde(default)]
    pub max_wishes: Option<i16>,
    /// Default: the configuration's `lottery.max_wins_per_applicant`.
    #[serde(default)]
    pub max_wins_per_applicant: Option<i16>,
}

/// `POST /admin/lottery/calendar`: the round of a month by the configured calendar.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRoundRequest {
    /// Any day of the month of use.
    #[schema(value_type = String, format = Date)]
    pub month_of_use: NaiveDate,
}

/// What a draw did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DrawResponse {
    pub round: RoundResponse,
    pub applications: usize,
    pub winners: usize,
}
