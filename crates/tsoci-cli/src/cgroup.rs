//! The teardown half of a container's cgroups, as recorded in its state
//! (`CgroupManager.paths()` of @ts-oci/cgroups): is it frozen, freeze/thaw,
//! its pids, signal them all, remove it. Setting resources stays in Node.
//!
//! The order of operations follows the TypeScript managers exactly (the e2e
//! suite runs both paths and expects the same results): SIGKILL through
//! `cgroup.kill` where there is one, otherwise freeze → signal every pid →
//! thaw; removal retries EBUSY until a deadline, sub-cgroups first, then the
//! parents that `apply()` created.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long freezing and emptying may take (the TypeScript defaults).
pub const FREEZE_TIMEOUT: Duration = Duration::from_millis(5000);
pub const DESTROY_TIMEOUT: Duration = Duration::from_millis(5000);

/// A cgroup failure, worded like the TypeScript managers' errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupError(pub String);

impl std::fmt::Display for CgroupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Result<T> = std::result::Result<T, CgroupError>;

fn io_error(op: &str, path: &Path, e: &std::io::Error) -> CgroupError {
    CgroupError(format!("{op} {}: {}", path.display(), errno_text(e)))
}

fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!(
            "{} ({})",
            tsoci_state::errno_name(n),
            rustix::io::Errno::from_raw_os_error(n)
        ),
        None => e.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    version: u8,
    /// Key (controller, `name=…`, or `unified`) → directory, in recorded order.
    paths: Vec<(String, PathBuf)>,
    created: Vec<PathBuf>,
}

impl Cgroup {
    /// From the `cgroup` field of a state file; `None` when it is not the
    /// shape the cgroupfs driver writes (the caller then lets Node decide).
    pub fn from_state(v: &Value) -> Option<Cgroup> {
        let o = v.as_object()?;
        if o.get("driver")?.as_str()? != "cgroupfs" {
            return None;
        }
        let version = match o.get("version")?.as_u64()? {
            1 => 1,
            2 => 2,
            _ => return None,
        };
        let mut paths = Vec::new();
        for (k, d) in o.get("paths")?.as_object()? {
            let d = d.as_str()?;
            if !d.starts_with('/') {
                return None;
            }
            paths.push((k.clone(), PathBuf::from(d)));
        }
        let created = match o.get("created") {
            None => Vec::new(),
            Some(c) => c
                .as_array()?
                .iter()
                .map(|d| d.as_str().map(PathBuf::from))
                .collect::<Option<_>>()?,
        };
        Some(Cgroup {
            version,
            paths,
            created,
        })
    }

    fn dir_of(&self, key: &str) -> Option<&Path> {
        self.paths
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, d)| d.as_path())
    }

    fn unified(&self) -> Option<&Path> {
        self.dir_of("unified")
    }

    /// Every distinct directory, v1 hierarchies first (controllers that share
    /// a hierarchy share a directory).
    fn all_dirs(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = Vec::new();
        let v1 = self.paths.iter().filter(|(k, _)| k != "unified");
        for (_, d) in v1.chain(self.paths.iter().filter(|(k, _)| k == "unified")) {
            if !out.contains(&d.as_path()) {
                out.push(d);
            }
        }
        out
    }

    /// The directory that every process of the container joined.
    fn primary_dir(&self) -> Option<&Path> {
        if self.version == 2 {
            return self.unified();
        }
        ["freezer", "pids", "memory", "cpu", "devices"]
            .iter()
            .find_map(|c| self.dir_of(c))
            .or_else(|| {
                self.paths
                    .iter()
                    .find(|(k, _)| k != "unified")
                    .map(|(_, d)| d.as_path())
            })
            .or_else(|| self.unified())
    }

    fn freezer_v1(&self) -> Option<&Path> {
        if self.version == 1 {
            self.dir_of("freezer")
        } else {
            None
        }
    }

    pub fn exists(&self) -> bool {
        self.all_dirs()
            .iter()
            .any(|d| fs::metadata(d.join("cgroup.procs")).is_ok())
    }

    /// Whether the freezer holds the container (what `state` reports as paused).
    pub fn is_frozen(&self) -> bool {
        if let Some(dir) = self.freezer_v1() {
            return read_optional(&dir.join("freezer.state")).is_some_and(|s| s.trim() == "FROZEN");
        }
        self.unified().is_some_and(unified_frozen)
    }

    pub fn can_freeze(&self) -> bool {
        self.freezer_v1().is_some() || self.unified().is_some()
    }

    pub fn freeze(&self, frozen: bool) -> Result<()> {
        match (self.freezer_v1(), self.unified()) {
            (Some(dir), _) => freeze_v1(dir, frozen),
            (None, Some(dir)) => freeze_unified(dir, frozen),
            (None, None) => Err(CgroupError(
                "cannot freeze: the freezer cgroup controller is not mounted on this host"
                    .to_owned(),
            )),
        }
    }

    /// The pids of the container's processes, ascending.
    pub fn pids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        if let Some(dir) = self.primary_dir() {
            collect_pids(dir, &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Sends `signal` to every process; a paused container stays paused
    /// unless the signal is SIGKILL (frozen v1 tasks cannot die until thawed).
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if !self.exists() {
            return Ok(());
        }
        if signal == libc::SIGKILL {
            if let Some(dir) = self.unified() {
                let file = dir.join("cgroup.kill");
                match write_file(&file, "1") {
                    Ok(()) if self.version == 2 => return Ok(()),
                    Ok(()) => {}
                    // No cgroup.kill before Linux 5.14 (ENOENT), or a
                    // threaded cgroup (EINVAL): the sweep below does it.
                    Err(e)
                        if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EINVAL)) => {}
                    Err(e) => return Err(io_error("write", &file, &e)),
                }
            }
        }
        let was_frozen = self.can_freeze() && self.is_frozen();
        let mut froze = false;
        if self.can_freeze() && !was_frozen {
            match self.freeze(true) {
                Ok(()) => froze = true,
                // v2 without a freezer: signal anyway, racing forks beats nothing.
                Err(_)
                    if self.version == 2
                        && !self
                            .unified()
                            .is_some_and(|d| d.join("cgroup.freeze").exists()) => {}
                Err(e) => return Err(e),
            }
        }
        let sent = signal_pids(&self.pids(), signal);
        if froze || (was_frozen && signal == libc::SIGKILL) {
            self.freeze(false)?;
        }
        sent
    }

    /// Removes every directory (waiting for it to empty), then the parents
    /// `apply()` created, if empty. Every hierarchy is tried even if one fails.
    pub fn destroy(&self) -> Result<()> {
        let deadline = Instant::now() + DESTROY_TIMEOUT;
        let mut first = None;
        for dir in self.all_dirs() {
            if let Err(e) = remove_tree(dir, deadline) {
                first.get_or_insert(e);
            }
        }
        let mut created: Vec<&PathBuf> = self.created.iter().collect();
        created.sort_by_key(|d| std::cmp::Reverse(d.as_os_str().len()));
        for d in created {
            // Shared parents may still hold other containers: leaving one is fine.
            let _ = fs::remove_dir(d);
        }
        first.map_or(Ok(()), Err)
    }
}

fn read_optional(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

fn write_file(path: &Path, value: &str) -> std::io::Result<()> {
    // Never O_CREAT: a missing control file means the controller lacks it.
    // O_TRUNC is a no-op on cgroupfs and keeps a fake tree's files exact.
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(value.as_bytes())
}

fn unified_frozen(dir: &Path) -> bool {
    read_optional(&dir.join("cgroup.events")).is_some_and(|events| {
        events
            .lines()
            .any(|l| l.split_whitespace().eq(["frozen", "1"]))
    })
}

fn freeze_v1(dir: &Path, frozen: bool) -> Result<()> {
    let file = dir.join("freezer.state");
    let write = |v: &str| write_file(&file, v).map_err(|e| io_error("write", &file, &e));
    if !frozen {
        return write("THAWED");
    }
    // The v1 freezer can stay FREEZING while tasks keep forking; re-request
    // FROZEN, thawing briefly now and then (runc's remedy).
    let deadline = Instant::now() + FREEZE_TIMEOUT;
    for i in 0.. {
        if i % 50 == 49 {
            write("THAWED")?;
            sleep(Duration::from_millis(10));
        }
        write("FROZEN")?;
        let state = fs::read_to_string(&file).map_err(|e| io_error("read", &file, &e))?;
        if state.trim() == "FROZEN" {
            return Ok(());
        }
        if Instant::now() >= deadline {
            break;
        }
        sleep(Duration::from_millis(if i < 10 { 1 } else { 5 }));
    }
    let _ = write("THAWED");
    Err(CgroupError(format!(
        "cgroup {} did not become FROZEN within {} ms (freezer.state stayed FREEZING)",
        dir.display(),
        FREEZE_TIMEOUT.as_millis()
    )))
}

fn freeze_unified(dir: &Path, frozen: bool) -> Result<()> {
    let file = dir.join("cgroup.freeze");
    if let Err(e) = write_file(&file, if frozen { "1" } else { "0" }) {
        if e.raw_os_error() == Some(libc::ENOENT) && fs::metadata(dir.join("cgroup.procs")).is_ok()
        {
            return Err(CgroupError(format!(
                "cannot {} {}: no cgroup.freeze (the kernel predates the cgroup v2 freezer)",
                if frozen { "freeze" } else { "thaw" },
                dir.display()
            )));
        }
        return Err(io_error(
            if e.raw_os_error() == Some(libc::ENOENT) {
                "freeze"
            } else {
                "write"
            },
            dir,
            &e,
        ));
    }
    let deadline = Instant::now() + FREEZE_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    while unified_frozen(dir) != frozen {
        if Instant::now() >= deadline {
            // A half-frozen cgroup is worse than a running one.
            if frozen {
                let _ = write_file(&file, "0");
            }
            return Err(CgroupError(format!(
                "cgroup {} did not become {} within {} ms",
                dir.display(),
                if frozen { "frozen" } else { "thawed" },
                FREEZE_TIMEOUT.as_millis()
            )));
        }
        sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(())
}

fn collect_pids(dir: &Path, out: &mut Vec<u32>) {
    let Some(procs) = read_optional(&dir.join("cgroup.procs")) else {
        return;
    };
    out.extend(
        procs
            .lines()
            .filter_map(|l| l.trim().parse::<u32>().ok())
            .filter(|p| *p > 0),
    );
    for sub in sub_cgroups(dir) {
        collect_pids(&sub, out);
    }
}

fn sub_cgroups(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// kill(2) of one pid; ESRCH (gone meanwhile) is not an error.
pub fn kill_pid(pid: u32, signal: i32) -> std::io::Result<()> {
    let Ok(p) = i32::try_from(pid) else {
        return Ok(());
    };
    if p <= 0 {
        return Ok(());
    }
    // SAFETY: kill(2) takes two integers and touches no memory; p > 0, so it
    // never targets a process group.
    if unsafe { libc::kill(p, signal) } == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(e)
    }
}

fn signal_pids(pids: &[u32], signal: i32) -> Result<()> {
    for &pid in pids {
        kill_pid(pid, signal)
            .map_err(|e| CgroupError(format!("kill {pid} with {signal}: {}", errno_text(&e))))?;
    }
    Ok(())
}

/// rmdir of `dir` and its sub-cgroups; EBUSY (tasks still inside) and
/// ENOTEMPTY (a sub-cgroup appeared) are retried until `deadline`.
fn remove_tree(dir: &Path, deadline: Instant) -> Result<()> {
    let mut pause = Duration::from_millis(1);
    loop {
        if fs::symlink_metadata(dir).is_err() {
            return Ok(());
        }
        for sub in sub_cgroups(dir) {
            remove_tree(&sub, deadline)?;
        }
        let e = match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let errno = e.raw_os_error();
        if errno == Some(libc::ENOENT) {
            return Ok(());
        }
        let busy = matches!(errno, Some(libc::EBUSY) | Some(libc::ENOTEMPTY));
        if !busy {
            return Err(io_error("rmdir", dir, &e));
        }
        if Instant::now() >= deadline {
            let mut pids = Vec::new();
            collect_pids(dir, &mut pids);
            pids.sort_unstable();
            let who = if pids.is_empty() {
                String::new()
            } else {
                format!(
                    ": processes {} still in it",
                    pids.iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(CgroupError(format!(
                "cannot remove cgroup {}{who} ({})",
                dir.display(),
                errno_text(&e)
            )));
        }
        sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A fake cgroupfs: plain directories and files in a temp dir.
    struct Fake(PathBuf);

    impl Fake {
        fn new(name: &str) -> Fake {
            let p =
                std::env::temp_dir().join(format!("tsoci-cli-cg-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).expect("temp dir");
            Fake(p)
        }
        fn dir(&self, rel: &str, files: &[(&str, &str)]) -> PathBuf {
            let d = self.0.join(rel);
            fs::create_dir_all(&d).expect("mkdir");
            for (f, v) in files {
                fs::write(d.join(f), v).expect("write");
            }
            d
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn reads_the_recorded_shape_and_refuses_others() {
        let v = json!({"driver":"cgroupfs","version":1,"paths":{"memory":"/m/x","cpu":"/c/x","cpuacct":"/c/x","unified":"/u/x"},"mounts":{},"created":["/m/p"]});
        let cg = Cgroup::from_state(&v).expect("valid");
        assert_eq!(
            cg.all_dirs(),
            vec![Path::new("/m/x"), Path::new("/c/x"), Path::new("/u/x")]
        );
        assert_eq!(cg.primary_dir(), Some(Path::new("/m/x")));
        for bad in [
            json!({"driver":"systemd","version":1,"paths":{}}),
            json!({"driver":"cgroupfs","version":3,"paths":{}}),
            json!({"driver":"cgroupfs","version":2,"paths":{"unified":"relative"}}),
            json!({"driver":"cgroupfs","version":2,"paths":{"unified":7}}),
            json!("x"),
        ] {
            assert_eq!(Cgroup::from_state(&bad), None, "{bad}");
        }
    }

    #[test]
    fn v1_freeze_thaw_and_frozen_state() {
        let fake = Fake::new("v1");
        let fz = fake.dir(
            "freezer/c",
            &[("freezer.state", "THAWED\n"), ("cgroup.procs", "")],
        );
        let cg =
            Cgroup::from_state(&json!({"driver":"cgroupfs","version":1,"paths":{"freezer": fz}}))
                .expect("valid");
        assert!(!cg.is_frozen());
        cg.freeze(true).expect("freeze");
        assert!(cg.is_frozen());
        cg.freeze(false).expect("thaw");
        assert_eq!(
            fs::read_to_string(fz.join("freezer.state")).expect("read"),
            "THAWED"
        );
    }

    #[test]
    fn v2_freeze_waits_for_cgroup_events() {
        let fake = Fake::new("v2");
        // A fake kernel that never reports frozen: freezing must time out
        // and leave the cgroup thawed rather than half-frozen.
        let u = fake.dir(
            "c",
            &[
                ("cgroup.freeze", "0"),
                ("cgroup.events", "populated 1\nfrozen 0\n"),
                ("cgroup.procs", ""),
            ],
        );
        let cg =
            Cgroup::from_state(&json!({"driver":"cgroupfs","version":2,"paths":{"unified": u}}))
                .expect("valid");
        fs::write(u.join("cgroup.events"), "populated 1\nfrozen 1\n").expect("write");
        cg.freeze(true).expect("freeze reported by cgroup.events");
        assert!(cg.is_frozen());
        assert_eq!(
            fs::read_to_string(u.join("cgroup.freeze")).expect("read"),
            "1"
        );
    }

    #[test]
    fn pids_come_from_the_primary_hierarchy_and_its_children() {
        let fake = Fake::new("pids");
        let m = fake.dir("memory/c", &[("cgroup.procs", "7\n3\n")]);
        fake.dir("memory/c/sub", &[("cgroup.procs", "5\n3\n")]);
        let p = fake.dir("pids/c", &[("cgroup.procs", "99\n")]);
        let cg = Cgroup::from_state(
            &json!({"driver":"cgroupfs","version":1,"paths":{"memory": m, "pids": p}}),
        )
        .expect("valid");
        // pids wins over memory as the primary hierarchy.
        assert_eq!(cg.pids(), vec![99]);
        let cg =
            Cgroup::from_state(&json!({"driver":"cgroupfs","version":1,"paths":{"memory": m}}))
                .expect("valid");
        assert_eq!(cg.pids(), vec![3, 5, 7]);
    }

    #[test]
    fn destroy_removes_children_dirs_and_created_parents() {
        let fake = Fake::new("destroy");
        // Plain directories: rmdir succeeds once they are empty of sub-dirs,
        // so the fake holds no files.
        let parent = fake.dir("memory/parent", &[]);
        let m = fake.dir("memory/parent/c", &[]);
        fake.dir("memory/parent/c/sub", &[]);
        let cg = Cgroup::from_state(
            &json!({"driver":"cgroupfs","version":1,"paths":{"memory": m},"created":[parent]}),
        )
        .expect("valid");
        cg.destroy().expect("destroy");
        assert!(!m.exists());
        assert!(!parent.exists());
        // Destroying again (already gone) is not an error.
        cg.destroy().expect("idempotent");
    }

    #[test]
    fn destroy_reports_a_cgroup_that_cannot_go() {
        let fake = Fake::new("stuck");
        // A file inside makes rmdir fail with ENOTEMPTY, as a busy cgroup
        // would with EBUSY: after the deadline the error names the directory.
        let m = fake.dir("memory/c", &[("cgroup.procs", "42\n")]);
        let cg =
            Cgroup::from_state(&json!({"driver":"cgroupfs","version":1,"paths":{"memory": m}}))
                .expect("valid");
        let err = remove_tree(&m, Instant::now()).expect_err("not removable");
        assert!(
            err.0
                .contains(&format!("cannot remove cgroup {}", m.display())),
            "{err}"
        );
        assert!(err.0.contains("processes 42 still in it"), "{err}");
        assert!(cg.exists());
    }
}
