//! Atom feeds: `/OWNER/REPO/commits/REF.atom` and `/OWNER/REPO/deploys.atom`, for feed readers.
//! A private repository's feed needs HTTP Basic with an access token (any user name, the token
//! as password), as feed readers send it; a token in the URL (`?token=`) would end up in logs
//! and histories, so there is none. A signed-in browser's session works too.

use crate::routes::{Need, Routes};
use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, FromRef, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::domain::Error;
use crate::domain::{Grant, Read};
use crate::model::{Actor, Client, Transport, TreePath, xml_text};
use crate::web::WebState;
use crate::web::access::repo_path;
use crate::web::error::WebError;
use crate::web::session::MaybeUser;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// Entries in a feed.
const FEED_ENTRIES: usize = 30;

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new().get(
        "/{owner}/{repo}/deploys.atom",
        Need::READ,
        show_deploys_feed,
    )
}

pub struct Entry {
    pub id: String,
    pub title: String,
    pub link: String,
    pub updated: String,
    pub author: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "feeds/feed.xml")]
struct Feed {
    id: String,
    title: String,
    /// The page the feed follows.
    link: String,
    updated: String,
    entries: Vec<Entry>,
}

/// RFC 3339, as Atom wants its dates.
fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// 401 with a Basic challenge: a feed reader then asks its user for a token.
fn challenge() -> Response {
    let mut res = (
        StatusCode::UNAUTHORIZED,
        "a token is needed for this feed\n",
    )
        .into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"labforge feeds\""),
    );
    res
}

/// A feed's reader with read access: the session, or a token in Basic auth. Anonymous readers
/// of a repository they cannot read (private or missing alike: existence does not leak) get
/// the challenge, so a feed reader asks for the token.
pub struct FeedGrant(pub Grant<Read>);

impl<S> FromRequestParts<S> for FeedGrant
where
    S: Send + Sync,
    WebState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let st = WebState::from_ref(state);
        let user = MaybeUser::from_request_parts(parts, state).await?;
        let path = repo_path(parts)
            .await
            .map_err(IntoResponse::into_response)?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .ok_or_else(|| {
                WebError::Internal(anyhow::anyhow!("no peer address")).into_response()
            })?;
        let token_actor = match parts.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => match token_from_basic(&st, value, peer)
                .await
                .map_err(IntoResponse::into_response)?
            {
                Some(actor) => Some(actor),
                None => return Err(challenge()),
            },
        };
        let actor = token_actor.as_ref().or(user.actor());
        match st.forge.authorize::<Read>(actor, &path).await {
            Ok(grant) => Ok(FeedGrant(grant)),
            Err(Error::NotFound | Error::Forbidden(_)) if actor.is_none() => Err(challenge()),
            Err(e) => Err(WebError::from(e).into_response()),
        }
    }
}

/// The token in `Authorization: Basic base64(anything:TOKEN)`; None for anything else (a
/// password is not accepted here: feed readers store what they are given).
async fn token_from_basic(
    st: &WebState,
    value: &HeaderValue,
    peer: SocketAddr,
) -> Result<Option<Actor>, WebError> {
    let decoded = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let Some((user, token)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return Ok(None);
    };
    let client = Client::new(peer.ip(), Transport::Web);
    match st.forge.authenticate_bearer(user, token, client).await {
        Ok(actor) => Ok(actor),
        Err(Error::BadCredentials | Error::Disabled(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Every feed is answered here. Askama escapes markup, but a control character in a commit
/// message or name would still make the document invalid XML (readers then drop the whole
/// feed); the template adds none, so cleaning the rendered text cleans exactly the values.
fn atom(feed: Feed) -> Result<Response, WebError> {
    let xml = feed.render().map_err(|e| WebError::Internal(e.into()))?;
    let xml = xml_text(&xml).into_owned();
    Ok((
        [
            (header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        xml,
    )
        .into_response())
}

/// `/commits/REF[/PATH].atom` (routed through the log page's handler).
pub async fn commits_feed(
    st: WebState,
    FeedGrant(grant): FeedGrant,
    rest: String,
) -> Result<Response, WebError> {
    let repo = grant.repo();
    let found = st
        .forge
        .read_repo(&grant, move |r| {
            let Some(at) = r.resolve(&rest)? else {
                return Ok(None);
            };
            if r.is_dir(&at.commit, &at.path)?.is_none() {
                return Ok(None);
            }
            let (commits, _) = r.log(&at.commit, &at.path, 0, FEED_ENTRIES)?;
            Ok(Some((at.rev, at.path, commits)))
        })
        .await?;
    let (rev, path, commits): (String, TreePath, _) = found.ok_or(WebError::NotFound)?;
    let base = &st.config.base_url;
    let full = repo.full_name();
    let page = if path.is_root() {
        format!("{base}/{full}/commits/{rev}")
    } else {
        format!("{base}/{full}/commits/{rev}/{}", path.as_str())
    };
    atom(Feed {
        id: page.clone(),
        title: format!("{full} commits on {rev}"),
        updated: commits
            .first()
            .map_or_else(|| rfc3339(0), |c| rfc3339(c.time)),
        link: page,
        entries: commits
            .iter()
            .map(|c| Entry {
                id: format!("{base}/{full}/commit/{}", c.id.0),
                link: format!("{base}/{full}/commit/{}", c.id.0),
                title: c.subject.clone(),
                updated: rfc3339(c.time),
                author: c.author_name.clone(),
                summary: c.body.clone(),
            })
            .collect(),
    })
}

async fn show_deploys_feed(
    State(st): State<WebState>,
    FeedGrant(grant): FeedGrant,
) -> Result<Response, WebError> {
    let repo = grant.repo();
    let runs = st.forge.deploy_runs(&grant, 0).await?;
    let base = &st.config.base_url;
    let full = repo.full_name();
    let entries: Vec<Entry> = runs
        .iter()
        .take(FEED_ENTRIES)
        .map(|r| {
            let at = r.finished_at.unwrap_or(r.queued_at).unix_timestamp();
            let word = crate::domain::deploys::outcome_word(r.status, r.exit_code);
            let short: String = r.new_id.chars().take(7).collect();
            Entry {
                id: format!("{base}/{full}/deploys/{}", r.id),
                link: format!("{base}/{full}/deploys/{}", r.id),
                title: format!("{} #{} {word}: {short}", r.deploy_name, r.id),
                updated: rfc3339(at),
                author: r.triggered_by_name.clone(),
                summary: format!("{} of {} ({})", r.reason, short, r.ref_name),
            }
        })
        .collect();
    atom(Feed {
        id: format!("{base}/{full}/deploys"),
        title: format!("{full} deploys"),
        link: format!("{base}/{full}/deploys"),
        updated: entries
            .first()
            .map_or_else(|| rfc3339(0), |e| e.updated.clone()),
        entries,
    })
}
