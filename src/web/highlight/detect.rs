//! Which grammar a file gets: by its name first (Dockerfile, nginx.conf, Makefile, .bashrc), then
//! by extension, then by a `#!` line. A `*.conf` that is not nginx's (by name or folder) is INI,
//! which fits the `key = value`, `[section]` and `#` comments most daemon configs use.

use syntect::parsing::SyntaxReference;

use super::SYNTAXES;

/// Suffixes of files that render or copy to the real file: `nginx.conf.j2` is nginx,
/// `config.toml.example` is TOML.
const WRAPPERS: &[&str] = &[
    ".j2",
    ".jinja",
    ".jinja2",
    ".example",
    ".sample",
    ".dist",
    ".tmpl",
    ".template",
];

/// Config-file extensions that no grammar claims; INI is the closest general grammar.
const INI_LIKE: &[&str] = &["conf", "cfg", "cnf", "ini", "env", "properties"];

/// The grammar for `path` (a repository path) whose first line is `first_line`; None for plain text.
pub(super) fn syntax_for(path: &str, first_line: &str) -> Option<&'static SyntaxReference> {
    let ss = &*SYNTAXES;
    let file = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let file = WRAPPERS
        .iter()
        .find_map(|w| file.strip_suffix(w).filter(|stem| !stem.is_empty()))
        .unwrap_or(&file);
    let ext = file.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let in_nginx_dir = path
        .split('/')
        .any(|seg| seg.to_ascii_lowercase().starts_with("nginx"));
    let named = if file == "dockerfile"
        || file == "containerfile"
        || file.starts_with("dockerfile.")
        || file.starts_with("containerfile.")
        || ext == "dockerfile"
        || ext == "containerfile"
    {
        Some("Dockerfile")
    } else if file == "nginx.conf" || ext == "nginx" || (ext == "conf" && in_nginx_dir) {
        Some("nginx")
    } else {
        None
    };
    let found = named
        .and_then(|n| ss.find_syntax_by_name(n))
        // Whole file names are listed as "extensions" too: Makefile, PKGBUILD, .bashrc.
        .or_else(|| ss.find_syntax_by_extension(file))
        // nginx's grammar claims every `*.conf`; most are not nginx's.
        .or_else(|| (ext == "conf").then(|| ss.find_syntax_by_name("INI"))?)
        .or_else(|| (!ext.is_empty()).then(|| ss.find_syntax_by_extension(ext))?)
        .or_else(|| {
            first_line
                .starts_with("#!")
                .then(|| ss.find_syntax_by_first_line(first_line))?
        })
        .or_else(|| {
            INI_LIKE
                .contains(&ext)
                .then(|| ss.find_syntax_by_name("INI"))?
        });
    found.filter(|s| s.name != "Plain Text")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(path: &str, first_line: &str) -> Option<&'static str> {
        syntax_for(path, first_line).map(|s| s.name.as_str())
    }

    #[test]
    fn homelab_files_are_recognised_by_name_and_extension() {
        for (path, want) in [
            ("pyproject.toml", "TOML"),
            ("Cargo.toml", "TOML"),
            ("compose.yaml", "YAML"),
            ("playbooks/site.yml", "YAML"),
            ("renovate.json", "JSON"),
            ("bin/backup.sh", "Bourne Again Shell (bash)"),
            (".bashrc", "Bourne Again Shell (bash)"),
            ("tools/gen.py", "Python"),
            ("Dockerfile", "Dockerfile"),
            ("docker/Dockerfile.prod", "Dockerfile"),
            ("web.dockerfile", "Dockerfile"),
            ("Containerfile", "Dockerfile"),
            ("nginx.conf", "nginx"),
            ("etc/nginx/conf.d/site.conf", "nginx"),
            ("templates/nginx.conf.j2", "nginx"),
            ("dnsmasq.conf", "INI"),
            ("settings.ini", "INI"),
            ("README.md", "Markdown"),
            ("src/main.rs", "Rust"),
            ("cmd/main.go", "Go"),
            ("app.js", "JavaScript (Babel)"),
            ("main.tf", "Terraform"),
            ("config.toml.example", "TOML"),
            ("Makefile", "Makefile"),
        ] {
            assert_eq!(name(path, ""), Some(want), "{path}");
        }
    }

    #[test]
    fn shebangs_name_the_language_of_files_without_an_extension() {
        assert_eq!(
            name("bin/deploy", "#!/usr/bin/env bash"),
            Some("Bourne Again Shell (bash)")
        );
        assert_eq!(
            name("bin/deploy", "#!/bin/sh"),
            Some("Bourne Again Shell (bash)")
        );
        assert_eq!(name("bin/report", "#!/usr/bin/env python3"), Some("Python"));
        // The extension wins over the first line.
        assert_eq!(name("x.toml", "#!/bin/sh"), Some("TOML"));
    }

    #[test]
    fn unknown_files_are_plain() {
        assert_eq!(name("zones/home/db.home", "$ORIGIN home."), None);
        assert_eq!(name("LICENSE", "MIT License"), None);
        assert_eq!(name("notes.txt", ""), None);
        assert_eq!(name("bin/tool", "not a shebang"), None);
    }
}
