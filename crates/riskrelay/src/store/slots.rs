//! The identity-protection budget shared through the store: one document per tenant holding the
//! next free slot, advanced with a conditional write. The poller and worker functions each keep
//! their own spacing; this keeps them from sending at the same moment (Graph allows 1 request per
//! second per tenant, counted across every caller).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Store, keys};
use crate::ids::TenantId;
use crate::limiter::{SharedSlots, SlotsError};

/// Conditional writes lost to other processes before giving up on one reservation. Two functions
/// at about one request a second rarely collide twice.
const MAX_CONFLICTS: usize = 8;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NextSlot {
    #[serde(with = "time::serde::rfc3339")]
    next: OffsetDateTime,
}

pub struct StoredSlots {
    tenant: TenantId,
    store: Arc<dyn Store>,
}

impl StoredSlots {
    pub fn new(tenant: TenantId, store: Arc<dyn Store>) -> Self {
        Self { tenant, store }
    }

    /// Moves the next slot to what `advance` makes of the stored one (`None`: nothing stored),
    /// retrying lost races; returns what `advance` returned alongside.
    async fn update<T>(
        &self,
        advance: impl Fn(Option<OffsetDateTime>) -> Option<(OffsetDateTime, T)>,
        otherwise: T,
    ) -> Result<T, SlotsError> {
        for _ in 0..MAX_CONFLICTS {
            let stored = super::load::<NextSlot>(self.store.as_ref(), self.tenant, keys::IP_SLOTS)
                .await
                .map_err(unavailable)?;
            let current = stored.as_ref().map(|s| s.value.next);
            let Some((next, out)) = advance(current) else {
                return Ok(otherwise);
            };
            if super::save(
                self.store.as_ref(),
                self.tenant,
                keys::IP_SLOTS,
                &NextSlot { next },
                stored.map(|s| s.version),
            )
            .await
            .map_err(unavailable)?
            {
                return Ok(out);
            }
        }
        Err(SlotsError::Contended(MAX_CONFLICTS))
    }
}

fn unavailable(e: super::StoreError) -> SlotsError {
    SlotsError::Unavailable(Box::new(e))
}

#[async_trait]
impl SharedSlots for StoredSlots {
    async fn reserve(
        &self,
        earliest: OffsetDateTime,
        interval: Duration,
    ) -> Result<OffsetDateTime, SlotsError> {
        self.update(
            |current| {
                let slot = current.map_or(earliest, |n| n.max(earliest));
                Some((slot + interval, slot))
            },
            earliest,
        )
        .await
    }

    async fn hold(&self, until: OffsetDateTime) -> Result<(), SlotsError> {
        self.update(
            |current| match current {
                Some(n) if n >= until => None,
                _ => Some((until, ())),
            },
            (),
        )
        .await
    }
}
