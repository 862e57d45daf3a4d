//! Use cases. Every transport calls into here; `authorize` is the one access decision.

mod accounts;
mod authorize;
mod browse;
pub mod check_runs;
mod credentials;
pub mod dashboard;
pub mod deploy_keys;
pub mod deploys;
pub mod edits;
pub mod egress;
mod git_service;
pub mod issues;
pub mod mirrors;
pub mod org_api;
pub mod orgs;
mod parts;
mod password_check;
mod profiles;
pub mod push;
mod renames;
pub mod repo_api;
mod repo_settings;
mod repos;
mod sessions;
mod site_admin;
mod ssh_key;
mod sshd_keys;
pub mod statuses;
mod throttle;
mod user_admin;
pub mod webhooks;

use std::sync::Arc;

use crate::git::{GitRunner, RepoStore, Upkeep};
use crate::model::NameError;
use crate::storage::{Db, StorageError};

pub use authorize::{
    AccessFacts, Admin, AtLeast, Grant, Level, OrgGrant, Principal, Read, SystemKey, Write,
    effective_access, org_access,
};
pub use browse::MAX_DOWNLOADS;
pub use credentials::{NewTokenSecret, fill_random, hex, is_token_shaped, random_hex};
pub use deploy_keys::{DeployKey, MAX_DEPLOY_KEYS_PER_REPO};
pub use git_service::{ServiceGrant, Streams};
pub use issues::{IssueChange, IssueList, IssueQuery, IssueRules, IssueState, PushedRefs};
pub use password_check::PasswordCheck;
pub use profiles::{ApiToken, KeyText, UserProfile};
pub use repo_settings::Collaborator;
pub use sessions::{NewSession, Session};
pub use site_admin::{
    ADMIN_MAX_PAGE, ADMIN_PAGE_ROWS, AdminRepo, OPERATOR, Paged, SiteAdmin, page_bounds,
};
pub use ssh_key::PublicKey;
pub use sshd_keys::SshdKey;
pub use throttle::AuthThrottle;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidInput(String),
    #[error("not found")]
    NotFound,
    /// The caller can see the thing but may not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// Credentials were given and are wrong (or expired).
    #[error("authentication failed")]
    BadCredentials,
    /// The credentials are right but the operator disabled the account.
    #[error("{0}")]
    Disabled(String),
    /// PostgreSQL does not answer (restarting, or down): worth a retry, not a bug.
    #[error("the database is not answering; try again in a moment")]
    Unavailable,
    #[error("{0}")]
    Conflict(String),
    /// The repository is archived: it takes no pushes and no issue writes (Gitea's 423).
    #[error("{0}")]
    Archived(String),
    /// Too many failed password checks from this caller; try again after the duration.
    #[error("too many failed attempts; try again in {} s", .0.as_secs())]
    Throttled(std::time::Duration),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<NameError> for Error {
    fn from(e: NameError) -> Self {
        Error::InvalidInput(e.to_string())
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(c) => Error::Conflict(conflict_message(&c)),
            StorageError::Db(e) if database_unreachable(&e) => {
                tracing::warn!(error = %e, "the database is not answering");
                Error::Unavailable
            }
            StorageError::Db(e) => Error::Internal(e.into()),
        }
    }
}

/// Errors that mean "no connection to PostgreSQL" rather than a failed query.
fn database_unreachable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    )
}

/// A time as JSON shows it (API objects and webhook payloads): RFC 3339, UTC.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("a time within years 0..=9999 formats as RFC 3339")
}

fn conflict_message(constraint: &str) -> String {
    match constraint {
        "users_name_key" => "a user with that name already exists".into(),
        "users_email_key" => "a user with that e-mail address already exists".into(),
        "ssh_keys_fingerprint_key" => "that SSH key is already in use".into(),
        "ssh_keys_not_deploy_keys" => "that SSH key is a repository's deploy key; a user's \
                                       key must be a key of its own"
            .into(),
        "deploy_keys_not_user_keys" => "that SSH key is a user's key; a deploy key must be a \
                                        key of its own (make one with ssh-keygen)"
            .into(),
        "deploy_keys_repo_fingerprint_key" => {
            "that key is already a deploy key of this repository".into()
        }
        "deploy_keys_repo_title_key" => {
            "this repository already has a deploy key with that title".into()
        }
        "access_tokens_user_title_key" => "you already have a token with that title".into(),
        "teams_org_name_key" => "a team with that name already exists".into(),
        "repositories_owner_name_key" => "a repository with that name already exists".into(),
        "labels_repo_name_key" => "a label with that name already exists".into(),
        other => format!("already exists ({other})"),
    }
}

impl From<crate::git::GitError> for Error {
    fn from(e: crate::git::GitError) -> Self {
        Error::Internal(e.into())
    }
}

/// The services every transport shares.
pub struct Forge {
    db: Db,
    repos: RepoStore,
    runner: GitRunner,
    upkeep: Arc<Upkeep>,
    push_to_create: bool,
    /// Whether every user (not only site admins) may create organizations.
    users_may_create_orgs: bool,
    /// Bounds concurrent upload-packs and archives (web and `upload-archive`) over every
    /// transport (pack generation and compression are the CPU-heavy part); more requests queue
    /// for a slot rather than fail.
    upload_slots: Arc<tokio::sync::Semaphore>,
    /// Bounds streamed downloads of large raw files: each is a git process.
    download_slots: Arc<tokio::sync::Semaphore>,
    passwords: PasswordCheck,
    /// Cached gix handles and tree-page answers for the web pages.
    reads: Arc<crate::git::read::ReadCache>,
    /// Failed password checks, for the one throttle every transport shares.
    logins: AuthThrottle,
    /// The unix socket and secret git hooks use, and the tickets of running receive-packs.
    hooks: Arc<push::HookGate>,
    deploys: Arc<deploys::DeployState>,
    /// `[[check]]`s, the sandbox they run in, and the folder pushed trees are written to.
    checks: Arc<push::CheckState>,
    webhooks: webhooks::WebhookService,
    /// The one allow-list check every connection made for a user passes (webhooks, mirrors).
    egress: Arc<egress::Egress>,
    /// `[mirror]`: the mirror worker's parallelism and each sync's bounds.
    mirror: crate::config::MirrorConfig,
    /// The scheduled backups' last outcome, for `/healthz?verbose`.
    backup_status: Arc<std::sync::Mutex<crate::model::BackupStatus>>,
    /// Contexts a commit keeps statuses for from outside, at most (`max_status_contexts`).
    max_status_contexts: i64,
    /// The Prometheus series every room records into (`[metrics]`).
    metrics: Arc<crate::metrics::Metrics>,
}

/// What `app` builds a `Forge` from: the only place its parts are named outside the domain.
pub struct ForgeParts {
    pub db: Db,
    pub repos: RepoStore,
    pub runner: GitRunner,
    pub upkeep: Arc<Upkeep>,
    pub push_to_create: bool,
    /// Whether every user (not only site admins) may create organizations.
    pub users_may_create_orgs: bool,
    /// Bounds concurrent upload-packs and archives (web and `upload-archive`) over every
    /// transport (pack generation and compression are the CPU-heavy part); more requests queue
    /// for a slot rather than fail.
    pub upload_slots: Arc<tokio::sync::Semaphore>,
    /// Bounds streamed downloads of large raw files: each is a git process.
    pub download_slots: Arc<tokio::sync::Semaphore>,
    pub passwords: PasswordCheck,
    /// Cached gix handles and tree-page answers for the web pages.
    pub reads: Arc<crate::git::read::ReadCache>,
    /// Failed password checks, for the one throttle every transport shares.
    pub logins: AuthThrottle,
    /// The unix socket and secret git hooks use, and the tickets of running receive-packs.
    pub hooks: Arc<push::HookGate>,
    pub deploys: Arc<deploys::DeployState>,
    /// `[[check]]`s, the sandbox they run in, and the folder pushed trees are written to.
    pub checks: Arc<push::CheckState>,
    pub webhooks: webhooks::WebhookService,
    /// The one allow-list check every connection made for a user passes (webhooks, mirrors).
    pub egress: Arc<egress::Egress>,
    /// `[mirror]`: the mirror worker's parallelism and each sync's bounds.
    pub mirror: crate::config::MirrorConfig,
    /// The scheduled backups' last outcome, for `/healthz?verbose`.
    pub backup_status: Arc<std::sync::Mutex<crate::model::BackupStatus>>,
    /// Contexts a commit keeps statuses for from outside, at most (`max_status_contexts`).
    pub max_status_contexts: i64,
    /// The Prometheus series every room records into (`[metrics]`).
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Forge {
    pub fn new(p: ForgeParts) -> Self {
        Forge {
            db: p.db,
            repos: p.repos,
            runner: p.runner,
            upkeep: p.upkeep,
            push_to_create: p.push_to_create,
            users_may_create_orgs: p.users_may_create_orgs,
            upload_slots: p.upload_slots,
            download_slots: p.download_slots,
            passwords: p.passwords,
            reads: p.reads,
            logins: p.logins,
            hooks: p.hooks,
            deploys: p.deploys,
            checks: p.checks,
            webhooks: p.webhooks,
            egress: p.egress,
            mirror: p.mirror,
            backup_status: p.backup_status,
            max_status_contexts: p.max_status_contexts,
            metrics: p.metrics,
        }
    }
}

/// Runs CPU-heavy or blocking work (argon2, gix) off the async threads, keeping the span.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("blocking task failed: {e}")))
}
