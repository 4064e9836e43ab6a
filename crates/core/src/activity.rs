//! A tenant's figures the status shows without asking Graph: who is at risk now, by level, as
//! riskrelay recorded them, and how many user alerts went out on each of the last days.
//!
//! The store has no scan, and a document naming every user at risk would pass DynamoDB's 400 KB
//! item limit near eight thousand users, so the counts move with each state the worker saves
//! (its level and state before and after), and the daily summary, which reads Graph's whole list,
//! sets them to the truth again: a count a lost update left wrong lasts a day at most.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::risk::{RiskLevel, RiskState};

/// Days of alert counts kept (the status page's chart).
pub const DAYS: usize = 14;

/// Users at risk now, by level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AtRisk {
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    /// A level Graph hides from riskrelay, or one it does not know yet.
    pub other: u32,
}

impl AtRisk {
    pub fn total(&self) -> u32 {
        self.high + self.medium + self.low + self.other
    }

    fn slot(&mut self, b: Bucket) -> &mut u32 {
        match b {
            Bucket::High => &mut self.high,
            Bucket::Medium => &mut self.medium,
            Bucket::Low => &mut self.low,
            Bucket::Other => &mut self.other,
        }
    }
}

/// Where a user counts: at risk at a level, or not at risk (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    High,
    Medium,
    Low,
    Other,
}

pub fn bucket(level: &RiskLevel, state: &RiskState) -> Option<Bucket> {
    if !matches!(state, RiskState::AtRisk | RiskState::ConfirmedCompromised) {
        return None;
    }
    Some(match level {
        RiskLevel::High => Bucket::High,
        RiskLevel::Medium => Bucket::Medium,
        RiskLevel::Low => Bucket::Low,
        RiskLevel::None => return None,
        _ => Bucket::Other,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    #[serde(default)]
    pub at_risk: AtRisk,
    /// User alerts that reached at least one destination, by UTC day (`YYYY-MM-DD`, which sorts
    /// as the days do).
    #[serde(default)]
    pub days: BTreeMap<String, u32>,
    /// When the counts were last set from Graph's whole list (the daily summary).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub counted_at: Option<OffsetDateTime>,
}

impl Activity {
    /// A user's saved state moved from `before` to `after`.
    pub fn moved(&mut self, before: Option<Bucket>, after: Option<Bucket>) {
        if before == after {
            return;
        }
        if let Some(b) = before {
            let n = self.at_risk.slot(b);
            *n = n.saturating_sub(1);
        }
        if let Some(a) = after {
            *self.at_risk.slot(a) += 1;
        }
    }

    /// `n` user alerts went out at `now`; days older than [`DAYS`] are dropped.
    pub fn alerted(&mut self, n: u32, now: OffsetDateTime) {
        if n > 0 {
            *self.days.entry(day(now.date())).or_default() += n;
        }
        let oldest = day(now.date() - time::Duration::days(DAYS as i64 - 1));
        self.days.retain(|d, _| *d >= oldest);
    }

    /// The counts as Graph lists them now.
    pub fn counted(&mut self, at_risk: AtRisk, now: OffsetDateTime) {
        self.at_risk = at_risk;
        self.counted_at = Some(now);
    }

    /// The last [`DAYS`] days up to `now`'s, oldest first, with a zero for a day without alerts.
    pub fn last_days(&self, now: OffsetDateTime) -> Vec<(Date, u32)> {
        (0..DAYS as i64)
            .rev()
            .map(|back| {
                let d = now.date() - time::Duration::days(back);
                (d, self.days.get(&day(d)).copied().unwrap_or(0))
            })
            .collect()
    }
}

fn day(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Counts by level of a list of users Graph says are at risk.
pub fn count<'a>(users: impl IntoIterator<Item = (&'a RiskLevel, &'a RiskState)>) -> AtRisk {
    let mut at_risk = AtRisk::default();
    for (level, state) in users {
        if let Some(b) = bucket(level, state) {
            *at_risk.slot(b) += 1;
        }
    }
    at_risk
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn counts_follow_each_move_and_never_go_below_zero() {
        let mut a = Activity::default();
        let high = bucket(&RiskLevel::High, &RiskState::AtRisk);
        let medium = bucket(&RiskLevel::Medium, &RiskState::AtRisk);
        let gone = bucket(&RiskLevel::High, &RiskState::Remediated);
        assert_eq!(gone, None);
        a.moved(None, high);
        a.moved(None, high);
        a.moved(high, medium);
        assert_eq!((a.at_risk.high, a.at_risk.medium), (1, 1));
        a.moved(medium, gone);
        a.moved(medium, gone);
        assert_eq!(
            a.at_risk.medium, 0,
            "a lost update cannot make a count negative"
        );
        assert_eq!(a.at_risk.total(), 1);
        let compromised = bucket(&RiskLevel::High, &RiskState::ConfirmedCompromised);
        assert_eq!(compromised, Some(Bucket::High));
        assert_eq!(
            bucket(&RiskLevel::Hidden, &RiskState::AtRisk),
            Some(Bucket::Other)
        );
    }

    #[test]
    fn fourteen_days_are_kept_with_zeros_for_quiet_days() {
        let mut a = Activity::default();
        let start = datetime!(2026-11-01 10:00 UTC);
        for day in 0..20 {
            a.alerted(day + 1, start + time::Duration::days(day.into()));
        }
        assert_eq!(a.days.len(), DAYS);
        let now = start + time::Duration::days(21);
        let last = a.last_days(now);
        assert_eq!(last.len(), DAYS);
        assert_eq!(last.last().unwrap(), &(now.date(), 0));
        assert_eq!(
            last[DAYS - 3].1,
            20,
            "the last day with alerts, two days ago"
        );
    }

    #[test]
    fn the_document_is_json_with_days_as_keys() {
        let mut a = Activity::default();
        a.alerted(2, datetime!(2026-12-01 08:00 UTC));
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["days"]["2026-12-01"], 2);
        assert_eq!(serde_json::from_value::<Activity>(json).unwrap(), a);
    }

    #[test]
    fn the_daily_count_replaces_what_the_moves_made() {
        let mut a = Activity::default();
        a.moved(None, Some(Bucket::High));
        let now = datetime!(2026-12-01 08:00 UTC);
        let listed = [
            (RiskLevel::Medium, RiskState::AtRisk),
            (RiskLevel::Low, RiskState::AtRisk),
            (RiskLevel::High, RiskState::Dismissed),
        ];
        a.counted(count(listed.iter().map(|(l, s)| (l, s))), now);
        assert_eq!(
            a.at_risk,
            AtRisk {
                high: 0,
                medium: 1,
                low: 1,
                other: 0
            }
        );
        assert_eq!(a.counted_at, Some(now));
    }
}
