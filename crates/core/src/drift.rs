//! The drift guard's decisions: when "Allow on-premises password change to reset user risk" is
//! found off, what to say and whether to correct it. Pure; `riskrelay::checks` does the I/O.
//!
//! A drift *episode* starts when the setting is first seen off and ends when it is seen on again.
//! Each episode is announced once and, in enforce mode, corrected at most once (one PATCH, then a
//! read-back). A 403 on the PATCH means the app lacks Policy.ReadWrite.IdentityProtection: said
//! once per episode, and the guard falls back to reporting. 400/404 mean the undocumented beta
//! endpoint is not there in this tenant or cloud: said once, until it answers again. Nothing
//! here retries in a loop; the next scheduled check is the retry.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DriftMode {
    Off,
    Report,
    Enforce,
}

impl std::str::FromStr for DriftMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "report" => Ok(Self::Report),
            "enforce" => Ok(Self::Enforce),
            _ => Err("one of off, report, enforce".into()),
        }
    }
}

/// What reading the setting found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    On,
    Off,
    /// 400 or 404: the endpoint is not available here.
    Unavailable {
        status: u16,
    },
    /// 403 on the read: the app lacks Policy.Read.IdentityProtection.
    ReadForbidden,
    /// The policy answered without the member (or not as a boolean).
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Correction {
    NotTried,
    /// A PATCH is being made (claimed in the store so that a second container does not make one).
    InFlight,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Episode {
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    pub announced: bool,
    pub correction: Correction,
    /// Why this episode's correction failed, in words for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// Stored per tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftState {
    #[serde(default)]
    pub episode: Option<Episode>,
    /// The "cannot check" notice last said (unavailable endpoint, missing read permission), so
    /// that it is said once until something changes.
    #[serde(default)]
    pub notice: Option<String>,
}

/// Something to tell people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftNotice {
    /// Found off (report mode, or enforce mode falling back).
    Drift { since: OffsetDateTime },
    /// On again after an episode riskrelay did not correct.
    Restored { since: OffsetDateTime },
    /// riskrelay turned it back on and read it back on.
    Corrected {
        since: OffsetDateTime,
        at: OffsetDateTime,
    },
    /// The PATCH succeeded but the read-back still says off.
    CorrectionDidNotStick {
        since: OffsetDateTime,
        at: OffsetDateTime,
    },
    /// The PATCH was refused with 403.
    CannotEnforce { since: OffsetDateTime },
    /// The PATCH failed for another reason; the next check tries again.
    CorrectionDeferred {
        since: OffsetDateTime,
        reason: String,
    },
    /// 400/404 on the endpoint.
    Unavailable { status: u16 },
    /// 403 on the read.
    ReadForbidden,
    /// The policy has no such member.
    Missing,
    /// The setting can be read again after a "cannot check" notice, and it is on: that notice's
    /// incident ends (a paging destination would otherwise keep it open for ever).
    Checkable { at: OffsetDateTime },
}

impl DriftNotice {
    /// Stable part of the alert key: the same notice about the same episode is one alert.
    pub fn key(&self) -> String {
        let t = |t: &OffsetDateTime| t.unix_timestamp();
        match self {
            Self::Drift { since } => format!("drift/{}", t(since)),
            Self::Restored { since } => format!("restored/{}", t(since)),
            Self::Corrected { since, .. } => format!("corrected/{}", t(since)),
            Self::CorrectionDidNotStick { since, .. } => format!("did-not-stick/{}", t(since)),
            Self::CannotEnforce { since } => format!("cannot-enforce/{}", t(since)),
            Self::CorrectionDeferred { since, .. } => format!("deferred/{}", t(since)),
            Self::Unavailable { status } => format!("unavailable/{status}"),
            Self::ReadForbidden => "read-forbidden".into(),
            Self::Missing => "missing".into(),
            Self::Checkable { at } => format!("checkable/{}", t(at)),
        }
    }
}

/// How long a claimed PATCH may take (with its read-back and retries) before the claim is
/// considered abandoned by a run that died.
pub const IN_FLIGHT_TIMEOUT: time::Duration = time::Duration::minutes(5);

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Make the one PATCH of this episode (enforce mode).
    pub patch: bool,
    pub notices: Vec<DriftNotice>,
    pub next: DriftState,
}

/// Decides from the last state and what the read found.
pub fn decide(
    mode: DriftMode,
    prev: &DriftState,
    observed: &Observed,
    now: OffsetDateTime,
) -> Plan {
    let mut next = prev.clone();
    let mut notices = Vec::new();
    let mut patch = false;
    if mode == DriftMode::Off {
        return Plan {
            patch,
            notices,
            next,
        };
    }
    let say_once = |next: &mut DriftState, notices: &mut Vec<DriftNotice>, n: DriftNotice| {
        if next.notice.as_deref() != Some(n.key().as_str()) {
            next.notice = Some(n.key());
            notices.push(n);
        }
    };
    match observed {
        Observed::On => {
            let was_blind = next.notice.take().is_some();
            match next.episode.take() {
                Some(ep) if ep.announced => notices.push(DriftNotice::Restored { since: ep.since }),
                _ if was_blind => notices.push(DriftNotice::Checkable { at: now }),
                _ => {}
            }
        }
        Observed::Off => {
            next.notice = None;
            let ep = next.episode.get_or_insert(Episode {
                since: now,
                announced: false,
                correction: Correction::NotTried,
                failure: None,
            });
            match (mode, &ep.correction) {
                (DriftMode::Enforce, Correction::NotTried) => {
                    ep.correction = Correction::InFlight;
                    patch = true;
                }
                // Another run is making the PATCH right now: leave it to that run.
                (DriftMode::Enforce, Correction::InFlight)
                    if now - ep.since < IN_FLIGHT_TIMEOUT => {}
                // A PATCH claimed by a run that died before finishing: announce rather than
                // patch again; the episode's one attempt is spent.
                (DriftMode::Enforce, Correction::InFlight) if !ep.announced => {
                    ep.correction = Correction::Failed;
                    ep.announced = true;
                    notices.push(DriftNotice::Drift { since: ep.since });
                }
                _ if !ep.announced => {
                    ep.announced = true;
                    notices.push(DriftNotice::Drift { since: ep.since });
                }
                _ => {}
            }
        }
        Observed::Unavailable { status } => say_once(
            &mut next,
            &mut notices,
            DriftNotice::Unavailable { status: *status },
        ),
        Observed::ReadForbidden => say_once(&mut next, &mut notices, DriftNotice::ReadForbidden),
        Observed::Missing => say_once(&mut next, &mut notices, DriftNotice::Missing),
    }
    Plan {
        patch,
        notices,
        next,
    }
}

/// How the PATCH and the read-back went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchResult {
    /// PATCH accepted; the read-back says on.
    Stuck,
    /// PATCH accepted; the read-back still says off (or could not be read).
    DidNotStick,
    Forbidden,
    Unavailable {
        status: u16,
    },
    /// A transient failure (throttling, 5xx, timeout): try again at the next check.
    Transient {
        reason: String,
    },
}

/// The state and notices after the episode's PATCH.
pub fn after_patch(
    state: &DriftState,
    result: &PatchResult,
    now: OffsetDateTime,
) -> (DriftState, Vec<DriftNotice>) {
    let mut next = state.clone();
    let Some(ep) = next.episode.as_mut() else {
        return (next, Vec::new());
    };
    let since = ep.since;
    let notices = match result {
        PatchResult::Stuck => {
            next.episode = None;
            vec![DriftNotice::Corrected { since, at: now }]
        }
        PatchResult::DidNotStick => {
            ep.correction = Correction::Failed;
            ep.announced = true;
            vec![DriftNotice::CorrectionDidNotStick { since, at: now }]
        }
        PatchResult::Forbidden => {
            ep.correction = Correction::Failed;
            ep.announced = true;
            vec![DriftNotice::CannotEnforce { since }]
        }
        PatchResult::Unavailable { status } => {
            ep.correction = Correction::Failed;
            ep.announced = true;
            next.notice = Some(DriftNotice::Unavailable { status: *status }.key());
            vec![
                DriftNotice::Unavailable { status: *status },
                DriftNotice::Drift { since },
            ]
        }
        PatchResult::Transient { reason } => {
            ep.correction = Correction::NotTried;
            let first = !ep.announced;
            ep.announced = true;
            if first {
                vec![DriftNotice::CorrectionDeferred {
                    since,
                    reason: reason.clone(),
                }]
            } else {
                Vec::new()
            }
        }
    };
    (next, notices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-25 10:00 UTC);
    const T1: OffsetDateTime = datetime!(2026-11-25 10:15 UTC);
    const T2: OffsetDateTime = datetime!(2026-11-25 10:30 UTC);

    #[test]
    fn report_mode_one_alert_per_episode_and_one_back_to_normal() {
        let s0 = DriftState::default();
        let p = decide(DriftMode::Report, &s0, &Observed::Off, T0);
        assert_eq!(p.notices, vec![DriftNotice::Drift { since: T0 }]);
        assert!(!p.patch);
        let p2 = decide(DriftMode::Report, &p.next, &Observed::Off, T1);
        assert!(p2.notices.is_empty(), "still the same episode");
        let p3 = decide(DriftMode::Report, &p2.next, &Observed::On, T2);
        assert_eq!(p3.notices, vec![DriftNotice::Restored { since: T0 }]);
        assert_eq!(p3.next.episode, None);
        assert!(
            decide(DriftMode::Report, &p3.next, &Observed::On, T2)
                .notices
                .is_empty()
        );
    }

    #[test]
    fn enforce_patches_once_per_episode() {
        let p = decide(
            DriftMode::Enforce,
            &DriftState::default(),
            &Observed::Off,
            T0,
        );
        assert!(p.patch && p.notices.is_empty());
        let (s, n) = after_patch(&p.next, &PatchResult::Stuck, T0);
        assert_eq!(n, vec![DriftNotice::Corrected { since: T0, at: T0 }]);
        assert_eq!(s.episode, None);

        let p = decide(
            DriftMode::Enforce,
            &DriftState::default(),
            &Observed::Off,
            T0,
        );
        let (s, n) = after_patch(&p.next, &PatchResult::DidNotStick, T0);
        assert_eq!(
            n,
            vec![DriftNotice::CorrectionDidNotStick { since: T0, at: T0 }]
        );
        let again = decide(DriftMode::Enforce, &s, &Observed::Off, T1);
        assert!(
            !again.patch && again.notices.is_empty(),
            "no second PATCH, no second alert"
        );
    }

    #[test]
    fn forbidden_patch_is_said_once_and_falls_back_to_reporting() {
        let p = decide(
            DriftMode::Enforce,
            &DriftState::default(),
            &Observed::Off,
            T0,
        );
        let (s, n) = after_patch(&p.next, &PatchResult::Forbidden, T0);
        assert_eq!(n, vec![DriftNotice::CannotEnforce { since: T0 }]);
        for t in [T1, T2] {
            let p = decide(DriftMode::Enforce, &s, &Observed::Off, t);
            assert!(!p.patch && p.notices.is_empty());
        }
        assert_eq!(
            decide(DriftMode::Enforce, &s, &Observed::On, T2).notices,
            vec![DriftNotice::Restored { since: T0 }]
        );
    }

    #[test]
    fn unavailable_and_forbidden_reads_are_said_once() {
        let p = decide(
            DriftMode::Enforce,
            &DriftState::default(),
            &Observed::Unavailable { status: 404 },
            T0,
        );
        assert_eq!(p.notices, vec![DriftNotice::Unavailable { status: 404 }]);
        assert!(!p.patch);
        assert!(
            decide(
                DriftMode::Enforce,
                &p.next,
                &Observed::Unavailable { status: 404 },
                T1
            )
            .notices
            .is_empty()
        );
        let f = decide(DriftMode::Report, &p.next, &Observed::ReadForbidden, T1);
        assert_eq!(f.notices, vec![DriftNotice::ReadForbidden]);
        let back = decide(DriftMode::Report, &f.next, &Observed::On, T2);
        assert_eq!(back.next.notice, None);
        // The "cannot check" notice opened an incident; readable and on again ends it, once.
        assert_eq!(back.notices, vec![DriftNotice::Checkable { at: T2 }]);
        assert!(
            decide(DriftMode::Report, &back.next, &Observed::On, T2)
                .notices
                .is_empty()
        );
        // Readable and off: the drift episode takes the incident over, and its end closes it.
        let off = decide(DriftMode::Report, &f.next, &Observed::Off, T2);
        assert_eq!(off.notices, vec![DriftNotice::Drift { since: T2 }]);
    }

    #[test]
    fn a_transient_patch_failure_is_retried_at_the_next_check_not_in_a_loop() {
        let p = decide(
            DriftMode::Enforce,
            &DriftState::default(),
            &Observed::Off,
            T0,
        );
        let (s, n) = after_patch(
            &p.next,
            &PatchResult::Transient {
                reason: "503".into(),
            },
            T0,
        );
        assert!(matches!(n[..], [DriftNotice::CorrectionDeferred { .. }]));
        let p2 = decide(DriftMode::Enforce, &s, &Observed::Off, T1);
        assert!(p2.patch && p2.notices.is_empty());
    }

    #[test]
    fn a_crashed_patch_is_not_repeated() {
        let p = decide(
            DriftMode::Enforce,
            &DriftState::default(),
            &Observed::Off,
            T0,
        );
        // Another run holds the PATCH: a check a moment later leaves it alone.
        let busy = decide(
            DriftMode::Enforce,
            &p.next,
            &Observed::Off,
            T0 + time::Duration::seconds(20),
        );
        assert!(!busy.patch && busy.notices.is_empty());
        // The run died after claiming the PATCH: the stored state says InFlight.
        let p2 = decide(DriftMode::Enforce, &p.next, &Observed::Off, T1);
        assert!(!p2.patch);
        assert_eq!(p2.notices, vec![DriftNotice::Drift { since: T0 }]);
    }

    #[test]
    fn off_mode_does_nothing() {
        let p = decide(DriftMode::Off, &DriftState::default(), &Observed::Off, T0);
        assert!(!p.patch && p.notices.is_empty() && p.next == DriftState::default());
    }
}
