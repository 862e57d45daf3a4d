//! Protected branches: what pre-receive refuses and how it says why. Anyone who reads the
//! repository may list the rules; changing them takes an admin grant, so a reader cannot:
//!
//! ```compile_fail
//! # use labforge::domain::{Forge, Grant, Read};
//! async fn protect(forge: &Forge, grant: &Grant<Read>) {
//!     let _ = forge.protect_branch(grant, "main", false).await;
//! }
//! ```
//! The twin, differing only in the grant, compiles:
//! ```
//! # use labforge::domain::{Forge, Grant, Admin};
//! async fn protect(forge: &Forge, grant: &Grant<Admin>) {
//!     let _ = forge.protect_branch(grant, "main", false).await;
//! }
//! ```

use std::path::Path;

use crate::domain::{Admin, Error, Forge, Grant, Level, Result};
use crate::model::{CheckName, RefUpdate, Repo, RepoAccess};
use crate::storage::ProtectedBranchRow;

/// One rule as repository admins set it: a glob on branch names.
#[derive(Debug, Clone)]
pub struct BranchRule {
    pub id: i64,
    pub pattern: String,
    pub admins_only: bool,
    /// Checks a push to a matching branch must have run and passed.
    pub required_checks: Vec<String>,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
}

impl BranchRule {
    /// Whether the rule covers `branch` (the API shows a branch's protection by it).
    pub fn matches(&self, branch: &str) -> bool {
        glob::Pattern::new(&self.pattern).is_ok_and(|p| p.matches(branch))
    }
}

impl From<ProtectedBranchRow> for BranchRule {
    fn from(r: ProtectedBranchRow) -> Self {
        BranchRule {
            id: r.id,
            pattern: r.pattern,
            admins_only: r.admins_only,
            required_checks: r.required_checks,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Checks a pattern before it is stored: a glob on branch names, no whitespace.
pub fn parse_branch_pattern(pattern: &str) -> Result<String> {
    let pattern = pattern.trim();
    let bad = pattern.is_empty()
        || pattern.len() > 200
        || pattern.chars().any(|c| c.is_whitespace() || c.is_control())
        || pattern.starts_with("refs/");
    if bad {
        return Err(Error::InvalidInput(
            "a branch pattern is a glob on the branch name, like main or release/*".into(),
        ));
    }
    glob::Pattern::new(pattern).map_err(|e| Error::InvalidInput(format!("bad pattern: {e}")))?;
    Ok(pattern.to_owned())
}

impl Forge {
    pub async fn branch_rules<L: Level>(&self, grant: &Grant<L>) -> Result<Vec<BranchRule>> {
        self.rules_of(grant.repo()).await
    }

    /// The rules pre-receive applies, for the push's own checks.
    pub(super) async fn rules_of(&self, repo: &Repo) -> Result<Vec<BranchRule>> {
        Ok(self
            .db
            .protected_branches(repo.id)
            .await?
            .into_iter()
            .map(BranchRule::from)
            .collect())
    }

    pub async fn protect_branch(
        &self,
        grant: &Grant<Admin>,
        pattern: &str,
        admins_only: bool,
    ) -> Result<()> {
        self.protect_branch_requiring(grant, pattern, admins_only, &[])
            .await
    }

    /// Protects branches matching `pattern` (replacing the rule with the same pattern), and
    /// requires `checks` to have run and passed on every push to them.
    pub async fn protect_branch_requiring(
        &self,
        grant: &Grant<Admin>,
        pattern: &str,
        admins_only: bool,
        checks: &[CheckName],
    ) -> Result<()> {
        let pattern = parse_branch_pattern(pattern)?;
        let mut names: Vec<String> = checks.iter().map(|c| c.to_string()).collect();
        names.sort();
        names.dedup();
        Ok(self
            .db
            .protect_branch(grant.repo().id, &pattern, admins_only, &names)
            .await?)
    }

    pub async fn unprotect_branch(&self, grant: &Grant<Admin>, rule_id: i64) -> Result<()> {
        if self.db.unprotect_branch(grant.repo().id, rule_id).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Why `update` may not happen, if it may not: the first rule it breaks, in words for the
    /// pusher. `quarantine` is where receive-pack keeps the pushed objects until hooks agree.
    pub(super) async fn refusal(
        &self,
        repo: &Repo,
        rules: &[BranchRule],
        pusher: &crate::domain::Principal,
        update: &RefUpdate,
        quarantine: Option<&Path>,
    ) -> Result<Option<String>> {
        let Some(branch) = update.branch() else {
            return Ok(None);
        };
        let matching: Vec<&BranchRule> = rules.iter().filter(|r| r.matches(branch)).collect();
        let Some(first) = matching.first() else {
            return Ok(None);
        };
        let said = |why: &str, rule: &BranchRule| {
            Some(format!(
                "{}: {why} (branch {branch} is protected by rule \"{}\")",
                update.name, rule.pattern
            ))
        };
        if let Some(rule) = matching.iter().find(|r| r.admins_only) {
            // Asked only here: most pushes meet no admins-only rule.
            let path = crate::model::RepoPath::parse(&repo.full_name())?;
            let (_, access) = self.access(pusher, &path).await?;
            if access < RepoAccess::Admin {
                return Ok(said("only repository admins may push here", rule));
            }
        }
        if update.is_delete() {
            return Ok(said("deleting it is not allowed", first));
        }
        if !update.is_create() {
            let dir = self.repo_dir(repo)?;
            let fast_forward = self
                .runner
                .is_ancestor(&dir, quarantine, &update.old, &update.new)
                .await
                .map_err(Error::Internal)?;
            if !fast_forward {
                return Ok(said(
                    "force-push (a non-fast-forward update) is not allowed",
                    first,
                ));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(parse_branch_pattern(" main ").unwrap(), "main");
        assert!(parse_branch_pattern("release/*").is_ok());
        for bad in ["", "a b", "refs/heads/main", "[", "x\ny"] {
            assert!(parse_branch_pattern(bad).is_err(), "{bad:?}");
        }
        let rule = BranchRule {
            id: 1,
            pattern: "release/*".into(),
            admins_only: false,
            required_checks: Vec::new(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        assert!(rule.matches("release/1.0"));
        assert!(!rule.matches("main"));
    }
}
