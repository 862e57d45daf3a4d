//! Labels: a repository's list (writers manage it) and the labels on an issue.

use super::{Error, Forge, Result, refuse_archived};
use crate::domain::{AtLeast, Grant, Level, Write};
use crate::model::{Label, TimelineKind};
use crate::storage::{NewEvent, Tx};

/// `#rrggbb` or `rrggbb` (as Gitea accepts), stored lower case with the `#`.
pub fn parse_color(s: &str) -> Result<String> {
    let hex = s.trim().trim_start_matches('#');
    if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("#{}", hex.to_ascii_lowercase()))
    } else {
        Err(Error::InvalidInput(format!(
            "'{s}' is not a colour like #d73a4a"
        )))
    }
}

/// 1 to 50 characters, one line, no comma (lists of labels in URLs are comma-separated).
pub fn check_label_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 50
        || name.chars().any(|c| c.is_control() || c == ',')
    {
        return Err(Error::InvalidInput(
            "a label name is 1 to 50 characters, without commas".into(),
        ));
    }
    Ok(name)
}

fn check_description(d: &str) -> Result<&str> {
    let d = d.trim();
    if d.chars().count() > 200 || d.chars().any(char::is_control) {
        return Err(Error::InvalidInput(
            "a label description is one line of at most 200 characters".into(),
        ));
    }
    Ok(d)
}

impl Forge {
    /// The repository's labels: anyone who reads it sees them.
    pub async fn labels<L: Level>(&self, grant: &Grant<L>) -> Result<Vec<Label>> {
        Ok(self.db.labels(grant.repo().id).await?)
    }

    /// Adds a label to the repository's list: a writer's act, so it takes a write grant (a
    /// visitor's read grant becomes one through `IssueRules::for_triage`, which says why not).
    ///
    /// ```compile_fail
    /// # use labforge::domain::{Forge, Grant, Read};
    /// async fn add(forge: &Forge, grant: &Grant<Read>) {
    ///     let _ = forge.create_label(grant, "bug", "#d73a4a", "").await;
    /// }
    /// ```
    /// Its twin, with a write grant, compiles:
    /// ```
    /// # use labforge::domain::{Forge, Grant, Write};
    /// async fn add(forge: &Forge, grant: &Grant<Write>) {
    ///     let _ = forge.create_label(grant, "bug", "#d73a4a", "").await;
    /// }
    /// ```
    pub async fn create_label<L: AtLeast<Write>>(
        &self,
        who: &Grant<L>,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<Label> {
        refuse_archived(who.repo())?;
        let label = self
            .db
            .insert_label(
                who.repo().id,
                check_label_name(name)?,
                &parse_color(color)?,
                check_description(description)?,
            )
            .await?;
        Ok(label)
    }

    pub async fn update_label<L: AtLeast<Write>>(
        &self,
        who: &Grant<L>,
        id: i64,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<()> {
        refuse_archived(who.repo())?;
        let found = self
            .db
            .update_label(
                who.repo().id,
                id,
                check_label_name(name)?,
                &parse_color(color)?,
                check_description(description)?,
            )
            .await?;
        if found { Ok(()) } else { Err(Error::NotFound) }
    }

    pub async fn delete_label<L: AtLeast<Write>>(&self, who: &Grant<L>, id: i64) -> Result<()> {
        refuse_archived(who.repo())?;
        if self.db.delete_label(who.repo().id, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Makes issue `number` carry exactly the labels named (case-insensitively); an unknown
    /// name is refused. Each label added or removed is a timeline event. Triage, so it takes
    /// a write grant; a reader's grant does not compile:
    ///
    /// ```compile_fail
    /// # use labforge::domain::{Forge, Grant, Read};
    /// async fn label(forge: &Forge, grant: &Grant<Read>) {
    ///     let _ = forge.set_issue_labels(grant, 1, &["bug".to_owned()]).await;
    /// }
    /// ```
    /// Its twin, which differs only in the grant, compiles:
    /// ```
    /// # use labforge::domain::{Forge, Grant, Write};
    /// async fn label(forge: &Forge, grant: &Grant<Write>) {
    ///     let _ = forge.set_issue_labels(grant, 1, &["bug".to_owned()]).await;
    /// }
    /// ```
    pub async fn set_issue_labels<L: AtLeast<Write>>(
        &self,
        who: &Grant<L>,
        number: i64,
        names: &[String],
    ) -> Result<Vec<Label>> {
        refuse_archived(who.repo())?;
        let all = self.db.labels(who.repo().id).await?;
        let ids = label_ids(&all, names)?;
        let mut tx = self.db.begin().await?;
        self.set_issue_labels_in(&mut tx, who, number, &ids).await?;
        tx.commit().await?;
        let mut now: Vec<Label> = all.into_iter().filter(|l| ids.contains(&l.id)).collect();
        now.dedup_by_key(|l| l.id);
        Ok(now)
    }

    /// Sets the labels `ids` (checked by `label_ids`) inside the caller's transaction; the
    /// events name the user acting (none for the system or the operator).
    pub(super) async fn set_issue_labels_in<L: AtLeast<Write>>(
        &self,
        tx: &mut Tx,
        who: &Grant<L>,
        number: i64,
        ids: &[i64],
    ) -> Result<()> {
        let id = self.locked(tx, who.repo(), number).await?;
        let (added, removed) = tx.set_issue_labels(who.repo().id, id, ids).await?;
        for (kind, label) in added
            .iter()
            .map(|l| (TimelineKind::Labeled, l))
            .chain(removed.iter().map(|l| (TimelineKind::Unlabeled, l)))
        {
            tx.insert_event(NewEvent {
                issue_id: id,
                actor_id: who.actor().map(|a| a.user.id),
                kind,
                label_name: Some(&label.name),
                label_color: Some(&label.color),
                ..NewEvent::default()
            })
            .await?;
        }
        Ok(())
    }
}

/// The ids of the labels `names` (case-insensitive; blanks ignored); an unknown name is refused
/// with its name, before anything is written.
pub(super) fn label_ids(all: &[Label], names: &[String]) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let label = all
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::InvalidInput(format!("there is no label '{name}'")))?;
        ids.push(label.id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_with_or_without_hash() {
        assert_eq!(parse_color("#D73A4A").unwrap(), "#d73a4a");
        assert_eq!(parse_color("00aabb").unwrap(), "#00aabb");
        for bad in ["", "#fff", "red", "#12345g", "#1234567", "javascript:x"] {
            assert!(parse_color(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        assert_eq!(check_label_name(" bug ").unwrap(), "bug");
        assert!(check_label_name("a,b").is_err());
        assert!(check_label_name("").is_err());
        assert!(check_label_name(&"x".repeat(51)).is_err());
    }
}
