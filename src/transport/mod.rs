//! How git reaches the forge: smart HTTP, SSH, and git's own hooks over the unix socket.

pub mod backup_hold;
pub mod conn_limit;
mod git_grant;
pub mod hook_client;
pub mod hook_rpc;
mod hook_wire;
pub mod http_git;
pub mod http_server;
pub mod metrics_http;
pub mod serv_client;
mod serv_git;
pub mod serv_rpc;
mod serv_wire;
pub mod ssh;
