//! Public holidays as the rules need them: the set of dates in a range.

use std::collections::HashSet;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entities::public_holiday;

/// The public holidays from `from` to `to` inclusive.
pub async fn between(
    db: &impl ConnectionTrait,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashSet<NaiveDate>, DbErr> {
    Ok(public_holiday::Entity::find()
        .filter(public_holiday::Column::Date.between(from, to))
        .all(db)
        .await?
        .into_iter()
        .map(|h| h.date)
        .collect())
}
