//! A smaller history of the `long` fixture's shape (../shared/bench/mkrepo.py long), made with
//! `git fast-import` the same way every time: many files in nested folders of which each commit
//! touches one to three, hot files changed often (Makefile, inventory.yaml, README.md), files
//! never changed after the first commit, a submodule, names with non-ASCII bytes (they hash
//! differently in version 1 and version 2 changed-path filters), deletions and reverts.

use std::io::Write;
use std::path::Path;

const WORDS: &[&str] = &[
    "host",
    "port",
    "user",
    "group",
    "service",
    "deploy",
    "config",
    "network",
    "vlan",
    "dns",
    "zone",
    "record",
    "firewall",
    "rule",
    "allow",
    "deny",
    "forward",
    "backup",
    "volume",
    "mount",
    "image",
    "container",
    "restart",
    "listen",
    "upstream",
    "proxy",
    "cert",
    "key",
    "timeout",
];
const FOLDERS: &[&str] = &[
    "",
    "",
    "net",
    "net/vlans",
    "hosts",
    "hosts/edge",
    "hosts/core/rack-1",
    "dns/zones",
    "compose/stacks/media",
    "compose/stacks/home",
    "ansible/roles/base/tasks",
    "ansible/roles/web/templates",
    "firewall",
];
/// Marks a change that is a submodule (its commit id follows).
const GITLINK: &str = "\0gitlink ";
const EXTS: &[&str] = &[".yaml", ".conf", ".sh", ".toml", ".nix", ".json", ".md"];

/// A deterministic generator (xorshift64*), so the history is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 1000 < percent * 10
    }
}

fn line(rng: &mut Rng) -> String {
    let indent = "  ".repeat(rng.below(4));
    let words: Vec<&str> = (0..2 + rng.below(7))
        .map(|_| WORDS[rng.below(WORDS.len())])
        .collect();
    format!("{indent}{} {}", words.join(" "), rng.below(65536))
}

fn text(rng: &mut Rng, lines: usize) -> Vec<String> {
    (0..lines).map(|_| line(rng)).collect()
}

fn edit(rng: &mut Rng, lines: &mut Vec<String>) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(lines.len() + 1);
        match rng.below(10) {
            0..5 if !lines.is_empty() => {
                let i = at.min(lines.len() - 1);
                lines[i] = line(rng);
            }
            0..8 => lines.insert(at, line(rng)),
            _ if lines.len() > 1 => {
                lines.remove(at.min(lines.len() - 1));
            }
            _ => {}
        }
    }
}

/// Writes a bare repository with `commits` commits on `main` to `dest`, packed, without a
/// commit-graph (callers write the one they need).
pub(crate) fn long_shaped_repo(dest: &Path, commits: usize) {
    let ok = |cmd: &mut std::process::Command| {
        let out = cmd.output().expect("git runs");
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(std::process::Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(dest));
    let mut child = std::process::Command::new("git")
        .arg("-C")
        .arg(dest)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("git fast-import runs");
    let mut out = std::io::BufWriter::new(child.stdin.take().expect("piped stdin"));
    let mut rng = Rng(0x1abf_0f9e_u64);
    let mut files: Vec<String> = (0..240)
        .map(|i| {
            let folder = FOLDERS[rng.below(FOLDERS.len())];
            let name = format!(
                "{}-{i}{}",
                WORDS[rng.below(WORDS.len())],
                EXTS[rng.below(EXTS.len())]
            );
            if folder.is_empty() {
                name
            } else {
                format!("{folder}/{name}")
            }
        })
        .collect();
    // Their last 1-3 bytes (murmur3's tail) hold a byte >= 0x80: version 1 filters hash them
    // with git's sign-extension bug, version 2 without.
    files.extend(["café".to_owned(), "dns/zones/müh".to_owned()]);
    let mut content: std::collections::HashMap<String, Vec<String>> = files
        .iter()
        .map(|p| {
            let lines = 5 + rng.below(60);
            (p.clone(), text(&mut rng, lines))
        })
        .collect();
    let hot = [("Makefile", 6), ("inventory.yaml", 3), ("README.md", 2)];
    for (h, _) in hot {
        content.insert(h.to_owned(), text(&mut rng, 300));
    }
    // Previous versions, for reverts.
    let mut before: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut time = 1_600_000_000u64;
    let write_commit = |out: &mut dyn Write,
                        mark: usize,
                        msg: &str,
                        changes: &[(String, Option<String>)],
                        time: u64| {
        writeln!(out, "commit refs/heads/main\nmark :{mark}").unwrap();
        writeln!(out, "author Ada <ops@lab.local> {time} +0000").unwrap();
        writeln!(out, "committer Ada <ops@lab.local> {time} +0000").unwrap();
        writeln!(out, "data {}\n{msg}", msg.len()).unwrap();
        if mark > 1 {
            writeln!(out, "from :{}", mark - 1).unwrap();
        }
        for (path, data) in changes {
            match data {
                Some(d) if d.starts_with(GITLINK) => {
                    writeln!(out, "M 160000 {} {path}", &d[GITLINK.len()..]).unwrap();
                }
                Some(d) => {
                    writeln!(out, "M 100644 inline {path}\ndata {}\n{d}", d.len()).unwrap();
                }
                None => writeln!(out, "D {path}").unwrap(),
            }
        }
        writeln!(out).unwrap();
    };
    let mut first: Vec<(String, Option<String>)> = content
        .iter()
        .map(|(p, l)| (p.clone(), Some(l.join("\n"))))
        .collect();
    first.sort();
    first.push(("COPYING".into(), Some(text(&mut rng, 40).join("\n"))));
    first.push((".gitattributes".into(), Some("*.sh text eol=lf\n".into())));
    first.push(("docs/LICENSE".into(), Some(text(&mut rng, 10).join("\n"))));
    first.push((
        "vendor-module".into(),
        Some(format!("{GITLINK}{}", "1".repeat(40))),
    ));
    write_commit(&mut out, 1, "Initial import", &first, time);
    for mark in 2..=commits {
        time += 3607;
        let mut changes: Vec<(String, Option<String>)> = Vec::new();
        let mut picked: Vec<String> = (0..1 + rng.below(3))
            .map(|_| files[rng.below(files.len())].clone())
            .collect();
        picked.extend(
            hot.iter()
                .filter(|(_, p)| rng.chance(*p))
                .map(|(h, _)| (*h).to_owned()),
        );
        picked.sort();
        picked.dedup();
        for p in picked {
            let lines = content.get_mut(&p).expect("a known file");
            let old = lines.clone();
            if mark % 150 == 0 && before.contains_key(&p) {
                *lines = before[&p].clone(); // a revert: the same blob as two versions ago
            } else {
                edit(&mut rng, lines);
            }
            before.insert(p.clone(), old);
            changes.push((p.clone(), Some(lines.join("\n"))));
        }
        if mark % 97 == 0 {
            // A deletion; the file comes back in a later commit.
            let gone = files.swap_remove(rng.below(files.len() - 2));
            changes.retain(|(p, _)| *p != gone);
            changes.push((gone.clone(), None));
            content.remove(&gone);
            before.remove(&gone);
        } else if mark % 97 == 40 {
            let back = format!("hosts/returned-{mark}.yaml");
            content.insert(back.clone(), text(&mut rng, 12));
            changes.push((back.clone(), Some(content[&back].join("\n"))));
            files.push(back);
        }
        let subject = format!("Update {}", changes[0].0);
        write_commit(&mut out, mark, &subject, &changes, time);
    }
    writeln!(out, "done").unwrap();
    drop(out);
    assert!(child.wait().expect("fast-import ends").success());
    ok(std::process::Command::new("git").arg("-C").arg(dest).args([
        "symbolic-ref",
        "HEAD",
        "refs/heads/main",
    ]));
    ok(std::process::Command::new("git")
        .arg("-C")
        .arg(dest)
        .args(["repack", "-adq"]));
}

/// Writes the commit-graph with changed-path filters of `version` (1 or 2), as upkeep does.
pub(crate) fn write_commit_graph(repo: &Path, version: u8) {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .arg("-c")
        .arg(format!("commitGraph.changedPathsVersion={version}"))
        .args(["commit-graph", "write", "--reachable", "--changed-paths"])
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
