//! A verified procfs handle (CVE-2025-52881): writes to /proc/sys/* and
//! /proc/self/* must reach the real procfs of the caller, never a file some
//! mount redirected them to.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags, StatxFlags};
use rustix::io::Errno;
use rustix::mount::{self as rmount, FsMountFlags, FsOpenFlags, MountAttrFlags};

use crate::error::MountError;
use crate::safe_open::openat2_retry;

pub(crate) const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const PROC_ROOT_INO: u64 = 1;

/// statfs f_type widened to i64: its C type differs between architectures.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn fs_magic(f_type: rustix::fs::FsWord) -> i64 {
    f_type as i64
}

/// A directory fd of a procfs root, either a private detached instance or
/// the /proc of the mount namespace checked to be a real, whole procfs.
pub struct ProcfsHandle {
    fd: OwnedFd,
    what: String,
}

fn check_procfs(fd: &OwnedFd, what: &str) -> Result<(), MountError> {
    let st = rfs::fstatfs(fd).map_err(|e| MountError::sys(what, "fstatfs", e))?;
    if fs_magic(st.f_type) != PROC_SUPER_MAGIC {
        return Err(MountError::unsafe_(
            what,
            format!("not procfs (f_type {:#x})", fs_magic(st.f_type)),
            Errno::XDEV,
        ));
    }
    Ok(())
}

impl ProcfsHandle {
    /// A fresh procfs instance (fsopen/fsmount) that is attached nowhere:
    /// nothing can be mounted over any file in it. Belongs to the caller's
    /// pid namespace.
    pub fn fresh() -> Result<ProcfsHandle, MountError> {
        let what = "fresh procfs instance";
        let ctx = rmount::fsopen("proc", FsOpenFlags::FSOPEN_CLOEXEC)
            .map_err(|e| MountError::sys(what, "fsopen", e))?;
        rmount::fsconfig_create(&ctx)
            .map_err(|e| MountError::sys(what, "fsconfig(FSCONFIG_CMD_CREATE)", e))?;
        let fd = rmount::fsmount(
            &ctx,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::MOUNT_ATTR_NOSUID
                | MountAttrFlags::MOUNT_ATTR_NODEV
                | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        )
        .map_err(|e| MountError::sys(what, "fsmount", e))?;
        check_procfs(&fd, what)?;
        Ok(ProcfsHandle {
            fd,
            what: "/proc (fresh instance)".to_string(),
        })
    }

    /// The procfs mounted at `path` in the caller's mount namespace; refused
    /// unless `path` is (not through a symlink) the root of a procfs mount.
    pub fn mounted(path: &str) -> Result<ProcfsHandle, MountError> {
        let fd = rfs::openat(
            rfs::CWD,
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| MountError::sys(path, "open", e))?;
        check_procfs(&fd, path)?;
        let stx = rfs::statx(&fd, "", AtFlags::EMPTY_PATH, StatxFlags::INO)
            .map_err(|e| MountError::sys(path, "statx", e))?;
        let mount_root = stx
            .stx_attributes_mask
            .contains(rfs::StatxAttributes::MOUNT_ROOT)
            && stx
                .stx_attributes
                .contains(rfs::StatxAttributes::MOUNT_ROOT);
        if stx.stx_ino != PROC_ROOT_INO || !mount_root {
            return Err(MountError::unsafe_(
                path,
                "not the root of a procfs mount (a bind of a procfs subdirectory?)",
                Errno::XDEV,
            ));
        }
        Ok(ProcfsHandle {
            fd,
            what: path.to_string(),
        })
    }

    /// [`ProcfsHandle::fresh`], or the mounted /proc when the kernel does not
    /// allow a new instance here (a user namespace that does not own the pid
    /// namespace, a kernel without fsopen).
    pub fn new() -> Result<ProcfsHandle, MountError> {
        match ProcfsHandle::fresh() {
            Ok(h) => Ok(h),
            Err(fresh_err) => ProcfsHandle::mounted("/proc").map_err(|e| {
                e.context(&format!(
                    "no fresh procfs ({fresh_err}), and the mounted one failed"
                ))
            }),
        }
    }

    fn check_relative(relative: &str) -> Result<(), MountError> {
        if relative.is_empty()
            || relative.starts_with('/')
            || relative.contains('\0')
            || relative.split('/').any(|c| c == "..")
        {
            return Err(MountError::invalid(
                "procfs path",
                format!("{relative:?} must be a relative path below /proc without \"..\""),
            ));
        }
        Ok(())
    }

    /// Opens `relative` below this procfs; refuses to cross any mount point
    /// (something mounted over the file or a directory on its way) and magic
    /// links.
    pub fn open(&self, relative: &str, flags: OFlags) -> Result<OwnedFd, MountError> {
        ProcfsHandle::check_relative(relative)?;
        let shown = format!("{}/{}", self.what, relative);
        let fd = openat2_retry(
            self.fd.as_fd(),
            relative,
            flags | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_XDEV | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| match e {
            Errno::XDEV => MountError::unsafe_(
                &shown,
                "a mount point lies on the path (something is mounted over procfs)",
                Errno::XDEV,
            ),
            e => MountError::sys(&shown, "openat2 (RESOLVE_BENEATH|RESOLVE_NO_XDEV)", e),
        })?;
        check_procfs(&fd, &shown)?;
        Ok(fd)
    }

    /// Writes `data` to `relative` in a single write(2), as sysctl and
    /// oom_score_adj files require.
    pub fn write(&self, relative: &str, data: &[u8]) -> Result<(), MountError> {
        let fd = self.open(relative, OFlags::WRONLY)?;
        let shown = format!("{}/{}", self.what, relative);
        let n = rustix::io::write(&fd, data).map_err(|e| MountError::sys(&shown, "write", e))?;
        if n != data.len() {
            return Err(MountError::Sys {
                what: shown,
                op: "write",
                errno: Errno::IO,
                detail: Some(format!("short write: {n} of {} bytes", data.len())),
            });
        }
        Ok(())
    }

    pub fn read_to_string(&self, relative: &str) -> Result<String, MountError> {
        let fd = self.open(relative, OFlags::RDONLY)?;
        let shown = format!("{}/{}", self.what, relative);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16384];
        loop {
            match rustix::io::read(&fd, &mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(Errno::INTR) => {}
                Err(e) => return Err(MountError::sys(&shown, "read", e)),
            }
        }
        String::from_utf8(out)
            .map_err(|_| MountError::sys(&shown, "read (not UTF-8)", Errno::ILSEQ))
    }
}

pub(crate) fn write_procfs(relative: &str, data: &[u8]) -> Result<(), MountError> {
    ProcfsHandle::check_relative(relative)?;
    ProcfsHandle::new()?.write(relative, data)
}
