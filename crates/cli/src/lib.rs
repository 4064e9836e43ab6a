//! The `riskrelay` command: the demo and the commands, as a library so that the tests drive
//! them as the binary does.
//!
//! - [`commands`]: one module per command, with the arguments only it takes; `main.rs` parses
//!   the command line and calls them.
//! - [`demo`]: `riskrelay demo`, the whole flow against simulated tenants, chapter by chapter.

pub mod commands;
pub mod demo;
