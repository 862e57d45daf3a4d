//! Gitea's User object (`modules/structs/user.go`, filled as `services/convert/user.go`'s
//! `toUser` fills it), with Gitea's rule for what a caller sees:
//! - everyone: id, login, names, `created`, counters (labforge has no followers or stars: 0);
//! - the user themselves and site admins (`authed`): `is_admin`, `last_login`, `active`,
//!   `prohibit_login`, and the real e-mail address.
//!
//! Others see the placeholder `NAME@noreply.HOST` in `email`: Gitea's rule when the user keeps
//! their address private. labforge has no per-user setting for it and treats every address as
//! private (an address in a homelab is often the owner's real one; nothing here needs it).

use serde::Serialize;
use serde_json::Value;

use crate::domain::{UserProfile, rfc3339};
use crate::model::{SiteRole, User, UserId};

/// Go's zero `time.Time`: what Gitea writes for `last_login` to callers who may not see it.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// Unix time 0: Gitea's `last_login` for a user who never signed in, and its ghost's `created`.
pub const UNIX_ZERO_TIME: &str = "1970-01-01T00:00:00Z";

#[derive(Serialize, Debug, Clone)]
pub struct ApiUser {
    pub id: i64,
    pub login: String,
    pub login_name: String,
    pub source_id: i64,
    pub full_name: String,
    pub email: String,
    pub avatar_url: String,
    pub html_url: String,
    pub language: String,
    pub is_admin: bool,
    pub last_login: String,
    pub created: String,
    pub restricted: bool,
    pub active: bool,
    pub prohibit_login: bool,
    pub location: String,
    pub website: String,
    pub description: String,
    pub visibility: &'static str,
    pub followers_count: i64,
    pub following_count: i64,
    pub starred_repos_count: i64,
    /// Gitea's `User.MarshalJSON` adds it, a copy of `login`, for older clients.
    pub username: String,
}

fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

/// Gitea's `NoReplyAddress` default: `noreply.` and the site's host.
fn placeholder_email(base_url: &str, name: &str) -> String {
    let host = url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{}@noreply.{host}", name.to_lowercase())
}

impl ApiUser {
    /// `profile` as `viewer` may see it (None: anonymous, or a user embedded in another object,
    /// which Gitea always shows as to an anonymous caller).
    pub fn new(base_url: &str, profile: &UserProfile, viewer: Option<&User>) -> Self {
        let user = &profile.user;
        let authed = viewer.is_some_and(|v| v.id == user.id || v.role == SiteRole::Admin);
        ApiUser {
            id: user.id,
            login: user.name.clone(),
            login_name: String::new(),
            source_id: 0,
            full_name: String::new(),
            email: if authed {
                user.email.clone()
            } else {
                placeholder_email(base_url, &user.name)
            },
            avatar_url: String::new(),
            html_url: format!("{}/{}", base(base_url), user.name),
            language: String::new(),
            is_admin: authed && user.role == SiteRole::Admin,
            last_login: match (authed, profile.last_login_at) {
                (false, _) => GO_ZERO_TIME.to_owned(),
                (true, Some(t)) => rfc3339(t),
                (true, None) => UNIX_ZERO_TIME.to_owned(),
            },
            created: rfc3339(profile.created_at),
            restricted: false,
            active: authed && !profile.disabled,
            prohibit_login: authed && profile.disabled,
            location: String::new(),
            website: String::new(),
            description: String::new(),
            visibility: "public",
            followers_count: 0,
            following_count: 0,
            starred_repos_count: 0,
            username: user.name.clone(),
        }
    }

    /// Gitea's ghost (`user_model.NewGhostUser`): the author of what a deleted user wrote.
    pub fn ghost(base_url: &str, name: &str) -> Self {
        let name = if name.is_empty() { "Ghost" } else { name };
        ApiUser {
            id: -1,
            login: name.to_owned(),
            login_name: String::new(),
            source_id: 0,
            full_name: String::new(),
            email: placeholder_email(base_url, name),
            avatar_url: String::new(),
            html_url: format!("{}/{name}", base(base_url)),
            language: String::new(),
            is_admin: false,
            last_login: GO_ZERO_TIME.to_owned(),
            created: UNIX_ZERO_TIME.to_owned(),
            restricted: false,
            active: false,
            prohibit_login: false,
            location: String::new(),
            website: String::new(),
            description: String::new(),
            visibility: "public",
            followers_count: 0,
            following_count: 0,
            starred_repos_count: 0,
            username: name.to_owned(),
        }
    }
}

/// Replaces each embedded user object (`{"id", "login", ...}` at `key` in each of `values`)
/// with Gitea's whole User, as to an anonymous caller. `profiles` are the users those ids
/// name; an id not among them (a deleted author) becomes Gitea's ghost.
pub fn fill_users(base_url: &str, values: &mut [Value], key: &str, profiles: &[UserProfile]) {
    for value in values {
        let Some(slot) = value.get_mut(key) else {
            continue;
        };
        let id: Option<UserId> = slot.get("id").and_then(Value::as_i64);
        let name = slot
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let user = match profiles.iter().find(|p| Some(p.user.id) == id) {
            Some(p) => ApiUser::new(base_url, p, None),
            None => ApiUser::ghost(base_url, &name),
        };
        *slot = serde_json::to_value(user).expect("a User serializes because its fields are plain");
    }
}

/// The ids of the users embedded at `key` in `values`, for one `profiles_by_ids` call.
pub fn embedded_ids(values: &[Value], key: &str) -> Vec<i64> {
    values
        .iter()
        .filter_map(|v| v.get(key)?.get("id")?.as_i64())
        .filter(|id| *id > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice(role: SiteRole) -> UserProfile {
        UserProfile {
            user: User {
                id: 7,
                name: "Alice".into(),
                email: "alice@home.example".into(),
                role,
            },
            disabled: false,
            created_at: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(1),
            last_login_at: None,
        }
    }

    #[test]
    fn the_address_is_shown_to_the_user_and_admins_only() {
        let me = alice(SiteRole::User);
        let other = User {
            id: 8,
            name: "bob".into(),
            email: "b@x".into(),
            role: SiteRole::User,
        };
        let admin = User {
            role: SiteRole::Admin,
            ..other.clone()
        };
        let seen = |viewer: Option<&User>| ApiUser::new("http://lab:3000/", &me, viewer);
        assert_eq!(seen(None).email, "alice@noreply.lab");
        assert_eq!(seen(Some(&other)).email, "alice@noreply.lab");
        assert_eq!(seen(Some(&me.user)).email, "alice@home.example");
        assert_eq!(seen(Some(&admin)).email, "alice@home.example");
        assert_eq!(seen(None).last_login, GO_ZERO_TIME);
        assert_eq!(seen(Some(&me.user)).last_login, UNIX_ZERO_TIME);
        assert!(seen(Some(&me.user)).active && !seen(Some(&other)).active);
        assert_eq!(seen(None).created, "1970-01-02T00:00:00Z");
        assert_eq!(seen(None).html_url, "http://lab:3000/Alice");
    }

    #[test]
    fn is_admin_is_told_only_to_those_who_may_know() {
        let root = alice(SiteRole::Admin);
        assert!(!ApiUser::new("http://lab", &root, None).is_admin);
        assert!(ApiUser::new("http://lab", &root, Some(&root.user)).is_admin);
    }

    #[test]
    fn embedded_users_are_filled_and_deleted_ones_are_ghosts() {
        let me = alice(SiteRole::User);
        let mut values = vec![
            serde_json::json!({"user": {"id": 7, "login": "Alice"}}),
            serde_json::json!({"user": {"id": -1, "login": "gone"}}),
        ];
        assert_eq!(embedded_ids(&values, "user"), vec![7]);
        fill_users("http://lab", &mut values, "user", &[me]);
        assert_eq!(values[0]["user"]["email"], "alice@noreply.lab");
        assert_eq!(values[1]["user"]["id"], -1);
        assert_eq!(values[1]["user"]["login"], "gone");
        assert_eq!(values[1]["user"]["created"], UNIX_ZERO_TIME);
    }
}
