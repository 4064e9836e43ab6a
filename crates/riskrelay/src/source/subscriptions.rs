//! Subscription upkeep: the optional Graph change-notification subscriptions that wake riskrelay
//! between polls.
//!
//! Graph offers no subscription for risky users. Two optional ones help:
//! - `users`: a directory update for a user; the worker then reads the risk of users it knows to
//!   be at risk. Graph's subscription documentation does not list password changes among the
//!   user updates that notify, and the risky-user read a notification triggers can still say
//!   `atRisk` before ID Protection records the remediation: a wake-up, with no promised timing —
//!   the poll remains the source of truth;
//! - `ipc-alerts`: legacy security alerts from ID Protection, where a cloud still serves them.
//!
//! Upkeep makes the configured subscriptions exist with the right URLs and `clientState`, renews
//! them before they expire, reauthorizes on `reauthorizationRequired`, recreates on
//! `subscriptionRemoved`, and asks for a poll on `missed` (through a [`crate::source::poll::PollTrigger`]).
//!
//! [`KnownSubscriptions`] lets the webhook accept notifications only for subscriptions upkeep
//! created (a leaked `clientState` alone then gets nothing in), and still accept them while a
//! creation is in flight, before its id is saved.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::client_state::ClientStates;
use crate::config::{ConfigError, Env, check_webhook_url};
use crate::graph::{GraphClient, GraphError, reads::GraphSubscription};
use crate::ids::{SubscriptionId, TenantId};
use crate::notification::LifecycleKind;
use crate::observation::LifecycleEvent;
use crate::source::poll::PollTrigger;
use crate::store::{self, Store, StoreError};

/// A subscription riskrelay can keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Wanted {
    Users,
    IpcAlerts,
}

impl Wanted {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "users" => Ok(Self::Users),
            "ipc-alerts" => Ok(Self::IpcAlerts),
            _ => Err("known subscriptions are users and ipc-alerts".into()),
        }
    }

    pub fn resource(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::IpcAlerts => "security/alerts?$filter=vendorInformation/provider eq 'IPC'",
        }
    }

    pub fn change_type(self) -> &'static str {
        match self {
            Self::Users => "updated",
            Self::IpcAlerts => "created,updated",
        }
    }

    /// Graph's longest lifetimes, less a day: 41,760 minutes for directory resources, 43,200 for
    /// security alerts.
    pub fn lifetime(self) -> time::Duration {
        match self {
            Self::Users => time::Duration::minutes(41_760) - time::Duration::days(1),
            Self::IpcAlerts => time::Duration::minutes(43_200) - time::Duration::days(1),
        }
    }
}

/// Renew when less than this is left: the weekly upkeep run always catches it.
pub const RENEW_BEFORE: time::Duration = time::Duration::days(10);

#[derive(Debug, Clone, Default)]
pub struct SubscriptionsConfig {
    pub wanted: Vec<Wanted>,
    /// The webhook's public base URL (the Function URL, or the self-hosted server's).
    pub public_url: Option<url::Url>,
}

impl SubscriptionsConfig {
    pub fn notification_url(&self) -> Option<String> {
        self.public_url
            .as_ref()
            .map(|u| format!("{}/notifications", u.as_str().trim_end_matches('/')))
    }

    pub fn lifecycle_url(&self) -> Option<String> {
        self.public_url
            .as_ref()
            .map(|u| format!("{}/lifecycle", u.as_str().trim_end_matches('/')))
    }
}

impl SubscriptionsConfig {
    /// `RISKRELAY_SUBSCRIPTIONS` (none by default) and `RISKRELAY_PUBLIC_URL`.
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        let wanted = env.or(
            "RISKRELAY_SUBSCRIPTIONS",
            "a comma-separated list of users, ipc-alerts",
            Vec::new(),
            |v| {
                v.split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(Wanted::parse)
                    .collect::<Result<Vec<_>, _>>()
            },
        )?;
        let public_url = env.optional(
            "RISKRELAY_PUBLIC_URL",
            "the webhook's public https base URL",
            |v| {
                check_webhook_url(v)?;
                url::Url::parse(v).map_err(|e| e.to_string())
            },
        )?;
        if !wanted.is_empty() && public_url.is_none() {
            return Err(ConfigError::Missing {
                var: "RISKRELAY_PUBLIC_URL".into(),
                expected: "the webhook's public https base URL, needed because RISKRELAY_SUBSCRIPTIONS is set".into(),
            });
        }
        Ok(Self { wanted, public_url })
    }
}

/// Which clientState each subscription was created with (a fingerprint, never the secret), so a
/// rotated clientState leads to recreating the subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWith(pub BTreeMap<SubscriptionId, String>);

/// Until when a subscription creation may be in flight. Graph validates the notification URL
/// within 10 s of the create request and may notify right after; upkeep saves the new id once
/// every subscription is done, well within this.
pub const CREATING_WINDOW: time::Duration = time::Duration::minutes(2);

/// How long the webhook trusts its copy of the ids: short enough that a removed subscription stops
/// being accepted soon, long enough that a busy webhook reads the store rarely.
pub const KNOWN_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// An unknown id makes the webhook re-read the ids at most this often, so a flood of forged ids
/// costs at most one store read every few seconds.
pub const MISS_REREAD: std::time::Duration = std::time::Duration::from_secs(5);

/// The subscription ids upkeep created, as the webhook sees them (a cached store read).
pub struct KnownSubscriptions {
    tenant: TenantId,
    store: Arc<dyn Store>,
    cache: tokio::sync::Mutex<Option<KnownCopy>>,
}

struct KnownCopy {
    ids: BTreeSet<SubscriptionId>,
    creating_until: Option<OffsetDateTime>,
    read_at: std::time::Instant,
}

impl KnownSubscriptions {
    pub fn new(tenant: TenantId, store: Arc<dyn Store>) -> Self {
        Self {
            tenant,
            store,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    async fn read(&self) -> Result<KnownCopy, store::StoreError> {
        let ids = store::load::<CreatedWith>(
            self.store.as_ref(),
            self.tenant,
            store::keys::SUBSCRIPTIONS,
        )
        .await?
        .map(|c| c.value.0.into_keys().collect())
        .unwrap_or_default();
        let creating_until = store::load::<Option<OffsetDateTime>>(
            self.store.as_ref(),
            self.tenant,
            store::keys::SUBSCRIPTIONS_CREATING,
        )
        .await?
        .and_then(|c| c.value);
        Ok(KnownCopy {
            ids,
            creating_until,
            read_at: std::time::Instant::now(),
        })
    }

    /// Whether a notification from `id` is one of ours. When the store cannot be read the answer
    /// is yes: the `clientState` already authenticated the item, and refusing would lose real
    /// notifications during a store outage.
    pub async fn admits(&self, id: SubscriptionId, now: OffsetDateTime) -> bool {
        let mut cache = self.cache.lock().await;
        let fresh = |c: &KnownCopy, max: std::time::Duration| c.read_at.elapsed() < max;
        let admitted =
            |c: &KnownCopy| c.ids.contains(&id) || c.creating_until.is_some_and(|t| now < t);
        if let Some(c) = cache.as_ref()
            && fresh(c, KNOWN_TTL)
            && (admitted(c) || fresh(c, MISS_REREAD))
        {
            return admitted(c);
        }
        match self.read().await {
            Ok(c) => {
                let yes = admitted(&c);
                *cache = Some(c);
                yes
            }
            Err(e) => {
                tracing::warn!(error = %e, "the subscription ids could not be read; the notification is accepted on its clientState alone");
                true
            }
        }
    }
}

/// What an upkeep run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UpkeepReport {
    pub created: Vec<String>,
    pub renewed: Vec<String>,
    pub recreated: Vec<String>,
    pub deleted: Vec<String>,
}

pub struct Upkeep {
    tenant: TenantId,
    graph: GraphClient,
    store: Arc<dyn Store>,
    config: SubscriptionsConfig,
    client_states: ClientStates,
    poll: Option<Arc<dyn PollTrigger>>,
}

fn fingerprint(states: &ClientStates) -> String {
    crate::alert::keys::fingerprint([states.current().expose_secret()])
}

impl Upkeep {
    pub fn new(
        tenant: TenantId,
        graph: GraphClient,
        store: Arc<dyn Store>,
        config: SubscriptionsConfig,
        client_states: ClientStates,
    ) -> Self {
        Self {
            tenant,
            graph,
            store,
            config,
            client_states,
            poll: None,
        }
    }

    pub fn with_poll_trigger(mut self, poll: Arc<dyn PollTrigger>) -> Self {
        self.poll = Some(poll);
        self
    }

    /// Records that a creation is in flight until `until` (`None`: none), so the webhook accepts
    /// the new subscription's notifications before its id is saved.
    async fn mark_creating(&self, until: Option<OffsetDateTime>) -> Result<(), String> {
        let key = store::keys::SUBSCRIPTIONS_CREATING;
        let current = store::load::<Option<OffsetDateTime>>(self.store.as_ref(), self.tenant, key)
            .await
            .map_err(|e| e.to_string())?;
        if current.as_ref().map(|c| c.value) == Some(until) {
            return Ok(());
        }
        // A lost race means another upkeep run wrote its own marker: either is fine.
        store::save(
            self.store.as_ref(),
            self.tenant,
            key,
            &until,
            current.map(|c| c.version),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    async fn create(
        &self,
        w: Wanted,
        now: OffsetDateTime,
        notification_url: &str,
    ) -> Result<GraphSubscription, GraphError> {
        if let Err(e) = self.mark_creating(Some(now + CREATING_WINDOW)).await {
            tracing::warn!(error = %e, "could not record the subscription creation; the webhook may refuse its first notifications");
        }
        let expires = crate::graph::reads::graph_time(now + w.lifetime());
        let mut body = serde_json::json!({
            "changeType": w.change_type(),
            "notificationUrl": notification_url,
            "resource": w.resource(),
            "expirationDateTime": expires,
            "clientState": self.client_states.current().expose_secret(),
            "latestSupportedTlsVersion": "v1_2",
        });
        if let Some(l) = self.config.lifecycle_url() {
            body["lifecycleNotificationUrl"] = serde_json::json!(l);
        }
        self.graph.create_subscription(body).await
    }

    /// Makes Graph's subscriptions match the configuration.
    pub async fn ensure(&self, now: OffsetDateTime) -> Result<UpkeepReport, UpkeepError> {
        let mut report = UpkeepReport::default();
        let Some(url) = self.config.notification_url() else {
            if !self.config.wanted.is_empty() {
                return Err(UpkeepError::NoPublicUrl);
            }
            return Ok(report);
        };
        let lifecycle = self.config.lifecycle_url();
        let existing = self.graph.subscriptions().await?;
        let known = store::load::<CreatedWith>(
            self.store.as_ref(),
            self.tenant,
            store::keys::SUBSCRIPTIONS,
        )
        .await?;
        let (mut known_map, version) = known
            .map(|k| (k.value, Some(k.version)))
            .unwrap_or_default();
        let current = fingerprint(&self.client_states);
        let ours: Vec<&GraphSubscription> = existing
            .iter()
            .filter(|s| s.notification_url == url)
            .collect();
        let mut alive: BTreeSet<SubscriptionId> = existing.iter().map(|s| s.id).collect();
        for w in &self.config.wanted {
            let found = ours
                .iter()
                .find(|s| s.resource.eq_ignore_ascii_case(w.resource()));
            match found {
                None => {
                    let s = self.create(*w, now, &url).await?;
                    alive.insert(s.id);
                    known_map.0.insert(s.id, current.clone());
                    report.created.push(w.resource().into());
                }
                Some(s) => {
                    let stale_state = known_map.0.get(&s.id).is_none_or(|f| *f != current);
                    let wrong_lifecycle = s.lifecycle_notification_url != lifecycle;
                    if stale_state || wrong_lifecycle {
                        // clientState and the lifecycle URL can only be set at creation.
                        self.graph.delete_subscription(s.id).await?;
                        alive.remove(&s.id);
                        let n = self.create(*w, now, &url).await?;
                        alive.insert(n.id);
                        known_map.0.insert(n.id, current.clone());
                        report.recreated.push(w.resource().into());
                    } else if s.expiration_date_time - now < RENEW_BEFORE {
                        self.graph
                            .renew_subscription(s.id, now + w.lifetime())
                            .await?;
                        report.renewed.push(w.resource().into());
                    }
                }
            }
        }
        for s in ours {
            if !self
                .config
                .wanted
                .iter()
                .any(|w| s.resource.eq_ignore_ascii_case(w.resource()))
            {
                self.graph.delete_subscription(s.id).await?;
                alive.remove(&s.id);
                report.deleted.push(s.resource.clone());
            }
        }
        known_map.0.retain(|id, _| alive.contains(id));
        if !store::save(
            self.store.as_ref(),
            self.tenant,
            store::keys::SUBSCRIPTIONS,
            &known_map,
            version,
        )
        .await?
        {
            tracing::info!("subscription records were saved by another run first");
        }
        if !(report.created.is_empty() && report.recreated.is_empty())
            && let Err(e) = self.mark_creating(None).await
        {
            tracing::warn!(error = %e, "could not clear the subscription creation marker; it lapses on its own");
        }
        tracing::info!(created = ?report.created, renewed = ?report.renewed, recreated = ?report.recreated, deleted = ?report.deleted, "subscription upkeep done");
        Ok(report)
    }
}

/// Why subscription upkeep failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpkeepError {
    #[error("subscriptions are configured but RISKRELAY_PUBLIC_URL is not set")]
    NoPublicUrl,
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the worker asks when Graph sends a lifecycle notification: the sources own what to do
/// about it (renew, recreate, ask for a poll).
#[async_trait]
pub trait LifecycleHandler: Send + Sync {
    async fn handle(&self, event: &LifecycleEvent, now: OffsetDateTime) -> Result<(), UpkeepError>;
}

#[async_trait]
impl LifecycleHandler for Upkeep {
    async fn handle(&self, event: &LifecycleEvent, now: OffsetDateTime) -> Result<(), UpkeepError> {
        match &event.event {
            LifecycleKind::ReauthorizationRequired => {
                // Renewing also reauthorizes, and extends the lifetime in the same request.
                let wanted = self.config.wanted.first().copied().unwrap_or(Wanted::Users);
                match self
                    .graph
                    .renew_subscription(event.subscription_id, now + wanted.lifetime())
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(GraphError::NotFound { .. }) => self.ensure(now).await.map(|_| ()),
                    Err(e) => Err(e.into()),
                }
            }
            LifecycleKind::SubscriptionRemoved => self.ensure(now).await.map(|_| ()),
            LifecycleKind::Missed => {
                if let Some(p) = &self.poll {
                    p.poll_now("Graph reported missed notifications").await?;
                }
                Ok(())
            }
            LifecycleKind::Unknown(other) => {
                tracing::info!(subscription = %event.subscription_id, event = %other, "unknown lifecycle event acknowledged");
                Ok(())
            }
        }
    }
}
