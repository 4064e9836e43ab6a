//! The store: what riskrelay remembers between runs.
//!
//! The port is deliberately small so that each adapter (in-memory, SQLite, DynamoDB) is short:
//!
//! - versioned JSON documents per tenant and key, written with optimistic concurrency (a write
//!   names the version it read, or "absent"; a stale write is refused, never merged): last-seen
//!   user state, the poll checkpoint, the posture snapshot, the drift episode, subscriptions;
//! - delivery records per (alert key, sink): claimed before a post, completed after it, released
//!   when it failed, so that a retry re-sends only what did not arrive and two workers racing on
//!   the same alert post it once.
//!
//! Adapters: [`memory`], [`sqlite`], [`dynamo`]. [`slots`] shares the identity-protection budget
//! between processes through any of them; [`registry`] keeps the tenant registry in them, one
//! document per tenant.

pub mod dynamo;
pub mod memory;
pub mod registry;
pub mod slots;
pub mod spill;
pub mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::ids::{TenantId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
}

/// The outcome of claiming a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This caller may post; it must complete or release the claim.
    Claimed,
    /// Already delivered to this sink.
    Done,
    /// Another worker holds an unexpired claim.
    InProgress,
}

/// How long a claim protects a post in progress. Longer than a post with its retries can take;
/// a worker that died mid-post is taken over once it lapses.
pub const CLAIM_LEASE: Duration = Duration::from_secs(300);
/// How long a completed delivery is remembered: well past Graph's 4-hour retry window and the
/// queue's retention, so a late duplicate still posts nothing.
pub const DELIVERY_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

#[async_trait]
pub trait Store: Send + Sync {
    /// A document and its version.
    async fn get(
        &self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<(serde_json::Value, u64)>, StoreError>;

    /// Several documents of one partition and their versions, in the order of `keys` (`None`
    /// where absent); an adapter that can reads them in a few round trips (a worker's batch reads
    /// a hundred users' states at once).
    async fn get_many(
        &self,
        tenant: TenantId,
        keys: &[String],
    ) -> Result<Vec<Option<(serde_json::Value, u64)>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(tenant, key).await?);
        }
        Ok(out)
    }

    /// Writes a document if its stored version is `expected` (`None`: only if absent). Returns
    /// false, writing nothing, when another writer got there first.
    async fn put(
        &self,
        tenant: TenantId,
        key: &str,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<bool, StoreError>;

    /// One page of at most `limit` of a partition's documents whose keys start with `prefix`, in
    /// key order, from just after `after`. Strongly consistent where the adapter has the choice:
    /// a document written a moment ago is listed.
    async fn list(
        &self,
        tenant: TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Listed, StoreError>;

    async fn claim_delivery(
        &self,
        alert_key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<Claim, StoreError>;

    async fn complete_delivery(
        &self,
        alert_key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Drops an unfinished claim so that a retry can post.
    async fn release_delivery(&self, alert_key: &str, sink: &str) -> Result<(), StoreError>;

    /// Several conditional writes, each as [`Store::put`] decides it; an adapter that can groups
    /// them into one durable write (a cycle saves hundreds of users' states at once).
    async fn put_many(
        &self,
        tenant: TenantId,
        docs: &[(String, serde_json::Value, Option<u64>)],
    ) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(docs.len());
        for (key, value, expected) in docs {
            out.push(self.put(tenant, key, value, *expected).await?);
        }
        Ok(out)
    }

    /// Claims for several alerts to one sink (the alerts one digest carries), grouped where the
    /// adapter can.
    async fn claim_deliveries(
        &self,
        alert_keys: &[String],
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut out = Vec::with_capacity(alert_keys.len());
        for k in alert_keys {
            out.push(self.claim_delivery(k, sink, now).await?);
        }
        Ok(out)
    }

    /// Completes several claims to one sink (after one digest went out), grouped where the
    /// adapter can.
    async fn complete_deliveries(
        &self,
        alert_keys: &[String],
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        for k in alert_keys {
            self.complete_delivery(k, sink, now).await?;
        }
        Ok(())
    }
}

/// One page of a partition's documents (see [`Store::list`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listed {
    /// Key, document and version, in key order.
    pub docs: Vec<(String, serde_json::Value, u64)>,
    /// The key to list after for the next page; `None` once the last page is read.
    pub next: Option<String>,
}

impl Listed {
    /// A page from up to `limit + 1` documents read in key order: the one past the page only says
    /// that there is a next one.
    pub fn from_one_more(mut docs: Vec<(String, serde_json::Value, u64)>, limit: usize) -> Self {
        let more = docs.len() > limit;
        docs.truncate(limit);
        Self {
            next: more.then(|| docs.last().map(|d| d.0.clone())).flatten(),
            docs,
        }
    }
}

/// A typed document with the version it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

pub async fn load<T: DeserializeOwned>(
    store: &dyn Store,
    tenant: TenantId,
    key: &str,
) -> Result<Option<Versioned<T>>, StoreError> {
    match store.get(tenant, key).await? {
        None => Ok(None),
        Some((v, version)) => serde_json::from_value(v)
            .map(|value| Some(Versioned { value, version }))
            .map_err(|e| StoreError::Corrupt(format!("{key}: {e}"))),
    }
}

pub async fn save<T: Serialize>(
    store: &dyn Store,
    tenant: TenantId,
    key: &str,
    value: &T,
    expected: Option<u64>,
) -> Result<bool, StoreError> {
    let v = serde_json::to_value(value).map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?;
    store.put(tenant, key, &v, expected).await
}

/// [`Store::get_many`], typed: a document that does not read as `T` is an error for its key alone.
pub async fn load_many<T: DeserializeOwned>(
    store: &dyn Store,
    tenant: TenantId,
    keys: &[String],
) -> Result<Vec<Result<Option<Versioned<T>>, StoreError>>, StoreError> {
    Ok(store
        .get_many(tenant, keys)
        .await?
        .into_iter()
        .zip(keys)
        .map(|(doc, key)| match doc {
            None => Ok(None),
            Some((v, version)) => serde_json::from_value(v)
                .map(|value| Some(Versioned { value, version }))
                .map_err(|e| StoreError::Corrupt(format!("{key}: {e}"))),
        })
        .collect())
}

/// Attempts of a read-change-write on a document several writers share before giving up.
const UPDATE_ATTEMPTS: usize = 5;

/// Reads a document (its default when absent), applies `change`, and writes it back conditional
/// on the version read — unless `change` left it as it was. When another writer got there first,
/// reads and applies again. Returns what `change` returned on the attempt that stuck.
pub async fn update<T, R>(
    store: &dyn Store,
    tenant: TenantId,
    key: &str,
    mut change: impl FnMut(&mut T) -> R,
) -> Result<R, StoreError>
where
    T: Default + Clone + PartialEq + Serialize + DeserializeOwned,
{
    for _ in 0..UPDATE_ATTEMPTS {
        let stored = load::<T>(store, tenant, key).await?;
        let version = stored.as_ref().map(|s| s.version);
        let before = stored.map(|s| s.value).unwrap_or_default();
        let mut after = before.clone();
        let out = change(&mut after);
        if after == before || save(store, tenant, key, &after, version).await? {
            return Ok(out);
        }
    }
    Err(StoreError::Unavailable(format!(
        "{key} kept changing under this write; try again"
    )))
}

/// Document keys.
pub mod keys {
    use super::UserId;

    pub const CHECKPOINT: &str = "checkpoint";
    pub const POLL_HEALTH: &str = "poll-health";
    pub const POSTURE: &str = "posture";
    pub const DRIFT: &str = "drift";
    pub const SUBSCRIPTIONS: &str = "subscriptions";
    pub const SUBSCRIPTIONS_CREATING: &str = "subscriptions-creating";
    pub const POLL_REQUEST: &str = "poll-request";
    pub const POLL_SPAN: &str = "poll-span";
    pub const PARKED: &str = "parked";
    pub const IP_SLOTS: &str = "identity-protection-slots";
    pub const SNOOZES: &str = "snoozes";
    pub const SUMMARY: &str = "summary";
    pub const FOLDING: &str = "folding";
    pub const ACTIONS_TAKEN: &str = "actions-taken";
    pub const LATE_DETECTIONS: &str = "late-detections";
    pub const ACTIVITY: &str = "activity";
    pub const WORKLOAD_RISK: &str = "workload-risk";

    /// A sign-in in progress on an action page (see [`crate::actions`]), by its `state`.
    pub fn action_login(state_digest: &str) -> String {
        format!("action-login/{state_digest}")
    }

    /// A signed-in analyst's session on the action pages, by the digest of its cookie.
    pub fn action_session(cookie_digest: &str) -> String {
        format!("action-session/{cookie_digest}")
    }

    pub fn user(id: UserId) -> String {
        format!("user/{id}")
    }

    /// A workload identity's state. Graph's ids are GUIDs, but its examples show others: any id
    /// that is not plain is keyed by its digest, so no text from Graph shapes a store key.
    pub fn workload(kind: crate::workload::WorkloadKind, id: &str) -> String {
        if crate::workload::is_plain_id(id) {
            format!("workload/{}/{id}", kind.name())
        } else {
            format!(
                "workload/{}/digest-{}",
                kind.name(),
                crate::alert::keys::fingerprint([id])
            )
        }
    }
}

/// Shared rules for delivery records, so every adapter decides a claim the same way.
pub mod delivery {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub enum Status {
        InProgress,
        Done,
    }

    /// What a claim finds, given the stored record (status, lease or retention end).
    pub fn decide(existing: Option<(Status, OffsetDateTime)>, now: OffsetDateTime) -> Claim {
        match existing {
            None => Claim::Claimed,
            Some((Status::Done, _)) => Claim::Done,
            Some((Status::InProgress, until)) if until > now => Claim::InProgress,
            Some((Status::InProgress, _)) => Claim::Claimed,
        }
    }

    pub fn lease_end(now: OffsetDateTime) -> OffsetDateTime {
        now + CLAIM_LEASE
    }

    pub fn retention_end(now: OffsetDateTime) -> OffsetDateTime {
        now + DELIVERY_RETENTION
    }
}
