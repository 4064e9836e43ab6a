//! The I/O half of each tenant-level feature, named like its pure half in the core (whose rules it
//! applies) and writing the store document that feature owns:
//!
//! - [`snooze`]: the snoozes document; the worker's hold-back; the notices snoozes owe the channel.
//! - [`coalesce`]: the folding list (users holding folded detections, and when each is due);
//!   the worker records it, the poll cycle hints the users who are due.
//! - [`summary`]: the standing summary, asked for by the poll cycle and built by the worker.
//! - [`activity`]: who is at risk by level and alerts per day, moved by the worker's record phase
//!   and set from Graph's list by the summary (what `riskrelay status` shows).
//! - [`workloads`]: the risky service principals and agents read in the poll cycle, and the
//!   `workload-risk` document (how far each kind was read, and whether Graph refuses it).
//!
//! Each is called from one named step: a worker phase, or the poll cycle's [`after_cycle`]
//! tail (`crate::source::poll`).

pub mod activity;
pub mod coalesce;
pub mod snooze;
pub mod summary;
pub mod workloads;
