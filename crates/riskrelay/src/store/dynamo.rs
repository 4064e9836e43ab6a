//! The DynamoDB store: one table (`pk`, `sk` strings), conditional writes, and a TTL attribute
//! (`expires_at`) on delivery records.
//!
//! - documents: `pk = tenant#{tenant}`, `sk = doc#{key}`, `value` (JSON text), `version`;
//! - deliveries: `pk = delivery#{alert key}`, `sk = sink#{sink}`, `status`, `until`, and
//!   `expires_at` once done. Expiry is also checked in code: DynamoDB deletes expired items up to
//!   48 hours late.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem,
};
use time::OffsetDateTime;

use super::delivery::{self, Status};
use super::{Claim, Store, StoreError};
use crate::ids::TenantId;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn unavailable<E: std::error::Error + 'static>(e: SdkError<E>) -> StoreError {
    StoreError::Unavailable(format!(
        "dynamodb: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(e)
    ))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn num(item: &HashMap<String, AttributeValue>, key: &str) -> Option<i64> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
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

    fn doc_key(tenant: TenantId, key: &str) -> (AttributeValue, AttributeValue) {
        (s(format!("tenant#{tenant}")), s(format!("doc#{key}")))
    }

    fn delivery_key(alert_key: &str, sink: &str) -> (AttributeValue, AttributeValue) {
        (
            s(format!("delivery#{alert_key}")),
            s(format!("sink#{sink}")),
        )
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
        let (pk, sk) = Self::delivery_key(alert_key, sink);
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

/// DynamoDB's limit of items in one `TransactWriteItems` call.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// A document write: the item, and the condition that makes it optimistic.
struct DocWrite {
    item: HashMap<String, AttributeValue>,
    condition: &'static str,
    values: Option<HashMap<String, AttributeValue>>,
}

impl DocWrite {
    fn new(tenant: TenantId, key: &str, value: &serde_json::Value, expected: Option<u64>) -> Self {
        let (pk, sk) = DynamoStore::doc_key(tenant, key);
        let next = expected.map_or(1, |v| v + 1) as i64;
        let item = HashMap::from([
            ("pk".to_string(), pk),
            ("sk".to_string(), sk),
            ("value".to_string(), s(value.to_string())),
            ("version".to_string(), n(next)),
        ]);
        match expected {
            None => Self {
                item,
                condition: "attribute_not_exists(pk)",
                values: None,
            },
            Some(v) => Self {
                item,
                condition: "version = :v",
                values: Some(HashMap::from([(":v".to_string(), n(v as i64))])),
            },
        }
    }
}

fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(
        &self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<(serde_json::Value, u64)>, StoreError> {
        let (pk, sk) = Self::doc_key(tenant, key);
        let Some(item) = self.get_item(pk, sk).await? else {
            return Ok(None);
        };
        let value = item
            .get("value")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("{key}: no value")))?;
        let value =
            serde_json::from_str(value).map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?;
        let version = num(&item, "version")
            .ok_or_else(|| StoreError::Corrupt(format!("{key}: no version")))?;
        Ok(Some((value, version as u64)))
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
        let (pk, from) = Self::doc_key(tenant, prefix);
        let start = after.map(|a| {
            let (pk, sk) = Self::doc_key(tenant, a);
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
            let value = item
                .get("value")
                .and_then(|v| v.as_s().ok())
                .ok_or_else(|| StoreError::Corrupt(format!("{key}: no value")))?;
            let value = serde_json::from_str(value)
                .map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?;
            let version = num(item, "version")
                .ok_or_else(|| StoreError::Corrupt(format!("{key}: no version")))?;
            docs.push((key, value, version as u64));
        }
        Ok(super::Listed {
            next: out.last_evaluated_key().and_then(key_of),
            docs,
        })
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

    /// Up to 100 conditional writes per `TransactWriteItems` call (one round trip instead of
    /// one each). The transaction is all or nothing: when a condition fails, nothing of it was
    /// written, and its writes are made one by one to learn which lost their race.
    async fn put_many(
        &self,
        tenant: TenantId,
        docs: &[(String, serde_json::Value, Option<u64>)],
    ) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(docs.len());
        for chunk in docs.chunks(MAX_TRANSACTION_ITEMS) {
            if let [(key, value, expected)] = chunk {
                out.push(self.put(tenant, key, value, *expected).await?);
                continue;
            }
            let items = chunk
                .iter()
                .map(|(key, value, expected)| {
                    let w = DocWrite::new(tenant, key, value, *expected);
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(w.item))
                        .condition_expression(w.condition)
                        .set_expression_attribute_values(w.values)
                        .build()
                        .map(|put| TransactWriteItem::builder().put(put).build())
                        .map_err(|e| StoreError::Unavailable(format!("dynamodb: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => out.extend(std::iter::repeat_n(true, chunk.len())),
                Err(e)
                    if e.as_service_error()
                        .and_then(aws_sdk_dynamodb::error::ProvideErrorMetadata::code)
                        == Some("TransactionCanceledException") =>
                {
                    for (key, value, expected) in chunk {
                        out.push(self.put(tenant, key, value, *expected).await?);
                    }
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(out)
    }

    async fn claim_delivery(
        &self,
        alert_key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<Claim, StoreError> {
        let (pk, sk) = Self::delivery_key(alert_key, sink);
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk)
            .item("sk", sk)
            .item("status", s("in_progress"))
            .item("until", n(delivery::lease_end(now).unix_timestamp()))
            .condition_expression("attribute_not_exists(pk) OR (#s = :in_progress AND #u < :now)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#u", "until")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":now", n(now.unix_timestamp()))
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

    async fn complete_delivery(
        &self,
        alert_key: &str,
        sink: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (pk, sk) = Self::delivery_key(alert_key, sink);
        let until = delivery::retention_end(now).unix_timestamp();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk)
            .item("sk", sk)
            .item("status", s("done"))
            .item("until", n(until))
            .item("expires_at", n(until))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn release_delivery(&self, alert_key: &str, sink: &str) -> Result<(), StoreError> {
        let (pk, sk) = Self::delivery_key(alert_key, sink);
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
