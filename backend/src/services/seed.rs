//! Loading a city's fixture into the database: idempotent (loading twice leaves the same rows),
//! in one transaction (a failure leaves nothing half-loaded), keyed by each row's natural code.

pub mod fixture;

use std::collections::HashMap;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter,
};

use crate::db::begin_write;
use crate::domain::calendar::{parse_minute_of_day, parse_weekday};
use crate::domain::search::fold;
use crate::entities::{
    city, equipment, facility, fee_policy, fee_reduction, public_holiday, regular_closing_day,
    room, room_price, room_unit, room_unit_coverage, slot_template, slot_template_period,
    staff_assignment, user, ward,
};
pub use fixture::{CityFixture, FixtureError};
use fixture::{FacilityDef, RoomDef, parse_month_day};

/// What to load besides the city's data.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Also create the demo accounts (demo mode only).
    pub demo_users: bool,
    /// Their password.
    pub demo_password: String,
}

/// Counts of what the fixture holds, after loading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub wards: usize,
    pub facilities: usize,
    pub rooms: usize,
    pub halves: usize,
    pub holidays: usize,
    pub demo_users: usize,
}

/// Seeding failed: the fixture is wrong, or the database refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("hashing the demo password: {0}")]
    Hash(String),
}

/// Whether the database holds no city yet (the signal to seed the demo city on first start).
pub async fn is_empty(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(facility::Entity::find().count(db).await? == 0)
}

/// Load `fixture` into the database.
pub async fn load_city(
    db: &DatabaseConnection,
    fixture: &CityFixture,
    options: &SeedOptions,
) -> Result<SeedReport, SeedError> {
    // Hash outside the transaction: it is deliberately slow CPU work.
    let password_hash = if options.demo_users {
        Some(hash_password(&options.demo_password)?)
    } else {
        None
    };
    let txn = begin_write(db).await?;
    upsert_city(&txn, fixture).await?;
    let ward_ids = upsert_wards(&txn, fixture).await?;
    let template_ids = upsert_templates(&txn, fixture).await?;
    let mut facility_ids = HashMap::new();
    for def in &fixture.facilities {
        let id = upsert_facility(&txn, def, &ward_ids, fixture).await?;
        facility_ids.insert(def.code.as_str(), id);
        for room_def in &def.rooms {
            upsert_room_family(&txn, id, room_def, &template_ids, fixture).await?;
        }
    }
    upsert_holidays(&txn, fixture).await?;
    upsert_fees(&txn, fixture).await?;
    if let Some(hash) = &password_hash {
        upsert_demo_users(&txn, fixture, hash, &facility_ids).await?;
        upsert_demo_groups(&txn, fixture).await?;
    }
    txn.commit().await?;
    let (rooms, halves) = fixture.room_counts();
    Ok(SeedReport {
        wards: fixture.city.wards.len(),
        facilities: fixture.facilities.len(),
        rooms,
        halves,
        holidays: fixture.holidays.len(),
        demo_users: if options.demo_users {
            fixture.demo_users.len()
        } else {
            0
        },
    })
}

/// Hash a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, SeedError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| SeedError::Hash(e.to_string()))
}

async fn upsert_city(db: &impl ConnectionTrait, fixture: &CityFixture) -> Result<(), DbErr> {
    let c = &fixture.city.city;
    city::Entity::insert(city::ActiveModel {
        id: NotSet,
        code: Set(c.code.clone()),
        name: Set(c.name.clone()),
        name_kana: Set(c.name_kana.clone()),
        name_en: Set(c.name_en.clone()),
        prefecture: Set(c.prefecture.clone()),
        prefecture_en: Set(c.prefecture_en.clone()),
    })
    .on_conflict(
        OnConflict::column(city::Column::Code)
            .update_columns([
                city::Column::Name,
                city::Column::NameKana,
                city::Column::NameEn,
                city::Column::Prefecture,
                city::Column::PrefectureEn,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

async fn upsert_wards(
    db: &impl ConnectionTrait,
    fixture: &CityFixture,
) -> Result<HashMap<String, (i32, String)>, DbErr> {
    let mut ids = HashMap::new();
    for w in &fixture.city.wards {
        let model = ward::Entity::insert(ward::ActiveModel {
            id: NotSet,
            code: Set(w.code.clone()),
            name: Set(w.name.clone()),
            name_kana: Set(w.name_kana.clone()),
            name_en: Set(w.name_en.clone()),
        })
        .on_conflict(
            OnConflict::column(ward::Column::Code)
                .update_columns([
                    ward::Column::Name,
                    ward::Column::NameKana,
                    ward::Column::NameEn,
                ])
                .to_owned(),
        )
        .exec_with_returning(db)
        .await?;
        let folded = fold(&format!("{} {} {}", w.name, w.name_kana, w.name_en));
        ids.insert(w.code.clone(), (model.id, folded));
    }
    Ok(ids)
}

async fn upsert_templates(
    db: &impl ConnectionTrait,
    fixture: &CityFixture,
) -> Result<HashMap<String, i32>, DbErr> {
    let mut ids = HashMap::new();
    for t in &fixture.templates {
        let model = slot_template::Entity::insert(slot_template::ActiveModel {
            id: NotSet,
            code: Set(t.code.clone()),
            name: Set(t.name.clone()),
            name_en: Set(t.name_en.clone()),
        })
        .on_conflict(
            OnConflict::column(slot_template::Column::Code)
                .update_columns([slot_template::Column::Name, slot_template::Column::NameEn])
                .to_owned(),
        )
        .exec_with_returning(db)
        .await?;
        // Periods have no natural key: replace them as a set.
        slot_template_period::Entity::delete_many()
            .filter(slot_template_period::Column::TemplateId.eq(model.id))
            .exec(db)
            .await?;
        let periods = t.periods.iter().map(|p| slot_template_period::ActiveModel {
            id: NotSet,
            template_id: Set(model.id),
            // Validated by CityFixture::validate.
            season_from_md: Set(parse_month_day(&p.season_from).unwrap_or(101)),
            season_to_md: Set(parse_month_day(&p.season_to).unwrap_or(1231)),
            day_type: Set(p.day_type.clone()),
            starts_minute: Set(parse_minute_of_day(&p.starts).unwrap_or_default()),
            ends_minute: Set(parse_minute_of_day(&p.ends).unwrap_or_default()),
            band: Set(p.band.clone()),
            lighting: Set(p.lighting),
        });
        slot_template_period::Entity::insert_many(periods)
            .exec_without_returning(db)
            .await?;
        ids.insert(t.code.clone(), model.id);
    }
    Ok(ids)
}

async fn upsert_facility(
    db: &impl ConnectionTrait,
    def: &FacilityDef,
    wards: &HashMap<String, (i32, String)>,
    _fixture: &CityFixture,
) -> Result<i32, DbErr> {
    let (ward_id, ward_text) = wards
        .get(&def.ward)
        .cloned()
        .ok_or_else(|| DbErr::Custom(format!("ward {} missing", def.ward)))?;
    let search_text = format!(
        "{} {} {} {} {} {}",
        fold(&def.name),
        fold(&def.name_kana),
        fold(&def.name_en),
        fold(&def.address),
        fold(&def.address_en),
        ward_text
    );
    let model = facility::ActiveModel {
        id: NotSet,
        code: Set(def.code.clone()),
        ward_id: Set(ward_id),
        name: Set(def.name.clone()),
        name_kana: Set(def.name_kana.clone()),
        name_en: Set(def.name_en.clone()),
        kind: Set(def.kind.code().to_owned()),
        postal_code: Set(def.postal_code.clone()),
        address: Set(def.address.clone()),
        address_en: Set(def.address_en.clone()),
        latitude: Set(def.latitude),
        longitude: Set(def.longitude),
        phone: Set(def.phone.clone()),
        opens_minute: Set(parse_minute_of_day(&def.opens).unwrap_or(540)),
        closes_minute: Set(parse_minute_of_day(&def.closes).unwrap_or(1290)),
        closes_on_holidays: Set(def.closes_on_holidays),
        year_end_closure: Set(def.year_end_closure),
        barrier_free_ja: Set(serde_json::json!(def.barrier_free_ja)),
        barrier_free_en: Set(serde_json::json!(def.barrier_free_en)),
        description_ja: Set(def.description_ja.clone()),
        description_en: Set(def.description_en.clone()),
        search_text: Set(search_text),
    };
    let model = facility::Entity::insert(model)
        .on_conflict(
            OnConflict::column(facility::Column::Code)
                .update_columns([
                    facility::Column::WardId,
                    facility::Column::Name,
                    facility::Column::NameKana,
                    facility::Column::NameEn,
                    facility::Column::Kind,
                    facility::Column::PostalCode,
                    facility::Column::Address,
                    facility::Column::AddressEn,
                    facility::Column::Latitude,
                    facility::Column::Longitude,
                    facility::Column::Phone,
                    facility::Column::OpensMinute,
                    facility::Column::ClosesMinute,
                    facility::Column::ClosesOnHolidays,
                    facility::Column::YearEndClosure,
                    facility::Column::BarrierFreeJa,
                    facility::Column::BarrierFreeEn,
                    facility::Column::DescriptionJa,
                    facility::Column::DescriptionEn,
                    facility::Column::SearchText,
                ])
                .to_owned(),
        )
        .exec_with_returning(db)
        .await?;
    regular_closing_day::Entity::delete_many()
        .filter(regular_closing_day::Column::FacilityId.eq(model.id))
        .exec(db)
        .await?;
    let rules: Vec<_> = def
        .closing_days
        .iter()
        .filter_map(|d| {
            let weekday = parse_weekday(&d.weekday)?;
            Some(regular_closing_day::ActiveModel {
                id: NotSet,
                facility_id: Set(model.id),
                weekday: Set(weekday.number_from_monday() as i16),
                nth_of_month: Set(d.nth.map(i16::from)),
            })
        })
        .collect();
    if !rules.is_empty() {
        regular_closing_day::Entity::insert_many(rules)
            .exec_without_returning(db)
            .await?;
    }
    Ok(model.id)
}

/// A room with its halves (if divisible), units, coverage, equipment and prices.
async fn upsert_room_family(
    db: &impl ConnectionTrait,
    facility_id: i32,
    def: &RoomDef,
    templates: &HashMap<String, i32>,
    fixture: &CityFixture,
) -> Result<(), DbErr> {
    let template_id = *templates
        .get(&def.template)
        .ok_or_else(|| DbErr::Custom(format!("template {} missing", def.template)))?;
    let whole = upsert_room(
        db,
        room::ActiveModel {
            id: NotSet,
            facility_id: Set(facility_id),
            parent_room_id: Set(None),
            code: Set(def.code.clone()),
            name: Set(def.name.clone()),
            name_kana: Set(def.name_kana.clone()),
            name_en: Set(def.name_en.clone()),
            kind: Set(def.kind.code().to_owned()),
            capacity: Set(def.capacity),
            area_m2: Set(def.area_m2),
            slot_template_id: Set(template_id),
            uses_lottery: Set(def.lottery),
            requires_group: Set(def.requires_group),
        },
    )
    .await?;
    let effective_from = fixture.fees.policy.effective_from;
    upsert_prices(db, whole, &def.fees, effective_from).await?;
    for e in &def.equipment {
        equipment::Entity::insert(equipment::ActiveModel {
            id: NotSet,
            room_id: Set(whole),
            code: Set(e.code.clone()),
            name: Set(e.name.clone()),
            name_en: Set(e.name_en.clone()),
            fee_yen: Set(e.fee_yen),
            quantity: Set(e.quantity),
        })
        .on_conflict(
            OnConflict::columns([equipment::Column::RoomId, equipment::Column::Code])
                .update_columns([
                    equipment::Column::Name,
                    equipment::Column::NameEn,
                    equipment::Column::FeeYen,
                    equipment::Column::Quantity,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    if def.halves.is_empty() {
        let unit = upsert_unit(db, whole, "whole").await?;
        cover(db, whole, unit).await?;
        return Ok(());
    }
    // A divisible room: one unit per half; the whole covers both, each half its own.
    for (half, unit_code) in def.halves.iter().zip(["a", "b"]) {
        let unit = upsert_unit(db, whole, unit_code).await?;
        cover(db, whole, unit).await?;
        let half_id = upsert_room(
            db,
            room::ActiveModel {
                id: NotSet,
                facility_id: Set(facility_id),
                parent_room_id: Set(Some(whole)),
                code: Set(half.code.clone()),
                name: Set(half.name.clone()),
                name_kana: Set(half.name_kana.clone()),
                name_en: Set(half.name_en.clone()),
                kind: Set(def.kind.code().to_owned()),
                capacity: Set(half.capacity),
                area_m2: Set(def.area_m2.map(|a| a / 2)),
                // Halves share the whole's grid so that their slots line up.
                slot_template_id: Set(template_id),
                uses_lottery: Set(def.lottery),
                requires_group: Set(def.requires_group),
            },
        )
        .await?;
        cover(db, half_id, unit).await?;
        upsert_prices(db, half_id, &half.fees, effective_from).await?;
    }
    Ok(())
}

async fn upsert_room(db: &impl ConnectionTrait, model: room::ActiveModel) -> Result<i32, DbErr> {
    let saved = room::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([room::Column::FacilityId, room::Column::Code])
                .update_columns([
                    room::Column::ParentRoomId,
                    room::Column::Name,
                    room::Column::NameKana,
                    room::Column::NameEn,
                    room::Column::Kind,
                    room::Column::Capacity,
                    room::Column::AreaM2,
                    room::Column::SlotTemplateId,
                    room::Column::UsesLottery,
                    room::Column::RequiresGroup,
                ])
                .to_owned(),
        )
        .exec_with_returning(db)
        .await?;
    Ok(saved.id)
}

async fn upsert_unit(db: &impl ConnectionTrait, room_id: i32, code: &str) -> Result<i32, DbErr> {
    let saved = room_unit::Entity::insert(room_unit::ActiveModel {
        id: NotSet,
        room_id: Set(room_id),
        code: Set(code.to_owned()),
    })
    .on_conflict(
        OnConflict::columns([room_unit::Column::RoomId, room_unit::Column::Code])
            .update_column(room_unit::Column::Code)
            .to_owned(),
    )
    .exec_with_returning(db)
    .await?;
    Ok(saved.id)
}

async fn cover(db: &impl ConnectionTrait, room_id: i32, unit_id: i32) -> Result<(), DbErr> {
    room_unit_coverage::Entity::insert(room_unit_coverage::ActiveModel {
        room_id: Set(room_id),
        unit_id: Set(unit_id),
    })
    .on_conflict(
        OnConflict::columns([
            room_unit_coverage::Column::RoomId,
            room_unit_coverage::Column::UnitId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

async fn upsert_prices(
    db: &impl ConnectionTrait,
    room_id: i32,
    fees: &HashMap<String, i32>,
    effective_from: chrono::NaiveDate,
) -> Result<(), DbErr> {
    for (band, amount) in fees {
        room_price::Entity::insert(room_price::ActiveModel {
            id: NotSet,
            room_id: Set(room_id),
            band: Set(band.clone()),
            amount_yen: Set(*amount),
            effective_from: Set(effective_from),
        })
        .on_conflict(
            OnConflict::columns([
                room_price::Column::RoomId,
                room_price::Column::Band,
                room_price::Column::EffectiveFrom,
            ])
            .update_column(room_price::Column::AmountYen)
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

async fn upsert_holidays(db: &impl ConnectionTrait, fixture: &CityFixture) -> Result<(), DbErr> {
    // Batches keep the statement under SQLite's bound-parameter limit.
    for chunk in fixture.holidays.chunks(200) {
        let rows = chunk.iter().map(|h| public_holiday::ActiveModel {
            date: Set(h.date),
            name: Set(h.name.clone()),
            name_en: Set(h.name_en.clone()),
        });
        public_holiday::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(public_holiday::Column::Date)
                    .update_columns([public_holiday::Column::Name, public_holiday::Column::NameEn])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

async fn upsert_fees(db: &impl ConnectionTrait, fixture: &CityFixture) -> Result<(), DbErr> {
    let p = &fixture.fees.policy;
    fee_policy::Entity::insert(fee_policy::ActiveModel {
        id: NotSet,
        effective_from: Set(p.effective_from),
        non_resident_percent: Set(p.non_resident_percent),
        weekend_holiday_percent: Set(p.weekend_holiday_percent),
        admission_event_percent: Set(p.admission_event_percent),
        commercial_percent: Set(p.commercial_percent),
    })
    .on_conflict(
        OnConflict::column(fee_policy::Column::EffectiveFrom)
            .update_columns([
                fee_policy::Column::NonResidentPercent,
                fee_policy::Column::WeekendHolidayPercent,
                fee_policy::Column::AdmissionEventPercent,
                fee_policy::Column::CommercialPercent,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    for r in &fixture.fees.reductions {
        fee_reduction::Entity::insert(fee_reduction::ActiveModel {
            id: NotSet,
            code: Set(r.code.clone()),
            name: Set(r.name.clone()),
            name_en: Set(r.name_en.clone()),
            percent_off: Set(r.percent_off),
        })
        .on_conflict(
            OnConflict::column(fee_reduction::Column::Code)
                .update_columns([
                    fee_reduction::Column::Name,
                    fee_reduction::Column::NameEn,
                    fee_reduction::Column::PercentOff,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Demo groups, registered, each with its representative and members. A group that exists
/// (same representative and name) is left as it is: seeding never resets what people changed.
async fn upsert_demo_groups(db: &impl ConnectionTrait, fixture: &CityFixture) -> Result<(), DbErr> {
    use crate::domain::groups::{GroupRules, GroupState, valid_until};
    use crate::entities::{group_member, group_registration};
    let now = Utc::now();
    for g in &fixture.demo_groups {
        let ids: HashMap<String, i32> = user::Entity::find()
            .filter(
                user::Column::Email.is_in(
                    std::iter::once(&g.representative)
                        .chain(&g.members)
                        .map(|e| e.to_lowercase()),
                ),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.email, u.id))
            .collect();
        let Some(&representative) = ids.get(&g.representative.to_lowercase()) else {
            continue;
        };
        let exists = group_registration::Entity::find()
            .filter(group_registration::Column::RepresentativeUserId.eq(representative))
            .filter(group_registration::Column::Name.eq(&g.name))
            .one(db)
            .await?
            .is_some();
        if exists {
            continue;
        }
        let group = group_registration::Entity::insert(group_registration::ActiveModel {
            name: Set(g.name.clone()),
            name_kana: Set(g.name_kana.clone()),
            activity: Set(g.activity.clone()),
            representative_user_id: Set(representative),
            state: Set(GroupState::Registered.code().to_owned()),
            fee_reduction_id: Set(None),
            created_at: Set(now),
            registered_at: Set(Some(now)),
            valid_until: Set(Some(valid_until(
                &GroupRules::default(),
                crate::domain::calendar::tokyo_date(now),
            ))),
            ..Default::default()
        })
        .exec_with_returning(db)
        .await?;
        let members = std::iter::once((&g.representative, true))
            .chain(g.members.iter().map(|m| (m, false)))
            .filter_map(|(email, is_representative)| {
                ids.get(&email.to_lowercase())
                    .map(|id| group_member::ActiveModel {
                        group_id: Set(group.id),
                        user_id: Set(*id),
                        is_representative: Set(is_representative),
                        joined_at: Set(now),
                    })
            });
        group_member::Entity::insert_many(members)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

async fn upsert_demo_users(
    db: &impl ConnectionTrait,
    fixture: &CityFixture,
    password_hash: &str,
    facility_ids: &HashMap<&str, i32>,
) -> Result<(), DbErr> {
    for u in &fixture.demo_users {
        let email = u.email.to_lowercase();
        // An existing account keeps its password and profile: seeding never resets a person.
        user::Entity::insert(user::ActiveModel {
            id: NotSet,
            email: Set(email.clone()),
            password_hash: Set(Some(password_hash.to_owned())),
            display_name: Set(u.display_name.clone()),
            name_kana: Set(u.name_kana.clone()),
            role: Set(u.role.clone()),
            residency: Set(u.residency.clone()),
            locale: Set(u.locale.clone()),
            email_verified_at: Set(Some(Utc::now())),
            created_at: Set(Utc::now()),
            // Demo accounts are registered and approved, valid for the usual three years.
            registration_state: Set("approved".into()),
            registration_valid_until: Set(Some(
                crate::domain::calendar::tokyo_date(Utc::now()) + chrono::Duration::days(3 * 365),
            )),
            date_of_birth: Set(u.date_of_birth.as_deref().and_then(|d| d.parse().ok())),
            card_number: Set(u.card_number.clone()),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::column(user::Column::Email)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        let Some(saved) = user::Entity::find()
            .filter(user::Column::Email.eq(&email))
            .one(db)
            .await?
        else {
            continue;
        };
        for code in &u.facilities {
            let Some(facility_id) = facility_ids.get(code.as_str()) else {
                continue;
            };
            staff_assignment::Entity::insert(staff_assignment::ActiveModel {
                user_id: Set(saved.id),
                facility_id: Set(*facility_id),
            })
            .on_conflict(
                OnConflict::columns([
                    staff_assignment::Column::UserId,
                    staff_assignment::Column::FacilityId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        }
    }
    Ok(())
}
