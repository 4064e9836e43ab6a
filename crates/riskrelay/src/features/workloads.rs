//! The I/O half of watching workload identities ([`crate::workload`]): the poll cycle's step that
//! reads the risky service principals and agents changed since the `workload-risk` document's
//! checkpoint (a page at a time, in the tenant's identity-protection budget) and hands each on
//! with its detections; and the one writer of that document. A refusal (no licence, no
//! permission) is one posture finding, tried again hourly; any other failure leaves the
//! checkpoint where it was for the next cycle. Neither ever fails the users' cycle.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use time::OffsetDateTime;

use crate::alert::Message;
use crate::graph::{GraphClient, GraphError};
use crate::ids::TenantId;
use crate::observation::WorkItem;
use crate::queue::Queue;
use crate::store::{self, Store};
use crate::workload::{
    Unavailable, WorkloadDetection, WorkloadKind, WorkloadObservation, WorkloadWatch,
};

/// Risky workload identities read one by one per kind and cycle, for detections whose identity's
/// risk record did not change in the window: each costs an identity-protection request.
pub const SINGLE_READS: usize = 10;

/// Which kinds the deployment watches (`RISKRELAY_WORKLOAD_RISK`, default both).
pub fn load_kinds(
    env: &crate::config::Env,
) -> Result<Vec<WorkloadKind>, crate::config::ConfigError> {
    env.or(
        "RISKRELAY_WORKLOAD_RISK",
        "servicePrincipals, agents, both comma-separated, on or off",
        WorkloadKind::ALL.to_vec(),
        crate::workload::parse_kinds,
    )
}

/// What the step did this cycle, per kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkloadReport {
    pub handed_on: usize,
    pub unavailable: Vec<WorkloadKind>,
}

/// The refusal Graph's answer means, when it means one: by status and code only.
fn refusal(kind: WorkloadKind, e: &GraphError) -> Option<Unavailable> {
    use crate::tenancy::Refusal;
    let permission = crate::graph::workloads::risky_feature(kind)
        .permission()
        .to_string();
    match e {
        GraphError::Forbidden { .. } => Some(match e.refusal() {
            Some(crate::graph::Refused::Tenant(Refusal::Licence)) => Unavailable::Licence,
            Some(crate::graph::Refused::Tenant(Refusal::Permission)) => {
                Unavailable::Permission { permission }
            }
            _ => Unavailable::Forbidden { permission },
        }),
        GraphError::NotFound { .. } => Some(Unavailable::NotOffered),
        GraphError::Rejected { status: 400, .. } if kind == WorkloadKind::Agent => {
            Some(Unavailable::NotOffered)
        }
        _ => None,
    }
}

/// What the poll cycle's step reads with and hands on to.
pub struct Watch<'a> {
    pub graph: &'a GraphClient,
    pub store: &'a dyn Store,
    pub queue: &'a dyn Queue,
    pub tenant: TenantId,
    /// The kinds watched (`RISKRELAY_WORKLOAD_RISK`).
    pub kinds: &'a [WorkloadKind],
    /// How far before the checkpoint each read starts (the poll's overlap).
    pub overlap: Duration,
}

/// The poll cycle's step: each watched kind read and handed on. Returns what it did.
pub async fn poll(
    w: &Watch<'_>,
    cycle_id: &str,
    now: OffsetDateTime,
) -> anyhow::Result<WorkloadReport> {
    let Watch {
        graph,
        store,
        queue,
        tenant,
        kinds,
        overlap,
    } = *w;
    let mut report = WorkloadReport::default();
    if kinds.is_empty() {
        return Ok(report);
    }
    let doc = store::load::<WorkloadWatch>(store, tenant, store::keys::WORKLOAD_RISK)
        .await
        .context("reading the workload-risk document")?;
    let (mut watch, version) = match doc {
        Some(d) => (d.value, Some(d.version)),
        None => (WorkloadWatch::default(), None),
    };
    let mut notices = Vec::new();
    for &kind in kinds {
        if !watch.should_read(kind, now) {
            report.unavailable.push(kind);
            continue;
        }
        let since = watch
            .kinds
            .get(&kind)
            .and_then(|w| w.checkpoint)
            .map(|c| c - overlap);
        match read_kind(graph, queue, tenant, kind, since, cycle_id, now).await {
            Ok(n) => {
                report.handed_on += n;
                notices.extend(watch.read(tenant, kind, now));
            }
            Err(e) => match e
                .downcast_ref::<GraphError>()
                .and_then(|g| refusal(kind, g))
            {
                Some(why) => {
                    tracing::info!(kind = kind.name(), reason = ?why, "risky {}s cannot be read; tried again in an hour", kind.noun());
                    report.unavailable.push(kind);
                    notices.extend(watch.refused(tenant, kind, why, now));
                }
                None => tracing::warn!(
                    kind = kind.name(),
                    error = format!("{e:#}"),
                    "risky {}s were not read this cycle; the next one reads the same window again",
                    kind.noun()
                ),
            },
        }
    }
    let saved = store::save(store, tenant, store::keys::WORKLOAD_RISK, &watch, version)
        .await
        .context("saving the workload-risk document")?;
    if !saved {
        // Another poller moved it first; its window overlaps this one, and the worker's state
        // comparison removes what both handed on.
        tracing::warn!("another poller updated the workload-risk document first");
        return Ok(report);
    }
    if !notices.is_empty() {
        queue
            .enqueue(
                notices
                    .into_iter()
                    .map(|p| WorkItem::Notice {
                        tenant_id: tenant,
                        message: Message::Posture(p),
                    })
                    .collect(),
            )
            .await
            .context("handing on the workload-risk finding")?;
    }
    Ok(report)
}

/// One kind's window: its detections first (grouped by identity), then its risky list a page at a
/// time, each page handed on with its detections; identities whose detections changed but whose
/// risk record did not are read one by one, up to [`SINGLE_READS`].
async fn read_kind(
    graph: &GraphClient,
    queue: &dyn Queue,
    tenant: TenantId,
    kind: WorkloadKind,
    since: Option<OffsetDateTime>,
    cycle_id: &str,
    now: OffsetDateTime,
) -> anyhow::Result<usize> {
    let mut by_identity: HashMap<String, Vec<WorkloadDetection>> = HashMap::new();
    if let Some(since) = since {
        let mut pages = graph.workload_detections_pages(kind, since);
        while let Some(page) = pages.next_page().await? {
            for d in page {
                by_identity
                    .entry(d.workload_id.clone())
                    .or_default()
                    .push(d);
            }
        }
    }
    let observe = |w, detections| {
        WorkItem::Workload(Box::new(WorkloadObservation {
            tenant_id: tenant,
            workload: w,
            detections,
            cycle_id: cycle_id.to_string(),
            observed_at: now,
        }))
    };
    let mut handed = 0;
    let mut pages = graph.risky_workloads_pages(kind, since);
    while let Some(page) = pages.next_page().await? {
        let items: Vec<WorkItem> = page
            .into_iter()
            .map(|w| {
                let d = by_identity.remove(&w.id).unwrap_or_default();
                observe(w, d)
            })
            .collect();
        handed += items.len();
        queue.enqueue(items).await?;
    }
    let mut left: Vec<(String, Vec<WorkloadDetection>)> = by_identity.into_iter().collect();
    left.sort_by(|a, b| a.0.cmp(&b.0));
    if left.len() > SINGLE_READS {
        tracing::warn!(
            kind = kind.name(),
            waiting = left.len() - SINGLE_READS,
            "more {}s have new detections at an unchanged risk than one cycle reads; the rest are read when their risk record changes",
            kind.noun()
        );
    }
    for (id, detections) in left.into_iter().take(SINGLE_READS) {
        if let Some(w) = graph.risky_workload(kind, &id).await? {
            queue.enqueue(vec![observe(w, detections)]).await?;
            handed += 1;
        }
    }
    Ok(handed)
}
