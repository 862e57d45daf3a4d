//! `/settings/keys`, `/settings/tokens`, `/settings/password` (your own only) and `/new`.
//! Every POST checks the session's CSRF token before it changes anything.

use crate::routes::{Need, Routes};
use crate::web::form::Form;
use askama::Template;
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{message_or_error, render};
use crate::model::{RepoName, TokenScope, Username};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::session::{CsrfForm, Nav, RequireUser};
use crate::web::view::date;

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/settings/keys", Need::SignedIn, show_keys)
        .post("/settings/keys", Need::SignedIn, add_key)
        .post("/settings/keys/{id}/delete", Need::SignedIn, delete_key)
        .get("/settings/tokens", Need::SignedIn, show_tokens)
        .post("/settings/tokens", Need::SignedIn, create_token)
        .post("/settings/tokens/{id}/delete", Need::SignedIn, delete_token)
        .get("/settings/password", Need::SignedIn, show_password)
        .post("/settings/password", Need::SignedIn, change_password)
        .get("/new", Need::SignedIn, show_new)
        .post("/new", Need::SignedIn, create_repo)
}

struct KeyRow {
    id: i64,
    title: String,
    fingerprint: String,
    algorithm: String,
    added: String,
    used: String,
}

#[derive(Template)]
#[template(path = "settings/keys.html")]
struct KeysPage {
    nav: Nav,
    tab: &'static str,
    message: String,
    keys: Vec<KeyRow>,
    host_key: String,
}

async fn keys_page(
    st: &WebState,
    user: &RequireUser,
    message: String,
) -> Result<Response, WebError> {
    let keys = st.forge.list_keys(&user.0.actor.user).await?;
    render(KeysPage {
        nav: user.nav(),
        tab: "keys",
        message,
        keys: keys
            .into_iter()
            .map(|k| KeyRow {
                id: k.id,
                title: k.title,
                fingerprint: k.fingerprint,
                algorithm: k.algorithm,
                added: date(k.created_at.unix_timestamp()),
                used: k
                    .last_used_at
                    .map_or_else(|| "never".into(), |t| date(t.unix_timestamp())),
            })
            .collect(),
        host_key: st.ssh_fingerprint.to_string(),
    })
}

async fn show_keys(State(st): State<WebState>, user: RequireUser) -> Result<Response, WebError> {
    keys_page(&st, &user, String::new()).await
}

#[derive(Deserialize)]
struct KeyForm {
    csrf: String,
    title: String,
    key: String,
}

async fn add_key(
    State(st): State<WebState>,
    user: RequireUser,
    Form(form): Form<KeyForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let name = Username::parse(&user.0.actor.user.name)?;
    let message = match st.forge.add_key(&name, &form.title, &form.key).await {
        Ok(fingerprint) => format!("Added key {fingerprint}."),
        Err(e) => message_or_error(e)?,
    };
    keys_page(&st, &user, message).await
}

async fn delete_key(
    State(st): State<WebState>,
    user: RequireUser,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    st.forge.delete_key(&user.0.actor.user, id).await?;
    Ok(Redirect::to("/settings/keys").into_response())
}

struct TokenRow {
    id: i64,
    title: String,
    scope: TokenScope,
    created: String,
    used: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "settings/tokens.html")]
struct TokensPage {
    nav: Nav,
    tab: &'static str,
    message: String,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
}

async fn tokens_page(
    st: &WebState,
    user: &RequireUser,
    message: String,
    new_token: Option<String>,
) -> Result<Response, WebError> {
    let tokens = st.forge.list_tokens(&user.0.actor.user).await?;
    render(TokensPage {
        nav: user.nav(),
        tab: "tokens",
        message,
        new_token,
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                title: t.title,
                scope: t.scope,
                created: date(t.created_at.unix_timestamp()),
                used: t
                    .last_used_at
                    .map_or_else(|| "never".into(), |d| date(d.unix_timestamp())),
                expires: t.expires_at.map_or_else(
                    || "never expires".into(),
                    |d| format!("expires {}", date(d.unix_timestamp())),
                ),
            })
            .collect(),
    })
}

async fn show_tokens(State(st): State<WebState>, user: RequireUser) -> Result<Response, WebError> {
    tokens_page(&st, &user, String::new(), None).await
}

#[derive(Deserialize)]
struct TokenForm {
    csrf: String,
    title: String,
    scope: String,
    expires_in_days: Option<String>,
}

async fn create_token(
    State(st): State<WebState>,
    user: RequireUser,
    Form(form): Form<TokenForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let scope: TokenScope = form.scope.parse().map_err(WebError::BadRequest)?;
    let days = match form.expires_in_days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => Some(
            d.parse::<u32>()
                .map_err(|_| WebError::BadRequest("expiry must be a number of days".into()))?,
        ),
    };
    let expires = days
        .map(|d| time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(d.min(3650))));
    let name = Username::parse(&user.0.actor.user.name)?;
    match st
        .forge
        .create_token(&name, &form.title, scope, expires)
        .await
    {
        Ok(secret) => tokens_page(&st, &user, String::new(), Some(secret.0)).await,
        Err(e) => tokens_page(&st, &user, message_or_error(e)?, None).await,
    }
}

async fn delete_token(
    State(st): State<WebState>,
    user: RequireUser,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    st.forge.delete_token(&user.0.actor.user, id).await?;
    Ok(Redirect::to("/settings/tokens").into_response())
}

#[derive(Template)]
#[template(path = "settings/password.html")]
struct PasswordPage {
    nav: Nav,
    tab: &'static str,
    message: String,
}

async fn show_password(user: RequireUser) -> Result<Response, WebError> {
    render(PasswordPage {
        nav: user.nav(),
        tab: "password",
        message: String::new(),
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    confirm: String,
}

async fn change_password(
    State(st): State<WebState>,
    user: RequireUser,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let message = if form.new != form.confirm {
        "The new passwords do not match.".to_owned()
    } else {
        match st
            .forge
            .change_password(
                &user.0.actor.user,
                &form.current,
                &form.new,
                Some(user.0.id),
            )
            .await
        {
            Ok(()) => "Your password was changed.".to_owned(),
            Err(e) => message_or_error(e)?,
        }
    };
    render(PasswordPage {
        nav: user.nav(),
        tab: "password",
        message,
    })
}

#[derive(Template)]
#[template(path = "new.html")]
struct NewRepoPage {
    nav: Nav,
    message: String,
    name: String,
    description: String,
    /// The owners the user may create under (their own name first), and the one chosen.
    owners: Vec<String>,
    owner: String,
}

async fn show_new(State(st): State<WebState>, user: RequireUser) -> Result<Response, WebError> {
    let owners = st.forge.creatable_owners(&user.0.actor).await?;
    render(NewRepoPage {
        nav: user.nav(),
        message: String::new(),
        name: String::new(),
        description: String::new(),
        owner: user.0.actor.user.name.clone(),
        owners,
    })
}

#[derive(Deserialize)]
struct NewRepoForm {
    csrf: String,
    name: String,
    description: String,
    /// Who owns it: the user (absent or their name) or an organization they may create in.
    #[serde(default)]
    owner: String,
    /// Unticked (absent) keeps it private, the default everywhere.
    public: Option<String>,
    /// Import from this URL instead of starting empty.
    #[serde(default)]
    clone_addr: String,
    #[serde(default)]
    auth_username: String,
    #[serde(default)]
    auth_token: String,
    /// Keep following the URL.
    mirror: Option<String>,
    #[serde(default)]
    mirror_interval: String,
}

async fn create_repo(
    State(st): State<WebState>,
    user: RequireUser,
    Form(form): Form<NewRepoForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let owners = st.forge.creatable_owners(&user.0.actor).await?;
    let chosen = match form.owner.trim() {
        "" => user.0.actor.user.name.clone(),
        o => o.to_owned(),
    };
    let again = |message: String| {
        render(NewRepoPage {
            nav: user.nav(),
            message,
            name: form.name.clone(),
            description: form.description.clone(),
            owners: owners.clone(),
            owner: chosen.clone(),
        })
    };
    let name = match RepoName::parse(form.name.trim()) {
        Ok(n) => n,
        Err(e) => return again(e.to_string()),
    };
    let owner = match Username::parse(&chosen) {
        Ok(o) => o,
        Err(e) => return again(e.to_string()),
    };
    let created = if form.clone_addr.trim().is_empty() {
        st.forge
            .create_repo_as(
                &user.0.actor,
                &owner,
                &name,
                form.public.is_none(),
                form.description.trim(),
            )
            .await
    } else {
        let interval = match (form.mirror.is_some(), form.mirror_interval.trim()) {
            (false, _) => None,
            (true, "") => Some(crate::domain::push::pulled::DEFAULT_INTERVAL),
            (true, text) => match crate::config::parse_duration(text) {
                Ok(d) => Some(d),
                Err(e) => return again(format!("mirror interval: {e}")),
            },
        };
        st.forge
            .import_repo(
                &user.0.actor,
                crate::domain::push::pulled::Import {
                    owner: &owner,
                    name: &name,
                    url: form.clone_addr.trim(),
                    username: form.auth_username.trim(),
                    token: form.auth_token.trim(),
                    private: form.public.is_none(),
                    description: form.description.trim(),
                    mirror_interval: interval,
                },
            )
            .await
    };
    match created {
        Ok(repo) => Ok(Redirect::to(&format!("/{}/{}", repo.owner, repo.name)).into_response()),
        // An owner the user may not create under (only a crafted form names one): say so.
        Err(crate::domain::Error::Forbidden(why)) => again(why),
        Err(e) => again(message_or_error(e)?),
    }
}
