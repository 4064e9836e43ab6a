//! Coalescing, its I/O half (the rules are `crate::coalesce`): the one module that writes the
//! folding list, the users holding folded detections and when each is due.
//!
//! The list is an outbox between the worker and the poll cycle: the worker records a user as due
//! before it saves the state holding the folded detections ([`record_due`]), the poll cycle hints
//! every user who is due ([`due`]), the worker reads them, finds nothing new and sends the folded
//! detections as one update, and takes them off the list once their saved state holds nothing
//! folded ([`tidy`]).

use time::OffsetDateTime;

use crate::coalesce::Folding;
use crate::ids::{TenantId, UserId};
use crate::store::{self, Store};

/// Records when each user's folded detections are due. The worker saves those users' states only
/// if this succeeds, so the poll cycle never misses a user holding folded detections.
pub async fn record_due(
    store: &dyn Store,
    tenant: TenantId,
    due: &[(UserId, OffsetDateTime)],
) -> Result<(), store::StoreError> {
    if due.is_empty() {
        return Ok(());
    }
    update(store, tenant, |f| {
        for (id, at) in due {
            f.set(*id, *at);
        }
    })
    .await
}

/// Takes users whose saved state holds nothing folded off the list (an entry left behind costs
/// one more hint, never a detection).
pub async fn tidy(
    store: &dyn Store,
    tenant: TenantId,
    leaving: &[UserId],
) -> Result<(), store::StoreError> {
    if leaving.is_empty() {
        return Ok(());
    }
    update(store, tenant, |f| {
        for id in leaving {
            f.remove(*id);
        }
    })
    .await
}

/// The users whose folded detections are due by `now`.
pub async fn due(
    store: &dyn Store,
    tenant: TenantId,
    now: OffsetDateTime,
) -> Result<Vec<UserId>, store::StoreError> {
    Ok(store::load::<Folding>(store, tenant, store::keys::FOLDING)
        .await?
        .map(|f| f.value.due(now))
        .unwrap_or_default())
}

async fn update(
    store: &dyn Store,
    tenant: TenantId,
    change: impl FnMut(&mut Folding),
) -> Result<(), store::StoreError> {
    store::update(store, tenant, store::keys::FOLDING, change).await
}
