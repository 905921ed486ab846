//! Group (団体) requests and responses.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /groups`: a representative starts a group.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    /// The group's name, e.g. 港北バドミントンクラブ (1–100 characters).
    pub name: String,
    /// The name in kana (ひらがな or カタカナ).
    pub name_kana: String,
    /// What the group does, e.g. バドミントン (1–200 characters).
    pub activity: String,
}

/// `POST /groups/{id}/members`: add a registered person, found by the card number on their card
/// and their date of birth (both must match, so a number alone adds no one).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// The person's 10-digit card number (利用者番号).
    pub card_number: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
}

/// A member as the representative sees them: enough to check the rules, no more (no date of
/// birth, no address).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupMemberView {
    pub user_id: i32,
    pub name: String,
    pub card_number: Option<String>,
    pub is_representative: bool,
    /// Counts toward the members a group needs (16 or older today).
    pub counts_toward_minimum: bool,
    /// Lives, works or studies in the city.
    pub in_city: bool,
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: DateTime<FixedOffset>,
}

/// A group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupResponse {
    pub id: i32,
    pub name: String,
    pub name_kana: String,
    pub activity: String,
    /// `forming` (cannot book yet), `registered` or `dissolved`.
    pub state: String,
    pub representative_name: String,
    /// True when the signed-in person is the representative.
    pub you_are_representative: bool,
    pub member_count: usize,
    /// The members; only the representative sees them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<GroupMemberView>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub registered_at: Option<DateTime<FixedOffset>>,
    /// The last day the registration is valid.
    pub valid_until: Option<NaiveDate>,
    /// The code of the fee reduction (減免) the city granted the group, if any.
    pub fee_reduction: Option<String>,
}
