//! An API write that changes several things at once (open with labels and closed; edit title,
//! labels and state together) is one transaction: every field is checked first, and a refusal
//! anywhere writes nothing, so a client's retry never makes a duplicate.

use super::labels::label_ids;
use super::{Error, Forge, IssueRules, Result};
use crate::domain::{Grant, Level};
use crate::model::Issue;

/// What a PATCH asks to change; None leaves a field as it is.
#[derive(Debug, Default)]
pub struct IssueChange<'a> {
    pub title: Option<&'a str>,
    pub body: Option<&'a str>,
    pub labels: Option<&'a [String]>,
    pub open: Option<bool>,
}

impl Forge {
    /// Opens an issue with `labels` (names) and, if `closed`, closes it: all or nothing.
    pub async fn open_issue_with<L: Level>(
        &self,
        who: &Grant<L>,
        title: &str,
        body: &str,
        labels: &[String],
        closed: bool,
    ) -> Result<Issue> {
        let ids = self.checked_label_ids(who, labels).await?;
        let mut tx = self.db.begin().await?;
        let issue = self.open_issue_in(&mut tx, who, title, body).await?;
        if !ids.is_empty() {
            let writer = who.for_triage("set labels")?;
            self.set_issue_labels_in(&mut tx, &writer, issue.number, &ids)
                .await?;
        }
        let issue = if closed {
            self.set_issue_state_in(&mut tx, who, issue.number, false)
                .await?
        } else {
            issue
        };
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(issue)
    }

    /// Applies `change` to issue `number`: all or nothing.
    pub async fn change_issue<L: Level>(
        &self,
        who: &Grant<L>,
        number: i64,
        change: IssueChange<'_>,
    ) -> Result<Issue> {
        let ids = match change.labels {
            Some(names) => Some(self.checked_label_ids(who, names).await?),
            None => None,
        };
        let mut tx = self.db.begin().await?;
        let mut issue = if change.title.is_some() || change.body.is_some() {
            self.edit_issue_in(&mut tx, who, number, change.title, change.body)
                .await?
        } else {
            let id = self.locked(&mut tx, who.repo(), number).await?;
            tx.issue_by_id(id).await?
        };
        if let Some(ids) = &ids {
            let writer = who.for_triage("set labels")?;
            self.set_issue_labels_in(&mut tx, &writer, number, ids)
                .await?;
        }
        if let Some(open) = change.open {
            issue = self.set_issue_state_in(&mut tx, who, number, open).await?;
        }
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(issue)
    }

    /// Label names to ids, refusing an unknown name or a caller who may not set labels.
    async fn checked_label_ids<L: Level>(
        &self,
        who: &Grant<L>,
        names: &[String],
    ) -> Result<Vec<i64>> {
        if names.iter().all(|n| n.trim().is_empty()) {
            return Ok(Vec::new());
        }
        if !who.can_triage() {
            return Err(Error::Forbidden("setting labels needs write access".into()));
        }
        label_ids(&self.db.labels(who.repo().id).await?, names)
    }
}
