//! `pg_dump` and `pg_restore` against the forge's database: the managed cluster's socket or
//! `DATABASE_URL`. Connection settings go through libpq's environment (`PGHOST`, `PGPASSWORD`,
//! ...), never the command line, where `ps` would show a password.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, anyhow, bail};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::config::Secret;

/// Tables whose rows a backup leaves out: web sessions (everyone signs in again after a
/// restore; keys, tokens and passwords still work).
pub const EXCLUDED_DATA: &[&str] = &["sessions"];

/// Where the database is, for PostgreSQL's own tools.
#[derive(Clone)]
pub struct PgTarget {
    options: PgConnectOptions,
    password: Option<Secret>,
}

impl PgTarget {
    /// `options` as sqlx connects; the password (which sqlx does not give back) comes from
    /// `database_url` when that is where the options came from.
    pub fn new(options: PgConnectOptions, database_url: Option<&Secret>) -> Self {
        let password = database_url
            .and_then(|u| url::Url::parse(u.expose()).ok())
            .and_then(|u| u.password().map(str::to_owned))
            .map(|p| Secret::new(percent_decode(&p).unwrap_or(p)));
        Self { options, password }
    }

    pub fn options(&self) -> &PgConnectOptions {
        &self.options
    }

    pub fn database(&self) -> &str {
        self.options
            .get_database()
            .unwrap_or(self.options.get_username())
    }

    fn command(&self, tool: &str) -> anyhow::Result<tokio::process::Command> {
        let mut cmd = tokio::process::Command::new(find_tool(tool)?);
        cmd.env_clear()
            .env("PATH", crate::git::runner::SAFE_PATH)
            .env("LC_ALL", "C")
            .env("PGAPPNAME", "labforge-backup")
            .env("PGUSER", self.options.get_username())
            .env("PGDATABASE", self.database())
            .env("PGSSLMODE", ssl_mode(self.options.get_ssl_mode()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        match self.options.get_socket() {
            Some(dir) => cmd.env("PGHOST", dir),
            None => cmd.env("PGHOST", self.options.get_host()),
        };
        cmd.env("PGPORT", self.options.get_port().to_string());
        if let Some(p) = &self.password {
            cmd.env("PGPASSWORD", p.expose());
        }
        Ok(cmd)
    }

    /// Dumps the database as `snapshot` shows it into `dest` (custom format, which
    /// `pg_restore` reads; uncompressed when the archive compresses anyway).
    pub async fn dump(&self, snapshot: &str, dest: &Path, compress: bool) -> anyhow::Result<()> {
        let mut cmd = self.command("pg_dump")?;
        cmd.args(["--format=custom", "--no-owner", "--no-privileges"])
            .arg(format!("--snapshot={snapshot}"))
            .arg(if compress {
                "--compress=6"
            } else {
                "--compress=0"
            })
            .arg("--file")
            .arg(dest);
        for table in EXCLUDED_DATA {
            cmd.arg(format!("--exclude-table-data={table}"));
        }
        run(cmd, "pg_dump").await
    }

    /// Restores `dump` into this (empty) database in one transaction: all or nothing.
    pub async fn restore(&self, dump: &Path) -> anyhow::Result<()> {
        let mut cmd = self.command("pg_restore")?;
        cmd.args([
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
        ])
        .arg(format!("--dbname={}", self.database()))
        .arg(dump);
        run(cmd, "pg_restore").await
    }
}

/// `pg_restore --list`: reads the dump's table of contents without a database.
pub async fn check_dump(dump: &Path) -> anyhow::Result<()> {
    let mut cmd = tokio::process::Command::new(find_tool("pg_restore")?);
    cmd.env_clear()
        .env("PATH", crate::git::runner::SAFE_PATH)
        .arg("--list")
        .arg(dump)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    run(cmd, "pg_restore --list").await
}

async fn run(mut cmd: tokio::process::Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .spawn()
        .with_context(|| format!("starting {what}"))?
        .wait_with_output()
        .await
        .with_context(|| format!("waiting for {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn ssl_mode(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A PostgreSQL client tool from the newest `/usr/lib/postgresql/*/bin` (Debian puts them
/// there; a newer `pg_dump` reads older servers, never the reverse), else from PATH.
fn find_tool(name: &str) -> anyhow::Result<PathBuf> {
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin").join(name)))
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    versioned.sort();
    if let Some((_, path)) = versioned.pop() {
        return Ok(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!("{name} was not found; install PostgreSQL's client tools (Debian: apt-get install postgresql-client)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn the_password_comes_from_the_url_decoded() {
        let url = Secret::new("postgres://lab:p%40ss@db.lab:5433/forge");
        let options = PgConnectOptions::from_str(url.expose()).unwrap();
        let target = PgTarget::new(options, Some(&url));
        assert_eq!(target.password.as_ref().unwrap().expose(), "p@ss");
        assert_eq!(target.database(), "forge");
    }
}
