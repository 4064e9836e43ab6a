//! The SQLite store: one embedded file for the self-hosted process (`riskrelay run`). Several
//! processes may share the file: writes take SQLite's write lock, and the same conditional rules
//! as the other adapters apply.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;

use super::delivery::{self, Status};
use super::{Claim, Store, StoreError};
use crate::ids::TenantId;

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    lease: std::time::Duration,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

fn status_text(s: Status) -> &'static str {
    match s {
        Status::InProgress => "in_progress",
        Status::Done => "done",
    }
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(err)?;
        Self::init(conn)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        // WAL lets a reader (a second `riskrelay check`, say) work while the service writes.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS docs (
                 tenant TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, version INTEGER NOT NULL,
                 PRIMARY KEY (tenant, key));
             CREATE TABLE IF NOT EXISTS deliveries (
                 alert_key TEXT NOT NULL, sink TEXT NOT NULL, status TEXT NOT NULL, until INTEGER NOT NULL,
                 PRIMARY KEY (alert_key, sink));",
        )
        .map_err(err)?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        conn.execute(
            "DELETE FROM deliveries WHERE status = 'done' AND until < ?1",
            params![now],
        )
        .map_err(err)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            lease: super::CLAIM_LEASE,
        })
    }

    /// How long a claim blocks a retry of its post (default [`super::CLAIM_LEASE`]). One process
    /// owns the database in `riskrelay run`, so a claim found on start is a crashed run's: a
    /// shorter lease lets its alert go out sooner after a restart, at the risk of posting it twice
    /// if the crash came between the post and its record.
    pub fn with_claim_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Runs blocking SQLite work off the async threads.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().map_err(|_| {
                StoreError::Unavailable("sqlite: a previous writer panicked".into())
            })?;
            f(&mut c)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("sqlite task: {e}")))?
    }
}

/// A conditional write (see [`Store::put`]), inside whatever transaction `c` is.
fn put_one(
    c: &Connection,
    tenant: TenantId,
    key: &str,
    value: &str,
    expected: Option<u64>,
) -> Result<bool, StoreError> {
    let changed = match expected {
        None => c
            .execute(
                "INSERT INTO docs (tenant, key, value, version) VALUES (?1, ?2, ?3, 1) ON CONFLICT DO NOTHING",
                params![tenant.to_string(), key, value],
            )
            .map_err(err)?,
        Some(v) => c
            .execute(
                "UPDATE docs SET value = ?3, version = version + 1 WHERE tenant = ?1 AND key = ?2 AND version = ?4",
                params![tenant.to_string(), key, value, v as i64],
            )
            .map_err(err)?,
    };
    Ok(changed == 1)
}

/// A claim (see [`Store::claim_delivery`]), inside an immediate transaction.
fn claim_one(
    tx: &rusqlite::Transaction<'_>,
    alert_key: &str,
    sink: &str,
    now: OffsetDateTime,
    until: i64,
) -> Result<Claim, StoreError> {
    let row: Option<(String, i64)> = tx
        .query_row(
            "SELECT status, until FROM deliveries WHERE alert_key = ?1 AND sink = ?2",
            params![alert_key, sink],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(err)?;
    let existing = row.map(|(s, until)| {
        let status = if s == "done" {
            Status::Done
        } else {
            Status::InProgress
        };
        (
            status,
            OffsetDateTime::from_unix_timestamp(until).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        )
    });
    let claim = delivery::decide(existing, now);
    if claim == Claim::Claimed {
        tx.execute(
            "INSERT INTO deliveries (alert_key, sink, status, until) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (alert_key, sink) DO UPDATE SET status = excluded.status, until = excluded.until",
            params![alert_key, sink, status_text(Status::InProgress), until],
        )
        .map_err(err)?;
    }
    Ok(claim)
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(
        &self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<(serde_json::Value, u64)>, StoreError> {
        let key = key.to_string();
        self.with(move |c| {
            let row: Option<(String, i64)> = c
                .query_row(
                    "SELECT value, version FROM docs WHERE tenant = ?1 AND key = ?2",
                    params![tenant.to_string(), key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(err)?;
            row.map(|(v, version)| {
                serde_json::from_str(&v)
                    .map(|v| (v, version as u64))
                    .map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))
            })
            .transpose()
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<super::Listed, StoreError> {
        let (prefix, after) = (prefix.to_string(), after.unwrap_or_default().to_string());
        self.with(move |c| {
            // One row more than the page says whether there is a next one.
            let mut stmt = c
                .prepare_cached(
                    "SELECT key, value, version FROM docs WHERE tenant = ?1 AND key > ?2
                     AND substr(key, 1, length(?3)) = ?3 ORDER BY key LIMIT ?4",
                )
                .map_err(err)?;
            let rows = stmt
                .query_map(
                    params![tenant.to_string(), after, prefix, (limit + 1) as i64],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    },
                )
                .map_err(err)?;
            let mut docs = Vec::new();
            for row in rows {
                let (key, value, version) = row.map_err(err)?;
                let value = serde_json::from_str(&value)
                    .map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?;
                docs.push((key, value, version as u64));
            }
            Ok(super::Listed::from_one_more(docs, limit))
        })
        .await
    }

    async fn put(
        &self,
        tenant: TenantId,
        key: &str,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        let (key, value) = (key.to_string(), value.to_string());
        self.with(move |c| put_one(c, tenant, &key, &value, expected))
            .await
    }

    /// One transaction (one `fsync`) for the lot; each write keeps its own condition.
    async fn put_many(
        &self,
        tenant: TenantId,
        docs: &[(String, serde_json::Value, Option<u64>)],
    ) -> Result<Vec<bool>, StoreError> {
        let docs: Vec<(String, String, Option<u64>)> = docs
            .iter()
            .map(|(k, v, e)| (k.clone(), v.to_string(), *e))
            .collect();
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let out = docs
                .iter()
                .map(|(k, v, e)| put_one(&tx, tenant, k, v, *e))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit().map_err(err)?;
            Ok(out)
        })
        .await
    }

    async fn claim_delivery(
        &self,
        alert_key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<Claim, StoreError> {
        let claims = self
            .claim_deliveries(&[alert_key.to_string()], sink, now)
            .await?;
        claims
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Unavailable("sqlite: no claim was made".into()))
    }

    async fn claim_deliveries(
        &self,
        alert_keys: &[String],
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Claim>, StoreError> {
        let (keys, sink) = (alert_keys.to_vec(), sink.to_string());
        let until = (now + self.lease).unix_timestamp();
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let out = keys
                .iter()
                .map(|k| claim_one(&tx, k, &sink, now, until))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit().map_err(err)?;
            Ok(out)
        })
        .await
    }

    async fn complete_delivery(
        &self,
        alert_key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.complete_deliveries(&[alert_key.to_string()], sink, now)
            .await
    }

    async fn complete_deliveries(
        &self,
        alert_keys: &[String],
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (keys, sink) = (alert_keys.to_vec(), sink.to_string());
        let until = delivery::retention_end(now).unix_timestamp();
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            for k in &keys {
                tx.execute(
                    "INSERT INTO deliveries (alert_key, sink, status, until) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (alert_key, sink) DO UPDATE SET status = excluded.status, until = excluded.until",
                    params![k, sink, status_text(Status::Done), until],
                )
                .map_err(err)?;
            }
            tx.commit().map_err(err)?;
            Ok(())
        })
        .await
    }

    async fn release_delivery(&self, alert_key: &str, sink: &str) -> Result<(), StoreError> {
        let (alert_key, sink) = (alert_key.to_string(), sink.to_string());
        self.with(move |c| {
            c.execute(
                "DELETE FROM deliveries WHERE alert_key = ?1 AND sink = ?2 AND status = 'in_progress'",
                params![alert_key, sink],
            )
            .map_err(err)?;
            Ok(())
        })
        .await
    }
}
