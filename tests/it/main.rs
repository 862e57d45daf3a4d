//! The one integration test binary: real PostgreSQL, real `git`, real `labforge` binary.

mod api;
mod browser;
mod cli;
mod deploy_crash;
mod deploy_scripts;
mod helpers;
mod highlight;
mod history;
mod history_fixture;
mod hooks;
mod http_git;
mod issue_commits;
mod issue_permissions;
mod issues;
mod issues_api;
mod ssh;
mod web;
mod web_assets;
mod web_auth;
mod webhooks;
