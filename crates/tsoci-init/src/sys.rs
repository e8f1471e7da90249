//! Process plumbing for a single-threaded program: fork, wait, exec, signal
//! forwarding and fd hygiene. Unsafe is confined to one call per function.

use std::ffi::{CStr, CString};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicI32, Ordering};
use tsoci_process::Errno;

pub enum Forked {
    Child,
    Parent(i32),
}

/// `fork()`. Sound here because tsoci-init never starts a second thread, so
/// no lock can be held by a thread that does not exist in the child.
pub fn fork() -> Result<Forked, Errno> {
    // SAFETY: the process is single-threaded (see above); both sides continue
    // with ordinary Rust code.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        p => Ok(Forked::Parent(p)),
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Killed(i32),
}

impl Ended {
    /// The shell convention: the exit code, or 128 + signal number.
    pub fn status(self) -> i32 {
        match self {
            Ended::Exited(c) => c,
            Ended::Killed(s) => 128 + s,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Ended::Exited(c) => format!("exit status {c}"),
            Ended::Killed(s) => format!("killed by signal {s}"),
        }
    }
}

/// Waits for `pid`, retrying when a forwarded signal interrupts the wait.
pub fn wait_for(pid: i32) -> Result<Ended, Errno> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer for the duration of the call.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return Ok(Ended::Exited(libc::WEXITSTATUS(status)));
            }
            if libc::WIFSIGNALED(status) {
                return Ok(Ended::Killed(libc::WTERMSIG(status)));
            }
            continue;
        }
        let e = Errno::last();
        if e != Errno::EINTR {
            return Err(e);
        }
    }
}

/// `execve(path, args, env)`; returns only on failure.
pub fn execve(path: &CStr, args: &[CString], env: &[CString]) -> Errno {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: path, argv and envp point at NUL-terminated data owned by the
    // caller's CStrings, alive for the call; the arrays end in NULL.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::last()
}

/// Sets SIGPIPE to its default (`true`) or back to ignored. The Rust
/// runtime ignores SIGPIPE before `main`, and an ignored signal survives
/// execve: without this the program we start (the container process, a
/// hook) would run with SIGPIPE ignored, where runc and crun start it with
/// every signal at its default (`yes | head` would then spin on EPIPE).
pub fn default_sigpipe(default: bool) {
    let action = if default { libc::SIG_DFL } else { libc::SIG_IGN };
    // SAFETY: signal() with SIG_DFL/SIG_IGN installs no handler code; it
    // only changes this process's disposition for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, action) };
}

/// Marks every fd from `first` up CLOEXEC (close_range with
/// CLOSE_RANGE_CLOEXEC; a /proc/self/fd walk on kernels before 5.11), so an
/// fd leaked by whoever started us never reaches the container.
pub fn mark_cloexec_from(first: u32) -> Result<(), Errno> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range takes integers only; with CLOSE_RANGE_CLOEXEC it
    // closes nothing, so no OwnedFd in this process is invalidated.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = Errno::last();
    if e != Errno::ENOSYS && e != Errno::EINVAL {
        return Err(e);
    }
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| Errno::from_io(&e))?;
    let fds: Vec<i32> = dir
        .filter_map(|d| d.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds.into_iter().filter(|&fd| fd >= first as i32) {
        set_cloexec_raw(fd);
    }
    Ok(())
}

fn set_cloexec_raw(fd: i32) {
    // SAFETY: F_GETFD/F_SETFD change only the fd's close-on-exec flag; an fd
    // closed in the meantime (the read_dir handle) just fails with EBADF.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
}

/// Sets FD_CLOEXEC on one borrowed fd.
pub fn set_cloexec(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC).map_err(Errno::from)
}

static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe and takes integers only.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Relays the usual job-control and termination signals to `pid`, so that
/// signalling the waiting tsoci-init signals the command it runs.
pub fn forward_signals_to(pid: i32) {
    FORWARD_TO.store(pid, Ordering::Relaxed);
    for sig in [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
        libc::SIGCONT,
    ] {
        install_handler(sig);
    }
}

fn install_handler(sig: libc::c_int) {
    // SAFETY: `sa` is fully initialised (zeroed, then handler and an empty
    // mask set) before sigaction copies it; the handler only calls kill.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = forward as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Writes all of `data` to `fd` (pipes and the exec fifo).
pub fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return Err(Errno::EPIPE),
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads one byte; `Ok(false)` at EOF (the writer is gone).
pub fn read_byte(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    let mut b = [0u8; 1];
    loop {
        match rustix::io::read(fd, &mut b) {
            Ok(n) => return Ok(n == 1),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// True when every write end of the pipe behind `r` is closed, i.e. the
/// process that holds it has exited. Used after setting PDEATHSIG, where
/// getppid() cannot tell (it reads 0 when the parent is outside our pid
/// namespace, dead or alive).
pub fn writer_gone(r: BorrowedFd<'_>) -> bool {
    let mut pfd = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&r),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd for the duration of the call; timeout 0.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n == 1 && pfd.revents & libc::POLLHUP != 0
}
