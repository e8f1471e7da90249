//! The `cgroup` mount type of the default config (/sys/fs/cgroup, no data).
//!
//! - Host with a unified-only hierarchy (/sys/fs/cgroup is cgroup2): a new
//!   cgroup2 instance is mounted (rooted at the container's cgroup when it
//!   has its own cgroup namespace).
//! - Host with v1 or hybrid hierarchies: a tmpfs (mode 0755) is mounted and,
//!   for every hierarchy the init belongs to (/proc/self/cgroup) that the
//!   host has mounted, the init's own cgroup directory is bound onto
//!   `<tmpfs>/<basename of the host mount point>` ("memory", "cpu,cpuacct",
//!   "systemd", "unified"), with symlinks for co-mounted controllers
//!   ("cpu" -> "cpu,cpuacct"). When the init's cgroup lies outside the host
//!   mount's root (a cgroup namespace hides it), a new instance of that
//!   hierarchy is mounted instead, which a cgroup namespace roots at the
//!   container's cgroup. The MountOp flags (ro, nosuid, …) go on every bind,
//!   and the tmpfs is made read-only last when `ro` was asked — runc's v1
//!   layout.
//!
//! A `cgroup` mount with data ("cpu", "none,name=x") is a literal v1 mount
//! and does not come here.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::MountError;
use crate::mountfd::{attach, set_attrs, FsContext};
use crate::mountinfo::{parse_mountinfo, parse_proc_cgroup, CgroupEntry, MountInfo};
use crate::plan::*;
use crate::procfs::{fs_magic, ProcfsHandle};
use crate::rootfs::{apply_bind_flags, apply_propagation, new_fs, open_host};
use crate::safe_open::{openat2_retry, UmaskGuard};
use crate::{open_in_root, OpenInRoot};

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

pub(crate) fn mount_cgroup(root: BorrowedFd<'_>, m: &MountOp) -> Result<(), MountError> {
    let unified = rfs::statfs("/sys/fs/cgroup")
        .map(|s| fs_magic(s.f_type) == CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    let target = open_in_root(root, &m.destination, OpenInRoot::mkdir_all())?;
    let top = if unified {
        let mnt = new_fs("cgroup2", "cgroup", "", m.flags, &m.destination)?;
        attach(mnt.as_fd(), target.as_fd())
            .map_err(|e| MountError::sys(&m.destination, "move_mount (cgroup2)", e))?;
        mnt
    } else {
        v1_layout(target.as_fd(), m)?
    };
    set_attrs(top.as_fd(), true, m.attr_set, m.attr_clr).map_err(|e| {
        MountError::sys(
            &m.destination,
            "mount_setattr (AT_RECURSIVE attrSet/attrClr)",
            e,
        )
    })?;
    apply_propagation(top.as_fd(), m)
}

/// The host mount of the hierarchy `entry` belongs to, preferring the one
/// under /sys/fs/cgroup.
fn host_mount_for<'a>(entry: &CgroupEntry, mounts: &'a [MountInfo]) -> Option<&'a MountInfo> {
    let matches = |mi: &&MountInfo| {
        if entry.controllers.is_empty() {
            mi.fs_type == "cgroup2"
        } else {
            mi.fs_type == "cgroup"
                && entry
                    .controllers
                    .iter()
                    .all(|c| mi.super_options.split(',').any(|o| o == c))
        }
    };
    let under = mounts
        .iter()
        .filter(matches)
        .find(|mi| mi.mount_point.starts_with("/sys/fs/cgroup/"));
    under.or_else(|| mounts.iter().find(matches))
}

/// The init's cgroup path relative to the host mount's root, or None when
/// it is not below it.
fn relative_to_mount<'a>(entry: &'a CgroupEntry, mi: &MountInfo) -> Option<&'a str> {
    if mi.root == "/" {
        return Some(entry.path.trim_start_matches('/'));
    }
    if entry.path == mi.root {
        return Some("");
    }
    entry
        .path
        .strip_prefix(mi.root.as_str())
        .and_then(|r| r.strip_prefix('/'))
}

fn v1_layout(target: BorrowedFd<'_>, m: &MountOp) -> Result<OwnedFd, MountError> {
    let proc = ProcfsHandle::new()?;
    let entries = parse_proc_cgroup(&proc.read_to_string("self/cgroup")?);
    let mounts = parse_mountinfo(&proc.read_to_string("self/mountinfo")?);

    let ctx = FsContext::open("tmpfs", &m.destination)?;
    ctx.set_string("source", "tmpfs")?;
    ctx.set_string("mode", "755")?;
    // Read-only comes last: the directories for the binds are made first.
    let tmpfs = ctx.mount(m.flags & !MS_RDONLY)?;
    attach(tmpfs.as_fd(), target)
        .map_err(|e| MountError::sys(&m.destination, "move_mount (cgroup tmpfs)", e))?;

    for entry in &entries {
        let Some(mi) = host_mount_for(entry, &mounts) else {
            // A hierarchy the host has not mounted anywhere: nothing to show.
            continue;
        };
        let Some(name) = mi
            .mount_point
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        else {
            continue;
        };
        let what = format!("{}/{name}", m.destination);
        {
            let _umask = UmaskGuard::zero();
            match rfs::mkdirat(&tmpfs, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(MountError::sys(&what, "mkdirat", e)),
            }
        }
        // Our own fresh tmpfs: no symlinks or mounts may be on the way.
        let dir = openat2_retry(
            tmpfs.as_fd(),
            name,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV,
        )
        .map_err(|e| MountError::sys(&what, "openat2", e))?;

        let (tree, src) = match relative_to_mount(entry, mi) {
            Some(rel) => {
                let mp = open_host(&mi.mount_point, "host cgroup hierarchy", OFlags::DIRECTORY)?;
                let src = if rel.is_empty() {
                    mp
                } else {
                    openat2_retry(
                        mp.as_fd(),
                        rel,
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV,
                    )
                    .map_err(|e| {
                        MountError::sys(format!("{}/{rel}", mi.mount_point), "openat2", e)
                    })?
                };
                let tree = crate::mountfd::clone_tree(src.as_fd(), false)
                    .map_err(|e| MountError::sys(&mi.mount_point, "open_tree (cgroup bind)", e))?;
                (tree, Some(src))
            }
            None => {
                let (fs, data) = if entry.controllers.is_empty() {
                    ("cgroup2", String::new())
                } else {
                    ("cgroup", entry.controllers.join(","))
                };
                (new_fs(fs, "cgroup", &data, 0, &what)?, None)
            }
        };
        match &src {
            Some(src) => {
                apply_bind_flags(tree.as_fd(), src.as_fd(), m.flags, m.clear_flags, &what)?
            }
            None => {
                let (set, clr) = crate::mountfd::bind_attr_change(m.flags, m.clear_flags);
                set_attrs(tree.as_fd(), false, set, clr)
                    .map_err(|e| MountError::sys(&what, "mount_setattr", e))?;
            }
        }
        attach(tree.as_fd(), dir.as_fd())
            .map_err(|e| MountError::sys(&what, "move_mount (cgroup hierarchy)", e))?;

        if name.contains(',') {
            for c in name.split(',').filter(|c| !c.is_empty()) {
                match rfs::symlinkat(name, &tmpfs, c) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => {
                        return Err(MountError::sys(
                            format!("{}/{c}", m.destination),
                            "symlinkat",
                            e,
                        ))
                    }
                }
            }
        }
    }
    if m.flags & MS_RDONLY != 0 {
        set_attrs(tmpfs.as_fd(), false, MOUNT_ATTR_RDONLY, 0).map_err(|e| {
            MountError::sys(&m.destination, "mount_setattr (read-only cgroup tmpfs)", e)
        })?;
    }
    Ok(tmpfs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mi(fs: &str, root: &str, mp: &str, sopts: &str) -> MountInfo {
        MountInfo {
            id: 1,
            parent: 0,
            root: root.into(),
            mount_point: mp.into(),
            options: "rw".into(),
            optional: vec![],
            fs_type: fs.into(),
            source: "cgroup".into(),
            super_options: sopts.into(),
        }
    }

    #[test]
    fn finds_the_hierarchy_mount() {
        let mounts = vec![
            mi("cgroup", "/", "/elsewhere/memory", "rw,memory"),
            mi("cgroup", "/", "/sys/fs/cgroup/memory", "rw,memory"),
            mi(
                "cgroup",
                "/",
                "/sys/fs/cgroup/cpu,cpuacct",
                "rw,cpu,cpuacct",
            ),
            mi("cgroup2", "/", "/sys/fs/cgroup/unified", "rw"),
        ];
        let e = |c: &[&str]| CgroupEntry {
            hierarchy: 3,
            controllers: c.iter().map(|s| s.to_string()).collect(),
            path: "/x".into(),
        };
        assert_eq!(
            host_mount_for(&e(&["memory"]), &mounts)
                .unwrap()
                .mount_point,
            "/sys/fs/cgroup/memory"
        );
        assert_eq!(
            host_mount_for(&e(&["cpu", "cpuacct"]), &mounts)
                .unwrap()
                .mount_point,
            "/sys/fs/cgroup/cpu,cpuacct"
        );
        assert_eq!(
            host_mount_for(&e(&[]), &mounts).unwrap().mount_point,
            "/sys/fs/cgroup/unified"
        );
        assert!(host_mount_for(&e(&["pids"]), &mounts).is_none());
        // "cpu" alone must not match a "cpuset" hierarchy.
        let m2 = vec![mi("cgroup", "/", "/sys/fs/cgroup/cpuset", "rw,cpuset")];
        assert!(host_mount_for(&e(&["cpu"]), &m2).is_none());
    }

    #[test]
    fn relative_paths() {
        let e = CgroupEntry {
            hierarchy: 1,
            controllers: vec!["memory".into()],
            path: "/a/b".into(),
        };
        assert_eq!(
            relative_to_mount(&e, &mi("cgroup", "/", "/m", "")),
            Some("a/b")
        );
        assert_eq!(
            relative_to_mount(&e, &mi("cgroup", "/a", "/m", "")),
            Some("b")
        );
        assert_eq!(
            relative_to_mount(&e, &mi("cgroup", "/a/b", "/m", "")),
            Some("")
        );
        assert_eq!(relative_to_mount(&e, &mi("cgroup", "/ab", "/m", "")), None);
        assert_eq!(
            relative_to_mount(&e, &mi("cgroup", "/../..", "/m", "")),
            None
        );
    }
}
