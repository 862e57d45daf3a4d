//! Creating, listing, changing and deleting a repository's webhooks, with their validation.

use super::super::egress::Outbound;
use super::super::{Admin, Error, Forge, Grant, Result};
use crate::model::{ContentType, Webhook, WebhookEventKind};
use crate::storage::{WebhookFields, WebhookRow};

/// A hook's settings as an admin sends them. `secret: None` keeps the current one on update
/// (and means no secret on create); `Some("")` removes it.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    pub content_type: ContentType,
    pub secret: Option<String>,
    pub events: Vec<WebhookEventKind>,
    pub branch_filter: String,
    pub active: bool,
}

impl WebhookSettings {
    /// Settings as they are now, to apply a partial change (the API's PATCH) on top.
    pub fn of(hook: &Webhook) -> Self {
        Self {
            url: hook.url.clone(),
            content_type: hook.content_type,
            secret: None,
            events: hook.events.clone(),
            branch_filter: hook.branch_filter.clone(),
            active: hook.active,
        }
    }

    fn validate(&self) -> Result<()> {
        check_url(&self.url)?;
        if self.events.is_empty() {
            return Err(Error::InvalidInput(
                "choose at least one event (push, deploy, issues, issue_comment)".into(),
            ));
        }
        let filter = self.branch_filter.trim();
        if filter.len() > 200 || filter.chars().any(char::is_control) {
            return Err(Error::InvalidInput(
                "the branch filter must be printable and at most 200 bytes".into(),
            ));
        }
        glob::Pattern::new(filter).map_err(|e| {
            Error::InvalidInput(format!("the branch filter is not a valid glob: {e}"))
        })?;
        if let Some(secret) = &self.secret {
            if secret.len() > 1000 || secret.chars().any(char::is_control) {
                return Err(Error::InvalidInput(
                    "the secret must be printable and at most 1000 bytes".into(),
                ));
            }
            if let Some(b64) = secret.strip_prefix("whsec_") {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| {
                        Error::InvalidInput(
                            "a secret starting with whsec_ must be followed by base64".into(),
                        )
                    })?;
            }
        }
        Ok(())
    }
}

/// http or https, with a host, and no user or password in it (they would sit in logs and pages).
fn check_url(raw: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidInput(format!("the URL {why}")));
    if raw.len() > 2048 {
        return bad("is longer than 2048 bytes");
    }
    let Ok(url) = url::Url::parse(raw.trim()) else {
        return bad("is not a valid URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return bad("must start with http:// or https://");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not carry a user name or password; use the secret to sign deliveries");
    }
    Ok(())
}

pub(super) fn hook_from_row(row: WebhookRow) -> Webhook {
    Webhook {
        id: row.id,
        repo_id: row.repo_id,
        url: row.url,
        content_type: row.content_type.parse().unwrap_or(ContentType::Json),
        secret: row.secret,
        // Names the database holds were validated on the way in; skip any from a newer version.
        events: row.events.iter().filter_map(|e| e.parse().ok()).collect(),
        branch_filter: row.branch_filter,
        active: row.active,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

impl WebhookSettings {
    /// The settings as stored, `events` their names (see `event_names`).
    fn fields<'a>(&'a self, events: &'a [String]) -> WebhookFields<'a> {
        WebhookFields {
            url: self.url.trim(),
            content_type: self.content_type.as_str(),
            secret: self.secret.as_deref(),
            events,
            branch_filter: self.branch_filter.trim(),
            active: self.active,
        }
    }
}

fn event_names(events: &[WebhookEventKind]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for e in events {
        if !names.iter().any(|n| n == e.as_str()) {
            names.push(e.as_str().to_owned());
        }
    }
    names
}

impl Forge {
    pub async fn create_webhook(
        &self,
        grant: &Grant<Admin>,
        settings: WebhookSettings,
    ) -> Result<Webhook> {
        let repo = grant.repo();
        settings.validate()?;
        self.check_webhook_target(&settings.url).await?;
        let events = event_names(&settings.events);
        let row = self
            .db
            .insert_webhook(repo.id, settings.fields(&events))
            .await?;
        tracing::info!(repo = %repo.full_name(), hook = row.id, "webhook created");
        Ok(hook_from_row(row))
    }

    pub async fn webhooks(&self, grant: &Grant<Admin>) -> Result<Vec<Webhook>> {
        Ok(self
            .db
            .webhooks(grant.repo().id)
            .await?
            .into_iter()
            .map(hook_from_row)
            .collect())
    }

    /// The repository's hook `id`; NotFound for another repository's.
    pub async fn webhook(&self, grant: &Grant<Admin>, id: i64) -> Result<Webhook> {
        let row = self.db.webhook(grant.repo().id, id).await?;
        Ok(hook_from_row(row.ok_or(Error::NotFound)?))
    }

    pub async fn update_webhook(
        &self,
        grant: &Grant<Admin>,
        id: i64,
        settings: WebhookSettings,
    ) -> Result<Webhook> {
        settings.validate()?;
        self.check_webhook_target(&settings.url).await?;
        let events = event_names(&settings.events);
        let row = self
            .db
            .update_webhook(grant.repo().id, id, settings.fields(&events))
            .await?;
        Ok(hook_from_row(row.ok_or(Error::NotFound)?))
    }

    /// Refuses a URL whose host `allowed_hosts` refuses now (resolved as the worker will), so an
    /// admin learns it when saving, with the setting that would allow it, not an hour of
    /// retries later. The one check every outbound connection passes (`domain::egress`).
    async fn check_webhook_target(&self, raw: &str) -> Result<()> {
        let url = url::Url::parse(raw.trim())
            .map_err(|_| Error::InvalidInput("the URL is not a valid URL".into()))?;
        let Some(host) = url.host_str() else {
            return Ok(());
        };
        let port = url.port_or_known_default().unwrap_or(80);
        self.egress
            .check_target(Outbound::Webhook, host, port)
            .await
            .map_err(Error::InvalidInput)
    }

    pub async fn delete_webhook(&self, grant: &Grant<Admin>, id: i64) -> Result<()> {
        let repo = grant.repo();
        if self.db.delete_webhook(repo.id, id).await? {
            tracing::info!(repo = %repo.full_name(), hook = id, "webhook deleted");
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> WebhookSettings {
        WebhookSettings {
            url: url.into(),
            content_type: ContentType::Json,
            secret: Some("s3cret".into()),
            events: vec![WebhookEventKind::Push],
            branch_filter: "main".into(),
            active: true,
        }
    }

    #[test]
    fn urls_must_be_http_without_credentials() {
        assert!(settings("https://ci.lab/hook").validate().is_ok());
        assert!(settings("http://10.0.0.5:9000/hooks/x").validate().is_ok());
        for bad in [
            "ftp://ci.lab/hook",
            "file:///etc/passwd",
            "https://user:pw@ci.lab/hook",
            "https://user@ci.lab/hook",
            "not a url",
            "http://",
        ] {
            assert!(settings(bad).validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn events_filters_and_secrets_are_checked() {
        let mut s = settings("https://ci.lab/hook");
        s.events.clear();
        assert!(s.validate().is_err());
        let mut s = settings("https://ci.lab/hook");
        s.branch_filter = "[unclosed".into();
        assert!(s.validate().is_err());
        let mut s = settings("https://ci.lab/hook");
        s.secret = Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        assert!(s.validate().is_ok());
        s.secret = Some("whsec_not base64!".into());
        assert!(s.validate().is_err());
    }
}
