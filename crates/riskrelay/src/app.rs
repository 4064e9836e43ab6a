//! The composition root: the one place that turns typed settings and a few adapters into the
//! running parts. Every entry point builds through [`App::build`] — the three Lambda functions,
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
use crate::queue::inline::InlineQueue;
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
    /// own, or the shared ones), its drift mode and exclusions when it has its own, its derived
    /// `clientState`, and its name on every message. Action buttons are not offered in the MSP
    /// mode: the action pages sign analysts in to one tenant.
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
        s.client_states = self.client_states.as_ref().map(|c| c.for_tenant(record.id));
        s.actions = None;
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

/// The actions function's parts (AWS): the action pages with their own Graph client (sharing the
/// tenant's identity-protection budget through the store) and delivery for the follow-up
/// message. `None` when no action is configured.
pub fn actions_function(
    settings: &Settings,
    store: Arc<dyn Store>,
) -> anyhow::Result<Option<crate::actions::ActionsApp>> {
    let http = http_client(settings)?;
    let shared = Arc::new(StoredSlots::new(settings.tenant(), store.clone()));
    let graph =
        GraphClient::build(&settings.graph, http.clone(), Some(shared)).context("Graph client")?;
    let sinks = destinations(&settings.alerts.sinks, &http);
    let delivery = delivery(&settings.alerts, store.clone(), sinks);
    actions_app(
        settings,
        graph,
        store,
        delivery,
        http,
        crate::clock::system(),
    )
}

/// The action pages when actions are configured (`riskrelay run`, and the actions function in
/// AWS): Entra sign-in on the app's own credential, Graph with the analyst's token, delivery of
/// the follow-up message.
pub fn actions_app(
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

/// Which parts a process runs. Each builds only what it needs: the poller has no chat sinks,
/// the worker no poller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The poller function: poll cycle, posture checks, subscription upkeep.
    Poller,
    /// The worker function: queue items to alerts and delivery, lifecycle events.
    Worker,
    /// One process doing everything (`riskrelay run`, the demo): the poller hands its work to
    /// the worker through the in-process queue.
    Service,
    /// A one-off command (`check`, `subscribe`): Graph, the store and subscription upkeep.
    Tool,
}

/// Builds the parts of one role: one plain function per role, chosen where a process starts
/// ([`crate::fleet::Fleet::build`] takes one), so that each binary carries only its own role's
/// code. A role read at run time instead keeps every role's parts in every binary (measured: the
/// poller's zip grew from 4.8 to 5.3 MB, the worker's whole pipeline in it).
pub type Parts = fn(&Settings, Adapters) -> anyhow::Result<App>;

pub fn poller_parts(settings: &Settings, adapters: Adapters) -> anyhow::Result<App> {
    App::build(settings, Role::Poller, adapters)
}

pub fn worker_parts(settings: &Settings, adapters: Adapters) -> anyhow::Result<App> {
    App::build(settings, Role::Worker, adapters)
}

pub fn service_parts(settings: &Settings, adapters: Adapters) -> anyhow::Result<App> {
    App::build(settings, Role::Service, adapters)
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

/// The running parts. Which are present depends on the [`Role`].
#[derive(Clone)]
pub struct App {
    pub clock: Arc<dyn Clock>,
    pub tenant: TenantId,
    pub graph: GraphClient,
    pub store: Arc<dyn Store>,
    pub posture: PostureConfig,
    /// Where sources hand their work (and posture checks their alerts).
    pub queue: Option<Arc<dyn Queue>>,
    pub worker: Option<Arc<Worker>>,
    pub poller: Option<Arc<Poller>>,
    /// Present when a `clientState` is configured.
    pub upkeep: Option<Arc<Upkeep>>,
    /// The action pages, in the service when actions are configured.
    pub actions: Option<Arc<crate::actions::ActionsApp>>,
}

impl App {
    pub fn build(settings: &Settings, role: Role, adapters: Adapters) -> anyhow::Result<Self> {
        let tenant = settings.tenant();
        let store = adapters.store;
        // One HTTP client for Graph and the destinations: one pool, and one load of the root
        // certificates (a cold start's largest cost after the secret read). Each caller sets its
        // own per-request timeout.
        let http = match adapters.http {
            Some(h) => h,
            None => http_client(settings)?,
        };
        // The poller and worker functions are separate processes spending one tenant budget.
        let shared: Option<Arc<dyn crate::limiter::SharedSlots>> = match role {
            Role::Poller | Role::Worker => Some(Arc::new(StoredSlots::new(tenant, store.clone()))),
            Role::Service | Role::Tool => None,
        };
        let graph =
            GraphClient::build(&settings.graph, http.clone(), shared).context("Graph client")?;
        let clock = adapters.clock;
        let trigger = adapters.poll_trigger.unwrap_or_else(|| {
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
        let mut actions = None;
        let worker = match role {
            Role::Worker | Role::Service => {
                let mut sinks = destinations(&settings.alerts.sinks, &http);
                sinks.extend(adapters.built_sinks);
                let delivery_to = |sinks| {
                    delivery(&settings.alerts, store.clone(), sinks)
                        .with_tenant_name(settings.tenant_name.clone())
                };
                if role == Role::Service {
                    actions = actions_app(
                        settings,
                        graph.clone(),
                        store.clone(),
                        delivery_to(sinks.clone()),
                        http.clone(),
                        clock.clone(),
                    )?
                    .map(Arc::new);
                }
                let worker = Worker::new(tenant, graph.clone(), store.clone(), delivery_to(sinks))
                    .with_clock(clock.clone())
                    .with_policy(settings.policy.clone())
                    .with_admin_center(settings.graph.admin_center)
                    .with_actions(settings.actions.clone());
                // One process has no dead-letter queue: it parks what a destination refuses.
                let worker = match role {
                    Role::Service => worker.with_parking(),
                    _ => worker,
                };
                Some(Arc::new(match &upkeep {
                    Some(u) => worker.with_lifecycle(u.clone()),
                    None => worker,
                }))
            }
            Role::Poller | Role::Tool => None,
        };
        let queue = match (adapters.queue, &worker) {
            (Some(q), _) => Some(q),
            (None, Some(w)) => {
                Some(Arc::new(InlineQueue::new(w.clone(), adapters.inline_retry)) as Arc<dyn Queue>)
            }
            (None, None) => None,
        };
        let poller = match (role, &queue) {
            (Role::Poller | Role::Service, Some(q)) => Some(Arc::new(
                Poller::new(
                    tenant,
                    graph.clone(),
                    store.clone(),
                    q.clone(),
                    settings.overlap,
                )
                .with_clock(clock.clone())
                .with_exclusions(settings.policy.exclude.clone())
                .with_summary(settings.summary),
            )),
            (Role::Poller | Role::Service, None) => {
                anyhow::bail!("the poller needs a queue to hand its work to")
            }
            _ => None,
        };
        Ok(Self {
            clock,
            tenant,
            graph,
            store,
            posture: settings.posture.clone(),
            actions,
            queue,
            worker,
            poller,
            upkeep,
        })
    }

    /// The part a role was built with; a missing one is a wiring mistake, said plainly.
    pub fn poller(&self) -> anyhow::Result<&Arc<Poller>> {
        self.poller
            .as_ref()
            .context("this process was not built to poll")
    }

    pub fn worker(&self) -> anyhow::Result<&Arc<Worker>> {
        self.worker
            .as_ref()
            .context("this process was not built to deliver")
    }

    pub fn queue(&self) -> anyhow::Result<&Arc<dyn Queue>> {
        self.queue
            .as_ref()
            .context("this process was not built with a queue")
    }

    pub fn upkeep(&self) -> anyhow::Result<&Arc<Upkeep>> {
        self.upkeep
            .as_ref()
            .context("subscription upkeep needs a clientState (RISKRELAY_CLIENT_STATE or the secret's client_state)")
    }

    /// Runs the posture checks and hands their alerts to the queue; the episode state is saved
    /// only once they went through.
    pub async fn posture_job(&self) -> anyhow::Result<crate::checks::PostureRun> {
        crate::checks::run_and_hand_over(
            &self.graph,
            self.store.as_ref(),
            self.tenant,
            &self.posture,
            self.queue()?.as_ref(),
            self.clock.now(),
        )
        .await
    }
}
