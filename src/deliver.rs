//! Delivery: each message to each sink that wants it, exactly once.
//!
//! Before posting, a delivery record for (alert key, sink) is claimed in the store; after the post
//! it is completed, after a failure released. So a retried observation re-sends only to the sinks
//! that failed, a duplicate observation posts nothing, and two workers racing on the same alert
//! post it once. When one cycle brings a sink more user alerts than the digest threshold, that
//! sink gets one digest instead of a flood; the digest completes every alert it carries.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::alert::{AlertKind, Digest, DigestEntry, Message, UserAlert, keys};
use crate::catalogue;
use crate::render;
use crate::sink::{Sink, SinkError};
use crate::store::{Claim, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("the delivery record could not be written: {0}")]
    Store(String),
    #[error("another worker is delivering it right now")]
    InProgress,
}

impl From<StoreError> for DeliverError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

/// A message that did not reach a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub sink: String,
    pub keys: Vec<String>,
    pub error: DeliverError,
}

/// What one delivery run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// (sink, message key) of every post made; a digest counts once, under its own key.
    pub posted: Vec<(String, String)>,
    /// Alerts skipped because the sink already had them.
    pub duplicates: usize,
    pub digests: usize,
    pub failures: Vec<Failure>,
}

impl Report {
    /// Keys of every alert that did not reach some sink that wanted it.
    pub fn failed_keys(&self) -> HashSet<String> {
        self.failures
            .iter()
            .flat_map(|f| f.keys.iter().cloned())
            .collect()
    }
}

pub struct Delivery {
    store: Arc<dyn Store>,
    sinks: Vec<Arc<dyn Sink>>,
    kinds: BTreeSet<AlertKind>,
    digest_threshold: usize,
}

fn kind_of(m: &Message) -> Option<AlertKind> {
    match m {
        Message::User(a) => Some(a.change.kind()),
        Message::Posture(p) => Some(p.kind),
        Message::Baseline(_) => Some(AlertKind::Baseline),
        Message::Digest(_) => None,
    }
}

/// A digest line for an alert.
pub fn digest_entry(a: &UserAlert) -> DigestEntry {
    DigestEntry {
        display_name: a.display_name(),
        upn: a.upn(),
        change: a.change.clone(),
        level: a.routing_level(),
        top_detection: a
            .detections
            .first()
            .map(|d| catalogue::describe(&d.risk_event_type, d.activity.as_deref()).name),
    }
}

impl Delivery {
    pub fn new(
        store: Arc<dyn Store>,
        sinks: Vec<Arc<dyn Sink>>,
        kinds: BTreeSet<AlertKind>,
        digest_threshold: usize,
    ) -> Self {
        Self {
            store,
            sinks,
            kinds,
            digest_threshold,
        }
    }

    pub fn sink_names(&self) -> Vec<String> {
        self.sinks.iter().map(|s| s.name().to_string()).collect()
    }

    pub async fn deliver(&self, messages: &[Message], now: OffsetDateTime) -> Report {
        let mut report = Report::default();
        let wanted: Vec<&Message> = messages
            .iter()
            .filter(|m| kind_of(m).is_none_or(|k| self.kinds.contains(&k)))
            .collect();
        for sink in &self.sinks {
            self.deliver_to(sink.as_ref(), &wanted, now, &mut report)
                .await;
        }
        report
    }

    async fn deliver_to(
        &self,
        sink: &dyn Sink,
        messages: &[&Message],
        now: OffsetDateTime,
        report: &mut Report,
    ) {
        let name = sink.name().to_string();
        let mut users: Vec<&UserAlert> = Vec::new();
        for m in messages {
            match m {
                Message::User(a) if a.routing_level().meets(sink.min_level()) => users.push(a),
                Message::User(_) => {}
                other => self.post_one(sink, other, now, report).await,
            }
        }
        if users.len() <= self.digest_threshold {
            // One at a time, each claimed just before its post: a crash between two posts leaves
            // no claim behind, so the next attempt delivers the rest at once.
            for a in users {
                self.post_one(sink, &Message::User(Box::new(a.clone())), now, report)
                    .await;
            }
            return;
        }
        // A burst: claim everything first, so that what an earlier attempt already delivered
        // drops out of the digest.
        let mut claimed = Vec::new();
        for a in users {
            match self.store.claim_delivery(&a.key, &name, now).await {
                Ok(Claim::Claimed) => claimed.push(a),
                Ok(Claim::Done) => report.duplicates += 1,
                Ok(Claim::InProgress) => report.failures.push(Failure {
                    sink: name.clone(),
                    keys: vec![a.key.clone()],
                    error: DeliverError::InProgress,
                }),
                Err(e) => report.failures.push(Failure {
                    sink: name.clone(),
                    keys: vec![a.key.clone()],
                    error: e.into(),
                }),
            }
        }
        if claimed.is_empty() {
            return;
        }
        let keys_of: Vec<String> = claimed.iter().map(|a| a.key.clone()).collect();
        let digest = Message::Digest(Digest {
            key: format!(
                "digest/{}/{}",
                claimed[0].tenant_id,
                keys::fingerprint(keys_of.iter().map(String::as_str))
            ),
            tenant_id: claimed[0].tenant_id,
            entries: claimed.iter().map(|a| digest_entry(a)).collect(),
        });
        sink.ready().await;
        let result = sink.post(&render::view(&digest)).await;
        if self.settle(&name, &keys_of, result, now, report).await {
            report.digests += 1;
            report.posted.push((name.clone(), digest.key().to_string()));
        }
    }

    async fn post_one(
        &self,
        sink: &dyn Sink,
        m: &Message,
        now: OffsetDateTime,
        report: &mut Report,
    ) {
        let name = sink.name().to_string();
        let key = m.key().to_string();
        sink.ready().await;
        match self.store.claim_delivery(&key, &name, now).await {
            Ok(Claim::Claimed) => {
                let result = sink.post(&render::view(m)).await;
                if self
                    .settle(&name, std::slice::from_ref(&key), result, now, report)
                    .await
                {
                    report.posted.push((name, key));
                }
            }
            Ok(Claim::Done) => report.duplicates += 1,
            Ok(Claim::InProgress) => report.failures.push(Failure {
                sink: name,
                keys: vec![key],
                error: DeliverError::InProgress,
            }),
            Err(e) => report.failures.push(Failure {
                sink: name,
                keys: vec![key],
                error: e.into(),
            }),
        }
    }

    /// Completes the claims after a successful post, releases them after a failed one. Returns
    /// whether the post succeeded.
    async fn settle(
        &self,
        sink: &str,
        keys: &[String],
        result: Result<(), SinkError>,
        now: OffsetDateTime,
        report: &mut Report,
    ) -> bool {
        match result {
            Ok(()) => {
                for k in keys {
                    if let Err(e) = self.store.complete_delivery(k, sink, now).await {
                        // Posted but not recorded: a retry may post again. Say so loudly.
                        tracing::error!(sink, key = %k, error = %e, "posted, but the delivery record could not be completed");
                    }
                }
                true
            }
            Err(e) => {
                if e.is_retryable() {
                    tracing::warn!(sink, error = %e, "delivery failed");
                } else {
                    tracing::error!(sink, error = %e, "delivery failed permanently; the message goes to the dead-letter queue after its retries");
                }
                for k in keys {
                    if let Err(e) = self.store.release_delivery(k, sink).await {
                        tracing::warn!(sink, key = %k, error = %e, "could not release a delivery claim; it lapses on its own");
                    }
                }
                report.failures.push(Failure {
                    sink: sink.to_string(),
                    keys: keys.to_vec(),
                    error: DeliverError::Sink(e),
                });
                false
            }
        }
    }
}
