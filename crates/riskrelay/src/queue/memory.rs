//! An in-process queue on a tokio channel.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{Queue, QueueError};
use crate::observation::WorkItem;

/// The sending half. Unbounded on purpose: the webhook must never block on a slow worker (Graph
/// drops endpoints that answer slowly), and the poller's output per cycle is bounded by the
/// tenant's changes.
#[derive(Clone, Debug)]
pub struct MemoryQueue {
    tx: mpsc::UnboundedSender<WorkItem>,
}

impl MemoryQueue {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<WorkItem>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn enqueue(&self, items: Vec<WorkItem>) -> Result<(), QueueError> {
        for item in items {
            self.tx.send(item).map_err(|_| QueueError::Closed)?;
        }
        Ok(())
    }
}
