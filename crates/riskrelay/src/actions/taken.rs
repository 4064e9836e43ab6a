//! The actions analysts took, kept a day per tenant so that the alert about the change an action
//! causes (the next poll's confirmed compromise) can say who did it, instead of reading as news.

use time::OffsetDateTime;

use crate::alert::ActionNotice;
use crate::ids::TenantId;
use crate::store::{self, Store};

/// How long an action is remembered: Graph reflects a confirmation or dismissal within minutes,
/// and a poll cycle reads the change within one interval of that.
pub const KEEP: time::Duration = time::Duration::hours(24);
/// Most actions remembered per tenant: a bound on the document, far above a day's clicks.
pub const MAX: usize = 500;

/// Records `notice` (once: a retried record with the same key changes nothing).
pub async fn record(
    store: &dyn Store,
    tenant: TenantId,
    notice: &ActionNotice,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    store::update::<Vec<ActionNotice>, ()>(store, tenant, store::keys::ACTIONS_TAKEN, |list| {
        list.retain(|n| now - n.at < KEEP);
        if !list.iter().any(|n| n.key == notice.key) {
            list.push(notice.clone());
        }
        if list.len() > MAX {
            let extra = list.len() - MAX;
            list.drain(..extra);
        }
    })
    .await?;
    Ok(())
}

/// The actions of the last [`KEEP`], oldest first.
pub async fn recent(
    store: &dyn Store,
    tenant: TenantId,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<ActionNotice>> {
    let list = store::load::<Vec<ActionNotice>>(store, tenant, store::keys::ACTIONS_TAKEN)
        .await?
        .map(|v| v.value)
        .unwrap_or_default();
    Ok(list.into_iter().filter(|n| now - n.at < KEEP).collect())
}
