//! The tenant registry as the command line changes it: register, unregister, list with status.

use crate::ids::TenantId;
use crate::store::{self, Store};
use crate::tenancy::{self, TenantRecord, TenantStatus};
use anyhow::Context as _;

/// `riskrelay tenants add`: records a tenant (pending until a token works), or updates its
/// record when it is there already, keeping its consent state. Returns whether it is new.
pub async fn register(store: &dyn Store, record: TenantRecord) -> anyhow::Result<bool> {
    store::registry::migrate(store).await?;
    store::registry::put(store, record).await
}

/// `riskrelay tenants remove`: the removed record, if it was there. Its stored state stays (a
/// tenant added again resumes from its checkpoint); its subscriptions lapse within three days.
pub async fn unregister(store: &dyn Store, id: TenantId) -> anyhow::Result<Option<TenantRecord>> {
    store::registry::migrate(store).await?;
    store::registry::remove(store, id).await
}

/// Writes at once while importing: the records are documents of their own, so writes do not
/// contend; 16 keeps a DynamoDB table's on-demand burst and a SQLite file's lock comfortable.
const IMPORT_WRITES: usize = 16;

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub updated: usize,
}

/// `riskrelay tenants import`: records every tenant (checked beforehand), adding the new and
/// updating the known ones as `tenants add` does. Importing the same file again changes nothing
/// but names and settings, so a failed import is finished by running it again.
pub async fn import(store: &dyn Store, records: Vec<TenantRecord>) -> anyhow::Result<Imported> {
    use futures_util::StreamExt as _;
    let total = records.len();
    // The old one-document registry is moved once, not once per row.
    store::registry::migrate(store).await?;
    let results: Vec<anyhow::Result<bool>> = futures_util::stream::iter(records)
        .map(|r| store::registry::put(store, r))
        .buffer_unordered(IMPORT_WRITES)
        .collect()
        .await;
    let mut done = Imported::default();
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(true) => done.added += 1,
            Ok(false) => done.updated += 1,
            Err(e) => failed.push(e),
        }
    }
    if let Some(first) = failed.first() {
        anyhow::bail!(
            "{} of {total} tenants were not written ({} added, {} updated); run the import again to finish it. The first error: {first:#}",
            failed.len(),
            done.added,
            done.updated
        );
    }
    Ok(done)
}

/// `riskrelay tenants list`: every tenant with its status.
pub async fn statuses(store: &dyn Store) -> anyhow::Result<Vec<(TenantRecord, TenantStatus)>> {
    let registry = store::registry::load(store).await?;
    let mut out = Vec::new();
    for record in registry.tenants.into_values() {
        let status = store::load::<TenantStatus>(store, record.id, tenancy::STATUS)
            .await
            .with_context(|| format!("reading the status of {}", record.name))?
            .map(|v| v.value)
            .unwrap_or_default();
        out.push((record, status));
    }
    Ok(out)
}
