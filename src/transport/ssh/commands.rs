//! The small command interface behind `ssh -p 2222 git@host COMMAND`: plain text for people and
//! for `grep`, one record a line, fields separated by tabs or `key: value`.

use std::fmt::Write;

use super::SshState;
use crate::domain::{Error, Read};
use crate::model::{Actor, RepoName, RepoPath, Username, terminal_line};

/// What a command printed and how it ended; the SSH layer sends it and closes the channel.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: u32,
}

impl Output {
    fn ok(stdout: String) -> Self {
        Self {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }
    pub fn fail(message: impl std::fmt::Display) -> Self {
        Self {
            stdout: String::new(),
            stderr: format!("error: {message}\n"),
            code: 1,
        }
    }
}

/// What a deploy key is told when it asks for anything but git (a command, a shell).
pub const DEPLOY_KEY_GIT_ONLY: &str = "this is a deploy key: it runs git (clone, fetch, and push \
     when read-write) on the repositories it is attached to, and no commands";

const HELP: &str = "\
Commands (run as: ssh -p PORT git@HOST COMMAND):
  help                                         this text
  whoami                                       who this key belongs to
  repo list                                    repositories you can reach
  repo create [ORG/]NAME [--public] [--description TEXT]
                                               create NAME under your account, or under an
                                               organization that lets you (private unless
                                               --public; TEXT may be several words)
  repo info OWNER/REPO                         a repository's details and clone URLs
  key list                                     your SSH keys
Git works as usual: git clone ssh://git@HOST:PORT/OWNER/REPO.git
";

pub async fn run(st: &SshState, actor: &Actor, key: &str, words: &[String]) -> Output {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["help"] | ["--help"] | ["-h"] => Ok(Output::ok(HELP.to_owned())),
        ["whoami"] => Ok(whoami(actor, key)),
        ["repo", "list"] => repo_list(st, actor).await,
        ["repo", "create", name, rest @ ..] => repo_create(st, actor, name, rest).await,
        ["repo", "info", path] => repo_info(st, actor, path).await,
        ["key", "list"] => key_list(st, actor).await,
        [] => Ok(Output::ok(greeting(st, actor, key).await)),
        _ => Ok(Output::fail(format!(
            "unknown command '{}'; run 'help' for the list",
            words.join(" ").chars().take(80).collect::<String>()
        ))),
    };
    result.unwrap_or_else(|e| match e {
        Error::Internal(e) => {
            tracing::error!(error = ?e, "ssh command failed");
            Output::fail("internal error")
        }
        Error::NotFound => Output::fail("repository not found"),
        other => Output::fail(other),
    })
}

/// Shown for a plain `ssh git@host` (a shell request): who you are and where to go next.
pub async fn greeting(st: &SshState, actor: &Actor, key: &str) -> String {
    let mut text = format!(
        "Hi {}! You are signed in to labforge with key {key}.\n",
        actor.user.name
    );
    match st.forge.visible_repos(actor).await {
        Ok(repos) if repos.is_empty() => {
            text.push_str("\nYou have no repositories yet; push to one to create it.\n")
        }
        Ok(repos) => {
            text.push_str("\nRepositories you can reach:\n");
            for (repo, _) in repos.iter().take(50) {
                let _ = writeln!(
                    text,
                    "  {:<32} {}",
                    repo.full_name(),
                    st.config.ssh_clone_url(&repo.owner, &repo.name)
                );
            }
            if repos.len() > 50 {
                let _ = writeln!(text, "  … and {} more: run 'repo list'", repos.len() - 50);
            }
        }
        Err(e) => tracing::warn!(error = %e, "listing repositories for the greeting"),
    }
    text.push_str(
        "\nRun 'help' as the SSH command for what else you can do. No shell is offered.\n",
    );
    text
}

fn whoami(actor: &Actor, key: &str) -> Output {
    let role = match actor.user.role {
        crate::model::SiteRole::Admin => "admin",
        crate::model::SiteRole::User => "user",
    };
    Output::ok(format!(
        "user: {}\nemail: {}\nrole: {role}\nkey: {key}\n",
        actor.user.name, actor.user.email
    ))
}

async fn repo_list(st: &SshState, actor: &Actor) -> Result<Output, Error> {
    let mut out = String::new();
    for (repo, access) in st.forge.visible_repos(actor).await? {
        let visibility = if repo.is_private { "private" } else { "public" };
        let url = st.config.ssh_clone_url(&repo.owner, &repo.name);
        let _ = writeln!(out, "{}\t{visibility}\t{access}\t{url}", repo.full_name());
    }
    Ok(Output::ok(out))
}

async fn repo_create(
    st: &SshState,
    actor: &Actor,
    name: &str,
    rest: &[&str],
) -> Result<Output, Error> {
    // `NAME` under one's own name, or `OWNER/NAME` under an organization one may create in.
    let (owner, name) = match name.split_once('/') {
        Some(_) => {
            let path = RepoPath::parse(name)?;
            (path.owner, path.name)
        }
        None => (Username::parse(&actor.user.name)?, RepoName::parse(name)?),
    };
    let options = CreateOptions::parse(rest)?;
    let repo = st
        .forge
        .create_repo_as(actor, &owner, &name, !options.public, &options.description)
        .await?;
    Ok(Output::ok(format!(
        "created {}\nssh: {}\nhttp: {}\n",
        repo.full_name(),
        st.config.ssh_clone_url(&repo.owner, &repo.name),
        st.config.http_clone_url(&repo.owner, &repo.name)
    )))
}

/// `repo create`'s options. The client's shell has already removed the quotes around a
/// description, so `--description DNS zones` arrives as two words: a free-text option takes the
/// words up to the next `--option`.
#[derive(Debug, Default, PartialEq, Eq)]
struct CreateOptions {
    public: bool,
    description: String,
}

impl CreateOptions {
    fn parse(words: &[&str]) -> Result<Self, Error> {
        let mut options = Self::default();
        let mut i = 0;
        while i < words.len() {
            let (flag, inline) = match words[i].split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
                _ => (words[i], None),
            };
            i += 1;
            match flag {
                "--public" => options.public = true,
                "--private" => options.public = false,
                "--description" => {
                    let mut text: Vec<&str> = inline.into_iter().collect();
                    while i < words.len() && !words[i].starts_with("--") {
                        text.push(words[i]);
                        i += 1;
                    }
                    if text.is_empty() {
                        return Err(Error::InvalidInput("--description needs a text".into()));
                    }
                    options.description = text.join(" ");
                }
                other => {
                    return Err(Error::InvalidInput(format!(
                        "unexpected argument '{other}'; repo create takes --public and --description TEXT"
                    )));
                }
            }
        }
        Ok(options)
    }
}

async fn repo_info(st: &SshState, actor: &Actor, path: &str) -> Result<Output, Error> {
    let path = RepoPath::parse(path.strip_prefix('/').unwrap_or(path))?;
    let grant = st.forge.authorize::<Read>(Some(actor), &path).await?;
    let (repo, access) = (grant.repo(), grant.level());
    Ok(Output::ok(format!(
        "name: {}\ndescription: {}\nvisibility: {}\ndefault branch: {}\nyour access: {access}\nssh: {}\nhttp: {}\n",
        repo.full_name(),
        // A description may hold newlines (the web form allows them); here it is one line, so
        // it cannot add a `ssh:` line of its own.
        terminal_line(&repo.description),
        if repo.is_private { "private" } else { "public" },
        repo.default_branch,
        st.config.ssh_clone_url(&repo.owner, &repo.name),
        st.config.http_clone_url(&repo.owner, &repo.name)
    )))
}

async fn key_list(st: &SshState, actor: &Actor) -> Result<Output, Error> {
    let format = time::format_description::well_known::Rfc3339;
    let mut out = String::new();
    for key in st.forge.list_keys(&actor.user).await? {
        let added = key.created_at.format(&format).unwrap_or_default();
        let used = key
            .last_used_at
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_else(|| "never".into());
        let _ = writeln!(
            out,
            "{}\t{}\t{}\tadded {added}\tlast used {used}",
            key.fingerprint, key.algorithm, key.title
        );
    }
    Ok(Output::ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<CreateOptions, Error> {
        let words: Vec<&str> = line.split_whitespace().collect();
        CreateOptions::parse(&words)
    }

    #[test]
    fn a_description_takes_the_words_up_to_the_next_option() {
        let o = parse("--description DNS zones").unwrap();
        assert_eq!((o.public, o.description.as_str()), (false, "DNS zones"));
        let o = parse("--description DNS zones of the lab --public").unwrap();
        assert_eq!(
            (o.public, o.description.as_str()),
            (true, "DNS zones of the lab")
        );
        let o = parse("--private --description=DNS zones").unwrap();
        assert_eq!((o.public, o.description.as_str()), (false, "DNS zones"));
        assert!(parse("--description").is_err());
        assert!(parse("--description --public").is_err());
        assert!(parse("zones").is_err());
    }
}
