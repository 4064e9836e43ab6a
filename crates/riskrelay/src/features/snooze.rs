//! Snoozes, their I/O half (the rules are `crate::snooze`): the one module that writes the
//! snoozes document, read and changed with optimistic concurrency for the command line, the
//! action pages, the worker's hold-back and the poll cycle; and the notices snoozes owe the
//! channel, handed to the queue — a new snooze, a lifted one, one that ran out (the reminder,
//! when the user is still at risk).
//!
//! A notice's key is fixed by the snooze it is about, so handing it over again after a crash posts
//! nothing twice; the document forgets a notice only once the queue has taken it.

use anyhow::Context as _;
use time::OffsetDateTime;

use crate::alert::{Message, SnoozeEvent, SnoozeNotice, UserAlert};
use crate::ids::TenantId;
use crate::observation::WorkItem;
use crate::queue::Queue;
use crate::reconcile::UserState;
use crate::snooze::{Snooze, Snoozes};
use crate::store::{self, Store, StoreError};
use crate::workload::{WorkloadAlert, WorkloadState};

pub async fn load(
    store: &dyn Store,
    tenant: TenantId,
) -> Result<(Snoozes, Option<u64>), StoreError> {
    Ok(
        match store::load::<Snoozes>(store, tenant, store::keys::SNOOZES).await? {
            Some(v) => (v.value, Some(v.version)),
            None => (Snoozes::default(), None),
        },
    )
}

/// Applies `change` to the stored snoozes and saves them (see [`store::update`]). Returns what
/// `change` returned on the write that stuck.
pub async fn update<R>(
    store: &dyn Store,
    tenant: TenantId,
    change: impl FnMut(&mut Snoozes) -> R,
) -> anyhow::Result<R> {
    store::update(store, tenant, store::keys::SNOOZES, change)
        .await
        .context("updating the snoozes")
}

fn notice(tenant: TenantId, snooze: &Snooze, event: SnoozeEvent, at: OffsetDateTime) -> Message {
    let what = match &event {
        SnoozeEvent::Snoozed => "snoozed",
        SnoozeEvent::Cleared { .. } => "cleared",
        SnoozeEvent::Expired { .. } => "expired",
    };
    Message::Snooze(SnoozeNotice {
        key: format!(
            "snooze/{tenant}/{}/{}/{what}",
            snooze.subject,
            snooze.at.unix_timestamp_nanos()
        ),
        tenant_id: tenant,
        snooze: snooze.clone(),
        event,
        at,
    })
}

/// Ends what ran out and hands every notice owed to the queue; then records them as handed over.
/// Returns how many notices were handed over.
pub async fn hand_over(
    store: &dyn Store,
    tenant: TenantId,
    queue: &dyn Queue,
    now: OffsetDateTime,
) -> anyhow::Result<usize> {
    let (mut book, _) = load(store, tenant).await.context("reading the snoozes")?;
    book.expire(now);
    let mut messages = Vec::new();
    for s in book.active.iter().filter(|s| !s.announced) {
        messages.push(notice(tenant, s, SnoozeEvent::Snoozed, s.at));
    }
    for e in &book.ended {
        let event = match &e.cleared_by {
            Some(by) => SnoozeEvent::Cleared { by: by.clone() },
            None => {
                // The reminder says whether the subject is still at risk, as riskrelay last saw it.
                let still_at = match (e.snooze.user_id, &e.snooze.workload) {
                    (Some(id), _) => {
                        store::load::<UserState>(store, tenant, &store::keys::user(id))
                            .await
                            .context("reading the snoozed user's state")?
                            .map(|v| v.value)
                            .filter(UserState::is_risky)
                            .map(|s| s.risk_level)
                    }
                    (None, Some((kind, id))) => store::load::<WorkloadState>(
                        store,
                        tenant,
                        &store::keys::workload(*kind, id),
                    )
                    .await
                    .context("reading the snoozed workload identity's state")?
                    .map(|v| v.value)
                    .filter(WorkloadState::is_risky)
                    .map(|s| s.risk_level),
                    (None, None) => None,
                };
                SnoozeEvent::Expired { still_at }
            }
        };
        messages.push(notice(tenant, &e.snooze, event, e.at));
    }
    if messages.is_empty() {
        return Ok(0);
    }
    let handed = messages.len();
    queue
        .enqueue(
            messages
                .into_iter()
                .map(|message| WorkItem::Notice {
                    tenant_id: tenant,
                    message,
                })
                .collect(),
        )
        .await
        .context("handing the snooze notices to the queue")?;
    // Forget exactly what was handed over; a snooze added meanwhile keeps its notice.
    let (announced, ended): (Vec<_>, Vec<_>) = (
        book.active
            .iter()
            .filter(|s| !s.announced)
            .map(|s| (s.subject.clone(), s.at))
            .collect(),
        book.ended
            .iter()
            .map(|e| (e.snooze.subject.clone(), e.snooze.at))
            .collect(),
    );
    update(store, tenant, |b| {
        b.expire(now);
        for s in &mut b.active {
            if announced.contains(&(s.subject.clone(), s.at)) {
                s.announced = true;
            }
        }
        b.ended
            .retain(|e| !ended.contains(&(e.snooze.subject.clone(), e.snooze.at)));
    })
    .await?;
    Ok(handed)
}

/// The worker's hold-back: drops the alerts a snooze covers, of users and of workload identities,
/// and marks those that break through it (see `crate::snooze`). The state of a held-back subject
/// is still recorded by the worker. When the snoozes cannot be read, every alert is posted: an
/// alert too many beats a compromise nobody hears of.
pub async fn hold_back(
    store: &dyn Store,
    tenant: TenantId,
    alerts: &mut Vec<UserAlert>,
    workloads: &mut Vec<WorkloadAlert>,
    now: OffsetDateTime,
) {
    if alerts.is_empty() && workloads.is_empty() {
        return;
    }
    let (mut book, version) = match load(store, tenant).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "the snoozes could not be read; every alert is posted");
            return;
        }
    };
    if book.active.is_empty() {
        return;
    }
    let mut changed = false;
    alerts.retain_mut(|a| {
        let upn = a.upn();
        let Some(s) = book.of(a.user.id, upn.as_deref(), now) else {
            return true;
        };
        if s.user_id.is_none() {
            s.user_id = Some(a.user.id);
            changed = true;
        }
        let before = a.previous.as_ref().map(|(l, _)| l);
        let level = &a.user.risk_level;
        let through = a.change.breaks_through(level, learn_level(s, before, level, &mut changed));
        if through {
            a.snoozed = Some(crate::snooze::SnoozedNote::from(&*s));
        } else {
            held(s, &mut changed);
            tracing::info!(user = %a.user.id, kind = %a.change.kind(), "alert held back: the user is snoozed");
        }
        through
    });
    workloads.retain_mut(|a| {
        let w = &a.workload;
        let Some(s) = book.of_workload(w.kind, &w.id, w.app_id.as_deref(), now) else {
            return true;
        };
        if s.workload.is_none() {
            s.workload = Some((w.kind, w.id.clone()));
            changed = true;
        }
        let before = a.previous.as_ref().map(|(l, _)| l);
        let through = a
            .change
            .breaks_through(&w.risk_level, learn_level(s, before, &w.risk_level, &mut changed));
        if through {
            a.snoozed = Some(crate::snooze::SnoozedNote::from(&*s));
        } else {
            held(s, &mut changed);
            tracing::info!(subject = w.kind.name(), kind = %a.change.kind(), "alert held back: the workload identity is snoozed");
        }
        through
    });
    if changed {
        // What was learnt (the id, the level) and the count; best effort: a lost write only
        // costs the count, and the level is learnt again from the next alert.
        match store::save(store, tenant, store::keys::SNOOZES, &book, version).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("the snoozes changed meanwhile; this batch's count is not recorded")
            }
            Err(e) => tracing::warn!(error = %e, "could not record what the snoozes held back"),
        }
    }
}

/// A snooze that named a subject riskrelay had not seen learns its level from the first alert:
/// the level before the change, or the level now.
fn learn_level<'a>(
    s: &'a mut Snooze,
    before: Option<&crate::risk::RiskLevel>,
    now: &crate::risk::RiskLevel,
    changed: &mut bool,
) -> &'a Snooze {
    if s.level.is_none() {
        s.level = Some(before.unwrap_or(now).clone());
        *changed = true;
    }
    s
}

fn held(s: &mut Snooze, changed: &mut bool) {
    s.held += 1;
    *changed = true;
}
