//! The exec fifo: `create` leaves the container blocked in
//! `open(exec.fifo, O_WRONLY)` just before `execve`; `start` opens the read
//! side, consumes the one byte the container writes, and removes the fifo (so
//! its absence means "started").

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

use crate::process::open_pidfd;
use crate::store::millis;
use crate::{Result, StateError};

/// Name of the fifo inside the container directory.
pub const EXEC_FIFO: &str = "exec.fifo";
/// Its mode: the container may run as any user, and reaches the fifo through
/// an O_PATH fd, so the 0700 directory does not stand in its way.
pub const EXEC_FIFO_MODE: u32 = 0o622;

/// Creates a fifo at `path` with exactly `mode` (the umask is undone).
pub fn mkfifo(path: &Path, mode: u32) -> Result<()> {
    if mode & !0o777 != 0 {
        return Err(StateError::InvalidArgument {
            what: format!("mode {mode:#o} for fifo {}", path.display()),
            reason: "only permission bits (0o777) are allowed".to_owned(),
        });
    }
    let m = Mode::from_raw_mode(mode);
    rustix::fs::mknodat(CWD, path, FileType::Fifo, m, 0).map_err(StateError::io("mkfifo", path))?;
    rustix::fs::chmod(path, m).map_err(StateError::io("chmod", path))?;
    Ok(())
}

/// Lets a created container run: opens the fifo at `path` O_RDWR|O_NONBLOCK
/// (never blocks, and holding a write side means no spurious EOF), then
/// polls it together with a pidfd of the container process `pid` (verified
/// against `start_time`), reads the one byte the container writes, and
/// unlinks the fifo. Returns that byte.
///
/// A container that dies first yields [`StateError::ExitedBeforeStart`]
/// instead of a hang; `timeout` `None` waits as long as the process lives.
/// The fifo is left in place on failure: `delete` removes it.
pub fn release_exec_fifo(path: &Path, pid: u32, start_time: u64, timeout: Option<Duration>) -> Result<u8> {
    // The pidfd first: opening the fifo lets the process run, and one that
    // exits at once may be reaped (by a subreaper caller, or the runtime's
    // own exit watcher) before a pidfd could be opened after it. A pidfd
    // taken now stays valid, and readable, through the exit and the reaping.
    let pidfd = open_pidfd(pid, start_time).map_err(|e| match e {
        StateError::NoProcess { .. } | StateError::PidReused { .. } => {
            StateError::ExitedBeforeStart { pid, path: path.to_owned() }
        }
        other => other,
    })?;
    let fifo =
        rustix::fs::open(path, OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
            .map_err(StateError::io("open exec fifo", path))?;
    let st = rustix::fs::fstat(&fifo).map_err(StateError::io("fstat", path))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Fifo {
        return Err(StateError::InvalidArgument {
            what: format!("exec fifo {}", path.display()),
            reason: "is not a fifo".to_owned(),
        });
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let byte = loop {
        if let Some(b) = try_read(&fifo, path)? {
            break b;
        }
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining == Some(Duration::ZERO) {
            return Err(StateError::Timeout {
                what: format!("waiting for container process {pid} to open the exec fifo {}", path.display()),
                ms: timeout.map_or(0, millis),
            });
        }
        let mut fds = [PollFd::new(&fifo, PollFlags::IN), PollFd::new(&pidfd, PollFlags::IN)];
        let ts = remaining.map(|r| Timespec {
            tv_sec: i64::try_from(r.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(r.subsec_nanos()),
        });
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(StateError::sys("poll(exec fifo, pidfd)")(e)),
        }
        let fifo_ready = !fds[0].revents().is_empty();
        let died = !fds[1].revents().is_empty();
        if died && !fifo_ready {
            // It may have written and exited in between: the byte wins.
            if let Some(b) = try_read(&fifo, path)? {
                break b;
            }
            return Err(StateError::ExitedBeforeStart { pid, path: path.to_owned() });
        }
    };
    rustix::fs::unlink(path).map_err(StateError::io("unlink exec fifo", path))?;
    Ok(byte)
}

fn try_read(fifo: &OwnedFd, path: &Path) -> Result<Option<u8>> {
    let mut buf = [0u8; 1];
    loop {
        match rustix::io::read(fifo.as_fd(), &mut buf) {
            Ok(1) => return Ok(Some(buf[0])),
            // EOF cannot happen while we hold a write side; treat as "nothing yet".
            Ok(_) | Err(Errno::AGAIN) => return Ok(None),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(StateError::io("read exec fifo", path)(e)),
        }
    }
}
