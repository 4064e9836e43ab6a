//! Where work comes from. Each source turns what it learns into [`crate::observation::WorkItem`]s
//! on a queue; none of them decides anything about alerts.
//!
//! - [`poll`]: the poll cycle and its checkpoint, the primary source (Graph cannot push
//!   risky-user changes).
//! - [`webhook`]: Graph change notifications as wake-up hints (verify and enqueue only).
//! - [`subscriptions`]: the Graph subscriptions behind the webhook and their lifecycle.
//!
//! A stream source (an event hub, a SIEM feed) would be one more module here.

pub mod poll;
pub mod subscriptions;
pub mod webhook;
