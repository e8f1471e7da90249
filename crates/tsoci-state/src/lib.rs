//! The host side of a tsoci container that is not its init: the state
//! directory under `--root`, the per-container lock, liveness (pid + start
//! time), pidfd signalling, the exec fifo that separates `create` from
//! `start`, waiting for processes, and SCM_RIGHTS fd passing.
//!
//! A plain library: the napi binding (`napi-runtime`) and a future native CLI
//! fast path both link it. Nothing here changes the namespaces or credentials
//! of the calling process, so every function may run inside Node, on the main
//! thread or on a libuv pool thread.
//!
//! # Layout under the root
//!
//! ```text
//! <root>/            0711, created on first use (default /run/tsoci)
//!   <id>/            0700, one per container; flock(LOCK_EX) on it is the container lock
//!     state.json     written atomically (temp file, rename; no fsync, see write_state)
//!     exec.fifo      0622 (mkfifo), removed by `start`
//! ```
//!
//! # What this crate reads from `state.json`
//!
//! The state JSON belongs to the TypeScript runtime and is opaque here, except
//! for two top-level fields that [`store::liveness_from_json`] reads:
//! - `pid`: the container process as seen from the host, a positive integer;
//!   absent, `null` or `0` means "no process" (creating, or stopped);
//! - `startTime`: that process's start time, field 22 of `/proc/<pid>/stat`
//!   (clock ticks since boot), as a non-negative integer or a decimal string.
//!   Required whenever `pid` is set: a pid alone is never trusted (pid reuse).

pub mod errno;
pub mod fifo;
pub mod id;
pub mod process;
pub mod store;
pub mod spawn;
pub mod unix;

use std::path::PathBuf;

pub use errno::errno_name;
pub use fifo::{mkfifo, release_exec_fifo, EXEC_FIFO, EXEC_FIFO_MODE};
pub use id::{validate_id, MAX_ID_LEN};
pub use process::{
    is_alive, open_pidfd, parse_stat, process_start_time, process_stat, set_child_subreaper, signal_process, wait_pid,
    ExitStatus, ProcStat,
};
pub use store::{
    create_container_dir, list_ids, liveness_from_json, lock_container, read_state, remove_container_dir, ContainerDir,
    Liveness, DEFAULT_ROOT, STATE_FILE,
};
pub use spawn::{spawn, FdSource, SpawnRequest, Spawned};
pub use unix::{accept_recv_fd, listen_unix, send_fd, ReceivedFd, MAX_SOCKET_PATH};

pub type Result<T> = std::result::Result<T, StateError>;

/// Every failure of this crate. Messages name the container id, pid or file;
/// [`StateError::errno_name`] gives the errno name for the napi convention.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: String },
    #[error("container {id:?} already exists")]
    AlreadyExists { id: String },
    #[error("container {id:?} does not exist")]
    NotFound { id: String },
    #[error("container {id:?} is locked by another operation (gave up after {waited_ms} ms)")]
    Locked { id: String, waited_ms: u64 },
    /// The state file on disk is unreadable as the state of a container.
    #[error("state file {} of container {id:?} is corrupt: {reason}", path.display())]
    CorruptState { id: String, path: PathBuf, reason: String },
    /// A caller handed in a value this crate refuses (bad JSON, bad pid, …).
    #[error("{what}: {reason}")]
    InvalidArgument { what: String, reason: String },
    #[error("process {pid} does not exist")]
    NoProcess { pid: u32 },
    #[error(
        "process {pid} is not the expected process: its start time is {actual}, not {expected} (the pid was reused)"
    )]
    PidReused { pid: u32, expected: u64, actual: u64 },
    #[error("cannot parse /proc/{pid}/stat: {reason}")]
    ProcStat { pid: u32, reason: String },
    #[error("container process {pid} exited before it opened the exec fifo {}", path.display())]
    ExitedBeforeStart { pid: u32, path: PathBuf },
    #[error("timed out after {ms} ms {what}")]
    Timeout { what: String, ms: u64 },
    /// The peer of a socket broke the expected exchange.
    #[error("{what}")]
    Protocol { what: String },
    /// A system call on a file failed.
    #[error("{op} {}: {errno}", path.display())]
    Io { op: &'static str, path: PathBuf, errno: rustix::io::Errno },
    /// A system call that names no file failed.
    #[error("{op}: {errno}")]
    Sys { op: String, errno: rustix::io::Errno },
}

impl StateError {
    /// The errno name this error maps to (`ENOENT`, `EEXIST`, `ESRCH`, …).
    pub fn errno_name(&self) -> &'static str {
        match self {
            StateError::InvalidId { .. } | StateError::InvalidArgument { .. } => "EINVAL",
            StateError::AlreadyExists { .. } => "EEXIST",
            StateError::NotFound { .. } => "ENOENT",
            StateError::Locked { .. } => "EAGAIN",
            StateError::CorruptState { .. } => "EBADMSG",
            StateError::NoProcess { .. } | StateError::PidReused { .. } | StateError::ExitedBeforeStart { .. } => {
                "ESRCH"
            }
            StateError::ProcStat { .. } => "EIO",
            StateError::Timeout { .. } => "ETIMEDOUT",
            StateError::Protocol { .. } => "EPROTO",
            StateError::Io { errno, .. } | StateError::Sys { errno, .. } => errno_name(errno.raw_os_error()),
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(rustix::io::Errno) -> StateError {
        let path = path.into();
        move |errno| StateError::Io { op, path, errno }
    }

    pub(crate) fn sys(op: impl Into<String>) -> impl FnOnce(rustix::io::Errno) -> StateError {
        let op = op.into();
        move |errno| StateError::Sys { op, errno }
    }
}

/// Converts a std I/O error (from `File` reads and writes) to a rustix errno.
pub(crate) fn errno_of(e: &std::io::Error) -> rustix::io::Errno {
    rustix::io::Errno::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EIO))
}
