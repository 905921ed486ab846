//! Reading the city's catalogue: wards, facilities (filtered by ward, kind and free text) and rooms.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::domain::calendar::tokyo_date;
use crate::domain::kinds::FacilityKind;
use crate::domain::search::fold;
use crate::entities::{
    equipment, facility, regular_closing_day, room, room_price, slot_template, ward,
};
use crate::views::facility::{FacilityResponse, FacilitySummary, RoomResponse, WardResponse};

/// Why a catalogue read failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("no ward is called `{0}`")]
    UnknownWard(String),
    #[error("the search text is longer than {max} characters")]
    QueryTooLong { max: usize },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The longest free-text query we accept.
pub const MAX_QUERY_CHARS: usize = 100;

/// Validated facility filters.
#[derive(Debug, Default, Clone)]
pub struct FacilityFilter {
    pub ward: Option<String>,
    pub kind: Option<FacilityKind>,
    pub text: Option<String>,
    pub page: u64,
    pub per_page: u64,
}

/// Every ward, in code order.
pub async fn list_wards(db: &impl ConnectionTrait) -> Result<Vec<WardResponse>, CatalogError> {
    let wards = ward::Entity::find()
        .order_by_asc(ward::Column::Code)
        .all(db)
        .await?;
    Ok(wards.into_iter().map(Into::into).collect())
}

/// Find a ward by code (any width of digits), English name (with or without `-ku`), Japanese
/// name (with or without 区), or kana (with or without く).
pub async fn find_ward(db: &impl ConnectionTrait, key: &str) -> Result<ward::Model, CatalogError> {
    let wanted = fold(key.trim());
    let wanted_en = wanted
        .trim_end_matches("-ku")
        .trim_end_matches(" ku")
        .trim_end_matches(" ward");
    let wards = ward::Entity::find().all(db).await?;
    wards
        .into_iter()
        .find(|w| {
            let (name, kana) = (fold(&w.name), fold(&w.name_kana));
            w.code == wanted
                || fold(&w.name_en) == wanted_en
                || name == wanted
                || name.trim_end_matches('区') == wanted
                || kana == wanted
                || kana.trim_end_matches('く') == wanted
        })
        .ok_or_else(|| CatalogError::UnknownWard(key.trim().to_owned()))
}

/// Facilities matching `filter`, one page of them, with the total count.
pub async fn list_facilities(
    db: &impl ConnectionTrait,
    filter: &FacilityFilter,
) -> Result<(Vec<FacilitySummary>, u64), CatalogError> {
    if filter
        .text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_QUERY_CHARS)
    {
        return Err(CatalogError::QueryTooLong {
            max: MAX_QUERY_CHARS,
        });
    }
    let condition = facility_condition(filter, db).await?;
    let query = facility::Entity::find()
        .filter(condition.clone())
        .find_also_related(ward::Entity)
        .order_by_asc(ward::Column::Code)
        .order_by_asc(facility::Column::NameKana)
        .order_by_asc(facility::Column::Id);
    let total = facility::Entity::find().filter(condition).count(db).await?;
    let rows = query
        .offset((Ord::max(filter.page, 1) - 1) * filter.per_page)
        .limit(filter.per_page)
        .all(db)
        .await?;
    let items = rows
        .into_iter()
        .filter_map(|(f, w)| w.map(|w| FacilitySummary::new(f, w.into())))
        .collect();
    Ok((items, total))
}

/// The WHERE clause of a facility filter; every free-text word must match `search_text`.
async fn facility_condition(
    filter: &FacilityFilter,
    db: &impl ConnectionTrait,
) -> Result<Condition, CatalogError> {
    let mut condition = Condition::all();
    if let Some(key) = &filter.ward {
        condition = condition.add(facility::Column::WardId.eq(find_ward(db, key).await?.id));
    }
    if let Some(kind) = filter.kind {
        condition = condition.add(facility::Column::Kind.eq(kind.code()));
    }
    if let Some(text) = &filter.text {
        for word in fold(text).split(' ').filter(|w| !w.is_empty()) {
            let pattern = format!("%{}%", escape_like(word));
            condition = condition.add(
                Expr::col(facility::Column::SearchText).like(LikeExpr::new(pattern).escape('\\')),
            );
        }
    }
    Ok(condition)
}

fn escape_like(word: &str) -> String {
    word.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One facility with its ward, closing days and room count.
pub async fn get_facility(
    db: &impl ConnectionTrait,
    id: i32,
) -> Result<FacilityResponse, CatalogError> {
    let (f, w) = facility::Entity::find_by_id(id)
        .find_also_related(ward::Entity)
        .one(db)
        .await?
        .ok_or(CatalogError::NotFound("facility"))?;
    let w = w.ok_or(CatalogError::NotFound("ward"))?;
    let closing_days = regular_closing_day::Entity::find()
        .filter(regular_closing_day::Column::FacilityId.eq(id))
        .order_by_asc(regular_closing_day::Column::Weekday)
        .all(db)
        .await?;
    let room_count = room::Entity::find()
        .filter(room::Column::FacilityId.eq(id))
        .count(db)
        .await?;
    Ok(FacilityResponse::new(f, w.into(), closing_days, room_count))
}

/// Every bookable room of a facility: wholes first, each followed by its halves.
pub async fn list_rooms(
    db: &impl ConnectionTrait,
    facility_id: i32,
) -> Result<Vec<RoomResponse>, CatalogError> {
    if facility::Entity::find_by_id(facility_id)
        .one(db)
        .await?
        .is_none()
    {
        return Err(CatalogError::NotFound("facility"));
    }
    let rooms = room::Entity::find()
        .filter(room::Column::FacilityId.eq(facility_id))
        .order_by_asc(room::Column::Id)
        .all(db)
        .await?;
    let mut ordered = Vec::with_capacity(rooms.len());
    for whole in rooms.iter().filter(|r| r.parent_room_id.is_none()) {
        ordered.push(whole.clone());
        ordered.extend(
            rooms
                .iter()
                .filter(|r| r.parent_room_id == Some(whole.id))
                .cloned(),
        );
    }
    describe_rooms(db, ordered).await
}

/// One room.
pub async fn get_room(db: &impl ConnectionTrait, id: i32) -> Result<RoomResponse, CatalogError> {
    let room = room::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(CatalogError::NotFound("room"))?;
    let mut described = describe_rooms(db, vec![room]).await?;
    described.pop().ok_or(CatalogError::NotFound("room"))
}

/// Attach halves, template, equipment and current prices to rooms, in four queries in all.
async fn describe_rooms(
    db: &impl ConnectionTrait,
    rooms: Vec<room::Model>,
) -> Result<Vec<RoomResponse>, CatalogError> {
    let ids: Vec<i32> = rooms.iter().map(|r| r.id).collect();
    // Equipment is rented with the physical room: a half shows its whole's equipment.
    let owner_ids: Vec<i32> = rooms
        .iter()
        .map(|r| r.parent_room_id.unwrap_or(r.id))
        .collect();
    let halves = room::Entity::find()
        .select_only()
        .column(room::Column::Id)
        .column(room::Column::ParentRoomId)
        .filter(room::Column::ParentRoomId.is_in(ids.clone()))
        .order_by_asc(room::Column::Id)
        .into_tuple::<(i32, Option<i32>)>()
        .all(db)
        .await?;
    let templates: HashMap<i32, slot_template::Model> = slot_template::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut equipment_of: HashMap<i32, Vec<equipment::Model>> = HashMap::new();
    for e in equipment::Entity::find()
        .filter(equipment::Column::RoomId.is_in(owner_ids))
        .order_by_asc(equipment::Column::Id)
        .all(db)
        .await?
    {
        equipment_of.entry(e.room_id).or_default().push(e);
    }
    let today = tokyo_date(Utc::now());
    let mut prices_of: HashMap<i32, Vec<room_price::Model>> = HashMap::new();
    for p in room_price::Entity::find()
        .filter(room_price::Column::RoomId.is_in(ids))
        .order_by_asc(room_price::Column::Band)
        .order_by_asc(room_price::Column::EffectiveFrom)
        .all(db)
        .await?
    {
        prices_of.entry(p.room_id).or_default().push(p);
    }
    Ok(rooms
        .into_iter()
        .map(|r| {
            let half_ids = halves
                .iter()
                .filter(|(_, parent)| *parent == Some(r.id))
                .map(|(id, _)| *id)
                .collect();
            let template = templates.get(&r.slot_template_id).cloned();
            let equipment = equipment_of
                .get(&r.parent_room_id.unwrap_or(r.id))
                .cloned()
                .unwrap_or_default();
            let prices = current_prices(prices_of.remove(&r.id).unwrap_or_default(), today);
            RoomResponse::new(r, half_ids, template, equipment, prices)
        })
        .collect())
}

/// The price in force today for each band: the latest `effective_from` not after today.
fn current_prices(
    sorted_by_band_then_date: Vec<room_price::Model>,
    today: NaiveDate,
) -> Vec<room_price::Model> {
    let mut current: Vec<room_price::Model> = Vec::new();
    for price in sorted_by_band_then_date
        .into_iter()
        .filter(|p| p.effective_from <= today)
    {
        match current.last_mut() {
            Some(last) if last.band == price.band => *last = price,
            _ => current.push(price),
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(band: &str, from: &str, yen: i32) -> room_price::Model {
        room_price::Model {
            id: 0,
            room_id: 1,
            band: band.into(),
            amount_yen: yen,
            effective_from: from.parse().unwrap(),
        }
    }

    #[test]
    fn the_latest_price_not_in_the_future_is_current() {
        let today: NaiveDate = "2026-11-23".parse().unwrap();
        let prices = vec![
            price("day", "2024-04-01", 1000),
            price("day", "2026-04-01", 1200),
            price("day", "2027-04-01", 1500),
            price("night", "2024-04-01", 2000),
        ];
        let current: Vec<_> = current_prices(prices, today)
            .into_iter()
            .map(|p| (p.band, p.amount_yen))
            .collect();
        assert_eq!(current, vec![("day".into(), 1200), ("night".into(), 2000)]);
    }

    #[test]
    fn like_wildcards_in_a_query_are_taken_literally() {
        assert_eq!(escape_like("50%_off"), "50\\%\\_off");
    }
}
