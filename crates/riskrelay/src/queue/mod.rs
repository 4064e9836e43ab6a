//! The queue between the sources (poller, webhook) and the worker.
//!
//! [`Queue`] is the port: enqueue work or fail as a whole, so a caller knows whether it may
//! acknowledge (the webhook's 202, the poller's checkpoint). Adapters: [`inline`] hands items
//! straight to the worker (`riskrelay run`, the demo), [`hints`] holds the self-hosted webhook's
//! hints (bounded, coalescing per user), [`memory`] is a channel (webhook hints in
//! `riskrelay run`, `serve`, tests), [`sqs`] is AWS.

pub mod hints;
pub mod inline;
pub mod memory;
pub mod sqs;

use async_trait::async_trait;

use crate::observation::WorkItem;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the queue did not accept {failed} of {total} messages: {reason}")]
    Rejected {
        failed: usize,
        total: usize,
        reason: String,
    },
    #[error("the queue is closed")]
    Closed,
    #[error("the queue is full ({capacity} items waiting)")]
    Full { capacity: usize },
    #[error("a message could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    /// The in-process consumer (the worker) failed some items after its retries.
    #[error("{failed} of {total} items were not processed: {last}")]
    NotProcessed {
        failed: usize,
        total: usize,
        #[source]
        last: Box<dyn std::error::Error + Send + Sync>,
    },
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Enqueues every item or returns an error. On error some items may have been enqueued
    /// already; the worker's idempotency makes a resend harmless.
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError>;
}

/// What takes items off a queue in this process (the worker, for [`inline`]): one result per
/// item, in order, an error meaning "try this one again".
#[async_trait]
pub trait Consumer: Send + Sync {
    type Error: std::error::Error + Send + Sync + 'static;
    async fn consume(&self, items: &[WorkItem]) -> Vec<Result<(), Self::Error>>;
}
