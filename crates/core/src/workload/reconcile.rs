//! A workload identity's last-seen risk against what Graph says now: the same rules as a user's
//! ([`crate::reconcile::change_between`]), with the detections a workload identity has.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{RiskyWorkload, WorkloadDetection, WorkloadKind};
use crate::reconcile::{Episode, Shown, change_between};
use crate::risk::{RiskDetail, RiskLevel, RiskState};

/// What riskrelay last saw of a workload identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadState {
    pub kind: WorkloadKind,
    pub id: String,
    pub risk_level: RiskLevel,
    pub risk_state: RiskState,
    pub risk_detail: RiskDetail,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub risk_last_updated: Option<OffsetDateTime>,
    /// Ids of the open detections already reported, oldest first.
    #[serde(default)]
    pub known_detections: Vec<String>,
    /// When the current risk episode began; a paging incident is keyed on it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub episode_start: Option<OffsetDateTime>,
    /// The destinations told of the current episode: each is told of its end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
}

impl WorkloadState {
    pub fn is_risky(&self) -> bool {
        self.risk_state.is_risky()
    }
}

/// The outcome of reconciling one workload identity.
pub type WorkloadReconciled = crate::reconcile::Reconciled<WorkloadDetection, WorkloadState>;

pub fn reconcile(
    prev: Option<&WorkloadState>,
    w: &RiskyWorkload,
    detections: &[WorkloadDetection],
) -> WorkloadReconciled {
    if let (Some(seen), Some(now)) = (prev.and_then(|p| p.risk_last_updated), w.risk_last_updated)
        && now < seen
    {
        return WorkloadReconciled {
            change: None,
            detections: Vec::new(),
            next: None,
        };
    }
    let mut open: Vec<WorkloadDetection> = detections
        .iter()
        .filter(|d| d.workload_id == w.id && d.is_open())
        .cloned()
        .collect();
    open.sort_by(|a, b| b.when().cmp(&a.when()).then_with(|| a.id.cmp(&b.id)));
    open.dedup_by(|a, b| a.id == b.id);
    let known: &[String] = prev.map(|p| p.known_detections.as_slice()).unwrap_or(&[]);
    let fresh: Vec<WorkloadDetection> = open
        .iter()
        .filter(|d| !known.contains(&d.id))
        .cloned()
        .collect();
    let (change, shown) = change_between(
        prev.map(|p| (&p.risk_level, &p.risk_state)),
        &w.risk_level,
        &w.risk_state,
        &w.risk_detail,
        !fresh.is_empty(),
    );
    let episode = Episode {
        was_risky: prev.is_some_and(WorkloadState::is_risky),
        is_risky: w.risk_state.is_risky(),
    };
    let next = WorkloadState {
        kind: w.kind,
        id: w.id.clone(),
        risk_level: w.risk_level.clone(),
        risk_state: w.risk_state.clone(),
        risk_detail: w.risk_detail.clone(),
        risk_last_updated: w
            .risk_last_updated
            .or(prev.and_then(|p| p.risk_last_updated)),
        known_detections: episode.known(known, open.iter().map(|d| d.id.as_str())),
        episode_start: episode.start(prev.and_then(|p| p.episode_start), w.risk_last_updated),
        told: episode.told(prev.map(|p| p.told.as_slice())),
    };
    WorkloadReconciled {
        detections: match shown {
            Shown::Open => open,
            Shown::Fresh => fresh,
            Shown::Nothing => Vec::new(),
        },
        change,
        next: Some(next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Change;
    use time::macros::datetime;

    fn sp(level: RiskLevel, state: RiskState, at: OffsetDateTime) -> RiskyWorkload {
        RiskyWorkload {
            kind: WorkloadKind::ServicePrincipal,
            id: "sp-1".into(),
            app_id: None,
            display_name: Some("Build pipeline".into()),
            workload_type: Some("Application".into()),
            is_enabled: Some(true),
            risk_level: level,
            risk_state: state,
            risk_detail: RiskDetail::None,
            risk_last_updated: Some(at),
        }
    }

    fn det(id: &str) -> WorkloadDetection {
        WorkloadDetection {
            id: id.into(),
            workload_id: "sp-1".into(),
            risk_event_type: "leakedCredentials".into(),
            risk_level: RiskLevel::High,
            risk_state: RiskState::AtRisk,
            detection_timing_type: Default::default(),
            ip_address: None,
            location: None,
            activity_date_time: None,
            detected_date_time: None,
            last_updated_date_time: None,
            key_ids: vec!["k1".into()],
            evidence: Vec::new(),
        }
    }

    #[test]
    fn an_episode_runs_from_new_risk_through_lowered_and_new_detections_to_its_end() {
        let t0 = datetime!(2026-12-01 10:00 UTC);
        let r = reconcile(
            None,
            &sp(RiskLevel::High, RiskState::AtRisk, t0),
            &[det("d1")],
        );
        assert_eq!(r.change, Some(Change::NewRisk));
        assert_eq!(r.detections.len(), 1);
        let s = r.next.unwrap();
        assert_eq!(s.episode_start, Some(t0));

        let t1 = t0 + time::Duration::hours(1);
        let r = reconcile(
            Some(&s),
            &sp(RiskLevel::Medium, RiskState::AtRisk, t1),
            &[det("d1")],
        );
        assert_eq!(
            r.change,
            Some(Change::Lowered {
                from: RiskLevel::High
            })
        );
        let s = r.next.unwrap();
        assert_eq!(s.episode_start, Some(t0), "one episode, one incident");

        let r = reconcile(
            Some(&s),
            &sp(RiskLevel::Medium, RiskState::AtRisk, t1),
            &[det("d1"), det("d2")],
        );
        assert_eq!(r.change, Some(Change::NewDetections));
        assert_eq!(
            r.detections
                .iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>(),
            ["d2"]
        );
        let s = r.next.unwrap();

        // The same again: nothing new.
        assert_eq!(
            reconcile(
                Some(&s),
                &sp(RiskLevel::Medium, RiskState::AtRisk, t1),
                &[det("d2")]
            )
            .change,
            None
        );
        // Older than what was seen: not even recorded.
        assert_eq!(
            reconcile(Some(&s), &sp(RiskLevel::High, RiskState::AtRisk, t0), &[]).next,
            None
        );

        let mut dismissed = sp(
            RiskLevel::None,
            RiskState::Dismissed,
            t1 + time::Duration::hours(1),
        );
        dismissed.risk_detail = RiskDetail::AdminDismissedAllRiskForServicePrincipal;
        let r = reconcile(Some(&s), &dismissed, &[]);
        assert!(matches!(r.change, Some(Change::Dismissed { .. })));
        assert_eq!(r.next.unwrap().episode_start, None);
    }

    #[test]
    fn an_administrator_confirming_a_compromise_is_its_own_change() {
        let t0 = datetime!(2026-12-01 10:00 UTC);
        let s = reconcile(None, &sp(RiskLevel::Medium, RiskState::AtRisk, t0), &[])
            .next
            .unwrap();
        let r = reconcile(
            Some(&s),
            &sp(
                RiskLevel::High,
                RiskState::ConfirmedCompromised,
                t0 + time::Duration::minutes(5),
            ),
            &[],
        );
        assert_eq!(r.change, Some(Change::ConfirmedCompromised));
    }
}
