//! The I/O half of each tenant-level feature, named like its pure half in the core (whose rules it
//! applies) and writing the store document that feature owns:
//!
//! - [`snooze`]: the snoozes document; the worker's hold-back; the notices snoozes owe the channel.
//! - [`coalesce`]: the folding list (users holding folded detections, and when each is due);
//!   the worker records it, the poll cycle hints the users who are due.
//! - [`summary`]: the standing summary, asked for by the poll cycle and built by the worker.
//!
//! Each is called from one named step: a worker phase, or the poll cycle's [`after_cycle`]
//! tail (`crate::source::poll`).

pub mod coalesce;
pub mod snooze;
pub mod summary;
