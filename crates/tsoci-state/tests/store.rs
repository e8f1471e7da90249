mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{mode_of, TempDir};
use tsoci_state::{
    create_container_dir, list_ids, lock_container, read_state, remove_container_dir, StateError, STATE_FILE,
};

#[test]
fn create_makes_root_0711_and_container_0700() {
    let tmp = TempDir::new("create");
    let root = tmp.path().join("nested/root");
    let dir = create_container_dir(&root, "c1").unwrap();
    assert_eq!(mode_of(&root), 0o711);
    assert_eq!(mode_of(&root.join("c1")), 0o700);
    assert_eq!(dir.id(), "c1");
    assert_eq!(dir.path(), root.join("c1"));
    assert_eq!(dir.read_state().unwrap(), None);
}

#[test]
fn existing_root_keeps_its_mode() {
    let tmp = TempDir::new("rootmode");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
    drop(create_container_dir(tmp.path(), "c").unwrap());
    assert_eq!(mode_of(tmp.path()), 0o750);
}

#[test]
fn duplicate_id_is_rejected() {
    let tmp = TempDir::new("dup");
    let first = create_container_dir(tmp.path(), "x").unwrap();
    first.write_state(r#"{"id":"x"}"#).unwrap();
    drop(first);
    let e = create_container_dir(tmp.path(), "x").unwrap_err();
    assert_eq!(e.to_string(), r#"container "x" already exists"#);
    assert_eq!(e.errno_name(), "EEXIST");
    // The existing container is untouched.
    assert_eq!(read_state(tmp.path(), "x").unwrap().as_deref(), Some(r#"{"id":"x"}"#));
}

#[test]
fn invalid_ids_never_touch_the_filesystem() {
    let tmp = TempDir::new("badid");
    let root = tmp.path().join("root");
    for id in ["", "..", "a/b", "../../etc", "x y"] {
        let e = create_container_dir(&root, id).unwrap_err();
        assert!(matches!(e, StateError::InvalidId { .. }), "{id:?}: {e}");
        assert!(e.to_string().starts_with(&format!("invalid container id {id:?}")), "{e}");
        assert!(lock_container(&root, id, None).is_err());
    }
    assert!(!root.exists());
}

#[test]
fn missing_containers_are_not_found() {
    let tmp = TempDir::new("missing");
    let e = lock_container(tmp.path(), "nope", Some(Duration::ZERO)).unwrap_err();
    assert_eq!(e.to_string(), r#"container "nope" does not exist"#);
    assert_eq!(e.errno_name(), "ENOENT");
    // Also when the root itself does not exist yet.
    let e = lock_container(&tmp.path().join("no-root"), "nope", None).unwrap_err();
    assert!(matches!(e, StateError::NotFound { .. }));
    assert!(matches!(read_state(tmp.path(), "nope"), Err(StateError::NotFound { .. })));
}

#[test]
fn state_round_trips_and_is_private() {
    let tmp = TempDir::new("rw");
    let dir = create_container_dir(tmp.path(), "c").unwrap();
    let json = r#"{"ociVersion":"1.3.0","id":"c","status":"created","pid":12,"startTime":99}"#;
    dir.write_state(json).unwrap();
    assert_eq!(dir.read_state().unwrap().as_deref(), Some(json));
    assert_eq!(mode_of(&dir.path().join(STATE_FILE)), 0o600);
    let live = dir.liveness().unwrap().unwrap();
    assert_eq!((live.pid, live.start_time), (12, 99));
    drop(dir);
    // Readers that do not lock see the same text.
    assert_eq!(read_state(tmp.path(), "c").unwrap().as_deref(), Some(json));
}

#[test]
fn write_rejects_non_objects_and_keeps_the_old_state() {
    let tmp = TempDir::new("badjson");
    let dir = create_container_dir(tmp.path(), "c").unwrap();
    dir.write_state(r#"{"v":1}"#).unwrap();
    for bad in ["[1,2]", "{", "", "42"] {
        let e = dir.write_state(bad).unwrap_err();
        assert_eq!(e.errno_name(), "EINVAL", "{bad:?}");
        assert!(e.to_string().starts_with(r#"state of container "c": "#), "{e}");
    }
    assert_eq!(dir.read_state().unwrap().as_deref(), Some(r#"{"v":1}"#));
}

/// Later writes swap the new file in and unlink the old one: nothing but
/// the current state is left, and its content is the last write's.
#[test]
fn rewrites_leave_only_the_current_state() {
    let tmp = TempDir::new("rewrite");
    let dir = create_container_dir(tmp.path(), "c").unwrap();
    let names = |p: &std::path::Path| {
        let mut v: Vec<String> =
            std::fs::read_dir(p).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    };
    dir.write_state(r#"{"generation":1}"#).unwrap();
    let after_first = names(&dir.path());
    assert!(after_first.contains(&"state.json".to_owned()), "{after_first:?}");
    for g in 2..=4 {
        dir.write_state(&format!(r#"{{"generation":{g}}}"#)).unwrap();
        assert_eq!(names(&dir.path()), after_first, "generation {g}");
    }
    assert_eq!(dir.read_state().unwrap().as_deref(), Some(r#"{"generation":4}"#));
}

#[test]
fn atomic_write_survives_a_crashed_writer() {
    let tmp = TempDir::new("crash");
    let dir = create_container_dir(tmp.path(), "c").unwrap();
    dir.write_state(r#"{"generation":1}"#).unwrap();
    // What a writer killed between write() and rename() leaves behind: a
    // truncated temp file next to the intact state.
    let tmp_file = dir.path().join("#state.json.tmp");
    std::fs::write(&tmp_file, r#"{"generation":2,"trunc"#).unwrap();
    assert_eq!(dir.read_state().unwrap().as_deref(), Some(r#"{"generation":1}"#));
    assert_eq!(list_ids(tmp.path()).unwrap(), vec!["c".to_owned()]);
    // The next writer replaces the leftover and succeeds.
    dir.write_state(r#"{"generation":3}"#).unwrap();
    assert_eq!(dir.read_state().unwrap().as_deref(), Some(r#"{"generation":3}"#));
    assert!(!tmp_file.exists());
}

#[test]
fn corrupt_state_files_are_reported() {
    let tmp = TempDir::new("corrupt");
    let dir = create_container_dir(tmp.path(), "c").unwrap();
    std::fs::write(dir.path().join(STATE_FILE), "{not json").unwrap();
    let e = dir.read_state().unwrap_err();
    assert_eq!(e.errno_name(), "EBADMSG");
    assert!(e.to_string().contains(r#"of container "c" is corrupt: not valid JSON"#), "{e}");
    std::fs::write(dir.path().join(STATE_FILE), r#"{"pid":5}"#).unwrap();
    let e = dir.liveness().unwrap_err();
    assert!(e.to_string().ends_with("pid is 5 but startTime is missing"), "{e}");
}

#[test]
fn symlinked_state_is_not_followed() {
    let tmp = TempDir::new("symlink");
    let dir = create_container_dir(tmp.path(), "c").unwrap();
    let target = tmp.path().join("elsewhere.json");
    std::fs::write(&target, r#"{"secret":true}"#).unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join(STATE_FILE)).unwrap();
    let e = dir.read_state().unwrap_err();
    assert_eq!(e.errno_name(), "ELOOP");
    // A symlink in place of a container directory is not a container.
    std::os::unix::fs::symlink(tmp.path(), tmp.path().join("link")).unwrap();
    assert!(lock_container(tmp.path(), "link", Some(Duration::ZERO)).is_err());
}

#[test]
fn list_skips_files_and_invalid_names() {
    let tmp = TempDir::new("list");
    assert_eq!(list_ids(&tmp.path().join("absent")).unwrap(), Vec::<String>::new());
    for id in ["b", "a", "c.1"] {
        drop(create_container_dir(tmp.path(), id).unwrap());
    }
    std::fs::write(tmp.path().join("file"), "").unwrap();
    std::fs::create_dir(tmp.path().join("bad name")).unwrap();
    std::os::unix::fs::symlink("/", tmp.path().join("dirlink")).unwrap();
    assert_eq!(list_ids(tmp.path()).unwrap(), vec!["a", "b", "c.1"]);
}

#[test]
fn remove_deletes_the_tree_and_waiters_see_not_found() {
    let tmp = TempDir::new("remove");
    let dir = create_container_dir(tmp.path(), "c").unwrap();
    dir.write_state("{}").unwrap();
    std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
    std::fs::write(dir.path().join("sub/deeper/f"), "x").unwrap();
    // A symlink pointing outside must be removed, not followed.
    let other = TempDir::new("remove-outside");
    let outside = other.path().to_owned();
    std::fs::write(outside.join("keep"), "keep").unwrap();
    std::os::unix::fs::symlink(&outside, dir.path().join("escape")).unwrap();
    tsoci_state::mkfifo(&dir.path().join("exec.fifo"), 0o622).unwrap();

    let root = tmp.path().to_owned();
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        tx.send(()).unwrap();
        lock_container(&root, "c", Some(Duration::from_secs(10)))
    });
    rx.recv().unwrap();
    thread::sleep(Duration::from_millis(50));
    remove_container_dir(dir).unwrap();
    let got = waiter.join().unwrap();
    assert!(matches!(got, Err(StateError::NotFound { .. })), "{got:?}");
    assert!(!tmp.path().join("c").exists());
    assert_eq!(std::fs::read_to_string(outside.join("keep")).unwrap(), "keep");
    assert!(list_ids(tmp.path()).unwrap().is_empty());
}

#[test]
fn lock_contention_between_threads_times_out_then_succeeds() {
    let tmp = TempDir::new("threads");
    let holder = create_container_dir(tmp.path(), "c").unwrap();
    let started = Instant::now();
    let e = lock_container(tmp.path(), "c", Some(Duration::from_millis(150))).unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(e, StateError::Locked { .. }), "{e}");
    assert_eq!(e.errno_name(), "EAGAIN");
    assert!(e.to_string().starts_with(r#"container "c" is locked by another operation"#), "{e}");
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(matches!(lock_container(tmp.path(), "c", Some(Duration::ZERO)), Err(StateError::Locked { .. })));

    // A blocking waiter gets the lock as soon as the holder lets go.
    let root = tmp.path().to_owned();
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let dir = lock_container(&root, "c", None).unwrap();
        tx.send(Instant::now()).unwrap();
        dir.read_state().unwrap();
    });
    thread::sleep(Duration::from_millis(100));
    assert!(rx.try_recv().is_err(), "the waiter got the lock while it was held");
    let released = Instant::now();
    drop(holder);
    let acquired = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(acquired >= released);
    waiter.join().unwrap();
}

#[test]
fn different_ids_never_block_each_other() {
    let tmp = TempDir::new("ids");
    let _a = create_container_dir(tmp.path(), "a").unwrap();
    drop(create_container_dir(tmp.path(), "b").unwrap());
    let b = lock_container(tmp.path(), "b", Some(Duration::ZERO)).unwrap();
    b.write_state("{}").unwrap();
}

/// Not a test on its own: the child half of `lock_contention_between_processes`,
/// run by re-executing this test binary. Locks the container named in the
/// environment, says so on stdout, and holds the lock until stdin closes.
#[test]
fn child_holds_lock() {
    let Ok(spec) = std::env::var("TSOCI_STATE_TEST_HOLD") else { return };
    let (root, id) = spec.split_once('\n').unwrap();
    let dir = lock_container(std::path::Path::new(root), id, Some(Duration::from_secs(5))).unwrap();
    // libtest prints "test child_holds_lock ... " on the same line first.
    println!("\nTSOCI-LOCKED");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(dir);
}

#[test]
fn lock_contention_between_processes_and_crash_release() {
    let tmp = TempDir::new("procs");
    drop(create_container_dir(tmp.path(), "c").unwrap());
    let mut child = common::Proc::spawn(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_holds_lock", "--nocapture", "--test-threads=1"])
            .env("TSOCI_STATE_TEST_HOLD", format!("{}\nc", tmp.path().display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    );
    let stdout = child.child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    assert!(lines.any(|l| l.map(|l| l.contains("TSOCI-LOCKED")).unwrap_or(false)), "child never locked");

    let e = lock_container(tmp.path(), "c", Some(Duration::from_millis(100))).unwrap_err();
    assert!(matches!(e, StateError::Locked { .. }), "{e}");

    // SIGKILL the holder: the kernel drops its flock with its fds; no stale lock.
    tsoci_state::signal_process(child.pid, child.start_time, libc::SIGKILL).unwrap();
    let dir = lock_container(tmp.path(), "c", Some(Duration::from_secs(5))).unwrap();
    dir.write_state(r#"{"after":"crash"}"#).unwrap();
}

#[test]
fn remove_refuses_to_cross_a_mount_point_and_keeps_the_lock() {
    let tmp = TempDir::new("mount");
    let dir = create_container_dir(tmp.path(), "c").unwrap();
    let mnt = dir.path().join("m");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "tsoci-test", mnt.to_str().unwrap()]).status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot mount tmpfs here (needs CAP_SYS_ADMIN)");
        return;
    }
    std::fs::write(mnt.join("precious"), "keep").unwrap();
    let e = dir.remove_tree().unwrap_err();
    // Unmount before asserting, so a failed assertion leaves no mount behind.
    let unmounted = Command::new("umount").arg(&mnt).status().unwrap();
    assert!(unmounted.success());
    assert_eq!(e.errno_name(), "EBUSY", "{e}");
    assert!(e.to_string().starts_with("refusing to delete across the mount point"), "{e}");
    // Still locked by us after the failure.
    assert!(matches!(lock_container(tmp.path(), "c", Some(Duration::ZERO)), Err(StateError::Locked { .. })));
    dir.remove().unwrap();
    assert!(!tmp.path().join("c").exists());
}
