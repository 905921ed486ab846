//! What the signed-in person sees of their own account on the "my account" page: the
//! registration's state and expiry, the card number, the contact details renewal asks them to
//! confirm, and when renewal opens (the rules are `domain::renewal`'s).

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::domain::calendar::tokyo_date;
use crate::domain::renewal::{self, RenewalDecision, RenewalRules};
use crate::entities::user;

/// The person's own registration, for their account page.
#[derive(Debug, Clone)]
pub struct AccountOverview {
    pub email: String,
    pub name: String,
    /// `email_unverified`, `pending_review`, `approved`, `rejected` or `expired`.
    pub registration_state: String,
    pub card_number: Option<String>,
    pub valid_until: Option<NaiveDate>,
    pub residency: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    /// What renewing today would do, when the registration has an expiry and can be renewed.
    pub renewal: Option<RenewalDecision>,
}

/// The overview of `user_id`'s account; `None` for an account that does not exist any more.
pub async fn overview(
    db: &impl ConnectionTrait,
    rules: &RenewalRules,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<Option<AccountOverview>, DbErr> {
    let Some(person) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    if person.deleted_at.is_some() {
        return Ok(None);
    }
    let renewable = matches!(person.registration_state.as_str(), "approved" | "expired");
    let renewal = person
        .registration_valid_until
        .filter(|_| renewable && person.role == "resident")
        .map(|until| renewal::decide(until, tokyo_date(now), rules));
    Ok(Some(AccountOverview {
        email: person.email,
        name: person.display_name,
        registration_state: person.registration_state,
        card_number: person.card_number,
        valid_until: person.registration_valid_until,
        residency: person.residency,
        postal_code: person.postal_code.unwrap_or_default(),
        address: person.address.unwrap_or_default(),
        phone: person.phone.unwrap_or_default(),
        renewal,
    }))
}
