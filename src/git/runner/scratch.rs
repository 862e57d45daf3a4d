//! Commits made on the server (file edits; later, merges), built beside the repository rather
//! than in it. Every object goes to a private scratch folder (`GIT_OBJECT_DIRECTORY`) while the
//! repository's own objects are read through `GIT_ALTERNATE_OBJECT_DIRECTORIES`, and the index
//! is a scratch file: nothing lands in the repository until the built objects come back in as a
//! push (a pack sent to receive-pack, see `receive_wire`), through the same hooks, checks and
//! quarantine as any push. So the object checked is the object written, and a refused edit
//! leaves no trace in the repository; dropping the `Scratch` removes its folder.

use std::ffi::{OsStr, OsString};

use super::*;

/// A private folder (0700, random name) holding an edit's objects and index.
pub struct Scratch {
    runner: GitRunner,
    repo: RepoDir,
    dir: tempfile::TempDir,
}

/// One line of the index an edit writes.
#[derive(Debug, Clone)]
pub enum IndexChange {
    /// `path` holds blob `blob` (a full id from `write_blob`), executable or not.
    Put {
        path: String,
        blob: String,
        executable: bool,
    },
    /// `path` is removed.
    Remove { path: String },
}

/// An author or committer as git's environment names one; `date` in git's own format
/// (`SECONDS +HHMM`).
#[derive(Debug, Clone)]
pub struct Signature {
    pub name: String,
    pub email: String,
    pub date: String,
}

impl GitRunner {
    /// A fresh scratch folder for building a commit on repository `repo`.
    pub fn scratch(&self, repo: &RepoDir) -> anyhow::Result<Scratch> {
        let dir = tempfile::Builder::new()
            .prefix("labforge-edit-")
            .tempdir()
            .context("creating a scratch folder for an edit")?;
        std::fs::create_dir(dir.path().join("objects")).context("creating scratch objects")?;
        Ok(Scratch {
            runner: self.clone(),
            repo: repo.clone(),
            dir,
        })
    }
}

impl Scratch {
    /// The variables that send git's writes here and its reads to the repository too.
    fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            (
                "GIT_OBJECT_DIRECTORY",
                self.dir.path().join("objects").into(),
            ),
            (
                "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                self.repo.path().join("objects").into(),
            ),
            ("GIT_INDEX_FILE", self.dir.path().join("index").into()),
        ]
    }

    async fn run(&self, args: &[&str], input: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        let env = self.env();
        let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        self.runner
            .run_piped_env(self.repo.path(), args, input, None, &env)
            .await
    }

    async fn run_for_id(&self, args: &[&str], input: Vec<u8>) -> anyhow::Result<String> {
        let out = self.run(args, input).await?;
        let id = String::from_utf8_lossy(&out).trim().to_owned();
        anyhow::ensure!(
            is_object_id(&id),
            "git {} gave no object id",
            args.join(" ")
        );
        Ok(id)
    }

    /// Writes `content` as a blob; its full id.
    pub async fn write_blob(&self, content: Vec<u8>) -> anyhow::Result<String> {
        self.run_for_id(&["hash-object", "-w", "--stdin"], content)
            .await
    }

    /// Builds the tree of `base` (none: an empty tree) with `changes` applied: its id.
    pub async fn tree(
        &self,
        base: Option<&str>,
        changes: &[IndexChange],
    ) -> anyhow::Result<String> {
        if let Some(base) = base {
            anyhow::ensure!(is_object_id(base), "not a commit id: {base}");
            self.run(&["read-tree", "--end-of-options", base], Vec::new())
                .await?;
        }
        // `-z`: each entry ends in NUL, so no character of a path can end it early.
        let mut lines = Vec::new();
        for change in changes {
            match change {
                IndexChange::Put {
                    path,
                    blob,
                    executable,
                } => {
                    anyhow::ensure!(is_object_id(blob), "not a blob id: {blob}");
                    let mode = if *executable { "100755" } else { "100644" };
                    lines.extend_from_slice(format!("{mode} {blob}\t{path}\0").as_bytes());
                }
                IndexChange::Remove { path } => {
                    lines.extend_from_slice(format!("0 {}\t{path}\0", ZERO_ID).as_bytes());
                }
            }
        }
        self.run(&["update-index", "-z", "--index-info"], lines)
            .await?;
        self.run_for_id(&["write-tree"], Vec::new()).await
    }

    /// A commit of `tree` with `parents` (none for a first commit, two for a merge): its id.
    pub async fn commit_tree(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        author: &Signature,
        committer: &Signature,
    ) -> anyhow::Result<String> {
        anyhow::ensure!(is_object_id(tree), "not a tree id: {tree}");
        let mut args = vec!["commit-tree"];
        for parent in parents {
            anyhow::ensure!(is_object_id(parent), "not a commit id: {parent}");
            args.extend(["-p", parent]);
        }
        args.extend(["-F", "-", "--end-of-options", tree]);
        let mut env = self.env();
        for (key, value) in [
            ("GIT_AUTHOR_NAME", &author.name),
            ("GIT_AUTHOR_EMAIL", &author.email),
            ("GIT_AUTHOR_DATE", &author.date),
            ("GIT_COMMITTER_NAME", &committer.name),
            ("GIT_COMMITTER_EMAIL", &committer.email),
            ("GIT_COMMITTER_DATE", &committer.date),
        ] {
            env.push((key, OsString::from(value)));
        }
        let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        let out = self
            .runner
            .run_piped_env(
                self.repo.path(),
                &args,
                message.as_bytes().to_vec(),
                None,
                &env,
            )
            .await?;
        let commit = String::from_utf8_lossy(&out).trim().to_owned();
        anyhow::ensure!(is_object_id(&commit), "git commit-tree gave no commit id");
        Ok(commit)
    }

    /// A pack of the objects `new` has and `base` has not (all of `new`'s without a base):
    /// what a client would send receive-pack for this update.
    pub async fn pack(&self, new: &str, base: Option<&str>) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(is_object_id(new), "not a commit id: {new}");
        let mut revs = format!("{new}\n");
        if let Some(base) = base {
            anyhow::ensure!(is_object_id(base), "not a commit id: {base}");
            revs.push_str(&format!("^{base}\n"));
        }
        self.run(
            &["pack-objects", "--stdout", "--revs", "-q"],
            revs.into_bytes(),
        )
        .await
    }
}

/// The all-zero id git uses for "no object" (the index line that removes a path).
const ZERO_ID: &str = "0000000000000000000000000000000000000000";

/// A time as git's environment takes it: `SECONDS +HHMM`.
pub fn git_date(t: time::OffsetDateTime) -> String {
    let offset = t.offset();
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!(
        "{} {sign}{:02}{:02}",
        t.unix_timestamp(),
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_in_gits_format() {
        let t = time::macros::datetime!(2026-12-08 04:00:00 +01:30);
        assert_eq!(git_date(t), format!("{} +0130", t.unix_timestamp()));
        let t = time::macros::datetime!(2026-12-08 04:00:00 -05:00);
        assert_eq!(git_date(t), format!("{} -0500", t.unix_timestamp()));
    }
}
