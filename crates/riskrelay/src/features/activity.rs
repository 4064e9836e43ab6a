//! The activity figures' I/O half (the rules are `crate::activity`): the one writer of the
//! tenant's `activity` document. The worker's record phase moves the counts with the states it
//! saved and counts the user alerts that went out; the summary sets the counts from Graph's list.

use time::OffsetDateTime;

use crate::activity::{Activity, AtRisk, Bucket};
use crate::ids::TenantId;
use crate::store::{self, Store, StoreError};

/// A batch's saved moves (each user's bucket before and after) and its user alerts delivered.
pub async fn record(
    store: &dyn Store,
    tenant: TenantId,
    moves: &[(Option<Bucket>, Option<Bucket>)],
    alerted: u32,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    if alerted == 0 && moves.iter().all(|(b, a)| b == a) {
        return Ok(());
    }
    store::update(store, tenant, store::keys::ACTIVITY, |a: &mut Activity| {
        for (before, after) in moves {
            a.moved(*before, *after);
        }
        a.alerted(alerted, now);
    })
    .await
}

/// The counts as Graph's whole list gives them (the daily summary).
pub async fn counted(
    store: &dyn Store,
    tenant: TenantId,
    at_risk: AtRisk,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    store::update(store, tenant, store::keys::ACTIVITY, |a: &mut Activity| {
        a.counted(at_risk, now);
        a.alerted(0, now);
    })
    .await
}

pub async fn load(store: &dyn Store, tenant: TenantId) -> Result<Activity, StoreError> {
    Ok(
        store::load::<Activity>(store, tenant, store::keys::ACTIVITY)
            .await?
            .map(|v| v.value)
            .unwrap_or_default(),
    )
}
