//! The composition root: the one place that turns typed settings and a few adapters into the
//! running parts. Every entry point builds through one role's [`Parts`] — the three Lambda functions,
//! `riskrelay run`, `demo`, `check`, `subscribe` — and so do the tests. No behaviour of its own.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::checks::PostureConfig;
use crate::client_state::ClientStates;
use crate::clock::Clock;
use crate::config::{ConfigError, Env, SecretSource};
use crate::deliver::{AlertsConfig, Delivery};
use crate::graph::GraphClient;
use crate::graph::config::GraphConfig;
use crate::http::RetryPolicy;
use crate::ids::TenantId;
use crate::queue::Queue;
use crate::sink::{self, Sink};
use crate::source::poll::{self, PollTrigger, Poller, StoredPollRequest};
use crate::source::subscriptions::{SubscriptionsConfig, Upkeep};
use crate::store::Store;
use crate::store::slots::StoredSlots;
use crate::tenancy::{Registry, TenantRecord};
use crate::worker::Worker;

/// Every setting riskrelay reads, parsed and checked once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub graph: GraphConfig,
    pub alerts: AlertsConfig,
    /// Who gets an alert and when (exclusions, coalescing, late reads).
    pub policy: crate::worker::Policy,
    /// When the standing summary is posted (`RISKRELAY_SUMMARY`).
    pub summary: crate::summary::Schedule,
    pub posture: PostureConfig,
    /// How far before the checkpoint each poll reads again.
    pub overlap: Duration,
    pub subscriptions: SubscriptionsConfig,
    /// `None` when no `clientState` is configured: no webhook and no subscriptions then.
    pub client_states: Option<ClientStates>,
    /// The actions alerts offer (`RISKRELAY_ACTIONS`); `None`: none, and no action pages.
    pub actions: Option<crate::action_link::ActionsConfig>,
    /// The tenant's name on every message, when one deployment watches several (see
    /// [`Settings::for_tenant`]).
    pub tenant_name: Option<String>,
    /// How long polls may fail before the dead-man message (`RISKRELAY_STALE_AFTER_MINUTES`).
    pub stale_after: Duration,
    /// The kinds of workload identity whose risk is watched (`RISKRELAY_WORKLOAD_RISK`).
    pub workloads: Vec<crate::workload::WorkloadKind>,
}

impl Settings {
    /// From `RISKRELAY_*` variables and the secret source. A missing `clientState` is allowed
    /// here (see [`Settings::require_client_states`]); an invalid one is not.
    pub fn load(env: &Env, secrets: &dyn SecretSource) -> Result<Self, ConfigError> {
        Self::load_with_graph(env, secrets, GraphConfig::load(env, secrets)?)
    }

    /// The same, with a Graph configuration from elsewhere (the simulated tenant's).
    pub fn load_with_graph(
        env: &Env,
        secrets: &dyn SecretSource,
        graph: GraphConfig,
    ) -> Result<Self, ConfigError> {
        let client_states = match ClientStates::load(secrets) {
            Ok(c) => Some(c),
            Err(ConfigError::Missing { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(Self {
            graph,
            alerts: AlertsConfig::load(env, secrets)?,
            policy: crate::worker::Policy::load(env)?,
            summary: crate::summary::Schedule::load(env)?,
            posture: PostureConfig::load(env)?,
            overlap: poll::overlap(env)?,
            subscriptions: SubscriptionsConfig::load(env)?,
            client_states,
            actions: crate::action_link::ActionsConfig::load(env, secrets)?,
            tenant_name: None,
            stale_after: crate::poll_health::stale_after(env)?,
            workloads: crate::features::workloads::load_kinds(env)?,
        })
    }

    /// Every default, with no destination, no subscription and no `clientState`: what the demo
    /// and the tests start from.
    pub fn with_graph(graph: GraphConfig) -> Self {
        Self {
            graph,
            alerts: AlertsConfig::default(),
            policy: crate::worker::Policy::default(),
            // No summary unless configured: the tests and the demo ask for one when they want it.
            summary: crate::summary::Schedule::Off,
            posture: PostureConfig::default(),
            overlap: poll::DEFAULT_OVERLAP,
            subscriptions: SubscriptionsConfig::default(),
            client_states: None,
            actions: None,
            tenant_name: None,
            stale_after: crate::poll_health::DEFAULT_STALE_AFTER,
            // Off unless asked for: the tests and the demo count identity-protection requests.
            workloads: Vec::new(),
        }
    }

    /// For deployments that must verify notifications (the Lambda functions): the `clientState`
    /// is then required, and its absence fails start-up naming the secret key.
    pub fn require_client_states(&self, secrets: &dyn SecretSource) -> Result<(), ConfigError> {
        match &self.client_states {
            Some(_) => Ok(()),
            None => ClientStates::load(secrets).map(|_| ()),
        }
    }

    pub fn tenant(&self) -> TenantId {
        self.graph.tenant_id
    }

    /// One registered tenant's settings, from the deployment's: its id, its destinations (its
    /// own, or the shared ones), its drift mode, exclusions and summary schedule when it has its own, its derived
    /// `clientState`, and its name on every message. Its action links carry its id, and its
    /// action pages sign analysts in at its own authority (see [`crate::actions::tenants`]).
    pub fn for_tenant(&self, registry: &Registry, record: &TenantRecord) -> anyhow::Result<Self> {
        let mut s = self.clone();
        s.graph.tenant_id = record.id;
        let configured: Vec<String> = self.alerts.sinks.iter().map(|c| c.name.clone()).collect();
        let mine = registry.sinks_of(record, &configured);
        s.alerts.sinks.retain(|c| mine.contains(&c.name.as_str()));
        if let Some(list) = &record.exclude {
            s.policy.exclude = crate::exclusions::Exclusions::parse(list)
                .map_err(|e| anyhow::anyhow!("tenant {} exclusions: {e}", record.name))?;
        }
        if let Some(mode) = record.drift_mode {
            s.posture.drift_mode = mode;
        }
        if let Some(text) = &record.summary {
            s.summary = crate::summary::Schedule::parse(text)
                .map_err(|e| anyhow::anyhow!("tenant {} summary schedule: {e}", record.name))?;
        }
        s.client_states = self.client_states.as_ref().map(|c| c.for_tenant(record.id));
        s.tenant_name = Some(record.name.clone());
        Ok(s)
    }
}

/// The one HTTP client a process shares for Graph, its destinations and the sign-in: one pool,
/// and one load of the root certificates (a cold start's largest cost after the secret read).
/// Each caller sets its own per-request timeout.
pub fn http_client(settings: &Settings) -> anyhow::Result<reqwest::Client> {
    crate::http::client(settings.graph.request_timeout).context("HTTP client")
}

/// The destinations `configs` names, posting through `http` with the chat timeout.
pub fn destinations(
    configs: &[crate::sink::config::SinkConfig],
    http: &reqwest::Client,
) -> Vec<Arc<dyn Sink>> {
    sink::build(
        configs,
        sink::Http {
            client: http.clone(),
            timeout: crate::http::CHAT_TIMEOUT,
        },
    )
}

/// Delivery to `sinks` under the deployment's alert settings (kinds, digest threshold).
pub fn delivery(
    alerts: &AlertsConfig,
    store: Arc<dyn Store>,
    sinks: Vec<Arc<dyn Sink>>,
) -> Delivery {
    Delivery::new(store, sinks, alerts.kinds.clone(), alerts.digest_threshold)
}

/// The action pages when actions are configured (`riskrelay run`, and the actions function in
/// AWS): Entra sign-in on the app's own credential, Graph with the analyst's token, delivery of
/// the follow-up message.
fn actions_app(
    settings: &Settings,
    graph: GraphClient,
    store: Arc<dyn Store>,
    delivery: Delivery,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Option<crate::actions::ActionsApp>> {
    let Some(config) = &settings.actions else {
        return Ok(None);
    };
    let oidc = crate::actions::oidc::Oidc::new(&settings.graph, http).context("action pages")?;
    Ok(Some(
        crate::actions::ActionsApp::new(
            config.clone(),
            oidc,
            graph,
            store,
            delivery,
            settings.tenant(),
        )?
        .with_clock(clock),
    ))
}

/// What one role's parts are built from, and what they hold. One type per role — [`PollerParts`],
/// [`WorkerParts`], [`ServiceParts`], [`ToolParts`] — chosen where a process starts
/// ([`crate::fleet::Fleet`] is generic over it), so that what a binary carries is a type fact:
/// the poller's binary never builds a worker, and asking a tool to poll does not compile. (A role
/// read at run time instead kept every role's parts in every binary: the poller's zip grew from
/// 4.8 to 5.3 MB, the worker's whole pipeline in it.)
pub trait Parts: Sized + Send + Sync + 'static {
    fn build(settings: &Settings, adapters: Adapters) -> anyhow::Result<Self>;
    fn base(&self) -> &Base;
}

/// Parts that poll and hand their work to a queue: the poller function and `riskrelay run`.
pub trait Polls: Parts {
    fn poller(&self) -> &Arc<Poller>;
    fn queue(&self) -> &Arc<dyn Queue>;

    /// Runs the posture checks and hands their alerts to the queue; the episode state is saved
    /// only once they went through.
    fn posture_job(
        &self,
    ) -> impl std::future::Future<Output = anyhow::Result<crate::checks::PostureRun>> + Send {
        let base = self.base();
        crate::checks::run_and_hand_over(
            &base.graph,
            base.store.as_ref(),
            base.tenant,
            &base.posture,
            self.queue().as_ref(),
            base.clock.now(),
        )
    }
}

/// Parts that turn work items into alerts and deliver them: the worker function and
/// `riskrelay run`.
pub trait Delivers: Parts {
    fn worker(&self) -> &Arc<Worker>;
}

/// The adapters a caller chooses; everything else follows from the settings.
pub struct Adapters {
    pub store: Arc<dyn Store>,
    /// Where the poller hands its work. `None`: the in-process queue over the worker, with
    /// `inline_retry`.
    pub queue: Option<Arc<dyn Queue>>,
    pub inline_retry: RetryPolicy,
    /// Destinations already built, posted to beside those `settings.alerts.sinks` configures:
    /// this process's own (the console, files, a test's recorder) and, in the MSP mode, a
    /// tenant's share of the destinations the fleet built once for the process.
    pub built_sinks: Vec<Arc<dyn Sink>>,
    /// How a `missed` lifecycle event asks for a poll. `None`: a request recorded in the store,
    /// which the poller's next run answers.
    pub poll_trigger: Option<Arc<dyn PollTrigger>>,
    /// Where every service reads the time.
    pub clock: Arc<dyn Clock>,
    /// An HTTP client to share (the MSP mode builds one per process, not one per tenant).
    pub http: Option<reqwest::Client>,
}

impl Adapters {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            queue: None,
            inline_retry: crate::queue::inline::default_retry(),
            built_sinks: Vec::new(),
            poll_trigger: None,
            clock: crate::clock::system(),
            http: None,
        }
    }

    pub fn with_queue(mut self, queue: Arc<dyn Queue>) -> Self {
        self.queue = Some(queue);
        self
    }
}

/// What every role holds: the tenant's Graph client, the store, the clock, and subscription
/// upkeep when a `clientState` is configured. Each role's parts dereference to it.
#[derive(Clone)]
pub struct Base {
    pub clock: Arc<dyn Clock>,
    pub tenant: TenantId,
    pub graph: GraphClient,
    pub store: Arc<dyn Store>,
    pub posture: PostureConfig,
    /// Present when a `clientState` is configured.
    pub upkeep: Option<Arc<Upkeep>>,
}

/// Whether the identity-protection budget is shared through the store: the poller and worker
/// functions are separate processes spending one tenant's budget.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Budget {
    Stored,
    InProcess,
}

impl Base {
    /// The common parts, and the HTTP client the role's own parts share.
    fn build(
        settings: &Settings,
        adapters: &mut Adapters,
        budget: Budget,
    ) -> anyhow::Result<(Self, reqwest::Client)> {
        let tenant = settings.tenant();
        let store = adapters.store.clone();
        // One HTTP client for Graph and the destinations: one pool, and one load of the root
        // certificates (a cold start's largest cost after the secret read). Each caller sets its
        // own per-request timeout.
        let http = match adapters.http.take() {
            Some(h) => h,
            None => http_client(settings)?,
        };
        let shared: Option<Arc<dyn crate::limiter::SharedSlots>> = match budget {
            Budget::Stored => Some(Arc::new(StoredSlots::new(tenant, store.clone()))),
            Budget::InProcess => None,
        };
        let graph =
            GraphClient::build(&settings.graph, http.clone(), shared).context("Graph client")?;
        let clock = adapters.clock.clone();
        let trigger = adapters.poll_trigger.take().unwrap_or_else(|| {
            Arc::new(StoredPollRequest {
                tenant,
                store: store.clone(),
                clock: clock.clone(),
            })
        });
        let upkeep = settings.client_states.as_ref().map(|client_states| {
            Arc::new(
                Upkeep::new(
                    tenant,
                    graph.clone(),
                    store.clone(),
                    settings.subscriptions.clone(),
                    client_states.clone(),
                )
                .with_poll_trigger(trigger),
            )
        });
        Ok((
            Self {
                clock,
                tenant,
                graph,
                store,
                posture: settings.posture.clone(),
                upkeep,
            },
            http,
        ))
    }

    pub fn upkeep(&self) -> anyhow::Result<&Arc<Upkeep>> {
        self.upkeep
            .as_ref()
            .context("subscription upkeep needs a clientState (RISKRELAY_CLIENT_STATE or the secret's client_state)")
    }

    /// The worker over `delivery`, with the lifecycle handler when subscriptions are kept.
    fn build_worker(&self, settings: &Settings, delivery: Delivery, parking: bool) -> Arc<Worker> {
        let worker = Worker::new(
            self.tenant,
            self.graph.clone(),
            self.store.clone(),
            delivery,
        )
        .with_clock(self.clock.clone())
        .with_policy(settings.policy.clone())
        .with_admin_center(settings.graph.admin_center)
        .with_actions(settings.actions.clone());
        // One process has no dead-letter queue: it parks what a destination refuses.
        let worker = if parking {
            worker.with_parking()
        } else {
            worker
        };
        Arc::new(match &self.upkeep {
            Some(u) => worker.with_lifecycle(u.clone()),
            None => worker,
        })
    }

    fn build_poller(&self, settings: &Settings, queue: Arc<dyn Queue>) -> Arc<Poller> {
        Arc::new(
            Poller::new(
                self.tenant,
                self.graph.clone(),
                self.store.clone(),
                queue,
                settings.overlap,
            )
            .with_clock(self.clock.clone())
            .with_exclusions(settings.policy.exclude.clone())
            .with_summary(settings.summary)
            .with_workloads(settings.workloads.clone()),
        )
    }
}

/// A delivering role's destinations: the configured ones plus those built already.
fn role_sinks(
    settings: &Settings,
    http: &reqwest::Client,
    built: Vec<Arc<dyn Sink>>,
) -> Vec<Arc<dyn Sink>> {
    let mut sinks = destinations(&settings.alerts.sinks, http);
    sinks.extend(built);
    sinks
}

fn role_delivery(
    settings: &Settings,
    store: &Arc<dyn Store>,
    sinks: Vec<Arc<dyn Sink>>,
) -> Delivery {
    delivery(&settings.alerts, store.clone(), sinks).with_tenant_name(settings.tenant_name.clone())
}

mod roles;
pub use roles::{ActionsParts, Pages, PollerParts, ServiceParts, ToolParts, WorkerParts};
