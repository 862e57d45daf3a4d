//! Times `Reader::blame` in-process (no server): `blame_time REPO.git PATH [RUNS]`
//! (`BLAME_IDS=FILE` also writes each line's commit id there).
use std::sync::Arc;
use std::time::{Duration, Instant};

use labforge::git::RepoStore;
use labforge::git::read::ReadCache;
use labforge::model::TreePath;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let repo = std::path::Path::new(&args[1]);

    let runs: usize = args.get(3).map_or(3, |r| r.parse().expect("a number"));
    let name = repo
        .file_stem()
        .expect("bench input is well-formed")
        .to_str()
        .expect("bench input is well-formed");
    let owner = repo.parent().expect("bench input is well-formed");
    let store = RepoStore::new(
        owner
            .parent()
            .expect("bench input is well-formed")
            .to_path_buf(),
    );
    let dir = store
        .dir_for_stored(
            owner
                .file_name()
                .expect("bench input is well-formed")
                .to_str()
                .expect("bench input is well-formed"),
            name,
        )
        .expect("dir");
    let cache = Arc::new(ReadCache::default());
    let head = cache
        .open(&dir)
        .expect("open")
        .branch_head("main")
        .expect("bench input is well-formed")
        .expect("the repository has a main branch")
        .id;
    if args[2] == "--warm" {
        for _ in 0..runs {
            let _ = std::fs::remove_dir_all(repo.join("labforge"));
            let reader = ReadCache::open(&Arc::new(ReadCache::default()), &dir).expect("open");
            let t = Instant::now();
            reader.warm("main").expect("warm");
            println!("warm {:?}", t.elapsed());
        }
        return;
    }
    for _ in 0..runs {
        let reader = cache.open(&dir).expect("open");
        let t = Instant::now();
        let path = TreePath::parse(&args[2]).expect("a valid path");
        let b = reader
            .blame(&head, &path, Duration::from_secs(300))
            .expect("bench input is well-formed")
            .expect("bench input is well-formed");
        let ids: Vec<_> = b
            .origin
            .iter()
            .map(|o| o.map(|i| b.commits[i].id.short().to_owned()))
            .collect();
        let mut h = 0u64;
        for s in ids.iter().flatten() {
            for c in s.bytes() {
                h = h.wrapping_mul(131).wrapping_add(c as u64);
            }
        }
        // BLAME_IDS=FILE: each line's full commit id, one a line, to compare with git's.
        if let Ok(out) = std::env::var("BLAME_IDS") {
            let full: Vec<String> = b
                .origin
                .iter()
                .map(|o| o.map_or_else(|| "-".to_owned(), |i| b.commits[i].id.0.clone()))
                .collect();
            std::fs::write(out, full.join("\n") + "\n").expect("BLAME_IDS is writable");
        }
        println!(
            "{:?} lines={} commits={} complete={} sig={h:x}",
            t.elapsed(),
            b.lines.len(),
            b.commits.len(),
            b.complete
        );
    }
}
