//! An alert about a workload identity's risk, before it is rendered.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{RiskyWorkload, WorkloadContext, WorkloadDetection};
use crate::action_link::{ActionButton, ActionNotice};
use crate::alert::{AdminCenter, Change};
use crate::context::Lookup;
use crate::ids::TenantId;
use crate::risk::{RiskLevel, RiskState};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadAlert {
    pub key: String,
    pub tenant_id: TenantId,
    pub change: Change,
    pub workload: RiskyWorkload,
    /// Level and state before the change, when riskrelay had seen it.
    pub previous: Option<(RiskLevel, RiskState)>,
    /// The detections to show: the new ones, or every open one for a new risk.
    pub detections: Vec<WorkloadDetection>,
    pub context: Lookup<WorkloadContext>,
    /// What the team can do, while the risk is ongoing (see [`super::steps`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub episode_start: Option<OffsetDateTime>,
    #[serde(default)]
    pub admin_center: AdminCenter,
    /// The destinations told of this risk episode before this alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
    /// Buttons to act on the identity, when actions are configured and its risk is ongoing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionButton>,
    /// The analyst's action this change follows from, when one was taken from an alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acted: Option<ActionNotice>,
    /// Set when the identity is snoozed and this alert broke through: who snoozed it and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed: Option<crate::snooze::SnoozedNote>,
}

impl WorkloadAlert {
    /// The level a destination's minimum is compared with (as for a user:
    /// [`crate::alert::routing_level`]).
    pub fn routing_level(&self) -> RiskLevel {
        crate::alert::routing_level(
            &self.change,
            self.previous.as_ref().map(|(l, _)| l),
            &self.workload.risk_level,
        )
    }

    pub fn wanted_by(
        &self,
        sink: &str,
        min_level: &RiskLevel,
        kinds: &std::collections::BTreeSet<crate::alert::AlertKind>,
    ) -> bool {
        crate::alert::wanted(
            &self.change,
            self.told.iter().any(|t| t == sink),
            &self.routing_level(),
            min_level,
            kinds,
        )
    }

    pub fn display_name(&self) -> String {
        self.context
            .found()
            .and_then(|c| c.display_name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| self.workload.name())
    }

    /// One incident per risk episode, as for a user.
    pub fn incident(&self) -> String {
        crate::alert::keys::incident(subject(self.tenant_id, &self.workload), self.episode_start)
    }
}

/// Whom keys and incidents name: "servicePrincipal/<tenant>/<id>", "agent/<tenant>/<id>".
fn subject(tenant: TenantId, w: &RiskyWorkload) -> String {
    format!("{}/{tenant}/{}", w.kind.name(), w.id)
}

/// The alert's stable key: what changed, and when Graph says it did.
pub fn key(
    tenant: TenantId,
    w: &RiskyWorkload,
    change: &Change,
    detections: &[WorkloadDetection],
) -> String {
    crate::alert::keys::change_of(
        &subject(tenant, w),
        change,
        w.risk_last_updated,
        detections.iter().map(|d| d.id.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snooze;
    use time::macros::datetime;

    #[test]
    fn what_breaks_through_a_workload_identitys_snooze() {
        let now = datetime!(2026-11-26 10:00 UTC);
        let mut s = snooze::new("app:sp-9", time::Duration::days(1), "r", "a", None, now).unwrap();
        s.level = Some(RiskLevel::Medium);
        let through = |c: Change, l: RiskLevel| c.breaks_through(&l, &s);
        assert!(through(Change::ConfirmedCompromised, RiskLevel::Medium));
        assert!(through(Change::NewRisk, RiskLevel::High));
        assert!(!through(Change::NewRisk, RiskLevel::Medium));
        assert!(!through(Change::NewDetections, RiskLevel::High));
        assert!(!through(
            Change::Lowered {
                from: RiskLevel::High
            },
            RiskLevel::Low
        ));
    }
}
