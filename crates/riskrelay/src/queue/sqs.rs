//! Amazon SQS adapter: `SendMessageBatch` in groups of at most 10 entries and 256 KiB.

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use super::{Queue, QueueError};
use crate::observation::WorkItem;

/// SQS allows 10 entries per `SendMessageBatch`.
const MAX_BATCH_ENTRIES: usize = 10;
/// SQS caps a message, and the sum of a batch, at 256 KiB; keep a margin for attributes.
const MAX_BATCH_BYTES: usize = 250 * 1024;
/// `SendMessageBatch` calls in flight at once: a cycle of 10,000 changed users is 1,000 calls,
/// about 15 s one after the other at SQS's usual latency, and nothing orders them (a FIFO queue's
/// tenant jobs are each their own message group).
const SENDS_IN_FLIGHT: usize = 10;

/// Reads one SQS record as the worker receives it: its message id and work item, or, when the
/// body is missing or not a work item, just its id (such a message never becomes readable, so the
/// caller lets it reach the dead-letter queue).
pub fn decode(record: &aws_lambda_events::sqs::SqsMessage) -> Result<(String, WorkItem), String> {
    let id = record.message_id.clone().unwrap_or_default();
    match record.body.as_deref().map(serde_json::from_str::<WorkItem>) {
        Some(Ok(item)) => Ok((id, item)),
        _ => Err(id),
    }
}

/// One message to send: a body, and for a FIFO queue its group and deduplication id.
#[derive(Clone)]
struct Message {
    body: String,
    group: Option<String>,
    dedup: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Queues one job per tenant on a FIFO queue: the tenant is the message group, so SQS never
    /// hands out a tenant's next job while its last one is in flight (no tenant is polled twice
    /// at once, even when a cycle outlasts the schedule's interval), and `tick` makes the
    /// deduplication id, so a schedule that fires twice for one tick queues nothing twice
    /// (SQS drops a repeated id for five minutes).
    pub async fn enqueue_jobs(
        &self,
        jobs: &[crate::observation::TenantJob],
        tick: &str,
    ) -> Result<(), QueueError> {
        let messages = jobs
            .iter()
            .map(|j| {
                Ok(Message {
                    body: serde_json::to_string(j)?,
                    group: Some(j.tenant.to_string()),
                    dedup: Some(format!("{}-{}-{tick}", j.job.name(), j.tenant)),
                })
            })
            .collect::<Result<Vec<_>, QueueError>>()?;
        self.send_all(messages.chunks(MAX_BATCH_ENTRIES).map(<[Message]>::to_vec))
            .await
    }

    /// Sends the batches [`SENDS_IN_FLIGHT`] at a time; the first error, once all have answered.
    async fn send_all(
        &self,
        batches: impl Iterator<Item = Vec<Message>>,
    ) -> Result<(), QueueError> {
        use futures_util::StreamExt as _;
        let sends: Vec<_> = batches.map(|b| self.send_batch(b)).collect();
        let results: Vec<Result<(), QueueError>> = futures_util::stream::iter(sends)
            .buffer_unordered(SENDS_IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn send_batch(&self, messages: Vec<Message>) -> Result<(), QueueError> {
        let total = messages.len();
        let entries = messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.body)
                    .set_message_group_id(m.group)
                    .set_message_deduplication_id(m.dedup)
                    .build()
                    .map_err(|e| QueueError::Rejected {
                        failed: total,
                        total,
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| QueueError::Rejected {
                failed: total,
                total,
                reason: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
            })?;
        let failed = out.failed();
        if failed.is_empty() {
            return Ok(());
        }
        Err(QueueError::Rejected {
            failed: failed.len(),
            total,
            reason: failed
                .iter()
                .map(|f| f.code().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// Encodes an item, dropping the attached Graph data when the message would be too large.
fn encode(item: &WorkItem) -> Result<String, QueueError> {
    let body = serde_json::to_string(item)?;
    if body.len() <= MAX_BATCH_BYTES {
        return Ok(body);
    }
    tracing::warn!(
        bytes = body.len(),
        "message too large for SQS; sending it without attached Graph data"
    );
    Ok(serde_json::to_string(&item.without_fetched())?)
}

/// Splits encoded bodies into batches within SQS's entry and byte limits.
fn batches(bodies: Vec<String>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for body in bodies {
        let fits = out
            .last()
            .is_some_and(|b| b.len() < MAX_BATCH_ENTRIES && bytes + body.len() <= MAX_BATCH_BYTES);
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += body.len();
        if let Some(last) = out.last_mut() {
            last.push(body);
        }
    }
    out
}

#[async_trait]
impl Queue for SqsQueue {
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError> {
        let bodies = items.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        self.send_all(batches(bodies).into_iter().map(|batch| {
            batch
                .into_iter()
                .map(|body| Message {
                    body,
                    group: None,
                    dedup: None,
                })
                .collect()
        }))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_entry_and_byte_limits() {
        let small: Vec<String> = (0..25).map(|i| format!("m{i}")).collect();
        let b = batches(small);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 5]);

        let big: Vec<String> = (0..5).map(|_| "x".repeat(100 * 1024)).collect();
        let b = batches(big);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
        assert!(batches(Vec::new()).is_empty());
    }
}
