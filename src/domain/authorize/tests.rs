//! The access rule, rule by rule, then every combination of role source, organization
//! visibility, repository visibility and token scope against an independent reading of the
//! issue's sentence ("the highest of …; then capped by a token's scope").

use super::*;
use crate::model::{TokenScope, User};

const OWNER: i64 = 10;

fn repo(private: bool) -> Repo {
    Repo {
        id: 1,
        owner_id: OWNER,
        owner: "lab".into(),
        name: "dns".into(),
        description: String::new(),
        is_private: private,
        default_branch: "main".into(),
        is_archived: false,
        open_issues: None,
    }
}

fn actor(id: i64, role: SiteRole, scope: Option<TokenScope>) -> Actor {
    Actor {
        user: User {
            id,
            name: format!("u{id}"),
            email: String::new(),
            role,
        },
        scope,
    }
}

/// The rule for a user or a visitor (most of these tests' principal).
fn rule(actor: Option<&Actor>, repo: &Repo, facts: &AccessFacts) -> RepoAccess {
    effective_access(&Principal::from_actor(actor), repo, facts)
}

fn user(id: i64) -> Actor {
    actor(id, SiteRole::User, None)
}

fn none() -> AccessFacts {
    AccessFacts::default()
}

fn collab(level: RepoAccess) -> AccessFacts {
    AccessFacts {
        collaborator: Some(level),
        org: None,
    }
}

fn org(visibility: OrgVisibility, role: Option<OrgRole>, team: Option<RepoAccess>) -> AccessFacts {
    AccessFacts {
        collaborator: None,
        org: Some(OrgFacts {
            visibility,
            role,
            team,
        }),
    }
}

#[test]
fn anonymous_reads_public_only() {
    assert_eq!(rule(None, &repo(false), &none()), RepoAccess::Read);
    assert_eq!(rule(None, &repo(true), &none()), RepoAccess::None);
}

#[test]
fn owner_and_site_admin_have_admin() {
    let admin = actor(99, SiteRole::Admin, None);
    for facts in [none(), org(OrgVisibility::Private, None, None)] {
        assert_eq!(
            rule(Some(&user(OWNER)), &repo(true), &facts),
            RepoAccess::Admin
        );
        assert_eq!(rule(Some(&admin), &repo(true), &facts), RepoAccess::Admin);
    }
}

#[test]
fn outsider_sees_nothing_private() {
    let outsider = user(11);
    assert_eq!(
        rule(Some(&outsider), &repo(true), &none()),
        RepoAccess::None
    );
    assert_eq!(
        rule(Some(&outsider), &repo(false), &none()),
        RepoAccess::Read
    );
}

#[test]
fn collaborator_gets_their_level() {
    let c = user(12);
    for level in [RepoAccess::Read, RepoAccess::Write, RepoAccess::Admin] {
        assert_eq!(rule(Some(&c), &repo(true), &collab(level)), level);
    }
}

#[test]
fn org_owners_have_admin_on_every_repository_of_the_org() {
    for visibility in OrgVisibility::ALL {
        let facts = org(*visibility, Some(OrgRole::Owner), None);
        assert_eq!(
            rule(Some(&user(20)), &repo(true), &facts),
            RepoAccess::Admin,
            "{visibility}"
        );
    }
}

#[test]
fn team_members_get_their_teams_level_on_the_repositories_it_covers() {
    // `team` is the highest level of the actor's teams that cover this repository (storage
    // applies "all repositories or the chosen list"); None when no team covers it.
    let m = user(21);
    for level in [RepoAccess::Read, RepoAccess::Write, RepoAccess::Admin] {
        let facts = org(OrgVisibility::Public, Some(OrgRole::Member), Some(level));
        assert_eq!(rule(Some(&m), &repo(true), &facts), level);
    }
    let uncovered = org(OrgVisibility::Public, Some(OrgRole::Member), None);
    assert_eq!(
        rule(Some(&m), &repo(true), &uncovered),
        RepoAccess::None,
        "a member whose teams do not cover a private repository does not see it"
    );
    assert_eq!(rule(Some(&m), &repo(false), &uncovered), RepoAccess::Read);
}

#[test]
fn the_higher_of_team_and_collaborator_wins() {
    let m = user(22);
    let mut facts = org(
        OrgVisibility::Private,
        Some(OrgRole::Member),
        Some(RepoAccess::Read),
    );
    facts.collaborator = Some(RepoAccess::Write);
    assert_eq!(rule(Some(&m), &repo(true), &facts), RepoAccess::Write);
    facts.collaborator = Some(RepoAccess::Read);
    facts.org = facts.org.map(|o| OrgFacts {
        team: Some(RepoAccess::Admin),
        ..o
    });
    assert_eq!(rule(Some(&m), &repo(true), &facts), RepoAccess::Admin);
}

#[test]
fn org_visibility_limits_public_read() {
    let outsider = user(30);
    let public_repo = repo(false);
    let check = |v, who: Option<&Actor>, want| {
        assert_eq!(
            rule(who, &public_repo, &org(v, None, None)),
            want,
            "{v} as {:?}",
            who.map(|a| a.user.id)
        );
    };
    check(OrgVisibility::Public, None, RepoAccess::Read);
    check(OrgVisibility::Public, Some(&outsider), RepoAccess::Read);
    check(OrgVisibility::Limited, None, RepoAccess::None);
    check(OrgVisibility::Limited, Some(&outsider), RepoAccess::Read);
    check(OrgVisibility::Private, None, RepoAccess::None);
    check(OrgVisibility::Private, Some(&outsider), RepoAccess::None);
    let member = org(OrgVisibility::Private, Some(OrgRole::Member), None);
    assert_eq!(
        rule(Some(&outsider), &public_repo, &member),
        RepoAccess::Read,
        "a member reads the private org's public repositories"
    );
}

#[test]
fn a_collaborator_keeps_their_level_in_a_private_org() {
    let mut facts = org(OrgVisibility::Private, None, None);
    facts.collaborator = Some(RepoAccess::Write);
    assert_eq!(
        rule(Some(&user(31)), &repo(true), &facts),
        RepoAccess::Write
    );
}

#[test]
fn read_token_caps_even_the_owner() {
    let owner = actor(OWNER, SiteRole::User, Some(TokenScope::Read));
    assert_eq!(rule(Some(&owner), &repo(true), &none()), RepoAccess::Read);
    let writer = actor(OWNER, SiteRole::User, Some(TokenScope::Write));
    assert_eq!(rule(Some(&writer), &repo(true), &none()), RepoAccess::Admin);
    let org_owner = actor(40, SiteRole::User, Some(TokenScope::Read));
    let facts = org(OrgVisibility::Private, Some(OrgRole::Owner), None);
    assert_eq!(
        rule(Some(&org_owner), &repo(true), &facts),
        RepoAccess::Read
    );
}

/// Soft Serve's escalation: a repository named like an admin command must not make anyone a
/// site admin. Repository access can never yield a `SiteRole`; the types keep them apart and
/// this test pins that the repository's name plays no part in the decision.
#[test]
fn repo_names_never_grant_rights() {
    let outsider = user(11);
    for name in ["admin", "user", "settings", "repo"] {
        let mut r = repo(true);
        r.name = name.into();
        assert_eq!(rule(Some(&outsider), &r, &none()), RepoAccess::None);
    }
    assert_eq!(outsider.user.role, SiteRole::User);
}

/// Every combination: who (anonymous, site admin, owner, org owner, member with each team
/// level or none, collaborator at each level, outsider), organization (none or each
/// visibility), repository (public, private) and token (none, read, write), against the
/// sentence read directly.
#[test]
fn every_combination_matches_the_sentence() {
    #[derive(Clone, Copy, Debug)]
    enum Who {
        Anonymous,
        SiteAdmin,
        Owner,
        OrgOwner,
        Member(Option<RepoAccess>),
        Collaborator(RepoAccess),
        Outsider,
    }
    let levels = [RepoAccess::Read, RepoAccess::Write, RepoAccess::Admin];
    let mut whos = vec![
        Who::Anonymous,
        Who::SiteAdmin,
        Who::Owner,
        Who::OrgOwner,
        Who::Member(None),
        Who::Outsider,
    ];
    whos.extend(levels.iter().map(|l| Who::Member(Some(*l))));
    whos.extend(levels.iter().map(|l| Who::Collaborator(*l)));
    let orgs: Vec<Option<OrgVisibility>> = std::iter::once(None)
        .chain(OrgVisibility::ALL.iter().copied().map(Some))
        .collect();
    let mut cases = 0;
    for who in &whos {
        for org_vis in &orgs {
            for private in [false, true] {
                for scope in [None, Some(TokenScope::Read), Some(TokenScope::Write)] {
                    let is_org = org_vis.is_some();
                    if !is_org && matches!(who, Who::OrgOwner | Who::Member(_)) {
                        continue;
                    }
                    if matches!(who, Who::Anonymous) && scope.is_some() {
                        continue;
                    }
                    let role = match who {
                        Who::OrgOwner => Some(OrgRole::Owner),
                        Who::Member(_) => Some(OrgRole::Member),
                        _ => None,
                    };
                    let team = match who {
                        Who::Member(t) => *t,
                        _ => None,
                    };
                    let facts = AccessFacts {
                        collaborator: match who {
                            Who::Collaborator(l) => Some(*l),
                            _ => None,
                        },
                        org: org_vis.map(|visibility| OrgFacts {
                            visibility,
                            role,
                            team,
                        }),
                    };
                    let a = match who {
                        Who::Anonymous => None,
                        Who::SiteAdmin => Some(actor(99, SiteRole::Admin, scope)),
                        Who::Owner => Some(actor(OWNER, SiteRole::User, scope)),
                        _ => Some(actor(50, SiteRole::User, scope)),
                    };
                    // The sentence: highest of the role sources; public read when the
                    // repository is public and its organization (if any) admits the actor.
                    let role_level = match who {
                        Who::SiteAdmin | Who::Owner | Who::OrgOwner => RepoAccess::Admin,
                        Who::Member(t) => t.unwrap_or(RepoAccess::None),
                        Who::Collaborator(l) => *l,
                        Who::Anonymous | Who::Outsider => RepoAccess::None,
                    };
                    let admitted = match org_vis {
                        None | Some(OrgVisibility::Public) => true,
                        Some(OrgVisibility::Limited) => a.is_some(),
                        Some(OrgVisibility::Private) => role.is_some(),
                    };
                    let public = if !private && admitted {
                        RepoAccess::Read
                    } else {
                        RepoAccess::None
                    };
                    let cap = scope.map_or(RepoAccess::Admin, |s| s.cap());
                    let want = role_level.max(public).min(cap);
                    assert_eq!(
                        rule(a.as_ref(), &repo(private), &facts),
                        want,
                        "{who:?} org {org_vis:?} private {private} token {scope:?}"
                    );
                    cases += 1;
                }
            }
        }
    }
    assert!(cases >= 240, "{cases}");
}

#[test]
fn org_access_rule_by_rule() {
    let outsider = user(60);
    let admin = actor(99, SiteRole::Admin, None);
    use OrgVisibility::*;
    assert_eq!(org_access(None, Public, None), RepoAccess::Read);
    assert_eq!(org_access(None, Limited, None), RepoAccess::None);
    assert_eq!(org_access(None, Private, None), RepoAccess::None);
    assert_eq!(org_access(Some(&outsider), Limited, None), RepoAccess::Read);
    assert_eq!(org_access(Some(&outsider), Private, None), RepoAccess::None);
    assert_eq!(
        org_access(Some(&outsider), Private, Some(OrgRole::Member)),
        RepoAccess::Read
    );
    assert_eq!(
        org_access(Some(&outsider), Private, Some(OrgRole::Owner)),
        RepoAccess::Admin
    );
    assert_eq!(org_access(Some(&admin), Private, None), RepoAccess::Admin);
    let read_token = actor(61, SiteRole::User, Some(TokenScope::Read));
    assert_eq!(
        org_access(Some(&read_token), Private, Some(OrgRole::Owner)),
        RepoAccess::Read
    );
}

fn deploy_key() -> Principal {
    Principal::DeployKey {
        fingerprint: "SHA256:deploy".into(),
    }
}

#[test]
fn deploy_key_has_its_level_on_its_repository() {
    for private in [true, false] {
        for level in [RepoAccess::Read, RepoAccess::Write] {
            assert_eq!(
                effective_access(&deploy_key(), &repo(private), &collab(level)),
                level
            );
        }
    }
}

/// Anywhere it is not attached, a deploy key has nothing, even on a public repository (which
/// anonymous visitors read), and an organization's facts give it nothing either: so its answer
/// there is a missing repository's.
#[test]
fn deploy_key_reaches_nothing_else_even_public() {
    for facts in [none(), org(OrgVisibility::Public, None, None)] {
        for private in [true, false] {
            assert_eq!(
                effective_access(&deploy_key(), &repo(private), &facts),
                RepoAccess::None
            );
        }
    }
}

/// A deploy key is never a repository admin, whatever its input says: admin-only pushes
/// (`-o skip-checks`, admins-only branches) and settings stay out of its reach.
#[test]
fn deploy_key_is_never_admin() {
    assert_eq!(
        effective_access(&deploy_key(), &repo(true), &collab(RepoAccess::Admin)),
        RepoAccess::Write
    );
    assert!(deploy_key().actor().is_none());
}

#[test]
fn system_and_operator_have_admin() {
    for p in [Principal::System, Principal::Operator] {
        assert_eq!(
            effective_access(&p, &repo(true), &none()),
            RepoAccess::Admin
        );
    }
}
