//! prepare / enter / finalize: the three phases the init runs around the
//! `mounted` → `continue` exchange.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, StatxFlags};
use rustix::io::Errno;
use rustix::mount::{self as rmount, MountPropagationFlags, UnmountFlags};

use crate::error::MountError;
use crate::mountfd::{attach, bind_attr_change, clone_tree, set_attrs, set_propagation, FsContext};
use crate::mountinfo::parse_mountinfo;
use crate::plan::*;
use crate::procfs::ProcfsHandle;
use crate::safe_open::{describe_type, split_parent, UmaskGuard};
use crate::{cgroup, open_in_root, OpenInRoot};

fn sys<'a>(what: &'a str, op: &'static str) -> impl FnOnce(Errno) -> MountError + 'a {
    move |e| MountError::sys(what, op, e)
}

/// Opens a host path (outside the rootfs: the rootfs itself, bind sources,
/// host device nodes). These come from the runtime, not the image, so
/// following the host's symlinks is intended.
pub(crate) fn open_host(path: &str, what: &str, extra: OFlags) -> Result<OwnedFd, MountError> {
    rfs::openat(
        rfs::CWD,
        path,
        OFlags::PATH | OFlags::CLOEXEC | extra,
        Mode::empty(),
    )
    .map_err(|e| MountError::sys(format!("{what} {path}"), "open", e))
}

fn file_type(fd: BorrowedFd<'_>, what: &str) -> Result<(FileType, rfs::Stat), MountError> {
    let st = rfs::fstat(fd).map_err(sys(what, "fstat"))?;
    Ok((FileType::from_raw_mode(st.st_mode), st))
}

fn is_mount_root(fd: BorrowedFd<'_>, what: &str) -> Result<Option<bool>, MountError> {
    let stx = rfs::statx(fd, "", AtFlags::EMPTY_PATH, StatxFlags::BASIC_STATS)
        .map_err(sys(what, "statx"))?;
    Ok(stx
        .stx_attributes_mask
        .contains(rfs::StatxAttributes::MOUNT_ROOT)
        .then(|| {
            stx.stx_attributes
                .contains(rfs::StatxAttributes::MOUNT_ROOT)
        }))
}

fn root_propagation_flags(kind: PropagationKind) -> MountPropagationFlags {
    let k = match kind {
        PropagationKind::Shared => MountPropagationFlags::SHARED,
        PropagationKind::Slave => MountPropagationFlags::DOWNSTREAM,
        PropagationKind::Private => MountPropagationFlags::PRIVATE,
        PropagationKind::Unbindable => MountPropagationFlags::UNBINDABLE,
    };
    k | MountPropagationFlags::REC
}

pub(crate) fn prepare(plan: &RootfsPlan) -> Result<(), MountError> {
    plan.validate()?;
    let kind = plan.propagation.kind();
    rmount::mount_change("/", root_propagation_flags(kind)).map_err(sys(
        "\"/\" (rootfsPropagation)",
        "mount(MS_REC|propagation)",
    ))?;

    let host_root = open_host(&plan.root, "rootfs", OFlags::DIRECTORY)?;
    if kind == PropagationKind::Shared {
        // pivot_root and MS_MOVE refuse a new root whose parent mount is
        // shared; only the parent loses its peers, as runc does.
        make_parent_private(host_root.as_fd(), &plan.root)?;
    }
    // The rootfs must be a mount point of its own for pivot_root, and all
    // mounts below go into this copy, so `root` is the clone, not the
    // directory underneath it.
    let root =
        clone_tree(host_root.as_fd(), true).map_err(sys(&plan.root, "open_tree (rbind rootfs)"))?;
    attach(root.as_fd(), host_root.as_fd())
        .map_err(sys(&plan.root, "move_mount (rbind rootfs onto itself)"))?;

    for (i, m) in plan.mounts.iter().enumerate() {
        let ctx = format!(
            "rootfs.mounts[{i}] ({} on {})",
            mount_label(m),
            m.destination
        );
        do_mount(root.as_fd(), m).map_err(|e| e.context(&ctx))?;
    }
    for (i, d) in plan.devices.iter().enumerate() {
        let ctx = format!("rootfs.devices[{i}] ({})", d.path);
        create_device(root.as_fd(), d, plan.bind_devices).map_err(|e| e.context(&ctx))?;
    }
    for (i, (target, path)) in plan.symlinks.iter().enumerate() {
        let ctx = format!("rootfs.symlinks[{i}] ({path} -> {target})");
        create_symlink(root.as_fd(), target, path).map_err(|e| e.context(&ctx))?;
    }
    Ok(())
}

fn mount_label(m: &MountOp) -> String {
    if m.is_bind() {
        format!("{}bind {}", if m.recursive { "r" } else { "" }, m.source)
    } else {
        m.fs_type.clone()
    }
}

/// Makes the mount containing `dir` private if it is shared.
fn make_parent_private(dir: BorrowedFd<'_>, shown: &str) -> Result<(), MountError> {
    let stx = rfs::statx(dir, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID)
        .map_err(sys(shown, "statx"))?;
    let id = stx.stx_mnt_id;
    let info = ProcfsHandle::new()?.read_to_string("self/mountinfo")?;
    let Some(mi) = parse_mountinfo(&info).into_iter().find(|m| m.id == id) else {
        return Err(MountError::sys(
            format!("mount {id} holding {shown}"),
            "find in mountinfo",
            Errno::NOENT,
        ));
    };
    if !mi.optional.iter().any(|o| o.starts_with("shared:")) {
        return Ok(());
    }
    let fd = open_host(
        &mi.mount_point,
        "parent mount of the rootfs",
        OFlags::DIRECTORY,
    )?;
    let check = rfs::statx(&fd, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID)
        .map_err(sys(&mi.mount_point, "statx"))?;
    if check.stx_mnt_id != id || is_mount_root(fd.as_fd(), &mi.mount_point)? == Some(false) {
        return Err(MountError::unsafe_(
            &mi.mount_point,
            "the parent mount of the rootfs changed while making it private",
            Errno::AGAIN,
        ));
    }
    set_propagation(fd.as_fd(), MS_PRIVATE)
        .map_err(sys(&mi.mount_point, "mount_setattr (MS_PRIVATE)"))
}

fn do_mount(root: BorrowedFd<'_>, m: &MountOp) -> Result<(), MountError> {
    if m.is_bind() {
        return bind_mount(root, m);
    }
    if m.fs_type == "cgroup" && m.data.is_empty() {
        return cgroup::mount_cgroup(root, m);
    }
    fs_mount(root, m)
}

/// A new filesystem instance, detached, with the MS_* flags of `flags`.
pub(crate) fn new_fs(
    fs_type: &str,
    source: &str,
    data: &str,
    flags: u64,
    what: &str,
) -> Result<OwnedFd, MountError> {
    let ctx = FsContext::open(fs_type, what)?;
    if !source.is_empty() {
        ctx.set_string("source", source)?;
    }
    ctx.set_sb_flags(flags)?;
    ctx.set_data(data)?;
    ctx.mount(flags)
}

fn fs_mount(root: BorrowedFd<'_>, m: &MountOp) -> Result<(), MountError> {
    let target = open_in_root(root, &m.destination, OpenInRoot::mkdir_all())?;
    let mnt = match new_fs(&m.fs_type, &m.source, &m.data, m.flags, &m.destination) {
        Ok(mnt) => mnt,
        // Without its own network (sysfs) or IPC (mqueue) namespace a user
        // namespace may not mount a new instance; the host's is bound
        // instead, as runc and crun do.
        Err(e) if e.errno() == Errno::PERM && (m.fs_type == "sysfs" || m.fs_type == "mqueue") => {
            let host = if m.fs_type == "sysfs" {
                "/sys"
            } else {
                "/dev/mqueue"
            };
            let src = open_host(host, "fallback bind source", OFlags::DIRECTORY)?;
            let tree = clone_tree(src.as_fd(), true).map_err(|e2| {
                MountError::sys(host, "open_tree (rbind fallback)", e2)
                    .context(&format!("new {} instance refused ({e})", m.fs_type))
            })?;
            let (set, clr) = bind_attr_change(m.flags, m.clear_flags);
            set_attrs(tree.as_fd(), true, set, clr)
                .map_err(sys(host, "mount_setattr (fallback flags)"))?;
            tree
        }
        Err(e) => return Err(e),
    };
    finish(mnt.as_fd(), target.as_fd(), m)
}

/// Recursive attributes, attach, then propagation: the order of the plan.
fn finish(mnt: BorrowedFd<'_>, target: BorrowedFd<'_>, m: &MountOp) -> Result<(), MountError> {
    set_attrs(mnt, true, m.attr_set, m.attr_clr).map_err(sys(
        &m.destination,
        "mount_setattr (AT_RECURSIVE attrSet/attrClr)",
    ))?;
    attach(mnt, target).map_err(sys(&m.destination, "move_mount"))?;
    apply_propagation(mnt, m)
}

pub(crate) fn apply_propagation(mnt: BorrowedFd<'_>, m: &MountOp) -> Result<(), MountError> {
    for p in &m.propagation {
        set_propagation(mnt, *p).map_err(sys(&m.destination, "mount_setattr (propagation)"))?;
    }
    Ok(())
}

/// statvfs f_flag bits (ST_*) as MS_* flags.
fn statvfs_to_ms(f: u64) -> u64 {
    let mut ms = 0;
    for (st, m) in [
        (0x0001, MS_RDONLY),
        (0x0002, MS_NOSUID),
        (0x0004, MS_NODEV),
        (0x0008, MS_NOEXEC),
        (0x0400, MS_NOATIME),
        (0x0800, MS_NODIRATIME),
        (0x1000, MS_RELATIME),
        (0x2000, MS_NOSYMFOLLOW),
    ] {
        if f & st != 0 {
            ms |= m;
        }
    }
    ms
}

/// Changes the per-mount flags of a cloned bind tree (its top mount, as a
/// MS_BIND|MS_REMOUNT would). Flags not named stay as on the source. If
/// clearing is refused (EPERM: the source's flags are locked, as in a user
/// namespace), the flags the source has are kept — runc's statfs retry.
pub(crate) fn apply_bind_flags(
    tree: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    flags: u64,
    clear: u64,
    what: &str,
) -> Result<(), MountError> {
    let (set, clr) = bind_attr_change(flags, clear);
    match set_attrs(tree, false, set, clr) {
        Ok(()) => Ok(()),
        Err(Errno::PERM) => {
            let sv = rfs::fstatvfs(src).map_err(sys(what, "fstatvfs (bind source)"))?;
            let locked = statvfs_to_ms(sv.f_flag.bits());
            let mut clear2 = clear & !locked;
            let mut flags2 = flags;
            if locked & (MS_NOATIME | MS_RELATIME | MS_NODIRATIME) != 0 {
                // A locked atime mode cannot be changed at all.
                flags2 &= !(MS_NOATIME | MS_RELATIME | MS_STRICTATIME);
                clear2 &= !(MS_NOATIME | MS_RELATIME | MS_STRICTATIME);
            }
            let (set, clr) = bind_attr_change(flags2, clear2);
            set_attrs(tree, false, set, clr).map_err(|e| {
                MountError::sys(
                    what,
                    "mount_setattr (bind flags, keeping the source's locked flags)",
                    e,
                )
            })
        }
        Err(e) => Err(MountError::sys(what, "mount_setattr (bind flags)", e)),
    }
}

fn bind_mount(root: BorrowedFd<'_>, m: &MountOp) -> Result<(), MountError> {
    let src = open_host(&m.source, "bind source", OFlags::empty())?;
    let (ft, _) = file_type(src.as_fd(), &m.source)?;
    let opts = if ft == FileType::Directory {
        OpenInRoot::mkdir_all()
    } else {
        OpenInRoot::file()
    };
    // open_in_root checks the kind: a directory source needs a directory
    // target, a file source a non-directory.
    let target = open_in_root(root, &m.destination, opts)?;
    let tree = clone_tree(src.as_fd(), m.recursive)
        .map_err(sys(&m.source, "open_tree (clone bind source)"))?;
    apply_bind_flags(
        tree.as_fd(),
        src.as_fd(),
        m.flags,
        m.clear_flags,
        &m.destination,
    )?;
    finish(tree.as_fd(), target.as_fd(), m)
}

fn device_file_type(k: DeviceKind) -> FileType {
    match k {
        DeviceKind::Char | DeviceKind::CharUnbuffered => FileType::CharacterDevice,
        DeviceKind::Block => FileType::BlockDevice,
        DeviceKind::Fifo => FileType::Fifo,
    }
}

fn create_device(root: BorrowedFd<'_>, d: &DeviceNode, bind: bool) -> Result<(), MountError> {
    let want = device_file_type(d.kind);
    let dev = rfs::makedev(d.major, d.minor);
    if bind {
        // In a user namespace mknod is refused: the host's node at the same
        // path is bound onto an empty file instead (runc's way).
        let host = open_host(&d.path, "host device", OFlags::empty())?;
        let (ft, st) = file_type(host.as_fd(), &d.path)?;
        if ft != want || (want != FileType::Fifo && st.st_rdev != dev) {
            return Err(MountError::WrongType {
                what: format!("host {}", d.path),
                expected: describe_type(want),
                found: format!(
                    "{} {}:{}",
                    describe_type(ft),
                    rfs::major(st.st_rdev),
                    rfs::minor(st.st_rdev)
                ),
                errno: Errno::NODEV,
            });
        }
        let target = open_in_root(root, &d.path, OpenInRoot::file())?;
        let tree =
            clone_tree(host.as_fd(), false).map_err(sys(&d.path, "open_tree (host device)"))?;
        return attach(tree.as_fd(), target.as_fd())
            .map_err(sys(&d.path, "move_mount (host device)"));
    }
    let (parent_path, name) = split_parent(&d.path)?;
    let parent = open_in_root(root, &parent_path, OpenInRoot::mkdir_all())?;
    // Whatever non-directory is there (an image's placeholder, a symlink) is
    // replaced, so the node is exactly what the plan says.
    match rfs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
            return Err(MountError::WrongType {
                what: d.path.clone(),
                expected: "no file or a non-directory to replace",
                found: "a directory".into(),
                errno: Errno::ISDIR,
            })
        }
        Ok(_) => rfs::unlinkat(&parent, name, AtFlags::empty())
            .map_err(sys(&d.path, "unlinkat (replace)"))?,
        Err(Errno::NOENT) => {}
        Err(e) => return Err(MountError::sys(&d.path, "fstatat", e)),
    }
    {
        let _umask = UmaskGuard::zero();
        rfs::mknodat(
            &parent,
            name,
            want,
            Mode::from_raw_mode(d.permissions()),
            dev,
        )
        .map_err(sys(&d.path, "mknodat"))?;
    }
    if d.uid.is_some() || d.gid.is_some() {
        let uid = d.uid.map(rustix::process::Uid::from_raw);
        let gid = d.gid.map(rustix::process::Gid::from_raw);
        rfs::chownat(&parent, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(sys(&d.path, "fchownat"))?;
    }
    Ok(())
}

fn create_symlink(root: BorrowedFd<'_>, target: &str, path: &str) -> Result<(), MountError> {
    let (parent_path, name) = split_parent(path)?;
    let parent = open_in_root(root, &parent_path, OpenInRoot::mkdir_all())?;
    match rfs::symlinkat(target, &parent, name) {
        // An existing entry is left alone, as runc does for /dev/fd & co.
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(MountError::sys(path, "symlinkat", e)),
    }
}

pub(crate) fn enter(plan: &RootfsPlan) -> Result<(), MountError> {
    let newroot = open_host(&plan.root, "rootfs", OFlags::DIRECTORY)?;
    if is_mount_root(newroot.as_fd(), &plan.root)? == Some(false) {
        return Err(MountError::unsafe_(
            &plan.root,
            "the rootfs is not a mount point (prepare_rootfs has not run in this mount namespace)",
            Errno::INVAL,
        ));
    }
    rustix::process::fchdir(&newroot).map_err(sys(&plan.root, "fchdir"))?;
    if plan.no_pivot {
        rmount::mount_move(".", "/").map_err(sys(&plan.root, "mount(MS_MOVE onto /)"))?;
        rustix::process::chroot(".").map_err(sys(&plan.root, "chroot"))?;
    } else {
        let oldroot = rfs::openat(
            rfs::CWD,
            "/",
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys("/", "open (old root)"))?;
        // pivot_root(".", ".") stacks the old root on top of the new one;
        // it is then reached through the old-root fd and detached.
        rustix::process::pivot_root(".", ".").map_err(sys(&plan.root, "pivot_root"))?;
        rustix::process::fchdir(&oldroot).map_err(sys("old root", "fchdir"))?;
        // Slave first, so the detach below does not propagate to the host's
        // mounts through a shared peer group.
        rmount::mount_change(
            ".",
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        )
        .map_err(sys("old root", "mount(MS_SLAVE|MS_REC)"))?;
        rmount::unmount(".", UnmountFlags::DETACH)
            .map_err(sys("old root", "umount2(MNT_DETACH)"))?;
    }
    rustix::process::chdir("/").map_err(sys("/", "chdir"))
}

pub(crate) fn finalize(plan: &RootfsPlan) -> Result<(), MountError> {
    let root = rfs::openat(
        rfs::CWD,
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("/", "open"))?;
    let mut devnull: Option<OwnedFd> = None;
    for (i, p) in plan.masked_paths.iter().enumerate() {
        mask_path(root.as_fd(), p, &mut devnull)
            .map_err(|e| e.context(&format!("rootfs.maskedPaths[{i}]")))?;
    }
    for (i, p) in plan.readonly_paths.iter().enumerate() {
        readonly_path(root.as_fd(), p)
            .map_err(|e| e.context(&format!("rootfs.readonlyPaths[{i}]")))?;
    }
    if plan.readonly {
        // Only the root mount, like runc's MS_BIND|MS_REMOUNT|MS_RDONLY of
        // "/": the mounts of the config keep their own flags.
        set_attrs(root.as_fd(), false, MOUNT_ATTR_RDONLY, 0)
            .map_err(sys("/", "mount_setattr (read-only root)"))?;
    }
    Ok(())
}

/// Opens /dev/null inside the container and checks it is the null device.
/// The container could have replaced it with a symlink to a procfs file
/// (CVE-2025-31133); RESOLVE_IN_ROOT keeps that inside, and the device check
/// refuses anything that is not char 1:3.
fn open_devnull(root: BorrowedFd<'_>) -> Result<OwnedFd, MountError> {
    let fd = open_in_root(root, "/dev/null", OpenInRoot::path())?;
    let (ft, st) = file_type(fd.as_fd(), "/dev/null")?;
    if ft != FileType::CharacterDevice || rfs::major(st.st_rdev) != 1 || rfs::minor(st.st_rdev) != 3
    {
        return Err(MountError::unsafe_(
            "/dev/null",
            format!(
                "not the null device: {} {}:{} (expected char 1:3)",
                describe_type(ft),
                rfs::major(st.st_rdev),
                rfs::minor(st.st_rdev)
            ),
            Errno::NODEV,
        ));
    }
    Ok(fd)
}

fn mask_path(
    root: BorrowedFd<'_>,
    path: &str,
    devnull: &mut Option<OwnedFd>,
) -> Result<(), MountError> {
    let target = match open_in_root(root, path, OpenInRoot::path()) {
        Ok(fd) => fd,
        Err(e) if e.errno() == Errno::NOENT => return Ok(()),
        Err(e) => return Err(e),
    };
    // The type decision is made on the opened object itself, and the mount
    // goes onto that object: nothing can be swapped in between.
    let (ft, _) = file_type(target.as_fd(), path)?;
    if ft == FileType::Directory {
        let ctx = FsContext::open("tmpfs", path)?;
        ctx.set_string("source", "tmpfs")?;
        ctx.set_sb_flags(MS_RDONLY)?;
        let mnt = ctx.mount(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)?;
        return attach(mnt.as_fd(), target.as_fd())
            .map_err(sys(path, "move_mount (read-only tmpfs)"));
    }
    if devnull.is_none() {
        *devnull = Some(open_devnull(root)?);
    }
    let Some(null) = devnull.as_ref() else {
        return Err(MountError::sys("/dev/null", "open", Errno::NOENT));
    };
    let tree = clone_tree(null.as_fd(), false).map_err(sys("/dev/null", "open_tree"))?;
    attach(tree.as_fd(), target.as_fd()).map_err(sys(path, "move_mount (/dev/null)"))
}

fn readonly_path(root: BorrowedFd<'_>, path: &str) -> Result<(), MountError> {
    let target = match open_in_root(root, path, OpenInRoot::path()) {
        Ok(fd) => fd,
        Err(e) if e.errno() == Errno::NOENT => return Ok(()),
        Err(e) => return Err(e),
    };
    // A recursive copy keeps the masks and submounts below the path, and
    // all of it becomes read-only; nosuid/nodev/noexec stay as they were.
    let tree =
        clone_tree(target.as_fd(), true).map_err(sys(path, "open_tree (bind onto itself)"))?;
    set_attrs(tree.as_fd(), true, MOUNT_ATTR_RDONLY, 0)
        .map_err(sys(path, "mount_setattr (read-only)"))?;
    attach(tree.as_fd(), target.as_fd()).map_err(sys(path, "move_mount (read-only bind)"))
}

pub(crate) fn bind_fd(
    root: BorrowedFd<'_>,
    source: BorrowedFd<'_>,
    destination: &str,
) -> Result<(), MountError> {
    if !destination.starts_with('/') || destination.contains('\0') {
        return Err(MountError::invalid(
            "bind_fd destination",
            format!("{destination:?} is not an absolute container path"),
        ));
    }
    let (ft, _) = file_type(source, "bind_fd source")?;
    let opts = if ft == FileType::Directory {
        OpenInRoot::mkdir_all()
    } else {
        OpenInRoot::file()
    };
    let target = open_in_root(root, destination, opts)?;
    let tree = clone_tree(source, false).map_err(sys(destination, "open_tree (bind_fd source)"))?;
    attach(tree.as_fd(), target.as_fd()).map_err(sys(destination, "move_mount (bind_fd)"))
}
