//! 団体: what a group must be to be registered, and to stay registered (PRODUCT.md).
//!
//! A group is its representative plus its other members, all registered individuals. The rules:
//!
//! 1. **Size.** Besides the representative, at least [`GroupRules::min_members`] members aged
//!    [`GroupRules::min_age`] or older on the day of the check. A member whose date of birth is
//!    unknown does not count.
//! 2. **In the city.** Of everyone in the group, the representative included, at least half live,
//!    work or study in the city.
//! 3. **No shared core.** No [`GroupRules::max_shared`] + 1 (three) people of the group may also
//!    be members of one other registered group: the anti-abuse rule that stops one circle of
//!    friends registering several groups to multiply its lottery chances.
//! 4. **Two groups at most.** A person is in at most [`GroupRules::max_groups_per_person`]
//!    registered groups.
//!
//! Size and residency are properties of the member list alone; overlaps need the other groups,
//! which the service reads (with the members' rows locked) and passes in as [`Overlaps`].

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// A group registration's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// Being put together: members can be added; it cannot book.
    Forming,
    /// Passed the rules: it can book for its registration period.
    Registered,
    /// Ended by its representative; kept for the bookings it made.
    Dissolved,
}

impl GroupState {
    pub const ALL: &'static [GroupState] = &[
        GroupState::Forming,
        GroupState::Registered,
        GroupState::Dissolved,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            GroupState::Forming => "forming",
            GroupState::Registered => "registered",
            GroupState::Dissolved => "dissolved",
        }
    }
}

impl FromStr for GroupState {
    type Err = super::kinds::UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupState::ALL
            .iter()
            .copied()
            .find(|g| g.code() == s)
            .ok_or_else(|| super::kinds::UnknownKind(s.to_owned()))
    }
}

/// The numbers in the rules. `Default` is PRODUCT.md's (Yokohama's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRules {
    /// Members besides the representative who must be at least `min_age`.
    pub min_members: usize,
    pub min_age: u32,
    /// The most people a group may share with one other registered group.
    pub max_shared: usize,
    /// The most registered groups one person may be in.
    pub max_groups_per_person: usize,
    /// How long a registration lasts, in years.
    pub valid_years: u32,
    /// The most members a group may list (a form, not a rule of PRODUCT.md: it bounds the work).
    pub max_members: usize,
}

impl Default for GroupRules {
    fn default() -> Self {
        GroupRules {
            min_members: 5,
            min_age: 16,
            max_shared: 2,
            max_groups_per_person: 2,
            valid_years: 3,
            max_members: 200,
        }
    }
}

/// One person of the group, as the rules see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: i32,
    pub date_of_birth: Option<NaiveDate>,
    /// Lives, works or studies in the city (市内).
    pub in_city: bool,
    pub is_representative: bool,
}

/// How a group's members overlap with the other registered groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlaps {
    /// Other registered group → how many of this group's people are also in it.
    pub shared_with: BTreeMap<i32, usize>,
    /// Member → how many registered groups other than this one they are in.
    pub other_groups_of: BTreeMap<i32, usize>,
}

/// Why a group cannot be registered, or cannot change as asked. Each has a stable API code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupRuleError {
    #[error(
        "a group needs at least {min} members aged {min_age} or older besides its representative; it has {have}"
    )]
    TooFewMembers {
        min: usize,
        min_age: u32,
        have: usize,
    },
    #[error(
        "at least half of a group must live, work or study in the city: {needed} of {members} people; it has {have}"
    )]
    TooFewInCity {
        needed: usize,
        members: usize,
        have: usize,
    },
    #[error(
        "{shared} of this group's members are also members of another registered group; at most {max} may be"
    )]
    MembersShared {
        group_id: i32,
        shared: usize,
        max: usize,
    },
    #[error("a person may be in at most {max} registered groups, and a member already is")]
    TooManyGroups { user_id: i32, max: usize },
    #[error("a group may list at most {max} members")]
    TooManyMembers { max: usize },
}

impl GroupRuleError {
    /// The stable error code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            GroupRuleError::TooFewMembers { .. } => "group_too_small",
            GroupRuleError::TooFewInCity { .. } => "group_not_in_city",
            GroupRuleError::MembersShared { .. } => "group_members_shared",
            GroupRuleError::TooManyGroups { .. } => "member_in_too_many_groups",
            GroupRuleError::TooManyMembers { .. } => "group_too_large",
        }
    }
}

/// Age in whole years on `day`, counting the birthday itself (a 29 February birthday counts from
/// 1 March in common years).
pub fn age_on(date_of_birth: NaiveDate, day: NaiveDate) -> u32 {
    let mut years = day.year() - date_of_birth.year();
    if (day.month(), day.day()) < (date_of_birth.month(), date_of_birth.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

/// Rules 1 and 2, which depend only on the members: size and residency.
pub fn check_composition(
    rules: &GroupRules,
    members: &[Member],
    today: NaiveDate,
) -> Result<(), GroupRuleError> {
    if members.len() > rules.max_members {
        return Err(GroupRuleError::TooManyMembers {
            max: rules.max_members,
        });
    }
    let old_enough = members
        .iter()
        .filter(|m| !m.is_representative)
        .filter(|m| {
            m.date_of_birth
                .is_some_and(|dob| age_on(dob, today) >= rules.min_age)
        })
        .count();
    if old_enough < rules.min_members {
        return Err(GroupRuleError::TooFewMembers {
            min: rules.min_members,
            min_age: rules.min_age,
            have: old_enough,
        });
    }
    let in_city = members.iter().filter(|m| m.in_city).count();
    if in_city * 2 < members.len() {
        return Err(GroupRuleError::TooFewInCity {
            needed: members.len().div_ceil(2),
            members: members.len(),
            have: in_city,
        });
    }
    Ok(())
}

/// Rules 3 and 4, given how the group overlaps with the other registered groups.
pub fn check_overlaps(rules: &GroupRules, overlaps: &Overlaps) -> Result<(), GroupRuleError> {
    if let Some((&group_id, &shared)) = overlaps
        .shared_with
        .iter()
        .find(|(_, shared)| **shared > rules.max_shared)
    {
        return Err(GroupRuleError::MembersShared {
            group_id,
            shared,
            max: rules.max_shared,
        });
    }
    // This group makes one more.
    if let Some((&user_id, _)) = overlaps
        .other_groups_of
        .iter()
        .find(|(_, others)| **others + 1 > rules.max_groups_per_person)
    {
        return Err(GroupRuleError::TooManyGroups {
            user_id,
            max: rules.max_groups_per_person,
        });
    }
    Ok(())
}

/// Every rule, in the order a representative would fix them: size, residency, overlaps.
pub fn check_registration(
    rules: &GroupRules,
    members: &[Member],
    overlaps: &Overlaps,
    today: NaiveDate,
) -> Result<(), GroupRuleError> {
    check_composition(rules, members, today)?;
    check_overlaps(rules, overlaps)
}

/// The last day of a registration made on `today`: `valid_years` later, to the day before, as
/// for individuals (2026-11-23 runs to 2029-11-22; 29 February falls back to 28 February).
pub fn valid_until(rules: &GroupRules, today: NaiveDate) -> NaiveDate {
    let year = today.year() + rules.valid_years as i32;
    let anniversary = NaiveDate::from_ymd_opt(year, today.month(), today.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, today.month(), 28))
        .unwrap_or(today);
    anniversary.pred_opt().unwrap_or(anniversary)
}

/// Overlaps from the other groups' member lists: `others` maps each other registered group to
/// its members, `members` are this group's people.
pub fn overlaps_of(members: &[i32], others: &BTreeMap<i32, Vec<i32>>) -> Overlaps {
    let mut overlaps = Overlaps::default();
    for (&group_id, their_members) in others {
        let shared: Vec<i32> = their_members
            .iter()
            .copied()
            .filter(|u| members.contains(u))
            .collect();
        if !shared.is_empty() {
            overlaps.shared_with.insert(group_id, shared.len());
        }
        for user_id in shared {
            *overlaps.other_groups_of.entry(user_id).or_default() += 1;
        }
    }
    overlaps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn member(user_id: i32, born: NaiveDate, in_city: bool) -> Member {
        Member {
            user_id,
            date_of_birth: Some(born),
            in_city,
            is_representative: user_id == 1,
        }
    }

    /// A representative and five adults, all in the city.
    fn good_group() -> Vec<Member> {
        (1..=6)
            .map(|id| member(id, day(1980, 4, 1), true))
            .collect()
    }

    const TODAY: (i32, u32, u32) = (2026, 11, 23);

    fn today() -> NaiveDate {
        day(TODAY.0, TODAY.1, TODAY.2)
    }

    #[test]
    fn age_counts_whole_years_up_to_the_birthday() {
        assert_eq!(age_on(day(2010, 11, 23), today()), 16);
        assert_eq!(age_on(day(2010, 11, 24), today()), 15);
        assert_eq!(age_on(day(2008, 2, 29), day(2024, 2, 28)), 15);
        assert_eq!(age_on(day(2008, 2, 29), day(2024, 2, 29)), 16);
        assert_eq!(age_on(day(2030, 1, 1), today()), 0);
    }

    #[test]
    fn a_representative_and_five_adults_in_the_city_pass() {
        let rules = GroupRules::default();
        assert_eq!(check_composition(&rules, &good_group(), today()), Ok(()));
    }

    #[test]
    fn the_representative_does_not_count_toward_the_five() {
        let rules = GroupRules::default();
        let members = &good_group()[..5];
        assert_eq!(
            check_composition(&rules, members, today()),
            Err(GroupRuleError::TooFewMembers {
                min: 5,
                min_age: 16,
                have: 4
            })
        );
    }

    #[test]
    fn members_under_sixteen_or_of_unknown_age_do_not_count() {
        let rules = GroupRules::default();
        let mut members = good_group();
        members[5].date_of_birth = Some(day(2010, 11, 24)); // 16 tomorrow
        assert_eq!(
            check_composition(&rules, &members, today()).map_err(|e| e.code()),
            Err("group_too_small")
        );
        members[5].date_of_birth = Some(day(2010, 11, 23)); // 16 today
        assert_eq!(check_composition(&rules, &members, today()), Ok(()));
        members[5].date_of_birth = None;
        assert_eq!(
            check_composition(&rules, &members, today()).map_err(|e| e.code()),
            Err("group_too_small")
        );
    }

    #[test]
    fn exactly_half_in_the_city_is_enough_and_less_is_not() {
        let rules = GroupRules::default();
        let mut members = good_group();
        for m in &mut members[..3] {
            m.in_city = false;
        }
        assert_eq!(check_composition(&rules, &members, today()), Ok(()));
        members[3].in_city = false;
        assert_eq!(
            check_composition(&rules, &members, today()),
            Err(GroupRuleError::TooFewInCity {
                needed: 3,
                members: 6,
                have: 2
            })
        );
    }

    #[test]
    fn an_odd_sized_group_needs_the_larger_half() {
        let rules = GroupRules::default();
        let mut members: Vec<Member> = (1..=7)
            .map(|id| member(id, day(1990, 1, 1), id <= 3))
            .collect();
        assert_eq!(
            check_composition(&rules, &members, today()).map_err(|e| e.code()),
            Err("group_not_in_city")
        );
        members[3].in_city = true;
        assert_eq!(check_composition(&rules, &members, today()), Ok(()));
    }

    #[test]
    fn two_shared_members_are_allowed_and_three_are_not() {
        let rules = GroupRules::default();
        let mine = [1, 2, 3, 4, 5, 6];
        let two = BTreeMap::from([(40, vec![1, 2, 30, 31, 32, 33])]);
        assert_eq!(check_overlaps(&rules, &overlaps_of(&mine, &two)), Ok(()));
        let three = BTreeMap::from([(40, vec![1, 2, 3, 31, 32, 33])]);
        assert_eq!(
            check_overlaps(&rules, &overlaps_of(&mine, &three)),
            Err(GroupRuleError::MembersShared {
                group_id: 40,
                shared: 3,
                max: 2
            })
        );
    }

    #[test]
    fn a_person_already_in_two_groups_cannot_join_a_third() {
        let rules = GroupRules::default();
        let mine = [1, 2, 3, 4, 5, 6];
        let others = BTreeMap::from([(40, vec![6, 30, 31]), (41, vec![6, 50, 51])]);
        assert_eq!(
            check_overlaps(&rules, &overlaps_of(&mine, &others)),
            Err(GroupRuleError::TooManyGroups { user_id: 6, max: 2 })
        );
        let one_other = BTreeMap::from([(40, vec![6, 30, 31])]);
        assert_eq!(
            check_overlaps(&rules, &overlaps_of(&mine, &one_other)),
            Ok(())
        );
    }

    #[test]
    fn registration_checks_size_before_overlaps() {
        let rules = GroupRules::default();
        let members = &good_group()[..3];
        let others = BTreeMap::from([(40, vec![1, 2, 3])]);
        let overlaps = overlaps_of(&[1, 2, 3], &others);
        assert_eq!(
            check_registration(&rules, members, &overlaps, today()).map_err(|e| e.code()),
            Err("group_too_small")
        );
    }

    #[test]
    fn a_registration_lasts_three_years_to_the_day_before() {
        let rules = GroupRules::default();
        assert_eq!(valid_until(&rules, today()), day(2029, 11, 22));
        assert_eq!(valid_until(&rules, day(2028, 2, 29)), day(2031, 2, 27));
    }

    #[test]
    fn states_match_the_database_check_constraint() {
        let codes: Vec<_> = GroupState::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, migration::GROUP_STATES_FOR_CODE);
    }
}
