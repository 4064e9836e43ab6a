//! Wiring shared by the entry points (the Lambda functions, `riskrelay run`, the demo): which
//! parts exist and how they are connected. No behaviour of its own.

use std::sync::Arc;

use crate::config::{AlertsConfig, ClientStates};
use crate::deliver::Delivery;
use crate::graph::GraphClient;
use crate::ids::TenantId;
use crate::sink::{self, Sink};
use crate::store::Store;
use crate::subscriptions::{SubscriptionsConfig, Upkeep};
use crate::worker::Worker;

/// The clients every part needs, built once.
#[derive(Clone)]
pub struct Parts {
    pub tenant: TenantId,
    pub graph: GraphClient,
    pub store: Arc<dyn Store>,
    /// One HTTP client (one connection pool, one TLS stack) for the chat sinks.
    pub http: reqwest::Client,
}

impl Parts {
    /// The configured sinks, plus any local ones (the console in `run` and the demo).
    pub fn delivery(&self, alerts: &AlertsConfig, local: Vec<Arc<dyn Sink>>) -> Delivery {
        let mut sinks = sink::build(&alerts.sinks, self.http.clone());
        sinks.extend(local);
        Delivery::new(
            self.store.clone(),
            sinks,
            alerts.kinds.clone(),
            alerts.digest_threshold,
        )
    }

    pub fn upkeep(&self, config: SubscriptionsConfig, client_states: ClientStates) -> Upkeep {
        Upkeep::new(
            self.tenant,
            self.graph.clone(),
            self.store.clone(),
            config,
            client_states,
        )
    }

    pub fn worker(&self, delivery: Delivery, upkeep: Option<Arc<Upkeep>>) -> Worker {
        let worker = Worker::new(
            self.tenant,
            self.graph.clone(),
            self.store.clone(),
            delivery,
        );
        match upkeep {
            Some(u) => worker.with_lifecycle(u),
            None => worker,
        }
    }
}
