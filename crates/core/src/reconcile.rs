//! Reconcile: compare what Graph says about a user now with what riskrelay saw last, and decide
//! what changed. Pure: no I/O, no clock.
//!
//! Duplicates are removed by comparing state, not by trusting time: an observation that repeats
//! the last-seen state changes nothing, and one older than the last-seen state (a late webhook
//! hint, an overlapping poll) is ignored.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::alert::Change;
use crate::ids::UserId;
use crate::risk::{RiskDetail, RiskDetection, RiskLevel, RiskState, RiskyUser};

/// How many detection ids are remembered per user. A user at risk rarely has more than a few
/// dozen; the cap bounds the stored record (DynamoDB items are limited to 400 KB).
pub const MAX_KNOWN_DETECTIONS: usize = 500;

/// What riskrelay last saw of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserState {
    pub user_id: UserId,
    pub risk_level: RiskLevel,
    pub risk_state: RiskState,
    pub risk_detail: RiskDetail,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub risk_last_updated: Option<OffsetDateTime>,
    /// Ids of the open detections already reported, oldest first.
    #[serde(default)]
    pub known_detections: Vec<String>,
    /// Set when the state was recorded as the first run's baseline, which reads users but not
    /// their detections: detections from before this time are part of the announced baseline,
    /// not news.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub baseline_at: Option<OffsetDateTime>,
    /// When the current risk episode began (Graph's `riskLastUpdatedDateTime` when riskrelay first
    /// saw the user at risk); `None` when not at risk, or for an episode older than this field.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub episode_start: Option<OffsetDateTime>,
    /// When a message about the user last went out (see [`crate::coalesce`]).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_alert_at: Option<OffsetDateTime>,
    /// New detections folded since then, waiting for the next message about the user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folded: Vec<RiskDetection>,
    /// The destinations told of the current risk episode: each is told of its end, whatever its
    /// minimum level and the alert kinds configured (a paging destination would otherwise keep
    /// the incident open for ever).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
}

impl UserState {
    pub fn is_risky(&self) -> bool {
        self.risk_state.is_risky()
    }
}

/// The outcome of reconciling one observation: of a user by default, of a workload identity
/// with its own detection and state types (`crate::workload::WorkloadReconciled`).
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled<D = RiskDetection, S = UserState> {
    /// At most one change: a level change carries the new detections with it.
    pub change: Option<Change>,
    /// The detections the change is about.
    pub detections: Vec<D>,
    /// What to remember; `None` when the observation was stale and nothing may be written.
    pub next: Option<S>,
}

/// Detections that still carry risk: remediated or dismissed ones are history, not news.
fn is_open(d: &RiskDetection) -> bool {
    d.risk_state.is_risky()
}

/// Which detections a change shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Every open one: a new risk, or a compromise confirmed from nothing.
    Open,
    /// The ones not reported before.
    Fresh,
    Nothing,
}

/// What changed between the last-seen risk (`prev`: level and state) and now, the same rules for
/// a user and a workload identity; `fresh` says whether new open detections arrived.
pub fn change_between(
    prev: Option<(&RiskLevel, &RiskState)>,
    level: &RiskLevel,
    state: &RiskState,
    detail: &RiskDetail,
    fresh: bool,
) -> (Option<Change>, Shown) {
    let was_risky = prev.is_some_and(|(_, s)| s.is_risky());
    match (was_risky, state.is_risky()) {
        (false, true) if *state == RiskState::ConfirmedCompromised => {
            (Some(Change::ConfirmedCompromised), Shown::Open)
        }
        (false, true) => (Some(Change::NewRisk), Shown::Open),
        (true, true) => match prev {
            Some((_, was))
                if *state == RiskState::ConfirmedCompromised
                    && *was != RiskState::ConfirmedCompromised =>
            {
                (Some(Change::ConfirmedCompromised), Shown::Fresh)
            }
            Some((from, _)) if from != level => match (from.rank(), level.rank()) {
                (Some(a), Some(b)) if b < a => {
                    (Some(Change::Lowered { from: from.clone() }), Shown::Fresh)
                }
                // Up, or a change involving a level without a rank (hidden, unknown): reported
                // as an escalation so that it is never silently lost.
                _ => (Some(Change::Escalated { from: from.clone() }), Shown::Fresh),
            },
            _ if fresh => (Some(Change::NewDetections), Shown::Fresh),
            _ => (None, Shown::Nothing),
        },
        (true, false) => {
            let how = detail.clone();
            let dismissed = matches!(state, RiskState::Dismissed | RiskState::ConfirmedSafe)
                || how.is_admin_dismissal();
            if dismissed {
                (Some(Change::Dismissed { how }), Shown::Nothing)
            } else {
                (Some(Change::Remediated { how }), Shown::Nothing)
            }
        }
        (false, false) => (None, Shown::Nothing),
    }
}

/// A risk episode's bookkeeping from one observation to the next, the same for a user and a
/// workload identity: whether the subject was at risk before and is now.
#[derive(Debug, Clone, Copy)]
pub struct Episode {
    pub was_risky: bool,
    pub is_risky: bool,
}

impl Episode {
    /// The open detections already reported, oldest first and capped; forgotten once the risk
    /// has ended.
    pub fn known<'a>(self, known: &[String], open: impl Iterator<Item = &'a str>) -> Vec<String> {
        if !self.is_risky {
            return Vec::new();
        }
        let mut k: Vec<String> = known.to_vec();
        for id in open {
            if !k.iter().any(|x| x == id) {
                k.push(id.to_string());
            }
        }
        let excess = k.len().saturating_sub(MAX_KNOWN_DETECTIONS);
        k.drain(..excess);
        k
    }

    /// When the episode began: stable for its whole length (a paging incident is keyed on it),
    /// Graph's stamp when it begins now, nothing once it has ended.
    pub fn start(
        self,
        before: Option<OffsetDateTime>,
        stamp: Option<OffsetDateTime>,
    ) -> Option<OffsetDateTime> {
        match (self.is_risky, self.was_risky) {
            (true, true) => before,
            (true, false) => stamp,
            (false, _) => None,
        }
    }

    /// The destinations told of the episode: carried through it; its end is told, then forgotten.
    pub fn told(self, before: Option<&[String]>) -> Vec<String> {
        match (self.is_risky, self.was_risky) {
            (true, true) => before.map(<[String]>::to_vec).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

pub fn reconcile(
    prev: Option<&UserState>,
    user: &RiskyUser,
    detections: &[RiskDetection],
) -> Reconciled {
    let seen = prev.and_then(|p| p.risk_last_updated);
    if let (Some(seen), Some(now)) = (seen, user.risk_last_updated_date_time)
        && now < seen
    {
        return Reconciled {
            change: None,
            detections: Vec::new(),
            next: None,
        };
    }

    let mut open: Vec<RiskDetection> = detections
        .iter()
        .filter(|d| d.user_id == user.id && is_open(d))
        .cloned()
        .collect();
    open.sort_by(|a, b| b.when().cmp(&a.when()).then_with(|| a.id.cmp(&b.id)));
    open.dedup_by(|a, b| a.id == b.id);
    let known: &[String] = prev.map(|p| p.known_detections.as_slice()).unwrap_or(&[]);
    let baseline_at = prev.and_then(|p| p.baseline_at);
    let before_baseline = |d: &RiskDetection| {
        baseline_at.is_some_and(|b| {
            d.detected_date_time
                .or(d.last_updated_date_time)
                .is_none_or(|t| t <= b)
        })
    };
    let fresh: Vec<RiskDetection> = open
        .iter()
        .filter(|d| !known.contains(&d.id) && !before_baseline(d))
        .cloned()
        .collect();

    let was_risky = prev.is_some_and(UserState::is_risky);
    let is_risky = user.risk_state.is_risky();
    let (change, shown) = change_between(
        prev.map(|p| (&p.risk_level, &p.risk_state)),
        &user.risk_level,
        &user.risk_state,
        &user.risk_detail,
        !fresh.is_empty(),
    );
    let shown = match shown {
        Shown::Open => open.clone(),
        Shown::Fresh => fresh,
        Shown::Nothing => Vec::new(),
    };

    let episode = Episode {
        was_risky,
        is_risky,
    };
    let next = UserState {
        user_id: user.id,
        risk_level: user.risk_level.clone(),
        risk_state: user.risk_state.clone(),
        risk_detail: user.risk_detail.clone(),
        risk_last_updated: user
            .risk_last_updated_date_time
            .or(prev.and_then(|p| p.risk_last_updated)),
        known_detections: episode.known(known, open.iter().map(|d| d.id.as_str())),
        baseline_at: if is_risky { baseline_at } else { None },
        episode_start: episode.start(
            prev.and_then(|p| p.episode_start),
            user.risk_last_updated_date_time,
        ),
        last_alert_at: prev.and_then(|p| p.last_alert_at),
        folded: prev.map(|p| p.folded.clone()).unwrap_or_default(),
        told: episode.told(prev.map(|p| p.told.as_slice())),
    };
    Reconciled {
        change,
        detections: shown,
        next: Some(next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::DetectionTimingType;
    use time::macros::datetime;

    const U: &str = "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b";

    fn user(
        level: RiskLevel,
        state: RiskState,
        detail: RiskDetail,
        at: OffsetDateTime,
    ) -> RiskyUser {
        RiskyUser {
            id: UserId::parse(U).unwrap(),
            user_principal_name: Some("adsync2@contoso.com".into()),
            user_display_name: Some("Adsync User 2".into()),
            risk_level: level,
            risk_state: state,
            risk_detail: detail,
            risk_last_updated_date_time: Some(at),
            is_deleted: false,
            is_processing: false,
        }
    }

    fn det(id: &str, state: RiskState) -> RiskDetection {
        RiskDetection {
            id: id.into(),
            user_id: UserId::parse(U).unwrap(),
            risk_event_type: "unfamiliarFeatures".into(),
            risk_level: RiskLevel::Medium,
            risk_state: state,
            risk_detail: RiskDetail::None,
            detection_timing_type: DetectionTimingType::Realtime,
            activity: Some("signin".into()),
            source: None,
            ip_address: None,
            location: None,
            activity_date_time: Some(datetime!(2026-11-25 09:00 UTC)),
            detected_date_time: None,
            last_updated_date_time: None,
            user_display_name: None,
            user_principal_name: None,
            additional_info: None,
        }
    }

    use RiskDetail as D;
    use RiskLevel as L;
    use RiskState as S;

    #[test]
    fn the_episode_start_holds_for_the_whole_episode_and_the_next_one_is_new() {
        let t = |h: u8| datetime!(2026-11-25 00:00 UTC) + time::Duration::hours(h.into());
        let first = reconcile(None, &user(L::Medium, S::AtRisk, D::None, t(1)), &[])
            .next
            .unwrap();
        assert_eq!(first.episode_start, Some(t(1)));
        let raised = reconcile(Some(&first), &user(L::High, S::AtRisk, D::None, t(2)), &[])
            .next
            .unwrap();
        assert_eq!(raised.episode_start, Some(t(1)), "the same episode");
        let ended = reconcile(
            Some(&raised),
            &user(
                L::None,
                S::Remediated,
                D::UserPerformedSecuredPasswordChange,
                t(3),
            ),
            &[],
        )
        .next
        .unwrap();
        assert_eq!(ended.episode_start, None);
        let again = reconcile(Some(&ended), &user(L::Low, S::AtRisk, D::None, t(4)), &[])
            .next
            .unwrap();
        assert_eq!(again.episode_start, Some(t(4)), "a new episode");
    }

    struct Step {
        user: RiskyUser,
        detections: Vec<RiskDetection>,
        expect: Option<Change>,
        expect_shown: usize,
    }

    fn step(
        level: L,
        state: S,
        detail: D,
        at: OffsetDateTime,
        dets: &[(&str, S)],
        expect: Option<Change>,
        shown: usize,
    ) -> Step {
        Step {
            user: user(level, state, detail, at),
            detections: dets.iter().map(|(id, s)| det(id, s.clone())).collect(),
            expect,
            expect_shown: shown,
        }
    }

    fn run(name: &str, steps: Vec<Step>) {
        let mut state: Option<UserState> = None;
        for (i, s) in steps.into_iter().enumerate() {
            let out = reconcile(state.as_ref(), &s.user, &s.detections);
            assert_eq!(out.change, s.expect, "{name}, step {i}");
            assert_eq!(
                out.detections.len(),
                s.expect_shown,
                "{name}, step {i}: detections shown"
            );
            if let Some(next) = out.next {
                state = Some(next);
            }
        }
    }

    const T1: OffsetDateTime = datetime!(2026-11-25 10:00 UTC);
    const T2: OffsetDateTime = datetime!(2026-11-25 10:05 UTC);
    const T3: OffsetDateTime = datetime!(2026-11-25 10:10 UTC);

    #[test]
    fn table_of_sequences() {
        let cases: Vec<(&str, Vec<Step>)> = vec![
            (
                "none to high",
                vec![step(
                    L::High,
                    S::AtRisk,
                    D::None,
                    T1,
                    &[("a", S::AtRisk)],
                    Some(Change::NewRisk),
                    1,
                )],
            ),
            (
                "medium to high",
                vec![
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[("a", S::AtRisk)],
                        Some(Change::NewRisk),
                        1,
                    ),
                    step(
                        L::High,
                        S::AtRisk,
                        D::None,
                        T2,
                        &[("a", S::AtRisk), ("b", S::AtRisk)],
                        Some(Change::Escalated { from: L::Medium }),
                        1,
                    ),
                ],
            ),
            (
                "high to medium",
                vec![
                    step(
                        L::High,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[],
                        Some(Change::NewRisk),
                        0,
                    ),
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T2,
                        &[],
                        Some(Change::Lowered { from: L::High }),
                        0,
                    ),
                ],
            ),
            (
                "new detections at the same level",
                vec![
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[("a", S::AtRisk)],
                        Some(Change::NewRisk),
                        1,
                    ),
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T2,
                        &[("a", S::AtRisk), ("b", S::AtRisk), ("c", S::AtRisk)],
                        Some(Change::NewDetections),
                        2,
                    ),
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T3,
                        &[("b", S::AtRisk)],
                        None,
                        0,
                    ),
                ],
            ),
            (
                "dismissed",
                vec![
                    step(
                        L::High,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[],
                        Some(Change::NewRisk),
                        0,
                    ),
                    step(
                        L::None,
                        S::Dismissed,
                        D::AdminDismissedAllRiskForUser,
                        T2,
                        &[],
                        Some(Change::Dismissed {
                            how: D::AdminDismissedAllRiskForUser,
                        }),
                        0,
                    ),
                ],
            ),
            (
                "confirmed compromised",
                vec![
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[],
                        Some(Change::NewRisk),
                        0,
                    ),
                    step(
                        L::High,
                        S::ConfirmedCompromised,
                        D::AdminConfirmedUserCompromised,
                        T2,
                        &[],
                        Some(Change::ConfirmedCompromised),
                        0,
                    ),
                    step(
                        L::High,
                        S::ConfirmedCompromised,
                        D::AdminConfirmedUserCompromised,
                        T2,
                        &[],
                        None,
                        0,
                    ),
                ],
            ),
            (
                "compromised without prior risk",
                vec![step(
                    L::High,
                    S::ConfirmedCompromised,
                    D::AdminConfirmedUserCompromised,
                    T1,
                    &[],
                    Some(Change::ConfirmedCompromised),
                    0,
                )],
            ),
            (
                "the same observation twice",
                vec![
                    step(
                        L::High,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[("a", S::AtRisk)],
                        Some(Change::NewRisk),
                        1,
                    ),
                    step(
                        L::High,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[("a", S::AtRisk)],
                        None,
                        0,
                    ),
                ],
            ),
            (
                "two overlapping polls",
                vec![
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[("a", S::AtRisk)],
                        Some(Change::NewRisk),
                        1,
                    ),
                    step(
                        L::High,
                        S::AtRisk,
                        D::None,
                        T2,
                        &[("a", S::AtRisk), ("b", S::AtRisk)],
                        Some(Change::Escalated { from: L::Medium }),
                        1,
                    ),
                    // The next poll's window overlaps: it sees the same user and detections again.
                    step(
                        L::High,
                        S::AtRisk,
                        D::None,
                        T2,
                        &[("a", S::AtRisk), ("b", S::AtRisk)],
                        None,
                        0,
                    ),
                ],
            ),
            (
                "out of order: an older observation after a newer one changes nothing",
                vec![
                    step(
                        L::High,
                        S::AtRisk,
                        D::None,
                        T2,
                        &[("a", S::AtRisk)],
                        Some(Change::NewRisk),
                        1,
                    ),
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[("z", S::AtRisk)],
                        None,
                        0,
                    ),
                    step(
                        L::High,
                        S::AtRisk,
                        D::None,
                        T2,
                        &[("a", S::AtRisk)],
                        None,
                        0,
                    ),
                ],
            ),
            (
                "remediated detections are not news",
                vec![
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[("a", S::AtRisk)],
                        Some(Change::NewRisk),
                        1,
                    ),
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T2,
                        &[("b", S::Remediated)],
                        None,
                        0,
                    ),
                ],
            ),
            (
                "a hidden level is reported, not judged",
                vec![
                    step(
                        L::Medium,
                        S::AtRisk,
                        D::None,
                        T1,
                        &[],
                        Some(Change::NewRisk),
                        0,
                    ),
                    step(
                        L::Hidden,
                        S::AtRisk,
                        D::None,
                        T2,
                        &[],
                        Some(Change::Escalated { from: L::Medium }),
                        0,
                    ),
                ],
            ),
            (
                "never risky: nothing",
                vec![step(
                    L::None,
                    S::Remediated,
                    D::UserChangedPasswordOnPremises,
                    T1,
                    &[],
                    None,
                    0,
                )],
            ),
        ];
        for (name, steps) in cases {
            run(name, steps);
        }
    }

    #[test]
    fn remediated_by_each_detail_that_means_remediation() {
        // (detail, whether it means an administrator dismissed the risk)
        let cases: Vec<(D, bool)> = vec![
            (D::UserChangedPasswordOnPremises, false),
            (D::UserPerformedSecuredPasswordChange, false),
            (D::UserPerformedSecuredPasswordReset, false),
            (D::AdminGeneratedTemporaryPassword, false),
            (D::UserPassedMfaDrivenByRiskBasedPolicy, false),
            (D::AiConfirmedSigninSafe, false),
            (D::Unknown("aNewWayToRemediate".into()), false),
            (D::AdminDismissedAllRiskForUser, true),
            (D::AdminConfirmedSigninSafe, true),
            (D::AdminConfirmedAccountSafe, true),
        ];
        for (how, dismissal) in cases {
            let expected = |how: D| {
                if dismissal {
                    Change::Dismissed { how }
                } else {
                    Change::Remediated { how }
                }
            };
            let new_risk = Some(Change::NewRisk);
            run(
                how.as_wire(),
                vec![
                    step(L::High, S::AtRisk, D::None, T1, &[], new_risk, 0),
                    step(
                        L::None,
                        S::Remediated,
                        how.clone(),
                        T2,
                        &[],
                        Some(expected(how.clone())),
                        0,
                    ),
                    step(L::None, S::Remediated, how.clone(), T3, &[], None, 0),
                ],
            );
        }
    }

    #[test]
    fn detections_from_before_the_baseline_are_not_news() {
        let mut base = reconcile(None, &user(L::Medium, S::AtRisk, D::None, T1), &[])
            .next
            .unwrap();
        base.baseline_at = Some(T2);
        let mut old = det("old", S::AtRisk);
        old.detected_date_time = Some(T1);
        let mut new = det("new", S::AtRisk);
        new.detected_date_time = Some(T3);
        let user_now = user(L::Medium, S::AtRisk, D::None, T1);
        let out = reconcile(Some(&base), &user_now, std::slice::from_ref(&old));
        assert_eq!(out.change, None, "the baseline already covered it");
        let out = reconcile(Some(&base), &user_now, &[old, new]);
        assert_eq!(out.change, Some(Change::NewDetections));
        let ids: Vec<&str> = out.detections.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, vec!["new"]);
    }

    #[test]
    fn stale_observations_write_nothing_and_known_detections_are_capped() {
        let newer = reconcile(None, &user(L::High, S::AtRisk, D::None, T2), &[])
            .next
            .unwrap();
        assert_eq!(
            reconcile(Some(&newer), &user(L::Low, S::AtRisk, D::None, T1), &[]).next,
            None
        );

        let many: Vec<RiskDetection> = (0..MAX_KNOWN_DETECTIONS + 20)
            .map(|i| det(&format!("d{i:04}"), S::AtRisk))
            .collect();
        let out = reconcile(None, &user(L::High, S::AtRisk, D::None, T1), &many);
        assert_eq!(
            out.next.unwrap().known_detections.len(),
            MAX_KNOWN_DETECTIONS
        );
        let ended = reconcile(
            Some(&newer),
            &user(L::None, S::Remediated, D::UserChangedPasswordOnPremises, T3),
            &[],
        );
        assert!(ended.next.unwrap().known_detections.is_empty());
    }
}
