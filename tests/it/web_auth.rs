//! Signing in and out of the web UI, and the access matrix of every browsing route.

use reqwest::redirect::Policy;

use crate::helpers::*;

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub(crate) fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Posts the sign-in form as a browser would; returns the response.
pub(crate) async fn post_login(
    app: &TestApp,
    user: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    let form = client()
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    let login_cookie = cookie_value(&set_cookie(&form, "labforge_login").expect("login cookie"));
    let html = form.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    client()
        .post(format!("{}/login", app.base))
        .header("cookie", format!("labforge_login={login_cookie}"))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf", &csrf),
            ("next", next),
        ])
        .send()
        .await
        .unwrap()
}

/// Signs in and returns the `Cookie` header value for the session.
pub(crate) async fn session(app: &TestApp, user: &str, password: &str) -> String {
    let res = post_login(app, user, password, "/").await;
    assert_eq!(res.status(), 303, "sign-in redirects");
    format!(
        "labforge_session={}",
        cookie_value(&set_cookie(&res, "labforge_session").expect("session cookie"))
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_and_out() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;

    let res = post_login(&app, "alice", "wrong-password", "/").await;
    assert_eq!(res.status(), 401);
    assert!(set_cookie(&res, "labforge_session").is_none());
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Wrong user name or password.")
    );

    // A cross-site POST (no matching double-submit cookie) is refused.
    let res = client()
        .post(format!("{}/login", app.base))
        .form(&[
            ("username", "alice"),
            ("password", "alice-password"),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let res = post_login(&app, "alice", "alice-password", "//evil.example/x").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/", "no open redirect");
    let cookie = set_cookie(&res, "labforge_session").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let session = format!("labforge_session={}", cookie_value(&cookie));

    let home = client()
        .get(format!("{}/", app.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let html = home.text().await.unwrap();
    assert!(html.contains("Sign out"), "signed in: {html}");
    let csrf = hidden(&html, "csrf");

    // Sign-out needs the session's CSRF token.
    let res = client()
        .post(format!("{}/logout", app.base))
        .header("cookie", &session)
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = client()
        .post(format!("{}/logout", app.base))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // The old cookie is refused, not silently treated as anonymous.
    let res = client()
        .get(format!("{}/", app.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("Your session has ended"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_attempts_are_rate_limited() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    for _ in 0..10 {
        assert_eq!(
            post_login(&app, "alice", "nope-nope", "/").await.status(),
            401
        );
    }
    let res = post_login(&app, "alice", "alice-password", "/").await;
    assert_eq!(
        res.status(),
        429,
        "even the right password waits once the limit is hit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn access_matrix_of_every_browsing_route() {
    let app = TestApp::spawn().await;
    for u in ["alice", "reader", "outsider"] {
        app.create_user(u, &format!("{u}-password")).await;
    }
    app.create_repo("alice", "pub", false).await;
    app.create_repo("alice", "priv", true).await;
    app.add_collaborator("alice/priv", "reader", "read").await;
    app.add_collaborator("alice/pub", "reader", "read").await;
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    std::fs::create_dir_all(src.join("zones")).unwrap();
    std::fs::write(src.join("zones/db.secret"), "SECRET-CONTENT-4711\n").unwrap();
    std::fs::write(src.join("README.md"), "# SECRET-README-4711\n").unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-q", "-m", "SECRET-SUBJECT-4711"]).await;
    let sha = git_ok(&src, &["rev-parse", "HEAD"]).await.trim().to_owned();
    for repo in ["alice/pub", "alice/priv"] {
        app.push(&src, ("alice", "alice-password"), repo, &["main"])
            .await;
    }
    let routes = [
        String::new(),
        "/tree/main".into(),
        "/tree/main/zones".into(),
        "/blob/main/zones/db.secret".into(),
        "/raw/main/zones/db.secret".into(),
        "/commits/main".into(),
        "/commits/main/zones".into(),
        format!("/commit/{sha}"),
        format!("/commit/{sha}.patch"),
        "/branches".into(),
        "/tags".into(),
        "/archive/main.tar.gz".into(),
        "/archive/main.zip".into(),
    ];
    let reader = session(&app, "reader", "reader-password").await;
    let outsider = session(&app, "outsider", "outsider-password").await;
    let mut checked = 0;
    for (who, cookie) in [
        ("anonymous", None),
        ("reader", Some(&reader)),
        ("outsider", Some(&outsider)),
    ] {
        for repo in ["alice/pub", "alice/priv"] {
            let visible = repo == "alice/pub" || who == "reader";
            for route in &routes {
                let mut req = client().get(format!("{}/{repo}{route}", app.base));
                if let Some(c) = cookie {
                    req = req.header("cookie", c.as_str());
                }
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                let body = res.bytes().await.unwrap();
                let text = String::from_utf8_lossy(&body);
                if visible {
                    assert_eq!(status, 200, "{who} {repo}{route}");
                } else {
                    assert_eq!(status, 404, "{who} {repo}{route}");
                    assert!(!text.contains("4711"), "{who} {repo}{route} leaked content");
                }
                checked += 1;
            }
        }
        // Listings follow the same rule.
        let mut req = client().get(format!("{}/", app.base));
        if let Some(c) = cookie {
            req = req.header("cookie", c.as_str());
        }
        let listing = req.send().await.unwrap().text().await.unwrap();
        assert_eq!(
            listing.contains("alice/priv"),
            who == "reader",
            "{who}'s front page"
        );
    }
    assert_eq!(checked, 3 * 2 * routes.len());
}

/// GET a page as the session, returning (status, body).
pub(crate) async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let res = client()
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

pub(crate) async fn post(
    app: &TestApp,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let res = client()
        .post(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_keys_tokens_password_and_new_repositories() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    // Signed out: sent to sign in, and back afterwards.
    let res = client()
        .get(format!("{}/settings/keys", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?next=/settings/keys");

    let cookie = session(&app, "alice", "alice-password").await;
    let (_, html) = page(&app, &cookie, "/settings/keys").await;
    let csrf = hidden(&html, "csrf");
    assert!(
        html.contains("This server's SSH host key: <code>SHA256:"),
        "host key shown"
    );

    // Keys: add, listed with fingerprint, refused without CSRF, removed.
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAGzC5KUB16oCYBiinwbyRhEcZYlQ5ec1ecYLcopPXN9 test@lab";
    let (status, _) = post(
        &app,
        &cookie,
        "/settings/keys",
        &[("csrf", "forged"), ("title", "laptop"), ("key", key)],
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        page(&app, &cookie, "/settings/keys")
            .await
            .1
            .contains("No SSH keys yet.")
    );
    let (status, html) = post(
        &app,
        &cookie,
        "/settings/keys",
        &[("csrf", &csrf), ("title", "laptop"), ("key", key)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("SHA256:9fF9ieAqxiDEdI8kkRF5Roy1hMadNw/j9fbrNu7uVkM")
            && html.contains("laptop"),
        "{html}"
    );
    let (_, html) = post(
        &app,
        &cookie,
        "/settings/keys",
        &[("csrf", &csrf), ("title", "again"), ("key", key)],
    )
    .await;
    assert!(html.contains("that SSH key is already in use"));
    let (_, html) = post(
        &app,
        &cookie,
        "/settings/keys",
        &[
            ("csrf", &csrf),
            ("title", "bad"),
            ("key", "ssh-ed25519 nonsense"),
        ],
    )
    .await;
    assert!(html.contains("the key data is truncated"), "{html}");
    let id = html
        .split("/settings/keys/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let (status, _) = post(
        &app,
        &cookie,
        &format!("/settings/keys/{id}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        page(&app, &cookie, "/settings/keys")
            .await
            .1
            .contains("No SSH keys yet.")
    );

    // Tokens: shown once, work for git, revoked.
    app.create_repo("alice", "dns", true).await;
    let (_, html) = post(
        &app,
        &cookie,
        "/settings/tokens",
        &[
            ("csrf", &csrf),
            ("title", "ci"),
            ("scope", "read"),
            ("expires_in_days", "30"),
        ],
    )
    .await;
    let token = html
        .split("<code>lf_")
        .nth(1)
        .map(|t| format!("lf_{}", &t[..40]))
        .expect("token shown once");
    assert!(html.contains("expires "), "{html}");
    assert!(
        !page(&app, &cookie, "/settings/tokens")
            .await
            .1
            .contains(&token),
        "not shown again"
    );
    let info_refs = format!(
        "{}/alice/dns.git/info/refs?service=git-upload-pack",
        app.base
    );
    let res = client()
        .get(&info_refs)
        .basic_auth("alice", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let list = page(&app, &cookie, "/settings/tokens").await.1;
    let id = list
        .split("/settings/tokens/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    post(
        &app,
        &cookie,
        &format!("/settings/tokens/{id}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    let res = client()
        .get(&info_refs)
        .basic_auth("alice", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "revoked");

    // Password: the current one is checked, then the new one works and the old one does not.
    let (_, html) = post(
        &app,
        &cookie,
        "/settings/password",
        &[
            ("csrf", &csrf),
            ("current", "wrong-one"),
            ("new", "brand-new-pass"),
            ("confirm", "brand-new-pass"),
        ],
    )
    .await;
    assert!(html.contains("the current password is not right"));
    let (_, html) = post(
        &app,
        &cookie,
        "/settings/password",
        &[
            ("csrf", &csrf),
            ("current", "alice-password"),
            ("new", "brand-new-pass"),
            ("confirm", "brand-new-pass"),
        ],
    )
    .await;
    assert!(html.contains("Your password was changed."));
    assert_eq!(
        post_login(&app, "alice", "alice-password", "/")
            .await
            .status(),
        401
    );
    assert_eq!(
        post_login(&app, "alice", "brand-new-pass", "/")
            .await
            .status(),
        303
    );

    // New repository.
    let res = client()
        .post(format!("{}/new", app.base))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "firewall"),
            ("description", "nftables rules"),
            ("private", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/alice/firewall");
    let (status, html) = page(&app, &cookie, "/alice/firewall").await;
    assert_eq!(status, 200);
    assert!(html.contains("nftables rules") && html.contains("private"));
    assert_eq!(get_anon(&app, "/alice/firewall").await, 404);
    let (_, html) = post(
        &app,
        &cookie,
        "/new",
        &[("csrf", &csrf), ("name", "../x"), ("description", "")],
    )
    .await;
    assert!(html.contains("may only contain"), "{html}");
}

async fn get_anon(app: &TestApp, path: &str) -> u16 {
    client()
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn repository_settings_for_admins_only() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("bob", "bob-password").await;
    app.create_repo("alice", "dns", false).await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    git_ok(&src, &["branch", "stable"]).await;
    app.push(
        &src,
        ("alice", "alice-password"),
        "alice/dns",
        &["main", "stable"],
    )
    .await;
    let alice = session(&app, "alice", "alice-password").await;
    let bob = session(&app, "bob", "bob-password").await;
    let csrf = hidden(&page(&app, &alice, "/alice/dns/settings").await.1, "csrf");
    let bob_csrf = hidden(&page(&app, &bob, "/").await.1, "csrf");

    // A non-admin sees no settings and cannot post them.
    assert_eq!(page(&app, &bob, "/alice/dns/settings").await.0, 404);
    let (status, _) = post(
        &app,
        &bob,
        "/alice/dns/settings",
        &[
            ("csrf", &bob_csrf),
            ("description", "pwned"),
            ("default_branch", "main"),
        ],
    )
    .await;
    assert_eq!(status, 404);

    // General: description, visibility, default branch (HEAD follows).
    let (status, html) = post(
        &app,
        &alice,
        "/alice/dns/settings",
        &[
            ("csrf", &csrf),
            ("description", "Zones"),
            ("default_branch", "stable"),
            ("private", "on"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Saved."), "{html}");
    assert_eq!(
        git_ok(&app.server_repo("alice/dns"), &["symbolic-ref", "HEAD"])
            .await
            .trim(),
        "refs/heads/stable"
    );
    assert_eq!(get_anon(&app, "/alice/dns").await, 404, "now private");
    let (_, html) = post(
        &app,
        &alice,
        "/alice/dns/settings",
        &[
            ("csrf", &csrf),
            ("description", "Zones"),
            ("default_branch", "../x"),
            ("private", "on"),
        ],
    )
    .await;
    assert!(html.contains("is not a valid branch name"));

    // Collaborators: bob gets read, sees it, loses it again.
    assert_eq!(page(&app, &bob, "/alice/dns").await.0, 404);
    let (_, html) = post(
        &app,
        &alice,
        "/alice/dns/settings/collaborators",
        &[("csrf", &csrf), ("user", "bob"), ("access", "read")],
    )
    .await;
    assert!(html.contains("bob now has read access."), "{html}");
    assert_eq!(page(&app, &bob, "/alice/dns").await.0, 200);
    let (_, html) = post(
        &app,
        &alice,
        "/alice/dns/settings/collaborators",
        &[("csrf", &csrf), ("user", "nobody-here"), ("access", "read")],
    )
    .await;
    assert!(html.contains("there is no user"), "{html}");
    let (status, _) = post(
        &app,
        &alice,
        "/alice/dns/settings/collaborators/bob/remove",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(page(&app, &bob, "/alice/dns").await.0, 404);

    // Delete needs the typed name; the folder goes to the trash, not away.
    let (_, html) = post(
        &app,
        &alice,
        "/alice/dns/settings/delete",
        &[("csrf", &csrf), ("confirm", "dns")],
    )
    .await;
    assert!(html.contains("Type alice/dns exactly"));
    assert_eq!(page(&app, &alice, "/alice/dns").await.0, 200);
    let (status, _) = post(
        &app,
        &alice,
        "/alice/dns/settings/delete",
        &[("csrf", &csrf), ("confirm", "alice/dns")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(page(&app, &alice, "/alice/dns").await.0, 404);
    assert!(!app.server_repo("alice/dns").exists());
    let trash: Vec<_> = std::fs::read_dir(app.data.path().join("repos/.trash"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(trash.len(), 1, "moved to the trash");
}
