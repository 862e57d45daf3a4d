//! What `serve` checks before it starts and what it tells the operator when it does: mistakes in
//! the configuration stop it with a message naming them; the summary says what was loaded.

use std::os::unix::fs::PermissionsExt;
use std::str::FromStr;

use anyhow::bail;
use sqlx::postgres::PgConnectOptions;

use std::path::Path;

use crate::config::Config;
use crate::domain::Forge;

/// Refuses a configuration `serve` cannot run with: each deploy's and check's `run` must be an
/// executable file. Checked before the cluster or any socket is touched.
pub fn check_config(config: &Config) -> anyhow::Result<()> {
    for deploy in &config.deploys {
        check_run("deploy", deploy.name.as_str(), &deploy.run)?;
    }
    for check in &config.checks {
        check_run("check", check.name.as_str(), &check.run)?;
    }
    Ok(())
}

/// `kind` and `name` say whose `run` it is in the message (`deploy dns: run = ...`).
fn check_run(kind: &str, name: &str, path: &Path) -> anyhow::Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => bail!(
            "{kind} {name}: run = {} cannot be used: {e}",
            path.display()
        ),
    };
    if !meta.is_file() {
        bail!("{kind} {name}: run = {} is not a file", path.display());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        bail!(
            "{kind} {name}: run = {} is not executable (chmod +x {})",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// The start-up summary: each deploy, the data folder, the database, and how to create the
/// first admin while there is none. Warns about deploys for repositories that do not exist yet.
pub async fn report(
    forge: &Forge,
    key: &crate::domain::SystemKey,
    config: &Config,
    database: &str,
) -> anyhow::Result<()> {
    tracing::info!(data_dir = %config.data_dir.display(), "data folder");
    tracing::info!(database, "database");
    match crate::shipped_hooks::ensure(&config.data_dir) {
        Ok(dir) => tracing::info!(
            hooks = %dir.display(),
            "the shipped deploy and check scripts (labforge hooks path)"
        ),
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "writing out the shipped scripts"),
    }
    for deploy in &config.deploys {
        tracing::info!(
            "deploy {}: {} {} -> {}",
            deploy.name,
            deploy.repo,
            deploy.trigger.short_text(),
            deploy.run.display()
        );
        match forge.repo_exists(key, &deploy.repo).await {
            Ok(true) => {}
            Ok(false) => match forge.moved_for_operator(key, &deploy.repo).await? {
                Some(now) => tracing::warn!(
                    "deploy {}: repository {} was renamed or transferred to {now}; set repo = \
                     \"{now}\" in the configuration (the deploy does not follow it)",
                    deploy.name,
                    deploy.repo
                ),
                None => tracing::warn!(
                    "deploy {}: repository {} does not exist yet; the deploy runs once it is \
                     created and pushed to",
                    deploy.name,
                    deploy.repo
                ),
            },
            Err(e) => return Err(e.into()),
        }
    }
    report_checks(forge, key, config).await?;
    if forge.list_users().await?.is_empty() {
        tracing::info!(
            "no users yet: create the first admin with `echo 'a long password' | labforge admin \
             user create NAME --email ADDRESS --admin --password-stdin`"
        );
    }
    Ok(())
}

/// One line per check, a warning for each that opts out of the sandbox, and one when there is
/// no sandbox at all (`app` logs why).
async fn report_checks(
    forge: &Forge,
    key: &crate::domain::SystemKey,
    config: &Config,
) -> anyhow::Result<()> {
    let sandboxed = forge.check_state().sandboxed();
    for check in &config.checks {
        let paths: Vec<&str> = check.paths.iter().map(|p| p.as_str()).collect();
        let paths = if paths.is_empty() {
            String::new()
        } else {
            format!(" paths {}", paths.join(","))
        };
        let how = if check.sandbox && sandboxed {
            "sandboxed"
        } else {
            "unsandboxed"
        };
        tracing::info!(
            "check {}: {} {}{paths} -> {} ({how}, timeout {}s)",
            check.name,
            check.repo.as_str(),
            check.trigger.short_text(),
            check.run.display(),
            check.timeout.as_secs()
        );
        if !check.sandbox {
            tracing::warn!(
                "check {}: sandbox = false: it runs with labforge's rights and sees the whole \
                 machine, the data folder included",
                check.name
            );
        }
        if let Ok(path) = crate::model::RepoPath::parse(check.repo.as_str()) {
            match forge.repo_exists(key, &path).await {
                Ok(true) => {}
                Ok(false) => match forge.moved_for_operator(key, &path).await? {
                    Some(now) => tracing::warn!(
                        "check {}: repository {path} was renamed or transferred to {now}; set \
                         repo = \"{now}\" in the configuration",
                        check.name
                    ),
                    None => {
                        tracing::warn!("check {}: repository {path} does not exist yet", check.name)
                    }
                },
                Err(e) => return Err(e.into()),
            }
        }
    }
    if !config.checks.is_empty() && !sandboxed {
        tracing::warn!(
            "checks run unsandboxed: install bubblewrap (Debian: apt-get install bubblewrap) to \
             run them without network, with the pushed tree read-only and the host hidden"
        );
    }
    Ok(())
}

/// Where the data lives, for the log: the managed cluster's folder, or the external server's
/// host, port, database and user. Never a password.
pub fn describe_database(config: &Config, given: Option<&PgConnectOptions>) -> String {
    let external = |o: &PgConnectOptions| match o.get_socket() {
        Some(socket) => format!(
            "external PostgreSQL, database {} as {} over {}",
            o.get_database().unwrap_or("(default)"),
            o.get_username(),
            socket.display()
        ),
        None => format!(
            "external PostgreSQL at {}:{}, database {} as {}",
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("(default)"),
            o.get_username()
        ),
    };
    match (given, &config.database_url) {
        (Some(options), _) => external(options),
        (None, Some(url)) => match PgConnectOptions::from_str(url.expose()) {
            Ok(options) => external(&options),
            Err(_) => "external PostgreSQL (DATABASE_URL does not parse)".to_owned(),
        },
        (None, None) => format!(
            "managed PostgreSQL in {} (unix socket only)",
            config.data_dir.join("pg").display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_line_never_shows_a_password() {
        let config =
            Config::from_pairs(&[("DATABASE_URL", "postgres://lab:hunter2@db.lab:5433/forge")])
                .unwrap();
        let text = describe_database(&config, None);
        assert_eq!(
            text,
            "external PostgreSQL at db.lab:5433, database forge as lab"
        );
        let config = Config::from_pairs(&[("LABFORGE_DATA_DIR", "/srv/lf")]).unwrap();
        assert_eq!(
            describe_database(&config, None),
            "managed PostgreSQL in /srv/lf/pg (unix socket only)"
        );
    }

    #[test]
    fn a_missing_or_plain_run_file_is_refused_naming_the_deploy_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let toml = |run: &str| {
            let file = dir.path().join("labforge.toml");
            std::fs::write(
                &file,
                format!("[[deploy]]\nname='dns'\nrepo='lab/dns'\nbranch='main'\nrun='{run}'\n"),
            )
            .unwrap();
            Config::from_pairs(&[("LABFORGE_CONFIG", file.to_str().unwrap())]).unwrap()
        };
        let err = check_config(&toml("missing.sh")).unwrap_err().to_string();
        let missing = dir.path().join("missing.sh");
        assert!(
            err.starts_with(&format!("deploy dns: run = {}", missing.display())),
            "{err}"
        );
        std::fs::write(dir.path().join("plain.sh"), "echo\n").unwrap();
        let err = check_config(&toml("plain.sh")).unwrap_err().to_string();
        assert!(err.contains("is not executable"), "{err}");
        std::fs::set_permissions(
            dir.path().join("plain.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        check_config(&toml("plain.sh")).unwrap();
    }
}
