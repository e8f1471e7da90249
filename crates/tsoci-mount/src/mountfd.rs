//! Thin wrappers over the fd-based mount API (open_tree, fsopen, fsconfig,
//! fsmount, move_mount, mount_setattr): mounts are created detached, shaped
//! while nobody can see them, and attached onto a verified target fd.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::mount::{
    self as rmount, FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags,
};

use crate::error::MountError;
use crate::plan::*;

/// struct mount_attr (include/uapi/linux/mount.h), MOUNT_ATTR_SIZE_VER0.
#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const AT_EMPTY_PATH: libc::c_uint = libc::AT_EMPTY_PATH as libc::c_uint;
const AT_RECURSIVE: libc::c_uint = libc::AT_RECURSIVE as libc::c_uint;

/// mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], attr): changes the
/// mount `fd` refers to (the fd must be a mount's root).
fn mount_setattr_fd(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> Result<(), Errno> {
    let flags = AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the path is a valid NUL-terminated empty string, `attr` points
    // to a live, correctly laid out struct mount_attr whose size is passed,
    // and `fd` is a borrowed open fd for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        ))
    }
}

/// MS_* per-mount flags as MOUNT_ATTR_* bits (atime excluded, see
/// [`atime_attr`]).
pub(crate) fn ms_to_attr(ms: u64) -> u64 {
    let mut a = 0;
    for (m, at) in [
        (MS_RDONLY, MOUNT_ATTR_RDONLY),
        (MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MS_NODEV, MOUNT_ATTR_NODEV),
        (MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        (MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if ms & m != 0 {
            a |= at;
        }
    }
    a
}

/// The atime mode the MS_* flags ask for, if any (MOUNT_ATTR_RELATIME is 0).
fn atime_attr(ms: u64) -> Option<u64> {
    if ms & MS_NOATIME != 0 {
        Some(MOUNT_ATTR_NOATIME)
    } else if ms & MS_STRICTATIME != 0 {
        Some(MOUNT_ATTR_STRICTATIME)
    } else if ms & MS_RELATIME != 0 {
        Some(0)
    } else {
        None
    }
}

/// The (set, clear) pair that changes a mount the way a bind remount with
/// `flags` / explicitly cleared `clear` would, leaving every flag neither
/// names as it is on the source (which is how locked flags survive).
pub(crate) fn bind_attr_change(flags: u64, clear: u64) -> (u64, u64) {
    let mut set = ms_to_attr(flags);
    let mut clr = ms_to_attr(clear);
    if let Some(mode) = atime_attr(flags) {
        set |= mode;
        clr |= MOUNT_ATTR_ATIME_MASK;
    } else if clear & (MS_NOATIME | MS_STRICTATIME) != 0 {
        // "atime" / "nostrictatime" alone: back to the default, relatime.
        clr |= MOUNT_ATTR_ATIME_MASK;
    }
    (set, clr)
}

/// Applies a (set, clear) MOUNT_ATTR_* change to the mount `fd` (a detached
/// tree or an attached mount root).
pub(crate) fn set_attrs(
    fd: BorrowedFd<'_>,
    recursive: bool,
    set: u64,
    clr: u64,
) -> Result<(), Errno> {
    if set == 0 && clr == 0 {
        return Ok(());
    }
    let mut clr = clr;
    if set & MOUNT_ATTR_ATIME_MASK != 0 || clr & MOUNT_ATTR_ATIME_MASK != 0 {
        // The kernel changes the atime mode only when the whole field is
        // in attr_clr.
        clr |= MOUNT_ATTR_ATIME_MASK;
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        ..Default::default()
    };
    mount_setattr_fd(fd, recursive, &attr)
}

/// MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (|MS_REC) on the mount `fd`.
pub(crate) fn set_propagation(fd: BorrowedFd<'_>, value: u64) -> Result<(), Errno> {
    let attr = MountAttr {
        propagation: value & !MS_REC,
        ..Default::default()
    };
    mount_setattr_fd(fd, value & MS_REC != 0, &attr)
}

/// open_tree(OPEN_TREE_CLONE) of the object `fd` refers to: a detached copy
/// of its mount (and, with `recursive`, of every mount below it).
pub(crate) fn clone_tree(fd: BorrowedFd<'_>, recursive: bool) -> Result<OwnedFd, Errno> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_EMPTY_PATH;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    rmount::open_tree(fd, "", flags)
}

/// move_mount of the detached mount `mnt` onto the object `target` refers to.
pub(crate) fn attach(mnt: BorrowedFd<'_>, target: BorrowedFd<'_>) -> Result<(), Errno> {
    rmount::move_mount(
        mnt,
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

/// A filesystem being configured (fsopen); errors carry the messages the
/// filesystem wrote to the context's log.
pub(crate) struct FsContext {
    fd: OwnedFd,
    what: String,
}

impl FsContext {
    pub(crate) fn open(fs_type: &str, what: &str) -> Result<FsContext, MountError> {
        let fd =
            rmount::fsopen(fs_type, FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| MountError::Sys {
                what: what.to_string(),
                op: "fsopen",
                errno: e,
                detail: (e == Errno::NODEV)
                    .then(|| format!("filesystem type {fs_type:?} is not known to the kernel")),
            })?;
        Ok(FsContext {
            fd,
            what: what.to_string(),
        })
    }

    fn err(&self, op: &'static str, errno: Errno) -> MountError {
        MountError::Sys {
            what: self.what.clone(),
            op,
            errno,
            detail: read_fc_log(self.fd.as_fd()),
        }
    }

    pub(crate) fn set_flag(&self, key: &str) -> Result<(), MountError> {
        rmount::fsconfig_set_flag(&self.fd, key).map_err(|e| {
            let mut err = self.err("fsconfig", e);
            add_detail(&mut err, &format!("option {key:?}"));
            err
        })
    }

    pub(crate) fn set_string(&self, key: &str, value: &str) -> Result<(), MountError> {
        rmount::fsconfig_set_string(&self.fd, key, value).map_err(|e| {
            let mut err = self.err("fsconfig", e);
            add_detail(&mut err, &format!("option {key:?}={value:?}"));
            err
        })
    }

    /// Applies a mount(2)-style data string: "k=v" pairs and bare flags.
    pub(crate) fn set_data(&self, data: &str) -> Result<(), MountError> {
        for opt in data.split(',').filter(|o| !o.is_empty()) {
            match opt.split_once('=') {
                Some((k, v)) => self.set_string(k, v)?,
                None => self.set_flag(opt)?,
            }
        }
        Ok(())
    }

    /// Superblock flags of MS_* (the per-mount ones go to fsmount).
    pub(crate) fn set_sb_flags(&self, ms: u64) -> Result<(), MountError> {
        for (m, key) in [
            (MS_RDONLY, "ro"),
            (MS_SYNCHRONOUS, "sync"),
            (MS_DIRSYNC, "dirsync"),
            (MS_LAZYTIME, "lazytime"),
            (MS_MANDLOCK, "mand"),
        ] {
            if ms & m != 0 {
                self.set_flag(key)?;
            }
        }
        Ok(())
    }

    /// Creates the superblock and returns a detached mount of it with the
    /// per-mount MS_* flags applied.
    pub(crate) fn mount(self, ms: u64) -> Result<OwnedFd, MountError> {
        rmount::fsconfig_create(&self.fd)
            .map_err(|e| self.err("fsconfig(FSCONFIG_CMD_CREATE)", e))?;
        let mut attrs = ms_to_attr(ms);
        if let Some(mode) = atime_attr(ms) {
            attrs |= mode;
        }
        // Every MOUNT_ATTR_* bit ms_to_attr/atime_attr produce is below 2^32.
        let attrs = u32::try_from(attrs).map_err(|_| self.err("fsmount", Errno::INVAL))?;
        rmount::fsmount(
            &self.fd,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::from_bits_retain(attrs),
        )
        .map_err(|e| self.err("fsmount", e))
    }
}

fn add_detail(err: &mut MountError, extra: &str) {
    if let MountError::Sys { detail, .. } = err {
        *detail = Some(match detail.take() {
            Some(d) => format!("{extra}: {d}"),
            None => extra.to_string(),
        });
    }
}

/// Drains the fs_context message log ("e tmpfs: Bad value for 'size'").
fn read_fc_log(fd: BorrowedFd<'_>) -> Option<String> {
    let mut msgs = Vec::new();
    let mut buf = [0u8; 1024];
    for _ in 0..16 {
        match rustix::io::read(fd, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let s = String::from_utf8_lossy(&buf[..n]).trim_end().to_string();
                // Drop the severity letter ("e ", "w ", "i ").
                let s = match s.get(..2) {
                    Some("e ") | Some("w ") | Some("i ") => s[2..].to_string(),
                    _ => s,
                };
                msgs.push(s);
            }
        }
    }
    if msgs.is_empty() {
        None
    } else {
        Some(msgs.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_attr_change_maps_flags() {
        let (set, clr) = bind_attr_change(MS_RDONLY | MS_NOSUID | MS_NOATIME, 0);
        assert_eq!(
            set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(clr, MOUNT_ATTR_ATIME_MASK);
        let (set, clr) = bind_attr_change(0, MS_RDONLY | MS_NOEXEC);
        assert_eq!(set, 0);
        assert_eq!(clr, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC);
        let (set, clr) = bind_attr_change(MS_NODEV, MS_NOATIME);
        assert_eq!(set, MOUNT_ATTR_NODEV);
        assert_eq!(clr, MOUNT_ATTR_ATIME_MASK);
        let (set, clr) = bind_attr_change(MS_RELATIME, 0);
        assert_eq!(set, 0);
        assert_eq!(clr, MOUNT_ATTR_ATIME_MASK);
    }
}
