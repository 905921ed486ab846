//! Groups (団体): a representative starts a group, adds registered people as members, and
//! registers it once it meets the rules (domain::groups); then it can book rooms that require a
//! group. Members may leave; the representative may remove members and dissolve the group.
//!
//! Every change runs in one write transaction. The rules that span groups (no three members
//! shared with another group, a person in at most two) are checked with the group's row and every
//! member's row locked on PostgreSQL, in user-id order, so two changes that could together break
//! a rule are decided one after the other (SQLite write transactions are serial already).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use serde_json::json;

use crate::db::begin_write;
use crate::domain::booking::BookingState;
use crate::domain::calendar::{tokyo, tokyo_date};
use crate::domain::groups::{self, GroupRuleError, GroupRules, GroupState, Member};
use crate::domain::registration::{RegistrationState, is_kana_or_space};
use crate::domain::roles::Role;
use crate::entities::{
    booking, fee_reduction, group_booking, group_member, group_registration, user,
};
use crate::services::{audit, mail};
use crate::views::group::{AddMemberRequest, CreateGroupRequest, GroupMemberView, GroupResponse};

/// Why a group action was refused.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("{field}: {message}")]
    InvalidInput {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Rule(#[from] GroupRuleError),
    #[error("group not found")]
    NotFound,
    #[error("only the group's representative can do this")]
    NotRepresentative,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("your registration must be approved (and not expired) first")]
    NotApproved,
    #[error("no registered person has this card number and date of birth")]
    MemberNotFound,
    #[error("this person is already a member of the group")]
    AlreadyMember,
    #[error("the group is {0}; this cannot be done now")]
    WrongState(String),
    #[error("the representative cannot leave or be removed; dissolve the group instead")]
    RepresentativeStays,
    #[error("the group has bookings still to come; cancel them first")]
    HasBookings,
    #[error("the group is not registered, or its registration has expired")]
    NotBookable,
    #[error("you represent the group {0}; dissolve it before deleting your account")]
    RepresentsGroup(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn invalid(field: &'static str, message: impl Into<String>) -> GroupError {
    GroupError::InvalidInput {
        field,
        message: message.into(),
    }
}

/// A registration that is approved and current: only such a person may lead or join a group.
fn is_current(person: &user::Model, today: NaiveDate) -> bool {
    person.registration_state == RegistrationState::Approved.code()
        && person.registration_valid_until.is_none_or(|d| d >= today)
}

fn check_new_group(request: &CreateGroupRequest) -> Result<(String, String, String), GroupError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("name", "enter the group's name (1–100 characters)"));
    }
    let kana = request.name_kana.trim();
    if kana.is_empty() || kana.chars().count() > 100 || !kana.chars().all(is_kana_or_space) {
        return Err(invalid(
            "name_kana",
            "enter the group's name in kana (ひらがな or カタカナ)",
        ));
    }
    let activity = request.activity.trim();
    if activity.is_empty() || activity.chars().count() > 200 {
        return Err(invalid(
            "activity",
            "say what the group does (1–200 characters)",
        ));
    }
    Ok((name.to_owned(), kana.to_owned(), activity.to_owned()))
}

/// Start a group; the person starting it is its representative and first member.
pub async fn create_group(
    db: &DatabaseConnection,
    (user_id, role): (i32, Role),
    request: &CreateGroupRequest,
    now: DateTime<Utc>,
) -> Result<GroupResponse, GroupError> {
    if role != Role::Resident {
        return Err(GroupError::Forbidden(
            "groups are registered by residents; staff accounts are for work",
        ));
    }
    let (name, name_kana, activity) = check_new_group(request)?;
    let rules = GroupRules::default();
    let txn = begin_write(db).await?;
    let person = lock_users(&txn, &[user_id])
        .await?
        .pop()
        .ok_or(GroupError::NotFound)?;
    if !is_current(&person, tokyo_date(now)) {
        return Err(GroupError::NotApproved);
    }
    // A person already in as many registered groups as allowed could never register this one.
    let registered = registered_groups_of(&txn, &[user_id], None).await?;
    if registered.len() >= rules.max_groups_per_person {
        return Err(GroupRuleError::TooManyGroups {
            user_id,
            max: rules.max_groups_per_person,
        }
        .into());
    }
    let group = group_registration::Entity::insert(group_registration::ActiveModel {
        name: Set(name),
        name_kana: Set(name_kana),
        activity: Set(activity),
        representative_user_id: Set(user_id),
        state: Set(GroupState::Forming.code().to_owned()),
        fee_reduction_id: Set(None),
        created_at: Set(now),
        registered_at: Set(None),
        valid_until: Set(None),
        ..Default::default()
    })
    .exec_with_returning(&txn)
    .await?;
    group_member::Entity::insert(group_member::ActiveModel {
        group_id: Set(group.id),
        user_id: Set(user_id),
        is_representative: Set(true),
        joined_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    let response = describe(&txn, group, user_id, now).await?;
    txn.commit().await?;
    Ok(response)
}

/// The groups the person is in, newest first.
pub async fn my_groups(
    db: &DatabaseConnection,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<Vec<GroupResponse>, GroupError> {
    let ids: Vec<i32> = group_member::Entity::find()
        .filter(group_member::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    let groups = group_registration::Entity::find()
        .filter(group_registration::Column::Id.is_in(ids))
        .order_by_desc(group_registration::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        out.push(describe(db, group, user_id, now).await?);
    }
    Ok(out)
}

/// One group, for one of its members (anyone else: not found).
pub async fn get_group(
    db: &DatabaseConnection,
    user_id: i32,
    group_id: i32,
    now: DateTime<Utc>,
) -> Result<GroupResponse, GroupError> {
    let group = group_registration::Entity::find_by_id(group_id)
        .one(db)
        .await?
        .ok_or(GroupError::NotFound)?;
    if group_member::Entity::find_by_id((group_id, user_id))
        .one(db)
        .await?
        .is_none()
    {
        return Err(GroupError::NotFound);
    }
    Ok(describe(db, group, user_id, now).await?)
}

/// The representative adds a registered person, found by card number and date of birth. In a
/// registered group the newcomer must keep the group within the overlap rules.
pub async fn add_member(
    db: &DatabaseConnection,
    user_id: i32,
    group_id: i32,
    request: &AddMemberRequest,
    now: DateTime<Utc>,
) -> Result<GroupResponse, GroupError> {
    let card: String = request
        .card_number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if card.len() != 10 || !card.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid("card_number", "enter the 10-digit card number"));
    }
    let date_of_birth: NaiveDate = request
        .date_of_birth
        .parse()
        .map_err(|_| invalid("date_of_birth", "a date such as 1980-04-01"))?;
    let rules = GroupRules::default();
    let today = tokyo_date(now);
    let txn = begin_write(db).await?;
    let group = lock_group_as_representative(&txn, group_id, user_id).await?;
    let state = state_of(&group);
    if state == GroupState::Dissolved {
        return Err(GroupError::WrongState(group.state));
    }
    // Card number and date of birth must both match; which one did not is not said.
    let newcomer = user::Entity::find()
        .filter(user::Column::CardNumber.eq(&card))
        .filter(user::Column::DateOfBirth.eq(date_of_birth))
        .one(&txn)
        .await?
        .filter(|p| p.role == Role::Resident.code() && is_current(p, today))
        .ok_or(GroupError::MemberNotFound)?;
    let mut member_ids = member_ids_of(&txn, group_id).await?;
    if member_ids.contains(&newcomer.id) {
        return Err(GroupError::AlreadyMember);
    }
    member_ids.push(newcomer.id);
    if member_ids.len() > rules.max_members {
        return Err(GroupRuleError::TooManyMembers {
            max: rules.max_members,
        }
        .into());
    }
    lock_users(&txn, &member_ids).await?;
    if state == GroupState::Registered {
        let overlaps = overlaps_for(&txn, group_id, &member_ids).await?;
        groups::check_overlaps(&rules, &overlaps)?;
    }
    group_member::Entity::insert(group_member::ActiveModel {
        group_id: Set(group_id),
        user_id: Set(newcomer.id),
        is_representative: Set(false),
        joined_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => GroupError::AlreadyMember,
        _ => e.into(),
    })?;
    let representative = display_name_of(&txn, group.representative_user_id).await?;
    mail::enqueue(
        &txn,
        &newcomer.email,
        &newcomer.locale,
        mail::added_to_group(&newcomer.locale, &group.name, &representative),
        now,
    )
    .await?;
    let response = describe(&txn, group, user_id, now).await?;
    txn.commit().await?;
    Ok(response)
}

/// The representative removes a member. A registered group must still meet the size and
/// residency rules afterwards.
pub async fn remove_member(
    db: &DatabaseConnection,
    user_id: i32,
    group_id: i32,
    member_id: i32,
    now: DateTime<Utc>,
) -> Result<GroupResponse, GroupError> {
    let txn = begin_write(db).await?;
    let group = lock_group_as_representative(&txn, group_id, user_id).await?;
    if member_id == group.representative_user_id {
        return Err(GroupError::RepresentativeStays);
    }
    let mut member_ids = member_ids_of(&txn, group_id).await?;
    if !member_ids.contains(&member_id) {
        return Err(GroupError::NotFound);
    }
    member_ids.retain(|id| *id != member_id);
    if state_of(&group) == GroupState::Registered {
        let remaining = lock_users(&txn, &member_ids).await?;
        groups::check_composition(
            &GroupRules::default(),
            &rule_members(&remaining, group.representative_user_id, tokyo_date(now)),
            tokyo_date(now),
        )?;
    }
    group_member::Entity::delete_by_id((group_id, member_id))
        .exec(&txn)
        .await?;
    let response = describe(&txn, group, user_id, now).await?;
    txn.commit().await?;
    Ok(response)
}

/// A member leaves. This is always allowed; a registered group that no longer meets the size
/// or residency rules goes back to forming (it cannot book until it registers again), and its
/// representative is told.
pub async fn leave_group(
    db: &DatabaseConnection,
    user_id: i32,
    group_id: i32,
    now: DateTime<Utc>,
) -> Result<(), GroupError> {
    let txn = begin_write(db).await?;
    let group = lock_group(&txn, group_id).await?;
    if user_id == group.representative_user_id {
        return Err(GroupError::RepresentativeStays);
    }
    leave_within(&txn, group, user_id, now).await?;
    txn.commit().await?;
    Ok(())
}

/// For an account deletion, inside its transaction: refused while the person represents a group
/// that is not dissolved (a group must have someone answerable for it: they dissolve it first);
/// otherwise they leave every group they are in, exactly as if they had left each one.
pub async fn leave_all_for_deletion(
    txn: &impl ConnectionTrait,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<(), GroupError> {
    let memberships = group_member::Entity::find()
        .filter(group_member::Column::UserId.eq(user_id))
        .all(txn)
        .await?;
    for membership in memberships {
        let group = lock_group(txn, membership.group_id).await?;
        if group.representative_user_id == user_id {
            if state_of(&group) != GroupState::Dissolved {
                return Err(GroupError::RepresentsGroup(group.name));
            }
            // A dissolved group keeps its representative for its past bookings' records.
            continue;
        }
        leave_within(txn, group, user_id, now).await?;
    }
    Ok(())
}

/// Take a member (not the representative) out of a locked group. A registered group that no
/// longer meets the size or residency rule goes back to forming, and its representative is told.
async fn leave_within(
    txn: &impl ConnectionTrait,
    group: group_registration::Model,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<(), GroupError> {
    let group_id = group.id;
    let mut member_ids = member_ids_of(txn, group_id).await?;
    if !member_ids.contains(&user_id) {
        return Err(GroupError::NotFound);
    }
    group_member::Entity::delete_by_id((group_id, user_id))
        .exec(txn)
        .await?;
    member_ids.retain(|id| *id != user_id);
    if state_of(&group) == GroupState::Registered {
        let remaining = lock_users(txn, &member_ids).await?;
        let still_valid = groups::check_composition(
            &GroupRules::default(),
            &rule_members(&remaining, group.representative_user_id, tokyo_date(now)),
            tokyo_date(now),
        );
        if let Err(broken) = still_valid {
            group_registration::Entity::update_many()
                .col_expr(
                    group_registration::Column::State,
                    Expr::value(GroupState::Forming.code()),
                )
                .filter(group_registration::Column::Id.eq(group_id))
                .exec(txn)
                .await?;
            if let Some(representative) = remaining
                .iter()
                .find(|p| p.id == group.representative_user_id)
            {
                mail::enqueue(
                    txn,
                    &representative.email,
                    &representative.locale,
                    mail::group_needs_members(
                        &representative.locale,
                        &group.name,
                        &broken.to_string(),
                    ),
                    now,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// The representative registers a forming group: every rule is checked, then it is registered
/// for three years.
pub async fn register_group(
    db: &DatabaseConnection,
    user_id: i32,
    group_id: i32,
    now: DateTime<Utc>,
) -> Result<GroupResponse, GroupError> {
    let rules = GroupRules::default();
    let today = tokyo_date(now);
    let txn = begin_write(db).await?;
    let group = lock_group_as_representative(&txn, group_id, user_id).await?;
    if state_of(&group) != GroupState::Forming {
        return Err(GroupError::WrongState(group.state));
    }
    let member_ids = member_ids_of(&txn, group_id).await?;
    let people = lock_users(&txn, &member_ids).await?;
    if people
        .iter()
        .find(|p| p.id == user_id)
        .is_none_or(|p| !is_current(p, today))
    {
        return Err(GroupError::NotApproved);
    }
    let overlaps = overlaps_for(&txn, group_id, &member_ids).await?;
    groups::check_registration(
        &rules,
        &rule_members(&people, group.representative_user_id, today),
        &overlaps,
        today,
    )?;
    let valid_until = groups::valid_until(&rules, today);
    group_registration::Entity::update_many()
        .col_expr(
            group_registration::Column::State,
            Expr::value(GroupState::Registered.code()),
        )
        .col_expr(group_registration::Column::RegisteredAt, Expr::value(now))
        .col_expr(
            group_registration::Column::ValidUntil,
            Expr::value(valid_until),
        )
        .filter(group_registration::Column::Id.eq(group_id))
        .exec(&txn)
        .await?;
    let response = reread(&txn, group_id, user_id, now).await?;
    txn.commit().await?;
    Ok(response)
}

/// The representative dissolves the group. Its past bookings are kept; bookings still to come
/// must be cancelled first, so no one arrives for a booking of a group that no longer exists.
pub async fn dissolve_group(
    db: &DatabaseConnection,
    user_id: i32,
    group_id: i32,
    now: DateTime<Utc>,
) -> Result<(), GroupError> {
    let txn = begin_write(db).await?;
    let group = lock_group_as_representative(&txn, group_id, user_id).await?;
    if state_of(&group) == GroupState::Dissolved {
        return Err(GroupError::WrongState(group.state));
    }
    let booking_ids: Vec<i64> = group_booking::Entity::find()
        .filter(group_booking::Column::GroupId.eq(group_id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|b| b.booking_id)
        .collect();
    let active: Vec<&str> = BookingState::ACTIVE.iter().map(|s| s.code()).collect();
    let upcoming = booking::Entity::find()
        .filter(booking::Column::Id.is_in(booking_ids))
        .filter(booking::Column::State.is_in(active))
        .filter(booking::Column::EndsAt.gt(now))
        .one(&txn)
        .await?;
    if upcoming.is_some() {
        return Err(GroupError::HasBookings);
    }
    group_registration::Entity::update_many()
        .col_expr(
            group_registration::Column::State,
            Expr::value(GroupState::Dissolved.code()),
        )
        .filter(group_registration::Column::Id.eq(group_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// The city grants (or withdraws, with `None`) a fee reduction (減免) to a group. Admins only;
/// audited.
pub async fn set_fee_reduction(
    db: &DatabaseConnection,
    (actor, role): (i32, Role),
    group_id: i32,
    code: Option<&str>,
    now: DateTime<Utc>,
) -> Result<GroupResponse, GroupError> {
    if role != Role::Admin {
        return Err(GroupError::Forbidden(
            "fee reductions are granted by the city's administrators",
        ));
    }
    let txn = begin_write(db).await?;
    let group = lock_group(&txn, group_id).await?;
    let reduction = match code {
        None => None,
        Some(code) => Some(
            fee_reduction::Entity::find()
                .filter(fee_reduction::Column::Code.eq(code))
                .one(&txn)
                .await?
                .ok_or_else(|| invalid("code", format!("no fee reduction `{code}`")))?,
        ),
    };
    group_registration::Entity::update_many()
        .col_expr(
            group_registration::Column::FeeReductionId,
            Expr::value(reduction.as_ref().map(|r| r.id)),
        )
        .filter(group_registration::Column::Id.eq(group_id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        "group.set_fee_reduction",
        ("group", Some(i64::from(group_id))),
        json!({ "from": group.fee_reduction_id, "to": reduction.as_ref().map(|r| &r.code) }),
        now,
    )
    .await?;
    let response = reread(&txn, group_id, actor, now).await?;
    txn.commit().await?;
    Ok(response)
}

/// The group a booking is made for: it exists, is registered and current, and the person
/// booking is its representative. Returns the group and the reduction it was granted.
pub async fn group_for_booking(
    db: &impl ConnectionTrait,
    user_id: i32,
    group_id: i32,
    today: NaiveDate,
) -> Result<(group_registration::Model, Option<fee_reduction::Model>), GroupError> {
    let group = group_registration::Entity::find_by_id(group_id)
        .one(db)
        .await?
        .ok_or_else(|| invalid("group_id", "no such group"))?;
    if group.representative_user_id != user_id {
        return Err(GroupError::NotRepresentative);
    }
    let current =
        state_of(&group) == GroupState::Registered && group.valid_until.is_some_and(|d| d >= today);
    if !current {
        return Err(GroupError::NotBookable);
    }
    let reduction = match group.fee_reduction_id {
        Some(id) => fee_reduction::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    Ok((group, reduction))
}

// ---------------------------------------------------------------------------------------------
// Reading and locking
// ---------------------------------------------------------------------------------------------

fn state_of(group: &group_registration::Model) -> GroupState {
    group.state.parse().unwrap_or(GroupState::Dissolved)
}

/// The group's row, locked for the rest of the transaction on PostgreSQL.
async fn lock_group(
    db: &impl ConnectionTrait,
    group_id: i32,
) -> Result<group_registration::Model, GroupError> {
    let mut query = group_registration::Entity::find_by_id(group_id);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(db).await?.ok_or(GroupError::NotFound)
}

/// The group's row, locked, for its representative only (others: not found, or forbidden for
/// members, who know the group exists).
async fn lock_group_as_representative(
    db: &impl ConnectionTrait,
    group_id: i32,
    user_id: i32,
) -> Result<group_registration::Model, GroupError> {
    let group = lock_group(db, group_id).await?;
    if group.representative_user_id == user_id {
        return Ok(group);
    }
    let is_member = group_member::Entity::find_by_id((group_id, user_id))
        .one(db)
        .await?
        .is_some();
    Err(if is_member {
        GroupError::NotRepresentative
    } else {
        GroupError::NotFound
    })
}

/// People's rows, locked on PostgreSQL, always in id order so that two transactions locking
/// overlapping sets cannot deadlock.
async fn lock_users(db: &impl ConnectionTrait, ids: &[i32]) -> Result<Vec<user::Model>, DbErr> {
    let mut query = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.to_vec()))
        .order_by_asc(user::Column::Id);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.all(db).await
}

async fn member_ids_of(db: &impl ConnectionTrait, group_id: i32) -> Result<Vec<i32>, DbErr> {
    Ok(group_member::Entity::find()
        .filter(group_member::Column::GroupId.eq(group_id))
        .order_by_asc(group_member::Column::UserId)
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect())
}

/// Registered groups (other than `except`) any of `people` is in, with their member lists.
async fn registered_groups_of(
    db: &impl ConnectionTrait,
    people: &[i32],
    except: Option<i32>,
) -> Result<BTreeMap<i32, Vec<i32>>, DbErr> {
    let mut candidate_ids: Vec<i32> = group_member::Entity::find()
        .filter(group_member::Column::UserId.is_in(people.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .filter(|id| Some(*id) != except)
        .collect();
    candidate_ids.sort_unstable();
    candidate_ids.dedup();
    let registered: Vec<i32> = group_registration::Entity::find()
        .filter(group_registration::Column::Id.is_in(candidate_ids))
        .filter(group_registration::Column::State.eq(GroupState::Registered.code()))
        .all(db)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    let mut members: BTreeMap<i32, Vec<i32>> = registered.iter().map(|id| (*id, vec![])).collect();
    for m in group_member::Entity::find()
        .filter(group_member::Column::GroupId.is_in(registered))
        .all(db)
        .await?
    {
        members.entry(m.group_id).or_default().push(m.user_id);
    }
    Ok(members)
}

async fn overlaps_for(
    db: &impl ConnectionTrait,
    group_id: i32,
    member_ids: &[i32],
) -> Result<groups::Overlaps, DbErr> {
    let others = registered_groups_of(db, member_ids, Some(group_id)).await?;
    Ok(groups::overlaps_of(member_ids, &others))
}

fn in_city(person: &user::Model) -> bool {
    person.residency != "non_resident"
}

/// The people as the rules see them. A member whose own registration lapsed is not counted.
fn rule_members(people: &[user::Model], representative: i32, today: NaiveDate) -> Vec<Member> {
    people
        .iter()
        .filter(|p| is_current(p, today))
        .map(|p| Member {
            user_id: p.id,
            date_of_birth: p.date_of_birth,
            in_city: in_city(p),
            is_representative: p.id == representative,
        })
        .collect()
}

async fn display_name_of(db: &impl ConnectionTrait, user_id: i32) -> Result<String, DbErr> {
    Ok(user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default())
}

/// The group as it is now in this transaction (after an update), as `viewer` may see it.
async fn reread(
    db: &impl ConnectionTrait,
    group_id: i32,
    viewer: i32,
    now: DateTime<Utc>,
) -> Result<GroupResponse, GroupError> {
    let group = group_registration::Entity::find_by_id(group_id)
        .one(db)
        .await?
        .ok_or(GroupError::NotFound)?;
    Ok(describe(db, group, viewer, now).await?)
}

/// The group as `viewer` may see it: members listed for the representative only.
async fn describe(
    db: &impl ConnectionTrait,
    group: group_registration::Model,
    viewer: i32,
    now: DateTime<Utc>,
) -> Result<GroupResponse, DbErr> {
    let memberships = group_member::Entity::find()
        .filter(group_member::Column::GroupId.eq(group.id))
        .order_by_asc(group_member::Column::JoinedAt)
        .order_by_asc(group_member::Column::UserId)
        .all(db)
        .await?;
    let people: HashMap<i32, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(memberships.iter().map(|m| m.user_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let is_representative = group.representative_user_id == viewer;
    let today = tokyo_date(now);
    let rules = GroupRules::default();
    let members = is_representative.then(|| {
        memberships
            .iter()
            .filter_map(|m| {
                let p = people.get(&m.user_id)?;
                Some(GroupMemberView {
                    user_id: p.id,
                    name: p.display_name.clone(),
                    card_number: p.card_number.clone(),
                    is_representative: m.is_representative,
                    counts_toward_minimum: !m.is_representative
                        && is_current(p, today)
                        && p.date_of_birth
                            .is_some_and(|dob| groups::age_on(dob, today) >= rules.min_age),
                    in_city: in_city(p),
                    joined_at: m.joined_at.with_timezone(&tokyo()),
                })
            })
            .collect()
    });
    let fee_reduction = match group.fee_reduction_id {
        Some(id) => fee_reduction::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|r| r.code),
        None => None,
    };
    Ok(GroupResponse {
        id: group.id,
        name: group.name,
        name_kana: group.name_kana,
        activity: group.activity,
        state: group.state,
        representative_name: people
            .get(&group.representative_user_id)
            .map(|p| p.display_name.clone())
            .unwrap_or_default(),
        you_are_representative: is_representative,
        member_count: memberships.len(),
        members,
        registered_at: group.registered_at.map(|t| t.with_timezone(&tokyo())),
        valid_until: group.valid_until,
        fee_reduction,
    })
}
