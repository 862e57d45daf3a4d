//! Background work taken from the PostgreSQL outbox: deploy runs (and webhook deliveries).

mod deploy_log;
mod deploy_process;
pub mod deploys;
pub mod mirrors;
mod process_identity;
pub mod webhooks;
