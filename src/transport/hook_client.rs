//! `labforge hook pre-receive|post-receive`, run by git inside receive-pack. It does no policy
//! itself: it forwards git's input to the server and prints what the server says. Blocking std
//! I/O and no runtime, because it runs twice per push and must start fast.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;

use super::hook_wire::{HookReply, HookRequest, MAX_REQUEST};
use crate::model::HookName;

/// Runs the hook; the return value is the process's exit code.
pub fn run(hook: HookName) -> u8 {
    let refuse = |why: &str| {
        eprintln!("labforge: {why}");
        if hook == HookName::PreReceive {
            eprintln!("labforge: the push is refused; nothing was changed");
        }
        1
    };
    let (Ok(socket), Ok(secret), Ok(nonce)) = (
        std::env::var("LABFORGE_HOOK_SOCKET"),
        std::env::var("LABFORGE_HOOK_SECRET"),
        std::env::var("LABFORGE_PUSH_NONCE"),
    ) else {
        return refuse(
            "this repository takes pushes only through the labforge server (SSH or HTTP); \
             this push did not come through it",
        );
    };
    let mut input = String::new();
    if std::io::stdin()
        .take(MAX_REQUEST as u64)
        .read_to_string(&mut input)
        .is_err()
    {
        return refuse("could not read the pushed refs from git");
    }
    let push_options = match std::env::var("GIT_PUSH_OPTION_COUNT")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(n) => (0..n.min(100))
            .filter_map(|i| std::env::var(format!("GIT_PUSH_OPTION_{i}")).ok())
            .collect(),
        None => Vec::new(),
    };
    let request = HookRequest {
        secret,
        nonce,
        hook,
        updates: input.lines().map(str::to_owned).collect(),
        push_options,
        quarantine: std::env::var("GIT_QUARANTINE_PATH").ok(),
    };
    let mut stream = match UnixStream::connect(&socket) {
        Ok(s) => s,
        Err(e) => {
            return refuse(&format!(
                "cannot reach the labforge server at {socket} ({e})"
            ));
        }
    };
    let mut line = serde_json::to_vec(&request).expect("a request always serializes");
    line.push(b'\n');
    if let Err(e) = stream.write_all(&line) {
        return refuse(&format!("lost the labforge server while asking it ({e})"));
    }
    let stderr = std::io::stderr();
    for reply in BufReader::new(stream).lines() {
        let Ok(reply) = reply else { break };
        match serde_json::from_str::<HookReply>(&reply) {
            Ok(HookReply::Say(text)) => {
                // The server already cleaned it; this is the last hop before a terminal.
                let text = crate::model::terminal_text(&text);
                let mut err = stderr.lock();
                let _ = writeln!(err, "{text}");
                let _ = err.flush();
            }
            Ok(HookReply::Done { ok }) => return if ok { 0 } else { 1 },
            Err(_) => break,
        }
    }
    refuse("the labforge server ended the conversation without an answer")
}
