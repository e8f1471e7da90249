//! Process liveness and control. A container process is identified by its pid
//! AND its start time (field 22 of `/proc/<pid>/stat`): pids are recycled, the
//! pair is not. Signals go through a pidfd that is verified after opening.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions};

use crate::{Result, StateError};

/// Highest signal number Linux has (`_NSIG - 1`).
pub const MAX_SIGNAL: i32 = 64;

/// The fields of `/proc/<pid>/stat` this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), …
    pub state: char,
    /// Field 4.
    pub ppid: u32,
    /// Field 22: clock ticks after boot at which the process started.
    pub start_time: u64,
}

/// How a waited-for process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

fn pid_arg(pid: u32) -> Result<Pid> {
    i32::try_from(pid).ok().and_then(Pid::from_raw).ok_or_else(|| StateError::InvalidArgument {
        what: format!("pid {pid}"),
        reason: "expected an integer from 1 to 2147483647".to_owned(),
    })
}

/// Parses the text of `/proc/<pid>/stat`. The comm field (2) is in
/// parentheses and may itself contain spaces and parentheses (`a) (b`), so the
/// remaining fields are taken after the LAST `)`.
pub fn parse_stat(text: &str) -> std::result::Result<ProcStat, String> {
    let close = text.rfind(')').ok_or("no ')' after the comm field")?;
    let mut fields = text[close + 1..].split_ascii_whitespace();
    // fields[0] is field 3 of proc_pid_stat(5).
    let state = fields.next().and_then(|s| s.chars().next()).ok_or("missing state field")?;
    let ppid = fields.next().ok_or("missing ppid field")?;
    let ppid = ppid.parse::<u32>().map_err(|_| format!("ppid {ppid:?} is not a number"))?;
    // Fields 5..=21 lie between ppid (4) and starttime (22).
    let start = fields.nth(22 - 5).ok_or("fewer than 22 fields")?;
    let start_time = start.parse::<u64>().map_err(|_| format!("starttime {start:?} is not a number"))?;
    Ok(ProcStat { state, ppid, start_time })
}

/// Reads `/proc/<pid>/stat`. [`StateError::NoProcess`] if there is no such process.
pub fn process_stat(pid: u32) -> Result<ProcStat> {
    pid_arg(pid)?;
    let path = format!("/proc/{pid}/stat");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            return Err(match e.raw_os_error() {
                // ESRCH: the process exited between open and read.
                Some(libc::ENOENT) | Some(libc::ESRCH) => StateError::NoProcess { pid },
                _ => StateError::io("read", path)(crate::errno_of(&e)),
            });
        }
    };
    parse_stat(&text).map_err(|reason| StateError::ProcStat { pid, reason })
}

/// The start time of `pid` (field 22 of `/proc/<pid>/stat`), to be stored
/// next to the pid.
pub fn process_start_time(pid: u32) -> Result<u64> {
    Ok(process_stat(pid)?.start_time)
}

/// Whether `pid` is still the process that started at `start_time` and has
/// not exited. Zombies count as exited: the container process is over even if
/// nobody reaped it yet.
pub fn is_alive(pid: u32, start_time: u64) -> Result<bool> {
    match process_stat(pid) {
        Ok(st) => Ok(st.start_time == start_time && !matches!(st.state, 'Z' | 'X' | 'x')),
        Err(StateError::NoProcess { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Opens a pidfd for `pid` and only then checks the start time. A pidfd
/// always refers to the process that had the pid when it was opened; if that
/// process still has `start_time` afterwards, it is the expected one, so a
/// recycled pid is never signalled or waited on.
pub fn open_pidfd(pid: u32, start_time: u64) -> Result<OwnedFd> {
    let p = pid_arg(pid)?;
    let fd = match rustix::process::pidfd_open(p, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(Errno::SRCH) => return Err(StateError::NoProcess { pid }),
        Err(e) => return Err(StateError::sys(format!("pidfd_open({pid})"))(e)),
    };
    let actual = process_start_time(pid)?;
    if actual != start_time {
        return Err(StateError::PidReused { pid, expected: start_time, actual });
    }
    Ok(fd)
}

/// Sends `signal` (0 to 64; 0 only checks) to `pid` if it is still the
/// process that started at `start_time`.
pub fn signal_process(pid: u32, start_time: u64, signal: i32) -> Result<()> {
    if !(0..=MAX_SIGNAL).contains(&signal) {
        return Err(StateError::InvalidArgument {
            what: format!("signal {signal}"),
            reason: format!("expected a signal number from 0 to {MAX_SIGNAL}"),
        });
    }
    let fd = open_pidfd(pid, start_time)?;
    match pidfd_send_signal(&fd, signal) {
        Ok(()) => Ok(()),
        // Exited after the start-time check.
        Err(Errno::SRCH) => Err(StateError::NoProcess { pid }),
        Err(e) => Err(StateError::sys(format!("pidfd_send_signal({pid}, {signal})"))(e)),
    }
}

// rustix's Signal type may not carry libc-reserved real-time signals, which
// a container may legitimately be sent; the raw syscall has no such limit.
fn pidfd_send_signal(pidfd: &OwnedFd, signal: i32) -> std::result::Result<(), Errno> {
    // SAFETY: integer arguments only (a valid pidfd we own, a checked signal
    // number, a NULL siginfo and zero flags); no memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_fd().as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)))
    }
}

/// Makes the calling process a child subreaper (PR_SET_CHILD_SUBREAPER):
/// orphaned descendants (a container init whose tsoci-init parent exited) are
/// re-parented here instead of to pid 1, so they can be waited for.
pub fn set_child_subreaper() -> Result<()> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(StateError::sys("prctl(PR_SET_CHILD_SUBREAPER)"))
}

/// Blocks until child `pid` exits and reaps it (waitid(P_PID, WEXITED)).
/// Only children (or, for a subreaper, orphaned descendants) can be waited
/// for; others fail with ECHILD. Do not use it on a child that another
/// waiter (such as Node's child_process) also reaps.
pub fn wait_pid(pid: u32) -> Result<ExitStatus> {
    let p = pid_arg(pid)?;
    loop {
        match rustix::process::waitid(WaitId::Pid(p), WaitIdOptions::EXITED) {
            Ok(Some(status)) => {
                if let Some(code) = status.exit_status() {
                    return Ok(ExitStatus::Exited(code));
                }
                if let Some(sig) = status.terminating_signal() {
                    return Ok(ExitStatus::Signaled(sig));
                }
                return Err(StateError::Protocol {
                    what: format!("waitid({pid}) returned neither an exit code nor a signal"),
                });
            }
            // Without WNOHANG waitid does not return "nothing yet"; loop anyway.
            Ok(None) | Err(Errno::INTR) => continue,
            Err(e) => return Err(StateError::sys(format!("waitid({pid})"))(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_line(comm: &str, state: char, start: u64) -> String {
        // 52 fields as in Linux 6.x; values other than 3, 4 and 22 are noise.
        let mut fields: Vec<String> = (3..=52).map(|i| (i * 11).to_string()).collect();
        fields[0] = state.to_string();
        fields[1] = "1".to_owned();
        fields[22 - 3] = start.to_string();
        format!("1234 ({comm}) {}\n", fields.join(" "))
    }

    #[test]
    fn parses_plain_and_hostile_comms() {
        for comm in
            ["sleep", "a) (b", ") ) )", "x y z", "(", "))", "a) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"]
        {
            let st = parse_stat(&stat_line(comm, 'S', 987654)).unwrap();
            assert_eq!(st, ProcStat { state: 'S', ppid: 1, start_time: 987654 }, "comm {comm:?}");
        }
    }

    #[test]
    fn rejects_truncated_stat() {
        assert!(parse_stat("12 (x) S 1 2 3").unwrap_err().contains("fewer than 22"));
        assert!(parse_stat("12 x S").unwrap_err().contains("no ')'"));
        assert!(parse_stat("12 (x)").unwrap_err().contains("missing state"));
    }

    #[test]
    fn own_start_time_matches_proc() {
        let me = std::process::id();
        let st = process_stat(me).unwrap();
        assert!(matches!(st.state, 'R' | 'S'));
        assert!(is_alive(me, st.start_time).unwrap());
        assert!(!is_alive(me, st.start_time + 1).unwrap());
    }

    #[test]
    fn bad_pids_are_rejected() {
        assert_eq!(process_stat(0).unwrap_err().errno_name(), "EINVAL");
        assert_eq!(process_stat(u32::MAX).unwrap_err().errno_name(), "EINVAL");
        assert!(matches!(signal_process(std::process::id(), 0, 65), Err(StateError::InvalidArgument { .. })));
        assert!(matches!(signal_process(std::process::id(), 0, -1), Err(StateError::InvalidArgument { .. })));
    }
}
