use super::*;

fn entry(kind: EntryKind, id: &str) -> PathEntry {
    PathEntry {
        kind,
        id: id.repeat(40),
        executable: false,
    }
}

fn p(s: &str) -> EditPath {
    EditPath::parse(s).unwrap()
}

fn found(along: Vec<PathEntry>) -> Found {
    Found {
        along,
        from_along: Vec::new(),
    }
}

fn update(path: &str, sha: Option<&str>) -> FileChange {
    FileChange::Update {
        path: p(path),
        from: None,
        sha: sha.map(|s| s.repeat(40)),
        content: b"x".to_vec(),
    }
}

#[test]
fn a_stale_sha_is_refused_with_the_current_one() {
    let err = plan(
        &[update("a.txt", Some("b"))],
        &[found(vec![entry(EntryKind::File, "a")])],
        false,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "sha does not match [given: {}, expected: {}]",
            "b".repeat(40),
            "a".repeat(40)
        )
    );
    // Without a sha and without a pinned tip, Gitea's own refusal.
    let err = plan(
        &[update("a.txt", None)],
        &[found(vec![entry(EntryKind::File, "a")])],
        false,
    )
    .unwrap_err();
    assert!(matches!(err, EditError::ShaRequired));
    // A pinned tip stands in for the sha (the merge, the web form).
    assert!(
        plan(
            &[update("a.txt", None)],
            &[found(vec![entry(EntryKind::File, "a")])],
            true
        )
        .is_ok()
    );
}

#[test]
fn symlinks_are_never_edited_through() {
    // `link/x` where `link` is a symlink: creating under it, or updating through it.
    let create = FileChange::Create {
        path: p("link/x"),
        content: Vec::new(),
    };
    let err = plan(
        &[create],
        &[found(vec![entry(EntryKind::Symlink, "c")])],
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    let err = plan(
        &[update("link/x", Some("c"))],
        &[found(vec![entry(EntryKind::Symlink, "c")])],
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    // The symlink itself is not edited either.
    let err = plan(
        &[update("link", Some("c"))],
        &[found(vec![entry(EntryKind::Symlink, "c")])],
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[test]
fn creates_and_renames_do_not_overwrite() {
    let create = FileChange::Create {
        path: p("a.txt"),
        content: Vec::new(),
    };
    let err = plan(
        &[create],
        &[found(vec![entry(EntryKind::File, "a")])],
        false,
    )
    .unwrap_err();
    assert!(matches!(err, EditError::FileExists(_)));
    let file_as_folder = FileChange::Create {
        path: p("a.txt/b"),
        content: Vec::new(),
    };
    let err = plan(
        &[file_as_folder],
        &[found(vec![entry(EntryKind::File, "a")])],
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("a file exists where"), "{err}");
    let rename = FileChange::Update {
        path: p("b.txt"),
        from: Some(p("a.txt")),
        sha: Some("a".repeat(40)),
        content: Vec::new(),
    };
    let planned = plan(
        &[rename],
        &[Found {
            along: Vec::new(),
            from_along: vec![entry(EntryKind::File, "a")],
        }],
        false,
    )
    .unwrap();
    assert_eq!(
        planned,
        [
            Planned::Remove(p("a.txt")),
            Planned::Put {
                path: p("b.txt"),
                executable: false
            }
        ]
    );
}

#[test]
fn caps_hold() {
    let req = |changes: Vec<FileChange>, message: &str| EditRequest {
        branch: BranchName::parse("main").unwrap(),
        new_branch: None,
        base: ExpectedTip::Current,
        changes,
        message: message.into(),
        author: None,
        committer: None,
        author_date: None,
        committer_date: None,
        signoff: false,
    };
    let create = |i: usize, size: usize| FileChange::Create {
        path: p(&format!("f{i}")),
        content: vec![b'x'; size],
    };
    assert!(
        check_caps(&req(
            (0..MAX_EDIT_FILES).map(|i| create(i, 1)).collect(),
            ""
        ))
        .is_ok()
    );
    assert!(matches!(
        check_caps(&req(
            (0..=MAX_EDIT_FILES).map(|i| create(i, 1)).collect(),
            ""
        )),
        Err(EditError::TooLarge(_))
    ));
    assert!(check_caps(&req(vec![create(0, MAX_EDIT_FILE_BYTES)], "")).is_ok());
    assert!(check_caps(&req(vec![create(0, MAX_EDIT_FILE_BYTES + 1)], "")).is_err());
    let many = (0..5).map(|i| create(i, MAX_EDIT_FILE_BYTES)).collect();
    assert!(matches!(
        check_caps(&req(many, "")),
        Err(EditError::TooLarge(_))
    ));
    assert!(check_caps(&req(vec![create(0, 1)], &"m".repeat(MAX_EDIT_MESSAGE + 1))).is_err());
    assert!(check_caps(&req(vec![create(0, 1), create(0, 2)], "")).is_err());
    assert!(check_caps(&req(Vec::new(), "")).is_err());
}

#[test]
fn default_messages_read_like_giteas() {
    let changes = [
        FileChange::Create {
            path: p("a"),
            content: Vec::new(),
        },
        FileChange::Create {
            path: p("b"),
            content: Vec::new(),
        },
        FileChange::Delete {
            path: p("c"),
            sha: None,
        },
    ];
    assert_eq!(FileChange::default_message(&changes), "Add a, b\nDelete c");
}
