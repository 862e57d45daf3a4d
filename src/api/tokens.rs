//! `/users/{user}/tokens[/{id}]`: a user's access tokens, with HTTP Basic and the account's
//! password only, as Gitea requires (`PasswordActor`), and for oneself only (Gitea lets site
//! admins manage others' tokens too; labforge's admins have `labforge admin` for that).
//!
//! Gitea's scopes are finer than labforge's two (`TokenScope`): `read` caps every repository
//! at reading, `write` allows what the user may do. A requested set maps onto the level it
//! asks most of: any `write:…` scope (or the legacy `all`) makes a write token, only `read:…`
//! scopes a read token. `public-only` is refused: labforge cannot restrict a token to public
//! repositories, and granting more than asked is not an option. The answer lists the scopes
//! labforge really grants (`granted_scopes`), not the ones asked.

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Path, RawPathParams, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::auth::PasswordActor;
use super::body::JsonBody;
use super::paging::Paging;
use super::{ApiError, ApiState};
use crate::domain::ApiToken;
use crate::model::{Actor, TokenScope};
use crate::routes::{Need, Routes};

/// Gitea's scope categories (`models/auth/access_token_scope.go`).
const CATEGORIES: [&str; 9] = [
    "activitypub",
    "admin",
    "issue",
    "misc",
    "notification",
    "organization",
    "package",
    "repository",
    "user",
];

/// The most scopes one request may name (Gitea's whole list is 19).
pub const MAX_SCOPES: usize = 32;

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/users/{user}/tokens", Need::SignedIn, list_tokens)
        .post("/users/{user}/tokens", Need::SignedIn, create_token)
        .delete("/users/{user}/tokens/{id}", Need::SignedIn, delete_token)
}

/// labforge's level for Gitea's scope names.
pub fn scope_from_gitea(names: &[String]) -> Result<TokenScope, String> {
    if names.is_empty() {
        return Err("give at least one scope, such as read:repository or write:repository".into());
    }
    if names.len() > MAX_SCOPES {
        return Err(format!("at most {MAX_SCOPES} scopes"));
    }
    let mut scope = TokenScope::Read;
    for name in names.iter().flat_map(|n| n.split(',')).map(str::trim) {
        match name.split_once(':') {
            _ if name == "all" => scope = TokenScope::Write,
            Some(("write", category)) if CATEGORIES.contains(&category) => {
                scope = TokenScope::Write;
            }
            Some(("read", category)) if CATEGORIES.contains(&category) => {}
            _ if name == "public-only" => {
                return Err("public-only is not supported: labforge tokens reach every \
                            repository their user may"
                    .into());
            }
            _ => return Err(format!("'{name}' is not one of Gitea's token scopes")),
        }
    }
    Ok(scope)
}

/// What a labforge token can do, in Gitea's scope names.
pub fn granted_scopes(scope: TokenScope) -> Vec<String> {
    let level = match scope {
        TokenScope::Read => "read",
        TokenScope::Write => "write",
    };
    ["issue", "repository", "user"]
        .iter()
        .map(|c| format!("{level}:{c}"))
        .collect()
}

/// Gitea's AccessToken; `sha1` (the secret) only in the answer that creates it.
#[derive(Serialize)]
struct ApiAccessToken {
    id: i64,
    name: String,
    scopes: Vec<String>,
    sha1: String,
    token_last_eight: String,
}

impl ApiAccessToken {
    fn new(token: &ApiToken, secret: String) -> Self {
        ApiAccessToken {
            id: token.id,
            name: token.title.clone(),
            scopes: granted_scopes(token.scope),
            sha1: secret,
            token_last_eight: token.last_eight.clone(),
        }
    }
}

/// The caller proven with the password, about their own tokens: `{user}` in the path must
/// be them (a 403 names the rule), decided before any body is read.
struct OwnTokens(Actor);

impl<S> FromRequestParts<S> for OwnTokens
where
    S: Send + Sync,
    ApiState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let PasswordActor(actor) = PasswordActor::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        let user = params
            .iter()
            .find(|(k, _)| *k == "user")
            .map(|(_, v)| v)
            .ok_or(ApiError::NotFound)?;
        if !actor.user.name.eq_ignore_ascii_case(user) {
            return Err(ApiError::Forbidden(
                "you can manage only your own tokens".into(),
            ));
        }
        Ok(OwnTokens(actor))
    }
}

async fn list_tokens(
    State(st): State<ApiState>,
    OwnTokens(actor): OwnTokens,
    paging: Paging,
) -> Result<Response, ApiError> {
    let (tokens, total) = st
        .forge
        .api_tokens(&actor.user, paging.offset(), paging.limit())
        .await?;
    let tokens = tokens
        .iter()
        .map(|t| ApiAccessToken::new(t, String::new()))
        .collect();
    Ok(paging.answer(tokens, total))
}

/// Gitea's CreateAccessTokenOption.
#[derive(Deserialize)]
struct CreateAccessTokenOption {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
}

async fn create_token(
    State(st): State<ApiState>,
    OwnTokens(actor): OwnTokens,
    JsonBody(body): JsonBody<CreateAccessTokenOption>,
) -> Result<(StatusCode, Json<ApiAccessToken>), ApiError> {
    let scope = scope_from_gitea(&body.scopes).map_err(ApiError::Invalid)?;
    let (token, secret) = st
        .forge
        .create_api_token(&actor.user, &body.name, scope)
        .await
        .map_err(|e| match e {
            // Gitea answers a name already used with 400; 409 says the same more precisely.
            crate::domain::Error::Conflict(_) => {
                ApiError::Conflict("you already have a token with that name".into())
            }
            other => other.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(ApiAccessToken::new(&token, secret.0)),
    ))
}

async fn delete_token(
    State(st): State<ApiState>,
    OwnTokens(actor): OwnTokens,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.forge.delete_token_named(&actor.user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(names: &[&str]) -> Result<TokenScope, String> {
        scope_from_gitea(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn giteas_scopes_map_onto_the_level_they_ask_most_of() {
        assert_eq!(scopes(&["read:repository"]), Ok(TokenScope::Read));
        assert_eq!(
            scopes(&["read:user", "read:issue", "read:admin"]),
            Ok(TokenScope::Read)
        );
        assert_eq!(
            scopes(&["read:user", "write:repository"]),
            Ok(TokenScope::Write)
        );
        assert_eq!(scopes(&["write:issue"]), Ok(TokenScope::Write));
        assert_eq!(scopes(&["all"]), Ok(TokenScope::Write));
        assert_eq!(scopes(&["read:user,write:package"]), Ok(TokenScope::Write));
    }

    #[test]
    fn unknown_empty_and_unsupported_scopes_are_refused() {
        assert!(scopes(&[]).is_err());
        assert!(scopes(&["sudo"]).is_err());
        assert!(scopes(&["write:everything"]).is_err());
        assert!(scopes(&["read:repository", "public-only"]).is_err());
        let many = vec!["read:user"; MAX_SCOPES + 1];
        assert!(scopes(&many).unwrap_err().contains("at most"));
        assert!(scopes(&vec!["read:user"; MAX_SCOPES]).is_ok());
    }

    #[test]
    fn the_answer_names_what_labforge_grants() {
        assert_eq!(
            granted_scopes(TokenScope::Read),
            ["read:issue", "read:repository", "read:user"]
        );
        assert!(
            granted_scopes(TokenScope::Write)
                .iter()
                .all(|s| s.starts_with("write:"))
        );
    }
}
