//! Linux namespaces as tsoci sees them: the kinds the OCI runtime spec names,
//! how they map to `/proc/<pid>/ns/*` and clone flags, and the identity
//! (device + inode) of a process's namespace. Two processes share a namespace
//! exactly when both numbers are equal; comparing link text alone is not enough
//! across different nsfs instances.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use tsoci_process::Errno;

mod ops;
mod order;
pub use ops::{differing_kinds, kind_of_fd, open_ns, setns, unshare, NsFd};
pub use order::{join_rank, NsPlan};

/// A namespace kind, named as in the OCI runtime spec (`linux.namespaces[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamespaceKind {
    Cgroup,
    Ipc,
    Mount,
    Network,
    Pid,
    Time,
    User,
    Uts,
}

impl NamespaceKind {
    pub const ALL: [NamespaceKind; 8] = [
        NamespaceKind::Cgroup,
        NamespaceKind::Ipc,
        NamespaceKind::Mount,
        NamespaceKind::Network,
        NamespaceKind::Pid,
        NamespaceKind::Time,
        NamespaceKind::User,
        NamespaceKind::Uts,
    ];

    /// The OCI spelling (`mount`, `network`, …).
    pub fn oci_name(self) -> &'static str {
        match self {
            NamespaceKind::Cgroup => "cgroup",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Mount => "mount",
            NamespaceKind::Network => "network",
            NamespaceKind::Pid => "pid",
            NamespaceKind::Time => "time",
            NamespaceKind::User => "user",
            NamespaceKind::Uts => "uts",
        }
    }

    /// The file name under `/proc/<pid>/ns/` (`mnt`, `net`, …).
    pub fn proc_name(self) -> &'static str {
        match self {
            NamespaceKind::Mount => "mnt",
            NamespaceKind::Network => "net",
            other => other.oci_name(),
        }
    }

    /// The `CLONE_NEW*` flag that creates this kind (values from linux/sched.h).
    pub fn clone_flag(self) -> u64 {
        match self {
            NamespaceKind::Cgroup => 0x0200_0000,
            NamespaceKind::Ipc => 0x0800_0000,
            NamespaceKind::Mount => 0x0002_0000,
            NamespaceKind::Network => 0x4000_0000,
            NamespaceKind::Pid => 0x2000_0000,
            NamespaceKind::Time => 0x0000_0080,
            NamespaceKind::User => 0x1000_0000,
            NamespaceKind::Uts => 0x0400_0000,
        }
    }

    /// Parses the OCI spelling; also accepts the /proc spelling (`mnt`, `net`).
    pub fn parse(name: &str) -> Option<NamespaceKind> {
        NamespaceKind::ALL
            .into_iter()
            .find(|k| k.oci_name() == name || k.proc_name() == name)
    }
}

/// The identity of one namespace: the nsfs device and inode of its handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NamespaceId {
    pub dev: u64,
    pub inode: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum NsError {
    #[error("unknown namespace kind {0:?}")]
    UnknownKind(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The namespace list itself is wrong (duplicate kind, relative path, …).
    #[error("namespaces: {0}")]
    Invalid(String),
    /// A path opened as a namespace of one kind is another kind (or none).
    #[error("{path}: is {found}, not a {expected} namespace")]
    WrongKind {
        path: String,
        expected: &'static str,
        found: String,
    },
    /// A namespace syscall failed; `what` names the call and its object.
    #[error("{what}: {errno}")]
    Sys { what: String, errno: Errno },
}

impl NsError {
    /// The errno name (`ENOENT`, `EACCES`, …) behind a failure, for stable error codes.
    pub fn errno_name(&self) -> &'static str {
        match self {
            NsError::UnknownKind(_) | NsError::Invalid(_) | NsError::WrongKind { .. } => "EINVAL",
            NsError::Io { source, .. } => Errno::from_io(source).name(),
            NsError::Sys { errno, .. } => errno.name(),
        }
    }
}

/// `/proc/<pid>/ns/<kind>`, or `/proc/self/ns/<kind>` when `pid` is `None`.
pub fn ns_path(pid: Option<u32>, kind: NamespaceKind) -> PathBuf {
    let who = pid.map_or_else(|| "self".to_owned(), |p| p.to_string());
    PathBuf::from(format!("/proc/{who}/ns/{}", kind.proc_name()))
}

/// The namespace of `kind` that process `pid` (or this process) is in.
pub fn namespace_of(pid: Option<u32>, kind: NamespaceKind) -> Result<NamespaceId, NsError> {
    let path = ns_path(pid, kind);
    // stat (not lstat) follows the magic link to the nsfs inode itself.
    let meta = fs::metadata(&path).map_err(|source| NsError::Io { path, source })?;
    Ok(NamespaceId {
        dev: meta.dev(),
        inode: meta.ino(),
    })
}

/// Every namespace of `pid` that this kernel exposes, skipping kinds the kernel
/// lacks (for example `time` before Linux 5.6).
pub fn namespaces_of(pid: Option<u32>) -> Result<Vec<(NamespaceKind, NamespaceId)>, NsError> {
    let mut out = Vec::with_capacity(NamespaceKind::ALL.len());
    for kind in NamespaceKind::ALL {
        match namespace_of(pid, kind) {
            Ok(id) => out.push((kind, id)),
            Err(NsError::Io { source, .. })
                if source.kind() == io::ErrorKind::NotFound && pid_exists(pid) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn pid_exists(pid: Option<u32>) -> bool {
    match pid {
        None => true,
        Some(p) => fs::metadata(format!("/proc/{p}")).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in NamespaceKind::ALL {
            assert_eq!(NamespaceKind::parse(kind.oci_name()), Some(kind));
            assert_eq!(NamespaceKind::parse(kind.proc_name()), Some(kind));
        }
        assert_eq!(NamespaceKind::parse("mnt"), Some(NamespaceKind::Mount));
        assert_eq!(NamespaceKind::parse("bogus"), None);
    }

    #[test]
    fn clone_flags_are_distinct_single_bits() {
        let mut seen = 0u64;
        for kind in NamespaceKind::ALL {
            let f = kind.clone_flag();
            assert_eq!(f.count_ones(), 1, "{kind:?}");
            assert_eq!(seen & f, 0, "{kind:?} overlaps");
            seen |= f;
        }
    }

    #[test]
    fn self_and_own_pid_agree() {
        let me = std::process::id();
        for kind in NamespaceKind::ALL {
            let a = namespace_of(None, kind);
            let b = namespace_of(Some(me), kind);
            match (a, b) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{kind:?}");
                    assert_ne!(a.inode, 0);
                }
                (Err(_), Err(_)) => {} // kind not supported by this kernel
                (a, b) => panic!("{kind:?}: self={a:?} pid={b:?}"),
            }
        }
    }

    #[test]
    fn different_kinds_have_different_ids() {
        let ids = namespaces_of(None).expect("own namespaces");
        assert!(ids.len() >= 6, "expected most kinds, got {ids:?}");
        for (i, (ka, a)) in ids.iter().enumerate() {
            for (kb, b) in &ids[i + 1..] {
                assert_ne!(a, b, "{ka:?} and {kb:?} share an identity");
            }
        }
    }

    #[test]
    fn missing_pid_is_esrch_or_enoent() {
        // pid_max is at most 2^22, so this pid cannot exist.
        let err = namespace_of(Some(u32::MAX - 1), NamespaceKind::Network).unwrap_err();
        assert_eq!(err.errno_name(), "ENOENT");
        assert!(err.to_string().contains("/proc/4294967294/ns/net"), "{err}");
    }
}
