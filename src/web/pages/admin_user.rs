//! `/-/admin/users/{user}`: one user's SSH keys and access tokens, for a site admin to add,
//! remove, create and revoke (what `labforge admin key …` and `token …` do, through the same
//! functions and into the same audit log).

use askama::Template;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;

use super::admin::named;
use super::{message_or_error, render};
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
        .get("/-/admin/users/{user}", Need::SiteAdmin, show_user)
        .post("/-/admin/users/{user}/keys", Need::SiteAdmin, add_key)
        .post(
            "/-/admin/users/{user}/tokens",
            Need::SiteAdmin,
            create_token,
        )
        .post(
            "/-/admin/users/{user}/keys/{id}/delete",
            Need::SiteAdmin,
            remove_key,
        )
        .post(
            "/-/admin/users/{user}/tokens/{id}/delete",
            Need::SiteAdmin,
            revoke_token,
        )
}

struct KeyRow {
    id: i64,
    title: String,
    fingerprint: String,
    algorithm: String,
    added: String,
    used: String,
}

struct TokenRow {
    id: i64,
    title: String,
    scope: String,
    created: String,
    used: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    nav: Nav,
    tab: &'static str,
    message: String,
    name: String,
    keys: Vec<KeyRow>,
    tokens: Vec<TokenRow>,
    /// A token just created, shown this once.
    new_token: Option<String>,
}

fn when(t: Option<time::OffsetDateTime>, none: &str) -> String {
    t.map_or_else(|| none.to_owned(), |t| date(t.unix_timestamp()))
}

async fn user_page(
    st: &WebState,
    page: &AdminPage,
    user: &str,
    message: String,
    new_token: Option<String>,
) -> Result<Response, WebError> {
    let name = named(user).map_err(|_| WebError::NotFound)?;
    let keys = match st.forge.keys_of(&page.admin, &name).await {
        Ok(keys) => keys,
        // No such user: the page does not exist (to the admin, who may ask).
        Err(crate::domain::Error::InvalidInput(_)) => return Err(WebError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let tokens = st.forge.tokens_of(&page.admin, &name).await?;
    render(UserPage {
        nav: page.user.nav(),
        tab: "users",
        message,
        name: name.to_string(),
        keys: keys
            .into_iter()
            .map(|k| KeyRow {
                id: k.id,
                title: k.title,
                fingerprint: k.fingerprint,
                algorithm: k.algorithm,
                added: date(k.created_at.unix_timestamp()),
                used: when(k.last_used_at, "never"),
            })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                title: t.title,
                scope: t.scope.to_string(),
                created: date(t.created_at.unix_timestamp()),
                used: when(t.last_used_at, "never"),
                expires: when(t.expires_at, "never"),
            })
            .collect(),
        new_token,
    })
}

async fn show_user(
    State(st): State<WebState>,
    Path(user): Path<String>,
    page: AdminPage,
) -> Result<Response, WebError> {
    user_page(&st, &page, &user, String::new(), None).await
}

/// The user's page after an action on one of their keys or tokens.
async fn after<T>(
    st: &WebState,
    user: &str,
    form: AdminForm<T>,
    outcome: crate::domain::Result<String>,
    new_token: Option<String>,
) -> Result<Response, WebError> {
    let message = match outcome {
        Ok(m) => m,
        Err(e) => message_or_error(e)?,
    };
    let page = AdminPage {
        admin: form.admin,
        user: form.user,
    };
    user_page(st, &page, user, message, new_token).await
}

/// The id from the path, read in the handler (after the admin is proven): a path extractor
/// that rejected a bad number would answer non-admins unlike a missing page.
fn id_of(id: &str) -> crate::domain::Result<i64> {
    id.parse()
        .map_err(|_| crate::domain::Error::InvalidInput(format!("{id} is not an id")))
}

async fn remove_key(
    State(st): State<WebState>,
    Path((user, id)): Path<(String, String)>,
    form: AdminForm<CsrfForm>,
) -> Result<Response, WebError> {
    let outcome = async {
        let key = st
            .forge
            .remove_key_of(&form.admin, &named(&user)?, &id_of(&id)?.to_string())
            .await?;
        Ok(format!(
            "Removed the key {} ({}).",
            key.fingerprint, key.title
        ))
    }
    .await;
    after(&st, &user, form, outcome, None).await
}

async fn revoke_token(
    State(st): State<WebState>,
    Path((user, id)): Path<(String, String)>,
    form: AdminForm<CsrfForm>,
) -> Result<Response, WebError> {
    let outcome = async {
        let id = id_of(&id)?;
        st.forge
            .revoke_token_of(&form.admin, &named(&user)?, id)
            .await?;
        Ok(format!("Revoked token {id}."))
    }
    .await;
    after(&st, &user, form, outcome, None).await
}

#[derive(serde::Deserialize)]
struct KeyForm {
    title: String,
    key: String,
}

async fn add_key(
    State(st): State<WebState>,
    Path(user): Path<String>,
    form: AdminForm<KeyForm>,
) -> Result<Response, WebError> {
    let outcome = async {
        let fingerprint = st
            .forge
            .add_key_for(
                &form.admin,
                &named(&user)?,
                &form.form.title,
                &form.form.key,
            )
            .await?;
        Ok(format!("Added the key {fingerprint}."))
    }
    .await;
    after(&st, &user, form, outcome, None).await
}

#[derive(serde::Deserialize)]
struct TokenForm {
    title: String,
    scope: String,
    expires_in_days: Option<String>,
}

/// The expiry asked for: empty is never; at most ten years.
fn expiry(days: Option<&str>) -> crate::domain::Result<Option<time::OffsetDateTime>> {
    match days.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) => {
            let d: u32 = d.parse().map_err(|_| {
                crate::domain::Error::InvalidInput("expiry must be a number of days".into())
            })?;
            Ok(Some(
                time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(d.min(3650))),
            ))
        }
    }
}

async fn create_token(
    State(st): State<WebState>,
    Path(user): Path<String>,
    form: AdminForm<TokenForm>,
) -> Result<Response, WebError> {
    let f = &form.form;
    let made = async {
        let scope: crate::model::TokenScope = f
            .scope
            .parse()
            .map_err(crate::domain::Error::InvalidInput)?;
        let expires = expiry(f.expires_in_days.as_deref())?;
        st.forge
            .create_token_for(&form.admin, &named(&user)?, &f.title, scope, expires)
            .await
    }
    .await;
    match made {
        Ok(secret) => {
            let message = format!(
                "Created a token for {user}: copy it now and hand it over safely; it is not shown again."
            );
            after(&st, &user, form, Ok(message), Some(secret.0)).await
        }
        Err(e) => after(&st, &user, form, Err(e), None).await,
    }
}
