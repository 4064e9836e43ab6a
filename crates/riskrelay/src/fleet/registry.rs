//! The tenant registry as the command line changes it: register, unregister, list with status.

use crate::ids::TenantId;
use crate::store::{self, Store};
use crate::tenancy::{self, Registry, TenantRecord, TenantStatus};
use anyhow::Context as _;

/// `riskrelay tenants add`: records a tenant (pending until a token works), or updates its
/// record when it is there already, keeping its consent state. Returns whether it is new.
pub async fn register(store: &dyn Store, record: TenantRecord) -> anyhow::Result<bool> {
    let id = record.id;
    store::update::<Registry, _>(store, tenancy::deployment(), tenancy::REGISTRY, move |r| {
        let new = !r.tenants.contains_key(&id);
        let added_at = r
            .tenants
            .get(&id)
            .map_or(record.added_at, |old| old.added_at);
        r.tenants.insert(
            id,
            TenantRecord {
                added_at,
                ..record.clone()
            },
        );
        new
    })
    .await
    .context("writing the tenant registry")
}

/// `riskrelay tenants remove`: the removed record, if it was there. Its stored state stays (a
/// tenant added again resumes from its checkpoint); its subscriptions lapse within three days.
pub async fn unregister(store: &dyn Store, id: TenantId) -> anyhow::Result<Option<TenantRecord>> {
    store::update::<Registry, _>(store, tenancy::deployment(), tenancy::REGISTRY, |r| {
        r.tenants.remove(&id)
    })
    .await
    .context("writing the tenant registry")
}

/// `riskrelay tenants list`: every tenant with its status.
pub async fn statuses(store: &dyn Store) -> anyhow::Result<Vec<(TenantRecord, TenantStatus)>> {
    let registry = store::load::<Registry>(store, tenancy::deployment(), tenancy::REGISTRY)
        .await
        .context("reading the tenant registry")?
        .map(|v| v.value)
        .unwrap_or_default();
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
