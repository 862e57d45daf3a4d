//! Organizations and teams through Gitea's generated client (every answer held against
//! Gitea's schema): an owner builds an organization with a repository and a team, a read token
//! cannot change anything, a private organization answers outsiders like a missing one, and
//! removing a member ends their access at once.

use labforge::model::TokenScope;

use crate::gitea_client::GiteaClient;
use crate::helpers::*;

#[tokio::test]
async fn an_owner_builds_an_organization_and_its_teams_through_giteas_client() {
    let app = TestApp::spawn_with(&[("LABFORGE_USERS_MAY_CREATE_ORGS", "true")]).await;
    for u in ["alice", "bob", "carol"] {
        app.create_user(u, &format!("{u}-password")).await;
    }
    let alice = app.create_token("alice", TokenScope::Write).await;
    let alice_read = app.create_token("alice", TokenScope::Read).await;
    let bob = app.create_token("bob", TokenScope::Write).await;
    let carol = app.create_token("carol", TokenScope::Write).await;
    let out = GiteaClient::with_token(&app, &alice)
        .run(&format!(
            r#"
READ, BOB, CAROL = "{alice_read}", "{bob}", "{carol}"
reader = as_caller(token=READ)
b = as_caller(token=BOB)
c = as_caller(token=CAROL)

def failure(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ApiException as e:
        return e.status, e.body
    raise AssertionError("succeeded where a failure was expected")

lab = org.org_create(organization=models.CreateOrgOption(username="lab", description="the lab"))
assert lab.name == "lab" and lab.username == "lab" and lab.visibility == "public", lab
assert status_of(reader.org.org_create, organization=models.CreateOrgOption(username="lab2")) == 403
assert status_of(org.org_create, organization=models.CreateOrgOption(username="lab")) == 422
assert org.org_get("lab").description == "the lab"
assert org.org_edit("lab", body=models.EditOrgOption(description="homelab")).description == "homelab"
assert status_of(reader.org.org_edit, "lab", body=models.EditOrgOption(description="no")) == 403
assert status_of(b.org.org_edit, "lab", body=models.EditOrgOption(description="no")) == 403
assert org.org_get("lab").description == "homelab"

dns = org.create_org_repo("lab", body=models.CreateRepoOption(name="dns", private=True))
assert dns.full_name == "lab/dns" and dns.private and dns.owner.login == "lab", dns
assert status_of(reader.org.create_org_repo, "lab", body=models.CreateRepoOption(name="x")) == 403
assert status_of(b.org.create_org_repo, "lab", body=models.CreateRepoOption(name="x")) == 403
org.create_org_repo("lab", body=models.CreateRepoOption(name="compose"))
repos, _, headers = org.org_list_repos_with_http_info("lab", limit=1)
assert [r.full_name for r in repos] == ["lab/compose"] and headers["X-Total-Count"] == "2", headers
assert 'rel="next"' in headers["Link"], headers
assert [r.full_name for r in b.org.org_list_repos("lab")] == ["lab/compose"]

team = org.org_create_team("lab", body=models.CreateTeamOption(name="ops", permission="write", units=["repo.code"]))
assert team.name == "ops" and team.permission == "write" and not team.includes_all_repositories, team
assert team.organization.name == "lab", team
assert status_of(reader.org.org_create_team, "lab", body=models.CreateTeamOption(name="x")) == 403
assert status_of(b.repo.repo_get, "lab", "dns") == 404
org.org_add_team_member(team.id, "bob")
org.org_add_team_repository(team.id, "lab", "dns")
assert status_of(reader.org.org_add_team_member, team.id, "carol") == 403
assert b.repo.repo_get("lab", "dns").permissions.push, "bob writes through the team"
assert org.org_list_team_member(team.id, "bob").login == "bob"
assert status_of(org.org_list_team_member, team.id, "carol") == 404
assert org.org_list_team_repo(team.id, "lab", "dns").full_name == "lab/dns"
assert status_of(org.org_list_team_repo, team.id, "lab", "compose") == 404
assert org.org_get_team(team.id).name == "ops"
edited = org.org_edit_team(team.id, body=models.EditTeamOption(name="ops", permission="read"))
assert edited.permission == "read", edited
assert status_of(org.org_edit_team, team.id, body=models.EditTeamOption(name="renamed")) == 422
assert not b.repo.repo_get("lab", "dns").permissions.push, "the team's level fell to read"
teams, _, headers = org.org_list_teams_with_http_info("lab")
assert [t.name for t in teams] == ["ops"] and headers["X-Total-Count"] == "1", teams

assert sorted(u.login for u in org.org_list_members("lab")) == ["alice", "bob"]
org.org_is_member("lab", "bob")
assert status_of(org.org_is_member, "lab", "carol") == 404
perms = org.org_get_user_permissions("bob", "lab")
assert perms.can_read and not perms.can_write and not perms.is_owner and not perms.is_admin, perms
assert not perms.can_create_repository, perms
owner = org.org_get_user_permissions("alice", "lab")
assert owner.is_owner and owner.is_admin and owner.can_write and owner.can_create_repository, owner
assert [o.name for o in org.org_list_user_orgs("bob")] == ["lab"]
assert [o.name for o in b.org.org_list_current_user_orgs()] == ["lab"]
assert [o.name for o in c.org.org_get_all()] == ["lab"]

# private: outsiders see it as they see a missing organization
org.org_edit("lab", body=models.EditOrgOption(visibility="private"))
assert failure(c.org.org_get, "lab") == failure(c.org.org_get, "nope")
assert failure(c.org.org_list_teams, "lab")[0] == 404
assert failure(c.org.org_get_team, team.id) == failure(c.org.org_get_team, 999999)
assert c.org.org_list_user_orgs("bob") == [] and c.org.org_get_all() == []
assert [o.name for o in b.org.org_list_user_orgs("alice")] == ["lab"]
assert status_of(c.repo.repo_get, "lab", "compose") == 404

# deleting an organization that owns repositories is refused with their names
status, body = failure(org.org_delete, "lab")
assert status == 409 and "dns" in body and "compose" in body, (status, body)

# removing a member ends their access at once
assert b.repo.repo_get("lab", "dns").full_name == "lab/dns"
org.org_delete_member("lab", "bob")
assert status_of(b.repo.repo_get, "lab", "dns") == 404
assert status_of(b.org.org_get, "lab") == 404
assert status_of(org.org_list_team_member, team.id, "bob") == 404

org.org_remove_team_repository(team.id, "lab", "dns")
assert status_of(org.org_list_team_repo, team.id, "lab", "dns") == 404
org.org_delete_team(team.id)
assert status_of(org.org_get_team, team.id) == 404
repo.repo_delete("lab", "dns")
repo.repo_delete("lab", "compose")
assert status_of(reader.org.org_delete, "lab") == 403
org.org_delete("lab")
assert status_of(org.org_get, "lab") == 404
emit("done")
"#
        ))
        .await;
    assert_eq!(
        out,
        vec![serde_json::json!("done")],
        "the script ran to its end"
    );
}
