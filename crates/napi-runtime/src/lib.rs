//! Node binding of tsoci-state and tsoci-seccomp, for @ts-oci/runtime.
//!
//! Thin on purpose: logic and its tests live in the two crates. Nothing here
//! changes the namespaces or credentials of the Node process or of a libuv
//! pool thread: the async tasks only poll, read, flock, accept and waitid.
//! Every error reason is `ERRNO: message` so that the TypeScript side can map
//! it to a stable code.

use std::os::fd::{BorrowedFd, IntoRawFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Error, Result, Status, Task};
use napi_derive::napi;
use tsoci_seccomp::SeccompError;
use tsoci_state::{ContainerDir, ExitStatus, ReceivedFd, StateError};

fn state_err(e: StateError) -> Error {
    Error::new(Status::GenericFailure, format!("{}: {}", e.errno_name(), e))
}

fn seccomp_err(e: SeccompError) -> Error {
    Error::new(Status::GenericFailure, format!("{}: {}", e.errno_name(), e))
}

fn einval(message: String) -> Error {
    Error::new(Status::InvalidArg, format!("EINVAL: {message}"))
}

fn start_time_arg(start_time: i64) -> Result<u64> {
    u64::try_from(start_time)
        .map_err(|_| einval(format!("start time {start_time} must not be negative")))
}

fn start_time_ret(start_time: u64) -> Result<i64> {
    i64::try_from(start_time).map_err(|_| {
        Error::new(
            Status::GenericFailure,
            format!("EOVERFLOW: start time {start_time} is too large"),
        )
    })
}

fn timeout_arg(timeout_ms: Option<u32>) -> Option<Duration> {
    timeout_ms.map(|ms| Duration::from_millis(u64::from(ms)))
}

// ---------------------------------------------------------------- state store

/// A held container lock (flock on the container directory). The lock lasts
/// until `release()`, `remove()`, or garbage collection of this object; call
/// one of the first two explicitly.
#[napi]
pub struct ContainerLock {
    inner: Option<ContainerDir>,
    id: String,
    path: String,
}

impl ContainerLock {
    fn new(dir: ContainerDir) -> Self {
        let id = dir.id().to_owned();
        let path = dir.path().to_string_lossy().into_owned();
        ContainerLock {
            inner: Some(dir),
            id,
            path,
        }
    }

    fn held_dir(&self) -> Result<&ContainerDir> {
        self.inner.as_ref().ok_or_else(|| {
            Error::new(
                Status::GenericFailure,
                format!(
                    "EBADF: the lock on container {:?} was already released",
                    self.id
                ),
            )
        })
    }
}

#[napi]
impl ContainerLock {
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// `<root>/<id>`.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// False after `release()` or `remove()`.
    #[napi(getter)]
    pub fn held(&self) -> bool {
        self.inner.is_some()
    }

    /// The state JSON text, or null if none was written yet.
    #[napi]
    pub fn read_state(&self) -> Result<Option<String>> {
        self.held_dir()?.read_state().map_err(state_err)
    }

    /// Atomically replaces the state; `json` must be a JSON object.
    #[napi]
    pub fn write_state(&self, json: String) -> Result<()> {
        self.held_dir()?.write_state(&json).map_err(state_err)
    }

    /// Deletes the container directory and everything in it, then releases
    /// the lock. If deleting fails, the lock stays held.
    #[napi]
    pub fn remove(&mut self) -> Result<()> {
        self.held_dir()?.remove_tree().map_err(state_err)?;
        self.inner = None;
        Ok(())
    }

    /// Releases the lock; idempotent.
    #[napi]
    pub fn release(&mut self) {
        self.inner = None;
    }
}

fn mount_err(e: tsoci_mount::MountError) -> Error {
    Error::new(Status::GenericFailure, format!("{}: {}", e.errno_name(), e))
}

/// Mounts an overlay (`options`: `lowerdir=…,upperdir=…,workdir=…`) on
/// `target`, with relative paths taken from `cwd`. The mount runs on a
/// thread of its own with a private working directory (see
/// tsoci-mount's overlay.rs): this process's directory and namespaces stay
/// as they are. What `@ts-oci/image` otherwise runs mount(8) for.
#[napi]
pub fn mount_overlay(options: String, target: String, cwd: Option<String>) -> Result<()> {
    tsoci_mount::mount_overlay(
        &options,
        &PathBuf::from(target),
        cwd.as_deref().map(std::path::Path::new),
    )
    .map_err(mount_err)
}

/// Unmounts `target`; false when nothing was mounted there.
#[napi]
pub fn unmount(target: String) -> Result<bool> {
    tsoci_mount::unmount(&PathBuf::from(target)).map_err(mount_err)
}

/// Throws `EINVAL: invalid container id …` unless `id` is a valid container id.
#[napi]
pub fn validate_id(id: String) -> Result<()> {
    tsoci_state::validate_id(&id).map_err(state_err)
}

/// Creates `<root>/<id>` (0700; root 0711 if missing) and returns it locked.
/// `EEXIST` if the container exists.
#[napi]
pub fn create_container_dir(root: String, id: String) -> Result<ContainerLock> {
    tsoci_state::create_container_dir(&PathBuf::from(root), &id)
        .map(ContainerLock::new)
        .map_err(state_err)
}

/// Locks container `id`, blocking the calling thread for up to `timeoutMs`
/// (undefined: forever). `ENOENT` if it does not exist, `EAGAIN` on timeout.
#[napi]
pub fn lock_container(root: String, id: String, timeout_ms: Option<u32>) -> Result<ContainerLock> {
    tsoci_state::lock_container(&PathBuf::from(root), &id, timeout_arg(timeout_ms))
        .map(ContainerLock::new)
        .map_err(state_err)
}

pub struct LockTask {
    root: PathBuf,
    id: String,
    timeout: Option<Duration>,
}

impl Task for LockTask {
    type Output = ContainerDir;
    type JsValue = ContainerLock;

    fn compute(&mut self) -> Result<ContainerDir> {
        tsoci_state::lock_container(&self.root, &self.id, self.timeout).map_err(state_err)
    }

    fn resolve(&mut self, _env: Env, dir: ContainerDir) -> Result<ContainerLock> {
        Ok(ContainerLock::new(dir))
    }
}

/// `lockContainer` on the libuv pool: waits without blocking the event loop.
/// flock belongs to the open file, not the thread, so the lock stays valid
/// on the main thread.
#[napi(ts_return_type = "Promise<ContainerLock>")]
pub fn lock_container_async(
    root: String,
    id: String,
    timeout_ms: Option<u32>,
) -> AsyncTask<LockTask> {
    AsyncTask::new(LockTask {
        root: PathBuf::from(root),
        id,
        timeout: timeout_arg(timeout_ms),
    })
}

/// The state text of `id` read WITHOUT the lock (safe: writes are atomic);
/// null if none was written yet. `ENOENT` if the container does not exist.
#[napi]
pub fn read_state(root: String, id: String) -> Result<Option<String>> {
    tsoci_state::read_state(&PathBuf::from(root), &id).map_err(state_err)
}

/// Container ids under `root`, sorted; empty if `root` does not exist.
#[napi]
pub fn list_ids(root: String) -> Result<Vec<String>> {
    tsoci_state::list_ids(&PathBuf::from(root)).map_err(state_err)
}

// ------------------------------------------------------------------ processes

/// Field 22 of `/proc/<pid>/stat` (clock ticks after boot). `ESRCH` if no such process.
#[napi]
pub fn process_start_time(pid: u32) -> Result<i64> {
    start_time_ret(tsoci_state::process_start_time(pid).map_err(state_err)?)
}

/// True if `pid` exists, is not a zombie, and started at `startTime`.
#[napi]
pub fn is_alive(pid: u32, start_time: i64) -> Result<bool> {
    tsoci_state::is_alive(pid, start_time_arg(start_time)?).map_err(state_err)
}

/// Sends `signal` through a pidfd, only if `pid` still started at
/// `startTime`. `ESRCH` if it is gone or the pid was reused.
#[napi]
pub fn signal_process(pid: u32, start_time: i64, signal: i32) -> Result<()> {
    tsoci_state::signal_process(pid, start_time_arg(start_time)?, signal).map_err(state_err)
}

/// PR_SET_CHILD_SUBREAPER on this process: orphaned descendants are
/// re-parented here and can be waited for with `waitPid`.
#[napi]
pub fn set_child_subreaper() -> Result<()> {
    tsoci_state::set_child_subreaper().map_err(state_err)
}

/// How a process ended: exactly one of the two fields is set.
#[napi(object)]
pub struct WaitResult {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
}

pub struct WaitTask {
    pid: u32,
}

impl Task for WaitTask {
    type Output = ExitStatus;
    type JsValue = WaitResult;

    fn compute(&mut self) -> Result<ExitStatus> {
        tsoci_state::wait_pid(self.pid).map_err(state_err)
    }

    fn resolve(&mut self, _env: Env, status: ExitStatus) -> Result<WaitResult> {
        Ok(match status {
            ExitStatus::Exited(code) => WaitResult {
                exit_code: Some(code),
                signal: None,
            },
            ExitStatus::Signaled(sig) => WaitResult {
                exit_code: None,
                signal: Some(sig),
            },
        })
    }
}

/// Waits for and reaps child `pid` on the libuv pool (the pool thread blocks
/// until it exits). Never use it on children of node:child_process, which
/// reaps its own. `ECHILD` if `pid` is not a child.
#[napi(ts_return_type = "Promise<WaitResult>")]
pub fn wait_pid(pid: u32) -> AsyncTask<WaitTask> {
    AsyncTask::new(WaitTask { pid })
}

// ------------------------------------------------------------------ exec fifo

/// mkfifo with exactly `mode` (default 0o622), undoing the umask.
#[napi]
pub fn mkfifo(path: String, mode: Option<u32>) -> Result<()> {
    tsoci_state::mkfifo(
        &PathBuf::from(path),
        mode.unwrap_or(tsoci_state::EXEC_FIFO_MODE),
    )
    .map_err(state_err)
}

/// Opens the exec fifo, waits for the container's byte while watching a
/// pidfd of `pid` (checked against `startTime`), unlinks the fifo and returns
/// the byte. `ESRCH` if the process died first, `ETIMEDOUT` after `timeoutMs`.
/// Blocks the calling thread.
#[napi]
pub fn release_exec_fifo(
    path: String,
    pid: u32,
    start_time: i64,
    timeout_ms: Option<u32>,
) -> Result<u32> {
    tsoci_state::release_exec_fifo(
        &PathBuf::from(path),
        pid,
        start_time_arg(start_time)?,
        timeout_arg(timeout_ms),
    )
    .map(u32::from)
    .map_err(state_err)
}

pub struct ReleaseFifoTask {
    path: PathBuf,
    pid: u32,
    start_time: u64,
    timeout: Option<Duration>,
}

impl Task for ReleaseFifoTask {
    type Output = u8;
    type JsValue = u32;

    fn compute(&mut self) -> Result<u8> {
        tsoci_state::release_exec_fifo(&self.path, self.pid, self.start_time, self.timeout)
            .map_err(state_err)
    }

    fn resolve(&mut self, _env: Env, byte: u8) -> Result<u32> {
        Ok(u32::from(byte))
    }
}

/// `releaseExecFifo` on the libuv pool.
#[napi(ts_return_type = "Promise<number>")]
pub fn release_exec_fifo_async(
    path: String,
    pid: u32,
    start_time: i64,
    timeout_ms: Option<u32>,
) -> Result<AsyncTask<ReleaseFifoTask>> {
    Ok(AsyncTask::new(ReleaseFifoTask {
        path: PathBuf::from(path),
        pid,
        start_time: start_time_arg(start_time)?,
        timeout: timeout_arg(timeout_ms),
    }))
}

// ---------------------------------------------------------------- fd passing

/// Creates a listening unix stream socket at `path` (must not exist) and
/// returns its fd (CLOEXEC). Close it with `closeFd`.
#[napi]
pub fn listen_unix(path: String) -> Result<i32> {
    tsoci_state::listen_unix(&PathBuf::from(path))
        .map(IntoRawFd::into_raw_fd)
        .map_err(state_err)
}

/// An fd received over SCM_RIGHTS (now owned by the caller) and the message
/// bytes that came with it.
#[napi(object)]
pub struct RecvFdResult {
    pub fd: i32,
    pub name: String,
}

pub struct AcceptTask {
    listen_fd: RawFd,
    timeout: Option<Duration>,
}

// BorrowedFd of a raw fd number handed in from JavaScript.
fn borrow_fd(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: fd numbers come from the JS caller, who owns them and (as
    // documented on acceptRecvFd and sendFd) keeps them open until the call
    // or task that uses them settles; they are only used within it, and a
    // closed number makes the syscalls fail with EBADF rather than misbehave.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

impl Task for AcceptTask {
    type Output = ReceivedFd;
    type JsValue = RecvFdResult;

    fn compute(&mut self) -> Result<ReceivedFd> {
        tsoci_state::accept_recv_fd(borrow_fd(self.listen_fd), self.timeout).map_err(state_err)
    }

    fn resolve(&mut self, _env: Env, got: ReceivedFd) -> Result<RecvFdResult> {
        Ok(RecvFdResult {
            fd: got.fd.into_raw_fd(),
            name: got.name,
        })
    }
}

/// Accepts one connection on `listenFd` and receives exactly one fd from it
/// (CLOEXEC), on the libuv pool. `ETIMEDOUT` after `timeoutMs`, `EPROTO` if
/// the peer sends no fd or several. Do not close `listenFd` meanwhile.
#[napi(ts_return_type = "Promise<RecvFdResult>")]
pub fn accept_recv_fd(listen_fd: i32, timeout_ms: Option<u32>) -> Result<AsyncTask<AcceptTask>> {
    if listen_fd < 0 {
        return Err(einval(format!(
            "listen fd {listen_fd} is not a file descriptor"
        )));
    }
    Ok(AsyncTask::new(AcceptTask {
        listen_fd,
        timeout: timeout_arg(timeout_ms),
    }))
}

/// Connects to the unix socket at `path` and sends `fd` with `name` as the
/// message (the runtime's side of --console-socket). `fd` stays open here.
#[napi]
pub fn send_fd(path: String, fd: i32, name: String) -> Result<()> {
    if fd < 0 {
        return Err(einval(format!("{fd} is not a file descriptor")));
    }
    tsoci_state::send_fd(&PathBuf::from(path), borrow_fd(fd), &name).map_err(state_err)
}

/// A sealed memfd copy of the executable at `path` (close-on-exec), for
/// spawning tsoci-init through `/proc/<pid>/fd/<fd>`: an init started from
/// it is already sealed and skips its own copy and re-exec. The caller owns
/// the fd (close it with `closeFd`).
#[napi]
pub fn sealed_executable(path: String) -> Result<i32> {
    let mut src = std::fs::File::open(&path).map_err(|e| {
        Error::new(
            Status::GenericFailure,
            format!(
                "{}: open {path}: {e}",
                tsoci_state::errno_name(e.raw_os_error().unwrap_or(0))
            ),
        )
    })?;
    let fd = tsoci_process::sealed::sealed_copy(&mut src, "tsoci-init").map_err(|e| {
        Error::new(
            Status::GenericFailure,
            format!("EIO: sealed copy of {path}: {e}"),
        )
    })?;
    Ok(fd.into_raw_fd())
}

/// Closes an fd returned by `listenUnix` or `acceptRecvFd`. Refuses 0-2.
#[napi]
pub fn close_fd(fd: i32) -> Result<()> {
    if fd < 3 {
        return Err(einval(format!(
            "refusing to close fd {fd}: not an fd handed out by this binding"
        )));
    }
    close_raw(fd).map_err(|errno| {
        Error::new(
            Status::GenericFailure,
            format!(
                "{}: close fd {fd}: {}",
                tsoci_state::errno_name(errno),
                std::io::Error::from_raw_os_error(errno)
            ),
        )
    })
}

fn close_raw(fd: RawFd) -> std::result::Result<(), i32> {
    // SAFETY: the caller hands over ownership of `fd` (closeFd's contract);
    // nothing in this binding keeps a copy of it.
    let rc = unsafe { libc::close(fd) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    }
}

// -------------------------------------------------------------------- seccomp

#[napi(object)]
pub struct CompiledSeccomp {
    /// `struct sock_filter[]` in native byte order (8 bytes per instruction).
    pub filter: Buffer,
    /// The `flags` argument of seccomp(SECCOMP_SET_MODE_FILTER).
    pub flags: u32,
    /// Syscall names unknown to libseccomp here; skipped, as runc does.
    pub skipped_syscalls: Vec<String>,
}

/// Compiles the JSON text of a `linux.seccomp` object. Errors name the JSON
/// path (`EINVAL: linux.seccomp.syscalls[3].action: unknown action …`);
/// `ENOTSUP` for valid but unsupported requests (SCMP_ACT_NOTIFY). Installs
/// nothing.
#[napi]
pub fn compile_seccomp(json: String) -> Result<CompiledSeccomp> {
    let compiled = tsoci_seccomp::compile_json(&json).map_err(seccomp_err)?;
    Ok(CompiledSeccomp {
        filter: Buffer::from(compiled.bpf),
        flags: compiled.flags,
        skipped_syscalls: compiled.skipped_syscalls,
    })
}

/// What the seccomp compiler supports, for `tsoci features`.
#[napi(object)]
pub struct SeccompTables {
    pub known_actions: Vec<String>,
    pub supported_actions: Vec<String>,
    pub operators: Vec<String>,
    pub known_archs: Vec<String>,
    pub supported_archs: Vec<String>,
    pub known_flags: Vec<String>,
    pub supported_flags: Vec<String>,
    pub native_arch: String,
    pub libseccomp_version: String,
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[napi]
pub fn seccomp_tables() -> SeccompTables {
    let known_flags: Vec<&str> = tsoci_seccomp::KNOWN_FLAGS.iter().map(|(n, _)| *n).collect();
    SeccompTables {
        known_actions: owned(&tsoci_seccomp::KNOWN_ACTIONS),
        supported_actions: owned(&tsoci_seccomp::SUPPORTED_ACTIONS),
        operators: owned(&tsoci_seccomp::OPERATORS),
        known_archs: owned(&tsoci_seccomp::KNOWN_ARCHES),
        supported_archs: owned(tsoci_seccomp::supported_arches()),
        known_flags: owned(&known_flags),
        supported_flags: owned(tsoci_seccomp::supported_flags()),
        native_arch: tsoci_seccomp::native_arch_name().to_owned(),
        libseccomp_version: tsoci_seccomp::library_version(),
    }
}

// -------------------------------------------------------------- exit watching
//
// One thread, blocked in epoll_wait on the pidfds of every watched process,
// reports each exit to a JavaScript callback. A thread of its own, not the
// libuv pool: a wait lasts as long as the container does, and a few
// long-lived containers would otherwise occupy every pool thread (fs, dns and
// crypto of the whole Node process would queue behind them). The same
// thread and epoll set carry the cgroup OOM notifications (see below): one
// token space, two maps.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};

/// How a process ended, as (exit code, signal): exactly one is set, or
/// neither when unknown.
type Ended = (Option<i32>, Option<i32>);

/// How a watched process ended. `source` says how the status was learnt:
/// `waitid` (it was this process's child, now reaped), `pidfd` (another
/// parent reaped it; PIDFD_GET_INFO, Linux 6.15+), `proc` (read from the
/// zombie's /proc/<pid>/stat before its parent reaped it), or `unknown` (then
/// both fields are null).
#[napi(object)]
pub struct ExitEvent {
    pub token: u32,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub source: String,
}

type ExitSink = ThreadsafeFunction<ExitEvent, (), ExitEvent, Status, false, true>;

struct Watched {
    pidfd: OwnedFd,
    pid: u32,
    start_time: u64,
}

struct ExitWatcher {
    epoll: OwnedFd,
    watched: Mutex<HashMap<u32, Watched>>,
    next_token: AtomicU32,
    sink: Mutex<Option<Arc<ExitSink>>>,
    ooms: Mutex<HashMap<u32, OomWatched>>,
    oom_sink: Mutex<Option<Arc<OomSink>>>,
}

static EXIT_WATCHER: Mutex<Option<Arc<ExitWatcher>>> = Mutex::new(None);

// A poisoned lock only means a panic elsewhere while it was held; the maps
// it guards stay consistent (every mutation is a single insert or remove).
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn errno_error(errno: i32, what: &str) -> Error {
    Error::new(
        Status::GenericFailure,
        format!(
            "{}: {what}: {}",
            tsoci_state::errno_name(errno),
            std::io::Error::from_raw_os_error(errno)
        ),
    )
}

fn epoll_create() -> std::result::Result<OwnedFd, i32> {
    // SAFETY: no pointers; a non-negative return is a new fd that nothing
    // else owns, so OwnedFd may take it.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: see above: `fd` is fresh and owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn epoll_ctl(epoll: RawFd, op: i32, fd: RawFd, token: u32) -> std::result::Result<(), i32> {
    epoll_ctl_events(
        epoll,
        op,
        fd,
        token,
        (libc::EPOLLIN | libc::EPOLLONESHOT) as u32,
    )
}

/// Stops watching `fd`; its event may still be queued, and the caller has
/// already dropped the token's entry, so a late event finds nothing.
fn epoll_forget(epoll: RawFd, fd: RawFd, token: u32) {
    let _ = epoll_ctl(epoll, libc::EPOLL_CTL_DEL, fd, token);
}

fn epoll_ctl_events(
    epoll: RawFd,
    op: i32,
    fd: RawFd,
    token: u32,
    events: u32,
) -> std::result::Result<(), i32> {
    let mut ev = libc::epoll_event {
        events,
        u64: u64::from(token),
    };
    // SAFETY: `ev` is a valid epoll_event that outlives the call; the fds are
    // owned by the caller and open for the duration of the call.
    let rc = unsafe { libc::epoll_ctl(epoll, op, fd, &mut ev) };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

fn epoll_wait(epoll: RawFd, events: &mut [libc::epoll_event]) -> std::result::Result<usize, i32> {
    let max = i32::try_from(events.len()).unwrap_or(i32::MAX);
    // SAFETY: `events` is a writable buffer of `max` epoll_events; the kernel
    // writes at most `max` of them.
    let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), max, -1) };
    usize::try_from(n).map_err(|_| last_errno())
}

/// A raw wait status (waitpid's format) as (exit code, signal).
fn decode_wait_status(status: i32) -> Ended {
    let sig = status & 0x7f;
    if sig == 0 {
        (Some((status >> 8) & 0xff), None)
    } else {
        (None, Some(sig))
    }
}

/// Reaps `pidfd`'s process if it is an exited child of this process.
/// `Err(ECHILD)` when it is not our child.
fn reap_child(pidfd: RawFd) -> std::result::Result<Option<Ended>, i32> {
    let id = libc::id_t::try_from(pidfd).map_err(|_| libc::EBADF)?;
    loop {
        // SAFETY: siginfo_t is plain data for which all-zero is valid (and
        // si_pid 0 is how WNOHANG reports "nothing yet").
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a writable siginfo_t; `id` is a pidfd we own.
        let rc =
            unsafe { libc::waitid(libc::P_PIDFD, id, &mut info, libc::WEXITED | libc::WNOHANG) };
        if rc != 0 {
            let errno = last_errno();
            if errno == libc::EINTR {
                continue;
            }
            return Err(errno);
        }
        // SAFETY: waitid filled `info` for a SIGCHLD-style report (or left it zeroed).
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        return Ok(Some(if info.si_code == libc::CLD_EXITED {
            (Some(status), None)
        } else {
            (None, Some(status))
        }));
    }
}

/// PIDFD_GET_INFO's exit status (kernel 6.15+, once the process was reaped).
fn pidfd_exit_info(pidfd: RawFd) -> Option<Ended> {
    // SAFETY: pidfd_info is plain integers; all-zero is a valid value.
    let mut info: libc::pidfd_info = unsafe { std::mem::zeroed() };
    info.mask = u64::from(libc::PIDFD_INFO_EXIT);
    // SAFETY: PIDFD_GET_INFO reads and writes one pidfd_info, which `info`
    // is; older kernels fail with ENOTTY/EINVAL and touch nothing.
    let rc = unsafe { libc::ioctl(pidfd, libc::PIDFD_GET_INFO, &mut info) };
    if rc != 0 || info.mask & u64::from(libc::PIDFD_INFO_EXIT) == 0 {
        return None;
    }
    Some(decode_wait_status(info.exit_code))
}

/// Field 52 (exit_code) of a zombie's /proc/<pid>/stat, if `pid` is still
/// the zombie that started at `start_time`.
fn zombie_exit_code(pid: u32, start_time: u64) -> Option<Ended> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3 of proc_pid_stat(5).
    let state = fields.first()?;
    let started: u64 = fields.get(22 - 3)?.parse().ok()?;
    if *state != "Z" || started != start_time {
        return None;
    }
    let status: i32 = fields.get(52 - 3)?.parse().ok()?;
    Some(decode_wait_status(status))
}

fn exit_status_of(w: &Watched) -> (Ended, &'static str) {
    let fd = w.pidfd.as_raw_fd();
    if let Ok(Some(status)) = reap_child(fd) {
        return (status, "waitid");
    }
    if let Some(status) = pidfd_exit_info(fd) {
        return (status, "pidfd");
    }
    if let Some(status) = zombie_exit_code(w.pid, w.start_time) {
        return (status, "proc");
    }
    // Reaped between the two reads above.
    if let Some(status) = pidfd_exit_info(fd) {
        return (status, "pidfd");
    }
    ((None, None), "unknown")
}

fn run_exit_watcher(w: Arc<ExitWatcher>) {
    let epoll = w.epoll.as_raw_fd();
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 32];
    loop {
        let n = match epoll_wait(epoll, &mut events) {
            Ok(n) => n,
            Err(libc::EINTR) => continue,
            // Cannot happen with a valid epoll fd and buffer; stop rather than spin.
            Err(_) => return,
        };
        for ev in &events[..n] {
            let token = ev.u64 as u32;
            // Absent when cancelled after the kernel queued the event.
            let Some(watched) = locked(&w.watched).remove(&token) else {
                on_oom_ready(&w, token);
                continue;
            };
            let ((exit_code, signal), source) = exit_status_of(&watched);
            epoll_forget(epoll, watched.pidfd.as_raw_fd(), token);
            drop(watched);
            let sink = locked(&w.sink).clone();
            if let Some(sink) = sink {
                sink.call(
                    ExitEvent {
                        token,
                        exit_code,
                        signal,
                        source: source.to_owned(),
                    },
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            }
        }
    }
}

/// A token for a new watch (never 0).
fn next_token(w: &ExitWatcher) -> u32 {
    let mut token = w.next_token.fetch_add(1, Ordering::Relaxed);
    if token == 0 {
        token = w.next_token.fetch_add(1, Ordering::Relaxed);
    }
    token
}

fn exit_watcher() -> Result<Arc<ExitWatcher>> {
    let mut slot = locked(&EXIT_WATCHER);
    if let Some(w) = slot.as_ref() {
        return Ok(w.clone());
    }
    let epoll = epoll_create().map_err(|errno| errno_error(errno, "epoll_create1"))?;
    let w = Arc::new(ExitWatcher {
        epoll,
        watched: Mutex::new(HashMap::new()),
        next_token: AtomicU32::new(1),
        sink: Mutex::new(None),
        ooms: Mutex::new(HashMap::new()),
        oom_sink: Mutex::new(None),
    });
    let for_thread = w.clone();
    std::thread::Builder::new()
        .name("tsoci-exits".to_owned())
        .stack_size(256 * 1024)
        .spawn(move || run_exit_watcher(for_thread))
        .map_err(|e| {
            errno_error(
                e.raw_os_error().unwrap_or(libc::EAGAIN),
                "spawning the exit watcher thread",
            )
        })?;
    *slot = Some(w.clone());
    Ok(w)
}

/// Sets the function that receives every `ExitEvent` (replacing an earlier
/// one). It does not keep the event loop alive: callers that wait hold a
/// handle of their own. One per process (the main thread's).
#[napi(ts_args_type = "callback: (event: ExitEvent) => void")]
pub fn exit_watch_init(callback: ExitSink) -> Result<()> {
    let w = exit_watcher()?;
    *locked(&w.sink) = Some(Arc::new(callback));
    Ok(())
}

/// Starts watching `pid` (checked against `startTime` through its pidfd) and
/// returns the token its `ExitEvent` will carry. A zombie is reported at
/// once. `ESRCH` if the process is gone (reaped) or the pid was reused.
#[napi]
pub fn exit_watch_add(pid: u32, start_time: i64) -> Result<u32> {
    let start_time = start_time_arg(start_time)?;
    let w = exit_watcher()?;
    let pidfd = tsoci_state::open_pidfd(pid, start_time).map_err(state_err)?;
    let watched = Watched {
        pidfd,
        pid,
        start_time,
    };
    watch(&w, watched).map_err(|(errno, _)| errno_error(errno, &format!("watching pid {pid}")))
}

/// Puts `watched` in the map, then in epoll (in that order, so the thread
/// finds it when the event comes); the token its event will carry. On
/// failure it is out of both again and handed back with the errno.
fn watch(w: &ExitWatcher, watched: Watched) -> std::result::Result<u32, (i32, Option<Watched>)> {
    let raw = watched.pidfd.as_raw_fd();
    let token = next_token(w);
    locked(&w.watched).insert(token, watched);
    match epoll_ctl(w.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, raw, token) {
        Ok(()) => Ok(token),
        Err(errno) => Err((errno, locked(&w.watched).remove(&token))),
    }
}

/// Stops a watch; no event follows. False if it already fired or never existed.
#[napi]
pub fn exit_watch_cancel(token: u32) -> Result<bool> {
    let w = exit_watcher()?;
    let Some(watched) = locked(&w.watched).remove(&token) else {
        return Ok(false);
    };
    epoll_forget(w.epoll.as_raw_fd(), watched.pidfd.as_raw_fd(), token);
    Ok(true)
}

/// Sends `signal` to a watched process through its pidfd. False if the
/// watch already fired (the process was reaped: nothing is signalled) or
/// never existed. A pidfd names one process for good, so a recycled pid is
/// never hit.
#[napi]
pub fn exit_watch_kill(token: u32, signal: i32) -> Result<bool> {
    if !(1..=64).contains(&signal) {
        return Err(einval(format!("signal {signal}: expected 1 to 64")));
    }
    let w = exit_watcher()?;
    let watched = locked(&w.watched);
    let Some(target) = watched.get(&token) else {
        return Ok(false);
    };
    // SAFETY: integer arguments only: a pidfd owned by the map (kept alive by
    // the lock guard), a checked signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            target.pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if rc != 0 {
        let errno = last_errno();
        // Exited, not yet reported: the report is on its way.
        if errno == libc::ESRCH {
            return Ok(false);
        }
        return Err(errno_error(
            errno,
            &format!("signalling process {}", target.pid),
        ));
    }
    Ok(true)
}

// ------------------------------------------------------------ spawning inits
//
// tsoci-init started with clone3(CLONE_VM | CLONE_VFORK) instead of libuv's
// fork (see tsoci_state::spawn): the cost no longer grows with the Node
// heap, the init can be born in its cgroup2 directory, and its pidfd goes
// straight into the exit watcher, which reaps it.

/// What `spawnInit` starts.
#[napi(object)]
pub struct SpawnInitOptions {
    /// The executable: the sealed copy's `/proc/<pid>/fd/<n>`, or a file.
    pub path: String,
    pub argv0: String,
    /// The init's whole environment, `KEY=value` entries.
    pub env: Vec<String>,
    /// The init's fds from 0 on: an fd of this process (passed as it is), or
    /// -1 for /dev/null. The sync socket follows, at fd `fds.length`.
    pub fds: Vec<i32>,
    /// A cgroup2 directory to start it in (CLONE_INTO_CGROUP).
    pub cgroup: Option<String>,
}

/// A started init, watched: its `ExitEvent` (with `token`) reaps it.
#[napi(object)]
pub struct SpawnedInit {
    pub pid: u32,
    /// This process's end of the sync socket (SOCK_STREAM, close-on-exec).
    pub sync_fd: i32,
    pub token: u32,
    /// False when the kernel refused to start it in `cgroup`: the caller
    /// moves it there itself.
    pub in_cgroup: bool,
}

/// Starts tsoci-init (see above). `ENOSYS` where this build cannot (then use
/// node:child_process); the errno of a failed exec otherwise.
#[napi]
pub fn spawn_init(opts: SpawnInitOptions) -> Result<SpawnedInit> {
    use rustix::fs::{Mode, OFlags};
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    use tsoci_state::FdSource;

    let w = exit_watcher()?;
    let (ours, theirs) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| errno_error(e.raw_os_error(), "socketpair for the init's sync socket"))?;
    let cgroup = match &opts.cgroup {
        Some(dir) => Some(
            rustix::fs::open(
                dir.as_str(),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| errno_error(e.raw_os_error(), &format!("opening cgroup {dir}")))?,
        ),
        None => None,
    };
    let mut fds: Vec<FdSource> = opts
        .fds
        .iter()
        .map(|&fd| {
            if fd < 0 {
                FdSource::Null
            } else {
                FdSource::Fd(fd)
            }
        })
        .collect();
    fds.push(FdSource::Fd(theirs.as_raw_fd()));
    let argv = [opts.argv0];
    let spawned = tsoci_state::spawn(&tsoci_state::SpawnRequest {
        path: &opts.path,
        argv: &argv,
        env: &opts.env,
        fds: &fds,
        cgroup: cgroup.as_ref().map(std::os::fd::AsFd::as_fd),
    })
    .map_err(state_err)?;
    drop(theirs);
    let tsoci_state::Spawned {
        pid,
        pidfd,
        in_cgroup,
    } = spawned;
    // No start time here: /proc/<pid>/stat blocks until the child's execve
    // is through, and reading it now would hand the CPU back and forth with
    // the child (woken parent preempts it, then waits for it). The watch
    // needs none for a child of ours (waitid reaps it).
    let watched = Watched {
        pidfd,
        pid,
        start_time: 0,
    };
    let token = match watch(&w, watched) {
        Ok(token) => token,
        Err((errno, watched)) => {
            if let Some(watched) = watched {
                // Not watched, so nobody would reap it: end it here.
                // SAFETY: integer arguments only, a pidfd we own, SIGKILL.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        watched.pidfd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0u32,
                    )
                };
                let _ = reap_child_blocking(watched.pidfd.as_raw_fd());
            }
            return Err(errno_error(errno, &format!("watching init {pid}")));
        }
    };
    Ok(SpawnedInit {
        pid,
        sync_fd: ours.into_raw_fd(),
        token,
        in_cgroup,
    })
}

/// waitid(P_PIDFD, WEXITED) without WNOHANG.
fn reap_child_blocking(pidfd: RawFd) -> std::result::Result<(), i32> {
    let id = libc::id_t::try_from(pidfd).map_err(|_| libc::EBADF)?;
    loop {
        // SAFETY: siginfo_t is plain data; all-zero is valid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a writable siginfo_t; `id` is a pidfd we own.
        let rc = unsafe { libc::waitid(libc::P_PIDFD, id, &mut info, libc::WEXITED) };
        if rc == 0 {
            return Ok(());
        }
        let errno = last_errno();
        if errno != libc::EINTR {
            return Err(errno);
        }
    }
}

// ------------------------------------------------------- cgroup OOM watching
//
// No polling: the kernel says when a memory cgroup hits OOM.
// - cgroup v1: an eventfd registered for `memory.oom_control` through
//   `cgroup.event_control` ("<eventfd> <fd of memory.oom_control>"). The
//   kernel signals it when the cgroup enters OOM (before the kill), and once
//   more when the cgroup is removed; reading the file then fails, which is
//   how removal is told apart.
// - cgroup v2: inotify IN_MODIFY on `memory.events` (the kernel notifies on
//   every counter change, `oom_kill` included) and IN_DELETE_SELF on the
//   cgroup directory (rmdir). memory.events is opened by path at each
//   wakeup, never kept open: an open file inside the directory would pin its
//   dentry and hold IN_DELETE_SELF back until it is closed.
// Each wakeup reports the notifications drained and the `oom_kill` counter
// read then; the TypeScript side turns them into events.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileExt;

/// What a cgroup OOM watch saw at one wakeup.
#[napi(object)]
pub struct OomEvent {
    pub token: u32,
    /// v1: OOM notifications since the last report (eventfd count); v2:
    /// changes of memory.events.
    pub notifications: u32,
    /// The `oom_kill` counter now (v1 memory.oom_control, v2 memory.events);
    /// null when the kernel has none (v1 before Linux 4.13) or the cgroup is gone.
    pub oom_kill: Option<u32>,
    /// The cgroup was removed: no event follows.
    pub gone: bool,
}

type OomSink = ThreadsafeFunction<OomEvent, (), OomEvent, Status, false, true>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum OomKind {
    V1,
    V2,
}

enum Counter {
    /// v1: memory.oom_control, kept open (the eventfd is registered for it).
    Open(File),
    /// v2: memory.events, opened at each read.
    Path(String),
}

struct OomWatched {
    kind: OomKind,
    /// v1: the eventfd; v2: the inotify fd. Non-blocking.
    notify: File,
    counter: Counter,
    /// v2: the inotify watch descriptor of the cgroup directory.
    dir_wd: i32,
}

fn io_errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// `oom_kill N` from the text of memory.oom_control or memory.events.
fn parse_oom_kill(text: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut it = line.split_ascii_whitespace();
        match (it.next(), it.next()) {
            (Some("oom_kill"), Some(n)) => n
                .parse::<u64>()
                .ok()
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            _ => None,
        }
    })
}

/// The counter file's text, or None when the cgroup is gone (ENODEV/ENOENT).
fn read_counter(counter: &Counter) -> Option<String> {
    let mut buf = [0u8; 4096];
    let n = match counter {
        Counter::Open(f) => f.read_at(&mut buf, 0).ok()?,
        Counter::Path(path) => File::open(path).ok()?.read_at(&mut buf, 0).ok()?,
    };
    Some(String::from_utf8_lossy(buf.get(..n)?).into_owned())
}

/// Drains the notification fd: (notifications, the cgroup directory went away).
fn drain_notifications(o: &mut OomWatched) -> (u32, bool) {
    match o.kind {
        OomKind::V1 => {
            let mut count = [0u8; 8];
            match o.notify.read(&mut count) {
                Ok(8) => (
                    u32::try_from(u64::from_ne_bytes(count)).unwrap_or(u32::MAX),
                    false,
                ),
                _ => (0, false),
            }
        }
        OomKind::V2 => {
            let mut notifications = 0u32;
            let mut gone = false;
            // struct inotify_event: wd, mask, cookie, len, then `len` name bytes.
            let mut buf = [0u8; 4096];
            loop {
                let n = match o.notify.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => break, // EAGAIN: drained
                };
                let mut off = 0usize;
                while let Some(head) = buf.get(off..off + 16).filter(|_| off + 16 <= n) {
                    let field = |i: usize| {
                        let mut b = [0u8; 4];
                        b.copy_from_slice(head.get(i * 4..i * 4 + 4).unwrap_or(&[0; 4]));
                        b
                    };
                    let wd = i32::from_ne_bytes(field(0));
                    let mask = u32::from_ne_bytes(field(1));
                    let len = u32::from_ne_bytes(field(3)) as usize;
                    if mask & libc::IN_MODIFY != 0 {
                        notifications = notifications.saturating_add(1);
                    }
                    if wd == o.dir_wd && mask & (libc::IN_DELETE_SELF | libc::IN_IGNORED) != 0 {
                        gone = true;
                    }
                    off += 16 + len;
                }
            }
            (notifications, gone)
        }
    }
}

fn on_oom_ready(w: &ExitWatcher, token: u32) {
    let event = {
        let mut ooms = locked(&w.ooms);
        let Some(o) = ooms.get_mut(&token) else {
            return;
        };
        let (notifications, dir_gone) = drain_notifications(o);
        let text = if dir_gone {
            None
        } else {
            read_counter(&o.counter)
        };
        let gone = text.is_none();
        let event = OomEvent {
            token,
            notifications,
            oom_kill: text.as_deref().and_then(parse_oom_kill),
            gone,
        };
        if gone {
            if let Some(o) = ooms.remove(&token) {
                epoll_forget(w.epoll.as_raw_fd(), o.notify.as_raw_fd(), token);
            }
        }
        event
    };
    let sink = locked(&w.oom_sink).clone();
    if let Some(sink) = sink {
        sink.call(event, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

fn fresh_fd(fd: i32, what: &str) -> Result<File> {
    if fd < 0 {
        return Err(errno_error(last_errno(), what));
    }
    // SAFETY: a non-negative return of eventfd/inotify_init1 is a new fd
    // that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

fn open_cgroup_file(dir: &str, name: &str, write: bool) -> Result<File> {
    let path = format!("{dir}/{name}");
    std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .open(&path)
        .map_err(|e| errno_error(io_errno(&e), &format!("opening {path}")))
}

fn c_path(path: &str) -> Result<std::ffi::CString> {
    std::ffi::CString::new(path).map_err(|_| einval(format!("path {path:?} contains a NUL byte")))
}

fn add_inotify_watch(ifd: &File, path: &str, mask: u32) -> Result<i32> {
    let c = c_path(path)?;
    // SAFETY: `c` is a NUL-terminated path alive for the call; `ifd` is an
    // open inotify fd.
    let wd = unsafe { libc::inotify_add_watch(ifd.as_raw_fd(), c.as_ptr(), mask) };
    if wd < 0 {
        return Err(errno_error(
            last_errno(),
            &format!("inotify watch on {path}"),
        ));
    }
    Ok(wd)
}

fn oom_watch_open(kind: OomKind, dir: &str) -> Result<OomWatched> {
    match kind {
        OomKind::V1 => {
            let counter = open_cgroup_file(dir, "memory.oom_control", false)?;
            // SAFETY: plain integer arguments; the result is checked by fresh_fd.
            let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            let notify = fresh_fd(efd, "eventfd")?;
            let mut control = open_cgroup_file(dir, "cgroup.event_control", true)?;
            control
                .write_all(format!("{} {}", notify.as_raw_fd(), counter.as_raw_fd()).as_bytes())
                .map_err(|e| {
                    errno_error(
                        io_errno(&e),
                        &format!("registering for OOM notifications in {dir}"),
                    )
                })?;
            Ok(OomWatched {
                kind,
                notify,
                counter: Counter::Open(counter),
                dir_wd: -1,
            })
        }
        OomKind::V2 => {
            // Checked (and reported as ENOENT) now; read by path later.
            drop(open_cgroup_file(dir, "memory.events", false)?);
            // SAFETY: plain integer flags; the result is checked by fresh_fd.
            let ifd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
            let notify = fresh_fd(ifd, "inotify_init1")?;
            let path = format!("{dir}/memory.events");
            add_inotify_watch(&notify, &path, libc::IN_MODIFY)?;
            let dir_wd = add_inotify_watch(&notify, dir, libc::IN_DELETE_SELF | libc::IN_ONLYDIR)?;
            Ok(OomWatched {
                kind,
                notify,
                counter: Counter::Path(path),
                dir_wd,
            })
        }
    }
}

/// Sets the function that receives every `OomEvent` (replacing an earlier
/// one). Like exit events, it does not keep the event loop alive.
#[napi(ts_args_type = "callback: (event: OomEvent) => void")]
pub fn oom_watch_init(callback: OomSink) -> Result<()> {
    let w = exit_watcher()?;
    *locked(&w.oom_sink) = Some(Arc::new(callback));
    Ok(())
}

/// The token of a new OOM watch and the `oom_kill` counter when it started.
#[napi(object)]
pub struct OomWatchStart {
    pub token: u32,
    pub oom_kill: Option<u32>,
}

/// Watches the memory cgroup at `dir` for OOM: `kind` is "v1" (the memory
/// controller's directory) or "v2" (the unified directory). `ENOENT` if the
/// cgroup (or its memory files) do not exist.
#[napi]
pub fn oom_watch_add(kind: String, dir: String) -> Result<OomWatchStart> {
    let kind = match kind.as_str() {
        "v1" => OomKind::V1,
        "v2" => OomKind::V2,
        other => {
            return Err(einval(format!(
                "cgroup kind {other:?}: expected \"v1\" or \"v2\""
            )))
        }
    };
    let w = exit_watcher()?;
    let watched = oom_watch_open(kind, &dir)?;
    let oom_kill = read_counter(&watched.counter)
        .as_deref()
        .and_then(parse_oom_kill);
    let raw = watched.notify.as_raw_fd();
    let token = next_token(&w);
    // In the map before epoll can report it; level-triggered: every wakeup drains.
    locked(&w.ooms).insert(token, watched);
    if let Err(errno) = epoll_ctl_events(
        w.epoll.as_raw_fd(),
        libc::EPOLL_CTL_ADD,
        raw,
        token,
        libc::EPOLLIN as u32,
    ) {
        locked(&w.ooms).remove(&token);
        return Err(errno_error(errno, &format!("watching {dir} for OOM")));
    }
    Ok(OomWatchStart { token, oom_kill })
}

/// Stops an OOM watch (closing its fds unregisters it in the kernel too).
/// False if it already ended (its cgroup was removed) or never existed.
#[napi]
pub fn oom_watch_cancel(token: u32) -> Result<bool> {
    let w = exit_watcher()?;
    let Some(o) = locked(&w.ooms).remove(&token) else {
        return Ok(false);
    };
    epoll_forget(w.epoll.as_raw_fd(), o.notify.as_raw_fd(), token);
    Ok(true)
}

// ---------------------------------------------------------------------- pipes

/// A pipe as `[readFd, writeFd]`, both CLOEXEC (a container gets its end
/// through an explicit stdio entry, never by inheritance). Close each with
/// `closeFd` or hand it to a stream that owns it.
#[napi]
pub fn make_pipe() -> Result<Vec<i32>> {
    let mut fds = [-1i32; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe2 requires.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(errno_error(last_errno(), "pipe2"));
    }
    Ok(fds.to_vec())
}

// ----------------------------------------------------------------- terminals

/// TIOCSWINSZ on a terminal fd (a pty master received over a console
/// socket): sets its size in character cells; the kernel sends SIGWINCH to
/// the foreground process group of the pty if the size changed. `ENOTTY` if
/// `fd` is not a terminal, `EBADF` if it is not open.
#[napi]
pub fn set_window_size(fd: i32, columns: u32, rows: u32) -> Result<()> {
    if fd < 0 {
        return Err(einval(format!("{fd} is not a file descriptor")));
    }
    let cols =
        u16::try_from(columns).map_err(|_| einval(format!("{columns} columns: at most 65535")))?;
    let rows16 = u16::try_from(rows).map_err(|_| einval(format!("{rows} rows: at most 65535")))?;
    let ws = libc::winsize {
        ws_row: rows16,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads exactly one `struct winsize` through the
    // pointer, which `ws` is, alive for the whole call; the fd belongs to the
    // JS caller (it keeps it open until the call returns), and a closed or
    // non-tty fd only makes the ioctl fail with EBADF/ENOTTY.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
    if rc != 0 {
        return Err(errno_error(
            last_errno(),
            &format!("setting the size of terminal fd {fd} to {columns}x{rows}"),
        ));
    }
    Ok(())
}

/// A terminal's size in character cells.
#[napi(object)]
pub struct WindowSize {
    pub columns: u32,
    pub rows: u32,
}

/// TIOCGWINSZ on a terminal fd. `ENOTTY` if `fd` is not a terminal.
#[napi]
pub fn get_window_size(fd: i32) -> Result<WindowSize> {
    if fd < 0 {
        return Err(einval(format!("{fd} is not a file descriptor")));
    }
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes exactly one `struct winsize` through the
    // pointer, which `ws` is (writable, alive for the call); the fd is the
    // caller's and open for the call, a bad one fails with EBADF/ENOTTY.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    if rc != 0 {
        return Err(errno_error(
            last_errno(),
            &format!("reading the size of terminal fd {fd}"),
        ));
    }
    Ok(WindowSize {
        columns: u32::from(ws.ws_col),
        rows: u32::from(ws.ws_row),
    })
}
