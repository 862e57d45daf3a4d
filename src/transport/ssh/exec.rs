//! Strict parsing of what an SSH client asks to run. Git sends `git-upload-pack 'OWNER/REPO.git'`
//! (or `'/OWNER/REPO.git'` for ssh:// URLs); people type `whoami` or `repo create NAME`. Anything
//! else is refused before it reaches a process.

use crate::git::Service;
use crate::model::{NameError, RepoPath};

#[derive(Debug, PartialEq, Eq)]
pub enum ExecRequest {
    Git {
        service: Service,
        path: RepoPath,
    },
    /// A command of the small interface, split into words like a shell would.
    Command(Vec<String>),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("the command is not valid UTF-8")]
    NotUtf8,
    #[error("unbalanced quotes in the command")]
    Quoting,
    #[error("expected {0} 'OWNER/REPO.git'")]
    GitUsage(&'static str),
    #[error("{0}")]
    Name(#[from] NameError),
}

pub fn parse(raw: &[u8]) -> Result<ExecRequest, ExecError> {
    let line = std::str::from_utf8(raw).map_err(|_| ExecError::NotUtf8)?;
    if line.contains(['\0', '\n', '\r']) {
        return Err(ExecError::Quoting);
    }
    let (verb, rest) = split_git_verb(line.trim());
    if let Some(service) = verb.and_then(Service::parse) {
        return parse_git(service, rest);
    }
    let words = shlex::split(line).ok_or(ExecError::Quoting)?;
    Ok(ExecRequest::Command(words))
}

/// `git-upload-pack X` and the spaced `git upload-pack X` name the same service.
fn split_git_verb(line: &str) -> (Option<&str>, &str) {
    if let Some(rest) = line.strip_prefix("git ") {
        let rest = rest.trim_start();
        let (sub, args) = rest.split_once(' ').unwrap_or((rest, ""));
        let verb = match sub {
            "upload-pack" => Some("git-upload-pack"),
            "receive-pack" => Some("git-receive-pack"),
            "upload-archive" => Some("git-upload-archive"),
            _ => None,
        };
        return (verb, args);
    }
    match line.split_once(' ') {
        Some((verb, args)) if verb.starts_with("git-") => (Some(verb), args),
        _ => (None, line),
    }
}

/// Exactly one argument, in single quotes as git sends it, naming `OWNER/REPO` with an optional
/// leading slash and `.git`. No options, no shell syntax, nothing after it.
fn parse_git(service: Service, args: &str) -> Result<ExecRequest, ExecError> {
    let usage = || ExecError::GitUsage(service.name());
    let quoted = args.trim();
    let inner = quoted
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .ok_or_else(usage)?;
    if inner.contains('\'') {
        return Err(usage());
    }
    let path = inner.strip_prefix('/').unwrap_or(inner);
    Ok(ExecRequest::Git {
        service,
        path: RepoPath::parse(path)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(raw: &str) -> Result<(Service, String), ExecError> {
        match parse(raw.as_bytes())? {
            ExecRequest::Git { service, path } => Ok((service, path.to_string())),
            other => panic!("not git: {other:?}"),
        }
    }

    #[test]
    fn git_forms_that_clients_send() {
        assert_eq!(
            git("git-upload-pack 'lab/dns.git'").unwrap(),
            (Service::UploadPack, "lab/dns".into())
        );
        assert_eq!(
            git("git-upload-pack '/lab/dns.git'").unwrap(),
            (Service::UploadPack, "lab/dns".into())
        );
        assert_eq!(
            git("git-receive-pack 'lab/dns'").unwrap(),
            (Service::ReceivePack, "lab/dns".into())
        );
        assert_eq!(
            git("git upload-pack 'lab/dns.git'").unwrap(),
            (Service::UploadPack, "lab/dns".into())
        );
        assert_eq!(
            git("git-upload-archive 'lab/dns.git'").unwrap(),
            (Service::UploadArchive, "lab/dns".into())
        );
    }

    #[test]
    fn hostile_git_requests_are_refused() {
        for bad in [
            "git-upload-pack '../../etc'",
            "git-upload-pack 'a/b' ; id",
            "git-upload-pack 'a/b'; id",
            "git-upload-pack a/b",
            "git-upload-pack '--help'",
            "git-upload-pack 'a/b' 'c/d'",
            "git-upload-pack '/a/../b'",
            "git-upload-pack 'a/b/c'",
            "git-upload-pack 'a/b'\nid",
            "git-upload-pack '-x/y'",
            "git-upload-pack 'a/x.git.git'",
            "git-upload-pack ''",
        ] {
            assert!(
                !matches!(parse(bad.as_bytes()), Ok(ExecRequest::Git { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn unknown_git_verbs_are_plain_commands_and_then_refused_by_the_interface() {
        assert_eq!(
            parse(b"git-shell 'x'").unwrap(),
            ExecRequest::Command(vec!["git-shell".into(), "x".into()])
        );
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            parse(b"repo create dns --description 'DNS zones'").unwrap(),
            ExecRequest::Command(vec![
                "repo".into(),
                "create".into(),
                "dns".into(),
                "--description".into(),
                "DNS zones".into()
            ])
        );
        assert_eq!(parse(b"repo create 'x").unwrap_err(), ExecError::Quoting);
        assert_eq!(parse(b"\xff").unwrap_err(), ExecError::NotUtf8);
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        /// Any bytes: refused or parsed without panicking, quickly; a git request names exactly
        /// one repository path that parses back to itself.
        #[test]
        fn exec_lines_parse_strictly(
            raw in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            line in "(git[- ](upload|receive)-pack|git-upload-archive) '?/?[a-z.]{0,8}/?[a-z.]{0,8}'?[ -~]{0,10}",
        ) {
            let limit = std::time::Duration::from_millis(200);
            for input in [raw.as_slice(), line.as_bytes()] {
                let parsed = crate::fuzz::within(limit, "exec line", || parse(input));
                if let Ok(ExecRequest::Git { path, .. }) = parsed {
                    proptest::prop_assert_eq!(crate::model::RepoPath::parse(&path.to_string()), Ok(path.clone()));
                }
            }
        }
    }
}
