//! Naming a process so that a later start of labforge can find it again and be sure it is the
//! same one: the boot, the pid, and the pid's start time (clock ticks since boot). A pid alone
//! could name a stranger after pid reuse or a reboot. Linux `/proc`; where it is missing
//! nothing is named and nothing is ended.

use nix::sys::signal::Signal;

use crate::git::runner::signal_group;

/// "BOOT_ID PID START_TICKS" for a live process.
pub fn identify(pid: u32) -> Option<String> {
    Some(format!("{} {pid} {}", boot_id()?, start_ticks(pid)?))
}

/// Kills (SIGKILL) the process group led by the process `identity` names, if that very
/// process still exists; whether it did.
pub fn end_group_if_alive(identity: &str) -> bool {
    let mut parts = identity.split(' ');
    let (Some(boot), Some(pid), Some(ticks), None) = (
        parts.next(),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    if boot_id().as_deref() != Some(boot) || start_ticks(pid).as_deref() != Some(ticks) {
        return false;
    }
    signal_group(pid, Signal::SIGKILL);
    true
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_owned())
}

fn start_ticks(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2, the command name, is in parentheses and may itself hold spaces and ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 22 (starttime); the first field after the name is field 3.
    after_name.split_whitespace().nth(22 - 3).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    use super::*;

    fn spawn_group_leader() -> std::process::Child {
        Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn ends_the_named_process_group_and_nothing_else() {
        let mut leader = spawn_group_leader();
        let identity = identify(leader.id()).expect("a live process has an identity");
        let fields: Vec<&str> = identity.split(' ').collect();
        assert_eq!(fields.len(), 3, "{identity}");
        assert_eq!(fields[1], leader.id().to_string());

        // The same pid started at another time is a stranger: left alone.
        let stranger = format!("{} {} 1", fields[0], fields[1]);
        assert!(!end_group_if_alive(&stranger));
        let another_boot = format!("x {} {}", fields[1], fields[2]);
        assert!(!end_group_if_alive(&another_boot));
        assert!(!end_group_if_alive("garbage"));
        assert!(leader.try_wait().unwrap().is_none(), "still running");

        assert!(end_group_if_alive(&identity));
        let status = leader.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        assert!(!end_group_if_alive(&identity), "gone now");
    }
}
