//! The tenant registry's documents: one per tenant, `registry/{tenant id}` in the deployment's
//! partition ([`tenancy::deployment`]), read a page at a time.
//!
//! One document per tenant, rather than one for them all, so that adding, changing and removing
//! tenants never contend (four `tenants add` racing on one document lost one write in ten) and the
//! number of tenants has no ceiling (a DynamoDB item holds 400 KB, about 1,500 tenants). The store
//! has no delete, so a removed tenant's document is kept as `null`; adding it again writes over it.

use anyhow::Context as _;

use super::{Store, StoreError};
use crate::ids::TenantId;
use crate::tenancy::{self, Registry, TenantRecord};

/// The key prefix of the tenants' documents.
const PREFIX: &str = "registry/";
/// Documents per page when the registry is read. A record is a few hundred bytes, so a page stays
/// well under DynamoDB's 1 MB per `Query`.
pub const PAGE: usize = 500;

fn key(id: TenantId) -> String {
    format!("{PREFIX}{id}")
}

/// Every registered tenant, read page by page (after moving a registry stored the old way).
pub async fn load(store: &dyn Store) -> anyhow::Result<Registry> {
    migrate(store).await?;
    let mut registry = Registry::default();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list(tenancy::deployment(), PREFIX, after.as_deref(), PAGE)
            .await
            .context("reading the tenant registry")?;
        for (key, value, _) in page.docs {
            match serde_json::from_value::<Option<TenantRecord>>(value) {
                Ok(Some(record)) => {
                    registry.tenants.insert(record.id, record);
                }
                Ok(None) => {}
                // Left in the store as it is, and said: one bad record does not stop the rest.
                Err(e) => {
                    tracing::error!(key, error = %e, "a tenant record could not be read; that tenant is not watched until it is added again")
                }
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(registry),
        }
    }
}

/// Records a tenant, or updates its record keeping the date it was first added. Returns whether
/// it is new. Call [`migrate`] once before a series of writes.
pub async fn put(store: &dyn Store, record: TenantRecord) -> anyhow::Result<bool> {
    let id = record.id;
    super::update::<Option<TenantRecord>, _>(
        store,
        tenancy::deployment(),
        &key(id),
        move |stored| {
            let new = stored.is_none();
            let added_at = stored.as_ref().map_or(record.added_at, |old| old.added_at);
            *stored = Some(TenantRecord {
                added_at,
                ..record.clone()
            });
            new
        },
    )
    .await
    .with_context(|| format!("writing the record of tenant {id}"))
}

/// Removes a tenant's record; the removed record, if it was there. Call [`migrate`] first.
pub async fn remove(store: &dyn Store, id: TenantId) -> anyhow::Result<Option<TenantRecord>> {
    super::update::<Option<TenantRecord>, _>(store, tenancy::deployment(), &key(id), Option::take)
        .await
        .with_context(|| format!("removing the record of tenant {id}"))
}

/// Moves a registry stored as one document (before 0.3: `tenant-registry`) to one document per
/// tenant. A tenant that already has its own document keeps it (it was written later). The old
/// document is emptied last, conditional on the version read, so a crash part-way moves the rest
/// at the next start and nothing is lost. Returns how many records were moved.
pub async fn migrate(store: &dyn Store) -> Result<usize, StoreError> {
    let Some(old) =
        super::load::<Registry>(store, tenancy::deployment(), tenancy::REGISTRY).await?
    else {
        return Ok(0);
    };
    if old.value.tenants.is_empty() {
        return Ok(0);
    }
    let mut moved = 0;
    for record in old.value.tenants.values() {
        if super::save(
            store,
            tenancy::deployment(),
            &key(record.id),
            &Some(record),
            None,
        )
        .await?
        {
            moved += 1;
        }
    }
    if super::save(
        store,
        tenancy::deployment(),
        tenancy::REGISTRY,
        &Registry::default(),
        Some(old.version),
    )
    .await?
    {
        tracing::info!(
            tenants = old.value.tenants.len(),
            moved,
            "the tenant registry now keeps one document per tenant"
        );
    }
    Ok(moved)
}
