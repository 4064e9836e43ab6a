//! The DynamoDB store: one table (`pk`, `sk` strings), conditional writes, and a TTL attribute
//! (`expires_at`) on delivery records.
//!
//! - documents: `pk = tenant#{tenant}`, `sk = doc#{key}`, `value` (JSON text), `version`;
//! - deliveries: `pk = delivery#{alert key}`, `sk = sink#{sink}`, `status`, `until`, and
//!   `expires_at` once done. Expiry is also checked in code: DynamoDB deletes expired items up to
//!   48 hours late.
//!
//! The items' shapes, keys and conditions, and the limits of the grouped calls, are in [`items`].

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use futures_util::{StreamExt as _, TryStreamExt as _};
use time::OffsetDateTime;

use super::delivery::Status;
use super::{Claim, Store, StoreError};
use crate::ids::TenantId;

mod items;
use items::*;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table as the SAM template does (on-demand, TTL on `expires_at`). For tests and
    /// self-hosted set-ups; in AWS the template owns the table.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        };
        let key = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        };
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .send()
            .await
            .map_err(unavailable)?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            )
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// A strongly consistent read: a claim must see the write another worker just made.
    async fn get_item(
        &self,
        pk: AttributeValue,
        sk: AttributeValue,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    async fn delivery(
        &self,
        alert_key: &str,
        sink: &str,
    ) -> Result<Option<(Status, OffsetDateTime)>, StoreError> {
        let (pk, sk) = delivery_key(alert_key, sink);
        Ok(self.get_item(pk, sk).await?.map(|item| {
            let status = match item
                .get("status")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
            {
                Some("done") => Status::Done,
                _ => Status::InProgress,
            };
            let until = num(&item, "until")
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            (status, until)
        }))
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(
        &self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<(serde_json::Value, u64)>, StoreError> {
        let (pk, sk) = doc_key(tenant, key);
        match self.get_item(pk, sk).await? {
            Some(item) => doc_of(key, &item).map(Some),
            None => Ok(None),
        }
    }

    /// A `Query` on the partition with `begins_with` on the sort key, strongly consistent. DynamoDB
    /// may end a page early (1 MB read); its last evaluated key is then where the next one starts.
    async fn list(
        &self,
        tenant: TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<super::Listed, StoreError> {
        let (pk, from) = doc_key(tenant, prefix);
        let start = after.map(|a| {
            let (pk, sk) = doc_key(tenant, a);
            HashMap::from([("pk".to_string(), pk), ("sk".to_string(), sk)])
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :from)")
            .expression_attribute_values(":pk", pk)
            .expression_attribute_values(":from", from)
            .consistent_read(true)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let key_of = |item: &HashMap<String, AttributeValue>| {
            item.get("sk")
                .and_then(|v| v.as_s().ok())
                .and_then(|sk| sk.strip_prefix("doc#"))
                .map(str::to_string)
        };
        let mut docs = Vec::new();
        for item in out.items() {
            let key = key_of(item)
                .ok_or_else(|| StoreError::Corrupt("a document without its key".into()))?;
            let (value, version) = doc_of(&key, item)?;
            docs.push((key, value, version));
        }
        Ok(super::Listed {
            next: out.last_evaluated_key().and_then(key_of),
            docs,
        })
    }

    /// `BatchGetItem`, 100 keys a call, strongly consistent, sending back what DynamoDB left
    /// unprocessed.
    async fn get_many(
        &self,
        tenant: TenantId,
        keys: &[String],
    ) -> Result<Vec<Option<(serde_json::Value, u64)>>, StoreError> {
        let mut found: HashMap<String, (serde_json::Value, u64)> = HashMap::new();
        for chunk in keys.chunks(MAX_BATCH_GET) {
            let mut wanted: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|k| {
                    let (pk, sk) = doc_key(tenant, k);
                    HashMap::from([("pk".to_string(), pk), ("sk".to_string(), sk)])
                })
                .collect();
            let mut round = 0;
            while !wanted.is_empty() {
                next_round(&mut round, "BatchGetItem").await?;
                let ask = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut wanted)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Unavailable(format!("dynamodb: {e}")))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, ask)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let Some(key) = item
                        .get("sk")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|sk| sk.strip_prefix("doc#"))
                    else {
                        continue;
                    };
                    found.insert(key.to_string(), doc_of(key, item)?);
                }
                wanted = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
            }
        }
        Ok(keys.iter().map(|k| found.remove(k)).collect())
    }

    async fn put(
        &self,
        tenant: TenantId,
        key: &str,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        let w = DocWrite::new(tenant, key, value, expected);
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(w.item))
            .condition_expression(w.condition)
            .set_expression_attribute_values(w.values);
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The conditional writes side by side, [`CONCURRENT_WRITES`] at a time, each deciding for
    /// itself (a lost race loses only its own write).
    async fn put_many(
        &self,
        tenant: TenantId,
        docs: &[(String, serde_json::Value, Option<u64>)],
    ) -> Result<Vec<bool>, StoreError> {
        let writes: Vec<_> = docs
            .iter()
            .map(|(key, value, expected)| self.put(tenant, key, value, *expected))
            .collect();
        futures_util::stream::iter(writes)
            .buffered(CONCURRENT_WRITES)
            .try_collect()
            .await
    }

    async fn claim_delivery(
        &self,
        alert_key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<Claim, StoreError> {
        let c = ClaimWrite::new(alert_key, sink, now);
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(c.item))
            .condition_expression(CLAIM_CONDITION)
            .set_expression_attribute_names(Some(c.names))
            .set_expression_attribute_values(Some(c.values))
            .send()
            .await;
        match res {
            Ok(_) => Ok(Claim::Claimed),
            Err(e) if is_condition_failure(&e) => {
                // Someone holds or finished it; say which. A record that vanished in between
                // (released) reads as in progress: the caller retries later.
                Ok(match self.delivery(alert_key, sink).await? {
                    Some((Status::Done, _)) => Claim::Done,
                    _ => Claim::InProgress,
                })
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The claims side by side, [`CONCURRENT_WRITES`] at a time: a digest of 100 alerts is
    /// claimed in about the time of four writes.
    async fn claim_deliveries(
        &self,
        alert_keys: &[String],
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Claim>, StoreError> {
        let claims: Vec<_> = alert_keys
            .iter()
            .map(|k| self.claim_delivery(k, sink, now))
            .collect();
        futures_util::stream::iter(claims)
            .buffered(CONCURRENT_WRITES)
            .try_collect()
            .await
    }

    async fn complete_delivery(
        &self,
        alert_key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(done_item(alert_key, sink, now)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// `BatchWriteItem`, 25 records a call (a completion has no condition), sending back what
    /// DynamoDB left unprocessed.
    async fn complete_deliveries(
        &self,
        alert_keys: &[String],
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        for chunk in alert_keys.chunks(MAX_BATCH_WRITE) {
            let mut writes = chunk
                .iter()
                .map(|k| {
                    aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(done_item(k, sink, now)))
                        .build()
                        .map(|p| {
                            aws_sdk_dynamodb::types::WriteRequest::builder()
                                .put_request(p)
                                .build()
                        })
                        .map_err(|e| StoreError::Unavailable(format!("dynamodb: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut round = 0;
            while !writes.is_empty() {
                next_round(&mut round, "BatchWriteItem").await?;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut writes))
                    .send()
                    .await
                    .map_err(unavailable)?;
                writes = out
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    async fn release_delivery(&self, alert_key: &str, sink: &str) -> Result<(), StoreError> {
        let (pk, sk) = delivery_key(alert_key, sink);
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .condition_expression("#s = :in_progress")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}
