//! Git data through Gitea's own generated client (`gitea_client`): branches, tags, refs,
//! commits, trees, contents (a file, a folder, a symlink, a submodule), raw files and archives,
//! each answer held against Gitea's schema and its values asserted; branch creation and deletion
//! as pushes (protection refuses, a webhook is sent).

use labforge::model::TokenScope;
use serde_json::json;

use crate::gitea_client::GiteaClient;
use crate::helpers::*;

const PW: &str = "alice-password";

/// alice/dns (private): three commits on main (README.md, docs/guide.md, a symlink `link` to
/// README.md, a submodule `vendor/lib`), a lightweight tag v1 and an annotated tag v2.
/// Returns the local clone and main's commits, oldest first.
async fn fixture(app: &TestApp) -> (std::path::PathBuf, Vec<String>) {
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", true).await;
    let dir = app.workdir("dns");
    git_ok(&dir, &["init", "-q", "-b", "main"]).await;
    std::fs::write(dir.join("README.md"), "# dns\n").unwrap();
    git_ok(&dir, &["add", "."]).await;
    git_ok(&dir, &["commit", "-q", "-m", "readme"]).await;
    std::fs::create_dir(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/guide.md"), "guide\n").unwrap();
    git_ok(&dir, &["add", "."]).await;
    git_ok(&dir, &["commit", "-q", "-m", "guide"]).await;
    std::os::unix::fs::symlink("README.md", dir.join("link")).unwrap();
    std::fs::write(
        dir.join(".gitmodules"),
        "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = https://git.lab.example/lib.git\n",
    )
    .unwrap();
    let first = git_ok(&dir, &["rev-parse", "HEAD~1"])
        .await
        .trim()
        .to_owned();
    git_ok(
        &dir,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{first},vendor/lib"),
        ],
    )
    .await;
    git_ok(&dir, &["add", "link", ".gitmodules"]).await;
    git_ok(&dir, &["commit", "-q", "-m", "link and submodule"]).await;
    git_ok(&dir, &["tag", "v1", "HEAD~1"]).await;
    git_ok(&dir, &["tag", "-a", "v2", "-m", "release two"]).await;
    app.push(&dir, ("alice", PW), "alice/dns", &["main", "v1", "v2"])
        .await;
    let log = git_ok(&dir, &["rev-list", "--reverse", "main"]).await;
    (dir, log.lines().map(str::to_owned).collect())
}

#[tokio::test]
async fn git_data_reads_in_giteas_shapes_through_its_client() {
    let app = TestApp::spawn().await;
    let (dir, commits) = fixture(&app).await;
    let v2 = git_ok(&dir, &["rev-parse", "v2"]).await.trim().to_owned();
    let token = app.create_token("alice", TokenScope::Read).await;
    let script = format!(
        r##"
import base64, json, __main__
head, first, second = "{head}", "{first}", "{second}"

branches = repo.repo_list_branches("alice", "dns")
assert [b.name for b in branches] == ["main"], branches
main = repo.repo_get_branch("alice", "dns", "main")
assert main.commit.id == head and main.commit.message == "link and submodule\n", main.commit
assert main.commit.author.email == "author@lab.test" and main.commit.url.endswith("/alice/dns/commit/" + head)
assert main.protected is False and main.user_can_push is False, main
assert status_of(repo.repo_get_branch, "alice", "dns", "nope") == 404

tags = repo.repo_list_tags("alice", "dns")
assert [t.name for t in tags] == ["v1", "v2"], tags
v1, v2 = tags
assert v1.id == second and v1.commit.sha == second and v1.message == "guide"
assert v2.id == "{v2}" and v2.commit.sha == head and v2.message == "release two"
assert v2.tarball_url.endswith("/alice/dns/archive/v2.tar.gz")
assert repo.repo_get_tag("alice", "dns", "v2").id == "{v2}"
annotated = repo.get_annotated_tag("alice", "dns", "{v2}")
assert annotated.tag == "v2" and annotated.object.sha == head and annotated.object.type == "commit"
assert annotated.tagger.email == "author@lab.test" and annotated.message == "release two\n"
assert status_of(repo.get_annotated_tag, "alice", "dns", head) == 404

refs = repo.repo_list_all_git_refs("alice", "dns")
assert [r.ref for r in refs] == ["refs/heads/main", "refs/tags/v1", "refs/tags/v2"], refs
assert refs[2].object.type == "tag" and refs[2].object.sha == "{v2}"
heads = repo.repo_list_git_refs("alice", "dns", "heads")
assert [r.ref for r in heads] == ["refs/heads/main"] and heads[0].object.sha == head
assert status_of(repo.repo_list_git_refs, "alice", "dns", "heads/ma") == 404

one = repo.repo_get_single_commit("alice", "dns", head)
assert one.sha == head and one.commit.message == "link and submodule\n"
assert [p.sha for p in one.parents] == [second]
assert set([".gitmodules", "link"]) <= set(f.filename for f in one.files), one.files
assert all(f.status == "added" for f in one.files), one.files
assert one.stats.additions >= 4 and one.stats.deletions == 0, one.stats
quick = repo.repo_get_single_commit("alice", "dns", head, stat=False, files=False)
assert quick.stats is None and quick.files is None
assert status_of(repo.repo_get_single_commit, "alice", "dns", "not-a-sha") == 422

# History with Gitea's paging headers: three commits, two a page.
page, status, headers = repo.repo_get_all_commits_with_http_info("alice", "dns", stat=False, files=False, limit=2)
assert [c.sha for c in page] == [head, second], page
assert headers["X-Total-Count"] == "3" and headers["X-HasMore"] == "true", headers
assert 'rel="next"' in headers["Link"]
page, status, headers = repo.repo_get_all_commits_with_http_info("alice", "dns", stat=False, limit=2, page=2)
assert [c.sha for c in page] == [first] and headers["X-HasMore"] == "false"
by_path = repo.repo_get_all_commits("alice", "dns", path="docs/guide.md", stat=False)
assert [c.sha for c in by_path] == [second]
assert [c.sha for c in repo.repo_get_all_commits("alice", "dns", sha="v1", stat=False)] == [second, first]

tree = repo.get_tree("alice", "dns", "main", recursive=True)
paths = [(e.path, e.type, e.mode) for e in tree.tree]
assert paths == [(".gitmodules", "blob", "100644"), ("README.md", "blob", "100644"),
                 ("docs", "tree", "040000"), ("docs/guide.md", "blob", "100644"),
                 ("link", "blob", "120000"), ("vendor", "tree", "040000"),
                 ("vendor/lib", "commit", "160000")], paths
assert tree.total_count == 7 and tree.truncated is False and tree.page == 1
assert status_of(repo.get_tree, "alice", "dns", tree.tree[2].sha) == 404

readme = repo.repo_get_contents("alice", "dns", "README.md", ref="v1")
assert readme.type == "file" and readme.encoding == "base64"
assert base64.b64decode(readme.content) == b"# dns\n" and readme.size == 6
assert readme.last_commit_sha == first and readme.target is None
assert readme.links._self == readme.url and "ref=v1" in readme.url
link = repo.repo_get_contents("alice", "dns", "link")
assert link.type == "symlink" and link.target == "README.md" and link.content is None
sub = repo.repo_get_contents("alice", "dns", "vendor/lib")
assert sub.type == "submodule" and sub.submodule_git_url == "https://git.lab.example/lib.git"
assert sub.sha == first and sub.html_url is None and sub.download_url is None
root = repo.repo_get_contents_list("alice", "dns")
assert [(c.name, c.type) for c in root] == [(".gitmodules", "file"), ("README.md", "file"),
    ("docs", "dir"), ("link", "symlink"), ("vendor", "dir")], root
assert all(c.content is None for c in root)
folder = repo.repo_get_contents("alice", "dns", "docs", _preload_content=False)
listed = json.loads(folder.data)
__main__.check(listed, "list[ContentsResponse]", "docs", models)
assert [(c["path"], c["type"], c["last_commit_sha"]) for c in listed] == [("docs/guide.md", "file", second)]
assert status_of(repo.repo_get_contents, "alice", "dns", "nope.txt") == 404
assert status_of(repo.repo_get_contents, "alice", "dns", "README.md", ref="nope") == 404

raw = repo.repo_get_raw_file("alice", "dns", "docs/guide.md", ref="main", _preload_content=False)
assert raw.status == 200 and raw.data == b"guide\n", raw.data
assert raw.headers["Content-Type"].startswith("text/plain") and raw.headers["X-Content-Type-Options"] == "nosniff"
media = repo.repo_get_raw_file_or_lfs("alice", "dns", "README.md", _preload_content=False)
assert media.data == b"# dns\n"
legacy = repo.repo_get_raw_file("alice", "dns", "v1/README.md", _preload_content=False)
assert legacy.data == b"# dns\n"
archive = repo.repo_get_archive("alice", "dns", "v2.tar.gz", _preload_content=False)
assert archive.status == 200 and archive.data[:2] == b"\x1f\x8b" and archive.headers["Content-Type"] == "application/gzip"
emit("read")
"##,
        head = commits[2],
        first = commits[0],
        second = commits[1],
    );
    let out = GiteaClient::with_token(&app, &token).run(&script).await;
    assert_eq!(out, [json!("read")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn branches_are_created_and_deleted_as_pushes() {
    let app = TestApp::spawn_with(crate::webhooks::LOOPBACK).await;
    let (dir, commits) = fixture(&app).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let url = format!("http://127.0.0.1:{}/hook", crate::webhooks::free_port());
    let hook = crate::webhooks::create_hook(&app, &token, &url, "s", json!({})).await;
    // A branch whose only commit nothing else reaches: gone with the branch.
    git_ok(&dir, &["checkout", "-q", "-b", "scratch"]).await;
    git_ok(
        &dir,
        &["commit", "-q", "--allow-empty", "-m", "scratch only"],
    )
    .await;
    let scratch = git_ok(&dir, &["rev-parse", "HEAD"]).await.trim().to_owned();
    app.push(&dir, ("alice", PW), "alice/dns", &["scratch"])
        .await;
    app.forge
        .protect_branch(&app.grant("alice/dns").await, "release/*", false)
        .await
        .unwrap();
    let script = format!(
        r##"
new = repo.repo_create_branch("alice", "dns", body=models.CreateBranchRepoOption(new_branch_name="feature/x", old_ref_name="v1"))
assert new.name == "feature/x" and new.commit.id == "{second}" and new.protected is False and new.user_can_push
assert repo.repo_get_branch("alice", "dns", "feature/x").commit.id == "{second}"
again = models.CreateBranchRepoOption(new_branch_name="feature/x")
assert status_of(repo.repo_create_branch, "alice", "dns", body=again) == 409
bad = models.CreateBranchRepoOption(new_branch_name="a..b")
assert status_of(repo.repo_create_branch, "alice", "dns", body=bad) == 422
rel = repo.repo_create_branch("alice", "dns", body=models.CreateBranchRepoOption(new_branch_name="release/1", old_branch_name="main"))
assert rel.protected is True and rel.effective_branch_protection_name == "release/*"
assert repo.repo_get_branch("alice", "dns", "release/1").protected is True
try:
    repo.repo_delete_branch("alice", "dns", "release/1")
    raise AssertionError("a protected branch was deleted")
except ApiException as e:
    assert e.status == 403 and "deleting it is not allowed" in e.body and "release/*" in e.body, e.body
assert status_of(repo.repo_delete_branch, "alice", "dns", "main") == 403
repo.repo_delete_branch("alice", "dns", "scratch")
assert status_of(repo.repo_get_branch, "alice", "dns", "scratch") == 404
assert status_of(repo.repo_get_single_commit, "alice", "dns", "{scratch}") == 404
assert status_of(repo.repo_delete_branch, "alice", "dns", "scratch") == 404
names = [b.name for b in repo.repo_list_branches("alice", "dns")]
assert names == ["feature/x", "main", "release/1"], names
emit("written")
"##,
        second = commits[1],
    );
    let out = GiteaClient::with_token(&app, &token).run(&script).await;
    assert_eq!(out, [json!("written")]);
    // A branch name with a slash, unencoded (as curl users write it), names the branch too.
    let plain: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/repos/alice/dns/branches/feature/x",
            app.base
        ))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(plain["name"], "feature/x");
    assert_eq!(plain["commit"]["id"], commits[1].as_str());
    // The protected branch is still there, as git sees it.
    let refs = git_ok(
        &app.server_repo("alice/dns"),
        &["for-each-ref", "--format=%(refname)"],
    )
    .await;
    assert!(
        refs.contains("refs/heads/release/1") && !refs.contains("refs/heads/scratch"),
        "{refs}"
    );

    // The creation was a push: its webhook was sent (to nobody listening, so it is logged).
    let payloads = eventually(
        20,
        "the push webhooks of the API's branch writes",
        || async {
            let found: Vec<serde_json::Value> = crate::webhooks::deliveries(&app, &token, hook)
                .await
                .iter()
                .filter_map(|d| serde_json::from_str(d["payload"].as_str()?).ok())
                .collect();
            let has = |r: &str, after: &str| {
                found
                    .iter()
                    .any(|p| p["ref"] == r && (after.is_empty() || p["after"] == after))
            };
            (has("refs/heads/feature/x", "") && has("refs/heads/scratch", labforge::model::ZERO_ID))
                .then_some(found)
        },
    )
    .await;
    let created = payloads
        .iter()
        .find(|p| p["ref"] == "refs/heads/feature/x")
        .expect("a push event for feature/x");
    assert_eq!(created["before"], labforge::model::ZERO_ID);
    assert_eq!(created["after"], commits[1]);
    let deleted = payloads
        .iter()
        .find(|p| p["ref"] == "refs/heads/scratch" && p["deleted"] == true)
        .expect("a push event for the deleted branch");
    assert_eq!(deleted["after"], labforge::model::ZERO_ID);
    assert_eq!(deleted["before"], scratch);
}

/// A recursive tree of more entries than a page holds (Gitea's 1,000): the first page is full
/// and `truncated`, `per_page` above the cap is the cap, and the second page has the rest.
#[tokio::test]
async fn a_tree_past_the_page_cap_is_truncated_and_paged() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PW).await;
    app.create_repo("alice", "big", false).await;
    let dir = app.workdir("big");
    git_ok(&dir, &["init", "-q", "-b", "main"]).await;
    std::fs::create_dir(dir.join("d")).unwrap();
    for i in 0..1_005 {
        std::fs::write(dir.join("d").join(format!("f{i:04}")), "x").unwrap();
    }
    git_ok(&dir, &["add", "."]).await;
    git_ok(&dir, &["commit", "-q", "-m", "many"]).await;
    app.push(&dir, ("alice", PW), "alice/big", &["main"]).await;
    app.create_repo("alice", "empty", false).await;
    let out = GiteaClient::anonymous(&app)
        .run(
            r##"
first = repo.get_tree("alice", "big", "main", recursive=True, per_page=5000)
assert first.total_count == 1006 and first.truncated is True and first.page == 1
assert len(first.tree) == 1000 and first.tree[0].path == "d" and first.tree[1].path == "d/f0000"
second = repo.get_tree("alice", "big", "main", recursive=True, page=2)
assert [e.path for e in second.tree] == ["d/f%04d" % i for i in range(999, 1005)], second.tree
assert second.page == 2
past = repo.get_tree("alice", "big", "main", recursive=True, page=3)
assert past.tree == [] and past.total_count == 1006
assert repo.repo_get_contents_list("alice", "empty") == []
assert status_of(repo.repo_get_contents, "alice", "empty", "README.md") == 404
flat = repo.get_tree("alice", "big", "main")
assert [e.path for e in flat.tree] == ["d"] and flat.truncated is False
emit(len(first.tree) + len(second.tree))
"##,
        )
        .await;
    assert_eq!(out, [json!(1006)]);
}
