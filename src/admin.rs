//! `labforge admin …`: scriptable operator commands. Results go to stdout (one item a line),
//! errors to stderr with a non-zero exit status. Accounts (`accounts.rs`) and repositories
//! (`repos.rs`) are run in their own files; this one holds the command line's shape.

mod accounts;
mod orgs;
mod repos;

use std::io::Read;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::app::Services;
use crate::config::Config;
use crate::domain::{Forge, SystemKey};
use crate::model::{CheckName, RepoPath};

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
    /// Deploy keys: SSH keys that reach one repository's git (or a few) and nothing else.
    #[command(subcommand)]
    DeployKey(DeployKeyCommand),
    /// Organizations: owners shared by several people, and their members.
    #[command(subcommand)]
    Org(orgs::OrgCommand),
    /// Teams of an organization (ORG/TEAM): a level on all or some of its repositories.
    #[command(subcommand)]
    Team(orgs::TeamCommand),
    /// Protect branches matching PATTERN (a glob) of OWNER/REPO: no force-push, no deletion.
    /// Running it again for the same PATTERN replaces that rule.
    Protect {
        path: String,
        pattern: String,
        /// Also allow only repository admins to push to them.
        #[arg(long)]
        admins_only: bool,
        /// A [[check]] that must run and pass on every push to them (repeat for several).
        #[arg(long = "require-check", value_name = "CHECK")]
        require_checks: Vec<String>,
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
    /// List users: name, e-mail, role, state (active or disabled).
    List,
    /// Set a user's password (the way back for a locked-out admin); ends all their sessions.
    Passwd {
        name: String,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Disable a user: nothing works for them over web, API, HTTP git or SSH; sessions end.
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
    /// Make a user a site administrator.
    MakeAdmin { name: String },
    /// Revoke a user's site administration (they keep their own repositories).
    RevokeAdmin { name: String },
    /// Delete a user who owns no repositories (refused otherwise, naming them).
    Delete { name: String },
    /// Rename a user or an organization: their repositories move with them, and the old name
    /// and old paths redirect (web 301, git with a warning) until the name is taken again.
    Rename { old: String, new: String },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Add an SSH public key (one OpenSSH line on standard input) to a user.
    Add {
        name: String,
        #[arg(long)]
        title: String,
    },
    /// List a user's SSH keys: id, fingerprint, algorithm, title, added, last used.
    List { name: String },
    /// Remove one of a user's SSH keys, by fingerprint (SHA256:…) or id.
    Remove { name: String, key: String },
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
    /// List a user's tokens: id, title, scope, created, last used, expires.
    List { name: String },
    /// Revoke (delete) one of a user's tokens by id.
    Revoke { name: String, id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a repository; private unless --public.
    Create {
        /// OWNER/REPO
        path: String,
        /// Anyone (signed in or not) may read it.
        #[arg(long, conflicts_with = "private")]
        public: bool,
        /// Private (the default; kept for scripts that say so).
        #[arg(long)]
        private: bool,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List repositories: OWNER/REPO, visibility, description.
    List,
    /// Delete a repository: its folder goes to DATA_DIR/repos/.trash, as from the web.
    Delete {
        /// OWNER/REPO
        path: String,
        /// Confirm: without it nothing is deleted.
        #[arg(long)]
        yes: bool,
    },
    /// Rename OWNER/REPO to OWNER/NEWNAME (the folder moves with it; the old path redirects).
    Rename { path: String, new_name: String },
    /// Give OWNER/REPO to another user or organization, at once; issues, deploys, webhooks,
    /// mirrors and statuses follow, the old organization's teams lose it, the old path redirects.
    Transfer { path: String, new_owner: String },
    /// Delete every object no branch or tag reaches, now (a pushed secret, its branch
    /// deleted); upkeep does it after `upkeep_prune_after_days` otherwise.
    Purge {
        /// OWNER/REPO
        path: String,
    },
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
    /// List OWNER/REPO's collaborators: user, access.
    List { path: String },
    /// Take USER's access to OWNER/REPO away.
    Remove { path: String, user: String },
}

#[derive(Debug, Subcommand)]
pub enum DeployKeyCommand {
    /// Attach an SSH public key (one OpenSSH line on standard input) to OWNER/REPO as a deploy
    /// key, read-only unless --write; prints its id and fingerprint. The same key may be
    /// attached to several repositories; a user's key cannot be a deploy key.
    Add {
        path: String,
        #[arg(long)]
        title: String,
        /// Let the key push too (read-write).
        #[arg(long)]
        write: bool,
    },
    /// List OWNER/REPO's deploy keys: id, fingerprint, access (read or write), title, added,
    /// last used.
    List { path: String },
    /// Remove one of OWNER/REPO's deploy keys, by id or fingerprint (SHA256:…).
    Remove { path: String, key: String },
}

/// `file_given`: whether a configuration file was named (`--config`, `LABFORGE_CONFIG`), so
/// whether `config`'s checks are the operator's or merely none.
pub async fn run(config: &Config, file_given: bool, command: AdminCommand) -> anyhow::Result<()> {
    let services = Services::open(config).await?;
    let key = &services.system_key;
    let result = execute(&services.forge, key, config, file_given, command).await;
    services.close(false).await?;
    result
}

async fn execute(
    forge: &Forge,
    key: &SystemKey,
    config: &Config,
    file_given: bool,
    command: AdminCommand,
) -> anyhow::Result<()> {
    match command {
        AdminCommand::User(command) => {
            accounts::user(forge, &forge.site_admin_for_operator(key), command).await?
        }
        AdminCommand::Key(command) => {
            accounts::key(forge, &forge.site_admin_for_operator(key), command).await?
        }
        AdminCommand::Token(command) => {
            accounts::token(forge, &forge.site_admin_for_operator(key), command).await?
        }
        AdminCommand::Repo(command) => repos::repo(forge, key, command).await?,
        AdminCommand::Collaborator(command) => repos::collaborator(forge, key, command).await?,
        AdminCommand::DeployKey(command) => repos::deploy_key(forge, key, command).await?,
        AdminCommand::Org(command) => orgs::org(forge, key, command).await?,
        AdminCommand::Team(command) => orgs::team(forge, key, command).await?,
        AdminCommand::Protect {
            path,
            pattern,
            admins_only,
            require_checks,
        } => {
            let grant = forge
                .grant_for_operator(key, &RepoPath::parse(&path)?)
                .await?;
            let checks = require_checks
                .iter()
                .map(|c| CheckName::parse(c).with_context(|| format!("--require-check {c}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let name = grant.repo().full_name();
            warn_unconfigured(forge, config, file_given, &name, &checks).await;
            forge
                .protect_branch_requiring(&grant, &pattern, admins_only, &checks)
                .await?;
            let who = if admins_only {
                "; only admins may push"
            } else {
                ""
            };
            let required = if checks.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = checks.iter().map(|c| c.to_string()).collect();
                format!("; required checks: {}", names.join(", "))
            };
            eprintln!("branches matching {pattern} of {path} are protected{who}{required}");
        }
        AdminCommand::Deploys { path } => {
            let grant = forge
                .grant_for_operator::<crate::domain::Read>(key, &RepoPath::parse(&path)?)
                .await?;
            for r in forge.deploy_runs(&grant, 0).await? {
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
            let grant = forge
                .grant_for_operator(key, &RepoPath::parse(&path)?)
                .await?;
            let rule = forge
                .branch_rules(&grant)
                .await?
                .into_iter()
                .find(|r| r.pattern == pattern)
                .with_context(|| format!("{path} has no rule {pattern}"))?;
            forge.unprotect_branch(&grant, rule.id).await?;
            eprintln!("removed the rule {pattern} from {path}");
        }
    }
    Ok(())
}

/// Warns about required checks that do not exist for `repo`. The running `serve`'s own
/// configuration is the truth (it runs the checks), so it is asked first over the hook socket;
/// without one, the file given here; without either, the line says nothing was verified.
async fn warn_unconfigured(
    forge: &Forge,
    config: &Config,
    file_given: bool,
    repo: &str,
    checks: &[CheckName],
) {
    if checks.is_empty() {
        return;
    }
    let socket = config.data_dir.join("labforge.sock");
    let (known, whose): (Vec<String>, &str) =
        match crate::transport::hook_rpc::ask_configured_checks(&socket, repo).await {
            Some(names) => (names, "asked the running serve"),
            None if file_given => (
                forge
                    .check_state()
                    .configs()
                    .iter()
                    .filter(|c| c.matches_repo(repo))
                    .map(|c| c.name.to_string())
                    .collect(),
                "per the configuration file",
            ),
            None => {
                eprintln!(
                    "note: no configuration file given and no running serve answered at {}: \
                     whether the required checks exist for {repo} was not verified; pushes to \
                     these branches are refused until each one runs and passes",
                    socket.display()
                );
                return;
            }
        };
    for check in checks {
        if !known.iter().any(|k| k == check.as_str()) {
            eprintln!(
                "warning: no [[check]] named {check} is configured for {repo} ({whose}); until \
                 one is, pushes to these branches are refused"
            );
        }
    }
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
