//! The DynamoDB store's items: their keys, the shapes of documents, claims and completed
//! deliveries, the conditions that make writes optimistic, and the limits and retry rounds of
//! DynamoDB's grouped calls.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use crate::ids::TenantId;
use crate::store::StoreError;
use crate::store::delivery;

pub(super) fn unavailable<E: std::error::Error + 'static>(e: SdkError<E>) -> StoreError {
    StoreError::Unavailable(format!(
        "dynamodb: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(e)
    ))
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn num(item: &HashMap<String, AttributeValue>, key: &str) -> Option<i64> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub(super) fn doc_key(tenant: TenantId, key: &str) -> (AttributeValue, AttributeValue) {
    (s(format!("tenant#{tenant}")), s(format!("doc#{key}")))
}

pub(super) fn delivery_key(alert_key: &str, sink: &str) -> (AttributeValue, AttributeValue) {
    (
        s(format!("delivery#{alert_key}")),
        s(format!("sink#{sink}")),
    )
}

/// Conditional writes in flight at once (the worker's states, a digest's claims). Not one
/// `TransactWriteItems`: its items cost two write units each where a put costs one, it fails
/// whole when any one condition fails, and the writes need no atomicity (each decides alone).
pub(super) const CONCURRENT_WRITES: usize = 25;
/// DynamoDB's limit of keys in one `BatchGetItem` call.
pub(super) const MAX_BATCH_GET: usize = 100;
/// DynamoDB's limit of writes in one `BatchWriteItem` call.
pub(super) const MAX_BATCH_WRITE: usize = 25;
/// Calls made for one batch's unprocessed part (DynamoDB returns what it throttled for the caller
/// to send again) before the store is called unavailable.
pub(super) const BATCH_ROUNDS: u32 = 8;

/// Before each call for a batch or its unprocessed part: gives up after [`BATCH_ROUNDS`], and
/// pauses before sending a part again (AWS asks for backoff there).
pub(super) async fn next_round(round: &mut u32, call: &str) -> Result<(), StoreError> {
    if *round == BATCH_ROUNDS {
        return Err(StoreError::Unavailable(format!(
            "dynamodb: {call} kept leaving items unprocessed"
        )));
    }
    if *round > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(25 << (*round).min(6))).await;
    }
    *round += 1;
    Ok(())
}

/// A document write: the item, and the condition that makes it optimistic.
pub(super) struct DocWrite {
    pub(super) item: HashMap<String, AttributeValue>,
    pub(super) condition: &'static str,
    pub(super) values: Option<HashMap<String, AttributeValue>>,
}

impl DocWrite {
    pub(super) fn new(
        tenant: TenantId,
        key: &str,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Self {
        let (pk, sk) = doc_key(tenant, key);
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

/// A document item's JSON value and version.
pub(super) fn doc_of(
    key: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<(serde_json::Value, u64), StoreError> {
    let value = item
        .get("value")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{key}: no value")))?;
    let value =
        serde_json::from_str(value).map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?;
    let version =
        num(item, "version").ok_or_else(|| StoreError::Corrupt(format!("{key}: no version")))?;
    Ok((value, version as u64))
}

/// A claim succeeds where there is no record, or another worker's claim whose lease ran out; a
/// completed delivery is never claimed again.
pub(super) const CLAIM_CONDITION: &str =
    "attribute_not_exists(pk) OR (#s = :in_progress AND #u < :now)";

/// A claim's record and the values its condition reads.
pub(super) struct ClaimWrite {
    pub(super) item: HashMap<String, AttributeValue>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl ClaimWrite {
    pub(super) fn new(alert_key: &str, sink: &str, now: OffsetDateTime) -> Self {
        let (pk, sk) = delivery_key(alert_key, sink);
        Self {
            item: HashMap::from([
                ("pk".to_string(), pk),
                ("sk".to_string(), sk),
                ("status".to_string(), s("in_progress")),
                (
                    "until".to_string(),
                    n(delivery::lease_end(now).unix_timestamp()),
                ),
            ]),
            names: HashMap::from([
                ("#s".to_string(), "status".to_string()),
                ("#u".to_string(), "until".to_string()),
            ]),
            values: HashMap::from([
                (":in_progress".to_string(), s("in_progress")),
                (":now".to_string(), n(now.unix_timestamp())),
            ]),
        }
    }
}

/// A completed delivery's record, remembered until its retention ends.
pub(super) fn done_item(
    alert_key: &str,
    sink: &str,
    now: OffsetDateTime,
) -> HashMap<String, AttributeValue> {
    let (pk, sk) = delivery_key(alert_key, sink);
    let until = delivery::retention_end(now).unix_timestamp();
    HashMap::from([
        ("pk".to_string(), pk),
        ("sk".to_string(), sk),
        ("status".to_string(), s("done")),
        ("until".to_string(), n(until)),
        ("expires_at".to_string(), n(until)),
    ])
}

pub(super) fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    e: &SdkError<E>,
) -> bool {
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}
