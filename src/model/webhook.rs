//! Webhooks as repository admins define them, and the events they can subscribe to.

use std::fmt;
use std::str::FromStr;

/// What happened; the `X-GitHub-Event` / `X-Gitea-Event` header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookEventKind {
    Push,
    /// A deploy run changed status.
    Deploy,
    Issues,
    IssueComment,
    /// A commit status was reported (a check, a deploy, outside CI).
    Status,
}

impl WebhookEventKind {
    pub const ALL: [WebhookEventKind; 5] = [
        WebhookEventKind::Push,
        WebhookEventKind::Deploy,
        WebhookEventKind::Issues,
        WebhookEventKind::IssueComment,
        WebhookEventKind::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventKind::Push => "push",
            WebhookEventKind::Deploy => "deploy",
            WebhookEventKind::Issues => "issues",
            WebhookEventKind::IssueComment => "issue_comment",
            WebhookEventKind::Status => "status",
        }
    }
}

impl FromStr for WebhookEventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown event '{s}'; events are push, deploy, issues, issue_comment and status"
                )
            })
    }
}

impl fmt::Display for WebhookEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the payload is sent: the JSON as the body, or Gitea's form with a `payload` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Json,
    Form,
}

impl ContentType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Json => "json",
            ContentType::Form => "form",
        }
    }
}

impl FromStr for ContentType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(ContentType::Json),
            "form" => Ok(ContentType::Form),
            other => Err(format!("content_type must be json or form, not '{other}'")),
        }
    }
}

/// A webhook of one repository. The secret stays in here: it is shown to nobody.
#[derive(Clone)]
pub struct Webhook {
    pub id: i64,
    pub repo_id: super::RepoId,
    pub url: String,
    pub content_type: ContentType,
    pub secret: String,
    pub events: Vec<WebhookEventKind>,
    /// A glob on branch names for push (and deploy) events; empty or `*` means every branch.
    pub branch_filter: String,
    pub active: bool,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("branch_filter", &self.branch_filter)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    pub fn has_secret(&self) -> bool {
        !self.secret.is_empty()
    }

    /// Whether this hook wants `kind` for `branch` (None: not about a branch, e.g. a tag push
    /// or an issue, which the branch filter does not restrict).
    pub fn wants(&self, kind: WebhookEventKind, branch: Option<&str>) -> bool {
        if !self.active || !self.events.contains(&kind) {
            return false;
        }
        match (branch, self.branch_filter.trim()) {
            (None, _) | (_, "") | (_, "*") => true,
            (Some(b), filter) => glob::Pattern::new(filter).is_ok_and(|p| p.matches(b)),
        }
    }
}

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Queued,
    Delivering,
    Delivered,
    Retrying,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Delivering => "delivering",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            DeliveryState::Queued,
            DeliveryState::Delivering,
            DeliveryState::Delivered,
            DeliveryState::Retrying,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(filter: &str, events: &[WebhookEventKind]) -> Webhook {
        Webhook {
            id: 1,
            repo_id: 1,
            url: "http://x".into(),
            content_type: ContentType::Json,
            secret: String::new(),
            events: events.to_vec(),
            branch_filter: filter.into(),
            active: true,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn branch_filter_is_a_glob() {
        let h = hook("release/*", &[WebhookEventKind::Push]);
        assert!(h.wants(WebhookEventKind::Push, Some("release/1.0")));
        assert!(!h.wants(WebhookEventKind::Push, Some("main")));
        assert!(h.wants(WebhookEventKind::Push, None));
        assert!(!h.wants(WebhookEventKind::Deploy, Some("release/1.0")));
        let all = hook("", &[WebhookEventKind::Push]);
        assert!(all.wants(WebhookEventKind::Push, Some("anything/at/all")));
        let mut off = hook("*", &[WebhookEventKind::Push]);
        off.active = false;
        assert!(!off.wants(WebhookEventKind::Push, Some("main")));
    }

    #[test]
    fn names_round_trip() {
        for k in WebhookEventKind::ALL {
            assert_eq!(k.as_str().parse::<WebhookEventKind>(), Ok(k));
        }
        assert!("pull_request".parse::<WebhookEventKind>().is_err());
        assert!("xml".parse::<ContentType>().is_err());
    }
}
