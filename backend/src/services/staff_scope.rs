//! Which facilities a staff member may see and act on: staff and managers their assigned
//! facilities (`staff_assignments`), administrators every facility, residents none. Every
//! console service asks this before it reads or writes, so the rule lives in one place.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::domain::roles::Role;
use crate::entities::staff_assignment;

/// The facilities a person may act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FacilityScope {
    /// An administrator: every facility.
    All,
    /// Staff or a manager: these facilities (possibly none). Residents get `Only(vec![])`.
    Only(Vec<i32>),
}

impl FacilityScope {
    /// Whether the scope covers `facility_id`.
    pub fn allows(&self, facility_id: i32) -> bool {
        match self {
            FacilityScope::All => true,
            FacilityScope::Only(ids) => ids.contains(&facility_id),
        }
    }

    /// The facility ids to filter a query by, or `None` for every facility.
    pub fn facility_ids(&self) -> Option<&[i32]> {
        match self {
            FacilityScope::All => None,
            FacilityScope::Only(ids) => Some(ids),
        }
    }
}

/// Whether a role may use the staff console at all (residents may not).
pub fn is_console_role(role: Role) -> bool {
    role != Role::Resident
}

/// The scope of `user_id` acting as `role`.
pub async fn facility_scope(
    db: &impl ConnectionTrait,
    user_id: i32,
    role: Role,
) -> Result<FacilityScope, DbErr> {
    match role {
        Role::Admin => Ok(FacilityScope::All),
        Role::Resident => Ok(FacilityScope::Only(Vec::new())),
        Role::Staff | Role::Manager => {
            let ids: Vec<i32> = staff_assignment::Entity::find()
                .select_only()
                .column(staff_assignment::Column::FacilityId)
                .filter(staff_assignment::Column::UserId.eq(user_id))
                .into_tuple()
                .all(db)
                .await?;
            Ok(FacilityScope::Only(ids))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_administrator_may_act_everywhere_and_staff_only_where_assigned() {
        assert!(FacilityScope::All.allows(7));
        let staff = FacilityScope::Only(vec![1, 3]);
        assert!(staff.allows(3));
        assert!(!staff.allows(2));
        assert_eq!(staff.facility_ids(), Some(&[1, 3][..]));
        assert_eq!(FacilityScope::All.facility_ids(), None);
        assert!(!is_console_role(Role::Resident));
        assert!(is_console_role(Role::Staff));
    }
}
