//! What `serve` checks before it starts and what it tells the operator when it does: mistakes in
//! the configuration stop it with a message naming them; the summary says what was loaded.

use std::os::unix::fs::PermissionsExt;
use std::str::FromStr;

use anyhow::bail;
use sqlx::postgres::PgConnectOptions;

use crate::config::{Config, Deploy};
use crate::domain::{Error, Forge};

/// Refuses a configuration `serve` cannot run with: each deploy's `run` must be an executable
/// file. Checked before the cluster or any socket is touched.
pub fn check_config(config: &Config) -> anyhow::Result<()> {
    for deploy in &config.deploys {
        check_run(deploy)?;
    }
    Ok(())
}

fn check_run(deploy: &Deploy) -> anyhow::Result<()> {
    let path = &deploy.run;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => bail!(
            "deploy {}: run = {} cannot be used: {e}",
            deploy.name,
            path.display()
        ),
    };
    if !meta.is_file() {
        bail!(
            "deploy {}: run = {} is not a file",
            deploy.name,
            path.display()
        );
    }
    if meta.permissions().mode() & 0o111 == 0 {
        bail!(
            "deploy {}: run = {} is not executable (chmod +x {})",
            deploy.name,
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// The start-up summary: each deploy, the data folder, the database, and how to create the
/// first admin while there is none. Warns about deploys for repositories that do not exist yet.
pub async fn report(forge: &Forge, config: &Config, database: &str) -> anyhow::Result<()> {
    tracing::info!(data_dir = %config.data_dir.display(), "data folder");
    tracing::info!(database, "database");
    for deploy in &config.deploys {
        tracing::info!(
            "deploy {}: {} {} -> {}",
            deploy.name,
            deploy.repo,
            trigger_words(deploy),
            deploy.run.display()
        );
        match forge.repo_by_path(&deploy.repo).await {
            Ok(_) => {}
            Err(Error::NotFound) => tracing::warn!(
                "deploy {}: repository {} does not exist yet; the deploy runs once it is created \
                 and pushed to",
                deploy.name,
                deploy.repo
            ),
            Err(e) => return Err(e.into()),
        }
    }
    if forge.list_users().await?.is_empty() {
        tracing::info!(
            "no users yet: create the first admin with `echo 'a long password' | labforge admin \
             user create NAME --email ADDRESS --admin --password-stdin`"
        );
    }
    Ok(())
}

/// `main` for a branch glob, `tag v*` for tags: as the deploy line shows it.
fn trigger_words(deploy: &Deploy) -> String {
    match &deploy.trigger {
        crate::config::DeployTrigger::Branch(p) => p.as_str().to_owned(),
        crate::config::DeployTrigger::Tag(p) => format!("tag {}", p.as_str()),
    }
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
