//! How git reaches the forge: smart HTTP now; SSH and the hook socket join here.

pub mod http_git;
mod pack_stream;
pub mod ssh;
