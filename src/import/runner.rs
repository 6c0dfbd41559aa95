//! Which process runs an import, told apart from every other process there has been:
//! `<host>/<boot id>/<pid>/<start time>`. A later run on the same host can then tell a run that
//! is still going from one whose process was killed or whose machine restarted. Only Linux
//! publishes these (under `/proc`); elsewhere runs carry no runner and are never judged.

use std::fs;

const HOSTNAME: &str = "/proc/sys/kernel/hostname";
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// This process, as `imports.runner` records it.
pub fn this() -> Option<String> {
    let start = start_time("self")?;
    Some(format!(
        "{}/{}/{}/{start}",
        read(HOSTNAME)?,
        read(BOOT_ID)?,
        std::process::id()
    ))
}

/// Why the process `recorded` is no longer running, when this host can tell: `None` while it
/// runs, for another host's process, and for a runner this version did not write.
pub fn ended(recorded: &str) -> Option<String> {
    let mut parts = recorded.split('/');
    let (Some(host), Some(boot), Some(pid), Some(start), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let pid: u32 = pid.parse().ok()?;
    if host != read(HOSTNAME)? {
        return None;
    }
    if boot != read(BOOT_ID)? {
        return Some(format!("the machine restarted (process {pid} ran it)"));
    }
    match start_time(&pid.to_string()) {
        Some(now) if now == start => None,
        _ => Some(format!("process {pid} ended")),
    }
}

fn read(path: &str) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty() && !text.contains('/')).then(|| text.to_owned())
}

/// A process's start time since boot (field 22 of `/proc/<pid>/stat`, in clock ticks), which
/// tells it from a later process given the same id.
fn start_time(pid: &str) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_others_have_ended() {
        let Some(me) = this() else {
            // Not Linux: nothing is recorded, so nothing is judged.
            assert_eq!(ended("host/boot/1/1"), None);
            return;
        };
        assert_eq!(ended(&me), None, "{me}");
        let parts: Vec<&str> = me.split('/').collect();
        let (host, boot, pid, start) = (parts[0], parts[1], parts[2], parts[3]);
        let reused = format!("{host}/{boot}/{pid}/{}", start.parse::<u64>().unwrap() + 1);
        assert_eq!(ended(&reused), Some(format!("process {pid} ended")));
        let restarted = format!("{host}/another-boot/{pid}/{start}");
        assert_eq!(
            ended(&restarted),
            Some(format!("the machine restarted (process {pid} ran it)"))
        );
        assert_eq!(ended(&format!("another-host/{boot}/{pid}/{start}")), None);
        assert_eq!(ended("not a runner"), None);
        // A process that has ended: a child that has been waited for.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let child_pid = child.id();
        child.wait().unwrap();
        let gone = format!("{host}/{boot}/{child_pid}/{start}");
        assert_eq!(ended(&gone), Some(format!("process {child_pid} ended")));
    }
}
