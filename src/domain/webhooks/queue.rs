//! Queueing deliveries inside the caller's transaction: the push (post-receive), deploy status
//! changes and issues write their event and its deliveries together, so neither is lost without
//! the other. The git reading a push payload needs happens before, in `prepare_push_webhooks`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::super::{Admin, Error, Forge, Grant, Result, blocking};
use super::hooks::hook_from_row;
use super::new_guid;
use super::payload::{commit_json, push_payload, repository_json, user_json};
use crate::git::ChangedPaths;
use crate::git::read::CommitInfo;
use crate::model::{PushEvent, RefUpdate, Repo, Webhook, WebhookEventKind};
use crate::storage::{NewDelivery, Tx};

/// GitHub lists at most 20 commits in a push payload.
const COMMITS_PER_PAYLOAD: usize = 20;
/// How far `total_commits` counts before it stops.
const COUNT_LIMIT: usize = 10_000;
/// Time to find the changed files of a push's listed commits; past it the lists are cut.
const PAYLOAD_TIME: Duration = Duration::from_secs(3);

/// A push's payloads, built from the repository before the transaction that queues them.
pub struct PreparedPush {
    repo_id: i64,
    /// One payload per ref, with the name its branch filter is matched against.
    refs: Vec<(Option<String>, Value)>,
}

/// The name a hook's branch filter sees: the branch, else the tag (as Gitea matches it).
fn filter_name(update: &RefUpdate) -> Option<String> {
    update.branch().or(update.tag()).map(str::to_owned)
}

impl Forge {
    /// Reads what the push's payloads list (commits per ref, counted up to 10,000, the newest
    /// 20 listed) and builds them. Call after git applied the push and before the transaction
    /// that records it; it writes nothing.
    pub async fn prepare_push_webhooks(
        &self,
        repo: &Repo,
        event: &PushEvent,
    ) -> Result<PreparedPush> {
        // Only refs some push hook wants (most repositories have none) are read from git.
        // (A hook added while a push is between here and its transaction misses that push.)
        let hooks: Vec<Webhook> = self
            .db
            .webhooks(repo.id)
            .await?
            .into_iter()
            .map(hook_from_row)
            .collect();
        let updates: Vec<RefUpdate> = event
            .refs
            .iter()
            .filter(|u| {
                let name = filter_name(u);
                hooks
                    .iter()
                    .any(|h| h.wants(WebhookEventKind::Push, name.as_deref()))
            })
            .cloned()
            .collect();
        if updates.is_empty() {
            return Ok(PreparedPush {
                repo_id: repo.id,
                refs: Vec::new(),
            });
        }
        let dir = self.repo_dir(repo)?;
        let reads = Arc::clone(&self.reads);
        let wanted = updates.clone();
        let per_ref: Vec<(Vec<(CommitInfo, ChangedPaths)>, usize)> = blocking(move || {
            let reader = reads.open(&dir)?;
            // One deadline for the whole push: 20 commits of a tree bomb must not cost 20 walks.
            let deadline = Instant::now() + PAYLOAD_TIME;
            wanted
                .iter()
                .map(|u| {
                    let mut commits = reader.commits_in_push(u, COUNT_LIMIT)?;
                    let total = commits.len();
                    commits.drain(..total.saturating_sub(COMMITS_PER_PAYLOAD));
                    let listed = commits
                        .into_iter()
                        .map(|c| {
                            reader
                                .changed_paths(&c.id, deadline)
                                .map(|paths| (c, paths))
                        })
                        .collect::<std::result::Result<Vec<_>, crate::git::GitError>>()?;
                    Ok((listed, total))
                })
                .collect::<std::result::Result<Vec<_>, crate::git::GitError>>()
        })
        .await??;
        let email = match event.pusher_id {
            Some(id) => self.db.user_by_id(id).await?.map(|u| u.email),
            None => None,
        };
        let config = self.webhooks.config();
        let pusher = user_json(
            &config,
            event.pusher_id,
            &event.pusher,
            email.as_deref().unwrap_or(""),
        );
        let refs = updates
            .iter()
            .zip(per_ref)
            .map(|(update, (commits, total))| {
                let payload = push_payload(&config, repo, update, &commits, total, &pusher);
                (filter_name(update), payload)
            })
            .collect();
        Ok(PreparedPush {
            repo_id: repo.id,
            refs,
        })
    }

    /// Queues one delivery per active `push` hook and ref that its branch filter lets through,
    /// inside `tx`. Returns how many; call `webhook_wakeup()` after committing.
    pub async fn queue_push_webhooks(&self, tx: &mut Tx, prepared: &PreparedPush) -> Result<usize> {
        let hooks = active_hooks(tx, prepared.repo_id, WebhookEventKind::Push).await?;
        let mut queued = 0;
        for (name, payload) in &prepared.refs {
            for hook in &hooks {
                if hook.wants(WebhookEventKind::Push, name.as_deref()) {
                    insert(tx, hook.id, WebhookEventKind::Push, payload, None).await?;
                    queued += 1;
                }
            }
        }
        Ok(queued)
    }

    /// The active hooks of `repo` subscribed to `kind` whose branch filter lets `branch` through
    /// (None: not about a branch; every such hook), read in `tx`. For `deploy` status changes
    /// and `issues`/`issue_comment`: with none, the caller builds no payload.
    pub async fn webhook_targets(
        &self,
        tx: &mut Tx,
        repo: &Repo,
        kind: WebhookEventKind,
        branch: Option<&str>,
    ) -> Result<Vec<Webhook>> {
        let mut hooks = active_hooks(tx, repo.id, kind).await?;
        hooks.retain(|h| h.wants(kind, branch));
        Ok(hooks)
    }

    /// Queues `payload` for each of `targets` (from `webhook_targets`) inside `tx`; build its
    /// `repository` and `sender` with `webhook_repository` and `webhook_sender`. Call
    /// `webhook_wakeup()` after committing.
    pub async fn queue_webhook_event(
        &self,
        tx: &mut Tx,
        targets: &[Webhook],
        kind: WebhookEventKind,
        payload: Value,
    ) -> Result<usize> {
        for hook in targets {
            insert(tx, hook.id, kind, &payload, None).await?;
        }
        Ok(targets.len())
    }

    /// Gitea's "test delivery": a push payload for the default branch's head (before = after),
    /// sent to hook `hook_id` whatever its events and filter. NotFound for another repository's
    /// hook; InvalidInput if the branch has no commit.
    pub async fn test_webhook(
        &self,
        grant: &Grant<Admin>,
        hook_id: i64,
        sender: &Value,
    ) -> Result<i64> {
        let hook = self.webhook(grant, hook_id).await?;
        let repo = grant.repo();
        let dir = self.repo_dir(repo)?;
        let reads = Arc::clone(&self.reads);
        let branch = repo.default_branch.clone();
        let head = blocking(move || {
            let reader = reads.open(&dir)?;
            match reader.branch_head(&branch)? {
                Some(head) => reader
                    .changed_paths(&head.id, Instant::now() + PAYLOAD_TIME)
                    .map(|paths| Some((head, paths))),
                None => Ok(None),
            }
        })
        .await??
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "{} has no commits on {} to send",
                repo.full_name(),
                repo.default_branch
            ))
        })?;
        let update = RefUpdate {
            name: format!("refs/heads/{}", repo.default_branch),
            old: head.0.id.0.clone(),
            new: head.0.id.0.clone(),
        };
        let config = self.webhooks.config();
        let payload = push_payload(&config, repo, &update, &[head], 1, sender);
        let mut tx = self.db.begin().await?;
        let id = insert(&mut tx, hook.id, WebhookEventKind::Push, &payload, None).await?;
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(id)
    }

    /// The `sender` object for `actor`, for payloads built outside a push.
    pub fn webhook_sender(&self, user: &crate::model::User) -> Value {
        user_json(
            &self.webhooks.config(),
            Some(user.id),
            &user.name,
            &user.email,
        )
    }

    /// The `repository` object of payloads, with this forge's public links.
    pub(in crate::domain) fn webhook_repository(&self, repo: &Repo) -> Value {
        repository_json(&self.webhooks.config(), repo)
    }

    /// A user known by id (None: gone) and name, as payloads show one.
    pub fn webhook_user(&self, id: Option<i64>, name: &str) -> Value {
        user_json(&self.webhooks.config(), id, name, "")
    }

    /// A commit as payloads show one (without its changed files).
    pub(in crate::domain) fn webhook_commit(&self, repo: &Repo, commit: &CommitInfo) -> Value {
        commit_json(
            &self.webhooks.config(),
            repo,
            &(commit.clone(), ChangedPaths::default()),
        )
    }
}

async fn active_hooks(tx: &mut Tx, repo_id: i64, kind: WebhookEventKind) -> Result<Vec<Webhook>> {
    Ok(tx
        .active_webhooks(repo_id, kind.as_str())
        .await?
        .into_iter()
        .map(hook_from_row)
        .collect())
}

/// Serializes the payload once: these bytes are what every attempt and redelivery sends.
pub(super) async fn insert(
    tx: &mut Tx,
    hook_id: i64,
    kind: WebhookEventKind,
    payload: &Value,
    redelivery_of: Option<i64>,
) -> Result<i64> {
    let body = serde_json::to_string(payload).map_err(|e| Error::Internal(e.into()))?;
    let action = payload
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    Ok(tx
        .insert_delivery(NewDelivery {
            hook_id,
            event: kind.as_str(),
            action: &action,
            guid: &new_guid()?,
            payload: &body,
            redelivery_of,
        })
        .await?)
}
