mod common;

use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{eventually, mode_of, Proc, TempDir};
use tsoci_state::{
    accept_recv_fd, is_alive, listen_unix, mkfifo, process_start_time, process_stat, release_exec_fifo, send_fd,
    set_child_subreaper, signal_process, wait_pid, ExitStatus, StateError,
};

fn sleeper() -> Proc {
    Proc::spawn(Command::new("sleep").arg("30"))
}

fn uptime_ticks() -> u64 {
    let text = std::fs::read_to_string("/proc/uptime").unwrap();
    let secs: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (secs * hz) as u64
}

#[test]
fn start_time_with_a_hostile_comm() {
    let tmp = TempDir::new("comm");
    let exe = tmp.path().join("a) (b");
    std::os::unix::fs::symlink("/usr/bin/sleep", &exe).unwrap();
    let p = Proc::spawn(Command::new(&exe).arg("30"));
    eventually("comm to change", || {
        std::fs::read_to_string(format!("/proc/{}/comm", p.pid)).map(|c| c == "a) (b\n").unwrap_or(false)
    });
    let st = process_stat(p.pid).unwrap();
    assert_eq!(st.ppid, std::process::id());
    // The child started after this process and before now.
    let me = process_start_time(std::process::id()).unwrap();
    assert!(st.start_time >= me && st.start_time <= uptime_ticks() + 1, "{st:?}");
    assert_eq!(st.start_time, p.start_time);
    assert!(is_alive(p.pid, st.start_time).unwrap());
}

#[test]
fn a_wrong_start_time_is_a_recycled_pid_and_is_never_signalled() {
    let p = sleeper();
    let e = signal_process(p.pid, p.start_time + 1, libc::SIGKILL).unwrap_err();
    assert!(matches!(e, StateError::PidReused { .. }), "{e}");
    assert_eq!(e.errno_name(), "ESRCH");
    assert!(e.to_string().contains("(the pid was reused)"), "{e}");
    std::thread::sleep(Duration::from_millis(50));
    assert!(is_alive(p.pid, p.start_time).unwrap(), "the process was signalled anyway");
    assert!(!is_alive(p.pid, p.start_time + 1).unwrap());

    signal_process(p.pid, p.start_time, libc::SIGKILL).unwrap();
    assert_eq!(wait_pid(p.pid).unwrap(), ExitStatus::Signaled(libc::SIGKILL));
    assert!(!is_alive(p.pid, p.start_time).unwrap());
    let e = signal_process(p.pid, p.start_time, libc::SIGTERM).unwrap_err();
    assert_eq!(e.errno_name(), "ESRCH", "{e}");
}

#[test]
fn signal_zero_probes_and_real_time_signals_are_sent() {
    let mut p = Proc::spawn(
        Command::new("sh")
            .args(["-c", "trap 'exit 42' 40; echo ready; while :; do sleep 0.05; done"])
            .stdout(Stdio::piped()),
    );
    signal_process(p.pid, p.start_time, 0).unwrap();
    // The trap must be in place before the signal arrives.
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(p.child.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line, "ready\n");
    signal_process(p.pid, p.start_time, 40).unwrap();
    assert_eq!(wait_pid(p.pid).unwrap(), ExitStatus::Exited(42));
}

#[test]
fn zombies_are_not_alive() {
    let p = Proc::spawn(&mut Command::new("true"));
    eventually("the child to become a zombie", || process_stat(p.pid).map(|s| s.state == 'Z').unwrap_or(false));
    assert!(!is_alive(p.pid, p.start_time).unwrap());
    assert_eq!(wait_pid(p.pid).unwrap(), ExitStatus::Exited(0));
}

#[test]
fn wait_pid_reports_exit_codes_and_refuses_non_children() {
    let p = Proc::spawn(Command::new("sh").args(["-c", "exit 7"]));
    assert_eq!(wait_pid(p.pid).unwrap(), ExitStatus::Exited(7));
    let e = wait_pid(1).unwrap_err();
    assert_eq!(e.errno_name(), "ECHILD", "{e}");
    assert_eq!(wait_pid(0).unwrap_err().errno_name(), "EINVAL");
}

#[test]
fn subreaper_adopts_orphaned_grandchildren() {
    set_child_subreaper().unwrap();
    // sh starts a grandchild, prints its pid and exits: the grandchild is
    // re-parented to us (not to pid 1) and can be waited for.
    let out = Command::new("sh").args(["-c", "sh -c 'sleep 0.2; exit 3' & echo $!"]).output().unwrap();
    let grandchild: u32 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    let st = process_stat(grandchild);
    if let Ok(st) = st {
        assert_eq!(st.ppid, std::process::id());
    }
    assert_eq!(wait_pid(grandchild).unwrap(), ExitStatus::Exited(3));
}

#[test]
fn mkfifo_sets_the_exact_mode() {
    let tmp = TempDir::new("mkfifo");
    let path = tmp.path().join("exec.fifo");
    mkfifo(&path, 0o622).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_fifo());
    assert_eq!(mode_of(&path), 0o622);
    let e = mkfifo(&path, 0o622).unwrap_err();
    assert_eq!(e.errno_name(), "EEXIST");
    assert!(e.to_string().contains("exec.fifo"), "{e}");
    assert_eq!(mkfifo(&tmp.path().join("x"), 0o4755).unwrap_err().errno_name(), "EINVAL");
}

/// A stand-in for a created container: blocks opening the fifo for writing,
/// writes one byte, then (like execve) stays the same process.
fn fake_container(fifo: &std::path::Path, then: &str) -> Proc {
    Proc::spawn(
        Command::new("sh").args(["-c", &format!("printf 0 > \"$1\"; {then}"), "sh"]).arg(fifo).stdin(Stdio::null()),
    )
}

#[test]
fn release_exec_fifo_with_a_live_writer() {
    let tmp = TempDir::new("fifo-live");
    let fifo = tmp.path().join("exec.fifo");
    mkfifo(&fifo, 0o622).unwrap();
    let p = fake_container(&fifo, "exec sleep 30");
    let byte = release_exec_fifo(&fifo, p.pid, p.start_time, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(byte, b'0');
    assert!(!fifo.exists(), "start must remove the fifo");
    // The "container" went on to exec: same pid and start time, still alive.
    eventually("exec", || {
        std::fs::read_to_string(format!("/proc/{}/comm", p.pid)).map(|c| c == "sleep\n").unwrap_or(false)
    });
    assert!(is_alive(p.pid, p.start_time).unwrap());
}

#[test]
fn release_exec_fifo_when_the_writer_exits_right_after_writing() {
    let tmp = TempDir::new("fifo-quick");
    let fifo = tmp.path().join("exec.fifo");
    mkfifo(&fifo, 0o622).unwrap();
    let p = fake_container(&fifo, "exit 0");
    assert_eq!(release_exec_fifo(&fifo, p.pid, p.start_time, None).unwrap(), b'0');
}

/// The caller may reap the container process the moment it exits (a
/// subreaper engine, or the runtime's own exit watcher): a process that
/// writes its byte and exits at once must still count as started.
#[test]
fn release_exec_fifo_when_the_writer_is_reaped_at_once() {
    let tmp = TempDir::new("fifo-reaped");
    for i in 0..20 {
        let fifo = tmp.path().join(format!("exec-{i}.fifo"));
        mkfifo(&fifo, 0o622).unwrap();
        let p = fake_container(&fifo, "exit 0");
        let pid = p.pid;
        let reaper = std::thread::spawn(move || wait_pid(pid));
        let r = release_exec_fifo(&fifo, p.pid, p.start_time, Some(Duration::from_secs(10)));
        assert_eq!(reaper.join().unwrap().unwrap(), ExitStatus::Exited(0));
        assert_eq!(r.unwrap(), b'0', "iteration {i}");
    }
}

#[test]
fn release_exec_fifo_with_a_dead_process_fails_fast() {
    let tmp = TempDir::new("fifo-dead");
    let fifo = tmp.path().join("exec.fifo");
    mkfifo(&fifo, 0o622).unwrap();

    // Exited but not reaped: the pidfd reports the exit.
    let zombie = Proc::spawn(&mut Command::new("true"));
    eventually("zombie", || process_stat(zombie.pid).map(|s| s.state == 'Z').unwrap_or(false));
    let started = Instant::now();
    let e = release_exec_fifo(&fifo, zombie.pid, zombie.start_time, None).unwrap_err();
    assert!(matches!(e, StateError::ExitedBeforeStart { .. }), "{e}");
    assert_eq!(e.errno_name(), "ESRCH");
    assert!(e
        .to_string()
        .starts_with(&format!("container process {} exited before it opened the exec fifo", zombie.pid)));
    assert!(started.elapsed() < Duration::from_secs(5));

    // Reaped: the pid is gone (or belongs to someone else).
    assert_eq!(wait_pid(zombie.pid).unwrap(), ExitStatus::Exited(0));
    let e = release_exec_fifo(&fifo, zombie.pid, zombie.start_time, None).unwrap_err();
    assert!(matches!(e, StateError::ExitedBeforeStart { .. }), "{e}");
    assert!(fifo.exists(), "a failed start leaves the fifo for delete");
}

#[test]
fn release_exec_fifo_dies_while_waiting() {
    let tmp = TempDir::new("fifo-dies");
    let fifo = tmp.path().join("exec.fifo");
    mkfifo(&fifo, 0o622).unwrap();
    let p = Proc::spawn(Command::new("sh").args(["-c", "sleep 0.3; exit 1"]));
    let e = release_exec_fifo(&fifo, p.pid, p.start_time, None).unwrap_err();
    assert!(matches!(e, StateError::ExitedBeforeStart { .. }), "{e}");
}

#[test]
fn release_exec_fifo_times_out() {
    let tmp = TempDir::new("fifo-timeout");
    let fifo = tmp.path().join("exec.fifo");
    mkfifo(&fifo, 0o622).unwrap();
    let p = sleeper();
    let e = release_exec_fifo(&fifo, p.pid, p.start_time, Some(Duration::from_millis(200))).unwrap_err();
    assert!(matches!(e, StateError::Timeout { .. }), "{e}");
    assert_eq!(e.errno_name(), "ETIMEDOUT");
    assert!(fifo.exists());
}

#[test]
fn release_exec_fifo_rejects_missing_fifos_and_regular_files() {
    let tmp = TempDir::new("fifo-bad");
    let p = sleeper();
    let e = release_exec_fifo(&tmp.path().join("none"), p.pid, p.start_time, None).unwrap_err();
    assert_eq!(e.errno_name(), "ENOENT");
    let file = tmp.path().join("file");
    std::fs::write(&file, "0").unwrap();
    let e = release_exec_fifo(&file, p.pid, p.start_time, None).unwrap_err();
    assert!(e.to_string().ends_with("is not a fifo"), "{e}");
    assert!(file.exists());
}

#[test]
fn fd_passing_over_a_unix_socket() {
    let tmp = TempDir::new("sock");
    let path = tmp.path().join("console.sock");
    let listener = listen_unix(&path).unwrap();
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let sender_path = path.clone();
    let sender = std::thread::spawn(move || send_fd(&sender_path, writer.as_fd(), "/dev/pts/7"));
    let got = accept_recv_fd(listener.as_fd(), Some(Duration::from_secs(5))).unwrap();
    sender.join().unwrap().unwrap();
    assert_eq!(got.name, "/dev/pts/7");
    // The received fd is the write end of our pipe (the sender's copy is closed).
    rustix::io::write(&got.fd, b"hi").unwrap();
    drop(got);
    let mut buf = [0u8; 8];
    let n = rustix::io::read(&reader, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hi");

    // A path that exists is not replaced.
    assert_eq!(listen_unix(&path).unwrap_err().errno_name(), "EADDRINUSE");
}

#[test]
fn accept_recv_fd_times_out_and_rejects_messages_without_fds() {
    let tmp = TempDir::new("sock2");
    let path = tmp.path().join("s");
    let listener = listen_unix(&path).unwrap();
    let e = accept_recv_fd(listener.as_fd(), Some(Duration::from_millis(100))).unwrap_err();
    assert_eq!(e.errno_name(), "ETIMEDOUT", "{e}");

    let client_path = path.clone();
    let client = std::thread::spawn(move || {
        let mut s = std::os::unix::net::UnixStream::connect(&client_path).unwrap();
        std::io::Write::write_all(&mut s, b"no fd here").unwrap();
    });
    let e = accept_recv_fd(listener.as_fd(), Some(Duration::from_secs(5))).unwrap_err();
    client.join().unwrap();
    assert_eq!(e.errno_name(), "EPROTO");
    assert_eq!(e.to_string(), "the peer sent a message without a file descriptor");

    let client = std::thread::spawn(move || drop(std::os::unix::net::UnixStream::connect(&path).unwrap()));
    let e = accept_recv_fd(listener.as_fd(), Some(Duration::from_secs(5))).unwrap_err();
    client.join().unwrap();
    assert_eq!(e.to_string(), "the peer closed the connection without sending a file descriptor");
}

#[test]
fn socket_paths_over_107_bytes_are_refused() {
    let long = std::path::PathBuf::from(format!("/tmp/{}", "s".repeat(103)));
    let e = listen_unix(&long).unwrap_err();
    assert_eq!(e.errno_name(), "EINVAL");
    assert!(e.to_string().contains("is 108 bytes, longer than the 107-byte limit"), "{e}");
    assert!(!long.exists());
}
