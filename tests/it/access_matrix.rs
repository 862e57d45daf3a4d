//! The access matrix, enumerated from the router itself (`labforge::app::route_table`): every
//! route registered through `Routes` is requested by anonymous visitors, an outsider, a reader, a
//! writer, the owner and a read-scoped token of the owner, on a public and a private repository,
//! and its answer is held against the level the route declares:
//! - an actor who cannot see the repository gets exactly the answer a missing repository gets
//!   (existence never leaks);
//! - an actor who sees it but lacks the level gets the web's 404 or the API's 403 (401 for
//!   writes without credentials), never the page;
//! - an actor with the level gets past the access decision (an answer unlike the missing
//!   repository's). Forms are sent with a wrong CSRF token and API writes with a body that does
//!   not parse, so nothing changes while every decision is taken.
//!
//! Organizations (issue 24): the organization `lab` owns `lab/priv`, which its owner, members of
//! teams with read, write and admin on it, a member of another team and a non-member request;
//! the private organization `hid` owns a public `hid/dns`, which outsiders must find exactly
//! like a missing repository. Organization routes (`Need::Org`) are requested on `lab` and
//! `hid` alike, against the organization-level rule.
//!
//! Site administration routes (`Need::SiteAdmin`) have their own test at the end: anyone but
//! a signed-in site admin gets what a missing address gets.

use std::collections::BTreeMap;

use labforge::model::{RepoAccess, TokenScope};
use labforge::routes::{Need, RouteRecord};
use reqwest::Method;

use crate::helpers::*;
use crate::web_auth::{client, session};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Outsider,
    Reader,
    Writer,
    Owner,
    /// The owner's read-scoped token (API and git only: the web has sessions).
    ReadToken,
    /// An owner of the organizations `lab` and `hid`.
    OrgOwner,
    /// Members of `lab`'s teams with read, write and admin on `lab/priv`.
    TeamRead,
    TeamWrite,
    TeamAdmin,
    /// A member of `lab` whose team covers another repository only.
    OtherTeam,
}

const EVERYONE: [Who; 6] = [
    Who::Anonymous,
    Who::Outsider,
    Who::Reader,
    Who::Writer,
    Who::Owner,
    Who::ReadToken,
];

/// Who requests the organization's repository, and the organization's routes.
const ORG_ROLES: [Who; 6] = [
    Who::OrgOwner,
    Who::TeamRead,
    Who::TeamWrite,
    Who::TeamAdmin,
    Who::OtherTeam,
    Who::Outsider,
];

/// The level `who` has on `target`: a repository (`alice/pub`, `alice/priv`, `lab/priv`,
/// `hid/dns`) or, for organization routes, an organization (`lab`, `hid`).
fn level(who: Who, target: &str) -> RepoAccess {
    use RepoAccess::*;
    match (target, who) {
        ("alice/pub" | "alice/priv", Who::Reader | Who::ReadToken) => Read,
        ("alice/pub" | "alice/priv", Who::Writer) => Write,
        ("alice/pub" | "alice/priv", Who::Owner) => Admin,
        ("alice/pub", _) => Read,
        ("lab/priv" | "hid/dns" | "lab" | "hid", Who::OrgOwner) => Admin,
        ("lab/priv", Who::TeamRead) => Read,
        ("lab/priv", Who::TeamWrite) => Write,
        ("lab/priv", Who::TeamAdmin) => Admin,
        // `lab` is public: anyone sees the organization itself.
        ("lab", _) => Read,
        _ => None,
    }
}

struct Credentials {
    cookies: BTreeMap<&'static str, String>,
    tokens: BTreeMap<&'static str, String>,
}

impl Credentials {
    fn user(who: Who) -> Option<&'static str> {
        match who {
            Who::Anonymous => None,
            Who::Outsider => Some("outsider"),
            Who::Reader => Some("reader"),
            Who::Writer => Some("writer"),
            Who::Owner => Some("alice"),
            Who::ReadToken => Some("alice-read"),
            Who::OrgOwner => Some("orgowner"),
            Who::TeamRead => Some("tread"),
            Who::TeamWrite => Some("twrite"),
            Who::TeamAdmin => Some("tadmin"),
            Who::OtherTeam => Some("other"),
        }
    }
}

/// The path with its parameters filled: the repository's, and for the others values that get
/// an allowed request past the access decision (numeric ids that do not parse answer 400 there).
fn fill(path: &str, repo: &str, sha: &str, method: &Method) -> String {
    let reading = *method == Method::GET;
    let mut out = path
        .replace("{owner}/{repo}", repo)
        .replace("{org}", repo)
        .replace("{team}", "readers");
    let kind = out
        .split('/')
        .nth(if out.starts_with("/api/") { 6 } else { 3 })
        .unwrap_or("")
        .to_owned();
    let rest = match kind.as_str() {
        "tree" | "commits" => "main",
        "blob" | "raw" | "blame" | "_edit" => "main/README.md",
        "archive" => "main.tar.gz",
        _ => "main",
    };
    // API writes name a user that does not exist: removing or changing the reader's access
    // would change every later case (the web's forms stop at their CSRF check first).
    let user = if !reading && out.starts_with("/api/") {
        "nobody"
    } else {
        "reader"
    };
    for (param, value) in [
        ("{*rest}", rest),
        ("{*spec}", "main...main"),
        ("{*filepath}", "README.md"),
        ("{sha}", sha),
        ("{rev}", "main"),
        ("{user}", user),
        ("{username}", user),
        ("{name}", "x"),
        ("{delivery}", "x"),
        // Git data (`api::git`): main exists; a write names a branch that does not, so a
        // writer's DELETE is decided and answered 404 without deleting main.
        ("{*branch}", if reading { "main" } else { "no-such-branch" }),
        ("{tag}", "v1"),
        ("{*ref}", "heads/main"),
        ("{*path}", "README.md"),
        ("{*archive}", "main.tar.gz"),
    ] {
        out = out.replace(param, value);
    }
    if kind == "commit" {
        out = out.replace("{id}", sha);
    }
    // Reading: issue 1 exists; other ids do not parse, so a page that took its grant answers
    // 400 (a page reads its grant before the rest of its path). Forms read the rest of the
    // path first (their extractor reads the body, so it comes last): an id that parses but
    // names nothing gets them to the grant and its CSRF check.
    let (number, id) = if reading {
        ("1", "x")
    } else {
        ("999999", "999999")
    };
    out.replace("{number}", number)
        .replace("{index}", number)
        .replace("{id}", id)
}

struct Answer {
    status: u16,
    body: String,
    /// Where a redirect points.
    location: String,
}

impl Answer {
    /// The web's "sign in first" (a form, or a page only signed-in users have).
    fn asks_to_sign_in(&self) -> bool {
        (300..400).contains(&self.status) && self.location.starts_with("/login?next=")
    }
}

async fn send(
    app: &TestApp,
    creds: &Credentials,
    who: Who,
    record: &RouteRecord,
    url_path: &str,
) -> Answer {
    let api = url_path.starts_with("/api/");
    let url = format!("{}{url_path}", app.base);
    let mut req = client().request(record.method.clone(), &url);
    if let Some(user) = Credentials::user(who) {
        if api {
            req = req.header("authorization", format!("token {}", creds.tokens[user]));
        } else if let Some(cookie) = creds.cookies.get(user) {
            req = req.header("cookie", cookie.as_str());
        }
    }
    if record.method != Method::GET {
        req = if api {
            req.header("content-type", "application/json").body("{")
        } else {
            req.form(&[("csrf", "not-the-session-token")])
        };
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = res.text().await.unwrap_or_default();
    Answer {
        status,
        body,
        location,
    }
}

/// The API's team routes name a team by id: the organization's first team (`lab`'s
/// `admins`, `hid`'s `hidden`), so the decision is taken on the organization the case is
/// about; a missing organization's team is an id no team has. Deleting a team is asked of the
/// organization's `spare` team (no case depends on it), one case at a time, the owner's last.
async fn team_path(app: &TestApp, record: &RouteRecord, org: &str) -> String {
    let path = &record.path;
    if !path.starts_with("/api/v1/teams/{id}") {
        return path.clone();
    }
    let wanted = if deletes_a_team(record) { "spare" } else { "" };
    let id = match labforge::model::Username::parse(org) {
        Ok(name) => match app
            .forge
            .grant_org_for_operator::<labforge::domain::Read>(&app.system_key, &name)
            .await
        {
            Ok(grant) => {
                let teams = app.forge.teams(&grant).await.unwrap();
                let team = teams.iter().find(|t| wanted.is_empty() || t.name == wanted);
                team.expect("the organization has its teams").id
            }
            Err(_) => 999_999,
        },
        Err(_) => 999_999,
    };
    path.replace("{id}", &id.to_string())
}

fn deletes_a_team(record: &RouteRecord) -> bool {
    record.method == Method::DELETE && record.path == "/api/v1/teams/{id}"
}

/// `DELETE /api/v1/repos/{owner}/{repo}` is the one route whose allowed case cannot be kept
/// from acting (it has no body to refuse): it runs last, its cases one at a time, the owner's
/// (which delete the test's repositories) after everyone else's.
fn destroys_the_repository(record: &RouteRecord) -> bool {
    record.method == Method::DELETE && record.path == "/api/v1/repos/{owner}/{repo}"
}

/// One request as `who` and the same request for a repository that does not exist.
async fn ask(
    app: &TestApp,
    creds: &Credentials,
    record: &RouteRecord,
    sha: &str,
    who: Who,
    repo: &str,
) -> (String, Answer, Answer) {
    let path = fill(
        &team_path(app, record, repo).await,
        repo,
        sha,
        &record.method,
    );
    let missing_template = team_path(app, record, &missing(repo)).await;
    let missing_path = fill(&missing_template, &missing(repo), sha, &record.method);
    let answer = send(app, creds, who, record, &path).await;
    let missing = send(app, creds, who, record, &missing_path).await;
    (path, answer, missing)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_answers_by_the_level_it_declares() {
    let mut table = labforge::app::route_table();
    table.sort_by_key(destroys_the_repository);
    assert!(
        table.last().is_some_and(destroys_the_repository),
        "the table has the API's repository DELETE"
    );
    assert!(
        table.len() > 90,
        "the table lists the routes: {}",
        table.len()
    );
    let app = TestApp::spawn().await;
    const USERS: [&str; 9] = [
        "alice", "reader", "writer", "outsider", "orgowner", "tread", "twrite", "tadmin", "other",
    ];
    for u in USERS {
        app.create_user(u, &format!("{u}-password")).await;
    }
    organizations(&app).await;
    app.create_repo("alice", "pub", false).await;
    app.create_repo("alice", "priv", true).await;
    for repo in ["alice/pub", "alice/priv"] {
        app.add_collaborator(repo, "reader", "read").await;
        app.add_collaborator(repo, "writer", "write").await;
    }
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    std::fs::write(src.join("README.md"), "# SECRET-README-4711\n").unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-q", "-m", "SECRET-SUBJECT-4711"]).await;
    git_ok(&src, &["tag", "v1"]).await;
    let sha = git_ok(&src, &["rev-parse", "HEAD"]).await.trim().to_owned();
    let mut creds = Credentials {
        cookies: BTreeMap::new(),
        tokens: BTreeMap::new(),
    };
    for u in USERS {
        creds
            .cookies
            .insert(u, session(&app, u, &format!("{u}-password")).await);
        creds
            .tokens
            .insert(u, app.create_token(u, TokenScope::Write).await);
    }
    creds.tokens.insert(
        "alice-read",
        app.create_token("alice", TokenScope::Read).await,
    );
    for (repo, owner) in [
        ("alice/pub", "alice"),
        ("alice/priv", "alice"),
        ("lab/priv", "orgowner"),
        ("hid/dns", "orgowner"),
    ] {
        let password = format!("{owner}-password");
        app.push(&src, (owner, &password), repo, &["main", "v1"])
            .await;
        let res = client()
            .post(format!("{}/api/v1/repos/{repo}/issues", app.base))
            .header("authorization", format!("token {}", creds.tokens[owner]))
            .json(&serde_json::json!({"title": "SECRET-ISSUE-4711"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{:?}", res.text().await);
    }

    let mut checked = 0;
    let mut failures = Vec::new();
    for record in &table {
        let api = record.path.starts_with("/api/");
        let (need, mut cases): (RepoAccess, Vec<(Who, &str)>) = match record.need {
            Need::Repo(need) => {
                let mut cases: Vec<(Who, &str)> = EVERYONE
                    .into_iter()
                    .filter(|who| api || *who != Who::ReadToken)
                    .flat_map(|who| [(who, "alice/pub"), (who, "alice/priv")])
                    .collect();
                cases.extend(ORG_ROLES.into_iter().map(|who| (who, "lab/priv")));
                cases.extend(
                    [Who::Anonymous, Who::Outsider, Who::TeamAdmin]
                        .into_iter()
                        .map(|who| (who, "hid/dns")),
                );
                (need, cases)
            }
            Need::Org(need) => {
                let whos = [Who::Anonymous, Who::Outsider, Who::TeamRead, Who::OrgOwner];
                let cases = whos
                    .into_iter()
                    .flat_map(|who| [(who, "lab"), (who, "hid")])
                    .collect();
                (need, cases)
            }
            _ => continue,
        };
        let answers = if destroys_the_repository(record) || deletes_a_team(record) {
            // One at a time, admins last and one admin per repository: the first admin's
            // request deletes it, so a second would find it missing.
            cases.sort_by_key(|&(who, repo)| level(who, repo) == RepoAccess::Admin);
            let mut deleted = std::collections::BTreeSet::new();
            cases.retain(|&(who, repo)| {
                level(who, repo) < RepoAccess::Admin || deleted.insert(repo)
            });
            let mut answers = Vec::new();
            for &(who, repo) in &cases {
                answers.push(ask(&app, &creds, record, &sha, who, repo).await);
            }
            answers
        } else {
            // One route's cases at once (a dozen requests): the run stays short, and no two
            // routes' requests interleave (a write route's refusal cannot race a read of it).
            futures_util::future::join_all(
                cases
                    .iter()
                    .map(|&(who, repo)| ask(&app, &creds, record, &sha, who, repo)),
            )
            .await
        };
        for (&(who, repo), (path, answer, missing_answer)) in cases.iter().zip(answers) {
            let missing_name = missing(repo);
            let missing_body = missing_answer.body.replace(&missing_name, repo);
            let have = level(who, repo);
            let case = format!(
                "{} {path} as {who:?} ({have:?}, needs {need:?})",
                record.method
            );
            let same_as_missing = answer.status == missing_answer.status
                && answer.body == missing_body
                && answer.location == missing_answer.location.replace(&missing_name, repo);
            if answer.status >= 500 {
                failures.push(format!("{case}: {} {}", answer.status, answer.body));
            } else if have >= need {
                // Taking part needs an account: anonymous writes are asked for one (the web's
                // sign-in form, the API's 401) before any repository is looked up.
                let needs_account = who == Who::Anonymous
                    && (answer.asks_to_sign_in()
                        || (api && record.method != Method::GET && answer.status == 401));
                // A route about one thing in the repository (a hook, a mirror) may answer that
                // the thing does not exist, in the same words as a missing repository: past the
                // decision, but not distinguishable from outside. What matters there is tested
                // by the denials below and by each feature's own tests.
                let names_a_thing = answer.status == 404
                    && [
                        "{id}",
                        "{name}",
                        "{delivery}",
                        "{team}",
                        "{username}",
                        // Gitea's "is a collaborator": 404 for a user who is not one (reader
                        // on lab/priv).
                        "/collaborators/{user}",
                        "{*branch}",
                        "/git/tags/",
                    ]
                    .iter()
                    .any(|p| record.path.contains(p));
                if same_as_missing && !needs_account && !names_a_thing {
                    failures.push(format!(
                        "{case}: allowed, but answered as for a missing repository ({})",
                        answer.status
                    ));
                }
            } else if have == RepoAccess::None || !api {
                // The web answers a visible repository's too-high page as a missing one (settings)
                // or with 403 and a sentence (a reader's re-run button); never the page itself.
                let web_refusal = !api && have > RepoAccess::None && answer.status == 403;
                if !same_as_missing && !web_refusal {
                    failures.push(format!(
                        "{case}: not visible, but answered unlike a missing repository: {} {} / {} {}",
                        answer.status,
                        answer.body.chars().take(200).collect::<String>(),
                        missing_answer.status,
                        missing_body.chars().take(200).collect::<String>()
                    ));
                }
            } else if !matches!(answer.status, 401 | 403) {
                failures.push(format!(
                    "{case}: too low a level, answered {} {}",
                    answer.status,
                    answer.body.chars().take(200).collect::<String>()
                ));
            }
            if have < need && answer.body.contains("4711") {
                failures.push(format!("{case}: leaked content"));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 1500, "{checked}");
}

/// What stands for `target` when it does not exist: `OWNER/nope` for a repository, `nope` for
/// an organization.
fn missing(target: &str) -> String {
    match target.split_once('/') {
        Some((owner, _)) => format!("{owner}/nope"),
        None => "nope".to_owned(),
    }
}

/// `lab` (public) owns `lab/priv` and `lab/else`; its teams give tread, twrite and tadmin
/// their levels on `lab/priv` and other admin on `lab/else` only. `hid` (private) owns a
/// public `hid/dns`. orgowner owns both organizations.
async fn organizations(app: &TestApp) {
    use labforge::domain::orgs::TeamSettings;
    use labforge::model::{OrgVisibility, RepoName, TeamName, Username};
    let key = &app.system_key;
    let forge = &app.forge;
    let name = |s: &str| Username::parse(s).unwrap();
    for (org, visibility) in [
        ("lab", OrgVisibility::Public),
        ("hid", OrgVisibility::Private),
    ] {
        forge
            .create_org_as_operator(key, &name(org), "", visibility)
            .await
            .unwrap();
        let grant = forge.grant_org_for_operator(key, &name(org)).await.unwrap();
        forge
            .set_org_member(&grant, &name("orgowner"), true)
            .await
            .unwrap();
    }
    app.create_repo("lab", "priv", true).await;
    app.create_repo("lab", "else", true).await;
    app.create_repo("hid", "dns", false).await;
    let hid = forge
        .grant_org_for_operator(key, &name("hid"))
        .await
        .unwrap();
    let hidden = TeamSettings {
        access: RepoAccess::Read,
        all_repos: true,
        can_create: false,
    };
    forge
        .create_team(&hid, &TeamName::parse("hidden").unwrap(), &hidden, &[])
        .await
        .unwrap();
    for org in ["lab", "hid"] {
        let grant = forge.grant_org_for_operator(key, &name(org)).await.unwrap();
        forge
            .create_team(&grant, &TeamName::parse("spare").unwrap(), &hidden, &[])
            .await
            .unwrap();
    }
    let grant = forge
        .grant_org_for_operator(key, &name("lab"))
        .await
        .unwrap();
    for (team, member, access, repo) in [
        ("readers", "tread", RepoAccess::Read, "priv"),
        ("writers", "twrite", RepoAccess::Write, "priv"),
        ("admins", "tadmin", RepoAccess::Admin, "priv"),
        ("others", "other", RepoAccess::Admin, "else"),
    ] {
        let team = TeamName::parse(team).unwrap();
        let settings = TeamSettings {
            access,
            all_repos: false,
            can_create: false,
        };
        forge
            .create_team(&grant, &team, &settings, &[RepoName::parse(repo).unwrap()])
            .await
            .unwrap();
        forge
            .add_team_member(&grant, &team, &name(member))
            .await
            .unwrap();
    }
}

/// A path prefix no route matches.
const NOWHERE: &str = "/-/-/-/-/-/-/-/nothing";

/// The site administration routes (`Need::SiteAdmin`), from the same table: anonymous
/// visitors, a user, a user who owns repositories, a disabled admin and a token (even an
/// admin's) get exactly what an address that does not exist gets (same status, same bytes);
/// the site admin gets the page (GET) or past the decision to the CSRF check (POST: 403, so
/// nothing changes).
#[tokio::test(flavor = "multi_thread")]
async fn site_admin_routes_are_a_missing_page_to_everyone_else() {
    let table = labforge::app::route_table();
    let admin_routes: Vec<&RouteRecord> =
        table.iter().filter(|r| r.need == Need::SiteAdmin).collect();
    assert!(admin_routes.len() >= 15, "{admin_routes:?}");
    let app = TestApp::spawn().await;
    for (name, is_admin) in [("root", true), ("fallen", true), ("alice", false)] {
        app.forge
            .create_user(
                &labforge::model::Username::parse(name).unwrap(),
                &labforge::model::Email::parse(&format!("{name}@lab.test")).unwrap(),
                &format!("{name}-password"),
                is_admin,
            )
            .await
            .unwrap();
    }
    app.create_repo("alice", "dns", false).await;
    let root = session(&app, "root", "root-password").await;
    let alice = session(&app, "alice", "alice-password").await;
    let fallen = session(&app, "fallen", "fallen-password").await;
    let root_token = app.create_token("root", TokenScope::Write).await;
    // An admin disabled after signing in: the session ended; their old cookie is refused.
    let operator = app.forge.site_admin_for_operator(&app.system_key);
    app.forge
        .set_user_disabled(
            &operator,
            &labforge::model::Username::parse("fallen").unwrap(),
            true,
        )
        .await
        .unwrap();

    let request = |method: &Method, path: &str, cookie: Option<&str>, token: Option<&str>| {
        let mut req = client().request(method.clone(), format!("{}{path}", app.base));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(t) = token {
            req = req.header("authorization", format!("token {t}"));
        }
        if *method != Method::GET {
            req = req.form(&[("csrf", "not-the-session-token")]);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.text().await.unwrap_or_default())
        }
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for record in admin_routes {
        let path = record.path.replace("{user}", "alice").replace("{id}", "1");
        // An address no route matches (the router's fallback; `/-/nothing` alone would be
        // taken for `/{owner}/{repo}`), with the rest of the path kept.
        let missing = path.replacen("/-/admin", NOWHERE, 1);
        let callers: [(&str, Option<&str>, Option<&str>); 5] = [
            ("anonymous", None, None),
            ("a user", Some(&alice), None),
            ("a disabled admin", Some(&fallen), None),
            ("an admin's token", None, Some(&root_token)),
            (
                "a user with an admin's token",
                Some(&alice),
                Some(&root_token),
            ),
        ];
        for (who, cookie, token) in callers {
            let (status, body) = request(&record.method, &path, cookie, token).await;
            let (want_status, want_body) = request(&record.method, &missing, cookie, token).await;
            let want_body = want_body.replace(NOWHERE, "/-/admin");
            if status != want_status || body != want_body {
                failures.push(format!(
                    "{} {path} as {who}: {status} {} / missing: {want_status} {}",
                    record.method,
                    body.chars().take(200).collect::<String>(),
                    want_body.chars().take(200).collect::<String>()
                ));
            }
            checked += 1;
        }
        let (status, body) = request(&record.method, &path, Some(&root), None).await;
        let want = if record.method == Method::GET {
            200
        } else {
            403
        };
        if status != want {
            failures.push(format!(
                "{} {path} as the admin: {status}, wanted {want}: {}",
                record.method,
                body.chars().take(200).collect::<String>()
            ));
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Who asks a user-level API route (`Need::SignedIn` or `Need::Public` under `/api/v1`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Anonymous,
    /// alice's write token.
    Token,
    /// alice's read token.
    ReadToken,
    /// alice with HTTP Basic and her password.
    Password,
    /// another user with Basic and their password, on alice's `{user}` routes.
    OtherPassword,
}

/// The user-level API routes, enumerated from the same table: a signed-in route refuses the
/// anonymous (401); the token routes (`/users/{user}/tokens…`) take only Basic with the
/// password (a token is 401) and only for oneself (403); a read token never writes (403);
/// everyone allowed gets past the decision; a token in the URL is refused everywhere (401).
#[tokio::test(flavor = "multi_thread")]
async fn every_user_route_answers_by_who_asks() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("bob", "bob-password").await;
    let write = app.create_token("alice", TokenScope::Write).await;
    let read = app.create_token("alice", TokenScope::Read).await;
    let basic = |user: &str| {
        let pair = format!("{user}:{user}-password");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for record in labforge::app::route_table() {
        let Some(route) = record.path.strip_prefix("/api/v1") else {
            continue;
        };
        if !matches!(record.need, Need::SignedIn | Need::Public) {
            continue;
        }
        let reading = record.method == Method::GET;
        let path = route
            .replace("{user}", "alice")
            .replace("{id}", if reading { "x" } else { "999999" });
        let password_only = route.starts_with("/users/{user}/tokens");
        for caller in [
            Caller::Anonymous,
            Caller::Token,
            Caller::ReadToken,
            Caller::Password,
            Caller::OtherPassword,
        ] {
            let auth = match caller {
                Caller::Anonymous => None,
                Caller::Token => Some(format!("token {write}")),
                Caller::ReadToken => Some(format!("token {read}")),
                Caller::Password => Some(basic("alice")),
                Caller::OtherPassword => Some(basic("bob")),
            };
            let mut req =
                client().request(record.method.clone(), format!("{}/api/v1{path}", app.base));
            if let Some(auth) = auth {
                req = req.header("authorization", auth);
            }
            if !reading {
                req = req.header("content-type", "application/json").body("{");
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default();
            let expected: &[u16] = match (record.need, caller) {
                (Need::Public, _) => &[],
                (_, Caller::Anonymous) => &[401],
                (_, Caller::Token | Caller::ReadToken) if password_only => &[401],
                (_, Caller::OtherPassword) if password_only => &[403],
                (_, Caller::ReadToken) if !reading => &[403],
                _ => &[],
            };
            let case = format!("{} {path} as {caller:?}", record.method);
            if status >= 500 {
                failures.push(format!("{case}: {status} {body}"));
            } else if expected.is_empty() && matches!(status, 401 | 403) {
                failures.push(format!("{case}: allowed, but refused: {status} {body}"));
            } else if !expected.is_empty() && !expected.contains(&status) {
                failures.push(format!(
                    "{case}: expected {expected:?}, got {status} {body}"
                ));
            }
            checked += 1;
        }
        let with_query = format!("{}/api/v1{path}?token={write}", app.base);
        let status = client()
            .request(record.method.clone(), with_query)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status != 401 {
            failures.push(format!("{} {path}?token=: {status}", record.method));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 5 * 15, "{checked}");
}
