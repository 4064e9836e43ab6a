//! The first poll's baseline summary: the risk that already exists, counted by level and with the
//! riskiest, most recent users named, instead of one alert per user. Pure: the poll cycle adds
//! each page it reads and hands the result on as a message.

use crate::alert::{Baseline, Change, DigestEntry};
use crate::ids::TenantId;
use crate::risk::{RiskLevel, RiskyUser};

/// How many users the baseline summary names.
pub const TOP: usize = 5;

/// The baseline as far as it has been read.
#[derive(Debug, Default)]
pub struct Tally {
    high: usize,
    medium: usize,
    low: usize,
    other: usize,
    /// Deleted accounts stay in the risky-users report, but nobody can act on them (their risk
    /// cannot be dismissed by an administrator): counted apart, never named.
    deleted: usize,
    top: Vec<RiskyUser>,
}

impl Tally {
    /// Counts a page's users (those the caller did not exclude) and keeps the riskiest and most
    /// recent few.
    pub fn add<'a>(&mut self, users: impl Iterator<Item = &'a RiskyUser> + Clone) {
        for u in users.clone() {
            match (&u.risk_level, u.is_deleted) {
                (_, true) => self.deleted += 1,
                (RiskLevel::High, _) => self.high += 1,
                (RiskLevel::Medium, _) => self.medium += 1,
                (RiskLevel::Low, _) => self.low += 1,
                _ => self.other += 1,
            }
        }
        self.top.extend(users.filter(|u| !u.is_deleted).cloned());
        self.top.sort_by(|a, b| {
            level_order(&b.risk_level)
                .cmp(&level_order(&a.risk_level))
                .then(
                    b.risk_last_updated_date_time
                        .cmp(&a.risk_last_updated_date_time),
                )
        });
        self.top.truncate(TOP);
    }

    /// The baseline message, keyed by the cycle that read it.
    pub fn into_baseline(self, tenant: TenantId, cycle_id: &str) -> Baseline {
        Baseline {
            key: format!("baseline/{tenant}/{cycle_id}"),
            tenant_id: tenant,
            high: self.high,
            medium: self.medium,
            low: self.low,
            other: self.other,
            deleted: self.deleted,
            top: self
                .top
                .into_iter()
                .map(|u| DigestEntry {
                    display_name: u
                        .user_display_name
                        .clone()
                        .unwrap_or_else(|| u.id.to_string()),
                    upn: u.user_principal_name.clone(),
                    change: Change::NewRisk,
                    level: u.risk_level.clone(),
                    top_detection: None,
                    tenant: None,
                })
                .collect(),
        }
    }
}

/// The order users are named in: a level Graph hides or riskrelay does not know first (named
/// rather than missed), then high, medium, low.
fn level_order(l: &RiskLevel) -> u8 {
    l.rank().unwrap_or(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use time::macros::datetime;

    fn user(n: u128, level: RiskLevel, deleted: bool, minute: u8) -> RiskyUser {
        let mut u: RiskyUser = serde_json::from_value(serde_json::json!({
            "id": UserId::from_uuid(uuid::Uuid::from_u128(n)).to_string(),
            "riskLevel": "none", "riskState": "atRisk", "riskDetail": "none",
            "isDeleted": deleted,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        u.risk_level = level;
        u.user_display_name = Some(format!("User {n}"));
        u.risk_last_updated_date_time =
            Some(datetime!(2026-12-01 10:00 UTC) + time::Duration::minutes(minute.into()));
        u
    }

    #[test]
    fn counts_every_level_and_names_the_riskiest_most_recent_living_users() {
        let mut t = Tally::default();
        let page1 = [
            user(1, RiskLevel::Medium, false, 1),
            user(2, RiskLevel::High, false, 2),
            user(3, RiskLevel::High, true, 9),
        ];
        let page2: Vec<RiskyUser> = (10..16)
            .map(|n| user(n, RiskLevel::Low, false, n as u8))
            .chain([user(20, RiskLevel::High, false, 5)])
            .collect();
        t.add(page1.iter());
        t.add(page2.iter());
        let b = t.into_baseline(TenantId::from_uuid(uuid::Uuid::from_u128(7)), "c1");
        assert_eq!((b.high, b.medium, b.low, b.deleted), (2, 1, 6, 1));
        let named: Vec<&str> = b.top.iter().map(|e| e.display_name.as_str()).collect();
        assert_eq!(named, ["User 20", "User 2", "User 1", "User 15", "User 14"]);
        assert!(b.key.ends_with("/c1"));
    }
}
