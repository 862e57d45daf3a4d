//! `[[check]]` in the config file: commands the operator runs on a push before it lands (in
//! pre-receive); a non-zero exit refuses the ref. Like deploys, only the operator defines them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::deploy::{parse_timeout, resolve_run};
use super::trigger::RefTrigger;
use crate::model::{CheckName, RepoPath};

/// The file's shape of one `[[check]]` table; this form is a contract with users' files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCheck {
    name: String,
    repo: String,
    branch: Option<String>,
    tag: Option<String>,
    #[serde(default)]
    paths: Vec<String>,
    run: PathBuf,
    #[serde(default)]
    args: Vec<String>,
    timeout: Option<String>,
    sandbox: Option<bool>,
    memory: Option<String>,
    processes: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: CheckName,
    /// `OWNER/REPO` or a glob such as `lab/*`, matched without regard to case.
    pub repo: glob::Pattern,
    pub trigger: RefTrigger,
    /// Run only when the push changes a path one of these match (empty: always).
    pub paths: Vec<glob::Pattern>,
    /// Absolute (relative ones are resolved against the config file's folder at load).
    pub run: PathBuf,
    pub args: Vec<String>,
    /// The push waits this long at most; then the check is ended and the ref refused.
    pub timeout: Duration,
    /// Run inside bubblewrap when it is installed (`sandbox = false` opts out).
    pub sandbox: bool,
    /// What the check may use, in bytes: its processes' address space plus the sizes of its
    /// `/tmp` and `/dev/shm` add up to this (and a memory cgroup holds it to it where one is
    /// available).
    pub memory: u64,
    /// Processes and threads at once (a cgroup's `pids.max`, where one is available).
    pub processes: u32,
}

/// How `paths` globs match: `*` stays within a folder, `**` crosses folders.
const PATH_MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Check {
    /// Whether this check is configured for `repo` (`OWNER/NAME`).
    pub fn matches_repo(&self, full_name: &str) -> bool {
        self.repo.matches_with(
            full_name,
            glob::MatchOptions {
                case_sensitive: false,
                ..PATH_MATCH
            },
        )
    }

    /// Whether a change to `path` (relative to the repository's root) makes this check run.
    pub fn wants_path(&self, path: &str) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| p.matches_with(path, PATH_MATCH))
    }
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_MEMORY: u64 = 1 << 30;
/// Enough for a shell pipeline, `make -j` or ansible's forks; far below a fork bomb's count.
const DEFAULT_PROCESSES: u32 = 256;

pub(super) fn parse_checks(file: Vec<FileCheck>, config_dir: &Path) -> anyhow::Result<Vec<Check>> {
    let mut out: Vec<Check> = Vec::with_capacity(file.len());
    for c in file {
        let what = format!("[[check]] {:?}", c.name);
        let name = CheckName::parse(&c.name).with_context(|| format!("{what}: name"))?;
        if out.iter().any(|o| o.name == name) {
            bail!("{what}: the name is used twice; check names are unique");
        }
        let repo = parse_repo(&c.repo).with_context(|| format!("{what}: repo {:?}", c.repo))?;
        let trigger = RefTrigger::parse(&what, c.branch.as_deref(), c.tag.as_deref())?;
        let paths = c
            .paths
            .iter()
            .map(|p| {
                let p = p.trim_start_matches('/');
                glob::Pattern::new(p).with_context(|| format!("{what}: bad path pattern {p:?}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let memory = match &c.memory {
            Some(m) => parse_size(m).with_context(|| format!("{what}: memory {m:?}"))?,
            None => DEFAULT_MEMORY,
        };
        let processes = c.processes.unwrap_or(DEFAULT_PROCESSES);
        if processes < 8 {
            bail!("{what}: processes = {processes}: at least 8 (bwrap and a shell need some)");
        }
        out.push(Check {
            name,
            repo,
            trigger,
            paths,
            run: resolve_run(c.run, config_dir),
            args: c.args,
            timeout: parse_timeout(&what, c.timeout.as_deref(), DEFAULT_TIMEOUT)?,
            sandbox: c.sandbox.unwrap_or(true),
            memory,
            processes,
        });
    }
    Ok(out)
}

/// `[checks]`: where pushed trees are written for checks and how many bytes they may take.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCheckLimits {
    work_dir: Option<PathBuf>,
    push_mib: Option<u64>,
    total_mib: Option<u64>,
}

/// Where checks' trees go and the bytes they may write.
#[derive(Debug, Clone)]
pub struct CheckLimits {
    /// The work folder: labforge's own, mode 0700 (made so when missing; refused otherwise).
    /// On disk by default (`DATA_DIR/checks`); a tmpfs such as `/dev/shm` only when the
    /// operator names one, since what is written there counts against the machine's memory.
    pub work_dir: PathBuf,
    /// Bytes one push may write for its checks (all its refs together).
    pub push_bytes: u64,
    /// Bytes all pushes being checked at once may have written.
    pub total_bytes: u64,
}

const DEFAULT_PUSH_MIB: u64 = 512;
const DEFAULT_TOTAL_MIB: u64 = 1024;

/// Defaults, then the file's `[checks]`, then `LABFORGE_CHECKS_*`.
pub(super) fn parse_check_limits(
    file: Option<FileCheckLimits>,
    config_dir: &Path,
    data_dir: &Path,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<CheckLimits> {
    let file = file.unwrap_or_default();
    let work_dir = match env("LABFORGE_CHECKS_WORK_DIR").filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => file
            .work_dir
            .map_or_else(|| data_dir.join("checks"), |d| config_dir.join(d)),
    };
    let work_dir = std::path::absolute(&work_dir)
        .with_context(|| format!("making {} absolute", work_dir.display()))?;
    let mib = |key: &str, file_value: Option<u64>, default: u64| -> anyhow::Result<u64> {
        let v = match env(key).filter(|v| !v.is_empty()) {
            Some(v) => v.parse().with_context(|| format!("{key}={v}"))?,
            None => file_value.unwrap_or(default),
        };
        if v == 0 || v > 1 << 20 {
            bail!("{key}: {v} MiB; give 1 to 1048576");
        }
        Ok(v << 20)
    };
    Ok(CheckLimits {
        work_dir,
        push_bytes: mib("LABFORGE_CHECKS_PUSH_MIB", file.push_mib, DEFAULT_PUSH_MIB)?,
        total_bytes: mib(
            "LABFORGE_CHECKS_TOTAL_MIB",
            file.total_mib,
            DEFAULT_TOTAL_MIB,
        )?,
    })
}

/// `OWNER/REPO`, either side a glob (`lab/*`); a plain one must be a valid repository path.
fn parse_repo(s: &str) -> anyhow::Result<glob::Pattern> {
    let is_glob = s.contains(['*', '?', '[']);
    if !is_glob {
        RepoPath::parse(s)?;
    } else if s.split('/').count() != 2 || s.chars().any(|c| c.is_whitespace()) {
        bail!("expected OWNER/REPO or a glob on it such as lab/*");
    }
    Ok(glob::Pattern::new(s)?)
}

/// `512M`, `1G`, `2048K` or a number of bytes.
fn parse_size(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let (number, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = number.parse().context("expected a size like 512M or 2G")?;
    let scale = match unit.to_ascii_uppercase().as_str() {
        "" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        other => bail!("unknown unit {other:?}; use K, M or G"),
    };
    let bytes = n.saturating_mul(scale);
    if bytes < 16 << 20 {
        bail!("at least 16M: less does not start a shell");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> anyhow::Result<Vec<Check>> {
        #[derive(Deserialize)]
        struct F {
            check: Vec<FileCheck>,
        }
        let f: F = toml::from_str(toml_text)?;
        parse_checks(f.check, Path::new("/etc/labforge"))
    }

    #[test]
    fn the_documented_form_parses() {
        let c = parse(
            r#"[[check]]
name = "zones"
repo = "lab/dns"
branch = "main"
paths = ["zones/**"]
run = "checks/named-checkzone.sh"
args = []
timeout = "30s"
"#,
        )
        .unwrap();
        let c = &c[0];
        assert_eq!(c.run, Path::new("/etc/labforge/checks/named-checkzone.sh"));
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert!(c.sandbox);
        assert_eq!(c.memory, 1 << 30);
        assert_eq!(c.processes, DEFAULT_PROCESSES);
        assert!(c.matches_repo("lab/dns") && c.matches_repo("Lab/DNS"));
        assert!(!c.matches_repo("lab/dns2"));
        assert!(c.trigger.matches_ref("refs/heads/main"));
        assert!(c.wants_path("zones/lab.zone") && c.wants_path("zones/a/b.zone"));
        assert!(!c.wants_path("README.md") && !c.wants_path("other/zones/x"));
    }

    #[test]
    fn repo_globs_defaults_and_path_globs() {
        let c = parse(
            "[[check]]\nname='y'\nrepo='lab/*'\ntag='v*'\nrun='/bin/true'\npaths=['*.yml', 'ansible/*.yaml']\nsandbox=false\nmemory='512M'\n",
        )
        .unwrap();
        let c = &c[0];
        assert!(c.matches_repo("lab/anything") && !c.matches_repo("other/x"));
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert!(!c.sandbox);
        assert_eq!(c.memory, 512 << 20);
        assert!(c.wants_path("site.yml"));
        assert!(!c.wants_path("roles/site.yml"), "* stays within a folder");
        assert!(c.wants_path("ansible/x.yaml"));
        let none = parse("[[check]]\nname='a'\nrepo='a/b'\nbranch='*'\nrun='/bin/true'\n").unwrap();
        assert!(none[0].wants_path("anything/at/all"));
    }

    #[test]
    fn mistakes_are_refused() {
        let base = "name='x'\nrepo='a/b'\nrun='/bin/true'\n";
        for bad in [
            format!("[[check]]\n{base}"),
            format!("[[check]]\n{base}branch='main'\ntag='v*'\n"),
            format!("[[check]]\n{base}branch='m'\n[[check]]\n{base}branch='x'\n"),
            "[[check]]\nname='x'\nrepo='nope'\nrun='/bin/true'\nbranch='m'\n".into(),
            "[[check]]\nname='x'\nrepo='a b/*'\nrun='/bin/true'\nbranch='m'\n".into(),
            "[[check]]\nname='..'\nrepo='a/b'\nrun='/bin/true'\nbranch='m'\n".into(),
            format!("[[check]]\n{base}branch='m'\nmemory='1T'\n"),
            format!("[[check]]\n{base}branch='m'\nmemory='1M'\n"),
            format!("[[check]]\n{base}branch='m'\nprocesses=2\n"),
            format!("[[check]]\n{base}branch='m'\ntimeout='soon'\n"),
            format!("[[check]]\n{base}branch='m'\nenv={{A='b'}}\n"),
            format!("[[check]]\n{base}branch='m'\npaths=['[']\n"),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn work_folder_and_byte_caps() {
        let none = |_: &str| None;
        let l =
            parse_check_limits(None, Path::new("/etc/lf"), Path::new("/srv/data"), &none).unwrap();
        assert_eq!(
            l.work_dir,
            Path::new("/srv/data/checks"),
            "on disk by default"
        );
        assert_eq!((l.push_bytes, l.total_bytes), (512 << 20, 1 << 30));
        let file: FileCheckLimits =
            toml::from_str("work_dir = \"w\"\npush_mib = 64\ntotal_mib = 100").unwrap();
        let env = |k: &str| (k == "LABFORGE_CHECKS_TOTAL_MIB").then(|| "200".to_owned());
        let l =
            parse_check_limits(Some(file), Path::new("/etc/lf"), Path::new("/d"), &env).unwrap();
        assert_eq!(l.work_dir, Path::new("/etc/lf/w"));
        assert_eq!((l.push_bytes, l.total_bytes), (64 << 20, 200 << 20));
        let env = |k: &str| (k == "LABFORGE_CHECKS_WORK_DIR").then(|| "/dev/shm/lf".to_owned());
        let l = parse_check_limits(None, Path::new("/etc"), Path::new("/d"), &env).unwrap();
        assert_eq!(l.work_dir, Path::new("/dev/shm/lf"));
        for bad in ["0", "lots", "2000000"] {
            let env = |k: &str| (k == "LABFORGE_CHECKS_PUSH_MIB").then(|| bad.to_owned());
            assert!(parse_check_limits(None, Path::new("/"), Path::new("/d"), &env).is_err());
        }
        assert!(toml::from_str::<FileCheckLimits>("push = 1").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("33554432").unwrap(), 32 << 20);
        assert!(parse_size("lots").is_err());
    }
}
