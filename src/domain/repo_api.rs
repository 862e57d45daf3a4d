//! Repositories as Gitea's API shows and changes them: one repository's whole view (owner,
//! the caller's level, archive flag, topics, mirror, emptiness and size), the search behind
//! `/repos/search` and the user listings, archiving, topics, and a user's level for
//! `collaborators/{u}/permission`.
//!
//! Archiving takes an admin grant, as every other setting does:
//!
//! ```compile_fail
//! # use labforge::domain::{Forge, Grant, Write};
//! async fn archive(forge: &Forge, grant: &Grant<Write>) {
//!     let _ = forge.set_archived(grant, true).await;
//! }
//! ```
//! The twin, differing only in the grant, compiles:
//! ```
//! # use labforge::domain::{Forge, Grant, Admin};
//! async fn archive(forge: &Forge, grant: &Grant<Admin>) {
//!     let _ = forge.set_archived(grant, true).await;
//! }
//! ```

use time::OffsetDateTime;

use super::authorize::{AccessFacts, effective_access, repo_from_row};
use super::{Admin, Error, Forge, Grant, Level, Principal, Result, UserProfile, blocking};
use crate::git::repo_facts::{RepoFacts, repo_facts};
use crate::model::{Actor, Repo, RepoAccess, RepoName, RepoPath, SiteRole, User, Username};
use crate::storage::{CollaboratorUserRow, RepoApiRow, RepoSearch};

/// Gitea's limits on topics (`modules/repository/topic.go`).
pub const MAX_TOPICS: usize = 25;
pub const MAX_TOPIC_LEN: usize = 35;
/// Longest search keyword read; Gitea has none, a page needs no more.
const MAX_KEYWORD: usize = 100;

/// A user as the API's User object shows them.
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub created_at: OffsetDateTime,
    pub is_admin: bool,
    pub disabled: bool,
}

impl UserView {
    /// The same user as a profile, for the API's one User converter. The view carries no
    /// sign-in time, so `last_login_at` is None (Gitea's "never", Unix time 0).
    pub fn profile(&self) -> UserProfile {
        UserProfile {
            user: User {
                id: self.id,
                name: self.name.clone(),
                email: self.email.clone(),
                role: if self.is_admin {
                    SiteRole::Admin
                } else {
                    SiteRole::User
                },
            },
            disabled: self.disabled,
            created_at: self.created_at,
            last_login_at: None,
        }
    }
}

impl From<CollaboratorUserRow> for UserView {
    fn from(r: CollaboratorUserRow) -> Self {
        UserView {
            id: r.id,
            name: r.name,
            email: r.email,
            created_at: r.created_at,
            is_admin: r.is_admin,
            disabled: r.disabled,
        }
    }
}

/// One repository as the API's Repository object shows it to one caller.
#[derive(Debug, Clone)]
pub struct RepoView {
    pub repo: Repo,
    /// The caller's level (Gitea's `permissions`).
    pub level: RepoAccess,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub archived_at: Option<OffsetDateTime>,
    pub topics: Vec<String>,
    pub owner: UserView,
    pub mirror: bool,
    pub open_issues: i64,
    pub facts: RepoFacts,
}

/// `/repos/search`'s parameters, checked.
#[derive(Debug, Clone, Default)]
pub struct RepoQuery {
    pub keyword: String,
    pub topic: bool,
    pub include_description: bool,
    pub owner_id: Option<i64>,
    pub exclusive: bool,
    /// Only private (true) or only public (false) repositories: Gitea's `is_private`.
    pub private: Option<bool>,
    /// Gitea's `private`: false leaves private repositories out (the default includes them).
    pub exclude_private: bool,
    pub archived: Option<bool>,
    pub sort: RepoSort,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

crate::model::closed_set::closed_set! {
    /// How a repository search is ordered (Gitea's `sort`; the ones labforge has data for).
    #[derive(Default)]
    pub enum RepoSort("repository sort") {
        #[default]
        Alpha = "alpha",
        Created = "created",
        Updated = "updated",
        Id = "id",
    }
}

impl Forge {
    /// The whole view of the repository `grant` names, for its caller.
    pub async fn repo_view<L: Level>(&self, grant: &Grant<L>) -> Result<RepoView> {
        let viewer = grant.actor().map_or(-1, |a| a.user.id);
        let row = self
            .db
            .repo_api_row(grant.repo().id, viewer)
            .await?
            .ok_or(Error::NotFound)?;
        let mut view = self.view_of(row, grant.level()).await?;
        view.repo.open_issues = grant.repo().open_issues;
        Ok(view)
    }

    async fn view_of(&self, row: RepoApiRow, level: RepoAccess) -> Result<RepoView> {
        let repo = repo_from_row(row.repo);
        let dir = self.repo_dir(&repo)?;
        // A folder that cannot be read (moved by hand) shows as empty rather than failing a list.
        let facts = blocking(move || repo_facts(&dir))
            .await?
            .unwrap_or(RepoFacts {
                empty: true,
                size_kib: 0,
            });
        Ok(RepoView {
            owner: UserView {
                id: repo.owner_id,
                name: repo.owner.clone(),
                email: row.owner_email,
                created_at: row.owner_created_at,
                is_admin: row.owner_is_admin,
                disabled: row.owner_disabled,
            },
            repo,
            level,
            created_at: row.created_at,
            updated_at: row.updated_at,
            archived_at: row.archived_at,
            topics: row.topics,
            mirror: row.mirror,
            open_issues: row.open_issues,
            facts,
        })
    }

    /// One page of the repositories `actor` may read that match `q`, and how many match.
    pub async fn search_repos(
        &self,
        actor: Option<&Actor>,
        q: &RepoQuery,
    ) -> Result<(Vec<RepoView>, u64)> {
        let keyword: String = q.keyword.trim().chars().take(MAX_KEYWORD).collect();
        let search = RepoSearch {
            viewer_id: actor.map_or(-1, |a| a.user.id),
            viewer_is_admin: actor.is_some_and(|a| a.user.role == SiteRole::Admin),
            keyword: &keyword,
            topic: q.topic,
            include_description: q.include_description,
            owner_id: q.owner_id,
            collaborations: !q.exclusive,
            private: q.private,
            include_private: !q.exclude_private,
            archived: q.archived,
            sort: q.sort.as_str(),
            descending: q.descending,
            offset: q.offset,
            limit: q.limit,
        };
        let (rows, total) = self.db.search_repos(&search).await?;
        let mut out = Vec::with_capacity(rows.len());
        let viewer = Principal::from_actor(actor);
        let viewer_id = actor.map_or(-1, |a| a.user.id);
        for row in rows {
            let repo = repo_from_row(row.repo.clone());
            // The query knows collaborators, not organizations: the one rule decides, with the
            // owning organization's facts, and a repository it hides is left out of the page.
            let org = self.db.org_facts(repo.owner_id, repo.id, viewer_id).await?;
            let facts = AccessFacts {
                collaborator: row.collaborator,
                org,
            };
            let level = effective_access(&viewer, &repo, &facts);
            if level == RepoAccess::None {
                continue;
            }
            out.push(self.view_of(row, level).await?);
        }
        Ok((out, u64::try_from(total).unwrap_or(0)))
    }

    /// The path of repository `id`, for `/repositories/{id}` to authorize by (a missing id and
    /// a hidden repository then answer alike).
    pub async fn repo_path_of(&self, id: i64) -> Result<RepoPath> {
        let (owner, name) = self.db.repo_path_by_id(id).await?.ok_or(Error::NotFound)?;
        Ok(RepoPath {
            owner: Username::parse(&owner)?,
            name: RepoName::parse(&name)?,
        })
    }

    /// A user's fields for the API's User object.
    pub async fn user_view(&self, name: &str) -> Result<UserView> {
        Ok(self.db.api_user(name).await?.ok_or(Error::NotFound)?.into())
    }

    /// Creates `actor`'s own repository (the API's `POST /user/repos`) and answers the admin
    /// grant its owner has on it. A read-only token creates nothing.
    pub async fn create_own_repo(
        &self,
        actor: &Actor,
        name: &RepoName,
        is_private: bool,
        description: &str,
        default_branch: Option<&str>,
    ) -> Result<Grant<Admin>> {
        if actor.scope.is_some_and(|s| s.cap() < RepoAccess::Write) {
            return Err(Error::Forbidden(
                "a read-only token cannot create repositories".into(),
            ));
        }
        let owner = Username::parse(&actor.user.name)?;
        let repo = self
            .create_repo(&owner, name, is_private, description)
            .await?;
        if let Some(branch) = default_branch.filter(|b| !b.trim().is_empty()) {
            self.update_repo_row(&repo, &repo.description, is_private, branch)
                .await?;
        }
        let path = RepoPath {
            owner,
            name: name.clone(),
        };
        self.authorize::<Admin>(Some(actor), &path).await
    }

    /// Archives (read-only: no pushes, no issue writes) or unarchives the repository.
    pub async fn set_archived(&self, grant: &Grant<Admin>, archived: bool) -> Result<()> {
        self.db.set_archived(grant.repo().id, archived).await?;
        tracing::info!(repo = %grant.repo().full_name(), archived, "archive flag set");
        Ok(())
    }

    /// Replaces the repository's topics, checked as Gitea checks them; returns them stored.
    pub async fn set_topics(&self, grant: &Grant<Admin>, topics: &[String]) -> Result<Vec<String>> {
        let topics = check_topics(topics)?;
        self.db.set_topics(grant.repo().id, &topics).await?;
        Ok(topics)
    }

    /// One page of the collaborators, each with their level, and how many there are.
    pub async fn collaborator_page<L: Level>(
        &self,
        grant: &Grant<L>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<(UserView, RepoAccess)>, u64)> {
        let (rows, total) = self
            .db
            .collaborator_page(grant.repo().id, offset, limit)
            .await?;
        Ok((
            rows.into_iter()
                .map(|r| {
                    let access = r.access;
                    (UserView::from(r), access)
                })
                .collect(),
            u64::try_from(total).unwrap_or(0),
        ))
    }

    /// The level a collaborator row gives user `user_id`, if they are a collaborator.
    pub async fn collaborator_level<L: Level>(
        &self,
        grant: &Grant<L>,
        user_id: i64,
    ) -> Result<Option<RepoAccess>> {
        Ok(self
            .db
            .collaborator_access(grant.repo().id, user_id)
            .await?)
    }

    /// The level user `name` has on the repository (as the one access rule decides it for
    /// them with a full-scope credential), with their fields. Only a repository admin, a site
    /// admin or the user themself may ask, as Gitea's `GetRepoPermissions` allows.
    pub async fn user_level<L: Level>(
        &self,
        grant: &Grant<L>,
        name: &str,
    ) -> Result<(UserView, RepoAccess)> {
        let user = self.user_view(name).await?;
        let asker_is_them = grant.actor().is_some_and(|a| a.user.id == user.id);
        if grant.level() < RepoAccess::Admin && !grant.is_site_admin() && !asker_is_them {
            return Err(Error::Forbidden(
                "only repository admins may ask for another user's permission".into(),
            ));
        }
        let collaborator = self
            .db
            .collaborator_access(grant.repo().id, user.id)
            .await?;
        let them = Actor {
            user: User {
                id: user.id,
                name: user.name.clone(),
                email: user.email.clone(),
                role: if user.is_admin {
                    SiteRole::Admin
                } else {
                    SiteRole::User
                },
            },
            scope: None,
        };
        let level = if user.disabled {
            RepoAccess::None
        } else {
            let repo = grant.repo();
            let org = self.db.org_facts(repo.owner_id, repo.id, user.id).await?;
            let facts = AccessFacts { collaborator, org };
            effective_access(&Principal::User(them), repo, &facts)
        };
        Ok((user, level))
    }
}

/// Gitea's `SanitizeAndValidateTopics`: trimmed, lower-cased, duplicates and blanks dropped,
/// each `^[a-z0-9][-.a-z0-9]*$` and at most 35 characters, at most 25 of them.
pub fn check_topics(topics: &[String]) -> Result<Vec<String>> {
    if topics.len() > 4 * MAX_TOPICS {
        return Err(Error::InvalidInput(format!(
            "at most {MAX_TOPICS} topics per repository"
        )));
    }
    let mut valid: Vec<String> = Vec::new();
    let mut invalid: Vec<String> = Vec::new();
    for topic in topics {
        let t = topic.trim().to_lowercase();
        if t.is_empty() || valid.contains(&t) {
            continue;
        }
        let ok = t.len() <= MAX_TOPIC_LEN
            && t.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if ok {
            valid.push(t);
        } else {
            invalid.push(topic.chars().take(MAX_TOPIC_LEN + 5).collect());
        }
    }
    if valid.len() > MAX_TOPICS {
        return Err(Error::InvalidInput(format!(
            "Exceeding maximum number of topics per repo: at most {MAX_TOPICS}"
        )));
    }
    if !invalid.is_empty() {
        return Err(Error::InvalidInput(format!(
            "Invalid topic names: {} (a topic starts with a letter or number, holds only \
             lower-case letters, numbers, '-' and '.', and has at most {MAX_TOPIC_LEN} characters)",
            invalid.join(", ")
        )));
    }
    valid.sort();
    Ok(valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(list: &[&str]) -> Result<Vec<String>> {
        check_topics(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn topics_are_lowered_deduplicated_and_sorted() {
        assert_eq!(
            topics(&[" DNS ", "homelab", "dns", "", "k8s.io"]).unwrap(),
            vec!["dns", "homelab", "k8s.io"]
        );
    }

    #[test]
    fn topics_are_refused_as_gitea_refuses_them() {
        for bad in ["-dns", "a b", "ümlaut", "a_b", &"x".repeat(36)] {
            assert!(topics(&[bad]).is_err(), "{bad:?}");
        }
        assert!(topics(&[&"x".repeat(35)]).is_ok());
        let many: Vec<String> = (0..26).map(|i| format!("t{i}")).collect();
        assert!(check_topics(&many).is_err());
        assert_eq!(check_topics(&many[..25]).unwrap().len(), 25);
        // A list far past the limit is refused before anything is read from it.
        let flood: Vec<String> = vec!["a".into(); 101];
        assert!(check_topics(&flood).is_err());
    }
}
