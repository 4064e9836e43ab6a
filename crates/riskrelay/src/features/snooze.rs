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
            snooze.user,
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
                // The reminder says whether the user is still at risk, as riskrelay last saw them.
                let state = match e.snooze.user_id {
                    Some(id) => store::load::<UserState>(store, tenant, &store::keys::user(id))
                        .await
                        .context("reading the snoozed user's state")?
                        .map(|v| v.value),
                    None => None,
                };
                SnoozeEvent::Expired {
                    still_at: state.filter(UserState::is_risky).map(|s| s.risk_level),
                }
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
            .map(|s| (s.user.clone(), s.at))
            .collect(),
        book.ended
            .iter()
            .map(|e| (e.snooze.user.clone(), e.snooze.at))
            .collect(),
    );
    update(store, tenant, |b| {
        b.expire(now);
        for s in &mut b.active {
            if announced.contains(&(s.user.clone(), s.at)) {
                s.announced = true;
            }
        }
        b.ended
            .retain(|e| !ended.contains(&(e.snooze.user.clone(), e.snooze.at)));
    })
    .await?;
    Ok(handed)
}

/// The worker's hold-back: drops the alerts a snooze covers and marks those that break through it
/// (see `crate::snooze`). The state of a held-back user is still recorded by the worker. When the
/// snoozes cannot be read, every alert is posted: an alert too many beats a compromise nobody
/// hears of.
pub async fn hold_back(
    store: &dyn Store,
    tenant: TenantId,
    alerts: &mut Vec<UserAlert>,
    now: OffsetDateTime,
) {
    if alerts.is_empty() {
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
        if s.level.is_none() {
            s.level = Some(
                a.previous
                    .as_ref()
                    .map(|(l, _)| l.clone())
                    .unwrap_or_else(|| a.user.risk_level.clone()),
            );
            changed = true;
        }
        if a.breaks_through(s) {
            a.snoozed = Some(crate::snooze::SnoozedNote::from(&*s));
            true
        } else {
            s.held += 1;
            changed = true;
            tracing::info!(user = %a.user.id, kind = %a.change.kind(), "alert held back: the user is snoozed");
            false
        }
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
