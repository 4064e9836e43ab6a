//! Repeat coalescing: new detections for a user within `RISKRELAY_REPEAT_WINDOW_MINUTES` of the
//! last message about them are not posted one by one. They are folded into the user's stored
//! state and go out with the next message about the user, or as one update once the window has
//! passed. Each detection appears in exactly one message: a folded detection leaves the state only
//! when the message carrying it has been delivered (a failed delivery keeps the old state).
//!
//! Pure. The worker applies [`decide`]; the poll cycle hints the users whose window has passed
//! (listed in the per-tenant [`Folding`] document) so that their update goes out.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::alert::Change;
use crate::ids::UserId;
use crate::reconcile::UserState;
use crate::risk::RiskDetection;

/// Default window: a burst of detections (an attacker trying several sign-ins) is one story.
pub const DEFAULT_WINDOW: Duration = Duration::minutes(30);
/// Most detections held for one user; past this the update goes out at once, so the stored state
/// stays small (DynamoDB items are limited to 400 KB).
pub const FOLD_MAX: usize = 50;

/// What to say about a user now, and what to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The message to send, if any.
    pub change: Option<Change>,
    /// The detections it shows: what was folded before, then the new ones.
    pub detections: Vec<RiskDetection>,
    /// What stays folded for later.
    pub folded: Vec<RiskDetection>,
    /// When the last message went out, counting this one.
    pub last_alert_at: Option<OffsetDateTime>,
}

fn merged(mut first: Vec<RiskDetection>, then: Vec<RiskDetection>) -> Vec<RiskDetection> {
    for d in then {
        if !first.iter().any(|f| f.id == d.id) {
            first.push(d);
        }
    }
    first
}

/// Decides, for a user's change (if any), whether it is posted now, folded, or whether the folded
/// detections are due. `window` zero turns coalescing off.
pub fn decide(
    prev: Option<&UserState>,
    change: Option<Change>,
    detections: Vec<RiskDetection>,
    window: Duration,
    now: OffsetDateTime,
) -> Decision {
    let folded = prev.map(|p| p.folded.clone()).unwrap_or_default();
    let last = prev.and_then(|p| p.last_alert_at);
    let in_window = window > Duration::ZERO && last.is_some_and(|t| now < t + window);
    match change {
        Some(Change::NewDetections) if in_window && folded.len() + detections.len() <= FOLD_MAX => {
            Decision {
                change: None,
                detections: Vec::new(),
                folded: merged(folded, detections),
                last_alert_at: last,
            }
        }
        Some(change) => Decision {
            change: Some(change),
            detections: merged(folded, detections),
            folded: Vec::new(),
            last_alert_at: Some(now),
        },
        None if !folded.is_empty() && !in_window => Decision {
            change: Some(Change::NewDetections),
            detections: folded,
            folded: Vec::new(),
            last_alert_at: Some(now),
        },
        None => Decision {
            change: None,
            detections: Vec::new(),
            folded,
            last_alert_at: last,
        },
    }
}

/// The users holding folded detections and when their update is due (one document per tenant).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Folding {
    #[serde(default)]
    pub users: Vec<Due>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Due {
    pub user_id: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl Folding {
    /// Records (or moves) a user's due time.
    pub fn set(&mut self, user_id: UserId, at: OffsetDateTime) {
        self.users.retain(|d| d.user_id != user_id);
        self.users.push(Due { user_id, at });
    }

    pub fn remove(&mut self, user_id: UserId) {
        self.users.retain(|d| d.user_id != user_id);
    }

    pub fn due(&self, now: OffsetDateTime) -> Vec<UserId> {
        self.users
            .iter()
            .filter(|d| d.at <= now)
            .map(|d| d.user_id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::{RiskLevel, RiskState};
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);
    const W: Duration = Duration::minutes(30);

    fn d(id: &str) -> RiskDetection {
        serde_json::from_value(serde_json::json!({
            "id": id, "userId": "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b", "riskState": "atRisk"
        }))
        .unwrap()
    }

    fn state(last: Option<OffsetDateTime>, folded: &[&str]) -> UserState {
        UserState {
            user_id: UserId::parse("6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b").unwrap(),
            risk_level: RiskLevel::High,
            risk_state: RiskState::AtRisk,
            risk_detail: Default::default(),
            risk_last_updated: None,
            known_detections: Vec::new(),
            baseline_at: None,
            episode_start: None,
            last_alert_at: last,
            folded: folded.iter().map(|i| d(i)).collect(),
            told: Vec::new(),
        }
    }

    fn ids(v: &[RiskDetection]) -> Vec<&str> {
        v.iter().map(|d| d.id.as_str()).collect()
    }

    #[test]
    fn new_detections_inside_the_window_are_folded_and_go_out_with_the_next_message() {
        let prev = state(Some(T0), &["a"]);
        let folded = decide(
            Some(&prev),
            Some(Change::NewDetections),
            vec![d("b")],
            W,
            T0 + Duration::minutes(10),
        );
        assert_eq!(
            (folded.change.clone(), ids(&folded.folded)),
            (None, vec!["a", "b"])
        );
        assert_eq!(folded.last_alert_at, Some(T0), "the window does not slide");

        let prev = state(Some(T0), &["a", "b"]);
        let later = T0 + Duration::minutes(20);
        let escalated = decide(
            Some(&prev),
            Some(Change::Escalated {
                from: RiskLevel::Medium,
            }),
            vec![d("c")],
            W,
            later,
        );
        assert_eq!(ids(&escalated.detections), ["a", "b", "c"]);
        assert!(escalated.folded.is_empty());
        assert_eq!(escalated.last_alert_at, Some(later));
    }

    #[test]
    fn folded_detections_go_out_once_the_window_has_passed() {
        let prev = state(Some(T0), &["a", "b"]);
        let inside = decide(Some(&prev), None, vec![], W, T0 + Duration::minutes(29));
        assert_eq!((inside.change, ids(&inside.folded)), (None, vec!["a", "b"]));
        let after = decide(Some(&prev), None, vec![], W, T0 + W);
        assert_eq!(after.change, Some(Change::NewDetections));
        assert_eq!(ids(&after.detections), ["a", "b"]);
        assert!(after.folded.is_empty());
        // Outside the window a new detection is posted at once, with anything left folded.
        let late = decide(
            Some(&prev),
            Some(Change::NewDetections),
            vec![d("c")],
            W,
            T0 + W,
        );
        assert_eq!(ids(&late.detections), ["a", "b", "c"]);
    }

    #[test]
    fn off_and_full_windows_post_at_once() {
        let prev = state(Some(T0), &[]);
        let off = decide(
            Some(&prev),
            Some(Change::NewDetections),
            vec![d("a")],
            Duration::ZERO,
            T0,
        );
        assert_eq!(off.change, Some(Change::NewDetections));
        let many: Vec<String> = (0..FOLD_MAX).map(|i| i.to_string()).collect();
        let full = state(
            Some(T0),
            &many.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let out = decide(
            Some(&full),
            Some(Change::NewDetections),
            vec![d("x")],
            W,
            T0,
        );
        assert_eq!(out.change, Some(Change::NewDetections));
        assert_eq!(out.detections.len(), FOLD_MAX + 1);
        let first = decide(None, Some(Change::NewRisk), vec![d("a")], W, T0);
        assert_eq!(first.last_alert_at, Some(T0));
    }

    #[test]
    fn the_folding_list_says_who_is_due() {
        let mut f = Folding::default();
        let u = UserId::parse("6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b").unwrap();
        f.set(u, T0 + W);
        f.set(u, T0 + W + W);
        assert_eq!(f.users.len(), 1);
        assert!(f.due(T0 + W).is_empty());
        assert_eq!(f.due(T0 + W + W), [u]);
        f.remove(u);
        assert!(f.users.is_empty());
    }
}
