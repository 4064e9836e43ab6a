//! The work that flows from the sources (poller, webhook) through the queue to the worker.
//!
//! An [`Observation`] says "user U in tenant T may have changed". The poller attaches what it has
//! already read (the riskyUser record and its new detections); a webhook hint attaches nothing and
//! the worker reads that one user itself.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::alert::Message;
use crate::ids::{SecurityAlertId, SubscriptionId, TenantId, UserId};
use crate::notification::{ChangeType, LifecycleKind};
use crate::risk::{RiskDetection, RiskyUser};

/// Whom an observation is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Subject {
    /// A user whose risk may have changed (a poll result, a riskyUser notification).
    RiskyUser { user_id: UserId },
    /// A directory user who changed (a `users/{id}` notification): only worth a look while the
    /// user is at risk, for instance after a password change.
    User { user_id: UserId },
    /// A legacy ID Protection security alert; the worker reads its `userStates` to find the users.
    SecurityAlert { alert_id: SecurityAlertId },
}

/// Where an observation came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Origin {
    /// A poll cycle. Observations of one cycle share its id, so the worker can tell a burst.
    Poll { cycle_id: String },
    /// The first poll against a tenant: record the state, announce it only as a summary.
    Baseline { cycle_id: String },
    /// A Graph change notification.
    Webhook {
        subscription_id: SubscriptionId,
        change_type: ChangeType,
    },
}

impl Origin {
    /// The cycle an observation belongs to, for grouping into digests.
    pub fn cycle_id(&self) -> Option<&str> {
        match self {
            Self::Poll { cycle_id } | Self::Baseline { cycle_id } => Some(cycle_id),
            Self::Webhook { .. } => None,
        }
    }
}

/// Data the poller has already read for the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fetched {
    pub risky_user: RiskyUser,
    #[serde(default)]
    pub detections: Vec<RiskDetection>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    pub tenant_id: TenantId,
    pub subject: Subject,
    pub origin: Origin,
    #[serde(with = "time::serde::rfc3339")]
    pub observed_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched: Option<Fetched>,
}

/// A lifecycle notification for subscription upkeep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleEvent {
    pub tenant_id: TenantId,
    pub subscription_id: SubscriptionId,
    pub event: LifecycleKind,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub subscription_expires: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

/// One queue message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum WorkItem {
    Observation(Observation),
    Lifecycle(LifecycleEvent),
    /// A message to deliver as it is (a baseline summary, a posture finding).
    Notice {
        tenant_id: TenantId,
        message: Message,
    },
    /// Build and post the standing summary for this scheduled time (see [`crate::summary`]).
    Summary {
        tenant_id: TenantId,
        #[serde(with = "time::serde::rfc3339")]
        slot: OffsetDateTime,
    },
    /// A service principal or agent whose risk may have changed (see [`crate::workload`]).
    Workload(Box<crate::workload::WorkloadObservation>),
    /// A poll cycle's pages are all handed on: read the detections its held-back alerts wait
    /// for (see [`crate::late`]).
    LateDetections {
        tenant_id: TenantId,
        cycle_id: String,
    },
}

/// The positions of `items` by the tenant each belongs to, in the order they came: how a process
/// serving many tenants routes a batch (to each tenant's worker, or each tenant's queue).
pub fn by_tenant(items: &[WorkItem]) -> std::collections::BTreeMap<TenantId, Vec<usize>> {
    let mut out: std::collections::BTreeMap<TenantId, Vec<usize>> = Default::default();
    for (i, item) in items.iter().enumerate() {
        out.entry(item.tenant_id()).or_default().push(i);
    }
    out
}

impl WorkItem {
    pub fn tenant_id(&self) -> TenantId {
        match self {
            Self::Observation(o) => o.tenant_id,
            Self::Lifecycle(l) => l.tenant_id,
            Self::Workload(w) => w.tenant_id,
            Self::Notice { tenant_id, .. }
            | Self::Summary { tenant_id, .. }
            | Self::LateDetections { tenant_id, .. } => *tenant_id,
        }
    }

    /// Without the data the poller attached. Used when a message would exceed the queue's size
    /// limit: the worker then reads the user itself, so nothing is lost.
    pub fn without_fetched(&self) -> Self {
        match self {
            Self::Observation(o) => Self::Observation(Observation {
                fetched: None,
                ..o.clone()
            }),
            other => other.clone(),
        }
    }
}

/// A scheduled job for one tenant, queued by the MSP mode's fan-out in AWS (one message per
/// tenant and tick, so each tenant's job runs as its own invocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantJob {
    pub job: JobKind,
    pub tenant: TenantId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JobKind {
    Poll,
    Posture,
    Subscriptions,
}

impl JobKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Poll => "poll",
            Self::Posture => "posture",
            Self::Subscriptions => "subscriptions",
        }
    }
}

impl std::str::FromStr for JobKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "poll" => Ok(Self::Poll),
            "posture" => Ok(Self::Posture),
            "subscriptions" => Ok(Self::Subscriptions),
            other => Err(format!(
                "unknown job \"{other}\": expected poll, posture or subscriptions"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_routed_by_tenant_in_the_order_it_came() {
        let tenant = |n: u128| TenantId::from_uuid(uuid::Uuid::from_u128(n));
        let slot = time::macros::datetime!(2026-12-01 08:00 UTC);
        let items: Vec<WorkItem> = [2, 1, 2, 3, 2]
            .into_iter()
            .map(|n| WorkItem::Summary {
                tenant_id: tenant(n),
                slot,
            })
            .collect();
        let routed = by_tenant(&items);
        assert_eq!(routed[&tenant(2)], [0, 2, 4]);
        assert_eq!(routed[&tenant(1)], [1]);
        assert_eq!(routed[&tenant(3)], [3]);
        assert_eq!(routed.len(), 3);
    }

    #[test]
    fn json_shape_is_stable() {
        let item = WorkItem::Observation(Observation {
            tenant_id: TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap(),
            subject: Subject::User {
                user_id: UserId::parse("6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b").unwrap(),
            },
            origin: Origin::Webhook {
                subscription_id: SubscriptionId::parse("aaaaaaaa-0000-0000-0000-000000000001")
                    .unwrap(),
                change_type: ChangeType::Updated,
            },
            observed_at: time::macros::datetime!(2026-11-25 10:00 UTC),
            fetched: None,
        });
        let json = serde_json::to_value(&item).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "observation",
                "tenantId": "11111111-2222-3333-4444-555555555555",
                "subject": {"kind": "user", "userId": "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b"},
                "origin": {"kind": "webhook", "subscriptionId": "aaaaaaaa-0000-0000-0000-000000000001", "changeType": "updated"},
                "observedAt": "2026-11-25T10:00:00Z"
            })
        );
        assert_eq!(serde_json::from_value::<WorkItem>(json).unwrap(), item);
    }
}
