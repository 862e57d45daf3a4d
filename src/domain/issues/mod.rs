//! The issue tracker: who may do what (on top of `authorize`), and the rules for text.
//!
//! Anyone signed in who can read a repository opens issues and comments; writers close and
//! reopen anyone's issues and manage labels; an issue's author closes, reopens and edits their
//! own. A read-only token never writes, even where its user could.

mod batch;
mod commits;
mod labels;
mod lifecycle;
mod list;
pub mod payload;
pub mod refs;

use super::{Error, Forge, Result};
use crate::model::{Actor, Repo, RepoAccess, RepoPath, TokenScope, UserId};

pub use batch::IssueChange;
pub use commits::PushedRefs;
pub use list::{IssueList, IssueQuery, IssueState};

/// A repository as seen by one visitor of its issues, with what they may do there.
#[derive(Debug, Clone)]
pub struct IssueAccess {
    pub repo: Repo,
    pub actor: Option<Actor>,
    pub level: RepoAccess,
}

impl IssueAccess {
    fn writes_allowed(&self) -> Option<&Actor> {
        self.actor
            .as_ref()
            .filter(|a| a.scope != Some(TokenScope::Read) && self.level >= RepoAccess::Read)
    }

    /// Open issues and comment.
    pub fn can_participate(&self) -> bool {
        self.writes_allowed().is_some()
    }

    /// Close or reopen anyone's issue, set labels, manage the label list.
    pub fn can_triage(&self) -> bool {
        self.writes_allowed().is_some() && self.level >= RepoAccess::Write
    }

    /// Close, reopen or edit an issue or comment by `author`.
    pub fn can_edit(&self, author: Option<UserId>) -> bool {
        self.can_triage()
            || self
                .writes_allowed()
                .is_some_and(|a| Some(a.user.id) == author)
    }

    /// The signed-in actor allowed to write, or why not.
    fn participant(&self) -> Result<&Actor> {
        match self.writes_allowed() {
            Some(a) => Ok(a),
            None if self.actor.is_none() => Err(Error::Forbidden("sign in to take part".into())),
            None => Err(Error::Forbidden(
                "a read-only token cannot change issues".into(),
            )),
        }
    }

    fn require(&self, allowed: bool, what: &str) -> Result<&Actor> {
        let actor = self.participant()?;
        if allowed {
            Ok(actor)
        } else {
            Err(Error::Forbidden(format!(
                "only the author or someone with write access can {what}"
            )))
        }
    }

    /// For what has no author to fall back on (labels): only writers may, and the refusal
    /// says so instead of naming an author there is none of.
    fn require_writer(&self, what: &str) -> Result<&Actor> {
        let actor = self.participant()?;
        if self.can_triage() {
            Ok(actor)
        } else {
            Err(Error::Forbidden(format!(
                "only someone with write access can {what}"
            )))
        }
    }
}

impl Forge {
    /// The repository for its issue pages: readable by `actor` (else `NotFound`, as for any
    /// repository page), with their access level for the checks above.
    pub async fn issue_access(
        &self,
        actor: Option<&Actor>,
        path: &RepoPath,
    ) -> Result<IssueAccess> {
        let (repo, level) = self.access(actor, path).await?;
        if level < RepoAccess::Read {
            return Err(Error::NotFound);
        }
        Ok(IssueAccess {
            repo,
            actor: actor.cloned(),
            level,
        })
    }
}

/// A title: one line, 1 to 255 characters once trimmed.
pub fn check_title(title: &str) -> Result<&str> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 255 || title.chars().any(char::is_control) {
        return Err(Error::InvalidInput(
            "the title must be one line of 1 to 255 characters".into(),
        ));
    }
    Ok(title)
}

/// A body or comment: at most 64 KiB; a comment may not be empty.
pub fn check_text(text: &str, may_be_empty: bool) -> Result<&str> {
    let text = text.trim_end();
    if text.len() > 65536 {
        return Err(Error::InvalidInput("the text is longer than 64 KiB".into()));
    }
    if !may_be_empty && text.trim().is_empty() {
        return Err(Error::InvalidInput("the comment is empty".into()));
    }
    if text.contains('\0') {
        return Err(Error::InvalidInput("the text contains a NUL byte".into()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SiteRole, User};

    fn who(level: RepoAccess, user: Option<(i64, Option<TokenScope>)>) -> IssueAccess {
        IssueAccess {
            repo: Repo {
                id: 1,
                owner_id: 10,
                owner: "lab".into(),
                name: "dns".into(),
                description: String::new(),
                is_private: false,
                default_branch: "main".into(),
                open_issues: None,
            },
            actor: user.map(|(id, scope)| Actor {
                user: User {
                    id,
                    name: format!("u{id}"),
                    email: String::new(),
                    role: SiteRole::User,
                },
                scope,
            }),
            level,
        }
    }

    #[test]
    fn readers_participate_writers_triage_authors_edit_their_own() {
        let anon = who(RepoAccess::Read, None);
        assert!(!anon.can_participate() && !anon.can_edit(None));
        let reader = who(RepoAccess::Read, Some((5, None)));
        assert!(reader.can_participate() && !reader.can_triage());
        assert!(reader.can_edit(Some(5)) && !reader.can_edit(Some(6)));
        let writer = who(RepoAccess::Write, Some((6, None)));
        assert!(writer.can_triage() && writer.can_edit(Some(5)));
    }

    #[test]
    fn a_read_token_never_writes() {
        let owner_read_token = who(RepoAccess::Read, Some((10, Some(TokenScope::Read))));
        assert!(!owner_read_token.can_participate());
        assert!(!owner_read_token.can_edit(Some(10)));
        assert!(matches!(
            owner_read_token.participant(),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn label_refusals_name_no_author() {
        let reader = who(RepoAccess::Read, Some((5, None)));
        match reader.require_writer("set labels") {
            Err(Error::Forbidden(why)) => {
                assert_eq!(why, "only someone with write access can set labels")
            }
            _ => panic!("a reader may not set labels"),
        }
        let writer = who(RepoAccess::Write, Some((6, None)));
        assert!(writer.require_writer("set labels").is_ok());
        let anon = who(RepoAccess::Read, None);
        assert!(
            matches!(anon.require_writer("set labels"), Err(Error::Forbidden(w)) if w == "sign in to take part")
        );
    }

    #[test]
    fn titles_and_texts_are_bounded() {
        assert_eq!(check_title("  DNS is down \n").unwrap(), "DNS is down");
        assert!(check_title("   ").is_err());
        assert!(check_title("a\nb").is_err());
        assert!(check_title(&"x".repeat(256)).is_err());
        assert!(check_text("", true).is_ok());
        assert!(check_text(" \n", false).is_err());
        assert!(check_text(&"x".repeat(65537), true).is_err());
    }
}
