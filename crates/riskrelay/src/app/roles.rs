//! Each role's parts: what one kind of process builds from the settings and [`Base`], and what
//! it can therefore do (see [`Parts`]).

use std::sync::Arc;

use super::*;
use crate::queue::Queue;
use crate::queue::inline::InlineQueue;
use crate::source::poll::Poller;
use crate::worker::Worker;

/// Gives each role's parts the common ones' fields (`app.graph`, `app.store`) without a
/// `.base` at every use.
macro_rules! derefs_to_base {
    ($($t:ty),*) => {$(
        impl std::ops::Deref for $t {
            type Target = Base;
            fn deref(&self) -> &Base {
                &self.base
            }
        }
    )*};
}
derefs_to_base!(PollerParts, WorkerParts, ServiceParts, ToolParts);

/// The poller function: the poll cycle, the posture checks and subscription upkeep; no
/// destination.
#[derive(Clone)]
pub struct PollerParts {
    pub base: Base,
    pub queue: Arc<dyn Queue>,
    pub poller: Arc<Poller>,
}

impl Parts for PollerParts {
    fn build(settings: &Settings, mut adapters: Adapters) -> anyhow::Result<Self> {
        let (base, _) = Base::build(settings, &mut adapters, Budget::Stored)?;
        let queue = adapters
            .queue
            .context("the poller needs a queue to hand its work to")?;
        let poller = base.build_poller(settings, queue.clone());
        Ok(Self {
            base,
            queue,
            poller,
        })
    }
    fn base(&self) -> &Base {
        &self.base
    }
}

impl Polls for PollerParts {
    fn poller(&self) -> &Arc<Poller> {
        &self.poller
    }
    fn queue(&self) -> &Arc<dyn Queue> {
        &self.queue
    }
}

/// The worker function: work items to alerts and delivery, lifecycle events; no poller.
#[derive(Clone)]
pub struct WorkerParts {
    pub base: Base,
    pub worker: Arc<Worker>,
}

impl Parts for WorkerParts {
    fn build(settings: &Settings, mut adapters: Adapters) -> anyhow::Result<Self> {
        let (base, http) = Base::build(settings, &mut adapters, Budget::Stored)?;
        let sinks = role_sinks(settings, &http, adapters.built_sinks);
        let worker =
            base.build_worker(settings, role_delivery(settings, &base.store, sinks), false);
        Ok(Self { base, worker })
    }
    fn base(&self) -> &Base {
        &self.base
    }
}

impl Delivers for WorkerParts {
    fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }
}

/// One process doing everything (`riskrelay run`, the demo): the poller hands its work to the
/// worker through the in-process queue (or the adapters' queue), a refused message is parked,
/// and the action pages are served when actions are configured.
#[derive(Clone)]
pub struct ServiceParts {
    pub base: Base,
    pub queue: Arc<dyn Queue>,
    pub worker: Arc<Worker>,
    pub poller: Arc<Poller>,
    pub actions: Option<Arc<crate::actions::ActionsApp>>,
}

impl Parts for ServiceParts {
    fn build(settings: &Settings, mut adapters: Adapters) -> anyhow::Result<Self> {
        let (base, http) = Base::build(settings, &mut adapters, Budget::InProcess)?;
        let sinks = role_sinks(settings, &http, adapters.built_sinks);
        let actions = actions_app(
            settings,
            base.graph.clone(),
            base.store.clone(),
            role_delivery(settings, &base.store, sinks.clone()),
            http,
            base.clock.clone(),
        )?
        .map(Arc::new);
        let worker = base.build_worker(settings, role_delivery(settings, &base.store, sinks), true);
        let queue = adapters.queue.unwrap_or_else(|| {
            Arc::new(InlineQueue::new(worker.clone(), adapters.inline_retry)) as Arc<dyn Queue>
        });
        let poller = base.build_poller(settings, queue.clone());
        Ok(Self {
            base,
            queue,
            worker,
            poller,
            actions,
        })
    }
    fn base(&self) -> &Base {
        &self.base
    }
}

impl Polls for ServiceParts {
    fn poller(&self) -> &Arc<Poller> {
        &self.poller
    }
    fn queue(&self) -> &Arc<dyn Queue> {
        &self.queue
    }
}

impl Delivers for ServiceParts {
    fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }
}

/// Parts that serve a tenant's action pages: `riskrelay run` and the actions function.
pub trait Pages: Parts {
    /// `None` when no action is configured.
    fn pages(&self) -> Option<&Arc<crate::actions::ActionsApp>>;
}

impl Pages for ServiceParts {
    fn pages(&self) -> Option<&Arc<crate::actions::ActionsApp>> {
        self.actions.as_ref()
    }
}

/// The actions function (AWS): a tenant's action pages, with a Graph client that spends the
/// tenant's identity-protection budget through the store (the poller and worker share it), and
/// delivery for their follow-up message. No queue, poller or worker.
pub struct ActionsParts {
    pub base: Base,
    pub actions: Option<Arc<crate::actions::ActionsApp>>,
}

impl Parts for ActionsParts {
    fn build(settings: &Settings, mut adapters: Adapters) -> anyhow::Result<Self> {
        let (base, http) = Base::build(settings, &mut adapters, Budget::Stored)?;
        let sinks = role_sinks(settings, &http, adapters.built_sinks);
        let actions = actions_app(
            settings,
            base.graph.clone(),
            base.store.clone(),
            role_delivery(settings, &base.store, sinks),
            http,
            base.clock.clone(),
        )?
        .map(Arc::new);
        Ok(Self { base, actions })
    }
    fn base(&self) -> &Base {
        &self.base
    }
}

impl Pages for ActionsParts {
    fn pages(&self) -> Option<&Arc<crate::actions::ActionsApp>> {
        self.actions.as_ref()
    }
}

/// A one-off command (`check`, `subscribe`, `parked`): Graph, the store and subscription upkeep;
/// no queue, poller or worker.
#[derive(Clone)]
pub struct ToolParts {
    pub base: Base,
}

impl Parts for ToolParts {
    fn build(settings: &Settings, mut adapters: Adapters) -> anyhow::Result<Self> {
        let (base, _) = Base::build(settings, &mut adapters, Budget::InProcess)?;
        Ok(Self { base })
    }
    fn base(&self) -> &Base {
        &self.base
    }
}
