//! `git archive --remote` over SSH: the client's request is read here before git starts, so the
//! tree it names is counted like the web's archives (`Forge::check_archive`) and a tree bomb is
//! refused with git's own `NACK` instead of running `upload-archive` for minutes.
//!
//! The request is pkt-lines `argument ARG` ended by a flush packet; git's reply starts with
//! `ACK` or `NACK REASON`. Only the options a client needs are let through (`--format`,
//! `--prefix`, compression levels, `--verbose`), so the first other argument is, for git as for
//! us, the tree-ish; later ones are paths, which only narrow what is archived.

/// git's own upload-archive stops at 64 arguments.
pub const MAX_ARGS: usize = 64;
/// All of a request's bytes (a packet is at most 65,520 bytes).
pub const MAX_REQUEST: usize = 64 * 1024;

/// Why a request is refused before git sees it (the text goes into the NACK).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("malformed request")]
    Malformed,
    #[error("too many arguments (more than {MAX_ARGS})")]
    TooManyArgs,
    #[error("the request is larger than {} KiB", MAX_REQUEST >> 10)]
    TooLarge,
    #[error("option {0:?} is not accepted here (use --format, --prefix, -0..-9)")]
    Option(String),
    #[error("no tree-ish given")]
    NoTree,
}

/// A whole request: its raw bytes (to replay to git) and its arguments.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub raw: Vec<u8>,
    pub args: Vec<String>,
}

/// The request if `buf` holds a whole one (up to and including its flush packet), None if more
/// bytes are needed.
pub fn parse(buf: &[u8]) -> Result<Option<Request>, RequestError> {
    let mut args = Vec::new();
    let mut at = 0;
    loop {
        if buf.len() > MAX_REQUEST {
            return Err(RequestError::TooLarge);
        }
        let Some(len) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        let len = std::str::from_utf8(len)
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .ok_or(RequestError::Malformed)?;
        if len == 0 {
            return Ok(Some(Request {
                raw: buf[..at + 4].to_vec(),
                args,
            }));
        }
        if len < 4 {
            return Err(RequestError::Malformed);
        }
        let Some(payload) = buf.get(at + 4..at + len) else {
            return Ok(None);
        };
        let line = std::str::from_utf8(payload).map_err(|_| RequestError::Malformed)?;
        let line = line.strip_suffix('\n').unwrap_or(line);
        let arg = line
            .strip_prefix("argument ")
            .ok_or(RequestError::Malformed)?;
        args.push(arg.to_owned());
        if args.len() > MAX_ARGS {
            return Err(RequestError::TooManyArgs);
        }
        at += len;
    }
}

/// The tree-ish the arguments name (its part before any `:path`: the whole commit is counted,
/// a superset of what git archives).
pub fn treeish(args: &[String]) -> Result<String, RequestError> {
    let mut args = args.iter();
    let mut options_end = false;
    while let Some(arg) = args.next() {
        if options_end || !arg.starts_with('-') {
            let tree = arg.split_once(':').map_or(arg.as_str(), |(t, _)| t);
            return Ok(tree.to_owned());
        }
        match arg.as_str() {
            "--" => options_end = true,
            // These two take the next argument as their value.
            "--format" | "--prefix" => {
                args.next().ok_or(RequestError::NoTree)?;
            }
            "-v" | "--verbose" => {}
            a if a.starts_with("--format=") || a.starts_with("--prefix=") => {}
            a if a.len() == 2 && a.as_bytes()[1].is_ascii_digit() => {}
            other => return Err(RequestError::Option(other.chars().take(64).collect())),
        }
    }
    Err(RequestError::NoTree)
}

/// `NACK REASON` and a flush, as git's client reads a refusal (it prints `NACK REASON`).
pub fn nack(reason: &str) -> Vec<u8> {
    let text: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(1000)
        .collect();
    let line = format!("NACK {text}\n");
    let mut out = format!("{:04x}", line.len() + 4).into_bytes();
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"0000");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(s: &str) -> Vec<u8> {
        let mut out = format!("{:04x}", s.len() + 4).into_bytes();
        out.extend_from_slice(s.as_bytes());
        out
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_request_is_read_whole_and_kept_byte_for_byte() {
        let mut raw = pkt("argument --format=tar\n");
        raw.extend(pkt("argument main"));
        raw.extend_from_slice(b"0000");
        // Split anywhere, it is not whole until the flush.
        for cut in 0..raw.len() {
            assert_eq!(parse(&raw[..cut]), Ok(None), "cut at {cut}");
        }
        raw.extend_from_slice(b"trailing");
        let req = parse(&raw).unwrap().unwrap();
        assert_eq!(req.args, args(&["--format=tar", "main"]));
        assert_eq!(req.raw, raw[..raw.len() - 8]);
        assert_eq!(parse(b"zzzz"), Err(RequestError::Malformed));
        assert_eq!(parse(&pkt("hello")), Err(RequestError::Malformed));
        assert_eq!(parse(b"0002"), Err(RequestError::Malformed));
    }

    #[test]
    fn the_request_is_capped_in_arguments_and_bytes() {
        let at_cap: Vec<u8> = (0..MAX_ARGS).flat_map(|_| pkt("argument x")).collect();
        let mut whole = at_cap.clone();
        whole.extend_from_slice(b"0000");
        assert_eq!(parse(&whole).unwrap().unwrap().args.len(), MAX_ARGS);
        let mut over = at_cap;
        over.extend(pkt("argument x"));
        assert_eq!(parse(&over), Err(RequestError::TooManyArgs));
        let big = vec![b'a'; MAX_REQUEST + 1];
        assert_eq!(parse(&big), Err(RequestError::TooLarge));
    }

    #[test]
    fn the_tree_is_the_first_argument_that_is_no_option() {
        assert_eq!(treeish(&args(&["--format=tar", "main"])).unwrap(), "main");
        assert_eq!(
            treeish(&args(&["--prefix", "main", "-9", "v1:docs", "a"])).unwrap(),
            "v1"
        );
        assert_eq!(treeish(&args(&["--", "-odd"])).unwrap(), "-odd");
        assert_eq!(treeish(&args(&["-v", "HEAD"])).unwrap(), "HEAD");
        assert_eq!(treeish(&args(&["--format=zip"])), Err(RequestError::NoTree));
        // Options git would read differently from us (abbreviations, values) are refused.
        for bad in ["--pref", "--remote=x", "-o", "--output=x", "--exec=x", "-l"] {
            assert!(
                matches!(treeish(&args(&[bad, "main"])), Err(RequestError::Option(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_nack_is_one_packet_and_a_flush() {
        let out = nack("too\nbig");
        assert_eq!(out, b"0010NACK toobig\n0000");
    }
}
