//! How git reaches the forge: smart HTTP now; SSH and the hook socket join here.

pub mod http_git;

pub mod ssh;
