//! One tenant's state as the store holds it, read without a Graph request: what
//! `riskrelay status` prints (and the status page will show). Reads only; each document it reads
//! has its own writer (see ARCHITECTURE.md).

use serde::Serialize;
use time::OffsetDateTime;

use crate::ids::TenantId;
use crate::poll_health::PollHealth;
use crate::posture::PostureSnapshot;
use crate::snooze::Snoozes;
use crate::source::poll::Checkpoint;
use crate::source::subscriptions::CreatedWith;
use crate::store::{self, Store, StoreError};
use crate::tenancy::TenantStatus;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantState {
    pub tenant_id: TenantId,
    /// Its registered name (many tenants).
    pub name: Option<String>,
    /// When the last poll cycle that worked began (the checkpoint); `None` before the first.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_poll: Option<OffsetDateTime>,
    /// Seconds from that checkpoint to now.
    pub lag_seconds: Option<i64>,
    /// Since when polls fail, while they do.
    #[serde(with = "time::serde::rfc3339::option")]
    pub polls_failing_since: Option<OffsetDateTime>,
    /// The last failed poll's error, scrubbed.
    pub last_error: Option<String>,
    /// Whether the team was told that polls fail (the dead-man message).
    pub stale_announced: bool,
    /// `pending`, `granted` or `lost` (many tenants); `None` for the one configured tenant.
    pub consent: Option<&'static str>,
    /// "Allow on-premises password change to reset user risk" as last checked; `None` when it
    /// could not be read or was never checked.
    pub on_premises_reset: Option<bool>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub posture_checked_at: Option<OffsetDateTime>,
    pub snoozes: Vec<SnoozeState>,
    pub parked: Vec<ParkedState>,
    /// Graph subscriptions upkeep created and keeps.
    pub subscriptions: usize,
    /// Each workload identity kind the poll cycle watches: read, or why it cannot be.
    pub workload_risk: Vec<String>,
    /// Users at risk now by level, as riskrelay recorded them (see `crate::activity`).
    pub at_risk: crate::activity::AtRisk,
    /// When those counts were last taken from Graph's whole list (the daily summary).
    #[serde(with = "time::serde::rfc3339::option")]
    pub at_risk_counted_at: Option<OffsetDateTime>,
    /// User alerts that went out on each of the last 14 days, oldest first.
    pub alerts_per_day: Vec<DayCount>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub alerts: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnoozeState {
    pub user: String,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub by: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParkedState {
    pub id: String,
    pub destination: String,
    /// The kind of failure in a few words, never the destination's own text.
    pub failure: String,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub first_failed: OffsetDateTime,
}

impl TenantState {
    /// Whether someone should look: polls failing, messages parked, access lost, or the setting
    /// found off.
    pub fn needs_attention(&self) -> bool {
        self.polls_failing_since.is_some()
            || !self.parked.is_empty()
            || self.consent == Some("lost")
            || self.on_premises_reset == Some(false)
    }
}

async fn value<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    tenant: TenantId,
    key: &str,
) -> Result<Option<T>, StoreError> {
    Ok(store::load::<T>(store, tenant, key).await?.map(|v| v.value))
}

/// The tenant's state; `status` is its consent record in the MSP mode.
pub async fn read(
    store: &dyn Store,
    tenant: TenantId,
    name: Option<String>,
    status: Option<&TenantStatus>,
    now: OffsetDateTime,
) -> Result<TenantState, StoreError> {
    let checkpoint = value::<Checkpoint>(store, tenant, store::keys::CHECKPOINT).await?;
    let health = value::<PollHealth>(store, tenant, store::keys::POLL_HEALTH)
        .await?
        .unwrap_or_default();
    let posture = value::<PostureSnapshot>(store, tenant, store::keys::POSTURE).await?;
    let snoozes = value::<Snoozes>(store, tenant, store::keys::SNOOZES)
        .await?
        .unwrap_or_default();
    let subscriptions = value::<CreatedWith>(store, tenant, store::keys::SUBSCRIPTIONS)
        .await?
        .map_or(0, |c| c.0.len());
    let parked = crate::parking::list(store, tenant).await?;
    let workloads =
        value::<crate::workload::WorkloadWatch>(store, tenant, store::keys::WORKLOAD_RISK).await?;
    let activity = crate::features::activity::load(store, tenant).await?;
    let last_poll = checkpoint.map(|c| c.at);
    Ok(TenantState {
        tenant_id: tenant,
        name,
        last_poll,
        lag_seconds: last_poll.map(|at| (now - at).whole_seconds().max(0)),
        polls_failing_since: health.failing_since,
        last_error: health.last_error,
        stale_announced: health.told_at.is_some(),
        consent: status.map(|s| s.consent.name()),
        on_premises_reset: posture.as_ref().and_then(|p| p.setting.value().copied()),
        posture_checked_at: posture.map(|p| p.checked_at),
        snoozes: snoozes
            .active
            .iter()
            .filter(|s| s.until > now)
            .map(|s| SnoozeState {
                user: s.subject.to_string(),
                until: s.until,
                by: s.by.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
        parked: parked
            .into_iter()
            .map(|p| ParkedState {
                id: p.id,
                destination: p.sink,
                failure: p.failure,
                attempts: p.attempts,
                first_failed: p.first_failed,
            })
            .collect(),
        subscriptions,
        workload_risk: workloads.map(|w| w.describe()).unwrap_or_default(),
        at_risk: activity.at_risk,
        at_risk_counted_at: activity.counted_at,
        alerts_per_day: activity
            .last_days(now)
            .into_iter()
            .map(|(d, alerts)| DayCount {
                day: format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
                alerts,
            })
            .collect(),
    })
}
