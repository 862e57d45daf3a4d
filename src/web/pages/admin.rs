//! `/-/admin`: the site administration pages, for site admins only (`AdminPage`, `AdminForm`:
//! anyone else gets the missing page). Users here; the read-only views (overview,
//! repositories, configuration, audit log) in `admin_views.rs`. Every action calls the same
//! domain function as `labforge admin user …`, which records it in the audit log.

use askama::Template;
use axum::extract::{FromRef, Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::{message_or_error, render};
use crate::domain::{ADMIN_PAGE_ROWS, Paged};
use crate::model::{Email, Username};
use crate::routes::{Need, Routes};
use crate::web::WebState;
use crate::web::access::{AdminForm, AdminPage};
use crate::web::error::WebError;
use crate::web::session::{CsrfForm, Nav};
use crate::web::view::date;

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get(
            "/-/admin",
            Need::SiteAdmin,
            super::admin_views::show_overview,
        )
        .get("/-/admin/users", Need::SiteAdmin, show_users)
        .post("/-/admin/users", Need::SiteAdmin, create_user)
        .post(
            "/-/admin/users/{user}/disable",
            Need::SiteAdmin,
            disable_user,
        )
        .post("/-/admin/users/{user}/enable", Need::SiteAdmin, enable_user)
        .post(
            "/-/admin/users/{user}/password",
            Need::SiteAdmin,
            reset_password,
        )
        .post(
            "/-/admin/users/{user}/make-admin",
            Need::SiteAdmin,
            make_admin,
        )
        .post(
            "/-/admin/users/{user}/revoke-admin",
            Need::SiteAdmin,
            revoke_admin,
        )
        .post("/-/admin/users/{user}/delete", Need::SiteAdmin, delete_user)
        .merge(super::admin_user::router())
        // Organizations (issue 24, section 1) add their admin list here: `/-/admin/orgs`.
        .get(
            "/-/admin/repos",
            Need::SiteAdmin,
            super::admin_views::show_repos,
        )
        .get(
            "/-/admin/config",
            Need::SiteAdmin,
            super::admin_views::show_config,
        )
        .get(
            "/-/admin/audit",
            Need::SiteAdmin,
            super::admin_views::show_audit,
        )
}

/// `?page=N` of a listing; anything that is not a number is the first page.
#[derive(Deserialize)]
pub(super) struct PageQuery {
    page: Option<String>,
}

impl PageQuery {
    pub(super) fn number(&self) -> u32 {
        self.page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
    }
}

/// "Previous" and "next" links of a listing, and where it stands.
pub(super) struct Pager {
    pub prev: Option<u32>,
    pub next: Option<u32>,
    pub text: String,
}

impl Pager {
    pub(super) fn of<T>(paged: &Paged<T>) -> Self {
        let first = i64::from(paged.page - 1) * ADMIN_PAGE_ROWS;
        let shown = paged.rows.len() as i64;
        let text = if shown == 0 {
            format!("{} in all", paged.total)
        } else {
            format!("{}–{} of {}", first + 1, first + shown, paged.total)
        };
        Pager {
            prev: (paged.page > 1).then(|| paged.page - 1),
            next: paged.has_next().then(|| paged.page + 1),
            text,
        }
    }
}

struct UserRow {
    name: String,
    email: String,
    admin: bool,
    disabled: bool,
    created: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    nav: Nav,
    tab: &'static str,
    message: String,
    users: Vec<UserRow>,
    pager: Pager,
}

async fn users_page(
    st: &WebState,
    page: &AdminPage,
    number: u32,
    message: String,
) -> Result<Response, WebError> {
    let paged = st.forge.users_page(&page.admin, number).await?;
    let pager = Pager::of(&paged);
    render(UsersPage {
        nav: page.user.nav(),
        tab: "users",
        message,
        users: paged
            .rows
            .into_iter()
            .map(|u| UserRow {
                name: u.name,
                email: u.email,
                admin: u.is_admin,
                disabled: u.disabled,
                created: date(u.created_at.unix_timestamp()),
            })
            .collect(),
        pager,
    })
}

async fn show_users(
    State(st): State<WebState>,
    page: AdminPage,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    users_page(&st, &page, q.number(), String::new()).await
}

/// The users page after an action, with what happened (or why it did not) on top.
pub(super) async fn after<T>(
    st: &WebState,
    form: AdminForm<T>,
    outcome: crate::domain::Result<String>,
) -> Result<Response, WebError> {
    let message = match outcome {
        Ok(m) => m,
        Err(e) => message_or_error(e)?,
    };
    let page = AdminPage {
        admin: form.admin,
        user: form.user,
    };
    users_page(st, &page, 1, message).await
}

#[derive(Deserialize)]
struct CreateUserForm {
    name: String,
    email: String,
    password: String,
    /// A checkbox: present when ticked.
    admin: Option<String>,
}

async fn create_user(
    State(st): State<WebState>,
    form: AdminForm<CreateUserForm>,
) -> Result<Response, WebError> {
    let f = &form.form;
    let outcome = async {
        let name = Username::parse(f.name.trim())?;
        let email = Email::parse(f.email.trim()).map_err(crate::domain::Error::InvalidInput)?;
        let user = st
            .forge
            .admin_create_user(&form.admin, &name, &email, &f.password, f.admin.is_some())
            .await?;
        Ok(format!("Created {}.", user.name))
    }
    .await;
    after(&st, form, outcome).await
}

/// A user named in the path, parsed like every name from outside.
pub(super) fn named(user: &str) -> crate::domain::Result<Username> {
    Ok(Username::parse(user)?)
}

async fn disable_user(
    State(st): State<WebState>,
    Path(user): Path<String>,
    form: AdminForm<CsrfForm>,
) -> Result<Response, WebError> {
    let outcome = async {
        let user = st
            .forge
            .set_user_disabled(&form.admin, &named(&user)?, true)
            .await?;
        Ok(format!(
            "{} is disabled: no sign-in, token, password or key works for them; their sessions ended.",
            user.name
        ))
    }
    .await;
    after(&st, form, outcome).await
}

async fn enable_user(
    State(st): State<WebState>,
    Path(user): Path<String>,
    form: AdminForm<CsrfForm>,
) -> Result<Response, WebError> {
    let outcome = async {
        let user = st
            .forge
            .set_user_disabled(&form.admin, &named(&user)?, false)
            .await?;
        Ok(format!("{} is enabled.", user.name))
    }
    .await;
    after(&st, form, outcome).await
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
}

async fn reset_password(
    State(st): State<WebState>,
    Path(user): Path<String>,
    form: AdminForm<PasswordForm>,
) -> Result<Response, WebError> {
    let outcome = async {
        let name = named(&user)?;
        let ended = st
            .forge
            .reset_password(&form.admin, &name, &form.form.password)
            .await?;
        Ok(format!(
            "The password of {name} is changed; {ended} web session(s) ended."
        ))
    }
    .await;
    after(&st, form, outcome).await
}

async fn make_admin(
    State(st): State<WebState>,
    Path(user): Path<String>,
    form: AdminForm<CsrfForm>,
) -> Result<Response, WebError> {
    set_admin(&st, &user, form, true).await
}

async fn revoke_admin(
    State(st): State<WebState>,
    Path(user): Path<String>,
    form: AdminForm<CsrfForm>,
) -> Result<Response, WebError> {
    set_admin(&st, &user, form, false).await
}

/// Makes `user` a site admin or takes it back: the two buttons differ only in `admin`.
async fn set_admin(
    st: &WebState,
    user: &str,
    form: AdminForm<CsrfForm>,
    admin: bool,
) -> Result<Response, WebError> {
    let outcome = async {
        let user = st
            .forge
            .set_user_admin(&form.admin, &named(user)?, admin)
            .await?;
        Ok(if admin {
            format!("{} is a site admin.", user.name)
        } else {
            format!("{} is no longer a site admin.", user.name)
        })
    }
    .await;
    after(st, form, outcome).await
}

async fn delete_user(
    State(st): State<WebState>,
    Path(user): Path<String>,
    form: AdminForm<CsrfForm>,
) -> Result<Response, WebError> {
    let outcome = async {
        let name = named(&user)?;
        st.forge.delete_user(&form.admin, &name).await?;
        Ok(format!("Deleted {name}."))
    }
    .await;
    after(&st, form, outcome).await
}
