//! Pull mirrors: a repository that follows one elsewhere. A sync fetches the remote's branches
//! and tags as the remote has them (rewrites and deletions included, each logged), then records
//! what changed as a push by `mirror` and runs the same post-push work a push does: events,
//! deploys, webhooks, push mirrors, `fixes #N`. It holds a push's permit while it changes refs,
//! so a backup's instant never falls inside a sync.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::domain::{Admin, AtLeast, Error, Forge, Grant, Result, Write, blocking};
use crate::git::bundle::RecordedRefs;
use crate::git::mirror::Target;
use crate::model::{
    Actor, MirrorTransport, MirrorUrl, PullMirror, RefUpdate, Repo, RepoName, SiteRole, TokenScope,
    Username, ZERO_ID,
};
use crate::storage::{ClaimedPullRow, NewPush};

/// Gitea's default and minimum sync intervals.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(8 * 3600);
pub const MIN_INTERVAL: Duration = Duration::from_secs(600);
/// The pusher a sync's push event names.
const MIRROR_PUSHER: &str = "mirror";

/// A repository to create from a URL.
pub struct Import<'a> {
    pub owner: &'a Username,
    pub name: &'a RepoName,
    pub url: &'a str,
    /// HTTPS credentials; empty for none.
    pub username: &'a str,
    pub token: &'a str,
    pub private: bool,
    pub description: &'a str,
    /// Keep it in sync this often; None imports once.
    pub mirror_interval: Option<Duration>,
}

fn credentials<'a>(username: &'a str, token: &'a str) -> Option<(&'a str, &'a str)> {
    (!token.is_empty()).then_some((username, token))
}

/// What changed between two readings of the branches and tags, as git's hooks would say it.
fn ref_updates(before: &RecordedRefs, after: &RecordedRefs) -> Vec<RefUpdate> {
    let ours = |r: &RecordedRefs| -> BTreeMap<String, String> {
        r.refs
            .iter()
            .filter(|x| x.name.starts_with("refs/heads/") || x.name.starts_with("refs/tags/"))
            .map(|x| (x.name.clone(), x.id.clone()))
            .collect()
    };
    let (old, new) = (ours(before), ours(after));
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (o, n) = (old.get(name), new.get(name));
            (o != n).then(|| RefUpdate {
                name: name.clone(),
                old: o.cloned().unwrap_or_else(|| ZERO_ID.to_owned()),
                new: n.cloned().unwrap_or_else(|| ZERO_ID.to_owned()),
            })
        })
        .collect()
}

impl Forge {
    /// `actor` creates OWNER/NAME from `import.url`: as its owner, or as a site admin. The
    /// first fetch happens now (an import that fails leaves no repository behind); with an
    /// interval the repository then follows the remote.
    pub async fn import_repo(&self, actor: &Actor, import: Import<'_>) -> Result<Repo> {
        if actor.scope == Some(TokenScope::Read) {
            return Err(Error::Forbidden(
                "a read-only token cannot create repositories".into(),
            ));
        }
        let own = actor.user.name == import.owner.as_str() || actor.user.role == SiteRole::Admin;
        if !own && !self.may_create_under(actor, import.owner).await? {
            return Err(Error::Forbidden(format!(
                "only {} (or a site admin) can create repositories there",
                import.owner
            )));
        }
        let url = MirrorUrl::parse(import.url).map_err(Error::InvalidInput)?;
        if url.transport() == MirrorTransport::Ssh {
            return Err(Error::InvalidInput(
                "imports and pull mirrors fetch over https://, http:// or git://".into(),
            ));
        }
        if let Some(i) = import.mirror_interval
            && i < MIN_INTERVAL
        {
            return Err(Error::InvalidInput(
                "the mirror interval is at least 10m".into(),
            ));
        }
        self.check_mirror_target(&url).await?;
        let repo = self
            .create_repo(
                import.owner,
                import.name,
                import.private,
                import.description,
            )
            .await?;
        self.after_create_in_org(actor, &repo).await?;
        let dir = self.repo_dir(&repo)?;
        let creds = credentials(import.username, import.token);
        let fetched = match self.mirror_address(&url).await {
            Ok(ip) => {
                self.runner
                    .fetch_from_mirror(&dir, Target { url: &url, ip }, creds, self.sync_limits())
                    .await
            }
            Err(refused) => Err(refused),
        };
        if let Err(e) = fetched {
            if let Err(d) = self.discard_repo(&repo).await {
                tracing::warn!(error = %d, "removing a failed import");
            }
            return Err(Error::InvalidInput(format!(
                "importing {}: {e}",
                url.as_str()
            )));
        }
        let recorded = {
            let dir = dir.clone();
            blocking(move || dir.record_refs()).await??
        };
        let has = |b: &str| {
            recorded
                .refs
                .iter()
                .any(|r| r.name == format!("refs/heads/{b}"))
        };
        if !has(&repo.default_branch)
            && let Some(first) = ["main", "master"]
                .into_iter()
                .map(str::to_owned)
                .find(|b| has(b))
                .or_else(|| {
                    recorded
                        .refs
                        .iter()
                        .find_map(|r| r.name.strip_prefix("refs/heads/").map(str::to_owned))
                })
        {
            self.update_repo_row(&repo, &repo.description, repo.is_private, &first)
                .await?;
        }
        if let Some(interval) = import.mirror_interval {
            let secs = i32::try_from(interval.as_secs()).unwrap_or(i32::MAX);
            self.db
                .insert_pull_mirror(repo.id, url.as_str(), import.username, import.token, secs)
                .await?;
        }
        if let Err(e) = self.after_push(&repo).await {
            tracing::warn!(error = %e, "after-import bookkeeping failed");
        }
        tracing::info!(repo = %repo.full_name(), url = url.as_str(), mirror = import.mirror_interval.is_some(), "repository imported");
        Ok(self.repo_by_id(repo.id).await?.unwrap_or(repo))
    }

    /// The remote this repository follows, if it is a pull mirror (its settings: admins).
    pub async fn pull_mirror(&self, grant: &Grant<Admin>) -> Result<Option<PullMirror>> {
        Ok(self
            .db
            .pull_mirror(grant.repo().id)
            .await?
            .map(|m| PullMirror {
                remote_url: m.remote_url,
                username: m.username,
                interval: Duration::from_secs(u64::try_from(m.interval_secs).unwrap_or(0)),
                next_sync_at: m.next_sync_at,
                syncing: m.syncing,
                last_attempt_at: m.last_attempt_at,
                last_success_at: m.last_success_at,
                last_error: m.last_error,
            }))
    }

    /// "Sync now", for writers (Gitea's `mirror-sync`): the worker takes it within a second.
    pub async fn sync_pull_mirror_now<L: AtLeast<Write>>(&self, grant: &Grant<L>) -> Result<()> {
        let repo = grant.repo();
        if self.db.want_pull_mirror_sync(repo.id).await? {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "{} is not a mirror",
                repo.full_name()
            )))
        }
    }

    /// At start: syncs cut off by a stop are due again.
    pub async fn resume_pull_mirrors(&self) -> Result<u64> {
        Ok(self.db.resume_interrupted_pull_mirrors().await?)
    }

    /// The worker's step: syncs the pull mirror due first. False when none is due.
    pub async fn sync_next_pull_mirror(&self) -> Result<bool> {
        let Some(m) = self.db.claim_pull_mirror().await? else {
            return Ok(false);
        };
        let result = self.pull_sync(&m).await;
        self.metrics.mirror_synced("pull", result.is_ok());
        let error = match &result {
            Ok(moved) => {
                tracing::info!(repo = m.repo_id, moved, "pull mirror synced");
                None
            }
            Err(e) => {
                tracing::warn!(repo = m.repo_id, error = %e, "pull mirror sync failed");
                Some(e.to_string())
            }
        };
        self.db
            .pull_mirror_done(m.repo_id, error.as_deref())
            .await?;
        Ok(true)
    }

    async fn pull_sync(&self, m: &ClaimedPullRow) -> Result<usize> {
        let repo = self.repo_by_id(m.repo_id).await?.ok_or(Error::NotFound)?;
        let nonce = crate::domain::random_hex(16)?;
        if !self.hooks.updates.enter(&nonce).await {
            return Err(Error::Conflict("a backup held ref updates too long".into()));
        }
        let result = self.pull_sync_held(&repo, m, &nonce).await;
        self.hooks.updates.leave(&nonce);
        result
    }

    async fn pull_sync_held(&self, repo: &Repo, m: &ClaimedPullRow, nonce: &str) -> Result<usize> {
        let url = MirrorUrl::parse(&m.remote_url).map_err(Error::InvalidInput)?;
        let dir = self.repo_dir(repo)?;
        let read = || {
            let dir = dir.clone();
            blocking(move || dir.record_refs())
        };
        let before = read().await??;
        let ip = self
            .mirror_address(&url)
            .await
            .map_err(Error::InvalidInput)?;
        self.runner
            .fetch_from_mirror(
                &dir,
                Target { url: &url, ip },
                credentials(&m.username, &m.token),
                self.sync_limits(),
            )
            .await
            .map_err(Error::InvalidInput)?;
        let after = read().await??;
        let updates = ref_updates(&before, &after);
        if updates.is_empty() {
            return Ok(0);
        }
        for u in &updates {
            tracing::info!(repo = %repo.full_name(), r#ref = %u.name, old = %u.old, new = %u.new, "pull mirror moved a ref");
        }
        let pending = self
            .db
            .insert_pending_push(NewPush {
                repo_id: repo.id,
                pusher_id: None,
                pusher_name: MIRROR_PUSHER,
                nonce,
                push_options: &[],
                refs: &updates,
                // Checks gate what people push; a sync copies what the remote already has.
                checks_skipped: false,
            })
            .await?;
        self.record_received(repo, pending, &updates).await?;
        Ok(updates.len())
    }

    /// Pushes to a pull mirror are refused: the remote is where changes go.
    pub(super) async fn mirror_refusal(&self, repo: &Repo) -> Result<Option<String>> {
        Ok(self.db.pull_mirror(repo.id).await?.map(|m| {
            format!(
                "{} mirrors {}; push there and it syncs here",
                repo.full_name(),
                m.remote_url
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::bundle::RefEntry;

    fn refs(list: &[(&str, &str)]) -> RecordedRefs {
        RecordedRefs {
            head: None,
            refs: list
                .iter()
                .map(|(n, i)| RefEntry {
                    name: (*n).into(),
                    id: i.repeat(40),
                })
                .collect(),
        }
    }

    #[test]
    fn updates_cover_new_moved_and_deleted_refs_only_of_branches_and_tags() {
        let before = refs(&[
            ("refs/heads/main", "a"),
            ("refs/tags/v1", "b"),
            ("refs/pull/1", "c"),
        ]);
        let after = refs(&[
            ("refs/heads/main", "d"),
            ("refs/heads/topic", "e"),
            ("refs/pull/1", "f"),
        ]);
        let u = ref_updates(&before, &after);
        let got: Vec<(&str, char, char)> = u
            .iter()
            .map(|u| {
                (
                    u.name.as_str(),
                    u.old.chars().next().unwrap(),
                    u.new.chars().next().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("refs/heads/main", 'a', 'd'),
                ("refs/heads/topic", '0', 'e'),
                ("refs/tags/v1", 'b', '0')
            ]
        );
    }
}
