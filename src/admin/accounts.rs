//! `labforge admin user|key|token …`: accounts, their keys and tokens.

use super::{KeyCommand, TokenCommand, UserCommand, read_stdin};
use crate::domain::{Forge, SiteAdmin};
use crate::model::{Email, SiteRole, TokenScope, Username};

/// A time for listings: RFC 3339, or `never`.
fn when(t: Option<time::OffsetDateTime>) -> String {
    t.map_or_else(|| "never".to_owned(), crate::domain::rfc3339)
}

/// The password as piped in: one trailing newline (from `echo`) is not part of it.
fn password_from_stdin() -> anyhow::Result<String> {
    let text = read_stdin()?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
}

pub(super) async fn user(
    forge: &Forge,
    by: &SiteAdmin,
    command: UserCommand,
) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            name,
            email,
            admin,
            password_stdin: _,
        } => {
            let name = Username::parse_new(&name)?;
            let email = Email::parse(&email).map_err(anyhow::Error::msg)?;
            let password = password_from_stdin()?;
            let user = forge
                .admin_create_user(by, &name, &email, &password, admin)
                .await?;
            eprintln!("created user {}", user.name);
        }
        UserCommand::List => {
            for (u, disabled) in forge.users_with_state().await? {
                let role = if u.role == SiteRole::Admin {
                    "admin"
                } else {
                    "user"
                };
                let state = if disabled { "disabled" } else { "active" };
                println!("{}\t{}\t{role}\t{state}", u.name, u.email);
            }
        }
        UserCommand::Passwd {
            name,
            password_stdin: _,
        } => {
            let name = Username::parse(&name)?;
            let password = password_from_stdin()?;
            let ended = forge.reset_password(by, &name, &password).await?;
            eprintln!("password of {name} changed; {ended} web session(s) ended");
        }
        UserCommand::Disable { name } => {
            let user = forge
                .set_user_disabled(by, &Username::parse(&name)?, true)
                .await?;
            eprintln!("{} is disabled; their sessions ended", user.name);
        }
        UserCommand::Enable { name } => {
            let user = forge
                .set_user_disabled(by, &Username::parse(&name)?, false)
                .await?;
            eprintln!("{} is enabled", user.name);
        }
        UserCommand::MakeAdmin { name } => {
            let user = forge
                .set_user_admin(by, &Username::parse(&name)?, true)
                .await?;
            eprintln!("{} is a site admin", user.name);
        }
        UserCommand::RevokeAdmin { name } => {
            let user = forge
                .set_user_admin(by, &Username::parse(&name)?, false)
                .await?;
            eprintln!("{} is no longer a site admin", user.name);
        }
        UserCommand::Delete { name } => {
            let name = Username::parse(&name)?;
            forge.delete_user(by, &name).await?;
            eprintln!("deleted user {name}");
        }
        UserCommand::Rename { old, new } => {
            let (old, new) = (Username::parse(&old)?, Username::parse(&new)?);
            forge.rename_owner(by, &old, &new).await?;
            eprintln!("renamed {old} to {new}; old addresses redirect until {old} is taken again");
        }
    }
    Ok(())
}

pub(super) async fn key(forge: &Forge, by: &SiteAdmin, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Add { name, title } => {
            let name = Username::parse(&name)?;
            let line = read_stdin()?;
            let fingerprint = forge.add_key_for(by, &name, &title, &line).await?;
            println!("{fingerprint}");
        }
        KeyCommand::List { name } => {
            for k in forge.keys_of(by, &Username::parse(&name)?).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.fingerprint,
                    k.algorithm,
                    k.title,
                    crate::domain::rfc3339(k.created_at),
                    when(k.last_used_at)
                );
            }
        }
        KeyCommand::Remove { name, key } => {
            let removed = forge
                .remove_key_of(by, &Username::parse(&name)?, &key)
                .await?;
            eprintln!("removed key {} ({})", removed.fingerprint, removed.title);
        }
    }
    Ok(())
}

pub(super) async fn token(
    forge: &Forge,
    by: &SiteAdmin,
    command: TokenCommand,
) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            name,
            title,
            scope,
            expires_in_days,
        } => {
            let name = Username::parse(&name)?;
            let scope: TokenScope = scope.parse().map_err(anyhow::Error::msg)?;
            let expires = expires_in_days
                .map(|d| time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(d)));
            let token = forge
                .create_token_for(by, &name, &title, scope, expires)
                .await?;
            println!("{}", token.0);
        }
        TokenCommand::List { name } => {
            for t in forge.tokens_of(by, &Username::parse(&name)?).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.title,
                    t.scope,
                    crate::domain::rfc3339(t.created_at),
                    when(t.last_used_at),
                    when(t.expires_at)
                );
            }
        }
        TokenCommand::Revoke { name, id } => {
            forge
                .revoke_token_of(by, &Username::parse(&name)?, id)
                .await?;
            eprintln!("revoked token {id} of {name}");
        }
    }
    Ok(())
}
