//! Who a user is to the system; staff and managers act only on their assigned facilities.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 利用者: books for themselves or their group.
    Resident,
    /// 受付: checks people in and books at the counter, at assigned facilities.
    Staff,
    /// 施設管理者: runs calendars, prices and closures of assigned facilities.
    Manager,
    /// 市の所管課: every facility, city-wide rules, approvals, audit.
    Admin,
}

impl Role {
    /// Every role, least to most privileged.
    pub const ALL: &'static [Role] = &[Role::Resident, Role::Staff, Role::Manager, Role::Admin];

    /// The code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Staff => "staff",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// Whether the role acts only on facilities it is assigned to.
    pub fn is_facility_scoped(self) -> bool {
        matches!(self, Role::Staff | Role::Manager)
    }
}

impl FromStr for Role {
    type Err = super::kinds::UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.code() == s)
            .ok_or_else(|| super::kinds::UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_match_the_database_check_constraint() {
        let codes: Vec<_> = Role::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes, migration::ROLES_FOR_CODE);
    }

    #[test]
    fn only_staff_and_managers_are_scoped_to_facilities() {
        assert!(Role::Staff.is_facility_scoped());
        assert!(Role::Manager.is_facility_scoped());
        assert!(!Role::Resident.is_facility_scoped());
        assert!(!Role::Admin.is_facility_scoped());
    }
}
