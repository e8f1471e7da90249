//! Container-init mode (`_TSOCI_SYNC_FD`): the PROTOCOL.md ladder for
//! `create` and `exec` plans.

use crate::common::{become_root_if_mapped, cstrings, resolve_program, verify_cwd, Failure};
use crate::frame::{self, FromParent, ToParent};
use crate::plan::{self, Checked, ConsoleSize, Mode};
use crate::sys::{self, Ended, Forked};
use rustix::fs::{FileType, OFlags};
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use tsoci_mount::{Access as MountAccess, OpenInRoot};
use tsoci_ns::{open_ns, setns, unshare, NamespaceKind};
use tsoci_process::caps::{self, CapMask, CapSets};
use tsoci_process::{console, misc, rlimit, seccomp, user, Errno};

/// The sync socket to the parent.
pub struct Sync {
    fd: OwnedFd,
    debug: bool,
}

impl Sync {
    /// Takes over the fd named by `_TSOCI_SYNC_FD` after checking it is a
    /// socket, and makes it close-on-exec so the final execve closes it.
    pub fn from_env(value: &str, debug: bool) -> Result<Sync, String> {
        let n: i32 = value
            .parse()
            .map_err(|_| format!("_TSOCI_SYNC_FD={value:?} is not an fd number"))?;
        if n < 3 {
            return Err(format!(
                "_TSOCI_SYNC_FD={n}: the sync socket must not be a stdio fd"
            ));
        }
        // SAFETY: `n` was handed to us as the sync fd by the spawning parent;
        // nothing else in this process owns it. If it is not open, fstat
        // below fails and the OwnedFd's drop merely gets EBADF.
        let fd = unsafe { OwnedFd::from_raw_fd(n) };
        let st = rustix::fs::fstat(&fd)
            .map_err(|e| format!("_TSOCI_SYNC_FD={n}: {}", Errno::from(e)))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Socket {
            return Err(format!("_TSOCI_SYNC_FD={n}: not a socket"));
        }
        sys::set_cloexec(fd.as_fd())
            .map_err(|e| format!("_TSOCI_SYNC_FD={n}: setting FD_CLOEXEC: {e}"))?;
        Ok(Sync { fd, debug })
    }

    pub fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    pub fn send(&self, msg: &ToParent<'_>) -> Result<(), Failure> {
        let json = serde_json::to_vec(msg)
            .map_err(|e| Failure::new(format!("encoding a message: {e}"), None))?;
        let buf = frame::encode_frame(&json)
            .map_err(|e| Failure::new(e.to_string(), Some("EMSGSIZE")))?;
        let mut rest = &buf[..];
        while !rest.is_empty() {
            // MSG_NOSIGNAL: a parent that went away must not SIGPIPE us.
            match rustix::net::send(&self.fd, rest, rustix::net::SendFlags::NOSIGNAL) {
                Ok(n) => rest = &rest[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Failure::sys("writing to the sync socket", e)),
            }
        }
        Ok(())
    }

    pub fn recv(&self) -> Result<FromParent, Failure> {
        let mut r = FdReader(self.fd.as_fd());
        let body = frame::read_frame(&mut r).map_err(|e| {
            let errno = match &e {
                frame::FrameError::Io(io) => Errno::from_io(io).name(),
                frame::FrameError::Eof => "EPIPE",
                _ => "EPROTO",
            };
            Failure::new(e.to_string(), Some(errno))
        })?;
        FromParent::decode(&body)
            .map_err(|e| Failure::new(format!("bad message from the parent: {e}"), Some("EPROTO")))
    }

    /// Waits for a message of one type; anything else is a protocol error.
    pub fn expect(&self, want: &str) -> Result<FromParent, Failure> {
        let m = self.recv()?;
        if m.name() != want {
            return Err(Failure::new(
                format!("expected a {want:?} message, got {:?}", m.name()),
                Some("EPROTO"),
            ));
        }
        Ok(m)
    }

    pub fn debug(&self, msg: impl FnOnce() -> String) {
        if self.debug {
            let text = msg();
            let _ = self.send(&ToParent::Log {
                level: "debug",
                msg: &text,
            });
        }
    }

    pub fn warn(&self, text: &str) {
        let _ = self.send(&ToParent::Log {
            level: "warning",
            msg: text,
        });
    }

    /// Drops this process's reference to the socket, so the parent sees EOF
    /// as soon as the other holders (a process about to execve) are gone.
    /// The fd number is kept, now /dev/null, because `self` still owns it;
    /// later sends fail (ENOTSOCK) and are best effort anyway.
    pub fn release(&self) -> Result<(), Failure> {
        let null = rustix::fs::open(
            "/dev/null",
            rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Failure::sys("open /dev/null", e))?;
        replace_fd(null.as_fd(), &self.fd).map_err(|e| Failure::sys("releasing the sync socket", e))
    }

    /// Best effort: the parent may already be gone.
    pub fn error(&self, f: &Failure) {
        let _ = self.send(&ToParent::Error {
            msg: &f.msg,
            errno: f.errno,
        });
    }
}

/// Makes `target` refer to what `source` refers to (dup3, close-on-exec),
/// atomically: `target` is never a closed or reused fd number meanwhile.
fn replace_fd(source: BorrowedFd<'_>, target: &OwnedFd) -> Result<(), Errno> {
    // SAFETY: both fds are open and owned by the caller for the duration of
    // the call; dup3 only changes what the `target` number refers to, and
    // `target` keeps its single owner, so nothing is closed twice.
    let rc = unsafe { libc::dup3(source.as_raw_fd(), target.as_raw_fd(), libc::O_CLOEXEC) };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

struct FdReader<'a>(BorrowedFd<'a>);

impl std::io::Read for FdReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        rustix::io::read(self.0, buf).map_err(std::io::Error::from)
    }
}

fn set_pdeathsig(sig: Option<i32>) -> Result<(), Failure> {
    misc::set_parent_death_signal(sig).map_err(Failure::from)
}

/// After setting PDEATHSIG: if the parent already died, the signal will
/// never come, so check by pid.
fn parent_is(expected: i32) -> bool {
    rustix::process::getppid().map(|p| p.as_raw_nonzero().get()) == Some(expected)
}

/// Runs container-init mode; returns the exit code.
pub fn run(sync_env: &str, first_ppid: i32) -> i32 {
    let debug = std::env::var("_TSOCI_LOG_LEVEL").is_ok_and(|l| l == "debug");
    let sync = match Sync::from_env(sync_env, debug) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tsoci-init: {e}");
            return 1;
        }
    };
    let mut fail_code = 1;
    match stage0(&sync, &mut fail_code, first_ppid) {
        Ok(code) => code,
        Err(f) => {
            sync.error(&f);
            fail_code
        }
    }
}

fn stage0(sync: &Sync, fail_code: &mut i32, first_ppid: i32) -> Result<i32, Failure> {
    set_pdeathsig(Some(libc::SIGKILL))?;
    if !parent_is(first_ppid) {
        return Err(Failure::new(
            "the parent exited before the plan was read",
            Some("ESRCH"),
        ));
    }
    let FromParent::Plan { plan } = sync.expect("plan")? else {
        return Err(Failure::new("expected a plan", Some("EPROTO")));
    };
    let c = plan::parse(plan.get()).map_err(|m| Failure::new(m, Some("EINVAL")))?;
    if c.plan.mode == Mode::Exec {
        *fail_code = 255;
    }
    sync.debug(|| format!("plan for {:?} ({:?}) accepted", c.plan.id, c.plan.mode));

    let first_unpreserved = 3 + c.plan.preserve_fds;
    if (sync.raw() as u32) < first_unpreserved {
        return Err(Failure::new(
            format!(
                "sync fd {} lies inside the preserved fds 3..{}",
                sync.raw(),
                first_unpreserved - 1
            ),
            Some("EINVAL"),
        ));
    }
    sys::mark_cloexec_from(first_unpreserved).map_err(|e| {
        Failure::sys(
            format!("marking fds from {first_unpreserved} close-on-exec"),
            e,
        )
    })?;

    // First, before any namespace or credential changes: the container's
    // cgroups then hold everything the plan does, and a new cgroup
    // namespace is rooted at them.
    join_cgroups(sync, &c.plan.join_cgroups)?;

    let fifo = match &c.plan.exec_fifo {
        Some(path) => Some(open_fifo(path)?),
        None => None,
    };
    let console_sock = match (&c.plan.console_socket, c.plan.process.terminal) {
        (Some(path), true) => Some(console::connect_console_socket(path)?),
        _ => None,
    };

    // Every path is opened before the first setns: after joining a mount
    // namespace a host path may resolve elsewhere or not at all.
    let mut handles = Vec::with_capacity(c.ns.join.len());
    for (kind, path) in &c.ns.join {
        let h = open_ns(path, *kind)?;
        if *kind == NamespaceKind::Mount && c.plan.rootfs.is_some() {
            refuse_own_mount_namespace(&h)?;
        }
        handles.push(h);
    }
    for h in &handles {
        sync.debug(|| format!("joining {} namespace {}", h.kind.oci_name(), h.path));
        setns(h)?;
    }
    drop(handles);
    if c.ns.join.iter().any(|(k, _)| *k == NamespaceKind::User) {
        become_root_if_mapped()?;
        set_pdeathsig(Some(libc::SIGKILL))?;
    }
    if c.ns.new_user {
        unshare(&[NamespaceKind::User])?;
        sync.send(&ToParent::Userns {
            pid: rustix::process::getpid().as_raw_nonzero().get(),
        })?;
        sync.expect("userns-mapped")?;
        if become_root_if_mapped()? {
            sync.debug(|| "switched to the user namespace's root".into());
        }
        // The credential change cleared PDEATHSIG.
        set_pdeathsig(Some(libc::SIGKILL))?;
        if !parent_is(first_ppid) {
            return Err(Failure::new(
                "the parent exited while the user namespace was mapped",
                Some("ESRCH"),
            ));
        }
    }
    unshare(&c.ns.create)?;
    if let Some(t) = &c.plan.time_offsets {
        let mut text = String::new();
        // Clock ids: CLOCK_MONOTONIC = 1, CLOCK_BOOTTIME = 7.
        for (id, off) in [(1, t.monotonic), (7, t.boottime)] {
            if let Some(o) = off {
                text.push_str(&format!("{id} {} {}\n", o.secs, o.nanosecs));
            }
        }
        if !text.is_empty() {
            tsoci_mount::write_procfs("self/timens_offsets", text.as_bytes())?;
        }
    }

    let (go_r, go_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    match sys::fork().map_err(|e| Failure::sys("fork of the container process", e))? {
        Forked::Child => {
            drop(go_w);
            drop(done_r);
            let Err(f) = container(sync, &c, go_r, done_w, fifo, console_sock);
            sync.error(&f);
            std::process::exit(*fail_code);
        }
        Forked::Parent(pid) => {
            drop(go_r);
            drop(done_w);
            drop(fifo);
            drop(console_sock);
            if let Err(f) = sync.send(&ToParent::Child { pid }) {
                let _ = rustix::process::kill_process(pid_of(pid), rustix::process::Signal::KILL);
                let _ = sys::wait_for(pid);
                return Err(f);
            }
            sys::write_all(go_w.as_fd(), b"g")
                .map_err(|e| Failure::sys("starting the container process (go byte)", e))?;
            // go_w stays open until stage 0 exits: the container polls it for hang-up.
            let started = sys::read_byte(done_r.as_fd()).unwrap_or(false);
            if !started {
                let ended = sys::wait_for(pid)
                    .map_err(|e| Failure::sys(format!("waiting for container process {pid}"), e))?;
                if ended == Ended::Exited(*fail_code) {
                    // It reported its own error frame before exiting.
                    return Ok(*fail_code);
                }
                return Err(Failure::new(
                    format!(
                        "container process {pid} ended before it was started: {}",
                        ended.describe()
                    ),
                    Some("ECHILD"),
                ));
            }
            if c.plan.mode == Mode::Exec && sys::read_byte(done_r.as_fd()).unwrap_or(false) {
                // `f`: its execve failed (it sent its own error frame). Reap
                // it here: an orphaned zombie would go to whoever adopts
                // orphans, a subreaper caller or nobody who waits for it.
                let _ = sys::wait_for(pid);
                return Ok(*fail_code);
            }
            if c.plan.mode == Mode::Exec && c.plan.wait {
                // The parent learns that the process runs (or failed to
                // execve: its error frame comes first) by EOF, as in detached
                // mode; holding the socket until the process ends would keep
                // the parent waiting, and the container locked, all that time.
                sync.release()?;
                sys::forward_signals_to(pid);
                let ended = sys::wait_for(pid)
                    .map_err(|e| Failure::sys(format!("waiting for process {pid}"), e))?;
                return Ok(ended.status());
            }
            Ok(0)
        }
    }
}

fn pid_of(raw: i32) -> rustix::process::Pid {
    rustix::process::Pid::from_raw(raw).unwrap_or(rustix::process::Pid::INIT)
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Failure> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| Failure::sys("pipe", e))
}

/// CGROUP_SUPER_MAGIC: the filesystem of cgroup v1 hierarchies.
const CGROUP_V1_MAGIC: u64 = 0x0027_e0eb;

/// Moves this process into each v1 cgroup directory by writing `0` to its
/// `tasks` file. For the calling thread moving itself the kernel skips the
/// global threadgroup lock that a `cgroup.procs` write (by the runtime)
/// takes, whose write side waits for an RCU grace period: milliseconds per
/// create. Only sound because stage 0 is single-threaded (the one thread is
/// the whole process). The file must be on a cgroup v1 filesystem, so a
/// wrong path cannot make this a write of "0" anywhere else.
fn join_cgroups(sync: &Sync, dirs: &[String]) -> Result<(), Failure> {
    for dir in dirs {
        let path = format!("{dir}/tasks");
        let fd = rustix::fs::open(
            path.as_str(),
            OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Failure::sys(format!("joining cgroup {dir}: open {path}"), e))?;
        let fs = rustix::fs::fstatfs(&fd)
            .map_err(|e| Failure::sys(format!("joining cgroup {dir}: fstatfs {path}"), e))?;
        let magic = u64::try_from(fs.f_type).unwrap_or(0);
        if magic != CGROUP_V1_MAGIC {
            return Err(Failure::new(
                format!("joining cgroup {dir}: {path} is not on a cgroup v1 filesystem"),
                Some("EINVAL"),
            ));
        }
        sys::write_all(fd.as_fd(), b"0")
            .map_err(|e| Failure::sys(format!("joining cgroup {dir}: write {path}"), e))?;
        sync.debug(|| format!("joined cgroup {dir}"));
    }
    Ok(())
}

/// The exec fifo is kept as an O_PATH fd: the container reopens it for
/// writing through /proc/self/fd only at the very end, so no path lookup in
/// the state dir happens from inside the container.
fn open_fifo(path: &str) -> Result<OwnedFd, Failure> {
    let fd = rustix::fs::open(
        path,
        OFlags::PATH | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Failure::sys(format!("opening exec fifo {path:?}"), e))?;
    let st =
        rustix::fs::fstat(&fd).map_err(|e| Failure::sys(format!("fstat exec fifo {path:?}"), e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Fifo {
        return Err(Failure::new(
            format!("exec fifo {path:?} is not a fifo"),
            Some("EINVAL"),
        ));
    }
    Ok(fd)
}

/// The forked container process. Returns only with the failure to report.
fn container(
    sync: &Sync,
    c: &Checked,
    go_r: OwnedFd,
    done_w: OwnedFd,
    fifo: Option<OwnedFd>,
    console_sock: Option<OwnedFd>,
) -> Result<Infallible, Failure> {
    let p = &c.plan.process;
    set_pdeathsig(Some(libc::SIGKILL))?;
    if !sys::read_byte(go_r.as_fd()).unwrap_or(false) {
        return Err(Failure::new(
            "stage 0 exited before sending the go byte",
            Some("EPIPE"),
        ));
    }
    // Stage 0 keeps its go-pipe end open until it exits: a hang-up now means
    // it died before PDEATHSIG was armed.
    if sys::writer_gone(go_r.as_fd()) {
        return Err(Failure::new(
            "stage 0 exited before the container process started",
            Some("ESRCH"),
        ));
    }
    rustix::process::setsid().map_err(|e| Failure::sys("setsid", e))?;

    let create = c.plan.mode == Mode::Create;
    if let (true, Some(rootfs)) = (create, &c.plan.rootfs) {
        sync.debug(|| format!("preparing rootfs {}", rootfs.root));
        tsoci_mount::prepare_rootfs(rootfs)?;
        if c.plan.stop_after_mounts {
            sync.send(&ToParent::Mounted)?;
            sync.expect("continue")?;
        }
        tsoci_mount::enter_rootfs(rootfs)?;
    }
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Failure::sys("opening the container root", e))?;
    if let Some(sock) = console_sock {
        setup_console(sync, root.as_fd(), sock, p.console_size, create)?;
    }
    if let (true, Some(rootfs)) = (create, &c.plan.rootfs) {
        // runc creates a missing cwd (as root, inside the new root) before the
        // root may become read-only.
        if p.cwd != "/" {
            drop(tsoci_mount::open_in_root(
                root.as_fd(),
                &p.cwd,
                OpenInRoot::mkdir_all(),
            )?);
        }
        tsoci_mount::finalize_rootfs(rootfs)?;
    }
    drop(root);

    if let Some(h) = &c.plan.hostname {
        rustix::system::sethostname(h.as_bytes())
            .map_err(|e| Failure::sys(format!("sethostname {h:?}"), e))?;
    }
    if let Some(d) = &c.plan.domainname {
        rustix::system::setdomainname(d.as_bytes())
            .map_err(|e| Failure::sys(format!("setdomainname {d:?}"), e))?;
    }
    for (path, value) in &c.sysctl {
        sync.debug(|| format!("sysctl /proc/{path} = {value}"));
        tsoci_mount::write_procfs(path, value.as_bytes())?;
    }
    if let Some(adj) = c.plan.oom_score_adj {
        tsoci_mount::write_procfs("self/oom_score_adj", adj.to_string().as_bytes())?;
    }
    for &(res, soft, hard) in &c.rlimits {
        rlimit::set_rlimit(res, soft, hard)?;
    }
    if !c.plan.no_new_keyring {
        let name = format!("_ses.{}", c.plan.id);
        if misc::join_session_keyring(&name)? == misc::Keyring::Unsupported {
            sync.debug(|| "kernel has no keyrings; session keyring skipped".into());
        }
    }

    // First chdir as root: the directory may be reachable only for the
    // caller; EACCES/EPERM is retried after the user switch (as runc).
    let chdir_pending = match rustix::process::chdir(p.cwd.as_str()) {
        Ok(()) => false,
        Err(e) if e == rustix::io::Errno::ACCESS || e == rustix::io::Errno::PERM => true,
        Err(e) => return Err(Failure::sys(format!("chdir to cwd {:?}", p.cwd), e)),
    };
    let program = resolve_program(&p.args[0], &p.env)?;
    let argv = cstrings(&p.args, "argument")?;
    let envp = cstrings(&p.env, "environment entry")?;

    if let (Some((prog, flags)), false) = (&c.seccomp, p.no_new_privileges) {
        // Without no_new_privs the kernel wants CAP_SYS_ADMIN: load before the caps go.
        seccomp::install_filter(prog, *flags)?;
    }
    apply_user_and_caps(sync, c)?;
    // Changing the euid cleared PDEATHSIG; keep stage 0's death fatal until created.
    set_pdeathsig(Some(libc::SIGKILL))?;
    if sys::writer_gone(go_r.as_fd()) {
        return Err(Failure::new("stage 0 exited during setup", Some("ESRCH")));
    }
    if let Some(m) = p.umask {
        misc::set_umask(m)?;
    }
    if p.no_new_privileges {
        misc::set_no_new_privs()?;
    }
    if chdir_pending {
        rustix::process::chdir(p.cwd.as_str())
            .map_err(|e| Failure::sys(format!("chdir to cwd {:?}", p.cwd), e))?;
    }
    verify_cwd()?;
    if let Some(pers) = p.personality {
        misc::set_personality(pers)?;
    }

    set_pdeathsig(None)?;
    sys::write_all(done_w.as_fd(), b"d")
        .map_err(|e| Failure::sys("signalling stage 0 (done byte)", e))?;
    drop(go_r);
    if create {
        drop(done_w);
        // After the done byte: stage 0 exits while the parent reads this,
        // and the parent waits for both. Should this send fail, the parent
        // sees the channel end without `created` and fails the create.
        sync.send(&ToParent::Created)?;
        return exec_container(c, &program, &argv, &envp, fifo);
    }
    // Exec mode: the done pipe stays open until execve closes it (close-on-
    // exec), and a failure says so with an `f`, so that stage 0 can reap a
    // process that never ran instead of orphaning its zombie.
    let Err(f) = exec_container(c, &program, &argv, &envp, fifo);
    let _ = sys::write_all(done_w.as_fd(), b"f");
    Err(f)
}

/// The end of the container process: the exec fifo (create), the late
/// seccomp filter, execve. Returns only on failure.
fn exec_container(
    c: &Checked,
    program: &std::ffi::CStr,
    argv: &[std::ffi::CString],
    envp: &[std::ffi::CString],
    fifo: Option<OwnedFd>,
) -> Result<Infallible, Failure> {
    let p = &c.plan.process;
    let create = c.plan.mode == Mode::Create;

    if let Some(fifo) = fifo {
        let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
        // Blocks until `start` opens the fifo for reading.
        let w = rustix::fs::open(
            path.as_str(),
            OFlags::WRONLY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Failure::sys("opening the exec fifo for writing", e))?;
        sys::write_all(w.as_fd(), b"0").map_err(|e| Failure::sys("writing to the exec fifo", e))?;
        drop(w);
        drop(fifo);
    }
    // Before the filter, which need not allow rt_sigaction.
    sys::default_sigpipe(true);
    if let (Some((prog, flags)), true) = (&c.seccomp, p.no_new_privileges) {
        // As late as possible: the filter need not allow the setup syscalls.
        seccomp::install_filter(prog, *flags)?;
    }
    let e = sys::execve(program, argv, envp);
    sys::default_sigpipe(false);
    let f = Failure::sys(format!("exec {:?}", p.args[0]), e);
    if create {
        // `create` has returned by now; the container's stderr is the only reader left.
        eprintln!("tsoci-init: {}", f.msg);
    }
    Err(f)
}

fn apply_user_and_caps(sync: &Sync, c: &Checked) -> Result<(), Failure> {
    let p = &c.plan.process;
    let Some(masks) = c.caps else {
        user::switch_user(p.uid, p.gid, &p.additional_gids, false)?;
        return Ok(());
    };
    let last = caps::last_cap()?;
    let known = |set: &str, m: Option<CapMask>| -> Option<CapMask> {
        m.map(|m| {
            let (k, unknown) = m.split_known(last);
            if !unknown.is_empty() {
                let names: Vec<String> = unknown.iter().map(|&n| caps::cap_name(n)).collect();
                sync.warn(&format!(
                    "capabilities.{set}: {} unknown to this kernel, ignored",
                    names.join(",")
                ));
            }
            k
        })
    };
    let bounding = known("bounding", masks.bounding);
    let effective = known("effective", masks.effective);
    let permitted = known("permitted", masks.permitted);
    let inheritable = known("inheritable", masks.inheritable);
    let ambient = known("ambient", masks.ambient);
    if let Some(b) = bounding {
        caps::drop_bounding_except(b, last)?;
    }
    user::switch_user(p.uid, p.gid, &p.additional_gids, true)?;
    let cur = caps::get_sets()?;
    caps::set_sets(CapSets {
        effective: effective.unwrap_or(cur.effective),
        permitted: permitted.unwrap_or(cur.permitted),
        inheritable: inheritable.unwrap_or(cur.inheritable),
    })?;
    if let Some(a) = ambient {
        caps::set_ambient(a, last)?;
    }
    Ok(())
}

fn setup_console(
    sync: &Sync,
    root: BorrowedFd<'_>,
    sock: OwnedFd,
    size: Option<ConsoleSize>,
    bind_dev_console: bool,
) -> Result<(), Failure> {
    let master = tsoci_mount::open_in_root(
        root,
        "/dev/ptmx",
        OpenInRoot::path().with_access(MountAccess::ReadWrite),
    )?;
    let pty = console::open_pty(master)?;
    sync.debug(|| format!("console {}", pty.slave_path));
    if let Some(s) = size {
        console::set_window_size(pty.slave.as_fd(), s.height, s.width)?;
    }
    if bind_dev_console {
        bind_console(root, &pty.slave, &pty.slave_path)?;
    }
    console::send_fd(sock.as_fd(), pty.master.as_fd(), "/dev/ptmx")?;
    drop(sock);
    let console::Pty { master, slave, .. } = pty;
    drop(master);
    console::make_stdio_and_controlling(&slave)?;
    if slave.as_raw_fd() <= 2 {
        std::mem::forget(slave);
    }
    Ok(())
}

/// Binds the pty slave over /dev/console by fd (open_tree + move_mount), so
/// neither side is looked up by a path the container could swap.
fn bind_console(root: BorrowedFd<'_>, slave: &OwnedFd, slave_path: &str) -> Result<(), Failure> {
    use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};
    let target =
        tsoci_mount::open_in_root(root, "/dev/console", OpenInRoot::file().with_mode(0o600))?;
    let tree = open_tree(
        slave,
        "",
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_EMPTY_PATH,
    )
    .map_err(|e| {
        Failure::sys(
            format!("cloning {slave_path} for /dev/console (open_tree)"),
            e,
        )
    })?;
    move_mount(
        &tree,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(|e| {
        Failure::sys(
            format!("binding {slave_path} onto /dev/console (move_mount)"),
            e,
        )
    })
}

/// Setting up a rootfs in the mount namespace the init was started in would
/// stack mounts on the host, change its propagation and pivot its root.
fn refuse_own_mount_namespace(h: &tsoci_ns::NsFd) -> Result<(), Failure> {
    let target = rustix::fs::fstat(&h.fd).map_err(|e| Failure::sys(format!("fstat {}", h.path), e))?;
    let own = rustix::fs::stat("/proc/self/ns/mnt")
        .map_err(|e| Failure::sys("stat /proc/self/ns/mnt", e))?;
    if target.st_dev == own.st_dev && target.st_ino == own.st_ino {
        return Err(Failure::new(
            format!(
                "mount namespace {} is the runtime's own: the root filesystem would be set up on the host",
                h.path
            ),
            Some("EINVAL"),
        ));
    }
    Ok(())
}
