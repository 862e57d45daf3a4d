//! `labforge admin …`: scriptable operator commands. Results go to stdout (one item a line),
//! errors to stderr with a non-zero exit status.

use std::io::Read;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::app::Services;
use crate::config::Config;
use crate::domain::Forge;
use crate::model::{Email, RepoAccess, RepoPath, TokenScope, Username};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// SSH public keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Repositories.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Collaborators on a repository.
    #[command(subcommand)]
    Collaborator(CollaboratorCommand),
    /// Protect branches matching PATTERN (a glob) of OWNER/REPO: no force-push, no deletion.
    Protect {
        path: String,
        pattern: String,
        /// Also allow only repository admins to push to them.
        #[arg(long)]
        admins_only: bool,
    },
    /// Remove the protection rule PATTERN from OWNER/REPO.
    Unprotect { path: String, pattern: String },
    /// The newest deploy runs of OWNER/REPO: id, deploy, status, ref, commit, exit code.
    Deploys { path: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        name: String,
        #[arg(long)]
        email: String,
        /// Make the user a site administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List users: name, e-mail, role.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Add an SSH public key (one OpenSSH line on standard input) to a user.
    Add {
        name: String,
        #[arg(long)]
        title: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an access token for a user; prints the token alone (it is not shown again).
    Create {
        name: String,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "write", value_parser = ["read", "write"])]
        scope: String,
        /// Expire the token after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a repository.
    Create {
        /// OWNER/REPO
        path: String,
        #[arg(long)]
        private: bool,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List repositories: OWNER/REPO, visibility, description.
    List,
}

#[derive(Debug, Subcommand)]
pub enum CollaboratorCommand {
    /// Give USER read, write or admin access to OWNER/REPO.
    Add {
        path: String,
        user: String,
        #[arg(long, value_parser = ["read", "write", "admin"])]
        access: String,
    },
}

pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    let services = Services::open(config).await?;
    let result = execute(&services.forge, command).await;
    services.close(false).await?;
    result
}

async fn execute(forge: &Forge, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::User(UserCommand::Create {
            name,
            email,
            admin,
            password_stdin: _,
        }) => {
            let name = Username::parse(&name)?;
            let email = Email::parse(&email).map_err(anyhow::Error::msg)?;
            let password = read_stdin()?;
            let password = password.strip_suffix('\n').unwrap_or(&password);
            let password = password.strip_suffix('\r').unwrap_or(password);
            let user = forge.create_user(&name, &email, password, admin).await?;
            eprintln!("created user {}", user.name);
        }
        AdminCommand::User(UserCommand::List) => {
            for u in forge.list_users().await? {
                let role = if u.role == crate::model::SiteRole::Admin {
                    "admin"
                } else {
                    "user"
                };
                println!("{}\t{}\t{role}", u.name, u.email);
            }
        }
        AdminCommand::Key(KeyCommand::Add { name, title }) => {
            let name = Username::parse(&name)?;
            let line = read_stdin()?;
            let fingerprint = forge.add_key(&name, &title, &line).await?;
            println!("{fingerprint}");
        }
        AdminCommand::Token(TokenCommand::Create {
            name,
            title,
            scope,
            expires_in_days,
        }) => {
            let name = Username::parse(&name)?;
            let scope: TokenScope = scope.parse().map_err(anyhow::Error::msg)?;
            let expires = expires_in_days
                .map(|d| time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(d)));
            let token = forge.create_token(&name, &title, scope, expires).await?;
            println!("{}", token.0);
        }
        AdminCommand::Repo(RepoCommand::Create {
            path,
            private,
            description,
        }) => {
            let path = RepoPath::parse(&path)?;
            let repo = forge
                .create_repo(&path.owner, &path.name, private, &description)
                .await?;
            eprintln!("created repository {}", repo.full_name());
        }
        AdminCommand::Repo(RepoCommand::List) => {
            for r in forge.list_repos().await? {
                let visibility = if r.is_private { "private" } else { "public" };
                println!("{}\t{visibility}\t{}", r.full_name(), r.description);
            }
        }
        AdminCommand::Collaborator(CollaboratorCommand::Add { path, user, access }) => {
            let path = RepoPath::parse(&path)?;
            let user = Username::parse(&user)?;
            let access: RepoAccess = access.parse().map_err(anyhow::Error::msg)?;
            forge.set_collaborator(&path, &user, access).await?;
            eprintln!("{user} now has {access} access to {path}");
        }
        AdminCommand::Protect {
            path,
            pattern,
            admins_only,
        } => {
            let repo = forge.repo_by_path(&RepoPath::parse(&path)?).await?;
            forge.protect_branch(&repo, &pattern, admins_only).await?;
            let who = if admins_only {
                "; only admins may push"
            } else {
                ""
            };
            eprintln!("branches matching {pattern} of {path} are protected{who}");
        }
        AdminCommand::Deploys { path } => {
            let repo = forge.repo_by_path(&RepoPath::parse(&path)?).await?;
            for r in forge.deploy_runs(&repo, 0).await? {
                let code = r
                    .exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{code}",
                    r.id, r.deploy_name, r.status, r.ref_name, r.new_id
                );
            }
        }
        AdminCommand::Unprotect { path, pattern } => {
            let repo = forge.repo_by_path(&RepoPath::parse(&path)?).await?;
            let rule = forge
                .branch_rules(&repo)
                .await?
                .into_iter()
                .find(|r| r.pattern == pattern)
                .with_context(|| format!("{path} has no rule {pattern}"))?;
            forge.unprotect_branch(&repo, rule.id).await?;
            eprintln!("removed the rule {pattern} from {path}");
        }
    }
    Ok(())
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .context("reading standard input")?;
    if text.trim().is_empty() {
        bail!("expected input on standard input");
    }
    Ok(text)
}
