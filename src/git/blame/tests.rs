use super::*;

#[test]
fn line_hashes_split_like_str_lines_and_keep_line_endings() {
    for text in [
        "", "\n", "a", "a\n", "a\n\n", "a\r\nb", "\n\nx\n", "a\nb\r\n", "a\nb\r",
    ] {
        let ours: Vec<u64> = line_hashes(text.as_bytes()).collect();
        assert_eq!(ours.len(), text.lines().count(), "{text:?}");
    }
    let hashes = |t: &str| line_hashes(t.as_bytes()).collect::<Vec<_>>();
    assert_eq!(hashes("a\nb")[0], hashes("a\nc")[0]);
    assert_ne!(hashes("x\ny")[1], hashes("x\ny\n")[1]);
    assert_ne!(hashes("y\r\n")[0], hashes("y\n")[0]);
}

#[test]
fn kept_blames_read_back_and_refuse_damage() {
    let id = ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
    let answer = BlameAnswer {
        commits: vec![id, ObjectId::null(gix::hash::Kind::Sha1)],
        origin: vec![0, 1, 1, 0],
    };
    let data = encode(&answer, "Makefile");
    assert_eq!(decode(&data, "Makefile"), Some(answer));
    assert_eq!(decode(&data, "README.md"), None);
    assert_eq!(decode(&data[..data.len() - 1], "Makefile"), None);
    let mut bad = data.clone();
    let last = bad.len() - 4;
    bad[last] = 9; // a commit index past the list
    assert_eq!(decode(&bad, "Makefile"), None);
}
