//! tsoci-mount: executes a [`RootfsPlan`] inside the container's new mount
//! namespace (PROTOCOL.md "RootfsPlan"). Called by the single-threaded
//! container init: [`prepare_rootfs`] before the `mounted` message,
//! [`enter_rootfs`] and [`finalize_rootfs`] after `continue`.
//!
//! Every object inside the rootfs is reached through [`open_in_root`]
//! (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, O_PATH), checked with
//! fstat and mounted by fd with the new mount API (open_tree / fsopen /
//! fsconfig / fsmount / move_mount / mount_setattr). No target path is ever
//! built by joining strings. Host paths (the rootfs itself, bind sources,
//! host device nodes in `bindDevices` mode) are opened as given: they come
//! from the runtime, not from the image.
//!
//! Notes for the caller:
//! - The functions use the process-wide umask (briefly set to 0) and the
//!   cwd/root, so the caller must be single-threaded.
//! - Anything the init creates inside the rootfs (a missing `process.cwd`)
//!   must be created before [`finalize_rootfs`] when the root is read-only.
//! - [`write_procfs`] uses a fresh, detached procfs instance, so sysctls can
//!   be written after [`finalize_rootfs`] made /proc/sys read-only; where the
//!   kernel refuses a new instance (a user namespace that does not own the
//!   pid namespace) it falls back to the mounted /proc, verified, and then an
//!   overmount on the path is refused with EXDEV.
//! - Bind mounts: per-mount flags (ro, nosuid, nodev, noexec, atime,
//!   nosymfollow) are applied to the top mount of the (r)bind only, like
//!   runc's MS_BIND|MS_REMOUNT; `attrSet`/`attrClr` go to the whole tree.
//!   `data` and superblock flags are ignored for binds.

mod cgroup;
mod error;
mod mountfd;
pub mod mountinfo;
mod overlay;
mod plan;
mod procfs;
mod rootfs;
mod safe_open;

pub use error::{errno_name, MountError};
pub use overlay::{mount_overlay, unmount};
pub use plan::{
    DeviceKind, DeviceNode, MountOp, PropagationKind, RootPropagation, RootfsPlan,
    KNOWN_MOUNT_ATTRS, KNOWN_MS_FLAGS,
};
pub use procfs::ProcfsHandle;

use std::os::fd::{BorrowedFd, OwnedFd};

/// What [`open_in_root`] returns: the access mode of the fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// O_PATH: for mounting onto, fstat, *at calls. The default.
    Path,
    ReadOnly,
    WriteOnly,
    ReadWrite,
}

/// What [`open_in_root`] creates when the final component is missing.
/// Creating anything also creates missing parent directories (0o755).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    /// Nothing: a missing path is ENOENT.
    No,
    /// A directory; an existing non-directory is ENOTDIR.
    Directory,
    /// An empty regular file; an existing directory is EISDIR (any other
    /// existing non-directory, e.g. a device node, is accepted).
    File,
}

/// Options of [`open_in_root`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenInRoot {
    pub access: Access,
    pub create: Create,
    /// Permission bits of a created final component (umask does not apply).
    pub mode: u32,
}

impl Default for OpenInRoot {
    fn default() -> Self {
        OpenInRoot::path()
    }
}

impl OpenInRoot {
    /// O_PATH, nothing created.
    pub const fn path() -> Self {
        OpenInRoot {
            access: Access::Path,
            create: Create::No,
            mode: 0,
        }
    }
    /// O_PATH to a directory, created with its parents when missing (0o755).
    pub const fn mkdir_all() -> Self {
        OpenInRoot {
            access: Access::Path,
            create: Create::Directory,
            mode: 0o755,
        }
    }
    /// O_PATH to a non-directory, an empty file (0o644) created when missing.
    pub const fn file() -> Self {
        OpenInRoot {
            access: Access::Path,
            create: Create::File,
            mode: 0o644,
        }
    }
    pub const fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }
    pub const fn with_mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }
}

/// Before pivot_root: make "/" `plan.propagation` recursively (default
/// rslave), bind-mount plan.root onto itself (rbind, so it is a mount
/// point), perform plan.mounts in order, create devices (mknod, or bind the
/// host node when plan.bind_devices), /dev symlinks.
pub fn prepare_rootfs(plan: &RootfsPlan) -> Result<(), MountError> {
    rootfs::prepare(plan)
}

/// pivot_root into plan.root (pivot_root(".", ".") + umount2(".",
/// MNT_DETACH), the old root made rslave first so the detach does not
/// propagate to the host) or, with plan.no_pivot, MS_MOVE + chroot; then
/// chdir("/").
pub fn enter_rootfs(plan: &RootfsPlan) -> Result<(), MountError> {
    rootfs::enter(plan)
}

/// After entering: masked paths (a file gets /dev/null bind-mounted over it,
/// a directory gets a read-only tmpfs), readonly paths (bind + read-only,
/// the other mount flags preserved), then the root read-only if
/// plan.readonly.
pub fn finalize_rootfs(plan: &RootfsPlan) -> Result<(), MountError> {
    rootfs::finalize(plan)
}

/// The safe-open primitive every rootfs operation uses: opens `path`
/// (absolute inside the container) beneath the directory fd `root` with
/// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), creating missing parent
/// directories (mkdirat beneath the root, never following symlinks out) and
/// the final file or directory when asked.
pub fn open_in_root(
    root: BorrowedFd<'_>,
    path: &str,
    opts: OpenInRoot,
) -> Result<OwnedFd, MountError> {
    safe_open::open_in_root(root, path, opts)
}

/// Bind-mounts the object an fd refers to onto `destination` inside the
/// rootfs `root` (resolved with [`open_in_root`]; an empty file or a
/// directory is created as the mount point to match the source). For objects
/// the init holds by fd rather than by path, e.g. the console: open the pty
/// slave with TIOCGPTPEER and bind it onto "/dev/console", so no path can be
/// swapped in between (CVE-2025-52565).
pub fn bind_fd(
    root: BorrowedFd<'_>,
    source: BorrowedFd<'_>,
    destination: &str,
) -> Result<(), MountError> {
    rootfs::bind_fd(root, source, destination)
}

/// A verified procfs handle for writes like /proc/sys/* and
/// /proc/self/oom_score_adj: `relative` is a path below /proc
/// ("sys/net/ipv4/ip_forward", "self/oom_score_adj"). Refuses a /proc that
/// is not procfs (fstatfs PROC_SUPER_MAGIC) or has something mounted over the
/// target (RESOLVE_NO_XDEV).
pub fn write_procfs(relative: &str, data: &[u8]) -> Result<(), MountError> {
    procfs::write_procfs(relative, data)
}
