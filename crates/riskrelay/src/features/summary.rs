//! The standing summary, its I/O half (the schedule and the lines are `crate::summary`): the one
//! module that writes the summary document. The poll cycle asks for the summary when a scheduled
//! time has passed ([`ask`]); the worker reads who is at risk, enriches them as alerts, and
//! [`compose`]s the message.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::alert::{Message, UserAlert};
use crate::ids::{TenantId, UserId};
use crate::observation::WorkItem;
use crate::queue::Queue;
use crate::reconcile::UserState;
use crate::store::{self, Store};
use crate::summary::{LastSummary, Schedule, SummaryEntry, due};

/// Hands a summary request to the queue when a scheduled time has passed since the last one,
/// then records that time. Returns whether one was handed over.
pub async fn ask(
    store: &dyn Store,
    tenant: TenantId,
    queue: &dyn Queue,
    schedule: Schedule,
    now: OffsetDateTime,
) -> anyhow::Result<bool> {
    let last = store::load::<LastSummary>(store, tenant, store::keys::SUMMARY).await?;
    let (is_due, slot) = due(schedule, last.as_ref().map(|l| &l.value), now);
    let Some(slot) = slot else {
        return Ok(false);
    };
    if is_due {
        queue
            .enqueue(vec![WorkItem::Summary {
                tenant_id: tenant,
                slot,
            }])
            .await?;
    }
    // A lost race means another poller recorded (and asked for) the same slot.
    store::save(
        store,
        tenant,
        store::keys::SUMMARY,
        &LastSummary { slot },
        last.map(|l| l.version),
    )
    .await?;
    Ok(is_due)
}

/// The summary for a scheduled time from the users Graph lists at risk, enriched as alerts
/// (`listed` of `total`: the excluded are counted, not listed): snoozed users marked, the
/// riskiest first. Its key is the slot's, so a retried item posts once.
pub async fn compose(
    store: &dyn Store,
    tenant: TenantId,
    slot: OffsetDateTime,
    listed: &[UserAlert],
    total: usize,
    mut workloads: Vec<crate::summary::WorkloadEntry>,
    now: OffsetDateTime,
) -> Message {
    let mut snoozes = match super::snooze::load(store, tenant).await {
        Ok((book, _)) => book,
        Err(e) => {
            tracing::warn!(error = %e, "the snoozes could not be read; the summary marks nobody as snoozed");
            Default::default()
        }
    };
    // How long each has been at risk, as riskrelay recorded it (one read per listed user, once
    // a day); an unreadable state only loses that figure.
    let mut episode: HashMap<UserId, OffsetDateTime> = HashMap::new();
    for a in listed {
        if let Ok(Some(s)) =
            store::load::<UserState>(store, tenant, &store::keys::user(a.user.id)).await
            && let Some(t) = s.value.episode_start
        {
            episode.insert(a.user.id, t);
        }
    }
    let mut entries: Vec<SummaryEntry> = listed
        .iter()
        .map(|a| SummaryEntry {
            display_name: a.display_name(),
            upn: a.upn(),
            level: a.user.risk_level.clone(),
            state: a.user.risk_state.clone(),
            since: a.user.risk_last_updated_date_time,
            at_risk_since: episode.get(&a.user.id).copied(),
            remediation: a.verdict.as_ref().map(|v| v.headline().to_string()),
            snoozed: snoozes
                .of(a.user.id, a.upn().as_deref(), now)
                .map(|s| crate::snooze::SnoozedNote::from(&*s)),
        })
        .collect();
    // The riskiest first, then the longest-standing.
    entries.sort_by(|a, b| {
        b.level.rank().cmp(&a.level.rank()).then(
            a.at_risk_since
                .or(a.since)
                .cmp(&b.at_risk_since.or(b.since)),
        )
    });
    workloads.sort_by(|a, b| {
        b.level
            .rank()
            .cmp(&a.level.rank())
            .then(a.since.cmp(&b.since))
    });
    Message::Summary(crate::alert::Summary {
        key: format!("summary/{tenant}/{}", slot.unix_timestamp()),
        tenant_id: tenant,
        excluded: total - listed.len(),
        entries,
        workloads,
        at: now,
    })
}
