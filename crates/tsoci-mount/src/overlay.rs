//! Overlay mounts of unpacked image layers, made by a multi-threaded program
//! (the napi addon of @ts-oci/runtime) rather than by the container's init.
//!
//! The lower directories are usually given relative to a directory (the
//! store's short `l/…` links, as Docker's overlay2 driver does), so that many
//! layers fit in the one page of options the kernel copies. Relative paths
//! resolve against the calling thread's working directory, which a thread
//! shares with the whole process; so the mount runs on a short-lived thread
//! of its own that first takes a private copy of its filesystem context
//! (`unshare(CLONE_FS)`: not a namespace, and nothing else of the process
//! changes) and changes directory there.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::io::Errno;

use crate::error::MountError;

fn cstring(what: &str, bytes: &[u8]) -> Result<CString, MountError> {
    CString::new(bytes).map_err(|_| MountError::invalid(what, "contains a NUL byte"))
}

fn last_errno() -> Errno {
    Errno::from_raw_os_error(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// Gives the calling thread its own cwd, root and umask.
fn unshare_fs() -> Result<(), Errno> {
    // SAFETY: unshare(CLONE_FS) only copies the calling thread's fs_struct;
    // it touches no memory of ours and is allowed in a multi-threaded process.
    let r = unsafe { libc::unshare(libc::CLONE_FS) };
    if r == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

fn mount_overlay_here(target: &CString, options: &CString) -> Result<(), Errno> {
    // SAFETY: every pointer is a NUL-terminated string that outlives the call;
    // the kernel copies them and keeps no reference.
    let r = unsafe {
        libc::mount(
            c"overlay".as_ptr(),
            target.as_ptr(),
            c"overlay".as_ptr(),
            0,
            options.as_ptr().cast(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// Mounts an overlay with `options` (`lowerdir=…,upperdir=…,workdir=…`) on
/// `target`. Relative paths in `options` (and `target`, if relative) are
/// taken relative to `cwd` when given, else to the process's directory.
pub fn mount_overlay(options: &str, target: &Path, cwd: Option<&Path>) -> Result<(), MountError> {
    let what = format!("overlay on {}", target.display());
    let options = cstring("options", options.as_bytes())?;
    let target_c = cstring("target", target.as_os_str().as_bytes())?;
    let cwd: Option<PathBuf> = cwd.map(Path::to_path_buf);
    let worker = std::thread::Builder::new()
        .name("tsoci-overlay".to_owned())
        .spawn(move || -> Result<(), (&'static str, Errno)> {
            if let Some(dir) = cwd {
                unshare_fs().map_err(|e| ("unshare(CLONE_FS)", e))?;
                rustix::process::chdir(&dir).map_err(|e| ("chdir", e))?;
            }
            mount_overlay_here(&target_c, &options).map_err(|e| ("mount", e))
        })
        .map_err(|e| {
            MountError::sys(
                what.clone(),
                "spawning a thread",
                Errno::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EAGAIN)),
            )
        })?;
    match worker.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err((op, errno))) => Err(MountError::sys(what, op, errno)),
        Err(_) => Err(MountError::sys(what, "mount thread", Errno::IO)),
    }
}

/// Unmounts `target`. `Ok(false)`: nothing was mounted there (or it is gone).
pub fn unmount(target: &Path) -> Result<bool, MountError> {
    let target_c = cstring("target", target.as_os_str().as_bytes())?;
    // SAFETY: a NUL-terminated path that outlives the call.
    let r = unsafe { libc::umount2(target_c.as_ptr(), 0) };
    if r == 0 {
        return Ok(true);
    }
    match last_errno() {
        Errno::INVAL | Errno::NOENT => Ok(false),
        errno => Err(MountError::sys(
            format!("{}", target.display()),
            "umount",
            errno,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    #[test]
    fn mounts_relative_lowers_from_a_directory_and_unmounts() {
        if !is_root() {
            eprintln!("skipped: overlay mounts need root");
            return;
        }
        let base = std::env::temp_dir().join(format!("tsoci-overlay-{}", std::process::id()));
        for d in ["l/a", "l/b", "upper", "work", "merged"] {
            std::fs::create_dir_all(base.join(d)).expect("mkdir");
        }
        std::fs::write(base.join("l/a/low"), "a").expect("write");
        std::fs::write(base.join("l/b/low"), "b").expect("write");
        let cwd_before = std::env::current_dir().expect("cwd");
        let merged = base.join("merged");
        mount_overlay(
            "lowerdir=l/b:l/a,upperdir=upper,workdir=work",
            &merged,
            Some(&base),
        )
        .expect("mount");
        // The upper layer wins, and the process's own directory is untouched.
        assert_eq!(
            std::fs::read_to_string(merged.join("low")).expect("read"),
            "b"
        );
        assert_eq!(std::env::current_dir().expect("cwd"), cwd_before);
        assert!(unmount(&merged).expect("umount"));
        assert!(!merged.join("low").exists());
        assert!(!unmount(&merged).expect("second umount"));
        let err = mount_overlay(
            "lowerdir=l/none,upperdir=upper,workdir=work",
            &merged,
            Some(&base),
        )
        .expect_err("a missing lower fails");
        assert_eq!(err.errno(), Errno::NOENT, "{err}");
        assert!(err.to_string().contains("overlay on"), "{err}");
        std::fs::remove_dir_all(&base).expect("cleanup");
    }
}
