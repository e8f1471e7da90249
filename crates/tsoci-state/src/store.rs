//! Container directories, their lock, and the state file.
//!
//! The lock is `flock(LOCK_EX)` on the container directory itself: it lives
//! exactly as long as the open directory fd (closing it, or the holder dying,
//! releases it), locks of different ids never interact, and there is no lock
//! file to go stale. Everything under the root is reached with `*at` calls on
//! directory fds and `O_NOFOLLOW`, never by joining path strings.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use serde_json::Value;

use crate::{errno_of, validate_id, Result, StateError};

/// `--root` when none is given.
pub const DEFAULT_ROOT: &str = "/run/tsoci";
/// The state file inside a container directory.
pub const STATE_FILE: &str = "state.json";
// Not a valid id character in front ('#'), so never mistaken for a container;
// one fixed name suffices because writers hold the container lock.
const STATE_TMP: &str = "#state.json.tmp";
// A state file is a few KiB; refuse to slurp anything absurd.
const MAX_STATE_BYTES: u64 = 16 << 20;
/// How long [`create_container_dir`] waits for a lock on the directory it
/// just made (only a concurrent `state`/`delete` of the same id can hold it).
pub const CREATE_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

const DIR_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC).union(OFlags::NOFOLLOW);

/// The liveness facts read from a state file (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    pub pid: u32,
    pub start_time: u64,
}

/// A container directory whose lock this handle holds. Dropping it releases
/// the lock; [`ContainerDir::remove`] deletes the directory first.
#[derive(Debug)]
pub struct ContainerDir {
    root: PathBuf,
    root_fd: OwnedFd,
    id: String,
    dir: OwnedFd,
}

fn open_root(root: &Path) -> Result<Option<OwnedFd>> {
    match rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(StateError::io("open state root", root)(e)),
    }
}

/// Opens the root, creating it (mode 0711, parents 0755) when missing. An
/// existing root keeps its mode: it may be shared with other tools.
fn ensure_root(root: &Path) -> Result<OwnedFd> {
    if let Some(fd) = open_root(root)? {
        return Ok(fd);
    }
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| StateError::io("create the parent of state root", parent)(errno_of(&e)))?;
    }
    match rustix::fs::mkdir(root, Mode::from_raw_mode(0o711)) {
        // The umask may have cleared bits of 0711: set it exactly.
        Ok(()) => {
            rustix::fs::chmod(root, Mode::from_raw_mode(0o711)).map_err(StateError::io("chmod state root", root))?
        }
        // Lost a race with another tsoci creating it: fine.
        Err(Errno::EXIST) => {}
        Err(e) => return Err(StateError::io("create state root", root)(e)),
    }
    open_root(root)?.ok_or_else(|| StateError::io("open state root", root)(Errno::NOENT))
}

/// Takes `flock(LOCK_EX)` on `fd`. `None` waits as long as it takes; a
/// timeout polls with LOCK_NB, because a blocking flock cannot be interrupted
/// from Rust without signals.
fn lock_fd(fd: BorrowedFd<'_>, id: &str, path: &Path, timeout: Option<Duration>) -> Result<()> {
    let Some(timeout) = timeout else {
        loop {
            match rustix::fs::flock(fd, FlockOperation::LockExclusive) {
                Ok(()) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(StateError::io("flock", path)(e)),
            }
        }
    };
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            Err(Errno::WOULDBLOCK) | Err(Errno::INTR) => {}
            Err(e) => return Err(StateError::io("flock", path)(e)),
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(StateError::Locked { id: id.to_owned(), waited_ms: millis(waited) });
        }
        sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Opens `<root>/<id>` and locks it. After the lock is taken, checks that the
/// name still refers to the locked directory: a `delete` that held the lock
/// meanwhile may have removed it (or a new `create` replaced it).
fn open_locked(root: &Path, root_fd: OwnedFd, id: &str, timeout: Option<Duration>) -> Result<ContainerDir> {
    let path = root.join(id);
    let dir = match rustix::fs::openat(&root_fd, id, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Err(StateError::NotFound { id: id.to_owned() }),
        Err(e) => return Err(StateError::io("open container directory", &path)(e)),
    };
    lock_fd(dir.as_fd(), id, &path, timeout)?;
    let held = rustix::fs::fstat(&dir).map_err(StateError::io("fstat", &path))?;
    match rustix::fs::statat(&root_fd, id, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(now) if now.st_dev == held.st_dev && now.st_ino == held.st_ino => {}
        Ok(_) | Err(Errno::NOENT) => return Err(StateError::NotFound { id: id.to_owned() }),
        Err(e) => return Err(StateError::io("stat container directory", &path)(e)),
    }
    Ok(ContainerDir { root: root.to_owned(), root_fd, id: id.to_owned(), dir })
}

/// Creates `<root>/<id>` (mode 0700) and returns it locked. The root is
/// created (0711) if missing. A duplicate id fails with
/// [`StateError::AlreadyExists`]: `mkdir` is the atomic uniqueness check.
pub fn create_container_dir(root: &Path, id: &str) -> Result<ContainerDir> {
    validate_id(id)?;
    let root_fd = ensure_root(root)?;
    match rustix::fs::mkdirat(&root_fd, id, Mode::from_raw_mode(0o700)) {
        Ok(()) => {}
        Err(Errno::EXIST) => return Err(StateError::AlreadyExists { id: id.to_owned() }),
        Err(e) => return Err(StateError::io("create container directory", root.join(id))(e)),
    }
    open_locked(root, root_fd, id, Some(CREATE_LOCK_TIMEOUT))
}

/// Locks the directory of container `id`. `timeout` `None` waits forever;
/// `Some(Duration::ZERO)` tries once. Fails with [`StateError::NotFound`] if
/// the container does not exist (or was deleted while we waited), and with
/// [`StateError::Locked`] when the timeout expires.
pub fn lock_container(root: &Path, id: &str, timeout: Option<Duration>) -> Result<ContainerDir> {
    validate_id(id)?;
    let root_fd = open_root(root)?.ok_or_else(|| StateError::NotFound { id: id.to_owned() })?;
    open_locked(root, root_fd, id, timeout)
}

/// Reads the state of `id` WITHOUT taking the lock. Safe because writes
/// replace the file atomically; use it where waiting behind a long `create`
/// would be wrong (`list`). `Ok(None)`: the directory exists but no state
/// was written yet.
pub fn read_state(root: &Path, id: &str) -> Result<Option<String>> {
    validate_id(id)?;
    let root_fd = open_root(root)?.ok_or_else(|| StateError::NotFound { id: id.to_owned() })?;
    let dir = match rustix::fs::openat(&root_fd, id, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Err(StateError::NotFound { id: id.to_owned() }),
        Err(e) => return Err(StateError::io("open container directory", root.join(id))(e)),
    };
    read_state_at(dir.as_fd(), id, &root.join(id))
}

fn read_state_at(dir: BorrowedFd<'_>, id: &str, dir_path: &Path) -> Result<Option<String>> {
    let path = dir_path.join(STATE_FILE);
    let fd =
        match rustix::fs::openat(dir, STATE_FILE, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(StateError::io("open", &path)(e)),
        };
    let mut text = String::new();
    File::from(fd).take(MAX_STATE_BYTES + 1).read_to_string(&mut text).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            corrupt(id, &path, "not UTF-8".to_owned())
        } else {
            StateError::io("read", &path)(errno_of(&e))
        }
    })?;
    if text.len() as u64 > MAX_STATE_BYTES {
        return Err(corrupt(id, &path, format!("larger than {MAX_STATE_BYTES} bytes")));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(_)) => Ok(Some(text)),
        Ok(_) => Err(corrupt(id, &path, "not a JSON object".to_owned())),
        Err(e) => Err(corrupt(id, &path, format!("not valid JSON: {e}"))),
    }
}

fn corrupt(id: &str, path: &Path, reason: String) -> StateError {
    StateError::CorruptState { id: id.to_owned(), path: path.to_owned(), reason }
}

/// The ids of all containers under `root`, sorted. A missing root means no
/// containers. Entries that are not directories or not valid ids (temp files,
/// strays) are skipped.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let Some(root_fd) = open_root(root)? else { return Ok(Vec::new()) };
    let dir = rustix::fs::Dir::read_from(&root_fd).map_err(StateError::io("read directory", root))?;
    let mut ids = Vec::new();
    for entry in dir {
        let entry = entry.map_err(StateError::io("read directory", root))?;
        let Ok(name) = entry.file_name().to_str() else { continue };
        if name == "." || name == ".." || validate_id(name).is_err() {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => true,
            FileType::Unknown => rustix::fs::statat(&root_fd, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
            _ => false,
        };
        if is_dir {
            ids.push(name.to_owned());
        }
    }
    ids.sort();
    Ok(ids)
}

/// Reads `pid` and `startTime` from a state JSON text (see the crate docs).
/// `Ok(None)` when there is no process (`pid` absent, null or 0).
pub fn liveness_from_json(json: &str) -> std::result::Result<Option<Liveness>, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("not valid JSON: {e}"))?;
    let obj = value.as_object().ok_or("not a JSON object")?;
    let pid = match obj.get("pid") {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v.as_u64().ok_or_else(|| format!("pid: expected a non-negative integer, got {v}"))?,
    };
    if pid == 0 {
        return Ok(None);
    }
    let pid = u32::try_from(pid)
        .ok()
        .filter(|p| i32::try_from(*p).is_ok())
        .ok_or_else(|| format!("pid: {pid} is out of range"))?;
    let start_time = match obj.get("startTime") {
        None | Some(Value::Null) => return Err(format!("pid is {pid} but startTime is missing")),
        Some(Value::String(s)) => {
            s.parse::<u64>().map_err(|_| format!("startTime: {s:?} is not a non-negative integer"))?
        }
        Some(v) => v.as_u64().ok_or_else(|| format!("startTime: expected a non-negative integer, got {v}"))?,
    };
    Ok(Some(Liveness { pid, start_time }))
}

impl ContainerDir {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<id>`, for messages and for building paths handed to children.
    pub fn path(&self) -> PathBuf {
        self.root.join(&self.id)
    }

    /// The locked directory, for `*at` calls (fifo, sockets).
    pub fn dir_fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// The state JSON text, or `None` if none was written yet.
    pub fn read_state(&self) -> Result<Option<String>> {
        read_state_at(self.dir.as_fd(), &self.id, &self.path())
    }

    /// [`liveness_from_json`] of the stored state; `None` without state or pid.
    pub fn liveness(&self) -> Result<Option<Liveness>> {
        match self.read_state()? {
            None => Ok(None),
            Some(text) => {
                liveness_from_json(&text).map_err(|reason| corrupt(&self.id, &self.path().join(STATE_FILE), reason))
            }
        }
    }

    /// Replaces the state with `json` (which must be a JSON object) so that a
    /// reader sees either the old or the new file, never a mix, even if this
    /// process dies halfway: temp file, then rename.
    ///
    /// No fsync: the state describes live processes, which a machine crash
    /// ends anyway, so durability buys nothing, and on a disk-backed root
    /// (`/run` is not always tmpfs) the two fsyncs cost milliseconds on every
    /// create, start and update. runc too writes its state with a temp file
    /// and a rename, without fsync.
    pub fn write_state(&self, json: &str) -> Result<()> {
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(_)) => {}
            Ok(_) => return Err(self.bad_state("not a JSON object")),
            Err(e) => return Err(self.bad_state(&format!("not valid JSON: {e}"))),
        }
        let dir_path = self.path();
        let tmp_path = dir_path.join(STATE_TMP);
        // A crash of an earlier writer may have left a partial temp file.
        match rustix::fs::unlinkat(&self.dir, STATE_TMP, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(StateError::io("unlink", &tmp_path)(e)),
        }
        let fd = rustix::fs::openat(
            &self.dir,
            STATE_TMP,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o600),
        )
        .map_err(StateError::io("create", &tmp_path))?;
        let mut file = File::from(fd);
        file.write_all(json.as_bytes()).map_err(|e| StateError::io("write", &tmp_path)(errno_of(&e)))?;
        drop(file);
        // Swap the new file in and unlink the old one instead of renaming
        // over it: ext4 (auto_da_alloc) starts writeback of a file renamed
        // over another, which made each state write cost 0.2-0.7 ms here
        // (five per create). Readers see the old or the new file whole,
        // as with a rename. The first write has nothing to swap with.
        let swapped = rustix::fs::renameat_with(&self.dir, STATE_TMP, &self.dir, STATE_FILE, RenameFlags::EXCHANGE);
        match swapped {
            Ok(()) => {
                // The old state, now under the temp name. A failure leaves
                // only a stale temp file, which the next write removes.
                let _ = rustix::fs::unlinkat(&self.dir, STATE_TMP, AtFlags::empty());
            }
            // ENOENT: no state.json yet; EINVAL: a filesystem without
            // RENAME_EXCHANGE.
            Err(Errno::NOENT | Errno::INVAL) => {
                rustix::fs::renameat(&self.dir, STATE_TMP, &self.dir, STATE_FILE)
                    .map_err(StateError::io("rename into place", dir_path.join(STATE_FILE)))?;
            }
            Err(e) => return Err(StateError::io("rename into place", dir_path.join(STATE_FILE))(e)),
        }
        Ok(())
    }

    fn bad_state(&self, reason: &str) -> StateError {
        StateError::InvalidArgument { what: format!("state of container {:?}", self.id), reason: reason.to_owned() }
    }

    /// Deletes the container directory and everything in it, then releases
    /// the lock. Waiters that get the lock afterwards see
    /// [`StateError::NotFound`]. On failure the lock is released too; use
    /// [`ContainerDir::remove_tree`] to keep it.
    pub fn remove(self) -> Result<()> {
        self.remove_tree()
    }

    /// Deletes the container directory and everything in it while keeping
    /// the lock, so that a failure (a busy mount point, say) leaves the caller
    /// still holding it. After success the handle names a deleted directory:
    /// drop it.
    pub fn remove_tree(&self) -> Result<()> {
        let path = self.path();
        remove_contents(self.dir.as_fd(), &path)?;
        rustix::fs::unlinkat(&self.root_fd, self.id.as_str(), AtFlags::REMOVEDIR)
            .map_err(StateError::io("remove container directory", &path))?;
        Ok(())
    }
}

/// [`ContainerDir::remove`] as a free function.
pub fn remove_container_dir(dir: ContainerDir) -> Result<()> {
    dir.remove()
}

/// Empties the directory open as `dir`, without following symlinks: a
/// symlink is unlinked, never its target.
fn remove_contents(dir: BorrowedFd<'_>, path: &Path) -> Result<()> {
    let entries = rustix::fs::Dir::read_from(dir).map_err(StateError::io("read directory", path))?;
    for entry in entries {
        let entry = entry.map_err(StateError::io("read directory", path))?;
        let name = entry.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        let child_path = path.join(std::ffi::OsStr::new(&*String::from_utf8_lossy(bytes)));
        let is_dir = match entry.file_type() {
            FileType::Directory => true,
            FileType::Unknown => rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
            _ => false,
        };
        if is_dir {
            if is_mount_point(dir, name).map_err(StateError::io("statx", &child_path))? {
                // Recursing would delete the contents of whatever is mounted there.
                return Err(StateError::Io {
                    op: "refusing to delete across the mount point",
                    path: child_path,
                    errno: Errno::BUSY,
                });
            }
            let sub = rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty())
                .map_err(StateError::io("open directory", &child_path))?;
            remove_contents(sub.as_fd(), &child_path)?;
            rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(StateError::io("remove", &child_path))?;
        } else {
            match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(StateError::io("unlink", &child_path)(e)),
            }
        }
    }
    Ok(())
}

/// Whether `name` in `dir` is the root of a mount. Uses STATX_ATTR_MOUNT_ROOT
/// (Linux 5.8+, catches bind mounts of the same filesystem too), else a
/// device-number change.
fn is_mount_point(dir: BorrowedFd<'_>, name: &std::ffi::CStr) -> std::result::Result<bool, Errno> {
    use rustix::fs::{StatxAttributes, StatxFlags};
    match rustix::fs::statx(dir, name, AtFlags::NO_AUTOMOUNT | AtFlags::SYMLINK_NOFOLLOW, StatxFlags::empty()) {
        Ok(st) if st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) => {
            return Ok(st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT))
        }
        Ok(_) | Err(Errno::NOSYS) => {}
        Err(e) => return Err(e),
    }
    let parent = rustix::fs::fstat(dir)?;
    let child = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(parent.st_dev != child.st_dev)
}

#[cfg(test)]
mod tests {
    use super::liveness_from_json;
    use super::Liveness;

    #[test]
    fn liveness_fields() {
        assert_eq!(liveness_from_json(r#"{"status":"creating"}"#), Ok(None));
        assert_eq!(liveness_from_json(r#"{"pid":0,"startTime":5}"#), Ok(None));
        assert_eq!(liveness_from_json(r#"{"pid":null}"#), Ok(None));
        assert_eq!(
            liveness_from_json(r#"{"pid":42,"startTime":123456}"#),
            Ok(Some(Liveness { pid: 42, start_time: 123456 }))
        );
        assert_eq!(
            liveness_from_json(r#"{"pid":42,"startTime":"18446744073709551615"}"#),
            Ok(Some(Liveness { pid: 42, start_time: u64::MAX }))
        );
        assert_eq!(liveness_from_json(r#"{"pid":42}"#), Err("pid is 42 but startTime is missing".to_owned()));
        assert!(liveness_from_json(r#"{"pid":-1,"startTime":1}"#).unwrap_err().starts_with("pid: expected"));
        assert!(liveness_from_json(r#"{"pid":4294967295,"startTime":1}"#).unwrap_err().contains("out of range"));
        assert!(liveness_from_json(r#"{"pid":3,"startTime":"x"}"#).unwrap_err().starts_with("startTime:"));
        assert!(liveness_from_json(r#"[1]"#).is_err());
    }
}
