//! How a cycle hands its pages on: one page in flight while the next is read.

use crate::graph::GraphError;
use crate::observation::WorkItem;
use crate::queue::{Queue, QueueError};
use std::future::Future;
use std::pin::Pin;
use tokio::time::Instant;

use super::*;

/// An enqueue in progress.
type Enqueueing<'q> = Pin<Box<dyn Future<Output = Result<(), QueueError>> + Send + 'q>>;

/// Hands a cycle's pages to the queue one at a time, the next page being read while the last
/// is enqueued (and, in one process, processed): at most one page in flight.
pub(super) struct Handoff<'q> {
    queue: &'q dyn Queue,
    in_flight: Option<Enqueueing<'q>>,
    enqueued: usize,
    /// No page is read after this; the cycle then fails as [`PollError::OutOfTime`].
    deadline: Option<Instant>,
    /// What that error says the next cycle takes on.
    minutes: i64,
}

impl<'q> Handoff<'q> {
    pub(super) fn new(queue: &'q dyn Queue, deadline: Option<Instant>, minutes: i64) -> Self {
        Self {
            queue,
            in_flight: None,
            enqueued: 0,
            deadline,
            minutes,
        }
    }

    /// Reads the next page while the page in flight is enqueued; fails if either failed, or
    /// when the deadline has passed.
    pub(super) async fn next<T>(
        &mut self,
        read: impl Future<Output = Result<Option<T>, GraphError>>,
    ) -> Result<Option<T>, PollError> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.flush().await?;
            return Err(PollError::OutOfTime {
                minutes: self.minutes,
            });
        }
        let pending = self.in_flight.take();
        let (page, sent) = tokio::join!(read, async {
            match pending {
                Some(f) => f.await,
                None => Ok(()),
            }
        });
        sent?;
        Ok(page?)
    }

    /// Puts a page in flight, once the page before it went through.
    pub(super) async fn send(&mut self, items: Vec<WorkItem>) -> Result<(), PollError> {
        self.flush().await?;
        if !items.is_empty() {
            self.enqueued += items.len();
            self.in_flight = Some(self.queue.enqueue(items));
        }
        Ok(())
    }

    pub(super) async fn flush(&mut self) -> Result<(), PollError> {
        if let Some(f) = self.in_flight.take() {
            f.await?;
        }
        Ok(())
    }

    /// Hands on a work item that is about no user (it is not counted), after the pages.
    pub(super) async fn close_with(&mut self, item: WorkItem) -> Result<(), PollError> {
        self.flush().await?;
        self.queue.enqueue(vec![item]).await?;
        Ok(())
    }

    /// Waits for the last page; returns how many items were enqueued.
    pub(super) async fn finish(mut self) -> Result<usize, PollError> {
        self.flush().await?;
        Ok(self.enqueued)
    }
}
