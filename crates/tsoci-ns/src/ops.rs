//! Opening, verifying, joining and creating namespaces. These change the
//! calling thread's namespaces: for the single-threaded `tsoci-init` only.

use crate::{namespace_of, NamespaceKind, NsError};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use tsoci_process::Errno;

/// `NS_GET_NSTYPE` (`_IO(0xb7, 0x3)`): the CLONE_NEW* kind of an nsfs fd.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// An open namespace handle, verified to be of `kind`.
#[derive(Debug)]
pub struct NsFd {
    pub kind: NamespaceKind,
    pub path: String,
    pub fd: OwnedFd,
}

fn open_raw(path: &str) -> Result<OwnedFd, NsError> {
    let c = CString::new(path)
        .map_err(|_| NsError::Invalid(format!("path {path:?} contains a NUL byte")))?;
    // SAFETY: `c` is a live NUL-terminated path; on success the returned fd is
    // new and owned by nothing else, so wrapping it in OwnedFd is sound.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(NsError::Sys {
            what: format!("opening namespace {path:?}"),
            errno: Errno::last(),
        });
    }
    // SAFETY: see above; `fd` was just returned by open and is owned here only.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn nstype_raw(fd: &OwnedFd) -> Result<libc::c_int, Errno> {
    // SAFETY: NS_GET_NSTYPE takes no argument pointer; `fd` is a live fd.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// The namespace kind behind an fd, or `None` when it is not an nsfs handle.
pub fn kind_of_fd(fd: &OwnedFd) -> Option<NamespaceKind> {
    let t = nstype_raw(fd).ok()? as u64;
    NamespaceKind::ALL.into_iter().find(|k| k.clone_flag() == t)
}

/// Opens `path` (`/proc/<pid>/ns/net`, a bind-mounted `/run/netns/x`, …) and
/// checks it is a namespace of `kind`, so a wrong or swapped path fails here
/// instead of joining something else.
pub fn open_ns(path: &str, kind: NamespaceKind) -> Result<NsFd, NsError> {
    if !path.starts_with('/') {
        return Err(NsError::Invalid(format!(
            "{} namespace path {path:?} is not absolute",
            kind.oci_name()
        )));
    }
    let fd = open_raw(path)?;
    match kind_of_fd(&fd) {
        Some(k) if k == kind => Ok(NsFd {
            kind,
            path: path.to_owned(),
            fd,
        }),
        Some(other) => Err(NsError::WrongKind {
            path: path.to_owned(),
            expected: kind.oci_name(),
            found: format!("a {} namespace", other.oci_name()),
        }),
        None => Err(NsError::WrongKind {
            path: path.to_owned(),
            expected: kind.oci_name(),
            found: "not a namespace".into(),
        }),
    }
}

/// `setns(fd, CLONE_NEW<kind>)`. Joining a pid (or time) namespace affects
/// only children created afterwards (time: the caller too, once single-threaded).
pub fn setns(ns: &NsFd) -> Result<(), NsError> {
    // SAFETY: setns takes a live fd and an integer flag; no memory is touched.
    let r = unsafe { libc::setns(ns.fd.as_raw_fd(), ns.kind.clone_flag() as libc::c_int) };
    if r < 0 {
        return Err(NsError::Sys {
            what: format!(
                "joining {} namespace {:?} (setns)",
                ns.kind.oci_name(),
                ns.path
            ),
            errno: Errno::last(),
        });
    }
    Ok(())
}

/// `unshare` of every kind in `kinds` in one call.
pub fn unshare(kinds: &[NamespaceKind]) -> Result<(), NsError> {
    if kinds.is_empty() {
        return Ok(());
    }
    let flags = kinds.iter().fold(0u64, |f, k| f | k.clone_flag());
    // SAFETY: unshare takes an integer flag mask; no memory is touched. The
    // flags are CLONE_NEW* only (never CLONE_FILES/CLONE_VM).
    let r = unsafe { libc::unshare(flags as libc::c_int) };
    if r < 0 {
        let names: Vec<&str> = kinds.iter().map(|k| k.oci_name()).collect();
        return Err(NsError::Sys {
            what: format!("creating namespaces {} (unshare)", names.join(",")),
            errno: Errno::last(),
        });
    }
    Ok(())
}

/// The kinds in which process `pid` differs from the caller, in
/// [`NamespaceKind::ALL`] order; kinds this kernel lacks are skipped.
pub fn differing_kinds(pid: u32) -> Result<Vec<NamespaceKind>, NsError> {
    let mut out = Vec::new();
    for kind in NamespaceKind::ALL {
        let theirs = match namespace_of(Some(pid), kind) {
            Ok(id) => id,
            Err(NsError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                if std::fs::metadata(format!("/proc/{pid}")).is_err() {
                    return Err(NsError::Sys {
                        what: format!("process {pid}"),
                        errno: Errno::ESRCH,
                    });
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        if namespace_of(None, kind)? != theirs {
            out.push(kind);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_verifies_the_kind() {
        let ok = open_ns("/proc/self/ns/uts", NamespaceKind::Uts).unwrap();
        assert_eq!(ok.kind, NamespaceKind::Uts);
        let e = open_ns("/proc/self/ns/uts", NamespaceKind::Network).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/proc/self/ns/uts: is a uts namespace, not a network namespace"
        );
        let e = open_ns("/proc/self/status", NamespaceKind::Ipc).unwrap_err();
        assert!(e.to_string().contains("not a namespace"), "{e}");
        let e = open_ns("/nonexistent/ns", NamespaceKind::Ipc).unwrap_err();
        assert_eq!(e.errno_name(), "ENOENT");
        assert!(e.to_string().contains("\"/nonexistent/ns\""), "{e}");
        assert!(open_ns("proc/self/ns/ipc", NamespaceKind::Ipc)
            .unwrap_err()
            .to_string()
            .contains("not absolute"));
    }

    #[test]
    fn own_namespaces_do_not_differ() {
        assert_eq!(
            differing_kinds(std::process::id()).unwrap(),
            Vec::<NamespaceKind>::new()
        );
        assert_eq!(
            differing_kinds(u32::MAX - 1).unwrap_err().errno_name(),
            "ESRCH"
        );
    }

    #[test]
    fn rejoining_own_uts_namespace_works_and_empty_unshare_is_noop() {
        unshare(&[]).unwrap();
        // setns into one's own namespace is harmless; without CAP_SYS_ADMIN it is EPERM.
        let ns = open_ns("/proc/self/ns/uts", NamespaceKind::Uts).unwrap();
        match setns(&ns) {
            Ok(()) => {}
            Err(e) => assert_eq!(e.errno_name(), "EPERM", "{e}"),
        }
    }
}
