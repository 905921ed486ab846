//! The prices in force on a date: each room's fee per band (the latest `effective_from` not after
//! the date), the city's fee policy, and whether the date is a holiday. Loaded once for a set of
//! rooms and a range of dates, then asked per slot; used for slot listings and for booking.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::calendar::DayType;
use crate::domain::pricing::{self, FeePolicy, Purpose, QuoteRequest, QuoteSlot, Residency};
use crate::entities::{fee_policy, room_price, slot};

/// Room prices, fee policies and holidays for some rooms and dates.
pub struct PriceBook {
    /// Per room: (band, effective_from, yen), oldest first.
    rooms: HashMap<i32, Vec<(String, NaiveDate, i32)>>,
    /// Oldest first.
    policies: Vec<fee_policy::Model>,
    holidays: HashSet<NaiveDate>,
}

impl PriceBook {
    /// Load what pricing `room_ids` between `from` and `to` needs.
    pub async fn load(
        db: &impl ConnectionTrait,
        room_ids: Vec<i32>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<PriceBook, DbErr> {
        let mut rooms: HashMap<i32, Vec<(String, NaiveDate, i32)>> = HashMap::new();
        for p in room_price::Entity::find()
            .filter(room_price::Column::RoomId.is_in(room_ids))
            .order_by_asc(room_price::Column::EffectiveFrom)
            .all(db)
            .await?
        {
            rooms
                .entry(p.room_id)
                .or_default()
                .push((p.band, p.effective_from, p.amount_yen));
        }
        let policies = fee_policy::Entity::find()
            .order_by_asc(fee_policy::Column::EffectiveFrom)
            .all(db)
            .await?;
        let holidays = crate::services::holidays::between(db, from, to).await?;
        Ok(PriceBook {
            rooms,
            policies,
            holidays,
        })
    }

    /// The slot as pricing sees it: its band, kind of day, and the room's base fee then; `None`
    /// when the room has no price for the band on that date (a data error a manager must fix).
    pub fn quote_slot(&self, slot: &slot::Model) -> Option<QuoteSlot> {
        let date = slot.service_date;
        let base = self
            .rooms
            .get(&slot.room_id)?
            .iter()
            .rfind(|(band, from, _)| *band == slot.band && *from <= date)
            .map(|(_, _, yen)| *yen)?;
        Some(QuoteSlot {
            band: slot.band.clone(),
            day_type: DayType::of(date, self.holidays.contains(&date)),
            base_fee_yen: base,
        })
    }

    /// The fee policy in force on `date`.
    pub fn policy_on(&self, date: NaiveDate) -> Option<FeePolicy> {
        self.policies
            .iter()
            .rfind(|p| p.effective_from <= date)
            .map(|p| FeePolicy {
                non_resident_percent: p.non_resident_percent,
                weekend_holiday_percent: p.weekend_holiday_percent,
                admission_event_percent: p.admission_event_percent,
                commercial_percent: p.commercial_percent,
            })
    }

    /// What a resident pays for `slot` for ordinary use.
    pub fn resident_price(&self, slot: &slot::Model) -> Option<i64> {
        let request = QuoteRequest {
            slots: vec![self.quote_slot(slot)?],
            policy: self.policy_on(slot.service_date)?,
            residency: Residency::Resident,
            purpose: Purpose::Ordinary,
            reduction: None,
            equipment: Vec::new(),
        };
        pricing::quote(&request).ok().map(|q| q.total_yen)
    }
}
