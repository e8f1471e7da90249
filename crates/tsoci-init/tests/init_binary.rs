//! Drives the real `tsoci-init` binary: container-init mode through a
//! socketpair (the parent's side of the PROTOCOL.md ladder, written by hand
//! here), plus the `nsenter` and `unshare` modes. Needs root; skipped otherwise.
//!
//! Every container runs in its own new mount namespace, so its mounts vanish
//! with it. The test process becomes a child subreaper so the container
//! (orphaned when stage 0 exits) is reaped and, on failure, killed by us.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tsoci-init");

fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

/// A temp dir with a busybox rootfs, removed on drop.
struct Bundle {
    dir: PathBuf,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Bundle {
    fn new() -> Bundle {
        let dir = std::env::temp_dir().join(format!(
            "tsoci-init-it-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let root = dir.join("rootfs");
        for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
        for applet in ["sh", "hostname", "cat", "grep", "sleep"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        let fifo = std::ffi::CString::new(dir.join("exec.fifo").to_str().unwrap()).unwrap();
        // SAFETY: `fifo` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        Bundle { dir }
    }
    fn root(&self) -> String {
        self.dir.join("rootfs").to_str().unwrap().to_owned()
    }
    fn fifo(&self) -> String {
        self.dir.join("exec.fifo").to_str().unwrap().to_owned()
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Kills and reaps a container process on drop (we are its subreaper).
struct Reaped(i32);

impl Drop for Reaped {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: kill/waitpid on a pid that is our (re-parented) child
            // and not yet reaped, so it cannot have been reused.
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
                libc::waitpid(self.0, std::ptr::null_mut(), 0);
            }
        }
    }
}

fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer argument only.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
}

fn spawn_init(stdout: Stdio) -> (Child, UnixStream) {
    spawn_init_with(stdout, 3, &[])
}

/// Spawns tsoci-init with the sync socket on fd `sync_at` and each
/// `(source, target)` of `extra` dup'ed onto `target` (inherited, no CLOEXEC),
/// as a careless caller could leak them.
fn spawn_init_with(stdout: Stdio, sync_at: i32, extra: &[(i32, i32)]) -> (Child, UnixStream) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let raw = theirs.as_raw_fd();
    let extra = extra.to_vec();
    let mut cmd = Command::new(BIN);
    cmd.env("_TSOCI_SYNC_FD", sync_at.to_string())
        .env("_TSOCI_LOG_LEVEL", "debug")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit());
    // SAFETY: dup2 is async-signal-safe; it places fds (without CLOEXEC) in
    // the forked child only.
    unsafe {
        cmd.pre_exec(move || {
            // Move every source above the targets first, so a source that
            // happens to sit on another's target number is not clobbered.
            let mut moves = extra.clone();
            moves.push((raw, sync_at));
            for m in moves.iter_mut() {
                let high = libc::fcntl(m.0, libc::F_DUPFD_CLOEXEC, 100);
                if high < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                m.0 = high;
            }
            for &(src, dst) in &moves {
                if libc::dup2(src, dst) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    drop(theirs);
    (child, ours)
}

/// Runs a create plan through `start` and returns the container's stdout.
fn run_container(mut stage0: Child, mut sock: UnixStream, b: &Bundle, p: Value) -> String {
    send(&mut sock, &json!({"type": "plan", "plan": p}));
    let pid = expect(&mut sock, "child")["pid"].as_i64().unwrap() as i32;
    let guard = Reaped(pid);
    expect(&mut sock, "mounted");
    send(&mut sock, &json!({"type": "continue"}));
    expect(&mut sock, "created");
    assert!(stage0.wait().unwrap().success());
    assert_eq!(start(b), "0");
    let mut out = String::new();
    stage0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    drop(guard);
    out
}

fn send(sock: &mut UnixStream, v: &Value) {
    let body = serde_json::to_vec(v).unwrap();
    sock.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
    sock.write_all(&body).unwrap();
}

/// The next non-log message, or None at EOF.
fn recv(sock: &mut UnixStream) -> Option<Value> {
    loop {
        let mut len = [0u8; 4];
        match sock.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) => panic!("reading the sync socket: {e}"),
        }
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        sock.read_exact(&mut body).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        if v["type"] == "log" {
            eprintln!("init log: {}", v["msg"]);
            continue;
        }
        return Some(v);
    }
}

fn expect(sock: &mut UnixStream, ty: &str) -> Value {
    let v = recv(sock).unwrap_or_else(|| panic!("EOF while waiting for {ty:?}"));
    assert_eq!(v["type"], ty, "expected {ty}, got {v}");
    v
}

/// `start`: opens the exec fifo for reading without blocking, waits (at most
/// 30 s, so a dead container fails the test instead of hanging it) for the
/// container's byte, and returns it.
fn start(b: &Bundle) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(b.fifo())
        .unwrap();
    let mut pfd = libc::pollfd {
        fd: fifo.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, alive for the call.
    let n = unsafe { libc::poll(&mut pfd, 1, 30_000) };
    assert_eq!(n, 1, "the container never wrote to the exec fifo");
    let mut byte = [0u8; 1];
    assert_eq!(fifo.read(&mut byte).unwrap(), 1);
    String::from_utf8_lossy(&byte).into_owned()
}

const DEFAULT_CAPS: [u32; 14] = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31];

fn plan(b: &Bundle, args: &[&str]) -> Value {
    json!({
        "version": 1,
        "mode": "create",
        "id": "it-create",
        "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}],
        "execFifo": b.fifo(),
        "rootfs": {
            "root": b.root(),
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc", "flags": 14},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "flags": 6, "data": "size=1m,mode=1777"}
            ]
        },
        "hostname": "tsoci-it",
        "process": {
            "args": args,
            "env": ["PATH=/bin", "HOME=/"],
            "cwd": "/",
            "uid": 0, "gid": 0,
            "capabilities": {
                "bounding": DEFAULT_CAPS, "effective": DEFAULT_CAPS, "permitted": DEFAULT_CAPS,
                "inheritable": [], "ambient": []
            },
            "rlimits": [{"resource": 7, "soft": "512", "hard": "512"}],
            "noNewPrivileges": true
        }
    })
}

#[test]
fn create_then_start_runs_the_container() {
    require_root!();
    become_subreaper();
    let b = Bundle::new();
    let script = "hostname; echo pid=$$; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; \
                  grep ' /tmp ' /proc/self/mounts; cat /proc/self/limits | grep 'open files'";
    let (mut stage0, mut sock) = spawn_init(Stdio::piped());
    send(
        &mut sock,
        &json!({"type": "plan", "plan": plan(&b, &["sh", "-c", script])}),
    );
    let pid = expect(&mut sock, "child")["pid"].as_i64().unwrap() as i32;
    let _guard = Reaped(pid);
    expect(&mut sock, "mounted");
    send(&mut sock, &json!({"type": "continue"}));
    expect(&mut sock, "created");
    assert!(
        stage0.wait().unwrap().success(),
        "stage 0 must exit 0 once the container is created"
    );

    // Blocked on the fifo now, running from the sealed memfd copy.
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe.to_string_lossy().starts_with("/memfd:tsoci-init"),
        "container runs from {exe:?}"
    );
    // It goes to sleep in the fifo open (bounded wait: it may still be on its way).
    let mut status = String::new();
    for _ in 0..500 {
        status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        if status.contains("State:\tS") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(status.contains("State:\tS"), "{status}");

    assert_eq!(start(&b), "0");

    let mut out = String::new();
    stage0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut st = 0;
    // SAFETY: `pid` is our child through the subreaper; status is a valid pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
    std::mem::forget(_guard);
    assert!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
        "container status {st:#x}, output:\n{out}"
    );

    let expected_caps: u64 = DEFAULT_CAPS.iter().map(|c| 1u64 << c).sum();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "tsoci-it", "{out}");
    assert_eq!(lines[1], "pid=1", "{out}");
    assert_eq!(lines[2], format!("CapEff:\t{expected_caps:016x}"), "{out}");
    assert_eq!(lines[3], "NoNewPrivs:\t1", "{out}");
    assert!(lines[4].starts_with("tmpfs /tmp tmpfs"), "{out}");
    assert!(lines[5].contains("512"), "{out}");
    // The host's hostname is untouched.
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim(),
        "tsoci-it"
    );
    // No sync socket leaked: the container closed it at execve, stage 0 exited.
    assert!(recv(&mut sock).is_none());
}

#[test]
fn unknown_binary_fails_create_like_runc() {
    require_root!();
    become_subreaper();
    let b = Bundle::new();
    let (mut stage0, mut sock) = spawn_init(Stdio::null());
    send(
        &mut sock,
        &json!({"type": "plan", "plan": plan(&b, &["no-such-binary-xyz"])}),
    );
    let pid = expect(&mut sock, "child")["pid"].as_i64().unwrap() as i32;
    let _guard = Reaped(pid);
    expect(&mut sock, "mounted");
    send(&mut sock, &json!({"type": "continue"}));
    let err = expect(&mut sock, "error");
    assert_eq!(
        err["msg"],
        r#"exec: "no-such-binary-xyz": executable file not found in $PATH"#
    );
    assert_eq!(err["errno"], "ENOENT");
    assert_eq!(stage0.wait().unwrap().code(), Some(1));
    assert!(recv(&mut sock).is_none());
}

#[test]
fn bad_plan_is_refused_before_any_side_effect() {
    require_root!();
    let b = Bundle::new();
    let (mut stage0, mut sock) = spawn_init(Stdio::null());
    let mut p = plan(&b, &["sh"]);
    p["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]); // hostname without a uts namespace
    send(&mut sock, &json!({"type": "plan", "plan": p}));
    let err = expect(&mut sock, "error");
    assert_eq!(
        err["msg"],
        "invalid init plan: hostname: setting it needs a uts namespace (new or joined)"
    );
    assert_eq!(err["errno"], "EINVAL");
    assert_eq!(stage0.wait().unwrap().code(), Some(1));
}

fn hostname_of_ns(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn nsenter_joins_another_process_uts_namespace() {
    require_root!();
    let mut target = Command::new("unshare")
        .args([
            "--uts",
            "/bin/busybox",
            "sh",
            "-c",
            "hostname nsenter-it; echo ready; exec /bin/busybox sleep 60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(target.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let pid = target.id().to_string();
    let explicit = hostname_of_ns(Command::new(BIN).args([
        "nsenter",
        "--target",
        &pid,
        "--ns",
        "uts",
        "--",
        "/bin/busybox",
        "hostname",
    ]));
    // Without --ns, every namespace that differs (here: only uts) is joined.
    let default = hostname_of_ns(Command::new(BIN).args([
        "nsenter",
        "--target",
        &pid,
        "--",
        "/bin/busybox",
        "hostname",
    ]));
    let env = hostname_of_ns(Command::new(BIN).args([
        "nsenter",
        "--target",
        &pid,
        "--clear-env",
        "--env",
        "X=42",
        "--",
        "/bin/busybox",
        "env",
    ]));
    target.kill().unwrap();
    target.wait().unwrap();
    assert_eq!(explicit, "nsenter-it");
    assert_eq!(default, "nsenter-it");
    assert_eq!(env, "X=42");
    let missing = Command::new(BIN)
        .args(["nsenter", "--target", "4194304", "--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("tsoci-init nsenter:"),
        "{missing:?}"
    );
}

#[test]
fn unshare_creates_namespaces_and_passes_the_exit_status() {
    require_root!();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = hostname_of_ns(Command::new(BIN).args([
        "unshare",
        "--ns",
        "uts",
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        "hostname x; hostname",
    ]));
    assert_eq!(out, "x");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host
    );

    let o = Command::new(BIN)
        .args([
            "unshare",
            "--ns",
            "pid",
            "--",
            "/bin/busybox",
            "sh",
            "-c",
            "echo $$; exit 3",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "1");
    assert_eq!(o.status.code(), Some(3));

    let o = Command::new(BIN)
        .args(["unshare", "--ns", "uts", "--", "no-such-binary-xyz"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains(r#"exec: "no-such-binary-xyz": executable file not found in $PATH"#));
}

#[test]
fn the_command_starts_with_sigpipe_at_its_default() {
    require_root!();
    // The Rust runtime ignores SIGPIPE in tsoci-init; an ignored signal
    // would survive the execve.
    let o = Command::new(BIN)
        .args(["unshare", "--ns", "uts", "--", "/bin/busybox", "grep", "SigIgn", "/proc/self/status"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let text = String::from_utf8_lossy(&o.stdout);
    let mask = u64::from_str_radix(text.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "{text}");
}

#[test]
fn binary_runs_sealed() {
    let s = Command::new(BIN).arg("--sealed-check").status().unwrap();
    assert!(
        s.success(),
        "tsoci-init did not re-exec from a sealed memfd"
    );
    let p = Path::new(BIN);
    assert!(p.exists());
}

fn exec_plan(target: u32, args: &[&str], wait: bool) -> Value {
    json!({
        "version": 1,
        "mode": "exec",
        "id": "it-exec",
        "wait": wait,
        "namespaces": [
            {"type": "uts", "path": format!("/proc/{target}/ns/uts")},
            {"type": "ipc", "path": format!("/proc/{target}/ns/ipc")}
        ],
        "process": {
            "args": args, "env": ["PATH=/bin:/usr/bin"], "cwd": "/tmp",
            "uid": 65534, "gid": 65534, "additionalGids": [65533],
            "capabilities": {"bounding": [], "effective": [], "permitted": [], "inheritable": [], "ambient": []},
            "noNewPrivileges": true
        }
    })
}

#[test]
fn exec_mode_joins_namespaces_and_switches_user() {
    require_root!();
    let mut target = Command::new("unshare")
        .args([
            "--uts",
            "--ipc",
            "/bin/busybox",
            "sh",
            "-c",
            "hostname exec-it; echo ready; exec /bin/busybox sleep 60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(target.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let tpid = target.id();

    let (mut stage0, mut sock) = spawn_init(Stdio::piped());
    let script = "hostname; id -u; id -g; id -G; pwd; grep CapEff /proc/self/status";
    send(
        &mut sock,
        &json!({"type": "plan", "plan": exec_plan(tpid, &["/bin/busybox", "sh", "-c", script], true)}),
    );
    expect(&mut sock, "child");
    // Success is EOF without an error frame: the socket closed at execve.
    assert!(recv(&mut sock).is_none());
    let mut out = String::new();
    stage0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = stage0.wait().unwrap();

    let (mut failing, mut sock2) = spawn_init(Stdio::null());
    send(
        &mut sock2,
        &json!({"type": "plan", "plan": exec_plan(tpid, &["not-there-xyz"], true)}),
    );
    expect(&mut sock2, "child");
    let err = expect(&mut sock2, "error");
    let failed = failing.wait().unwrap();

    target.kill().unwrap();
    target.wait().unwrap();
    assert!(status.success(), "{status:?}: {out}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "exec-it",
            "65534",
            "65534",
            "65534 65533",
            "/tmp",
            "CapEff:\t0000000000000000"
        ],
        "{out}"
    );
    assert_eq!(
        err["msg"],
        r#"exec: "not-there-xyz": executable file not found in $PATH"#
    );
    assert_eq!(
        failed.code(),
        Some(255),
        "launch failures in exec mode exit 255"
    );
}

/// Receives one fd and the message text from an accepted console connection.
fn recv_fd(conn: &UnixStream) -> (String, std::os::fd::OwnedFd) {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut buf = [0u8; 256];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = rustix::net::recvmsg(
        conn,
        &mut [std::io::IoSliceMut::new(&mut buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .unwrap();
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(it) = m {
            fds.extend(it);
        }
    }
    assert_eq!(fds.len(), 1, "exactly one fd must be sent");
    (
        String::from_utf8_lossy(&buf[..got.bytes]).into_owned(),
        fds.pop().unwrap(),
    )
}

#[test]
fn terminal_gets_a_pty_through_the_console_socket() {
    require_root!();
    become_subreaper();
    let b = Bundle::new();
    let sock_path = b.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let mut p = plan(
        &b,
        &[
            "sh",
            "-c",
            "tty; stty size; grep -c ' /dev/console ' /proc/self/mountinfo; echo done",
        ],
    );
    p["consoleSocket"] = json!(sock_path.to_str().unwrap());
    p["process"]["terminal"] = json!(true);
    p["process"]["consoleSize"] = json!({"height": 31, "width": 97});
    p["rootfs"]["mounts"].as_array_mut().unwrap().push(json!(
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "flags": 10, "data": "newinstance,ptmxmode=0666,mode=0620"}
    ));
    p["rootfs"]["symlinks"] = json!([["pts/ptmx", "/dev/ptmx"]]);

    let (mut stage0, mut sock) = spawn_init(Stdio::null());
    send(&mut sock, &json!({"type": "plan", "plan": p}));
    let pid = expect(&mut sock, "child")["pid"].as_i64().unwrap() as i32;
    let _guard = Reaped(pid);
    expect(&mut sock, "mounted");
    send(&mut sock, &json!({"type": "continue"}));
    let (conn, _) = listener.accept().unwrap();
    let (name, master) = recv_fd(&conn);
    assert_eq!(name, "/dev/ptmx");
    expect(&mut sock, "created");
    assert!(stage0.wait().unwrap().success());

    assert_eq!(start(&b), "0");
    let mut out = Vec::new();
    let mut master = std::fs::File::from(master);
    let mut chunk = [0u8; 512];
    // The pty master reads EIO once the last slave fd closes (container exit).
    while let Ok(n) = master.read(&mut chunk) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
        if out.windows(4).any(|w| w == b"done") {
            break;
        }
    }
    let out = String::from_utf8_lossy(&out).replace('\r', "");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("/dev/pts/"), "{out}");
    assert_eq!(lines[1], "31 97", "{out}");
    assert_eq!(lines[2], "1", "/dev/console is not a mount: {out}");
}

#[test]
fn only_stdio_and_preserved_fds_reach_the_container() {
    require_root!();
    become_subreaper();
    let b = Bundle::new();
    let leak = std::fs::File::open("/proc/self/status").unwrap();
    let keep = std::fs::File::open(b.dir.join("rootfs/bin/busybox")).unwrap();
    // fd 3 is preserved (preserveFds: 1), the sync socket sits on 4, fd 9 is a leak.
    let (stage0, sock) = spawn_init_with(
        Stdio::piped(),
        4,
        &[(keep.as_raw_fd(), 3), (leak.as_raw_fd(), 9)],
    );
    // `ls` (a child of the shell, pid 1) lists the fds the shell got at execve.
    let mut p = plan(&b, &["sh", "-c", "ls -l /proc/1/fd; true"]);
    p["preserveFds"] = json!(1);
    let out = run_container(stage0, sock, &b, p);
    // busybox sh keeps its own fds at 10 and above; 0-9 are what it inherited.
    let fds: Vec<(u32, String)> = out
        .lines()
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ")?;
            Some((
                left.split_whitespace().last()?.parse().ok()?,
                target.to_owned(),
            ))
        })
        .filter(|(fd, _)| *fd < 10)
        .collect();
    let numbers: Vec<u32> = fds.iter().map(|f| f.0).collect();
    assert_eq!(numbers, vec![0, 1, 2, 3], "container fds:\n{out}");
    assert!(
        fds[3].1.ends_with("rootfs/bin/busybox"),
        "the preserved fd is the file we passed:\n{out}"
    );
}

#[test]
fn sync_fd_inside_the_preserved_range_is_refused() {
    require_root!();
    let b = Bundle::new();
    let (mut stage0, mut sock) = spawn_init_with(Stdio::null(), 3, &[]);
    let mut p = plan(&b, &["sh"]);
    p["preserveFds"] = json!(2);
    send(&mut sock, &json!({"type": "plan", "plan": p}));
    let err = expect(&mut sock, "error");
    assert_eq!(err["msg"], "sync fd 3 lies inside the preserved fds 3..4");
    assert_eq!(stage0.wait().unwrap().code(), Some(1));
}

#[test]
fn new_user_namespace_is_mapped_by_the_parent() {
    require_root!();
    become_subreaper();
    let b = Bundle::new();
    let mut p = plan(
        &b,
        &[
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; grep CapEff /proc/self/status",
        ],
    );
    p["namespaces"] = json!([{"type": "user"}, {"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}]);
    p["rootfs"]["bindDevices"] = json!(true);
    p["process"]["rlimits"] = json!([]);
    let (mut stage0, mut sock) = spawn_init(Stdio::piped());
    send(&mut sock, &json!({"type": "plan", "plan": p}));
    let userns = expect(&mut sock, "userns");
    let upid = userns["pid"].as_i64().unwrap();
    assert_eq!(
        upid,
        stage0.id() as i64,
        "stage 0 itself unshares the user namespace"
    );
    std::fs::write(format!("/proc/{upid}/uid_map"), "0 200000 65536\n").unwrap();
    std::fs::write(format!("/proc/{upid}/gid_map"), "0 200000 65536\n").unwrap();
    // As runc does: the container's root must be able to reopen the fifo.
    std::os::unix::fs::chown(b.fifo(), Some(200000), Some(200000)).unwrap();
    send(&mut sock, &json!({"type": "userns-mapped"}));
    let pid = expect(&mut sock, "child")["pid"].as_i64().unwrap() as i32;
    let _guard = Reaped(pid);
    match recv(&mut sock) {
        Some(v) if v["type"] == "mounted" => {}
        other => panic!("expected mounted, got {other:?}"),
    }
    send(&mut sock, &json!({"type": "continue"}));
    expect(&mut sock, "created");
    assert!(stage0.wait().unwrap().success());
    // Before start the container's credentials are the mapped root.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_owned();
    assert_eq!(start(&b), "0");
    let mut out = String::new();
    stage0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(
        uid_line.split_whitespace().collect::<Vec<_>>(),
        ["Uid:", "200000", "200000", "200000", "200000"]
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "200000", "65536"],
        "{out}"
    );
    let expected_caps: u64 = DEFAULT_CAPS.iter().map(|c| 1u64 << c).sum();
    assert_eq!(lines[2], format!("CapEff:\t{expected_caps:016x}"), "{out}");
}

/// A classic-BPF program: `ERRNO(errno)` for syscall `nr`, ALLOW otherwise
/// (no arch check: the test only runs on the build machine's arch).
fn deny_syscall(nr: i64, errno: u32) -> String {
    let insn = |code: u16, jt: u8, jf: u8, k: u32| {
        let mut b = code.to_ne_bytes().to_vec();
        b.extend([jt, jf]);
        b.extend(k.to_ne_bytes());
        b
    };
    let prog = [
        insn(0x20, 0, 0, 0),
        insn(0x15, 0, 1, nr as u32),
        insn(0x06, 0, 0, 0x0005_0000 | errno),
        insn(0x06, 0, 0, 0x7fff_0000),
    ]
    .concat();
    // Base64 by hand keeps the test free of another dependency.
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in prog.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn seccomp_filter_applies_with_and_without_no_new_privs() {
    require_root!();
    let mut target = Command::new("unshare")
        .args([
            "--uts",
            "/bin/busybox",
            "sh",
            "-c",
            "echo ready; exec /bin/busybox sleep 60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(target.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let tpid = target.id();
    let mut results = Vec::new();
    for nnp in [false, true] {
        let (mut stage0, mut sock) = spawn_init(Stdio::piped());
        let p = json!({
            "version": 1, "mode": "exec", "id": "it-seccomp", "wait": true,
            "namespaces": [{"type": "uts", "path": format!("/proc/{tpid}/ns/uts")}],
            "process": {
                "args": ["/bin/busybox", "sh", "-c", "/bin/busybox hostname blocked 2>&1; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status"],
                "env": [], "cwd": "/", "uid": 0, "gid": 0,
                "noNewPrivileges": nnp,
                "seccomp": {"filter": deny_syscall(libc::SYS_sethostname, libc::ENOTSUP as u32), "flags": 0}
            }
        });
        send(&mut sock, &json!({"type": "plan", "plan": p}));
        expect(&mut sock, "child");
        assert!(recv(&mut sock).is_none());
        let mut out = String::new();
        stage0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        stage0.wait().unwrap();
        results.push(out);
    }
    let host_of_target = Command::new(BIN)
        .args([
            "nsenter",
            "--target",
            &tpid.to_string(),
            "--ns",
            "uts",
            "--",
            "/bin/busybox",
            "hostname",
        ])
        .output()
        .unwrap();
    target.kill().unwrap();
    target.wait().unwrap();
    for (out, nnp) in results.iter().zip(["0", "1"]) {
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].contains("Operation not supported"),
            "sethostname was not filtered:\n{out}"
        );
        assert!(lines.contains(&"Seccomp:\t2"), "{out}");
        assert!(
            lines.contains(&format!("NoNewPrivs:\t{nnp}").as_str()),
            "{out}"
        );
    }
    assert_ne!(
        String::from_utf8_lossy(&host_of_target.stdout).trim(),
        "blocked"
    );
}

#[test]
fn create_applies_the_remaining_process_settings() {
    require_root!();
    become_subreaper();
    let b = Bundle::new();
    let script = "cat /proc/uptime; cat /proc/sys/kernel/domainname; cat /proc/sys/kernel/shm_rmid_forced; \
                  cat /proc/self/oom_score_adj; umask; pwd; uname -m; grep -c _ses.it-create /proc/keys";
    let mut p = plan(&b, &["sh", "-c", script]);
    p["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}, {"type": "time"}]);
    p["timeOffsets"] = json!({"boottime": {"secs": 500000, "nanosecs": 0}, "monotonic": null});
    p["domainname"] = json!("tsoci.test");
    p["sysctl"] = json!([["kernel.shm_rmid_forced", "1"]]);
    p["oomScoreAdj"] = json!(321);
    p["process"]["umask"] = json!(0o027);
    p["process"]["cwd"] = json!("/work/dir");
    p["process"]["personality"] = json!(0x0008); // PER_LINUX32
    std::os::unix::fs::symlink("busybox", b.dir.join("rootfs/bin/uname")).unwrap();
    let (stage0, sock) = spawn_init(Stdio::piped());
    let out = run_container(stage0, sock, &b, p);
    let lines: Vec<&str> = out.lines().collect();
    let uptime: f64 = lines[0].split_whitespace().next().unwrap().parse().unwrap();
    assert!(uptime > 500000.0, "boottime offset not applied: {out}");
    assert_eq!(lines[1], "tsoci.test", "{out}");
    assert_eq!(lines[2], "1", "{out}");
    assert_eq!(lines[3], "321", "{out}");
    assert_eq!(lines[4], "0027", "{out}");
    assert_eq!(lines[5], "/work/dir", "{out}");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(lines[6], "i686", "{out}");
    }
    // The container joined its own session keyring, named after the id.
    assert_eq!(lines[7], "1", "{out}");
    assert!(
        b.dir.join("rootfs/work/dir").is_dir(),
        "missing cwd was not created inside the rootfs"
    );
}
