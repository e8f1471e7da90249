#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory of this test run under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("tsoci-state-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process this test started. Dropping it SIGKILLs it through a
/// start-time-checked pidfd (never a recycled pid) and reaps it.
pub struct Proc {
    pub child: Child,
    pub pid: u32,
    pub start_time: u64,
}

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Proc {
        let child = cmd.spawn().expect("spawn");
        let pid = child.id();
        let start_time = tsoci_state::process_start_time(pid).expect("start time of a fresh child");
        Proc { child, pid, start_time }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if tsoci_state::signal_process(self.pid, self.start_time, libc::SIGKILL).is_ok() {
            let _ = self.child.wait();
        }
    }
}

/// Polls `cond` every 10 ms for up to 5 s.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path).expect("stat").permissions().mode() & 0o7777
}
