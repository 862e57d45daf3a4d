//! The issue tracker: who may do what (on top of `authorize`), and the rules for text.
//!
//! Anyone signed in who can read a repository opens issues and comments; writers close and
//! reopen anyone's issues and manage labels; an issue's author closes, reopens and edits their
//! own. A read-only token never writes, even where its user could.
//!
//! Every function takes the `Grant` `authorize` made: reading and taking part need a grant of
//! any level (the finer rules above are `IssueRules`, read from the grant's actor and level);
//! managing labels and setting an issue's labels need a write grant, which a visitor's read
//! grant becomes through `IssueRules::for_triage` or not at all.

mod batch;
mod commits;
mod labels;
mod lifecycle;
mod list;
pub mod payload;
pub mod refs;

use super::{Error, Forge, Grant, Level, Result, Write};
use crate::model::{Actor, RepoAccess, TokenScope, UserId};

pub use batch::IssueChange;
pub use commits::PushedRefs;
pub use list::{IssueList, IssueQuery, IssueState};

/// The tracker's finer rules, read from a grant of any level: `authorize` proved who acts and
/// at which level; these say what that allows with issues. Pages use them to show the forms a
/// visitor may use; the domain functions check them again before writing.
pub trait IssueRules {
    /// Open issues and comment.
    fn can_participate(&self) -> bool;
    /// Close or reopen anyone's issue, set labels, manage the label list.
    fn can_triage(&self) -> bool;
    /// Close, reopen or edit an issue or comment by `author`.
    fn can_edit(&self, author: Option<UserId>) -> bool;
    /// The grant at write level for triage (`what` names the action for the refusal): the
    /// labels' functions take one, so their callers must first pass this check.
    fn for_triage(&self, what: &str) -> Result<Grant<Write>>;
}

impl<L: Level> IssueRules for Grant<L> {
    fn can_participate(&self) -> bool {
        Rules::of(self).can_participate()
    }

    fn can_triage(&self) -> bool {
        Rules::of(self).can_triage()
    }

    fn can_edit(&self, author: Option<UserId>) -> bool {
        Rules::of(self).can_edit(author)
    }

    fn for_triage(&self, what: &str) -> Result<Grant<Write>> {
        Rules::of(self).require_writer(what)?;
        self.at_least::<Write>()
            .ok_or_else(|| Error::Forbidden(format!("only someone with write access can {what}")))
    }
}

/// The rules over what a grant proved (who acts, at which level): pure, so each is unit-tested.
#[derive(Clone, Copy)]
struct Rules<'g> {
    actor: Option<&'g Actor>,
    level: RepoAccess,
    /// The repository is archived: read-only for everyone until an admin unarchives it, as
    /// Gitea keeps an archived repository's issues.
    archived: bool,
}

impl<'g> Rules<'g> {
    fn of<L: Level>(grant: &'g Grant<L>) -> Self {
        Rules {
            actor: grant.actor(),
            level: grant.level(),
            archived: grant.repo().is_archived,
        }
    }

    /// The signed-in actor whose writes are allowed: not a visitor, not a read-only token.
    fn writes_allowed(self) -> Option<&'g Actor> {
        self.actor.filter(|a| {
            !self.archived && a.scope != Some(TokenScope::Read) && self.level >= RepoAccess::Read
        })
    }

    fn can_participate(self) -> bool {
        self.writes_allowed().is_some()
    }

    fn can_triage(self) -> bool {
        self.writes_allowed().is_some() && self.level >= RepoAccess::Write
    }

    fn can_edit(self, author: Option<UserId>) -> bool {
        self.can_triage()
            || self
                .writes_allowed()
                .is_some_and(|a| Some(a.user.id) == author)
    }

    /// The signed-in actor allowed to write, or why not.
    fn participant(self) -> Result<&'g Actor> {
        if self.archived {
            return Err(Error::Archived(ARCHIVED_ISSUES.into()));
        }
        match self.writes_allowed() {
            Some(a) => Ok(a),
            None if self.actor.is_none() => Err(Error::Forbidden("sign in to take part".into())),
            None => Err(Error::Forbidden(
                "a read-only token cannot change issues".into(),
            )),
        }
    }

    fn require(self, allowed: bool, what: &str) -> Result<&'g Actor> {
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
    fn require_writer(self, what: &str) -> Result<&'g Actor> {
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

/// Gitea's refusal of issue writes to an archived repository (its `mustNotBeArchived`).
pub(crate) const ARCHIVED_ISSUES: &str =
    "this repository is archived: its issues and labels are read-only until an admin unarchives it";

/// Label writes do not go through `Rules` (they take a write grant): the same refusal.
pub(super) fn refuse_archived(repo: &crate::model::Repo) -> Result<()> {
    if repo.is_archived {
        Err(Error::Archived(ARCHIVED_ISSUES.into()))
    } else {
        Ok(())
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

    fn actor(id: i64, scope: Option<TokenScope>) -> Actor {
        Actor {
            user: User {
                id,
                name: format!("u{id}"),
                email: String::new(),
                role: SiteRole::User,
            },
            scope,
        }
    }

    fn who(level: RepoAccess, actor: Option<&Actor>) -> Rules<'_> {
        Rules {
            actor,
            level,
            archived: false,
        }
    }

    #[test]
    fn nobody_writes_to_an_archived_repository() {
        let owner = actor(1, Some(TokenScope::Write));
        let rules = Rules {
            actor: Some(&owner),
            level: RepoAccess::Admin,
            archived: true,
        };
        assert!(!rules.can_participate() && !rules.can_triage());
        assert!(matches!(rules.participant(), Err(Error::Archived(_))));
    }

    #[test]
    fn readers_participate_writers_triage_authors_edit_their_own() {
        let anon = who(RepoAccess::Read, None);
        assert!(!anon.can_participate() && !anon.can_edit(None));
        let five = actor(5, None);
        let reader = who(RepoAccess::Read, Some(&five));
        assert!(reader.can_participate() && !reader.can_triage());
        assert!(reader.can_edit(Some(5)) && !reader.can_edit(Some(6)));
        let six = actor(6, None);
        let writer = who(RepoAccess::Write, Some(&six));
        assert!(writer.can_triage() && writer.can_edit(Some(5)));
    }

    #[test]
    fn a_read_token_never_writes() {
        let token = actor(10, Some(TokenScope::Read));
        let owner_read_token = who(RepoAccess::Read, Some(&token));
        assert!(!owner_read_token.can_participate());
        assert!(!owner_read_token.can_edit(Some(10)));
        assert!(matches!(
            owner_read_token.participant(),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn label_refusals_name_no_author() {
        let five = actor(5, None);
        let reader = who(RepoAccess::Read, Some(&five));
        match reader.require_writer("set labels") {
            Err(Error::Forbidden(why)) => {
                assert_eq!(why, "only someone with write access can set labels")
            }
            _ => panic!("a reader may not set labels"),
        }
        let six = actor(6, None);
        let writer = who(RepoAccess::Write, Some(&six));
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
