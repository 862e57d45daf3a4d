//! The guide (`docs/`, an mdBook) holds together: every chapter is in SUMMARY.md and every
//! entry there is a file; every relative link (and its `#anchor`) points at a page and a heading
//! that exist; the API chapter lists every route the router has. `.ci/run` builds the book
//! with mdbook besides (warnings fail it).

use std::collections::BTreeSet;
use std::path::PathBuf;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/src")
}

/// The chapters, in SUMMARY.md's order (the order the first-run test runs their examples in).
pub(crate) fn chapters() -> Vec<PathBuf> {
    let summary = std::fs::read_to_string(src().join("SUMMARY.md")).unwrap();
    links(&summary)
        .into_iter()
        .map(|(target, _)| src().join(target))
        .collect()
}

/// `(target, anchor)` of every inline markdown link to a relative target, outside code.
fn links(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Inline code spans are not links: drop them first.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = plain.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            let target = &after[..end];
            rest = &after[end..];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f.to_owned(), Some(a.to_owned())),
                None => (target.to_owned(), None),
            };
            out.push((file, anchor));
        }
    }
    out
}

/// mdBook's heading ids: lower case, spaces to `-`, only letters, digits, `-` and `_` kept.
fn heading_ids(text: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if in_fence || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let id: String = title
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        ids.insert(id);
    }
    ids
}

#[test]
fn every_chapter_is_in_the_summary_and_every_entry_exists() {
    let listed: BTreeSet<PathBuf> = chapters().into_iter().collect();
    assert!(listed.len() >= 15, "{listed:?}");
    for chapter in &listed {
        assert!(chapter.is_file(), "SUMMARY.md lists {}", chapter.display());
    }
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") && !path.ends_with("SUMMARY.md") {
            assert!(
                listed.contains(&path),
                "{} is not in SUMMARY.md",
                path.display()
            );
        }
    }
    for required in ["service.md", "metrics.md", "port-22.md", "configuration.md"] {
        assert!(listed.contains(&src().join(required)), "{required}");
    }
}

#[test]
fn every_relative_link_in_the_book_points_at_a_page_and_heading_that_exist() {
    let mut checked = 0;
    for chapter in chapters() {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for (file, anchor) in links(&text) {
            let target = if file.is_empty() {
                chapter.clone()
            } else {
                chapter.parent().unwrap().join(&file)
            };
            assert!(
                target.is_file(),
                "{}: link to {file}, which does not exist",
                chapter.display()
            );
            assert!(
                target.starts_with(src()),
                "{}: {file} is outside the book",
                chapter.display()
            );
            if let Some(anchor) = anchor {
                let ids = heading_ids(&std::fs::read_to_string(&target).unwrap());
                assert!(
                    ids.contains(&anchor),
                    "{}: {file}#{anchor}: no such heading in {ids:?}",
                    chapter.display()
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked > 20,
        "only {checked} links found: is the scan still working?"
    );
}

#[test]
fn the_link_check_sees_a_broken_link_and_a_wrong_anchor() {
    let found = links(
        "see [a](a.md#b-c) and `[not](x.md)` and [web](https://x.org/y)\n```\n[no](z.md)\n```\n",
    );
    assert_eq!(found, vec![("a.md".to_owned(), Some("b-c".to_owned()))]);
    let ids = heading_ids("# Users, keys and the operator's commands\n## SSH\n");
    assert!(ids.contains("users-keys-and-the-operators-commands") && ids.contains("ssh"));
}

/// Every API route the router holds (`labforge::app::route_table`, the same record the access
/// matrix uses) is listed with its method.
#[test]
fn the_api_chapter_lists_every_route() {
    let page = std::fs::read_to_string(src().join("api.md")).unwrap();
    let mut routes = 0;
    for record in labforge::app::route_table() {
        let Some(route) = record.path.strip_prefix("/api/v1") else {
            continue;
        };
        routes += 1;
        let listed = page.lines().any(|line| {
            line.contains(&format!(" {route}`"))
                && line
                    .split('`')
                    .nth(1)
                    .is_some_and(|methods| methods.contains(record.method.as_str()))
        });
        assert!(
            listed,
            "docs/src/api.md does not list {} {route}",
            record.method
        );
    }
    assert!(routes >= 19, "found {routes} API routes");
}
