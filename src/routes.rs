//! The one way routes are registered, for the web pages, the API and smart HTTP alike: each
//! route is added with the access it needs, and the table of (method, path, need) that this
//! builds beside the router is what the access-matrix test iterates. axum cannot list a
//! router's routes, so a route added any other way would be invisible to that test; a unit
//! test (`only_this_file_registers_routes`) keeps every `.route(` call in this file.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};

use crate::model::RepoAccess;

/// What a route asks of its caller before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone (sign-in forms, assets, the home page, health).
    Public,
    /// A signed-in user, about their own things (their keys, tokens, new repositories).
    SignedIn,
    /// The site's administrators.
    SiteAdmin,
    /// At least this level on the repository named by the path's `{owner}/{repo}`, from
    /// `authorize` through the transport's extractor.
    Repo(RepoAccess),
    /// At least this level on the organization named by the path's `{org}`, from
    /// `authorize_org` through the web's `OrgPage`/`OrgForm` extractors: read to see it, admin
    /// (its owners, site admins) to manage it.
    Org(RepoAccess),
    /// git's own services over HTTP: read for fetches, write for pushes, by the service asked.
    GitService,
}

impl Need {
    pub const READ: Need = Need::Repo(RepoAccess::Read);
    pub const WRITE: Need = Need::Repo(RepoAccess::Write);
    pub const ADMIN: Need = Need::Repo(RepoAccess::Admin);
}

/// One registered route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRecord {
    pub method: Method,
    pub path: String,
    pub need: Need,
}

/// A router and the record of what it holds.
pub struct Routes<S> {
    router: Router<S>,
    table: Vec<RouteRecord>,
}

impl<S> Default for Routes<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Routes<S>
where
    S: Clone + Send + Sync + 'static,
{
    pub fn new() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    /// Adds `handler` for `method` at `path`, recorded with what it needs.
    pub fn add<H, T>(mut self, method: Method, path: &str, need: Need, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .expect("routes use GET, POST, PUT, PATCH or DELETE, which axum filters on");
        self.router = self.router.route(path, on(filter, handler));
        self.table.push(RouteRecord {
            method,
            path: path.to_owned(),
            need,
        });
        self
    }

    pub fn get<H, T>(self, path: &str, need: Need, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(Method::GET, path, need, handler)
    }

    pub fn post<H, T>(self, path: &str, need: Need, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(Method::POST, path, need, handler)
    }

    pub fn put<H, T>(self, path: &str, need: Need, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(Method::PUT, path, need, handler)
    }

    pub fn patch<H, T>(self, path: &str, need: Need, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(Method::PATCH, path, need, handler)
    }

    pub fn delete<H, T>(self, path: &str, need: Need, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(Method::DELETE, path, need, handler)
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// `other` under `prefix` (the API under `/api/v1`), its records prefixed alike.
    pub fn nest(mut self, prefix: &str, other: Routes<S>) -> Self {
        self.router = self.router.nest(prefix, other.router);
        self.table
            .extend(other.table.into_iter().map(|r| RouteRecord {
                path: format!("{prefix}{}", r.path),
                ..r
            }));
        self
    }

    /// Anything else the router needs (fallbacks, layers), applied to the router only.
    pub fn map_router(mut self, f: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = f(self.router);
        self
    }

    pub fn table(&self) -> &[RouteRecord] {
        &self.table
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route goes through `Routes`, so the access matrix sees every one: no other file
    /// calls axum's own registration.
    #[test]
    fn only_this_file_registers_routes() {
        let mut offenders = Vec::new();
        for (path, text) in crate::source_scan::rust_sources() {
            if path.ends_with("src/routes.rs") {
                continue;
            }
            for needle in [".route(\"", ".route_service(", ".nest_service("] {
                if text.contains(needle) {
                    offenders.push(format!("{} ({needle})", path.display()));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "routes registered around `Routes`: {offenders:?}"
        );
    }

    #[test]
    fn the_table_records_method_path_and_need_and_nesting_prefixes_them() {
        async fn h() {}
        let api: Routes<()> = Routes::new().post(
            "/repos/{owner}/{repo}/hooks",
            Need::Repo(RepoAccess::Admin),
            h,
        );
        let all = Routes::new()
            .get("/", Need::Public, h)
            .get("/{owner}/{repo}", Need::Repo(RepoAccess::Read), h)
            .nest("/api/v1", api);
        assert_eq!(
            all.table()
                .iter()
                .map(|r| (r.method.as_str(), r.path.as_str(), r.need))
                .collect::<Vec<_>>(),
            vec![
                ("GET", "/", Need::Public),
                ("GET", "/{owner}/{repo}", Need::Repo(RepoAccess::Read)),
                (
                    "POST",
                    "/api/v1/repos/{owner}/{repo}/hooks",
                    Need::Repo(RepoAccess::Admin)
                ),
            ]
        );
    }
}
