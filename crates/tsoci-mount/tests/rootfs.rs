//! Root-only scenarios for tsoci-mount, run against the real kernel.
//!
//! This binary has its own main() (harness = false): the runner (the process
//! `cargo test` starts, which stays in the host mount namespace) builds a
//! tiny rootfs per scenario in a temp dir, re-executes itself with
//! TSOCI_MOUNT_SCENARIO=<name>, and after the helper exits checks the host
//! side and removes the temp dir. The helper is single-threaded; it first
//! unshares a private mount namespace (and, for the user-namespace scenario,
//! a user, pid and ipc namespace and forks), so every mount it makes
//! disappears with it.
//!
//! Filter scenarios by name: `cargo test -p tsoci-mount --test rootfs -- escape`.

use std::fs;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::{json, Value};
use tsoci_mount::mountinfo::{parse_mountinfo, MountInfo};
use tsoci_mount::{
    enter_rootfs, finalize_rootfs, open_in_root, prepare_rootfs, write_procfs, MountError,
    OpenInRoot, ProcfsHandle, RootfsPlan,
};

type R = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($fmt)+)));
        }
    };
}

fn e<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |err| format!("{what}: {err}")
}

const MS_RDONLY: u64 = 1;
const MS_NOSUID: u64 = 2;
const MS_NODEV: u64 = 4;
const MS_NOEXEC: u64 = 8;
const MS_PRIVATE: u64 = 1 << 18;
const MS_SHARED: u64 = 1 << 20;
const MS_RELATIME: u64 = 1 << 21;
const MS_STRICTATIME: u64 = 1 << 24;
const MOUNT_ATTR_RDONLY: u64 = 1;

// ---------------------------------------------------------------- scenarios

#[derive(Clone, Copy, PartialEq)]
enum Ns {
    /// A private mount namespace only.
    Mount,
    /// Mount ns first (for host-side preparation), then user + mount + pid +
    /// ipc namespaces, uid/gid 0 mapped to 0, and a fork into the pid ns.
    User,
}

struct Scenario {
    name: &'static str,
    ns: Ns,
    /// Runner side, before the helper: populate the temp dir.
    setup: fn(&Path) -> io::Result<()>,
    /// Helper side, in the new namespaces.
    inside: fn(&Ctx) -> R,
    /// Runner side, after the helper: the host must be untouched.
    host_check: fn(&Path) -> R,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "full_lifecycle",
        ns: Ns::Mount,
        setup: setup_basic,
        inside: full_lifecycle,
        host_check: host_basic,
    },
    Scenario {
        name: "no_pivot",
        ns: Ns::Mount,
        setup: setup_basic,
        inside: no_pivot,
        host_check: host_basic,
    },
    Scenario {
        name: "rshared_root",
        ns: Ns::Mount,
        setup: setup_basic,
        inside: rshared_root,
        host_check: host_basic,
    },
    Scenario {
        name: "escape_symlinks",
        ns: Ns::Mount,
        setup: setup_escape,
        inside: escape_symlinks,
        host_check: host_escape,
    },
    Scenario {
        name: "escape_magic_links",
        ns: Ns::Mount,
        setup: setup_escape,
        inside: escape_magic_links,
        host_check: host_escape,
    },
    Scenario {
        name: "devnull_swapped",
        ns: Ns::Mount,
        setup: setup_basic,
        inside: devnull_swapped,
        host_check: host_basic,
    },
    Scenario {
        name: "errors_name_the_mount",
        ns: Ns::Mount,
        setup: setup_basic,
        inside: errors_name_the_mount,
        host_check: host_basic,
    },
    Scenario {
        name: "open_in_root_primitive",
        ns: Ns::Mount,
        setup: setup_escape,
        inside: open_in_root_primitive,
        host_check: host_escape,
    },
    Scenario {
        name: "user_namespace",
        ns: Ns::User,
        setup: setup_basic,
        inside: user_namespace,
        host_check: host_basic,
    },
];

struct Ctx {
    dir: PathBuf,
    root: PathBuf,
}

impl Ctx {
    fn root_str(&self) -> &str {
        self.root.to_str().unwrap_or("")
    }
    fn dir_str(&self) -> &str {
        self.dir.to_str().unwrap_or("")
    }
}

// ------------------------------------------------------------ host fixtures

fn write(p: &Path, s: &str) -> io::Result<()> {
    if let Some(d) = p.parent() {
        fs::create_dir_all(d)?;
    }
    fs::write(p, s)
}

fn setup_basic(dir: &Path) -> io::Result<()> {
    let root = dir.join("rootfs");
    for d in ["bin", "etc/rodir", "proc", "sys", "dev", "tmp", "maskdir"] {
        fs::create_dir_all(root.join(d))?;
    }
    fs::copy("/bin/busybox", root.join("bin/busybox"))?;
    fs::set_permissions(root.join("bin/busybox"), fs::Permissions::from_mode(0o755))?;
    write(&root.join("etc/hostname"), "tsoci-test\n")?;
    write(&root.join("etc/secret"), "top secret\n")?;
    write(&root.join("etc/rodir/file"), "ro\n")?;
    write(&root.join("maskdir/inside"), "hidden\n")?;
    write(&root.join("marker"), "this is the rootfs\n")?;
    write(&dir.join("hostdata/hello"), "host data\n")?;
    fs::create_dir_all(dir.join("hostdata/sub"))?;
    write(&dir.join("hostfile"), "a host file\n")?;
    Ok(())
}

fn host_basic(dir: &Path) -> R {
    let s = fs::read_to_string(dir.join("hostdata/hello")).map_err(e("hostdata/hello"))?;
    ensure!(s == "host data\n", "host file changed: {s:?}");
    let names: Vec<_> = fs::read_dir(dir.join("hostdata"))
        .map_err(e("hostdata"))?
        .flatten()
        .map(|d| d.file_name())
        .collect();
    ensure!(names.len() == 2, "hostdata gained entries: {names:?}");
    no_mounts_below(dir)
}

/// The runner is in the host mount namespace: nothing below the temp dir
/// may be mounted there.
fn no_mounts_below(dir: &Path) -> R {
    let d = dir.to_str().unwrap_or("");
    let mi = read_mountinfo()?;
    let leaked: Vec<_> = mi
        .iter()
        .filter(|m| m.mount_point.starts_with(d))
        .map(|m| m.mount_point.clone())
        .collect();
    ensure!(
        leaked.is_empty(),
        "mounts leaked into the host namespace: {leaked:?}"
    );
    Ok(())
}

fn setup_escape(dir: &Path) -> io::Result<()> {
    setup_basic(dir)?;
    let root = dir.join("rootfs");
    let d = dir.to_str().unwrap_or("");
    for o in [
        "outside-proc",
        "outside-dev",
        "outside-bind",
        "outside-magic",
        "outside-dots",
    ] {
        fs::create_dir_all(dir.join(o))?;
    }
    fs::remove_dir(root.join("proc"))?;
    fs::remove_dir(root.join("dev"))?;
    // Absolute symlinks naming host directories.
    std::os::unix::fs::symlink(format!("{d}/outside-proc"), root.join("proc"))?;
    std::os::unix::fs::symlink(format!("{d}/outside-dev"), root.join("dev"))?;
    // A relative one climbing far above the rootfs.
    std::os::unix::fs::symlink(
        format!("../../../../../../../..{d}/outside-dots"),
        root.join("dots"),
    )?;
    // A chain: link1 -> link2 -> host dir.
    std::os::unix::fs::symlink("/link2", root.join("link1"))?;
    std::os::unix::fs::symlink(format!("{d}/outside-bind"), root.join("link2"))?;
    // A masked path that points at the host's /etc/passwd.
    write(
        &root.join("etc/passwd"),
        "root:x:0:0:container root:/root:/bin/sh\n",
    )?;
    std::os::unix::fs::symlink("/etc/passwd", root.join("secret-link"))?;
    // A masked path that is a symlink into /proc.
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", root.join("core-link"))?;
    // Magic links through the container's own /proc.
    std::os::unix::fs::symlink(
        format!("/proc/self/root{d}/outside-magic"),
        root.join("magic"),
    )?;
    std::os::unix::fs::symlink("/proc/self/root/etc/passwd", root.join("magic-file"))?;
    Ok(())
}

fn host_escape(dir: &Path) -> R {
    for o in [
        "outside-proc",
        "outside-dev",
        "outside-bind",
        "outside-magic",
        "outside-dots",
    ] {
        let entries: Vec<_> = fs::read_dir(dir.join(o))
            .map_err(e(o))?
            .flatten()
            .map(|d| d.file_name())
            .collect();
        ensure!(
            entries.is_empty(),
            "host dir {o} was written to: {entries:?}"
        );
    }
    let passwd = fs::read_to_string("/etc/passwd").map_err(e("/etc/passwd"))?;
    ensure!(
        passwd.starts_with("root:"),
        "host /etc/passwd looks wrong: {passwd:?}"
    );
    no_mounts_below(dir)
}

// ---------------------------------------------------------- helper utilities

fn read_mountinfo() -> Result<Vec<MountInfo>, String> {
    Ok(parse_mountinfo(
        &fs::read_to_string("/proc/self/mountinfo").map_err(e("mountinfo"))?,
    ))
}

/// The topmost mount at `mp`.
fn mount_at<'a>(mi: &'a [MountInfo], mp: &str) -> Option<&'a MountInfo> {
    mi.iter().rev().find(|m| m.mount_point == mp)
}

fn has_opt(m: &MountInfo, o: &str) -> bool {
    m.options.split(',').any(|x| x == o)
}

fn errno_of<T>(r: io::Result<T>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

fn plan(v: Value) -> Result<RootfsPlan, String> {
    RootfsPlan::from_json(&v.to_string()).map_err(|e| format!("plan: {e}"))
}

fn run<T>(what: &str, r: Result<T, MountError>) -> Result<T, String> {
    r.map_err(|e| format!("{what} failed: {e} [{}]", e.errno_name()))
}

/// Every mount that was not there before must lie inside the rootfs.
fn new_mounts_inside(before: &[MountInfo], root: &str) -> Result<Vec<MountInfo>, String> {
    let after = read_mountinfo()?;
    let new: Vec<MountInfo> = after
        .into_iter()
        .filter(|m| !before.iter().any(|b| b.id == m.id))
        .collect();
    for m in &new {
        ensure!(
            m.mount_point == root || m.mount_point.starts_with(&format!("{root}/")),
            "a mount escaped the rootfs: {} ({})",
            m.mount_point,
            m.fs_type
        );
    }
    Ok(new)
}

fn default_mounts() -> Value {
    json!([
        {"destination": "/proc", "type": "proc", "source": "proc", "flags": MS_NOSUID | MS_NOEXEC | MS_NODEV},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "flags": MS_NOSUID | MS_STRICTATIME,
         "data": "mode=755,size=65536k"},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "flags": MS_NOSUID | MS_NOEXEC,
         "data": "newinstance,ptmxmode=0666,mode=0620"},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "flags": MS_NOSUID | MS_NOEXEC | MS_NODEV,
         "data": "mode=1777,size=65536k"},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "flags": MS_NOSUID | MS_NOEXEC | MS_NODEV},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "flags": MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "flags": MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY}
    ])
}

fn default_devices() -> Value {
    json!([
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666, "uid": 0, "gid": 0},
        {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666, "uid": 0, "gid": 0},
        {"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 0o666, "uid": 0, "gid": 0},
        {"path": "/dev/urandom", "type": "c", "major": 1, "minor": 9, "fileMode": 0o666, "uid": 0, "gid": 0},
        {"path": "/dev/tty", "type": "c", "major": 5, "minor": 0, "fileMode": 0o666, "uid": 0, "gid": 0}
    ])
}

fn default_symlinks() -> Value {
    json!([
        ["/proc/self/fd", "/dev/fd"],
        ["/proc/self/fd/0", "/dev/stdin"],
        ["pts/ptmx", "/dev/ptmx"]
    ])
}

// ------------------------------------------------------------- full lifecycle

fn full_lifecycle(ctx: &Ctx) -> R {
    let root = ctx.root_str();
    let d = ctx.dir_str();
    // A host tree with a submount, to tell top-only from recursive flags.
    mount_tmpfs(&ctx.dir.join("hostdata/sub"))?;
    fs::write(ctx.dir.join("hostdata/sub/subfile"), "sub").map_err(e("subfile"))?;

    let mut mounts = default_mounts();
    let extra = json!([
        // rbind + ro: only the top mount becomes read-only (MS_REMOUNT
        // semantics), the submount keeps rw.
        {"destination": "/data", "type": "bind", "source": format!("{d}/hostdata"), "bind": true, "recursive": true,
         "flags": MS_RDONLY, "propagation": [MS_PRIVATE]},
        // rro: recursively read-only through mount_setattr(AT_RECURSIVE).
        {"destination": "/rdata", "type": "bind", "source": format!("{d}/hostdata"), "bind": true, "recursive": true,
         "attrSet": MOUNT_ATTR_RDONLY, "propagation": [MS_SHARED]},
        // A file bind onto a path whose parents do not exist yet.
        {"destination": "/etc/deep/er/bound-file", "type": "bind", "source": format!("{d}/hostfile"), "bind": true,
         "flags": MS_NOEXEC | MS_RDONLY},
        {"destination": "/newdir/tmp", "type": "tmpfs", "source": "tmpfs", "data": "size=1m"}
    ]);
    mounts
        .as_array_mut()
        .unwrap()
        .extend(extra.as_array().unwrap().iter().cloned());
    let mut devices = default_devices();
    devices.as_array_mut().unwrap().extend([
        json!({"path": "/dev/custom", "type": "c", "major": 1, "minor": 8, "fileMode": 0o640, "uid": 12, "gid": 34}),
        json!({"path": "/dev/sub/fifo", "type": "p", "fileMode": 0o600}),
    ]);
    let p = plan(json!({
        "root": root, "readonly": true,
        "mounts": mounts, "devices": devices, "symlinks": default_symlinks(),
        "maskedPaths": ["/proc/keys", "/proc/timer_list", "/proc/acpi", "/proc/does-not-exist", "/etc/secret", "/maskdir"],
        "readonlyPaths": ["/proc/sys", "/proc/bus", "/etc/rodir", "/nope"]
    }))?;

    // A restrictive umask must not leak into device or directory modes.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let host_unified = host_cgroup_unified();
    let before = read_mountinfo()?;
    run("prepare_rootfs", prepare_rootfs(&p))?;
    let new = new_mounts_inside(&before, root)?;
    ensure!(
        new.len() >= 12,
        "expected the rootfs bind and the config mounts, got {}",
        new.len()
    );
    let rootmount = mount_at(&new, root).ok_or("the rootfs is not a mount point after prepare")?;
    ensure!(
        rootmount.root == root || rootmount.root.ends_with("/rootfs"),
        "rootfs bind root is {}",
        rootmount.root
    );

    // A witness of the host's /tmp from before the pivot.
    let witness = fs::File::open(&ctx.dir).map_err(e("witness"))?;

    run("enter_rootfs", enter_rootfs(&p))?;
    ensure!(
        fs::read_to_string("/marker").map_err(e("/marker"))? == "this is the rootfs\n",
        "/ is not the rootfs"
    );
    ensure!(
        std::env::current_dir().map_err(e("cwd"))? == Path::new("/"),
        "cwd is not /"
    );
    ensure!(
        !Path::new(root).join("marker").exists() || root == "/",
        "old root is still reachable by path"
    );

    run("finalize_rootfs", finalize_rootfs(&p))?;
    let mi = read_mountinfo()?;
    let get = |mp: &str| {
        mount_at(&mi, mp).ok_or(format!(
            "no mount at {mp}; mountinfo: {:#?}",
            mi.iter().map(|m| &m.mount_point).collect::<Vec<_>>()
        ))
    };

    // The config mounts, with their types and flags.
    for (mp, ty) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
        ("/sys/fs/cgroup", "tmpfs"),
        ("/newdir/tmp", "tmpfs"),
    ] {
        let m = get(mp)?;
        ensure!(m.fs_type == ty, "{mp} is {} not {ty}", m.fs_type);
    }
    let proc_m = get("/proc")?;
    ensure!(
        has_opt(proc_m, "nosuid") && has_opt(proc_m, "nodev") && has_opt(proc_m, "noexec"),
        "/proc flags: {}",
        proc_m.options
    );
    ensure!(
        has_opt(get("/dev")?, "strictatime") || !get("/dev")?.options.contains("relatime"),
        "/dev atime: {}",
        get("/dev")?.options
    );
    ensure!(
        get("/dev/shm")?.super_options.contains("size=65536k"),
        "/dev/shm data not applied: {}",
        get("/dev/shm")?.super_options
    );
    let shm = fs::metadata("/dev/shm").map_err(e("/dev/shm"))?;
    ensure!(
        shm.mode() & 0o7777 == 0o1777,
        "/dev/shm mode {:o}",
        shm.mode() & 0o7777
    );
    let devm = fs::metadata("/dev").map_err(e("/dev"))?;
    ensure!(
        devm.mode() & 0o7777 == 0o755,
        "/dev mode {:o} (data mode=755 not applied)",
        devm.mode() & 0o7777
    );
    ensure!(has_opt(get("/sys")?, "ro"), "/sys not ro");
    ensure!(
        get("/dev/pts")?.super_options.contains("ptmxmode=666"),
        "devpts data: {}",
        get("/dev/pts")?.super_options
    );
    ensure!(
        has_opt(get("/")?, "ro"),
        "readonly root not applied: {}",
        get("/")?.options
    );

    // cgroup v1 layout on this hybrid host: read-only tmpfs + own hierarchies.
    check_cgroup_layout(&mi, host_unified)?;

    // Bind flags: top-only ro vs recursive ro, and propagation.
    let data = get("/data")?;
    ensure!(has_opt(data, "ro"), "/data not ro: {}", data.options);
    ensure!(
        !data.optional.iter().any(|o| o.starts_with("shared:")),
        "/data should be private"
    );
    ensure!(
        fs::read_to_string("/data/hello").map_err(e("/data/hello"))? == "host data\n",
        "/data content"
    );
    ensure!(
        errno_of(fs::write("/data/new", "x")) == Some(libc::EROFS),
        "/data writable"
    );
    ensure!(
        fs::write("/data/sub/ok", "x").is_ok(),
        "rbind + ro made the submount ro too (should be top only)"
    );
    let _ = fs::remove_file("/data/sub/ok");
    let rdata = get("/rdata")?;
    ensure!(
        rdata.optional.iter().any(|o| o.starts_with("shared:")),
        "/rdata should be shared: {:?}",
        rdata.optional
    );
    ensure!(
        errno_of(fs::write("/rdata/sub/no", "x")) == Some(libc::EROFS),
        "rro did not reach the submount"
    );
    let bf = get("/etc/deep/er/bound-file")?;
    ensure!(
        has_opt(bf, "ro") && has_opt(bf, "noexec"),
        "file bind flags: {}",
        bf.options
    );
    ensure!(
        fs::read_to_string("/etc/deep/er/bound-file").map_err(e("bound-file"))? == "a host file\n",
        "file bind content"
    );
    let md = fs::metadata("/etc/deep").map_err(e("/etc/deep"))?;
    ensure!(
        md.mode() & 0o7777 == 0o755,
        "created parent dir mode {:o} (umask leaked?)",
        md.mode() & 0o7777
    );

    // Devices: exact modes despite umask 077, owners, types.
    for (p, maj, min) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        let m = fs::symlink_metadata(p).map_err(e(p))?;
        ensure!(m.file_type().is_char_device(), "{p} is not a char device");
        ensure!(
            rustix::fs::major(m.rdev()) == maj && rustix::fs::minor(m.rdev()) == min,
            "{p} has the wrong numbers"
        );
        ensure!(
            m.mode() & 0o7777 == 0o666,
            "{p} mode {:o}",
            m.mode() & 0o7777
        );
    }
    let c = fs::symlink_metadata("/dev/custom").map_err(e("/dev/custom"))?;
    ensure!(
        c.mode() & 0o7777 == 0o640 && c.uid() == 12 && c.gid() == 34,
        "/dev/custom: mode {:o} {}:{}",
        c.mode() & 0o7777,
        c.uid(),
        c.gid()
    );
    let f = fs::symlink_metadata("/dev/sub/fifo").map_err(e("fifo"))?;
    ensure!(
        f.file_type().is_fifo() && f.mode() & 0o7777 == 0o600,
        "fifo: {:o}",
        f.mode()
    );
    let mut zero = [1u8; 4];
    use std::io::Read;
    fs::File::open("/dev/zero")
        .and_then(|mut f| f.read_exact(&mut zero))
        .map_err(e("/dev/zero"))?;
    ensure!(zero == [0; 4], "/dev/zero is not the zero device");
    ensure!(
        fs::read_link("/dev/fd").map_err(e("/dev/fd"))? == Path::new("/proc/self/fd"),
        "/dev/fd link"
    );
    ensure!(
        fs::read_link("/dev/ptmx").map_err(e("/dev/ptmx"))? == Path::new("pts/ptmx"),
        "/dev/ptmx link"
    );

    // Masked paths.
    ensure!(
        fs::read_to_string("/etc/secret")
            .map_err(e("/etc/secret"))?
            .is_empty(),
        "/etc/secret not masked"
    );
    ensure!(
        fs::read("/proc/keys").map_err(e("/proc/keys"))?.is_empty(),
        "/proc/keys not masked"
    );
    ensure!(
        fs::read_dir("/proc/acpi")
            .map_err(e("/proc/acpi"))?
            .next()
            .is_none(),
        "/proc/acpi not masked"
    );
    ensure!(
        has_opt(get("/proc/acpi")?, "ro") && get("/proc/acpi")?.fs_type == "tmpfs",
        "/proc/acpi mask"
    );
    ensure!(
        fs::read_dir("/maskdir")
            .map_err(e("/maskdir"))?
            .next()
            .is_none(),
        "/maskdir not masked"
    );
    ensure!(
        errno_of(fs::write("/maskdir/x", "x")) == Some(libc::EROFS),
        "masked dir tmpfs is writable"
    );
    let secret = get("/etc/secret")?;
    ensure!(
        secret.root == "/null" && secret.fs_type == "tmpfs",
        "/etc/secret is not a /dev/null bind: {secret:?}"
    );

    // Readonly paths.
    ensure!(has_opt(get("/proc/sys")?, "ro"), "/proc/sys not ro");
    ensure!(
        has_opt(get("/proc/sys")?, "nosuid") && has_opt(get("/proc/sys")?, "noexec"),
        "/proc/sys lost its flags"
    );
    let w = fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/kernel/hostname");
    ensure!(
        errno_of(w) == Some(libc::EROFS),
        "/proc/sys/kernel/hostname is writable"
    );
    ensure!(
        errno_of(fs::write("/etc/rodir/file", "x")) == Some(libc::EROFS),
        "/etc/rodir writable"
    );
    ensure!(
        fs::read_to_string("/etc/rodir/file").map_err(e("rodir"))? == "ro\n",
        "rodir content"
    );
    ensure!(
        errno_of(fs::write("/newfile", "x")) == Some(libc::EROFS),
        "root is writable"
    );
    ensure!(
        !Path::new("/nope").exists(),
        "a missing readonly path was created"
    );

    // The console: the pty slave, held by fd, bound onto /dev/console.
    let master =
        rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY)
            .map_err(e("openpt"))?;
    rustix::pty::unlockpt(&master).map_err(e("unlockpt"))?;
    let slave = rustix::pty::ioctl_tiocgptpeer(
        &master,
        rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY,
    )
    .map_err(e("TIOCGPTPEER"))?;
    let rootfd = fs::File::open("/").map_err(e("/"))?;
    run(
        "bind_fd",
        tsoci_mount::bind_fd(rootfd.as_fd(), slave.as_fd(), "/dev/console"),
    )?;
    let console = fs::metadata("/dev/console").map_err(e("/dev/console"))?;
    ensure!(
        console.file_type().is_char_device() && rustix::fs::major(console.rdev()) == 136,
        "/dev/console is not the pty slave"
    );
    let mi2 = read_mountinfo()?;
    ensure!(
        mount_at(&mi2, "/dev/console").is_some_and(|m| m.fs_type == "devpts"),
        "/dev/console is not a devpts bind"
    );
    let err = tsoci_mount::bind_fd(rootfd.as_fd(), slave.as_fd(), "dev/x")
        .err()
        .ok_or("relative destination accepted")?;
    ensure!(err.errno_name() == "EINVAL", "{err}");

    // procfs writes go through a verified handle.
    run("write_procfs", write_procfs("self/oom_score_adj", b"123"))?;
    ensure!(
        fs::read_to_string("/proc/self/oom_score_adj")
            .map_err(e("oom"))?
            .trim()
            == "123",
        "oom_score_adj not written"
    );
    let mounted = run("ProcfsHandle::mounted", ProcfsHandle::mounted("/proc"))?;
    let over = mounted
        .open("sys/kernel/ostype", rustix::fs::OFlags::RDONLY)
        .err()
        .ok_or("an overmounted procfs path was opened")?;
    ensure!(over.errno_name() == "EXDEV", "overmount refusal: {over}");
    let kc = mounted
        .open("keys", rustix::fs::OFlags::RDONLY)
        .err()
        .ok_or("masked /proc/keys opened through procfs")?;
    ensure!(kc.errno_name() == "EXDEV", "{kc}");
    let notproc = ProcfsHandle::mounted("/dev")
        .err()
        .ok_or("/dev accepted as procfs")?;
    ensure!(notproc.to_string().contains("not procfs"), "{notproc}");
    // /proc/sys is procfs and a mount root (the read-only bind), but not
    // the root of procfs.
    let sub = ProcfsHandle::mounted("/proc/sys")
        .err()
        .ok_or("a procfs subdirectory accepted as procfs root")?;
    ensure!(
        sub.errno_name() == "EXDEV" && sub.to_string().contains("not the root"),
        "{sub}"
    );
    let link = ProcfsHandle::mounted("/proc/self")
        .err()
        .ok_or("a symlink accepted as procfs root")?;
    ensure!(link.errno_name() == "ENOTDIR", "{link}");
    let fresh = run("ProcfsHandle::fresh", ProcfsHandle::fresh())?;
    let ostype = run("fresh read", fresh.read_to_string("sys/kernel/ostype"))?;
    ensure!(ostype.trim() == "Linux", "ostype {ostype:?}");
    let bad = write_procfs("../etc/passwd", b"x")
        .err()
        .ok_or("'..' accepted")?;
    ensure!(bad.errno_name() == "EINVAL", "{bad}");

    // A program runs in there.
    let out = Command::new("/bin/busybox")
        .args(["cat", "/etc/hostname"])
        .output()
        .map_err(e("busybox"))?;
    ensure!(
        out.status.success() && out.stdout == b"tsoci-test\n",
        "busybox in the rootfs: {out:?}"
    );

    // The host is unreachable by path but the witness fd still sees it.
    let w = rustix::fs::openat(
        &witness,
        "hostdata/hello",
        rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .map_err(e("witness"))?;
    let mut s = String::new();
    fs::File::from(w)
        .read_to_string(&mut s)
        .map_err(e("witness read"))?;
    ensure!(
        s == "host data\n",
        "host file seen through the witness changed: {s:?}"
    );
    Ok(())
}

fn check_cgroup_layout(mi: &[MountInfo], host_unified: bool) -> R {
    let top = mount_at(mi, "/sys/fs/cgroup").ok_or("no /sys/fs/cgroup")?;
    if host_unified {
        ensure!(
            top.fs_type == "cgroup2" && has_opt(top, "ro"),
            "/sys/fs/cgroup: {top:?}"
        );
        return Ok(());
    }
    ensure!(
        top.fs_type == "tmpfs" && has_opt(top, "ro"),
        "/sys/fs/cgroup: {top:?}"
    );
    let own = fs::read_to_string("/proc/self/cgroup").map_err(e("/proc/self/cgroup"))?;
    let host_has = |c: &str| {
        own.lines().any(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|cs| cs.split(',').any(|x| x == c))
        })
    };
    let mut seen = 0;
    for entry in fs::read_dir("/sys/fs/cgroup")
        .map_err(e("/sys/fs/cgroup"))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let mp = format!("/sys/fs/cgroup/{name}");
        if entry.file_type().map_err(e(&mp))?.is_symlink() {
            let t = fs::read_link(&mp).map_err(e(&mp))?;
            ensure!(
                t.to_string_lossy().split(',').any(|c| c == name),
                "{mp} -> {t:?} is not a co-mount link"
            );
            continue;
        }
        let m = mount_at(mi, &mp).ok_or(format!("{mp} is not a mount"))?;
        ensure!(
            m.fs_type == "cgroup" || m.fs_type == "cgroup2",
            "{mp} is {}",
            m.fs_type
        );
        ensure!(
            has_opt(m, "ro") && has_opt(m, "nosuid") && has_opt(m, "noexec"),
            "{mp} flags {}",
            m.options
        );
        seen += 1;
    }
    ensure!(seen > 0, "no hierarchy under /sys/fs/cgroup");
    if host_has("memory") {
        let m = mount_at(mi, "/sys/fs/cgroup/memory").ok_or("memory hierarchy missing")?;
        // The container sees its own memory cgroup as the root of the bind.
        let line = own
            .lines()
            .find(|l| l.split(':').nth(1) == Some("memory"))
            .unwrap_or("");
        let path = line.splitn(3, ':').nth(2).unwrap_or("/");
        ensure!(
            m.root == path,
            "memory bind root {} != own cgroup {path}",
            m.root
        );
        ensure!(
            Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists(),
            "memory files missing"
        );
        let w = fs::OpenOptions::new()
            .write(true)
            .open("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        ensure!(errno_of(w) == Some(libc::EROFS), "cgroup bind writable");
    }
    Ok(())
}

/// Whether the host (seen before the pivot) has a unified-only hierarchy.
fn host_cgroup_unified() -> bool {
    rustix::fs::statfs("/sys/fs/cgroup").is_ok_and(|s| i64::from(s.f_type) == 0x6367_7270)
}

fn mount_tmpfs(p: &Path) -> R {
    rustix::mount::mount(
        "tmpfs",
        p,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None::<&std::ffi::CStr>,
    )
    .map_err(e(&format!("mount tmpfs on {}", p.display())))
}

// ----------------------------------------------------------- other scenarios

fn no_pivot(ctx: &Ctx) -> R {
    let p = plan(json!({
        "root": ctx.root_str(), "noPivot": true, "readonly": true,
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "data": "mode=755"}],
        "devices": [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}],
        "maskedPaths": ["/etc/secret"]
    }))?;
    let before = read_mountinfo()?;
    run("prepare_rootfs", prepare_rootfs(&p))?;
    new_mounts_inside(&before, ctx.root_str())?;
    run("enter_rootfs", enter_rootfs(&p))?;
    run("finalize_rootfs", finalize_rootfs(&p))?;
    ensure!(
        fs::read_to_string("/marker").map_err(e("/marker"))? == "this is the rootfs\n",
        "/ is not the rootfs"
    );
    ensure!(
        fs::read_to_string("/etc/secret")
            .map_err(e("secret"))?
            .is_empty(),
        "not masked"
    );
    ensure!(
        errno_of(fs::write("/x", "x")) == Some(libc::EROFS),
        "root writable"
    );
    let m = fs::symlink_metadata("/dev/null").map_err(e("/dev/null"))?;
    ensure!(
        m.mode() & 0o7777 == 0o666,
        "default device mode {:o}",
        m.mode() & 0o7777
    );
    Ok(())
}

fn rshared_root(ctx: &Ctx) -> R {
    // pivot_root refuses a shared parent mount; prepare must handle it.
    let mp = ctx.dir.join("parent");
    fs::create_dir_all(&mp).map_err(e("parent"))?;
    rustix::mount::mount_bind(&ctx.root, &mp).map_err(e("bind parent"))?;
    let root = mp.to_str().unwrap_or("").to_string();
    let p = plan(json!({"root": root, "propagation": "rshared",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}))?;
    run("prepare_rootfs", prepare_rootfs(&p))?;
    let mi = read_mountinfo()?;
    let slash = mi.iter().find(|m| m.mount_point == "/").ok_or("no /")?;
    ensure!(
        slash.optional.iter().any(|o| o.starts_with("shared:")),
        "/ is not shared: {:?}",
        slash.optional
    );
    run("enter_rootfs", enter_rootfs(&p))?;
    ensure!(Path::new("/marker").exists(), "not in the rootfs");
    Ok(())
}

fn escape_symlinks(ctx: &Ctx) -> R {
    let root = ctx.root_str();
    let d = ctx.dir_str();
    let p = plan(json!({
        "root": root,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "data": "mode=755"},
            {"destination": "/dots/inner", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/link1", "type": "bind", "bind": true, "source": format!("{d}/hostdata")}
        ],
        "devices": [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}],
        "symlinks": [["/proc/self/fd", "/dev/fd"]],
        "maskedPaths": ["/secret-link", "/core-link"]
    }))?;
    let before = read_mountinfo()?;
    run("prepare_rootfs", prepare_rootfs(&p))?;
    let new = new_mounts_inside(&before, root)?;
    // The symlinks were followed, but inside the rootfs.
    for (target, ty) in [
        ("outside-proc", "proc"),
        ("outside-dev", "tmpfs"),
        ("outside-dots/inner", "tmpfs"),
        ("outside-bind", "ext4"),
    ] {
        let mp = format!("{root}{d}/{target}");
        let m = mount_at(&new, &mp).ok_or(format!(
            "no mount at {mp}: {:?}",
            new.iter().map(|m| &m.mount_point).collect::<Vec<_>>()
        ))?;
        ensure!(ty == "ext4" || m.fs_type == ty, "{mp} is {}", m.fs_type);
    }
    let null =
        fs::symlink_metadata(format!("{root}{d}/outside-dev/null")).map_err(e("null in rootfs"))?;
    ensure!(
        null.file_type().is_char_device(),
        "device not created through the /dev link inside the rootfs"
    );
    // The host's /etc seen from before the pivot.
    let host_etc = fs::File::open("/etc").map_err(e("/etc"))?;
    run("enter_rootfs", enter_rootfs(&p))?;
    run("finalize_rootfs", finalize_rootfs(&p))?;
    // /secret-link -> /etc/passwd masked the container's passwd…
    ensure!(
        fs::read_to_string("/etc/passwd")
            .map_err(e("passwd"))?
            .is_empty(),
        "container passwd not masked"
    );
    // …and not the host's.
    let fd = rustix::fs::openat(
        &host_etc,
        "passwd",
        rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .map_err(e("host passwd"))?;
    let mut s = String::new();
    use std::io::Read;
    fs::File::from(fd)
        .read_to_string(&mut s)
        .map_err(e("read host passwd"))?;
    ensure!(
        s.starts_with("root:") && !s.contains("container root"),
        "host passwd seen as {s:?}"
    );
    // /core-link -> /proc/sys/kernel/core_pattern masked the container's
    // procfs file (its /proc is itself a symlink resolved inside).
    let cp = fs::read_to_string("/proc/sys/kernel/core_pattern").map_err(e("core_pattern"))?;
    ensure!(cp.is_empty(), "container core_pattern not masked: {cp:?}");
    Ok(())
}

fn escape_magic_links(ctx: &Ctx) -> R {
    let root = ctx.root_str();
    // /magic -> /proc/self/root/<host dir>: a magic link out of the rootfs.
    let p = plan(json!({
        "root": root,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/magic/x", "type": "tmpfs", "source": "tmpfs"}
        ]
    }))?;
    let before = read_mountinfo()?;
    let err = prepare_rootfs(&p)
        .err()
        .ok_or("a mount through a magic link succeeded")?;
    ensure!(err.errno_name() == "ELOOP", "expected ELOOP, got {err}");
    ensure!(
        err.to_string()
            .contains("rootfs.mounts[1] (tmpfs on /magic/x)"),
        "error does not name the mount: {err}"
    );
    new_mounts_inside(&before, root)?;

    // Masked path through /proc/self/root: refused, not followed.
    let p2 = plan(json!({"root": root, "maskedPaths": ["/magic-file"],
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}))?;
    run("prepare_rootfs", prepare_rootfs(&p2))?;
    run("enter_rootfs", enter_rootfs(&p2))?;
    let before = read_mountinfo()?;
    let err = finalize_rootfs(&p2)
        .err()
        .ok_or("masking through a magic link succeeded")?;
    ensure!(err.errno_name() == "ELOOP", "expected ELOOP, got {err}");
    ensure!(
        err.to_string().contains("rootfs.maskedPaths[0]")
            && err.to_string().contains("/magic-file"),
        "{err}"
    );
    ensure!(
        read_mountinfo()?.len() == before.len(),
        "a mount was made anyway"
    );
    Ok(())
}

fn devnull_swapped(ctx: &Ctx) -> R {
    // CVE-2025-31133: the container's /dev/null is a symlink to a procfs
    // file; masking must refuse to use it instead of binding the target.
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", ctx.root.join("dev/null"))
        .map_err(e("symlink"))?;
    let p = plan(
        json!({"root": ctx.root_str(), "maskedPaths": ["/etc/secret"],
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}),
    )?;
    run("prepare_rootfs", prepare_rootfs(&p))?;
    run("enter_rootfs", enter_rootfs(&p))?;
    let before = read_mountinfo()?;
    let err = finalize_rootfs(&p)
        .err()
        .ok_or("a fake /dev/null was used for masking")?;
    ensure!(err.to_string().contains("not the null device"), "{err}");
    ensure!(err.errno_name() == "ENODEV", "{err}");
    ensure!(
        read_mountinfo()?.len() == before.len(),
        "something was mounted"
    );
    ensure!(
        fs::read_to_string("/etc/secret").map_err(e("secret"))? == "top secret\n",
        "secret changed"
    );

    // A regular file named /dev/null is refused the same way.
    fs::remove_file("/dev/null").map_err(e("rm"))?;
    fs::write("/dev/null", "").map_err(e("fake null"))?;
    let err = finalize_rootfs(&p)
        .err()
        .ok_or("a regular file was used as /dev/null")?;
    ensure!(err.to_string().contains("a regular file"), "{err}");
    Ok(())
}

fn errors_name_the_mount(ctx: &Ctx) -> R {
    let root = ctx.root_str();
    let d = ctx.dir_str();
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"destination": "/x", "type": "nosuchfs", "source": "none"}),
            "rootfs.mounts[0] (nosuchfs on /x)",
            "ENODEV",
        ),
        (
            json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs", "data": "size=banana"}),
            "size",
            "EINVAL",
        ),
        // A file source onto an existing directory target.
        (
            json!({"destination": "/etc", "type": "bind", "bind": true, "source": format!("{d}/hostfile")}),
            "expected a non-directory",
            "EISDIR",
        ),
        // A directory source onto an existing file target.
        (
            json!({"destination": "/etc/hostname", "type": "bind", "bind": true, "source": format!("{d}/hostdata")}),
            "expected a directory",
            "ENOTDIR",
        ),
        (
            json!({"destination": "/x", "type": "bind", "bind": true, "source": format!("{d}/no-such-source")}),
            "no-such-source",
            "ENOENT",
        ),
    ];
    for (m, needle, errno) in cases {
        let p = plan(json!({"root": root, "mounts": [m]}))?;
        let err = prepare_rootfs(&p).err().ok_or(format!("{m} succeeded"))?;
        ensure!(
            err.to_string().contains(needle),
            "error for {m} does not mention {needle:?}: {err}"
        );
        ensure!(
            err.errno_name() == errno,
            "error for {m}: {} instead of {errno}: {err}",
            err.errno_name()
        );
    }
    let tmp = ctx.dir.join("not-a-mount");
    fs::create_dir_all(&tmp).map_err(e("mkdir"))?;
    let p = plan(json!({"root": tmp.to_str()}))?;
    let err = enter_rootfs(&p)
        .err()
        .ok_or("enter_rootfs without prepare succeeded")?;
    ensure!(err.to_string().contains("not a mount point"), "{err}");
    Ok(())
}

fn open_in_root_primitive(ctx: &Ctx) -> R {
    let rootfd = fs::File::open(&ctx.root).map_err(e("root"))?;
    let root = rootfd.as_fd();
    let d = ctx.dir_str();
    // Creating through a dangling absolute symlink chain stays inside.
    let fd = run(
        "mkdir_all",
        open_in_root(root, "/link1/a/b", OpenInRoot::mkdir_all()),
    )?;
    let st = rustix::fs::fstat(&fd).map_err(e("fstat"))?;
    ensure!(
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory,
        "not a dir"
    );
    ensure!(
        ctx.root
            .join(format!("{}/outside-bind/a/b", &d[1..]))
            .is_dir(),
        "not created inside the rootfs"
    );
    ensure!(
        fs::read_dir(ctx.dir.join("outside-bind"))
            .map_err(e("outside"))?
            .next()
            .is_none(),
        "created outside"
    );
    // ".." cannot climb out.
    run(
        "dots",
        open_in_root(root, "/../../../../etc/hostname", OpenInRoot::path()),
    )?;
    let fd = run(
        "file",
        open_in_root(root, "/../../x/y/file", OpenInRoot::file().with_mode(0o600)),
    )?;
    let st = rustix::fs::fstat(&fd).map_err(e("fstat"))?;
    ensure!(
        st.st_mode & 0o7777 == 0o600,
        "file mode {:o}",
        st.st_mode & 0o7777
    );
    ensure!(
        ctx.root.join("x/y/file").is_file(),
        "file not created at rootfs/x/y/file"
    );
    // Kind checks.
    let err = open_in_root(root, "/etc/hostname", OpenInRoot::mkdir_all())
        .err()
        .ok_or("file accepted as dir")?;
    ensure!(err.errno_name() == "ENOTDIR", "{err}");
    let err = open_in_root(root, "/etc", OpenInRoot::file())
        .err()
        .ok_or("dir accepted as file")?;
    ensure!(err.errno_name() == "EISDIR", "{err}");
    let err = open_in_root(root, "/missing", OpenInRoot::path())
        .err()
        .ok_or("missing path opened")?;
    ensure!(
        err.errno_name() == "ENOENT" && err.to_string().contains("/missing"),
        "{err}"
    );
    let err = open_in_root(root, "relative", OpenInRoot::path())
        .err()
        .ok_or("relative path accepted")?;
    ensure!(err.errno_name() == "EINVAL", "{err}");
    // A symlink loop ends in ELOOP, not a hang.
    std::os::unix::fs::symlink("/loop-b/x", ctx.root.join("loop-a")).map_err(e("loop"))?;
    std::os::unix::fs::symlink("/loop-a/x", ctx.root.join("loop-b")).map_err(e("loop"))?;
    let err = open_in_root(root, "/loop-a/z", OpenInRoot::mkdir_all())
        .err()
        .ok_or("loop resolved")?;
    ensure!(err.errno_name() == "ELOOP", "{err}");
    Ok(())
}

fn user_namespace(ctx: &Ctx) -> R {
    let root = ctx.root_str();
    let d = ctx.dir_str();
    let p = plan(json!({
        "root": root, "bindDevices": true,
        "mounts": default_mounts(),
        "devices": default_devices(),
        "symlinks": default_symlinks(),
        "maskedPaths": ["/proc/keys", "/etc/secret", "/maskdir"],
        "readonlyPaths": ["/proc/sys"]
    }))?;
    let mut p = p;
    // "suid" asked on a source whose nosuid is locked in this user namespace:
    // the flag is kept instead of failing (runc's statfs retry).
    p.mounts.push(
        RootfsPlan::from_json(&json!({"root": "/", "mounts": [{"destination": "/locked", "type": "bind", "bind": true,
            "source": format!("{d}/nosuid"), "flags": MS_RDONLY, "clearFlags": MS_NOSUID}]}).to_string())
        .map_err(|e| e.to_string())?
        .mounts
        .remove(0),
    );
    let host_unified = host_cgroup_unified();
    let before = read_mountinfo()?;
    run("prepare_rootfs", prepare_rootfs(&p))?;
    new_mounts_inside(&before, root)?;
    run("enter_rootfs", enter_rootfs(&p))?;
    run("finalize_rootfs", finalize_rootfs(&p))?;
    let mi = read_mountinfo()?;
    let null = mount_at(&mi, "/dev/null").ok_or("/dev/null is not a bind of the host node")?;
    ensure!(null.root == "/null", "/dev/null bind root {}", null.root);
    let m = fs::metadata("/dev/null").map_err(e("/dev/null"))?;
    ensure!(
        m.file_type().is_char_device() && m.rdev() == rustix::fs::makedev(1, 3),
        "/dev/null"
    );
    fs::write("/dev/null", "discarded").map_err(e("write /dev/null"))?;
    ensure!(
        mount_at(&mi, "/proc").map(|m| m.fs_type.as_str()) == Some("proc"),
        "no proc"
    );
    ensure!(
        mount_at(&mi, "/sys").is_some_and(|m| has_opt(m, "ro")),
        "/sys missing or rw"
    );
    ensure!(
        fs::read_to_string("/etc/secret")
            .map_err(e("secret"))?
            .is_empty(),
        "not masked"
    );
    let locked = mount_at(&mi, "/locked").ok_or("/locked missing")?;
    ensure!(
        has_opt(locked, "nosuid") && has_opt(locked, "ro"),
        "/locked flags {}",
        locked.options
    );
    ensure!(
        std::process::id() == 1,
        "not pid 1 in the new pid namespace"
    );
    // In its own cgroup namespace the container sees its cgroups as "/"; the
    // host's memory hierarchy mount (the runner sits in a memory sub-cgroup)
    // lies outside that root, so a new instance is mounted for it.
    check_cgroup_layout(&mi, host_unified)?;
    run("write_procfs", write_procfs("self/oom_score_adj", b"200"))?;
    // The ladder writes sysctls after finalize: /proc/sys is read-only by
    // then, but the write goes through a fresh procfs instance. shmmax
    // belongs to this scenario's own IPC namespace.
    let w = fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/kernel/shmmax");
    ensure!(
        errno_of(w) == Some(libc::EROFS),
        "/proc/sys is writable in the container"
    );
    run(
        "write_procfs sysctl",
        write_procfs("sys/kernel/shmmax", b"123456789"),
    )?;
    let v = fs::read_to_string("/proc/sys/kernel/shmmax").map_err(e("shmmax"))?;
    ensure!(v.trim() == "123456789", "sysctl not written: {v:?}");
    Ok(())
}

// ------------------------------------------------------------------ helper

fn sys_fail(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

fn unshare(flags: libc::c_int) -> R {
    // SAFETY: unshare takes no pointers; the helper is single-threaded.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(sys_fail("unshare"));
    }
    Ok(())
}

fn private_mount_ns() -> R {
    unshare(libc::CLONE_NEWNS)?;
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
    )
    .map_err(e("make / rprivate"))
}

fn helper(name: &str) -> ExitCode {
    let Some(sc) = SCENARIOS.iter().find(|s| s.name == name) else {
        eprintln!("unknown scenario {name}");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(std::env::var("TSOCI_MOUNT_DIR").unwrap_or_default());
    let ctx = Ctx {
        root: dir.join("rootfs"),
        dir,
    };
    let r = match sc.ns {
        Ns::Mount => private_mount_ns().and_then(|()| (sc.inside)(&ctx)),
        Ns::User => in_user_namespace(&ctx, sc.inside),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

fn in_user_namespace(ctx: &Ctx, f: fn(&Ctx) -> R) -> R {
    private_mount_ns()?;
    // A host mount with nosuid, which becomes locked in the user namespace.
    let nosuid = ctx.dir.join("nosuid");
    fs::create_dir_all(&nosuid).map_err(e("nosuid dir"))?;
    rustix::mount::mount(
        "tmpfs",
        &nosuid,
        "tmpfs",
        rustix::mount::MountFlags::NOSUID,
        None::<&std::ffi::CStr>,
    )
    .map_err(e("nosuid tmpfs"))?;
    unshare(
        libc::CLONE_NEWUSER
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWCGROUP,
    )?;
    fs::write("/proc/self/setgroups", "deny").map_err(e("setgroups"))?;
    fs::write("/proc/self/uid_map", "0 0 1").map_err(e("uid_map"))?;
    fs::write("/proc/self/gid_map", "0 0 1").map_err(e("gid_map"))?;
    io::stderr().flush().ok();
    // SAFETY: the helper is single-threaded, so the child may run any code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(sys_fail("fork"));
    }
    if pid == 0 {
        let code = match f(ctx) {
            Ok(()) => 0,
            Err(msg) => {
                eprintln!("{msg}");
                1
            }
        };
        io::stderr().flush().ok();
        // SAFETY: terminates the child without running the parent's atexit
        // handlers twice.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: `status` is a valid out pointer; `pid` is our child.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        return Err(sys_fail("waitpid"));
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(format!(
            "pid-namespace child failed (wait status {status:#x})"
        ))
    }
}

// ------------------------------------------------------------------ runner

fn main() -> ExitCode {
    if let Ok(name) = std::env::var("TSOCI_MOUNT_SCENARIO") {
        return helper(&name);
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.name.contains(f.as_str())))
        .collect();
    if rustix::process::geteuid().as_raw() != 0 {
        println!(
            "running 0 tests: the rootfs scenarios need root (skipped {})",
            selected.len()
        );
        return ExitCode::SUCCESS;
    }
    if !Path::new("/bin/busybox").exists() {
        println!("FAILED: /bin/busybox (busybox-static) is required for the test rootfs");
        return ExitCode::FAILURE;
    }
    println!("running {} rootfs scenarios", selected.len());
    let mut failed = Vec::new();
    for sc in &selected {
        let r = run_scenario(sc);
        match &r {
            Ok(()) => println!("test {} ... ok", sc.name),
            Err(msg) => {
                println!("test {} ... FAILED\n{msg}\n", sc.name);
                failed.push(sc.name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run_scenario(sc: &Scenario) -> R {
    let dir = std::env::temp_dir().join(format!("tsoci-mount-{}-{}", std::process::id(), sc.name));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(e("temp dir"))?;
    let result = (|| {
        (sc.setup)(&dir).map_err(e("setup"))?;
        let host_passwd = fs::read("/etc/passwd").map_err(e("/etc/passwd"))?;
        let host_core = fs::read("/proc/sys/kernel/core_pattern").map_err(e("core_pattern"))?;
        let exe = std::env::current_exe().map_err(e("current_exe"))?;
        let out = Command::new(exe)
            .env("TSOCI_MOUNT_SCENARIO", sc.name)
            .env("TSOCI_MOUNT_DIR", &dir)
            .output()
            .map_err(e("spawn helper"))?;
        let helper_ok = out.status.success();
        let host = (sc.host_check)(&dir);
        ensure!(
            fs::read("/etc/passwd").map_err(e("/etc/passwd"))? == host_passwd,
            "host /etc/passwd changed"
        );
        ensure!(
            fs::read("/proc/sys/kernel/core_pattern").map_err(e("core_pattern"))? == host_core,
            "host core_pattern changed"
        );
        ensure!(
            helper_ok,
            "helper failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        host
    })();
    // Mounts lived in the helper's namespaces and are gone; only files remain.
    let cleanup = fs::remove_dir_all(&dir).map_err(e("cleanup"));
    result.and(cleanup)
}
