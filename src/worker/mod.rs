//! Background work from the PostgreSQL outbox, started by `serve` and stopped with it.

pub mod webhooks;
