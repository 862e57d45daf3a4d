//! `labforge keys` and `labforge serv`: the two programs the host's OpenSSH runs when labforge
//! shares port 22 with it (its `AuthorizedKeysCommand`, and the forced command that prints). They
//! decide nothing: they read only what sshd gives them (the key, `SSH_ORIGINAL_COMMAND`,
//! `GIT_PROTOCOL`) and the configuration file, ask the running `serve` over its socket, and print
//! the answer. Blocking std I/O and no runtime: sshd runs one per login attempt and per session.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::serv_wire::{self as wire, KeysReply, ServRequest};

/// How long `keys` waits for `serve` (sshd waits for the whole command, and a login with it).
const KEYS_TIME: Duration = Duration::from_secs(10);

const NO_ANSWER: &str = "the labforge server did not answer (it closed the connection; \
     is this run as the user `serve` runs as?)";

/// Connects and sends the request line; the error is what the person at the client reads.
fn ask(data_dir: &Path, request: impl FnOnce(String) -> ServRequest) -> Result<UnixStream, String> {
    let down = |why: String| {
        format!("labforge is not running on this host right now ({why}); try again later")
    };
    let socket = data_dir.join(wire::SOCKET);
    let secret = std::fs::read_to_string(data_dir.join(wire::SECRET))
        .map_err(|e| down(format!("no secret in {}: {e}", data_dir.display())))?;
    let mut stream = UnixStream::connect(&socket)
        .map_err(|e| down(format!("cannot reach {}: {e}", socket.display())))?;
    let mut line = serde_json::to_vec(&request(secret.trim().to_owned()))
        .expect("a request always serializes");
    line.push(b'\n');
    // A server that closes at once refused this caller (not its user, by peer credentials).
    stream.write_all(&line).map_err(|_| NO_ANSWER.to_owned())?;
    Ok(stream)
}

/// Characters a path may have to go into the `command="…"` option unquoted by a shell: sshd
/// runs it with the login user's shell, so anything else could change its meaning.
fn shell_safe(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+-@:,=".contains(&b))
}

/// Prints the `authorized_keys` line for the key if labforge knows it and `user` is the
/// `expected` login user; nothing otherwise. The exit code is the process's.
pub fn keys(
    data_dir: &Path,
    config_file: Option<&Path>,
    expected: &str,
    user: &str,
    kind: &str,
    key: &str,
) -> u8 {
    if user != expected {
        return 0;
    }
    let refuse = |why: &str| {
        eprintln!("labforge keys: {why}");
        1
    };
    let exe = match std::env::current_exe().and_then(|p| p.canonicalize()) {
        Ok(p) => p.display().to_string(),
        Err(e) => return refuse(&format!("cannot tell where this program is: {e}")),
    };
    let config = match config_file.map(|c| c.canonicalize()).transpose() {
        Ok(c) => c.map(|c| c.display().to_string()),
        Err(e) => return refuse(&format!("cannot resolve the configuration file: {e}")),
    };
    if !shell_safe(&exe) || config.as_deref().is_some_and(|c| !shell_safe(c)) {
        return refuse(
            "the paths of this program and its configuration file may hold only letters, \
             digits and / . _ + - @ : , = (they go into a command line)",
        );
    }
    let stream = match ask(data_dir, |secret| ServRequest::Keys {
        secret,
        kind: kind.to_owned(),
        key: key.to_owned(),
    }) {
        Ok(s) => s,
        Err(why) => return refuse(&why),
    };
    let _ = stream.set_read_timeout(Some(KEYS_TIME));
    let mut reply = String::new();
    if BufReader::new(stream.take(wire::MAX_REQUEST as u64))
        .read_line(&mut reply)
        .is_err()
    {
        return refuse("the labforge server did not answer");
    }
    match serde_json::from_str::<KeysReply>(&reply) {
        Ok(KeysReply::Known {
            id,
            openssh,
            deploy,
        }) => {
            let config = config.map(|c| format!(" --config {c}")).unwrap_or_default();
            let kind = if deploy { "deploy-key" } else { "key" };
            println!("command=\"{exe}{config} serv {kind}-{id}\",restrict {openssh}");
            0
        }
        Ok(KeysReply::Unknown) => 0,
        Ok(KeysReply::Refused(why)) => refuse(&format!("the labforge server refused: {why}")),
        Err(_) => refuse("the labforge server's answer made no sense"),
    }
}

/// Runs the session for key `key` (`key-ID`): the command sshd was asked for, or the greeting.
/// The exit code is the session's.
pub fn serv(data_dir: &Path, key: &str) -> u8 {
    let fail = |why: &str| {
        eprintln!("error: {why}");
        1
    };
    let Some((deploy_key, key_id)) = parse_key_arg(key) else {
        return fail(
            "labforge serv expects key-ID or deploy-key-ID (from the line `labforge keys` printed)",
        );
    };
    let command = std::env::var_os("SSH_ORIGINAL_COMMAND").map(|c| c.as_bytes().to_vec());
    if command
        .as_ref()
        .is_some_and(|c| c.len() > wire::MAX_REQUEST / 8)
    {
        return fail("the command is too long");
    }
    // Only the version is kept by `serve` (GitProtocol::parse); bound what is sent at all.
    let git_protocol = std::env::var("GIT_PROTOCOL")
        .ok()
        .filter(|p| p.len() <= 256);
    let stream = match ask(data_dir, |secret| ServRequest::Serv {
        secret,
        key_id,
        deploy_key,
        command,
        git_protocol,
    }) {
        Ok(s) => s,
        Err(why) => return fail(&why),
    };
    let Ok(mut to_server) = stream.try_clone() else {
        return fail("could not set up the connection to the labforge server");
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to_server);
        let _ = to_server.shutdown(std::net::Shutdown::Write);
    });
    relay(stream).unwrap_or_else(|| fail(NO_ANSWER))
}

/// `key-ID` (a user's key) or `deploy-key-ID` (a deploy key): whether a deploy key, and the id.
fn parse_key_arg(key: &str) -> Option<(bool, i64)> {
    let (deploy, digits) = match key.strip_prefix("deploy-key-") {
        Some(digits) => (true, digits),
        None => (false, key.strip_prefix("key-")?),
    };
    // Digits only: `i64::from_str` would take a sign too.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((deploy, digits.parse().ok()?))
}

/// Copies `serve`'s frames to stdout and stderr; the exit status, or None if it never came.
fn relay(stream: UnixStream) -> Option<u8> {
    let mut from_server = BufReader::new(stream);
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    let mut data = vec![0u8; wire::MAX_FRAME];
    loop {
        let mut head = [0u8; 5];
        from_server.read_exact(&mut head).ok()?;
        let len = u32::from_be_bytes(head[1..].try_into().expect("4 bytes")) as usize;
        if len > wire::MAX_FRAME {
            return None;
        }
        from_server.read_exact(&mut data[..len]).ok()?;
        let data = &data[..len];
        match head[0] {
            wire::STDOUT => {
                let mut out = stdout.lock();
                out.write_all(data).ok()?;
                out.flush().ok()?;
            }
            wire::STDERR => {
                let mut err = stderr.lock();
                let _ = err.write_all(data);
                let _ = err.flush();
            }
            wire::EXIT => {
                let code = u32::from_be_bytes(data.try_into().ok()?);
                return Some(u8::try_from(code).unwrap_or(255));
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(frames: &[(u8, &[u8])]) -> UnixStream {
        let (mine, theirs) = UnixStream::pair().expect("a socket pair");
        let mut theirs = theirs;
        for (tag, data) in frames {
            theirs.write_all(&[*tag]).unwrap();
            theirs
                .write_all(&(data.len() as u32).to_be_bytes())
                .unwrap();
            theirs.write_all(data).unwrap();
        }
        drop(theirs);
        mine
    }

    #[test]
    fn relay_takes_the_exit_status_and_refuses_oversized_or_unknown_frames() {
        let exit = 3u32.to_be_bytes();
        assert_eq!(
            relay(frames(&[(wire::STDERR, b""), (wire::EXIT, &exit)])),
            Some(3)
        );
        let big = 300u32.to_be_bytes();
        assert_eq!(relay(frames(&[(wire::EXIT, &big)])), Some(255));
        // A frame past the cap is not read into memory: the relay stops there.
        let (mine, mut theirs) = UnixStream::pair().unwrap();
        theirs.write_all(&[wire::STDERR]).unwrap();
        theirs
            .write_all(&((wire::MAX_FRAME + 1) as u32).to_be_bytes())
            .unwrap();
        drop(theirs);
        assert_eq!(relay(mine), None);
        assert_eq!(relay(frames(&[(9, b"x")])), None);
        // Ended without an exit status.
        assert_eq!(relay(frames(&[(wire::STDERR, b"")])), None);
    }

    #[test]
    fn serv_takes_user_and_deploy_key_ids_only() {
        assert_eq!(parse_key_arg("key-42"), Some((false, 42)));
        assert_eq!(parse_key_arg("deploy-key-7"), Some((true, 7)));
        for bad in [
            "",
            "key-",
            "deploy-key-",
            "key--1",
            "key-+1",
            "deploy-7",
            "key-1x",
            "42",
        ] {
            assert_eq!(parse_key_arg(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_plain_paths_go_into_the_forced_command() {
        assert!(shell_safe("/usr/local/bin/labforge"));
        assert!(shell_safe("/etc/labforge/labforge.toml"));
        for bad in [
            "", "/a b", "/a\"b", "/a;id", "/a$(id)", "/a`id`", "/a\nb", "/a'b", "/ä",
        ] {
            assert!(!shell_safe(bad), "{bad:?}");
        }
    }
}
