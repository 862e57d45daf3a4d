//! Plain types shared by every room. No I/O, no imports from the rest of the crate.

pub mod access;
pub mod allow_list;
pub mod backup;
pub mod client;
pub mod closed_set;
pub mod edit_path;
pub mod issue;
pub mod mirror;
pub mod names;
pub mod org;
pub mod proxies;
pub mod push;
pub mod redact;
pub mod runs;
pub mod status;
pub mod text;
pub mod webhook;

pub use access::{RepoAccess, SiteRole, TokenScope};
pub use allow_list::HostAllowList;
pub use backup::BackupStatus;
pub use client::{AddrPrefix, Client, Transport};
pub use edit_path::{BranchName, CommitIdentity, EditNameError, EditPath};
pub use issue::{Comment, Issue, IssueId, IssueStatus, Label, TimelineEvent, TimelineKind};
pub use mirror::{MirrorScope, MirrorTransport, MirrorUrl, PullMirror, PushMirror};
pub use names::{
    CheckName, DeployName, Email, NameError, RepoName, RepoPath, TeamName, TeamPath, TreePath,
    Username,
};
pub use org::{Org, OrgFacts, OrgMember, OrgRole, OrgVisibility, Team};
pub use proxies::TrustedProxies;
pub use push::{HookName, PushEvent, RefUpdate, ZERO_ID, is_object_id};
pub use redact::Secrets;
pub use runs::{CheckOutcome, DeployReason, DeployStatus, LogStream};
pub use status::{CommitState, StatusContext};
pub use text::{terminal_line, terminal_text, xml_text};
pub use webhook::{ContentType, DeliveryState, Webhook, WebhookEventKind};

pub type UserId = i64;
pub type RepoId = i64;

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub role: SiteRole,
}

/// Who is making a request, once authenticated. `scope` is set when a token was used.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    pub scope: Option<TokenScope>,
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: RepoId,
    pub owner_id: UserId,
    pub owner: String,
    pub name: String,
    pub description: String,
    pub is_private: bool,
    pub default_branch: String,
    /// Archived: read-only (no pushes, no issue writes) until an admin unarchives it.
    pub is_archived: bool,
    /// Open issues, for the repository tabs; counted when the repository is loaded for a
    /// visitor (`Forge::access`), None where nobody needed it.
    pub open_issues: Option<i64>,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// An SSH key as shown to its owner.
#[derive(Debug, Clone)]
pub struct SshKey {
    pub id: i64,
    pub title: String,
    pub algorithm: String,
    pub fingerprint: String,
    pub created_at: time::OffsetDateTime,
    pub last_used_at: Option<time::OffsetDateTime>,
}

/// An access token as listed to its owner (the secret itself is never shown again).
#[derive(Debug, Clone)]
pub struct TokenSummary {
    pub id: i64,
    pub title: String,
    pub scope: TokenScope,
    pub created_at: time::OffsetDateTime,
    pub last_used_at: Option<time::OffsetDateTime>,
    pub expires_at: Option<time::OffsetDateTime>,
}
