//! `[[deploy]]` in the config file: commands the operator lets a push run. Only the operator
//! defines them (repository admins cannot), which is why they live in the file and not in the UI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::model::{DeployName, RepoPath};

/// The file's shape of one `[[deploy]]` table; this form is a contract with users' files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDeploy {
    name: String,
    repo: String,
    branch: Option<String>,
    tag: Option<String>,
    run: PathBuf,
    #[serde(default)]
    args: Vec<String>,
    timeout: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Like `env`, and each value is a secret: redacted (as a whole value) from stored logs.
    #[serde(default)]
    secret_env: BTreeMap<String, String>,
}

/// Which pushed refs start a deploy: a glob on the branch name or on the tag name.
pub type DeployTrigger = super::trigger::RefTrigger;

#[derive(Debug, Clone)]
pub struct Deploy {
    pub name: DeployName,
    pub repo: RepoPath,
    pub trigger: DeployTrigger,
    /// Absolute, or relative to the config file's folder, resolved at load.
    pub run: PathBuf,
    pub args: Vec<String>,
    pub timeout: Duration,
    /// Extra environment (`env` and `secret_env` together).
    pub env: Vec<(String, String)>,
    /// The `secret_env` values: redacted from stored logs wherever they stand as a whole value.
    /// Plain `env` values are shown as they are (a target such as `ns1` is not a secret, and
    /// redacting it mangled every host name in the log).
    pub secrets: Vec<String>,
}

impl Deploy {
    /// Whether a push to `ref_name` (full, `refs/heads/...`) starts this deploy.
    pub fn matches_ref(&self, ref_name: &str) -> bool {
        self.trigger.matches_ref(ref_name)
    }

    /// The trigger as written, for pages: `branch main` or `tag v*`.
    pub fn trigger_text(&self) -> String {
        self.trigger.text()
    }
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub(super) fn parse_deploys(
    file: Vec<FileDeploy>,
    config_dir: &Path,
) -> anyhow::Result<Vec<Deploy>> {
    let mut out: Vec<Deploy> = Vec::with_capacity(file.len());
    for d in file {
        let what = format!("[[deploy]] {:?}", d.name);
        let name = DeployName::parse(&d.name).with_context(|| format!("{what}: name"))?;
        if out.iter().any(|o| o.name == name) {
            bail!("{what}: the name is used twice; deploy names are unique");
        }
        let repo =
            RepoPath::parse(&d.repo).with_context(|| format!("{what}: repo {:?}", d.repo))?;
        let trigger = DeployTrigger::parse(&what, d.branch.as_deref(), d.tag.as_deref())?;
        let run = resolve_run(d.run, config_dir);
        let timeout = parse_timeout(&what, d.timeout.as_deref(), DEFAULT_TIMEOUT)?;
        for key in d.env.keys().chain(d.secret_env.keys()) {
            let ok = !key.is_empty()
                && !key.starts_with("LABFORGE_")
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                bail!("{what}: env name {key:?} must be letters, digits and '_', not LABFORGE_*");
            }
            if d.env.contains_key(key) && d.secret_env.contains_key(key) {
                bail!("{what}: {key:?} is in both env and secret_env; keep it in one");
            }
        }
        let secrets = d.secret_env.values().cloned().collect();
        out.push(Deploy {
            name,
            repo,
            trigger,
            run,
            args: d.args,
            timeout,
            env: d.env.into_iter().chain(d.secret_env).collect(),
            secrets,
        });
    }
    Ok(out)
}

/// A relative `run` is relative to the config file's folder.
pub(super) fn resolve_run(run: PathBuf, config_dir: &Path) -> PathBuf {
    if run.is_absolute() {
        run
    } else {
        config_dir.join(run)
    }
}

/// A table's `timeout`, or `default` when it has none.
pub(super) fn parse_timeout(
    what: &str,
    timeout: Option<&str>,
    default: Duration,
) -> anyhow::Result<Duration> {
    match timeout {
        Some(t) => parse_duration(t).with_context(|| format!("{what}: timeout {t:?}")),
        None => Ok(default),
    }
}

/// `90`, `30s`, `10m`, `1h`, `1h30m`: a bare number is seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => bail!("unknown unit {c:?}; use s, m, h or d"),
        };
        let n: u64 = number
            .parse()
            .context("a number must come before each unit")?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        bail!("expected a duration like 30s, 10m or 1h");
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> anyhow::Result<Vec<Deploy>> {
        #[derive(Deserialize)]
        struct F {
            deploy: Vec<FileDeploy>,
        }
        let f: F = toml::from_str(toml_text)?;
        parse_deploys(f.deploy, Path::new("/etc/labforge"))
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        for bad in ["", "m", "10x", "5m3", "0s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_documented_form_parses() {
        let d = parse(
            r#"[[deploy]]
name = "dns"
repo = "lab/dns"
branch = "main"
run = "hooks/deploy-rsync.sh"
args = ["/srv/dns"]
timeout = "10m"
env = { TARGET = "dns1" }
"#,
        )
        .unwrap();
        assert_eq!(d[0].run, Path::new("/etc/labforge/hooks/deploy-rsync.sh"));
        assert_eq!(d[0].timeout, Duration::from_secs(600));
        assert!(d[0].matches_ref("refs/heads/main"));
        assert!(!d[0].matches_ref("refs/heads/dev"));
        assert!(!d[0].matches_ref("refs/tags/main"));
        assert_eq!(d[0].env, vec![("TARGET".to_owned(), "dns1".to_owned())]);
        assert!(d[0].secrets.is_empty(), "plain env values are not secrets");
    }

    #[test]
    fn secret_env_is_environment_and_secret() {
        let d = parse(
            "[[deploy]]\nname='x'\nrepo='a/b'\nrun='/bin/true'\nbranch='m'\n\
             env = { TARGET = 'ns1' }\nsecret_env = { TOKEN = 's3cr3t' }\n",
        )
        .unwrap();
        assert_eq!(
            d[0].env,
            vec![
                ("TARGET".to_owned(), "ns1".to_owned()),
                ("TOKEN".to_owned(), "s3cr3t".to_owned())
            ]
        );
        assert_eq!(d[0].secrets, vec!["s3cr3t".to_owned()]);
    }

    #[test]
    fn tags_and_globs() {
        let d = parse("[[deploy]]\nname='r'\nrepo='a/b'\ntag='v*'\nrun='/bin/true'\n").unwrap();
        assert!(d[0].matches_ref("refs/tags/v1.2"));
        assert!(!d[0].matches_ref("refs/heads/v1"));
        assert_eq!(d[0].timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn mistakes_are_refused() {
        let base = "name='x'\nrepo='a/b'\nrun='/bin/true'\n";
        for bad in [
            format!("[[deploy]]\n{base}"),                          // no trigger
            format!("[[deploy]]\n{base}branch='main'\ntag='v*'\n"), // both
            format!("[[deploy]]\n{base}branch='main'\n[[deploy]]\n{base}branch='x'\n"), // twice
            "[[deploy]]\nname='x'\nrepo='nope'\nrun='/bin/true'\nbranch='m'\n".into(),
            format!("[[deploy]]\n{base}branch='main'\nenv={{LABFORGE_REPO='x'}}\n"),
            format!("[[deploy]]\n{base}branch='main'\nsecret_env={{LABFORGE_REPO='x'}}\n"),
            format!("[[deploy]]\n{base}branch='main'\nenv={{A='x'}}\nsecret_env={{A='y'}}\n"),
            format!("[[deploy]]\n{base}branch='main'\ncommand='x'\n"),
            // The name is its working folder's name: never a way out of the data folder.
            "[[deploy]]\nname='..'\nrepo='a/b'\nrun='/bin/true'\nbranch='m'\n".into(),
            "[[deploy]]\nname='.x'\nrepo='a/b'\nrun='/bin/true'\nbranch='m'\n".into(),
            "[[deploy]]\nname='-x'\nrepo='a/b'\nrun='/bin/true'\nbranch='m'\n".into(),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }
}
