//! The one integration test binary: real PostgreSQL, real `git`, real `labforge` binary.

mod browser;
mod cli;
mod helpers;
mod highlight;
mod http_git;
mod ssh;
mod web;
mod web_assets;
mod web_auth;
