//! labforge: a lightweight self-hosted git forge. See ARCHITECTURE.md for the rooms.

pub mod admin;
pub mod api;
pub mod app;
pub mod backup;
pub mod child_body;
pub mod config;
pub mod data_lock;
pub mod domain;
#[cfg(test)]
mod fuzz;
pub mod git;
pub mod job;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod postgres;
pub mod reload;
pub mod routes;
pub mod shipped_hooks;
#[cfg(test)]
mod source_scan;
pub mod startup;
pub mod storage;
pub mod systemd;
pub mod transport;
pub mod web;
pub mod worker;
