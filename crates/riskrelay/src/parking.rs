//! Parking: messages a destination will not take, set aside so that everything else moves on.
//!
//! Without a queue service (`riskrelay run`), a message a destination rejects for good (Slack's
//! `invalid_blocks`, a Teams 413) or keeps failing would fail its item every cycle: the checkpoint
//! would never move and every other alert would wait behind it. So a permanent rejection is parked
//! at once and a retryable failure after [`PARK_AFTER_ATTEMPTS`]: the message is kept for that
//! destination in the store (one document per tenant), the user's state moves on as if it had
//! been delivered, and one operations notice on every destination says so.
//! `riskrelay parked` lists what is parked and replays it on request. (The Lambda worker does not
//! park: its queue moves such items to the dead-letter queue after `maxReceiveCount`.)

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::alert::{Message, OperationsNotice, keys};
use crate::deliver::{DeliverError, Delivery, Report};
use crate::ids::TenantId;
use crate::sink::SinkError;
use crate::store::{self, Store, StoreError};

/// Failed attempts of a retryable failure before its message is parked. The in-process queue
/// makes three attempts per cycle, so this is the fourth cycle (about eight minutes at the
/// default two-minute poll): long enough for a chat outage to pass, short enough that the
/// checkpoint does not stall for an hour.
pub const PARK_AFTER_ATTEMPTS: u32 = 10;

/// Most messages kept parked. Past it nothing more is parked (the item fails and the cycle stalls,
/// loudly), because a destination that rejects everything is a configuration error to fix, not
/// something to absorb forever.
pub const MAX_PARKED: usize = 500;

/// A failure not seen again for this long is forgotten (its alert went through, or changed key).
const ATTEMPTS_RETENTION: time::Duration = time::Duration::days(1);

/// A message set aside for one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parked {
    /// Short and stable: derived from the message key and the destination.
    pub id: String,
    pub sink: String,
    pub message: Message,
    /// The last error, as the sink reported it, scrubbed of every secret riskrelay holds.
    pub error: String,
    /// The kind of failure in a few words ("refused the message (HTTP 400)"), never the
    /// destination's own text: what a notice to the other destinations says.
    #[serde(default)]
    pub failure: String,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub first_failed: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub parked_at: OffsetDateTime,
}

/// Failures counted towards parking, per (message key, destination).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attempts {
    key: String,
    sink: String,
    count: u32,
    #[serde(with = "time::serde::rfc3339")]
    first: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last: OffsetDateTime,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Book {
    attempts: Vec<Attempts>,
    parked: Vec<Parked>,
}

/// One message that did not reach one destination.
#[derive(Debug, Clone)]
pub struct Failed<'a> {
    pub message: &'a Message,
    pub sink: &'a str,
    pub error: &'a DeliverError,
}

impl Failed<'_> {
    /// The kind of failure, in words that quote nothing the destination said.
    fn failure(&self) -> String {
        match self.error {
            DeliverError::Sink(e) => e.class().to_string(),
            DeliverError::Store(_) => "the delivery record could not be written".into(),
            DeliverError::InProgress => "another worker was delivering it".into(),
        }
    }

    fn permanent(&self) -> bool {
        matches!(self.error, DeliverError::Sink(SinkError::Permanent { .. }))
    }

    /// Only what the destination answered counts: a claim held by a crashed run, or a store
    /// error, says nothing about the message.
    fn counts(&self) -> bool {
        matches!(self.error, DeliverError::Sink(_))
    }
}

/// What [`settle`] decided.
#[derive(Debug, Default)]
pub struct Settled {
    /// (message key, destination) now parked: count them as handled.
    pub parked: Vec<(String, String)>,
    /// The operations notice to post, when something was parked.
    pub notice: Option<Message>,
}

fn id_of(key: &str, sink: &str) -> String {
    keys::fingerprint([key, sink])
}

/// Counts this batch's failures, parks those that are permanent or have failed often enough, and
/// forgets the counts of what went through (`posted`: (destination, key)). A batch without a
/// failure reads nothing: counts left by a message that went through later lapse after a day.
pub async fn settle(
    store: &dyn Store,
    tenant: TenantId,
    failed: &[Failed<'_>],
    posted: &[(String, String)],
    now: OffsetDateTime,
) -> Result<Settled, StoreError> {
    if !failed.iter().any(Failed::counts) {
        return Ok(Settled::default());
    }
    // Optimistic concurrency: a concurrent writer (a replay) makes us read again.
    for _ in 0..3 {
        let stored = store::load::<Book>(store, tenant, store::keys::PARKED).await?;
        let version = stored.as_ref().map(|s| s.version);
        let mut book = stored.map(|s| s.value).unwrap_or_default();
        let before = book.attempts.clone();
        let parked_before = book.parked.len();
        book.attempts.retain(|a| {
            now - a.last < ATTEMPTS_RETENTION
                && !posted.iter().any(|(s, k)| *s == a.sink && *k == a.key)
        });
        let mut settled = Settled::default();
        for f in failed.iter().filter(|f| f.counts()) {
            let key = f.message.key();
            let count = match book
                .attempts
                .iter_mut()
                .find(|a| a.key == key && a.sink == f.sink)
            {
                Some(a) => {
                    a.count += 1;
                    a.last = now;
                    a.clone()
                }
                None => {
                    let a = Attempts {
                        key: key.to_string(),
                        sink: f.sink.to_string(),
                        count: 1,
                        first: now,
                        last: now,
                    };
                    book.attempts.push(a.clone());
                    a
                }
            };
            if !(f.permanent() || count.count >= PARK_AFTER_ATTEMPTS) {
                continue;
            }
            if book.parked.len() >= MAX_PARKED {
                tracing::error!(
                    parked = book.parked.len(),
                    "too many messages are parked; this one is not, and its cycle fails until `riskrelay parked` is dealt with"
                );
                continue;
            }
            book.attempts
                .retain(|a| !(a.key == key && a.sink == f.sink));
            let id = id_of(key, f.sink);
            book.parked.retain(|p| p.id != id);
            book.parked.push(Parked {
                id,
                sink: f.sink.to_string(),
                message: f.message.clone(),
                error: crate::redact::scrub(&f.error.to_string()),
                failure: f.failure(),
                attempts: count.count,
                first_failed: count.first,
                parked_at: now,
            });
            settled.parked.push((key.to_string(), f.sink.to_string()));
        }
        if book.attempts == before
            && book.parked.len() == parked_before
            && settled.parked.is_empty()
        {
            return Ok(settled);
        }
        if store::save(store, tenant, store::keys::PARKED, &book, version).await? {
            let new = &book.parked[book.parked.len() - settled.parked.len()..];
            settled.notice = (!new.is_empty()).then(|| notice(tenant, new, now));
            for p in new {
                tracing::error!(id = %p.id, sink = %p.sink, attempts = p.attempts, error = %p.error, "message parked: the destination would not take it; `riskrelay parked` lists it");
            }
            return Ok(settled);
        }
    }
    Err(StoreError::Unavailable(
        "the parked messages changed three times while being updated".into(),
    ))
}

/// One operations notice for the messages parked in one batch.
fn notice(tenant: TenantId, parked: &[Parked], now: OffsetDateTime) -> Message {
    let n = parked.len();
    Message::Operations(OperationsNotice {
        key: format!(
            "operations/{tenant}/parked/{}",
            keys::fingerprint(parked.iter().map(|p| p.id.as_str()))
        ),
        tenant_id: tenant,
        title: format!(
            "{n} message{} could not be delivered and {} set aside",
            if n == 1 { "" } else { "s" },
            if n == 1 { "was" } else { "were" }
        ),
        // The destination and the kind of failure, never its answer: this notice goes to the other
        // destinations, and an answer may quote a secret of the one that refused.
        lines: parked
            .iter()
            .map(|p| {
                format!(
                    "{} · to {} · {} (after {} attempt{}) · id {}",
                    summary(&p.message),
                    p.sink,
                    p.failure,
                    p.attempts,
                    if p.attempts == 1 { "" } else { "s" },
                    p.id
                )
            })
            .collect(),
        action: "Every other message went on. Fix the destination, then run `riskrelay parked --replay all` (or one id) to post what was set aside; `riskrelay parked` lists it.".into(),
        at: now,
        incident: None,
        resolves: false,
    })
}

/// A line naming a message, for lists and notices.
pub fn summary(m: &Message) -> String {
    match m {
        Message::User(a) => format!("{} · {}", a.change.kind(), a.display_name()),
        Message::Workload(a) => format!(
            "{} · {} {}",
            a.change.kind(),
            a.workload.kind.noun(),
            a.display_name()
        ),
        Message::Posture(p) => p.title.clone(),
        Message::Digest(d) => format!("a digest of {} users", d.entries.len()),
        Message::Baseline(_) => "the baseline summary".into(),
        Message::Operations(o) => o.title.clone(),
        Message::Snooze(n) => format!("the snooze of {}", n.snooze.subject),
        Message::Summary(_) => "the summary".into(),
        Message::Action(a) => format!("the action on {}", a.user),
    }
}

pub async fn list(store: &dyn Store, tenant: TenantId) -> Result<Vec<Parked>, StoreError> {
    Ok(store::load::<Book>(store, tenant, store::keys::PARKED)
        .await?
        .map(|b| b.value.parked)
        .unwrap_or_default())
}

/// Which parked messages to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    One(String),
}

/// Posts parked messages to their destination again; each that arrives is removed. Returns
/// (id, outcome) per message tried; an unknown id is an error.
pub async fn replay(
    store: &dyn Store,
    tenant: TenantId,
    delivery: &Delivery,
    which: &Selection,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<(String, Result<(), String>)>> {
    let parked = list(store, tenant).await?;
    let chosen: Vec<&Parked> = parked
        .iter()
        .filter(|p| match which {
            Selection::All => true,
            Selection::One(id) => p.id == *id,
        })
        .collect();
    if let Selection::One(id) = which
        && chosen.is_empty()
    {
        anyhow::bail!("no parked message has the id {id}; `riskrelay parked` lists them");
    }
    let mut outcomes = Vec::new();
    for p in chosen {
        let outcome = match delivery
            .deliver_only(&p.sink, std::slice::from_ref(&p.message), now)
            .await
        {
            None => Err(format!(
                "the destination {} is no longer configured; it stays parked",
                p.sink
            )),
            Some(Report { failures, .. }) if !failures.is_empty() => Err(failures
                .iter()
                .map(|f| f.error.to_string())
                .collect::<Vec<_>>()
                .join("; ")),
            Some(_) => Ok(()),
        };
        if outcome.is_ok() {
            remove(store, tenant, &p.id).await?;
        }
        outcomes.push((p.id.clone(), outcome));
    }
    Ok(outcomes)
}

async fn remove(store: &dyn Store, tenant: TenantId, id: &str) -> Result<(), StoreError> {
    store::update(store, tenant, store::keys::PARKED, |book: &mut Book| {
        book.parked.retain(|p| p.id != id)
    })
    .await
}
