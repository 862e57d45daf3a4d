//! Organizations and teams: owners shared by several people. An organization owns repositories
//! like a user does (one name space); its members may be owners of it, and its teams give their
//! members a level on all of its repositories or on a chosen list.

use super::RepoAccess;
use super::closed_set::closed_set;

closed_set! {
    /// Who may see an organization and, through it, its public repositories.
    pub enum OrgVisibility("organization visibility") {
        /// Anyone, signed in or not.
        Public = "public",
        /// Signed-in users only (Gitea's "limited").
        Limited = "limited",
        /// Members only: its repositories are invisible to others whatever their own setting.
        Private = "private",
    }
}

/// An organization's profile.
#[derive(Debug, Clone)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub visibility: OrgVisibility,
}

/// A member of an organization, as its pages and the command line list them.
#[derive(Debug, Clone)]
pub struct OrgMember {
    pub name: String,
    pub is_owner: bool,
}

/// A team: a level on the organization's repositories (all, or those in `repos`).
#[derive(Debug, Clone)]
pub struct Team {
    pub id: i64,
    pub org: String,
    pub name: String,
    pub access: RepoAccess,
    pub all_repos: bool,
    pub can_create: bool,
    /// Member names, by name.
    pub members: Vec<String>,
    /// Repository names (without the owner), when not `all_repos`.
    pub repos: Vec<String>,
}

/// Where a user stands in the organization that owns a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrgRole {
    Member,
    Owner,
}

/// What the access rule needs to know about a repository's organization for one actor: its
/// visibility, the actor's membership and the highest level of the actor's teams that cover
/// the repository. None of it for a repository a user owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgFacts {
    pub visibility: OrgVisibility,
    pub role: Option<OrgRole>,
    pub team: Option<RepoAccess>,
}
