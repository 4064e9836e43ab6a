//! An in-memory store, for tests and `riskrelay demo`.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::delivery::{self, Status};
use super::{Claim, Store, StoreError};
use crate::ids::TenantId;

#[derive(Default, Debug)]
pub struct MemoryStore {
    docs: Mutex<HashMap<(TenantId, String), (serde_json::Value, u64)>>,
    deliveries: Mutex<HashMap<(String, String), (Status, OffsetDateTime)>>,
}

impl MemoryStore {
    /// The keys of every document stored, for tests that check what a request left behind.
    pub fn keys(&self) -> Vec<(TenantId, String)> {
        self.docs
            .lock()
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("a previous writer panicked".into())
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(
        &self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<(serde_json::Value, u64)>, StoreError> {
        Ok(self
            .docs
            .lock()
            .map_err(poisoned)?
            .get(&(tenant, key.to_string()))
            .cloned())
    }

    async fn put(
        &self,
        tenant: TenantId,
        key: &str,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        let mut docs = self.docs.lock().map_err(poisoned)?;
        let k = (tenant, key.to_string());
        let current = docs.get(&k).map(|(_, v)| *v);
        if current != expected {
            return Ok(false);
        }
        docs.insert(k, (value.clone(), expected.map_or(1, |v| v + 1)));
        Ok(true)
    }

    async fn list(
        &self,
        tenant: TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<super::Listed, StoreError> {
        let docs = self.docs.lock().map_err(poisoned)?;
        let mut found: Vec<(String, serde_json::Value, u64)> = docs
            .iter()
            .filter(|((t, k), _)| {
                *t == tenant && k.starts_with(prefix) && after.is_none_or(|a| k.as_str() > a)
            })
            .map(|((_, k), (v, version))| (k.clone(), v.clone(), *version))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.truncate(limit + 1);
        Ok(super::Listed::from_one_more(found, limit))
    }

    async fn claim_delivery(
        &self,
        alert_key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<Claim, StoreError> {
        let mut d = self.deliveries.lock().map_err(poisoned)?;
        let k = (alert_key.to_string(), sink.to_string());
        let claim = delivery::decide(d.get(&k).copied(), now);
        if claim == Claim::Claimed {
            d.insert(k, (Status::InProgress, delivery::lease_end(now)));
        }
        Ok(claim)
    }

    async fn complete_delivery(
        &self,
        alert_key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.deliveries.lock().map_err(poisoned)?.insert(
            (alert_key.to_string(), sink.to_string()),
            (Status::Done, delivery::retention_end(now)),
        );
        Ok(())
    }

    async fn release_delivery(&self, alert_key: &str, sink: &str) -> Result<(), StoreError> {
        let mut d = self.deliveries.lock().map_err(poisoned)?;
        let k = (alert_key.to_string(), sink.to_string());
        if matches!(d.get(&k), Some((Status::InProgress, _))) {
            d.remove(&k);
        }
        Ok(())
    }
}
