//! Starting a helper executable (tsoci-init) from a multi-threaded process
//! such as Node, without copying that process.
//!
//! `fork()` of a Node process copies its page tables (its cost grows with
//! the heap: 0.9 ms at 54 MB, 4.7 ms at 160 MB here, libuv's spawn) and
//! leaves every page copy-on-write for the parent afterwards. This module
//! does what `posix_spawn` does instead: `clone3(CLONE_VM | CLONE_VFORK)`
//! runs a short child on a stack of its own in the parent's memory; the
//! child only resets signals, arranges the fds it was given and execs. The
//! calling thread sleeps until then (CLONE_VFORK), and the other threads of
//! the process never see the child run any code of theirs.
//!
//! clone3 also gives what posix_spawn cannot:
//! - `CLONE_PIDFD`: a pidfd of the child from the start (no pid race), which
//!   the caller watches and reaps with;
//! - `CLONE_INTO_CGROUP`: the child is born in a cgroup2 directory. Moving a
//!   process there by writing `cgroup.procs` takes the kernel's global
//!   threadgroup lock, whose write side waits for an RCU grace period
//!   (5-18 ms measured here when nothing else just did); being born there
//!   takes only its read side.
//!
//! The child (see `child_main`) calls nothing but async-signal-safe
//! syscall wrappers: no allocation, no lock, no panic path.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use rustix::io::Errno;

use crate::{Result, StateError};

/// Where one fd of the child comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdSource {
    /// This fd of the calling process (it stays open here).
    Fd(RawFd),
    /// `/dev/null`, opened read-write.
    Null,
}

/// What to start.
#[derive(Debug)]
pub struct SpawnRequest<'a> {
    /// The executable, e.g. `/proc/<pid>/fd/<n>` of a sealed copy.
    pub path: &'a str,
    /// argv, argv[0] included.
    pub argv: &'a [String],
    /// The whole environment, `KEY=value` entries.
    pub env: &'a [String],
    /// The child's fds 0..n: `fds[i]` becomes fd `i`. Nothing else is
    /// inherited: every other fd is close-on-exec in the child.
    pub fds: &'a [FdSource],
    /// A cgroup2 directory to start the child in (CLONE_INTO_CGROUP).
    pub cgroup: Option<BorrowedFd<'a>>,
}

/// A started child: not reaped by anyone yet.
#[derive(Debug)]
pub struct Spawned {
    pub pid: u32,
    pub pidfd: OwnedFd,
    /// Whether it was born in the requested cgroup. False when the kernel
    /// refused CLONE_INTO_CGROUP (before 5.7, or for that directory): the
    /// child then runs in the caller's cgroups and the caller must move it.
    pub in_cgroup: bool,
}

// The kernel's struct clone_args (CLONE_ARGS_SIZE_VER2: 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_VM: u64 = 0x100;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

// The child needs a few hundred bytes; glibc's sigaction and fcntl wrappers
// add little. 64 KiB leaves a wide margin and costs nothing until touched.
const CHILD_STACK: usize = 64 * 1024;

/// Everything the child reads, prepared by the parent (the child allocates
/// nothing). `err` is the one field it writes: the errno of the step that
/// failed, read by the parent once the child has exec'd or exited.
#[repr(C)]
struct ChildCtx {
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    fds: *const RawFd,
    /// Scratch space of `nfds` ints for the child's fd shuffle.
    scratch: *mut RawFd,
    nfds: usize,
    /// Clear O_NONBLOCK on targets 0-2 that come from the caller's fds.
    blocking_stdio: [bool; 3],
    err: AtomicI32,
}

/// Starts `req.path` as described above. Fails with the errno of a failed
/// execve (ENOENT, EACCES, …) or of a bad source fd (EBADF), after reaping
/// the child; `ENOSYS` on architectures this module has no clone3 entry for.
pub fn spawn(req: &SpawnRequest<'_>) -> Result<Spawned> {
    let cstring = |s: &str, what: &str| {
        CString::new(s).map_err(|_| StateError::InvalidArgument {
            what: format!("spawn {}: {what} {s:?}", req.path),
            reason: "contains a NUL byte".to_owned(),
        })
    };
    let path = cstring(req.path, "path")?;
    let argv: Vec<CString> = req.argv.iter().map(|a| cstring(a, "argument")).collect::<Result<_>>()?;
    let env: Vec<CString> = req.env.iter().map(|e| cstring(e, "environment entry")).collect::<Result<_>>()?;
    if argv.is_empty() {
        return Err(StateError::InvalidArgument {
            what: format!("spawn {}", req.path),
            reason: "argv is empty".to_owned(),
        });
    }
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());

    let n = req.fds.len();
    // Kept above every target number, so the child's shuffle never has to
    // move it out of the way of another target.
    let null = if req.fds.contains(&FdSource::Null) { Some(open_null(n)?) } else { None };
    let sources: Vec<RawFd> = req
        .fds
        .iter()
        .map(|s| match s {
            FdSource::Fd(fd) => *fd,
            FdSource::Null => null.as_ref().map_or(-1, AsRawFd::as_raw_fd),
        })
        .collect();
    let mut blocking_stdio = [false; 3];
    for (i, slot) in blocking_stdio.iter_mut().enumerate() {
        *slot = matches!(req.fds.get(i), Some(FdSource::Fd(_)));
    }
    let mut scratch = vec![-1; n];

    let ctx = ChildCtx {
        path: path.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp: env_ptrs.as_ptr(),
        fds: sources.as_ptr(),
        scratch: scratch.as_mut_ptr(),
        nfds: n,
        blocking_stdio,
        err: AtomicI32::new(0),
    };
    let mut stack = vec![0u8; CHILD_STACK + 16];

    let with_cgroup = req.cgroup.map(|fd| fd.as_raw_fd());
    let (pid, pidfd, in_cgroup) = match clone_child(&ctx, &mut stack, with_cgroup) {
        Ok((pid, pidfd)) => (pid, pidfd, with_cgroup.is_some()),
        // Any refusal of the cgroup (an old kernel, a v1 or foreign
        // directory): start it here, the caller moves it.
        Err(_) if with_cgroup.is_some() => {
            let (pid, pidfd) = clone_child(&ctx, &mut stack, None)
                .map_err(|e| StateError::sys(format!("clone3 of {}", req.path))(e))?;
            (pid, pidfd, false)
        }
        Err(e) => return Err(StateError::sys(format!("clone3 of {}", req.path))(e)),
    };
    drop(stack);
    let failed = ctx.err.load(Ordering::SeqCst);
    if failed != 0 {
        // It has exited (127) already: CLONE_VFORK returned only after that.
        reap(&pidfd);
        return Err(StateError::Sys { op: format!("starting {}", req.path), errno: Errno::from_raw_os_error(failed) });
    }
    Ok(Spawned { pid, pidfd, in_cgroup })
}

/// `/dev/null` read-write and close-on-exec, at an fd number ≥ `min`.
fn open_null(min: usize) -> Result<OwnedFd> {
    let fd = rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(StateError::io("open", "/dev/null"))?;
    let min = i32::try_from(min).unwrap_or(i32::MAX);
    if fd.as_raw_fd() >= min {
        return Ok(fd);
    }
    rustix::io::fcntl_dupfd_cloexec(&fd, min).map_err(StateError::sys("fcntl(F_DUPFD_CLOEXEC) of /dev/null"))
}

fn reap(pidfd: &OwnedFd) {
    let _ =
        rustix::process::waitid(rustix::process::WaitId::PidFd(pidfd.as_fd()), rustix::process::WaitIdOptions::EXITED);
}

/// clone3 with every signal blocked in the calling thread around it, so
/// that no handler of this process runs in the child before the child has
/// reset them.
fn clone_child(ctx: &ChildCtx, stack: &mut [u8], cgroup: Option<RawFd>) -> std::result::Result<(u32, OwnedFd), Errno> {
    // 16-byte aligned top of stack: the child's first `call` needs it.
    let base = stack.as_mut_ptr() as usize;
    let top = (base + stack.len()) & !15;
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: CLONE_VM | CLONE_VFORK | CLONE_PIDFD | if cgroup.is_some() { CLONE_INTO_CGROUP } else { 0 },
        pidfd: std::ptr::addr_of_mut!(pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: base as u64,
        stack_size: (top - base) as u64,
        cgroup: cgroup.map_or(0, |fd| fd as u64),
        ..CloneArgs::default()
    };
    let old = block_all_signals();
    let ret = clone3_run(&mut args, ctx);
    restore_signals(&old);
    if ret < 0 {
        return Err(Errno::from_raw_os_error(i32::try_from(-ret).unwrap_or(libc::EINVAL)));
    }
    if pidfd < 0 {
        return Err(Errno::BADF);
    }
    // SAFETY: CLONE_PIDFD stored a new pidfd here that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok((u32::try_from(ret).unwrap_or(0), pidfd))
}

fn block_all_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset/pthread_sigmask only write
    // the sets passed, which live on this stack for the calls.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: `old` is the mask block_all_signals saved; nothing is written back.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
    }
}

/// Runs clone3 with `args` and, in the child, `child_main(ctx)` on the stack
/// `args` names. Returns the child's pid, or -errno.
#[cfg(target_arch = "x86_64")]
fn clone3_run(args: &mut CloneArgs, ctx: &ChildCtx) -> isize {
    let ret: isize;
    let size = std::mem::size_of::<CloneArgs>();
    let entry: extern "C" fn(*const ChildCtx) -> ! = child_main;
    // SAFETY: the syscall reads `args` (alive for the call) and writes the
    // pidfd through the pointer in it. In the parent the asm is a plain
    // syscall (rcx and r11 clobbered, declared). In the child (rax 0) the
    // kernel has switched rsp to the top of `stack`, 16-byte aligned, in the
    // parent's memory (CLONE_VM); the child never returns into this frame:
    // it calls child_main, which ends in execve or _exit, while the parent
    // thread sleeps until then (CLONE_VFORK), so `ctx` and the stack stay
    // alive and untouched for as long as the child uses them.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 as isize => ret,
            in("rdi") args as *mut CloneArgs,
            in("rsi") size,
            in("r12") ctx as *const ChildCtx,
            in("r13") entry,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    ret
}

/// No clone3 entry written for this architecture: callers fall back to
/// their own spawn.
#[cfg(not(target_arch = "x86_64"))]
fn clone3_run(_args: &mut CloneArgs, _ctx: &ChildCtx) -> isize {
    -(libc::ENOSYS as isize)
}

/// The child: signals to their defaults and unblocked, fds in place, the
/// rest close-on-exec, execve. Any failure stores its errno in `ctx.err` and
/// exits 127. Runs on its own stack in the parent's memory while the parent
/// thread sleeps (CLONE_VFORK): only async-signal-safe wrappers, nothing
/// allocates, nothing can panic.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
extern "C" fn child_main(ctx: *const ChildCtx) -> ! {
    // SAFETY: `ctx` is the parent's ChildCtx, alive and unchanged while this
    // child runs (the parent sleeps until it execs or exits).
    let ctx = unsafe { &*ctx };
    reset_signals();
    if place_fds(ctx).is_err() {
        child_fail(ctx);
    }
    cloexec_from(ctx.nfds);
    // SAFETY: path, argv and envp are NUL-terminated strings and
    // NULL-terminated arrays the parent keeps alive until we exec or exit.
    unsafe { libc::execve(ctx.path, ctx.argv, ctx.envp) };
    child_fail(ctx)
}

fn child_errno() -> i32 {
    // SAFETY: glibc's errno location of the calling thread (here, the
    // parent thread's, which sleeps); reading it is plain memory access.
    let errno = unsafe { *libc::__errno_location() };
    if errno == 0 {
        libc::EIO
    } else {
        errno
    }
}

fn child_fail(ctx: &ChildCtx) -> ! {
    ctx.err.store(child_errno(), Ordering::SeqCst);
    // SAFETY: _exit ends only this child (no CLONE_THREAD) without running
    // any of the parent's atexit handlers or destructors.
    unsafe { libc::_exit(127) }
}

/// Handlers of the parent must never run in the child (they would run on
/// the parent's data): every signal back to its default, then unblocked.
fn reset_signals() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: sigaction only reads and writes the structs passed, which
        // live on this stack; all-zero is a valid `struct sigaction`. glibc
        // refuses its internal signals with EINVAL, which is fine.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction != libc::SIG_DFL {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
    }
    // SAFETY: as above, a set on this stack.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// Puts `fds[i]` at fd `i`. Sources first go above every target number (fd
/// n and up), so that placing one never overwrites another still to be
/// placed.
fn place_fds(ctx: &ChildCtx) -> std::result::Result<(), ()> {
    let n = ctx.nfds;
    let min = libc::c_int::try_from(n).map_err(|_| ())?;
    for i in 0..n {
        // SAFETY: `fds` and `scratch` hold `nfds` ints each (see ChildCtx);
        // `scratch` is written by this child only.
        let (src, slot) = unsafe { (*ctx.fds.add(i), ctx.scratch.add(i)) };
        let target = libc::c_int::try_from(i).map_err(|_| ())?;
        let placed = if src == target {
            src
        } else {
            // SAFETY: fcntl on an fd number; a bad one fails with EBADF.
            let moved = unsafe { libc::fcntl(src, libc::F_DUPFD_CLOEXEC, min) };
            if moved < 0 {
                return Err(());
            }
            moved
        };
        // SAFETY: see above.
        unsafe { *slot = placed };
    }
    for i in 0..n {
        let target = libc::c_int::try_from(i).map_err(|_| ())?;
        // SAFETY: see above.
        let src = unsafe { *ctx.scratch.add(i) };
        // SAFETY: fcntl and dup3 on fd numbers of this (child's own) fd table.
        let ok = unsafe {
            if src == target {
                libc::fcntl(target, libc::F_SETFD, 0) == 0
            } else {
                libc::dup3(src, target, 0) == target
            }
        };
        if !ok {
            return Err(());
        }
        // As libuv does for a child's stdio: an inherited terminal or pipe
        // must not stay non-blocking for a program that does not expect it.
        if ctx.blocking_stdio.get(i).copied().unwrap_or(false) {
            // SAFETY: fcntl on the fd just placed.
            unsafe {
                let flags = libc::fcntl(target, libc::F_GETFL);
                if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
                    libc::fcntl(target, libc::F_SETFL, flags & !libc::O_NONBLOCK);
                }
            }
        }
    }
    Ok(())
}

/// Marks every fd from `first` on close-on-exec: nothing else of the
/// parent's crosses the execve.
fn cloexec_from(first: usize) {
    let first = libc::c_uint::try_from(first).unwrap_or(libc::c_uint::MAX);
    // SAFETY: close_range with integer arguments only.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if rc == 0 {
        return;
    }
    // Before Linux 5.11: one fd at a time, up to the fd limit.
    // SAFETY: getrlimit writes the struct on this stack.
    let max = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            libc::c_int::try_from(lim.rlim_cur).unwrap_or(1 << 20)
        } else {
            1 << 20
        }
    };
    let from = libc::c_int::try_from(first).unwrap_or(libc::c_int::MAX);
    for fd in from..max {
        // SAFETY: fcntl on an fd number; unused numbers fail with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn wait(pidfd: &OwnedFd) -> i32 {
        let status = rustix::process::waitid(
            rustix::process::WaitId::PidFd(pidfd.as_fd()),
            rustix::process::WaitIdOptions::EXITED,
        )
        .expect("waitid")
        .expect("a status");
        status.exit_status().unwrap_or(-1)
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn runs_with_exactly_the_given_fds() {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
        // A non-CLOEXEC fd of ours that must not reach the child.
        let leak = rustix::fs::open("/dev/null", rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty()).expect("open");
        let script = format!(
            "ls /proc/self/fd | sort -n | tr '\\n' ' ' >&3; echo >&3; echo \"$X\" >&3; test -e /proc/self/fd/{} && echo leaked >&3; exit 7",
            leak.as_raw_fd()
        );
        let argv = strings(&["sh", "-c", &script]);
        let env = strings(&["X=hello", "PATH=/usr/bin:/bin"]);
        let fds = [FdSource::Null, FdSource::Null, FdSource::Null, FdSource::Fd(w.as_raw_fd())];
        let s =
            spawn(&SpawnRequest { path: "/bin/sh", argv: &argv, env: &env, fds: &fds, cgroup: None }).expect("spawn");
        drop(w);
        let mut out = String::new();
        std::fs::File::from(r).read_to_string(&mut out).expect("read");
        assert_eq!(wait(&s.pidfd), 7);
        assert!(!s.in_cgroup);
        // 0-3 plus the fd `ls` opens for /proc/self/fd.
        let fds: Vec<&str> = out.lines().next().unwrap_or("").split_whitespace().collect();
        assert_eq!(fds.get(..4), Some(&["0", "1", "2", "3"][..]), "{out}");
        assert!(fds.len() <= 5, "{out}");
        assert!(out.contains("hello"), "{out}");
        assert!(!out.contains("leaked"), "{out}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_missing_executable_is_its_errno_and_leaves_no_child() {
        let argv = strings(&["nope"]);
        let err = spawn(&SpawnRequest {
            path: "/nonexistent/tsoci-spawn-test",
            argv: &argv,
            env: &[],
            fds: &[FdSource::Null],
            cgroup: None,
        })
        .expect_err("must fail");
        assert_eq!(err.errno_name(), "ENOENT");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sources_may_be_other_targets() {
        // Target 900 comes from our fd 905 and target 905 from our fd 900: a
        // plain dup2 in order would lose one of them.
        let (ra, wa) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
        let (rb, wb) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
        let at = |fd: &OwnedFd, n: i32| {
            // SAFETY: dup3 onto a high number this test owns.
            let rc = unsafe { libc::dup3(fd.as_raw_fd(), n, libc::O_CLOEXEC) };
            assert_eq!(rc, n);
            // SAFETY: dup3 just made fd `n`; it is owned here only.
            unsafe { OwnedFd::from_raw_fd(n) }
        };
        let a905 = at(&wa, 905);
        let b900 = at(&wb, 900);
        drop((wa, wb));
        let mut fds = vec![FdSource::Null; 906];
        fds[900] = FdSource::Fd(a905.as_raw_fd());
        fds[905] = FdSource::Fd(b900.as_raw_fd());
        let argv = strings(&["sh", "-c", "echo a >/proc/self/fd/900; echo b >/proc/self/fd/905"]);
        let s =
            spawn(&SpawnRequest { path: "/bin/sh", argv: &argv, env: &[], fds: &fds, cgroup: None }).expect("spawn");
        drop((a905, b900));
        let read = |r: OwnedFd| {
            let mut out = String::new();
            std::fs::File::from(r).read_to_string(&mut out).expect("read");
            out
        };
        assert_eq!(wait(&s.pidfd), 0);
        assert_eq!(read(ra).trim(), "a");
        assert_eq!(read(rb).trim(), "b");
    }

    /// The cgroup2 mount point, if this host has one we may create in.
    fn cgroup2_mount() -> Option<String> {
        if !rustix::process::geteuid().is_root() {
            return None;
        }
        let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        info.lines().find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            (f.get(sep + 1) == Some(&"cgroup2")).then(|| f.get(4).map(|m| (*m).to_owned()))?
        })
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn is_born_in_the_cgroup_asked_for() {
        let Some(mount) = cgroup2_mount() else {
            eprintln!("skipped: not root or no cgroup2 mount");
            return;
        };
        let name = format!("tsoci-spawn-test-{}", std::process::id());
        let dir = format!("{mount}/{name}");
        if std::fs::create_dir(&dir).is_err() {
            eprintln!("skipped: cannot create {dir}");
            return;
        }
        let cg = rustix::fs::open(
            dir.as_str(),
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .expect("open cgroup dir");
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
        let argv = strings(&["cat", "/proc/self/cgroup"]);
        let fds = [FdSource::Null, FdSource::Fd(w.as_raw_fd()), FdSource::Null];
        let s = spawn(&SpawnRequest { path: "/bin/cat", argv: &argv, env: &[], fds: &fds, cgroup: Some(cg.as_fd()) });
        drop(w);
        let mut out = String::new();
        std::fs::File::from(r).read_to_string(&mut out).expect("read");
        let s = s.expect("spawn");
        assert_eq!(wait(&s.pidfd), 0);
        let _ = std::fs::remove_dir(&dir);
        assert!(s.in_cgroup, "CLONE_INTO_CGROUP refused");
        let unified = out.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("");
        assert!(unified.ends_with(&format!("/{name}")), "{out}");
    }
}
