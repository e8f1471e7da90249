//! The one safe-open primitive: every path inside the rootfs is resolved by
//! the kernel beneath a root fd (openat2 RESOLVE_IN_ROOT), so a symlink in
//! the image — absolute, relative, or `..`-laden — can never lead outside.
//! Magic links (/proc/*/root, /proc/*/fd/*) are refused outright.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::MountError;
use crate::{Access, Create, OpenInRoot};

pub(crate) const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// Longest symlink chain followed while creating missing components (the
/// kernel's own limit is 40).
const MAX_LINKS: usize = 40;
/// Bound on restarts after a concurrent change made a step fail (EEXIST of
/// a name that then is not there, or openat2's EAGAIN on renames).
const MAX_RETRIES: usize = 64;

/// Sets the umask to 0 for its lifetime so created objects get exactly the
/// requested mode. The init is single-threaded, so the process-wide umask is
/// not observed by anyone else meanwhile.
pub(crate) struct UmaskGuard(Mode);

impl UmaskGuard {
    pub(crate) fn zero() -> UmaskGuard {
        UmaskGuard(rustix::process::umask(Mode::empty()))
    }
}

impl Drop for UmaskGuard {
    fn drop(&mut self) {
        rustix::process::umask(self.0);
    }
}

/// openat2 with a retry on EAGAIN (the kernel returns it for RESOLVE_IN_ROOT
/// lookups that raced with a rename) and EINTR.
pub(crate) fn openat2_retry(
    dir: BorrowedFd<'_>,
    path: &str,
    flags: OFlags,
    mode: Mode,
    resolve: ResolveFlags,
) -> Result<OwnedFd, Errno> {
    let path = if path.is_empty() { "." } else { path };
    let mut tries = 0;
    loop {
        match rfs::openat2(dir, path, flags, mode, resolve) {
            Err(Errno::AGAIN) | Err(Errno::INTR) if tries < MAX_RETRIES => tries += 1,
            r => return r,
        }
    }
}

fn access_flags(a: Access) -> OFlags {
    match a {
        Access::Path => OFlags::PATH,
        Access::ReadOnly => OFlags::RDONLY,
        Access::WriteOnly => OFlags::WRONLY,
        Access::ReadWrite => OFlags::RDWR,
    }
}

pub(crate) fn describe_type(ft: FileType) -> &'static str {
    match ft {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symlink",
        FileType::Fifo => "a fifo",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "an unknown file type",
    }
}

fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

pub(crate) fn open_in_root(
    root: BorrowedFd<'_>,
    path: &str,
    opts: OpenInRoot,
) -> Result<OwnedFd, MountError> {
    if !path.starts_with('/') {
        return Err(MountError::invalid(
            "open_in_root",
            format!("{path:?} is not an absolute container path"),
        ));
    }
    if path.contains('\0') {
        return Err(MountError::invalid(
            "open_in_root",
            format!("{path:?} contains a NUL byte"),
        ));
    }
    // openat2 rejects O_PATH combined with anything but O_DIRECTORY,
    // O_NOFOLLOW and O_CLOEXEC.
    let flags = match opts.access {
        Access::Path => OFlags::PATH | OFlags::CLOEXEC,
        a => access_flags(a) | OFlags::CLOEXEC | OFlags::NOCTTY,
    };
    let mut current: String = components(path).join("/");
    let mut links = 0usize;
    let mut retries = 0usize;
    loop {
        match openat2_retry(root, &current, flags, Mode::empty(), IN_ROOT) {
            Ok(fd) => {
                check_kind(&fd, path, opts.create)?;
                return Ok(fd);
            }
            Err(Errno::NOENT) if opts.create != Create::No => {}
            Err(e) => return Err(MountError::sys(path, "openat2 (RESOLVE_IN_ROOT)", e)),
        }
        match create_missing(root, &current, opts)? {
            Step::Created => {}
            Step::Retry => {
                retries += 1;
                if retries > MAX_RETRIES {
                    return Err(MountError::sys(path, "create path in rootfs", Errno::AGAIN));
                }
            }
            Step::Redirect(next) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(MountError::sys(
                        path,
                        "follow dangling symlinks",
                        Errno::LOOP,
                    ));
                }
                current = next;
            }
        }
    }
}

fn check_kind(fd: &OwnedFd, path: &str, create: Create) -> Result<(), MountError> {
    if create == Create::No {
        return Ok(());
    }
    let st = rfs::fstat(fd).map_err(|e| MountError::sys(path, "fstat", e))?;
    let ft = FileType::from_raw_mode(st.st_mode);
    match (create, ft) {
        (Create::Directory, FileType::Directory) => Ok(()),
        (Create::Directory, other) => Err(MountError::WrongType {
            what: path.to_string(),
            expected: "a directory",
            found: describe_type(other).to_string(),
            errno: Errno::NOTDIR,
        }),
        (Create::File, FileType::Directory) => Err(MountError::WrongType {
            what: path.to_string(),
            expected: "a non-directory",
            found: "a directory".to_string(),
            errno: Errno::ISDIR,
        }),
        _ => Ok(()),
    }
}

enum Step {
    /// One missing component was created; resolve again.
    Created,
    /// Something changed underneath; resolve again.
    Retry,
    /// A dangling symlink was found: continue with this path (relative to
    /// the root, still resolved with RESOLVE_IN_ROOT).
    Redirect(String),
}

/// Finds the first missing component of `current` and creates it inside its
/// (RESOLVE_IN_ROOT-resolved) parent. The creating calls (mkdirat, openat
/// O_CREAT|O_EXCL|O_NOFOLLOW) never follow a symlink in the name itself; a
/// dangling symlink is instead read and its target spliced into the path,
/// which is then resolved from the root again, so it stays confined.
fn create_missing(
    root: BorrowedFd<'_>,
    current: &str,
    opts: OpenInRoot,
) -> Result<Step, MountError> {
    let comps = components(current);
    let shown = |i: usize| format!("/{}", comps[..=i].join("/"));
    let mut parent: Option<OwnedFd> = None;
    for i in 0..comps.len() {
        let prefix = comps[..=i].join("/");
        match openat2_retry(
            root,
            &prefix,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            IN_ROOT,
        ) {
            Ok(fd) => {
                parent = Some(fd);
                continue;
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(MountError::sys(shown(i), "openat2 (RESOLVE_IN_ROOT)", e)),
        }
        let name = comps[i];
        if name == ".." {
            // ".." of an existing directory always exists; ENOENT here means
            // the parent vanished meanwhile.
            return Ok(Step::Retry);
        }
        let dir: BorrowedFd<'_> = match &parent {
            Some(fd) => fd.as_fd(),
            None => root,
        };
        let last = i + 1 == comps.len();
        let result = {
            let _umask = UmaskGuard::zero();
            if last && opts.create == Create::File {
                rfs::openat(
                    dir,
                    name,
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(opts.mode & 0o7777),
                )
                .map(drop)
            } else {
                let mode = if last { opts.mode & 0o7777 } else { 0o755 };
                rfs::mkdirat(dir, name, Mode::from_raw_mode(mode))
            }
        };
        return match result {
            Ok(()) => Ok(Step::Created),
            Err(Errno::EXIST) => {
                // The name exists but did not resolve: a dangling symlink,
                // or it appeared just now.
                match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                        let target = rfs::readlinkat(dir, name, Vec::new())
                            .map_err(|e| MountError::sys(shown(i), "readlinkat", e))?;
                        let target = target.to_str().map_err(|_| {
                            MountError::unsafe_(
                                shown(i),
                                "symlink target is not UTF-8",
                                Errno::INVAL,
                            )
                        })?;
                        let rest = comps[i + 1..].join("/");
                        let base = if target.starts_with('/') {
                            String::new()
                        } else {
                            comps[..i].join("/")
                        };
                        let next = [base.as_str(), target, rest.as_str()]
                            .iter()
                            .filter(|s| !s.is_empty())
                            .copied()
                            .collect::<Vec<_>>()
                            .join("/");
                        Ok(Step::Redirect(components(&next).join("/")))
                    }
                    _ => Ok(Step::Retry),
                }
            }
            Err(e) => Err(MountError::sys(
                shown(i),
                if last && opts.create == Create::File {
                    "openat (O_CREAT|O_EXCL)"
                } else {
                    "mkdirat"
                },
                e,
            )),
        };
    }
    // Every component resolved now (a concurrent creation): resolve again.
    Ok(Step::Retry)
}

/// Splits a container path into its parent and final name, for the calls
/// that create the final name themselves (mknodat, symlinkat).
pub(crate) fn split_parent(path: &str) -> Result<(String, &str), MountError> {
    let comps = components(path);
    match comps.split_last() {
        Some((last, init)) if *last != ".." => Ok((format!("/{}", init.join("/")), last)),
        _ => Err(MountError::invalid(
            "path",
            format!("{path:?} does not end in a file name"),
        )),
    }
}
