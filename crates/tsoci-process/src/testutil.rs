//! Runs a closure in a forked child, so tests may change credentials, limits
//! and seccomp state without touching the test runner. The child only makes
//! plain syscalls and writes its result to a pipe before `_exit`.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};

fn fork_raw() -> libc::pid_t {
    // SAFETY: the child runs only the test closure (syscalls, std I/O on fds it
    // owns) and leaves with `_exit`, never returning into the test harness.
    unsafe { libc::fork() }
}

fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` ends the forked child without running the parent's atexit
    // handlers or destructors.
    unsafe { libc::_exit(code) }
}

pub(crate) fn in_child(f: impl FnOnce() -> Result<String, String>) -> String {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let pid = fork_raw();
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        drop(r);
        let res = f();
        let mut file = std::fs::File::from(w);
        let (code, text) = match res {
            Ok(s) => (0, s),
            Err(s) => (1, s),
        };
        let _ = file.write_all(text.as_bytes());
        exit_now(code);
    }
    drop(w);
    let mut out = String::new();
    std::fs::File::from(r).read_to_string(&mut out).unwrap();
    let mut status = 0;
    // SAFETY: waits for the child forked above; `status` is a valid out pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status),
        "child died: status {status:#x}, output {out:?}"
    );
    assert_eq!(libc::WEXITSTATUS(status), 0, "child failed: {out}");
    out
}

/// A field of /proc/self/status (`CapEff`, `NoNewPrivs`, …), trimmed.
pub(crate) fn proc_status_field(name: &str) -> Result<String, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| format!("no {name} in /proc/self/status"))
}

#[allow(dead_code)]
pub(crate) fn owned(fd: i32) -> OwnedFd {
    // SAFETY: only used on fds the test just created and owns exclusively.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
