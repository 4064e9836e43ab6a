//! Alerts: what riskrelay tells people, before it is rendered for a destination.
//!
//! Every alert has a stable key derived from what changed, so observing the same change twice
//! (poll overlap, a Graph retry, poll and webhook at once) yields the same key, and delivery
//! records per (key, destination) make the second observation post nothing.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::context::{Lookup, Registration, UserContext};
use crate::ids::TenantId;
use crate::risk::{RiskDetail, RiskDetection, RiskLevel, RiskState, RiskyUser};
use crate::verdict::Verdict;

/// Kinds of alert, for the "kinds to post" configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AlertKind {
    NewRisk,
    Escalated,
    Lowered,
    NewDetections,
    Remediated,
    Dismissed,
    ConfirmedCompromised,
    SettingDrift,
    PasswordSyncStale,
    NoUserRiskPolicy,
    /// Workload identities' risk cannot be read (no licence, no permission).
    WorkloadRiskUnavailable,
    /// No enabled Conditional Access policy blocks high-risk workload identities.
    NoWorkloadRiskPolicy,
    Baseline,
}

impl AlertKind {
    pub const ALL: [AlertKind; 13] = [
        Self::NewRisk,
        Self::Escalated,
        Self::Lowered,
        Self::NewDetections,
        Self::Remediated,
        Self::Dismissed,
        Self::ConfirmedCompromised,
        Self::SettingDrift,
        Self::PasswordSyncStale,
        Self::NoUserRiskPolicy,
        Self::WorkloadRiskUnavailable,
        Self::NoWorkloadRiskPolicy,
        Self::Baseline,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::NewRisk => "newRisk",
            Self::Escalated => "escalated",
            Self::Lowered => "lowered",
            Self::NewDetections => "newDetections",
            Self::Remediated => "remediated",
            Self::Dismissed => "dismissed",
            Self::ConfirmedCompromised => "confirmedCompromised",
            Self::SettingDrift => "settingDrift",
            Self::PasswordSyncStale => "passwordSyncStale",
            Self::NoUserRiskPolicy => "noUserRiskPolicy",
            Self::WorkloadRiskUnavailable => "workloadRiskUnavailable",
            Self::NoWorkloadRiskPolicy => "noWorkloadRiskPolicy",
            Self::Baseline => "baseline",
        }
    }
}

impl std::str::FromStr for AlertKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown kind; known kinds are {}",
                    Self::ALL.map(Self::name).join(", ")
                )
            })
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What changed for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Change {
    NewRisk,
    Escalated { from: RiskLevel },
    Lowered { from: RiskLevel },
    NewDetections,
    Remediated { how: RiskDetail },
    Dismissed { how: RiskDetail },
    ConfirmedCompromised,
}

impl Change {
    pub fn kind(&self) -> AlertKind {
        match self {
            Self::NewRisk => AlertKind::NewRisk,
            Self::Escalated { .. } => AlertKind::Escalated,
            Self::Lowered { .. } => AlertKind::Lowered,
            Self::NewDetections => AlertKind::NewDetections,
            Self::Remediated { .. } => AlertKind::Remediated,
            Self::Dismissed { .. } => AlertKind::Dismissed,
            Self::ConfirmedCompromised => AlertKind::ConfirmedCompromised,
        }
    }

    /// Whether an alert of this change, its subject now at `level`, is posted although the
    /// subject is snoozed: a confirmed compromise, the end of the risk, or a rise above the level
    /// snoozed at (see [`crate::snooze`]).
    pub fn breaks_through(&self, level: &RiskLevel, snooze: &crate::snooze::Snooze) -> bool {
        match self {
            Self::ConfirmedCompromised | Self::Remediated { .. } | Self::Dismissed { .. } => true,
            Self::NewRisk | Self::Escalated { .. } => snooze.is_above(level),
            Self::Lowered { .. } | Self::NewDetections => false,
        }
    }

    /// Whether the user still carries the risk after this change.
    pub fn is_ongoing(&self) -> bool {
        !matches!(self, Self::Remediated { .. } | Self::Dismissed { .. })
    }
}

pub use crate::admin_center::AdminCenter;

/// A change in a user's risk, enriched for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAlert {
    pub key: String,
    pub tenant_id: TenantId,
    pub change: Change,
    /// The riskyUser record as observed.
    pub user: RiskyUser,
    /// Level and state before the change, when riskrelay had seen the user.
    pub previous: Option<(RiskLevel, RiskState)>,
    /// The detections to show: the new ones, or every open one for a new risk.
    pub detections: Vec<RiskDetection>,
    pub context: Lookup<UserContext>,
    pub registration: Lookup<Registration>,
    /// Whether the user can fix it themselves; `None` once the risk has ended.
    pub verdict: Option<Verdict>,
    /// Why no detection is listed for an ongoing risk, when none is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detections_note: Option<String>,
    /// When the risk episode this alert belongs to began, when riskrelay knows it.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub episode_start: Option<OffsetDateTime>,
    /// Where the alert's links lead.
    #[serde(default)]
    pub admin_center: AdminCenter,
    /// Set when the user is snoozed and this alert broke through: who snoozed them and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed: Option<crate::snooze::SnoozedNote>,
    /// Signed links to act on the user from the alert (`RISKRELAY_ACTIONS`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<crate::action_link::ActionButton>,
    /// An action an analyst took from an earlier alert that explains this change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acted: Option<ActionNotice>,
    /// The destinations told of this risk episode before this alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
}

impl UserAlert {
    /// Its line in a digest.
    pub fn digest_entry(&self) -> DigestEntry {
        DigestEntry {
            display_name: self.display_name(),
            upn: self.upn(),
            change: self.change.clone(),
            level: self.routing_level(),
            top_detection: self.detections.first().map(|d| {
                crate::catalogue::describe(&d.risk_event_type, d.activity.as_deref()).name
            }),
            tenant: None,
        }
    }

    /// Whether `sink` takes this alert, given its minimum level and the configured `kinds`: a
    /// kind it wants at or above its level; and, for an episode the sink was told of, the
    /// lowered risk whatever the level (it updates the open incident) and the end whatever the
    /// level and kinds (it closes the incident: a destination told of one is always told its end).
    pub fn wanted_by(
        &self,
        sink: &str,
        min_level: &RiskLevel,
        kinds: &std::collections::BTreeSet<AlertKind>,
    ) -> bool {
        wanted(
            &self.change,
            self.told.iter().any(|t| t == sink),
            &self.routing_level(),
            min_level,
            kinds,
        )
    }

    /// The level a destination's minimum is compared with (see [`routing_level`]).
    pub fn routing_level(&self) -> RiskLevel {
        routing_level(
            &self.change,
            self.previous.as_ref().map(|(l, _)| l),
            &self.user.risk_level,
        )
    }

    pub fn display_name(&self) -> String {
        self.context
            .found()
            .and_then(|c| c.display_name.clone())
            .or_else(|| self.user.user_display_name.clone())
            .unwrap_or_else(|| self.user.id.to_string())
    }

    pub fn upn(&self) -> Option<String> {
        self.context
            .found()
            .and_then(|c| c.user_principal_name.clone())
            .or_else(|| self.user.user_principal_name.clone())
    }
}

/// Whether a destination takes an alert about a user's or a workload identity's risk, given its
/// minimum level and the configured `kinds`: a kind it wants at or above its level; and, for an
/// episode the destination was `told` of, the lowered risk whatever the level (it updates the
/// open incident) and the end whatever the level and kinds (it closes the incident: a destination
/// told of one is always told its end).
pub fn wanted(
    change: &Change,
    told: bool,
    level: &RiskLevel,
    min_level: &RiskLevel,
    kinds: &std::collections::BTreeSet<AlertKind>,
) -> bool {
    let kind = kinds.contains(&change.kind());
    match change {
        Change::Remediated { .. } | Change::Dismissed { .. } if told => true,
        Change::Lowered { .. } if told => kind,
        _ => kind && level.meets(min_level),
    }
}

/// The level a destination's minimum is compared with: the current level while the risk is
/// ongoing, the level the risk had when it ended (a channel that saw a high risk also hears that
/// it is over), always high for a confirmed compromise.
pub fn routing_level(change: &Change, previous: Option<&RiskLevel>, now: &RiskLevel) -> RiskLevel {
    match change {
        Change::ConfirmedCompromised => RiskLevel::High,
        Change::Remediated { .. } | Change::Dismissed { .. } | Change::Lowered { .. } => {
            previous.unwrap_or(now).clone()
        }
        _ => now.clone(),
    }
}

/// A finding about the tenant's posture (drift guard, password sync, Conditional Access).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostureAlert {
    pub key: String,
    pub tenant_id: TenantId,
    pub kind: AlertKind,
    /// Short title: "On-premises password change no longer resets user risk".
    pub title: String,
    /// What is wrong (or right again), in a sentence or two.
    pub detail: String,
    /// Why it matters.
    pub why: String,
    /// What to do, when something is left to do.
    pub action: Option<String>,
    /// True for a "back to normal" or "corrected" message.
    pub resolved: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// One line of a digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestEntry {
    pub display_name: String,
    pub upn: Option<String>,
    pub change: Change,
    pub level: RiskLevel,
    pub top_detection: Option<String>,
    /// The tenant's name, in a digest across the tenants that share a destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Many alerts of one cycle folded into one message (a password spray flags 40 users). Across
/// tenants (a shared destination in the MSP mode), `tenant_id` is the deployment's and each entry
/// names its tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    pub key: String,
    pub tenant_id: TenantId,
    pub entries: Vec<DigestEntry>,
}

/// Announces the risk that already existed when riskrelay first watched a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baseline {
    pub key: String,
    pub tenant_id: TenantId,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub other: usize,
    /// The riskiest users first, at most a handful.
    pub top: Vec<DigestEntry>,
    /// Deleted accounts Graph still lists as risky: not counted above (nobody can act on them).
    #[serde(default)]
    pub deleted: usize,
}

impl Baseline {
    pub fn total(&self) -> usize {
        self.high + self.medium + self.low + self.other
    }
}

/// Something about riskrelay itself the team must act on (messages it had to set aside). Always
/// posted, whatever kinds are configured: it is about alerts the team did not get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationsNotice {
    pub key: String,
    pub tenant_id: TenantId,
    /// Fixed text.
    pub title: String,
    /// One line each; may quote upstream error text.
    pub lines: Vec<String>,
    /// What to do, fixed text.
    pub action: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The incident a paging destination opens for a condition that ends (polls failing), and
    /// closes with the notice that `resolves` it; `None` for a one-off notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    #[serde(default)]
    pub resolves: bool,
}

/// A snooze begun, lifted or run out: posted once each, so the channel keeps the audit trail.
/// Always posted, whatever kinds are configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnoozeNotice {
    pub key: String,
    pub tenant_id: TenantId,
    pub snooze: crate::snooze::Snooze,
    pub event: SnoozeEvent,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SnoozeEvent {
    Snoozed,
    Cleared {
        by: String,
    },
    /// Ran out; `still_at` is the user's level when still at risk (the reminder).
    Expired {
        still_at: Option<RiskLevel>,
    },
}

pub use crate::action_link::ActionNotice;

impl ActionNotice {
    /// Whether this action is what caused `change`: Graph reports a confirmation as a confirmed
    /// compromise and a dismissal as a dismissed risk. Graph does not document the state an
    /// agent confirmed safe is left in (its detail is `adminConfirmedAgentSafe`), so either end
    /// of the risk is taken as that.
    pub fn explains(&self, change: &Change) -> bool {
        use crate::action_link::ActionKind;
        match self.action {
            ActionKind::Confirm => matches!(change, Change::ConfirmedCompromised),
            ActionKind::Dismiss => matches!(change, Change::Dismissed { .. }),
            ActionKind::ConfirmSafe => {
                matches!(change, Change::Dismissed { .. } | Change::Remediated { .. })
            }
            ActionKind::Revoke | ActionKind::Snooze | ActionKind::Disable => false,
        }
    }
}

/// The standing summary: who is still at risk (see [`crate::summary`]). Always posted when the
/// summary is on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub key: String,
    pub tenant_id: TenantId,
    /// The riskiest first.
    pub entries: Vec<crate::summary::SummaryEntry>,
    /// Users at risk who are excluded (`RISKRELAY_EXCLUDE`): counted, not listed.
    #[serde(default)]
    pub excluded: usize,
    /// Service principals and agents at risk, where riskrelay reads them; the riskiest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<crate::summary::WorkloadEntry>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Anything a sink can post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Message {
    User(Box<UserAlert>),
    /// A service principal's or an agent's risk (see [`crate::workload`]).
    Workload(Box<crate::workload::WorkloadAlert>),
    Posture(PostureAlert),
    Digest(Digest),
    Baseline(Baseline),
    Operations(OperationsNotice),
    Snooze(SnoozeNotice),
    Summary(Summary),
    Action(ActionNotice),
}

/// What a destination may route on besides the rendered text: a paging or SIEM sink opens one
/// incident per `incident`, deduplicates on it, and closes it when a message `resolves` it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Routing {
    /// The alert's own stable key (one per change; a retry has the same key).
    pub key: String,
    pub tenant_id: TenantId,
    /// `None` for a digest, which carries alerts of several kinds, and for operations and snooze
    /// notices and the summary, which are always posted.
    pub kind: Option<AlertKind>,
    /// The level a user alert is routed at (see [`UserAlert::routing_level`]).
    pub level: Option<RiskLevel>,
    /// What the alert is about, shared by every alert about it: one user's risk, or one posture
    /// check. `None` for digests and baselines, which are about many.
    pub incident: Option<String>,
    /// Whether this alert ends the incident: the user's risk ended, or the check is back to normal.
    pub resolves: bool,
}

impl Message {
    pub fn routing(&self) -> Routing {
        let (kind, level, incident, resolves) = match self {
            Self::User(a) => (
                Some(a.change.kind()),
                Some(a.routing_level()),
                Some(keys::incident(
                    format!("user/{}/{}", a.tenant_id, a.user.id),
                    a.episode_start,
                )),
                !a.change.is_ongoing(),
            ),
            Self::Workload(a) => (
                Some(a.change.kind()),
                Some(a.routing_level()),
                Some(a.incident()),
                !a.change.is_ongoing(),
            ),
            Self::Posture(p) => (
                Some(p.kind),
                None,
                Some(format!("posture/{}/{}", p.tenant_id, p.kind)),
                p.resolved,
            ),
            Self::Baseline(_) => (Some(AlertKind::Baseline), None, None, false),
            Self::Digest(_) => (None, None, None, false),
            Self::Operations(o) => (None, None, o.incident.clone(), o.resolves),
            Self::Snooze(_) | Self::Summary(_) | Self::Action(_) => (None, None, None, false),
        };
        Routing {
            key: self.key().to_string(),
            tenant_id: self.tenant_id(),
            kind,
            level,
            incident,
            resolves,
        }
    }

    pub fn tenant_id(&self) -> TenantId {
        match self {
            Self::User(a) => a.tenant_id,
            Self::Workload(a) => a.tenant_id,
            Self::Posture(p) => p.tenant_id,
            Self::Digest(d) => d.tenant_id,
            Self::Baseline(b) => b.tenant_id,
            Self::Operations(o) => o.tenant_id,
            Self::Snooze(n) => n.tenant_id,
            Self::Summary(s) => s.tenant_id,
            Self::Action(a) => a.tenant_id,
        }
    }

    /// When what the message reports happened, when it says: a user's risk change as Graph stamps
    /// it, a finding's or notice's own time. `None` for digests and baselines, which gather many.
    pub fn occurred_at(&self) -> Option<OffsetDateTime> {
        match self {
            Self::User(a) => a.user.risk_last_updated_date_time,
            Self::Workload(a) => a.workload.risk_last_updated,
            Self::Posture(p) => Some(p.at),
            Self::Operations(o) => Some(o.at),
            Self::Snooze(n) => Some(n.at),
            Self::Summary(s) => Some(s.at),
            Self::Action(a) => Some(a.at),
            Self::Digest(_) | Self::Baseline(_) => None,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Self::User(a) => &a.key,
            Self::Workload(a) => &a.key,
            Self::Posture(p) => &p.key,
            Self::Digest(d) => &d.key,
            Self::Baseline(b) => &b.key,
            Self::Operations(o) => &o.key,
            Self::Snooze(n) => &n.key,
            Self::Summary(s) => &s.key,
            Self::Action(a) => &a.key,
        }
    }
}

/// Stable identifiers derived from what changed.
pub mod keys;
