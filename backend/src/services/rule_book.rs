//! The rules in force, kept in memory: the configuration file's sections with the versions saved
//! in `rule_versions` laid over them (`domain::rule_history`). Every request asks
//! [`RuleBook::now`], which is a lock-free-ish read of a shared snapshot (a read lock held for
//! the time it takes to clone three `Arc`s), so the booking path pays nothing for history.
//!
//! The snapshot is reloaded by the instance that saves a version at once, and by every instance
//! on a timer (`rules_reload_seconds`), so a version saved on one of several `yoyaku serve`
//! processes reaches the others within that period. A version dated today is the only kind
//! whose arrival the timer can delay, and only by that period.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryOrder};

use crate::domain::calendar::tokyo_date;
use crate::domain::rule_history::{RuleBody, RuleSection, RuleSet, RuleTimeline, Version};
use crate::entities::rule_version;

/// The shared, reloadable timeline of rules.
#[derive(Debug)]
pub struct RuleBook {
    timeline: RwLock<Arc<RuleTimeline>>,
}

impl RuleBook {
    /// The configuration file's values alone (before the first [`RuleBook::reload`]).
    pub fn new(base: RuleSet) -> RuleBook {
        RuleBook {
            timeline: RwLock::new(Arc::new(RuleTimeline::from_base(base))),
        }
    }

    /// The rules in force at `at` (its day in Tokyo).
    pub fn at(&self, at: DateTime<Utc>) -> RuleSet {
        self.on(tokyo_date(at))
    }

    /// The rules in force now.
    pub fn now(&self) -> RuleSet {
        self.at(Utc::now())
    }

    /// The rules in force on `day`.
    pub fn on(&self, day: NaiveDate) -> RuleSet {
        self.snapshot().in_force(day)
    }

    /// The whole timeline as last loaded.
    pub fn snapshot(&self) -> Arc<RuleTimeline> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc: the value is whole.
        self.timeline
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Read every saved version again and swap the snapshot.
    pub async fn reload(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let base = self.snapshot().base().clone();
        let versions = load_versions(db).await?;
        let timeline = Arc::new(RuleTimeline::new(base, versions));
        *self
            .timeline
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = timeline;
        Ok(())
    }
}

/// Every saved version that this release can read. A row it cannot read (written by a newer
/// release with a field this one lacks) is skipped with a warning rather than failing startup.
pub async fn load_versions(db: &impl ConnectionTrait) -> Result<Vec<Version>, DbErr> {
    let rows = rule_version::Entity::find()
        .order_by_asc(rule_version::Column::EffectiveFrom)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let section: RuleSection = row.section.parse().ok()?;
            match RuleBody::from_json(section, &row.body) {
                Some(body) => Some(Version {
                    id: row.id,
                    effective_from: row.effective_from,
                    body,
                }),
                None => {
                    tracing::warn!(
                        rule_version.id = row.id,
                        rule_version.section = %section,
                        "a saved rule version does not match this release; skipped"
                    );
                    None
                }
            }
        })
        .collect())
}
