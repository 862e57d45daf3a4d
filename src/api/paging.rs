//! Gitea's paging for every list: `?page=` (from 1) and `?limit=` (capped at
//! `MAX_RESPONSE_ITEMS`, `DEFAULT_PAGING_NUM` when absent), answered with the total in
//! `X-Total-Count` and `Link` headers (`next`, `last`, `first`, `prev`) as Gitea's
//! `SetLinkHeader` writes them, so clients that follow `Link` (Renovate, `tea`) page alike.
//!
//! A list handler takes `Paging` (an extractor) and answers `paging.answer(items, total)`.

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Query};
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState};

/// The most items one page holds, whatever `limit` asks (Gitea's `MAX_RESPONSE_ITEMS`).
pub const MAX_RESPONSE_ITEMS: u32 = 50;
/// Items per page when `limit` is absent (Gitea's `DEFAULT_PAGING_NUM`).
pub const DEFAULT_PAGING_NUM: u32 = 30;
/// The highest page number accepted: far past any list, and `page * limit` stays in `i64`.
const MAX_PAGE: u32 = 1_000_000;

/// Read as text: Gitea reads an unparsable `page` or `limit` as absent (`ctx.FormInt`).
#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
    limit: Option<String>,
}

/// One page of a list: its number (from 1), its size, and how to link to its neighbours.
#[derive(Debug, Clone)]
pub struct Paging {
    pub page: u32,
    pub limit: u32,
    /// The request's absolute URL without `page`/`limit`, for the `Link` header.
    link_base: String,
    /// The request's other query parameters, kept in every link.
    kept_query: Vec<(String, String)>,
}

/// Gitea's `{ok, data}` body of a search answer.
#[derive(Serialize)]
struct SearchResults<T> {
    ok: bool,
    data: Vec<T>,
}

impl Paging {
    /// Rows to skip for this page.
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }

    /// Rows on this page (as an SQL `LIMIT`).
    pub fn limit(&self) -> i64 {
        i64::from(self.limit)
    }

    /// A page of an in-memory list whose whole length is known (bounded lists only: refs
    /// and trees are capped before they get here).
    pub fn slice<T>(&self, mut all: Vec<T>) -> (Vec<T>, u64) {
        let total = all.len() as u64;
        let start = usize::try_from(self.offset())
            .unwrap_or(usize::MAX)
            .min(all.len());
        let end = start.saturating_add(self.limit as usize).min(all.len());
        all.truncate(end);
        (all.split_off(start), total)
    }

    /// The answer: `items` as JSON with `X-Total-Count: total` and the `Link` header.
    pub fn answer<T: Serialize>(&self, items: Vec<T>, total: u64) -> Response {
        self.answer_wrapped(items, total)
    }

    /// A page of search results as Gitea's search calls (`/repos/search`, `/users/search`)
    /// answer it: `{ok: true, data}`, with the list's headers.
    pub fn answer_search<T: Serialize>(&self, data: Vec<T>, total: u64) -> Response {
        self.answer_wrapped(SearchResults { ok: true, data }, total)
    }

    /// A page inside another body (Gitea's `{ok, data}` of the search calls), with the same
    /// headers: `total` is the whole list's length.
    pub fn answer_wrapped<B: Serialize>(&self, body: B, total: u64) -> Response {
        let mut response = Json(body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            HeaderName::from_static("x-total-count"),
            HeaderValue::from(total),
        );
        if let Some(value) = self
            .link_header(total)
            .and_then(|link| HeaderValue::from_str(&link).ok())
        {
            headers.insert(axum::http::header::LINK, value);
        }
        headers.insert(
            axum::http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Link, X-Total-Count"),
        );
        response
    }

    fn url_for(&self, page: u64) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.kept_query {
            query.append_pair(k, v);
        }
        query.append_pair("limit", &self.limit.to_string());
        query.append_pair("page", &page.to_string());
        format!("{}?{}", self.link_base, query.finish())
    }

    /// Gitea's links: `next` and `last` while pages follow, `first` and `prev` past page 1.
    fn link_header(&self, total: u64) -> Option<String> {
        let pages = total.div_ceil(u64::from(self.limit)).max(1);
        let page = u64::from(self.page);
        let mut links = Vec::new();
        if page < pages {
            links.push(format!("<{}>; rel=\"next\"", self.url_for(page + 1)));
            links.push(format!("<{}>; rel=\"last\"", self.url_for(pages)));
        }
        if page > 1 {
            links.push(format!("<{}>; rel=\"first\"", self.url_for(1)));
            links.push(format!(
                "<{}>; rel=\"prev\"",
                self.url_for((page - 1).min(pages))
            ));
        }
        (!links.is_empty()).then(|| links.join(","))
    }

    /// A page without a request, for other modules' unit tests.
    #[cfg(test)]
    pub fn for_tests(page: u32, limit: u32) -> Self {
        Paging {
            page,
            limit,
            link_base: String::new(),
            kept_query: Vec::new(),
        }
    }

    fn from_query(page: Option<i64>, limit: Option<i64>) -> (u32, u32) {
        let page = page.unwrap_or(1).clamp(1, i64::from(MAX_PAGE)) as u32;
        let limit = match limit {
            Some(l) if l > 0 => l.min(i64::from(MAX_RESPONSE_ITEMS)) as u32,
            _ => DEFAULT_PAGING_NUM,
        };
        (page, limit)
    }
}

impl<S> FromRequestParts<S> for Paging
where
    S: Send + Sync,
    ApiState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(q) = Query::<PageQuery>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::Invalid(format!("the query does not parse: {e}")))?;
        let number = |v: Option<String>| v.and_then(|v| v.trim().parse::<i64>().ok());
        let (page, limit) = Paging::from_query(number(q.page), number(q.limit));
        let st = ApiState::from_ref(state);
        let kept_query = url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .filter(|(k, _)| k != "page" && k != "limit")
            .take(32)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Paging {
            page,
            limit,
            link_base: format!(
                "{}{}",
                st.config.base_url.trim_end_matches('/'),
                parts.uri.path()
            ),
            kept_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(page: Option<i64>, limit: Option<i64>) -> Paging {
        let (page, limit) = Paging::from_query(page, limit);
        Paging {
            page,
            limit,
            link_base: "http://lab:3000/api/v1/repos/a/b/branches".into(),
            kept_query: vec![("q".into(), "x y".into())],
        }
    }

    #[test]
    fn limit_is_capped_and_defaults_like_giteas() {
        assert_eq!(paging(None, None).limit, DEFAULT_PAGING_NUM);
        assert_eq!(paging(None, Some(0)).limit, DEFAULT_PAGING_NUM);
        assert_eq!(paging(None, Some(-3)).limit, DEFAULT_PAGING_NUM);
        assert_eq!(paging(None, Some(10_000)).limit, MAX_RESPONSE_ITEMS);
        assert_eq!(paging(Some(0), None).page, 1);
        assert_eq!(paging(Some(i64::MAX), None).page, MAX_PAGE);
        assert_eq!(paging(Some(i64::MAX), Some(50)).offset(), 49_999_950);
    }

    #[test]
    fn links_name_the_neighbours_and_keep_the_query() {
        let p = paging(Some(2), Some(10));
        let link = p.link_header(35).unwrap();
        assert_eq!(
            link,
            "<http://lab:3000/api/v1/repos/a/b/branches?q=x+y&limit=10&page=3>; rel=\"next\",\
             <http://lab:3000/api/v1/repos/a/b/branches?q=x+y&limit=10&page=4>; rel=\"last\",\
             <http://lab:3000/api/v1/repos/a/b/branches?q=x+y&limit=10&page=1>; rel=\"first\",\
             <http://lab:3000/api/v1/repos/a/b/branches?q=x+y&limit=10&page=1>; rel=\"prev\""
        );
        assert_eq!(paging(Some(1), Some(10)).link_header(10), None);
        let last = paging(Some(4), Some(10)).link_header(35).unwrap();
        assert!(!last.contains("rel=\"next\""), "{last}");
    }

    #[test]
    fn slices_a_known_list() {
        let p = paging(Some(2), Some(2));
        assert_eq!(p.slice(vec![1, 2, 3, 4, 5]), (vec![3, 4], 5));
        assert_eq!(paging(Some(9), Some(2)).slice(vec![1, 2]), (vec![], 2));
    }
}
