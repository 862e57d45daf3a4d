//! The one integration test binary: real PostgreSQL, real `git`, real `labforge` binary.

mod api;
mod api_writes;
mod browser;
mod check_options;
mod checks;
mod cli;
mod database_outage;
mod deploy_crash;
mod deploy_order;
mod deploy_scripts;
mod first_run;
mod helpers;
mod highlight;
mod hooks;
mod http_git;
mod issue_commits;
mod issue_permissions;
mod issues;
mod issues_api;
mod operator;
mod ssh;
mod status_pages;
mod web;
mod web_assets;
mod web_auth;
mod webhooks;
