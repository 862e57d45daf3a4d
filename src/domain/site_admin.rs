//! Site administration: the proof that whoever acts is a site admin (`SiteAdmin`), the audit
//! log every admin action writes, and the listings the `/-/admin` pages show. The account
//! actions themselves are in `user_admin.rs`, shared by those pages and `labforge admin user …`
//! (both hold a `SiteAdmin`, so both go through the same functions and the same log).
//!
//! A `SiteAdmin` is made only by `authorize_site_admin` (a signed-in admin, re-read from the
//! database) or `site_admin_for_operator` (the `SystemKey` only `app` mints):
//! ```compile_fail
//! # use labforge::domain::SiteAdmin;
//! fn forge_one() -> SiteAdmin { SiteAdmin { by: todo!() } }
//! ```
//! Its twin, with the key handed down from `app`, compiles:
//! ```
//! # use labforge::domain::{Forge, SiteAdmin, SystemKey};
//! fn operator(forge: &Forge, key: &SystemKey) -> SiteAdmin { forge.site_admin_for_operator(key) }
//! ```

use super::credentials::user_from_row;
use super::{Error, Forge, Result, SystemKey};
use crate::model::{Actor, SiteRole};
use crate::storage::{AdminRepoRow, AdminUserRow, AuditRow};

/// The name the audit log gives the operator's command-line actions.
pub const OPERATOR: &str = "operator";

/// Rows one admin listing page shows (users, repositories, audit entries).
pub const ADMIN_PAGE_ROWS: i64 = 50;
/// The last page a listing serves (50,000 rows in): a bigger number is this page, so a
/// visitor's `?page=` never asks the database to skip an unbounded number of rows.
pub const ADMIN_MAX_PAGE: u32 = 1000;

/// Proof that a site admin acts, and who: made only here, after the check.
#[derive(Debug, Clone)]
pub struct SiteAdmin {
    by: By,
}

#[derive(Debug, Clone)]
enum By {
    Operator,
    User(Actor),
}

impl SiteAdmin {
    /// Who acts, as the audit log names them.
    pub fn name(&self) -> &str {
        match &self.by {
            By::Operator => OPERATOR,
            By::User(a) => &a.user.name,
        }
    }

    /// The admin's own user id, when a user (not the operator) acts.
    pub(super) fn user_id(&self) -> Option<i64> {
        match &self.by {
            By::Operator => None,
            By::User(a) => Some(a.user.id),
        }
    }
}

/// One page of a listing: its rows, the page number served (1-based) and the total count.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub rows: Vec<T>,
    pub page: u32,
    pub total: i64,
}

impl<T> Paged<T> {
    pub fn has_next(&self) -> bool {
        i64::from(self.page) * ADMIN_PAGE_ROWS < self.total && self.page < ADMIN_MAX_PAGE
    }
}

/// The page number asked for, within `1..=ADMIN_MAX_PAGE`, and its first row.
pub fn page_bounds(page: u32) -> (u32, i64) {
    let page = page.clamp(1, ADMIN_MAX_PAGE);
    (page, i64::from(page - 1) * ADMIN_PAGE_ROWS)
}

impl Forge {
    /// A site admin signed in on the web: the user is re-read from the database (so an admin
    /// just revoked or disabled is refused at once) and a token's session (API) is not enough:
    /// site administration over the API needs a scope of its own, which tokens do not have yet.
    /// Anyone else is told `NotFound`, as for a page that does not exist.
    pub async fn authorize_site_admin(&self, actor: Option<&Actor>) -> Result<SiteAdmin> {
        let actor = actor.ok_or(Error::NotFound)?;
        if actor.scope.is_some() {
            return Err(Error::NotFound);
        }
        let row = self
            .db
            .user_by_id(actor.user.id)
            .await?
            .ok_or(Error::NotFound)?;
        let user = user_from_row(&row);
        if row.disabled || user.role != SiteRole::Admin {
            return Err(Error::NotFound);
        }
        Ok(SiteAdmin {
            by: By::User(Actor { user, scope: None }),
        })
    }

    /// The operator at the command line (`labforge admin …`), with the key only `app` mints.
    pub fn site_admin_for_operator(&self, _key: &SystemKey) -> SiteAdmin {
        SiteAdmin { by: By::Operator }
    }

    /// Records what `by` did. Called after the action succeeded; a failure to record is
    /// logged and returned (the action is done, but the caller learns the log missed it).
    pub(super) async fn audit(
        &self,
        by: &SiteAdmin,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()> {
        tracing::info!(
            admin = by.name(),
            action,
            target,
            detail,
            "site administration"
        );
        self.db
            .insert_audit(by.name(), action, target, detail)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, admin = by.name(), action, target, "the audit log missed an action");
                Error::from(e)
            })
    }

    /// The audit log, newest first.
    pub async fn audit_log(&self, _by: &SiteAdmin, page: u32) -> Result<Paged<AuditRow>> {
        let (page, offset) = page_bounds(page);
        let (rows, total) = self.db.audit_page(offset, ADMIN_PAGE_ROWS).await?;
        Ok(Paged { rows, page, total })
    }

    /// Users by name, a page at a time.
    pub async fn users_page(&self, _by: &SiteAdmin, page: u32) -> Result<Paged<AdminUserRow>> {
        let (page, offset) = page_bounds(page);
        let (rows, total) = self.db.users_page(offset, ADMIN_PAGE_ROWS).await?;
        Ok(Paged { rows, page, total })
    }

    /// Repositories by owner and name, a page at a time, each with its size on disk.
    pub async fn repos_page(&self, _by: &SiteAdmin, page: u32) -> Result<Paged<AdminRepo>> {
        let (page, offset) = page_bounds(page);
        let (rows, total) = self.db.repos_page(offset, ADMIN_PAGE_ROWS).await?;
        let dirs: Vec<_> = rows
            .iter()
            .map(|r| self.repos.dir_for_stored(&r.owner, &r.name))
            .collect();
        let sizes = super::blocking(move || {
            dirs.iter()
                .map(|d| d.as_ref().ok().map(crate::git::RepoDir::disk_usage))
                .collect::<Vec<_>>()
        })
        .await?;
        let rows = rows
            .into_iter()
            .zip(sizes)
            .map(|(row, size)| AdminRepo { row, size })
            .collect();
        Ok(Paged { rows, page, total })
    }
}

/// A repository in the admin listing: its row and its size on disk (None: no folder).
#[derive(Debug, Clone)]
pub struct AdminRepo {
    pub row: AdminRepoRow,
    pub size: Option<crate::git::DiskUsage>,
}
