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

use crate::alert::{AlertKind, Digest, Message, UserAlert, keys};
use crate::config::{ConfigError, Env, SecretSource, count};
use crate::render;
use crate::risk::RiskLevel;
use crate::sink::config::SinkConfig;
use crate::sink::{self, Outgoing, Sink, SinkError};
use crate::store::{Claim, Store, StoreError};

/// Where messages go and which: the destinations, the kinds posted, and when a burst becomes a
/// digest. Who gets an alert at all is the worker's policy (`crate::worker::Policy`).
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub sinks: Vec<SinkConfig>,
    pub kinds: BTreeSet<AlertKind>,
    /// More user alerts than this in one cycle become one digest per destination.
    pub digest_threshold: usize,
}

impl Default for AlertsConfig {
    /// No destination, every kind, digests above 10 alerts.
    fn default() -> Self {
        Self {
            sinks: Vec::new(),
            kinds: AlertKind::ALL.into_iter().collect(),
            digest_threshold: 10,
        }
    }
}

impl AlertsConfig {
    pub fn load(env: &Env, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        let default_level = env.or(
            "RISKRELAY_MIN_RISK_LEVEL",
            "low, medium or high",
            RiskLevel::Medium,
            RiskLevel::parse_minimum,
        )?;
        let kinds = env.or(
            "RISKRELAY_ALERT_KINDS",
            "a comma-separated list of alert kinds",
            AlertKind::ALL.into_iter().collect(),
            |v| {
                v.split(',')
                    .filter(|k| !k.trim().is_empty())
                    .map(str::parse)
                    .collect()
            },
        )?;
        let digest_threshold = env.or(
            "RISKRELAY_DIGEST_THRESHOLD",
            "a whole number from 1 to 1000",
            Self::default().digest_threshold,
            count(1..=1000),
        )?;
        Ok(Self {
            sinks: sink::config::load(env, secrets, &default_level)?,
            kinds,
            digest_threshold,
        })
    }
}

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
    /// (sink, user alert key) of every user alert the sink now has: posted on its own or in a
    /// digest, now or by an earlier attempt. The worker records these sinks as told of the
    /// episode, so that each is told its end.
    pub reached: Vec<(String, String)>,
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
    /// The tenant's name, on every message when one deployment watches many tenants.
    tenant_name: Option<String>,
}

impl Delivery {
    fn outgoing<'m>(&self, m: &'m Message) -> Outgoing<'m> {
        let mut view = render::view(m);
        if let Some(name) = &self.tenant_name {
            render::name_tenant(&mut view, name);
        }
        Outgoing {
            routing: m.routing(),
            view,
            message: m,
            tenant_name: self.tenant_name.clone(),
        }
    }
}

/// When the process is stopping, a post is not started (a wait for the destination's pace may
/// have been cut short): the message fails as retryable and the next start sends it.
fn stopping(sink: &str, keys: &[String]) -> Option<Failure> {
    crate::http::stopping().then(|| Failure {
        sink: sink.to_string(),
        keys: keys.to_vec(),
        error: DeliverError::Sink(SinkError::Retryable {
            sink: sink.to_string(),
            class: crate::sink::FailureClass::Stopping,
            detail: "riskrelay is stopping; not posted".into(),
        }),
    })
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
            tenant_name: None,
        }
    }

    /// Whether there is no destination at all.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Names the tenant on every message (the MSP mode: several tenants share a channel).
    pub fn with_tenant_name(mut self, name: Option<String>) -> Self {
        self.tenant_name = name;
        self
    }

    pub async fn deliver(&self, messages: &[Message], now: OffsetDateTime) -> Report {
        let mut report = Report::default();
        for sink in &self.sinks {
            let wanted: Vec<&Message> = messages
                .iter()
                .filter(|m| match m {
                    Message::User(a) => a.wanted_by(sink.name(), sink.min_level(), &self.kinds),
                    Message::Workload(a) => a.wanted_by(sink.name(), sink.min_level(), &self.kinds),
                    other => other.routing().kind.is_none_or(|k| self.kinds.contains(&k)),
                })
                .collect();
            self.deliver_to(sink.as_ref(), &wanted, now, &mut report)
                .await;
        }
        report
    }

    /// The same, to one destination only (a replay of what it once refused). `None` when no
    /// destination has that name.
    pub async fn deliver_only(
        &self,
        sink: &str,
        messages: &[Message],
        now: OffsetDateTime,
    ) -> Option<Report> {
        let sink = self.sinks.iter().find(|s| s.name() == sink)?;
        let mut report = Report::default();
        let all: Vec<&Message> = messages.iter().collect();
        self.deliver_to(sink.as_ref(), &all, now, &mut report).await;
        Some(report)
    }

    /// Delivers to one destination and counts what it came to (a digest counts once).
    async fn deliver_to(
        &self,
        sink: &dyn Sink,
        messages: &[&Message],
        now: OffsetDateTime,
        report: &mut Report,
    ) {
        let (posted, failed) = (report.posted.len(), report.failures.len());
        self.post_all(sink, messages, now, report).await;
        let metrics = crate::metrics::global();
        let n = (report.posted.len() - posted) as u64;
        metrics.alerts(sink.name(), crate::metrics::Outcome::Delivered, n);
        let n: usize = report.failures[failed..].iter().map(|f| f.keys.len()).sum();
        metrics.alerts(sink.name(), crate::metrics::Outcome::Failed, n as u64);
    }

    async fn post_all(
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
                Message::User(a) => users.push(a),
                other => self.post_one(sink, other, now, report).await,
            }
        }
        if users.len() <= self.digest_threshold || !sink.digests() {
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
        let keys: Vec<String> = users.iter().map(|a| a.key.clone()).collect();
        match self.store.claim_deliveries(&keys, &name, now).await {
            Ok(claims) => {
                for (a, claim) in users.into_iter().zip(claims) {
                    match claim {
                        Claim::Claimed => claimed.push(a),
                        Claim::Done => {
                            report.duplicates += 1;
                            report.reached.push((name.clone(), a.key.clone()));
                        }
                        Claim::InProgress => report.failures.push(Failure {
                            sink: name.clone(),
                            keys: vec![a.key.clone()],
                            error: DeliverError::InProgress,
                        }),
                    }
                }
            }
            Err(e) => report.failures.push(Failure {
                sink: name.clone(),
                keys,
                error: e.into(),
            }),
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
            entries: claimed.iter().map(|a| a.digest_entry()).collect(),
        });
        sink.ready().await;
        if let Some(failure) = stopping(&name, &keys_of) {
            for k in &keys_of {
                if let Err(e) = self.store.release_delivery(k, &name).await {
                    tracing::warn!(sink = %name, key = %k, error = %e, "could not release a delivery claim; it lapses on its own");
                }
            }
            report.failures.push(failure);
            return;
        }
        let result = sink.post(&self.outgoing(&digest)).await;
        if self.settle(&name, &keys_of, result, now, report).await {
            report.digests += 1;
            report.posted.push((name.clone(), digest.key().to_string()));
            report
                .reached
                .extend(keys_of.iter().map(|k| (name.clone(), k.clone())));
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
        if let Some(failure) = stopping(&name, std::slice::from_ref(&key)) {
            report.failures.push(failure);
            return;
        }
        let user = matches!(m, Message::User(_) | Message::Workload(_));
        match self.store.claim_delivery(&key, &name, now).await {
            Ok(Claim::Claimed) => {
                let result = sink.post(&self.outgoing(m)).await;
                if self
                    .settle(&name, std::slice::from_ref(&key), result, now, report)
                    .await
                {
                    if user {
                        report.reached.push((name.clone(), key.clone()));
                    }
                    report.posted.push((name, key));
                }
            }
            Ok(Claim::Done) => {
                report.duplicates += 1;
                if user {
                    report.reached.push((name, key));
                }
            }
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
                if let Err(e) = self.store.complete_deliveries(keys, sink, now).await {
                    // Posted but not recorded: a retry may post again. Say so loudly.
                    tracing::error!(sink, keys = keys.len(), error = %e, "posted, but the delivery records could not be completed");
                }
                true
            }
            Err(e) => {
                if e.is_retryable() {
                    tracing::warn!(sink, error = %e, "delivery failed");
                } else {
                    tracing::error!(sink, error = %e, "delivery failed permanently; the message is retried no more than its queue allows, then dead-lettered or parked");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvSecrets;

    fn env() -> Env {
        Env::default().with(
            "RISKRELAY_TENANT_ID",
            "11111111-2222-3333-4444-555555555555",
        )
    }

    #[test]
    fn sinks_default_from_urls_and_explicit_lists() {
        let e = env().with(
            "RISKRELAY_SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T0/B0/SECRETPART",
        );
        let c = AlertsConfig::load(&e, &EnvSecrets(&e)).unwrap();
        assert_eq!(c.sinks.len(), 1);
        assert_eq!(
            (
                c.sinks[0].name.as_str(),
                c.sinks[0].kind,
                &c.sinks[0].min_level
            ),
            ("slack", sink::config::SinkKind::Slack, &RiskLevel::Medium)
        );
        assert!(!format!("{c:?}").contains("SECRETPART"));
        assert_eq!(c.digest_threshold, 10);
        assert_eq!(c.kinds.len(), AlertKind::ALL.len());

        let e = env()
            .with("RISKRELAY_SINKS", "secops:slack:low, soc:teams:high")
            .with("RISKRELAY_SECOPS_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/X")
            .with("RISKRELAY_SOC_WEBHOOK_URL", "https://prod-01.westus.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=abc")
            .with("RISKRELAY_ALERT_KINDS", "newRisk,remediated");
        let c = AlertsConfig::load(&e, &EnvSecrets(&e)).unwrap();
        assert_eq!(
            c.sinks
                .iter()
                .map(|s| (s.name.as_str(), s.min_level.clone()))
                .collect::<Vec<_>>(),
            vec![("secops", RiskLevel::Low), ("soc", RiskLevel::High)]
        );
        assert_eq!(c.kinds.len(), 2);
    }

    #[test]
    fn a_pagerduty_destination_needs_its_routing_key_and_takes_a_region_url() {
        let e = env().with("RISKRELAY_SINKS", "oncall:pagerduty:high");
        let err = AlertsConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(err.contains("RISKRELAY_ONCALL_ROUTING_KEY"), "{err}");
        let e = e.clone().with("RISKRELAY_ONCALL_ROUTING_KEY", "short");
        let err = AlertsConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("32 letters and digits") && !err.contains("short"),
            "{err}"
        );
        let key = "R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y12";
        let e = e.clone().with("RISKRELAY_ONCALL_ROUTING_KEY", key);
        let c = AlertsConfig::load(&e, &EnvSecrets(&e)).unwrap();
        assert_eq!(c.sinks[0].kind, sink::config::SinkKind::PagerDuty);
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&c.sinks[0].url),
            sink::config::PAGERDUTY_EVENTS_URL
        );
        assert!(!format!("{c:?}").contains(key));
        let eu = e.clone().with(
            "RISKRELAY_ONCALL_EVENTS_URL",
            "https://events.eu.pagerduty.com/v2/enqueue",
        );
        let c = AlertsConfig::load(&eu, &EnvSecrets(&eu)).unwrap();
        assert!(secrecy::ExposeSecret::expose_secret(&c.sinks[0].url).contains(".eu."));
        let plain = e.with("RISKRELAY_ONCALL_EVENTS_URL", "http://events.example.com/x");
        let err = AlertsConfig::load(&plain, &EnvSecrets(&plain))
            .unwrap_err()
            .to_string();
        assert!(err.contains("RISKRELAY_ONCALL_EVENTS_URL"), "{err}");
    }

    #[test]
    fn sink_errors_name_the_variable_and_never_the_url() {
        let e = env().with("RISKRELAY_SINKS", "secops:slack");
        let err = AlertsConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("RISKRELAY_SECOPS_WEBHOOK_URL is not set"),
            "{err}"
        );

        let e = env().with(
            "RISKRELAY_SLACK_WEBHOOK_URL",
            "http://hooks.slack.com/services/T0/B0/SECRETPART",
        );
        let err = AlertsConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("RISKRELAY_SLACK_WEBHOOK_URL is invalid")
                && !err.contains("SECRETPART"),
            "{err}"
        );

        for bad in [
            "x:discord",
            "a:slack:critical",
            "bad-name:slack",
            "a:slack,a:teams",
            "a",
        ] {
            let e = env()
                .with("RISKRELAY_SINKS", bad)
                .with("RISKRELAY_A_WEBHOOK_URL", "https://x.example/");
            let err = AlertsConfig::load(&e, &EnvSecrets(&e))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("RISKRELAY_SINKS is invalid"),
                "{bad}: {err}"
            );
        }
        let e = env().with("RISKRELAY_ALERT_KINDS", "newRisk,everything");
        let err = AlertsConfig::load(&e, &EnvSecrets(&e))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RISKRELAY_ALERT_KINDS") && err.contains("known kinds are"),
            "{err}"
        );
    }
}
