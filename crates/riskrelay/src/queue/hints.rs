//! The self-hosted webhook's queue: bounded, and coalescing hints about the same user. Graph can
//! deliver notifications far faster than the tenant's identity-protection budget (1 request per
//! second) lets riskrelay read users, so an unbounded queue only grows; and ten hints about one
//! user ask for the same read ten times. A hint already waiting is not queued again, and when the
//! queue is full `enqueue` fails, so the webhook answers 503 and Graph retries later (it does for
//! up to four hours). Hints are wake-ups: one dropped at shutdown is caught by the next poll.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{Queue, QueueError};
use crate::observation::{Subject, WorkItem};

/// Hints waiting at most: each is a few hundred bytes, and more than this many distinct users
/// waiting means the worker is hours behind the tenant's budget anyway.
pub const DEFAULT_CAPACITY: usize = 10_000;

#[derive(Default)]
struct State {
    items: VecDeque<WorkItem>,
    waiting: HashSet<String>,
    closed: bool,
}

#[derive(Clone)]
pub struct HintQueue {
    state: Arc<Mutex<State>>,
    ready: Arc<Notify>,
    capacity: usize,
}

/// The identity of what a hint asks for: the same user by the same route is one read.
fn key(item: &WorkItem) -> Option<String> {
    match item {
        WorkItem::Observation(o) if o.fetched.is_none() => Some(match &o.subject {
            Subject::RiskyUser { user_id } => format!("riskyUser/{}/{user_id}", o.tenant_id),
            Subject::User { user_id } => format!("user/{}/{user_id}", o.tenant_id),
            Subject::SecurityAlert { alert_id } => format!("alert/{}/{alert_id}", o.tenant_id),
        }),
        _ => None,
    }
}

impl HintQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            ready: Arc::new(Notify::new()),
            capacity,
        }
    }

    /// Hints waiting now.
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.items.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes up to `max` hints, waiting for one; `None` once closed and empty.
    pub async fn next_batch(&self, max: usize) -> Option<Vec<WorkItem>> {
        loop {
            let notified = self.ready.notified();
            {
                let Ok(mut s) = self.state.lock() else {
                    return None;
                };
                if !s.items.is_empty() {
                    let n = max.min(s.items.len());
                    let batch: Vec<WorkItem> = s.items.drain(..n).collect();
                    crate::metrics::global().hint_queue_depth(s.items.len());
                    for item in &batch {
                        if let Some(k) = key(item) {
                            s.waiting.remove(&k);
                        }
                    }
                    return Some(batch);
                }
                if s.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// No more hints are accepted; waiting ones can still be taken.
    pub fn close(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.closed = true;
        }
        self.ready.notify_waiters();
    }
}

#[async_trait]
impl Queue for HintQueue {
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError> {
        let mut s = self.state.lock().map_err(|_| QueueError::Closed)?;
        if s.closed {
            return Err(QueueError::Closed);
        }
        let mut keys = HashSet::new();
        let fresh: Vec<(Option<String>, WorkItem)> = items
            .into_iter()
            .map(|i| (key(&i), i))
            .filter(|(k, _)| {
                k.as_ref()
                    .is_none_or(|k| !s.waiting.contains(k) && keys.insert(k.clone()))
            })
            .collect();
        if s.items.len() + fresh.len() > self.capacity {
            return Err(QueueError::Full {
                capacity: self.capacity,
            });
        }
        for (k, item) in fresh {
            if let Some(k) = k {
                s.waiting.insert(k);
            }
            s.items.push_back(item);
        }
        crate::metrics::global().hint_queue_depth(s.items.len());
        drop(s);
        self.ready.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{TenantId, UserId};
    use crate::observation::{Observation, Origin};

    fn hint(n: u128) -> WorkItem {
        WorkItem::Observation(Observation {
            tenant_id: TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap(),
            subject: Subject::RiskyUser {
                user_id: UserId::from_uuid(uuid::Uuid::from_u128(n)),
            },
            origin: Origin::Poll {
                cycle_id: "c".into(),
            },
            observed_at: time::OffsetDateTime::UNIX_EPOCH,
            fetched: None,
        })
    }

    #[tokio::test]
    async fn hints_for_a_waiting_user_are_coalesced_and_a_full_queue_refuses() {
        let q = HintQueue::new(3);
        q.enqueue((0..20).map(|_| hint(1)).collect()).await.unwrap();
        q.enqueue(vec![hint(1), hint(2)]).await.unwrap();
        assert_eq!(q.len(), 2, "twenty-one hints for user 1 are one");
        q.enqueue(vec![hint(3)]).await.unwrap();
        let err = q.enqueue(vec![hint(4)]).await.unwrap_err();
        assert!(matches!(err, QueueError::Full { capacity: 3 }), "{err}");
        assert_eq!(q.len(), 3, "a refused enqueue adds nothing");

        let batch = q.next_batch(2).await.unwrap();
        assert_eq!(batch.len(), 2);
        // Once taken, a user can be hinted again: they may have changed since.
        q.enqueue(vec![hint(1), hint(4)]).await.unwrap();
        assert_eq!(q.len(), 3);
    }

    #[tokio::test]
    async fn a_waiting_consumer_wakes_and_ends_when_closed() {
        let q = HintQueue::new(10);
        let consumer = {
            let q = q.clone();
            tokio::spawn(async move {
                let mut got = 0;
                while let Some(b) = q.next_batch(10).await {
                    got += b.len();
                }
                got
            })
        };
        tokio::task::yield_now().await;
        q.enqueue(vec![hint(1), hint(2)]).await.unwrap();
        tokio::task::yield_now().await;
        q.close();
        assert!(q.enqueue(vec![hint(3)]).await.is_err());
        assert_eq!(consumer.await.unwrap(), 2);
    }
}
