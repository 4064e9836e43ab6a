//! Each tenant's consent and status after a job, and the one message when it changes; a
//! refusal every tenant shares is the deployment's, said once.

use super::*;
use crate::alert::Message;
use crate::graph::GraphError;
use crate::store;
use crate::tenancy::{self, Outcome, TenantRecord, TenantStatus};

impl<P: crate::app::Parts> Fleet<P> {
    /// Records what a job did for each tenant, after deciding whether a problem they share is the
    /// deployment's (see [`tenancy::deployment_problem`]).
    pub(super) async fn settle_all(&self, settles: Vec<Settle>) {
        if settles.is_empty() {
            return;
        }
        let outcomes: Vec<&Outcome> = settles.iter().map(|s| &s.outcome).collect();
        let problem = tenancy::deployment_problem(&outcomes);
        let worked = outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Polled | Outcome::Worked));
        if problem.is_some() || worked {
            self.settle_deployment(problem.as_deref()).await;
        }
        for s in settles {
            let outcome = match (&problem, s.outcome) {
                // The deployment's problem, recorded as each tenant's last error only.
                (Some(_), Outcome::Refused(_, text)) => Outcome::Deployment(text),
                (_, o) => o,
            };
            self.settle(&s.record, s.stored, &outcome).await;
        }
    }

    /// Records the deployment's shared problem (or its end) and says it once.
    pub(super) async fn settle_deployment(&self, problem: Option<&str>) {
        let key = tenancy::DEPLOYMENT_STATUS;
        let home = tenancy::deployment();
        let stored =
            match store::load::<tenancy::DeploymentStatus>(self.store.as_ref(), home, key).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the deployment's status");
                    return;
                }
            };
        let version = stored.as_ref().map(|s| s.version);
        let mut status = stored.map(|s| s.value).unwrap_or_default();
        let now = self.clock.now();
        let Some(notice) = status.record(problem, now) else {
            return;
        };
        tracing::warn!(problem = ?problem, "a problem every tenant shares changed");
        // Recorded only once said, so a failed announcement is tried again by the next job.
        if let Err(e) = self.announce(Message::Operations(notice), now).await {
            tracing::error!(error = %format!("{e:#}"), "could not announce the deployment's problem; the next job tries again");
            return;
        }
        if let Err(e) = store::save(self.store.as_ref(), home, key, &status, version).await {
            tracing::warn!(error = %e, "could not record the deployment's status");
        }
    }

    /// Records a tenant's outcome and announces a change of consent, once. The change is
    /// recorded only after its announcement went out, so a failed one is tried again at the next
    /// job (under the same key: no destination gets it twice). One job of a tenant runs at a
    /// time (the scheduler in `riskrelay run`, the FIFO group in AWS), so `stored` is current.
    pub(super) async fn settle(
        &self,
        record: &TenantRecord,
        stored: Option<store::Versioned<TenantStatus>>,
        outcome: &Outcome,
    ) {
        if matches!(outcome, Outcome::Refused(..)) {
            // Fresh parts next time: a token cached before consent was revoked stays refused
            // after it is granted again (a new grant is a new service principal).
            self.built.lock().await.remove(&record.id);
        }
        let now = self.clock.now();
        let (before, version) = match stored {
            Some(v) => (v.value, Some(v.version)),
            None => (TenantStatus::default(), None),
        };
        let mut after = before.clone();
        if let Some(change) = after.record(outcome, now) {
            tracing::info!(tenant = %record.id, name = %record.name, ?change, "tenant access changed");
            let notice = tenancy::consent_notice(record, &change, before.since, now);
            if let Err(e) = self.announce(Message::Operations(notice), now).await {
                tracing::error!(tenant = %record.id, error = %format!("{e:#}"), "could not announce the change of access; the next job tries again");
                return;
            }
        }
        crate::metrics::global().consent(record.id, after.consent);
        if after == before {
            return;
        }
        match store::save(
            self.store.as_ref(),
            record.id,
            tenancy::STATUS,
            &after,
            version,
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(tenant = %record.id, "the tenant's status changed under this job; kept the other write")
            }
            Err(e) => {
                tracing::warn!(tenant = %record.id, error = %e, "could not record the tenant's status")
            }
        }
    }
}

pub(super) fn outcome_of_graph(e: &GraphError) -> Outcome {
    match e.refusal() {
        Some(crate::graph::Refused::Tenant(r)) => Outcome::Refused(r, e.to_string()),
        Some(crate::graph::Refused::Deployment) => Outcome::Deployment(e.to_string()),
        None => Outcome::Failed(e.to_string()),
    }
}

/// Whether a job's failure says the tenant refuses the app, from the Graph error in its chain.
pub(super) fn outcome_of(e: &anyhow::Error) -> Outcome {
    for cause in e.chain() {
        if let Some(g) = cause.downcast_ref::<GraphError>() {
            return outcome_of_graph(g);
        }
    }
    Outcome::Failed(format!("{e:#}"))
}
