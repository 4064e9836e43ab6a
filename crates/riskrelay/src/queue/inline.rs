//! The in-process queue of `riskrelay run` and the demo: `enqueue` hands the items straight to
//! the [`Consumer`] (the worker) and succeeds only when every one went through, retrying the failed ones under the
//! shared retry policy. The poll cycle therefore advances its checkpoint only after the worker
//! has processed (and delivered) the whole window.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Consumer, Queue, QueueError};
use crate::http::RetryPolicy;
use crate::observation::WorkItem;

/// Three attempts, two seconds apart at first: enough to ride out a chat webhook's brief 5xx
/// within one cycle; anything longer is the next cycle's to retry.
pub fn default_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(4),
        budget: Duration::from_secs(60),
        max_retry_after: Duration::ZERO,
    }
}

pub struct InlineQueue<C> {
    consumer: Arc<C>,
    retry: RetryPolicy,
}

impl<C: Consumer> InlineQueue<C> {
    pub fn new(consumer: Arc<C>, retry: RetryPolicy) -> Self {
        Self { consumer, retry }
    }
}

#[async_trait]
impl<C: Consumer> Queue for InlineQueue<C> {
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError> {
        let total = items.len();
        let mut pending = items;
        let mut attempts = self.retry.start("in-process delivery");
        loop {
            let results = self.consumer.consume(&pending).await;
            let mut failed = Vec::new();
            let mut last = None;
            for (item, result) in pending.into_iter().zip(results) {
                if let Err(e) = result {
                    last = Some(e);
                    failed.push(item);
                }
            }
            let Some(last) = last else {
                return Ok(());
            };
            let error = format!("{} of {total} items failed: {last}", failed.len());
            if !attempts.again(&error, None).await {
                return Err(QueueError::NotProcessed {
                    failed: failed.len(),
                    total,
                    last: Box::new(last),
                });
            }
            pending = failed;
        }
    }
}
