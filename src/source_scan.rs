//! For tests that hold the source itself to a rule Rust's visibility cannot express (who mints
//! the `SystemKey`, who registers routes): every `.rs` file under `src/`, with its text.

use std::path::{Path, PathBuf};

/// `(path relative to the crate, text)` of every Rust file under `src/`.
pub(crate) fn rust_sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable in a checkout") {
            let path = entry.expect("src/ is readable in a checkout").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("sources are UTF-8");
                let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                found.push((relative, text));
            }
        }
    }
    found.sort();
    found
}
