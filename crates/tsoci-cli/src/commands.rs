//! The commands answered natively. Each one either finishes (exit status)
//! or, before it has changed anything, hands the whole command line to
//! Node: an unknown or invalid id, a container in the wrong state, a state
//! file it does not fully understand, hooks to run. Node then does the
//! command itself, so every error a user can cause is worded in one place.

use std::io::Write;
use std::time::{Duration, Instant};

use tsoci_state::{ContainerDir, StateError};

use crate::args::{Command, Globals, ListFormat};
use crate::container::{Status, Stored};
use crate::signals::parse_signal;

/// The Node runtime's lock timeout: a holder that never lets go gives an
/// error instead of a hang.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `delete` waits for a killed process to be gone.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `start` waits for the container process to open the exec fifo.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// The runtime-spec version the Node runtime implements (@ts-oci/spec/tables).
pub const OCI_RUNTIME_SPEC_VERSION: &str = "1.3.0";

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Exit(i32),
    /// Nothing was changed: let the Node CLI run the command line.
    Handoff,
}

/// A failure after the command started changing things: reported here.
pub struct Failure(pub String);

impl From<StateError> for Failure {
    fn from(e: StateError) -> Failure {
        Failure(e.to_string())
    }
}

impl From<crate::cgroup::CgroupError> for Failure {
    fn from(e: crate::cgroup::CgroupError) -> Failure {
        Failure(e.0)
    }
}

type Result<T> = std::result::Result<T, Failure>;

/// Early return with a hand-off to Node.
macro_rules! or_handoff {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return Ok(Outcome::Handoff),
        }
    };
}

pub fn run(g: &Globals, cmd: &Command) -> Result<Outcome> {
    match cmd {
        Command::Version => {
            let commit = option_env!("TSOCI_COMMIT")
                .filter(|c| !c.is_empty())
                .unwrap_or("unknown");
            print(&format!(
                "tsoci version {}\ncommit: {commit}\nspec: {OCI_RUNTIME_SPEC_VERSION}\n",
                env!("CARGO_PKG_VERSION")
            ));
            Ok(Outcome::Exit(0))
        }
        Command::Features => Ok(features()),
        Command::State { id } => state(g, id),
        Command::Start { id } => start(g, id),
        Command::Kill { id, signal, all } => kill(g, id, signal.as_deref(), *all),
        Command::Delete { id, force } => delete(g, id, *force),
        Command::List { format, quiet } => list(g, *format, *quiet),
        Command::Pause { id } => freeze(g, id, true),
        Command::Resume { id } => freeze(g, id, false),
    }
}

/// `features` from the build's template, when it is sound and fits this
/// host; otherwise Node builds the document.
fn features() -> Outcome {
    let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    let script = crate::handoff::node_cli(&exe);
    match script.parent().and_then(crate::features::answer) {
        Some(text) => {
            print(&text);
            Outcome::Exit(0)
        }
        None => Outcome::Handoff,
    }
}

fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// The container locked, with its parsed state. `None` for anything Node
/// should report (no such container, no state yet, a state it cannot read).
fn open(g: &Globals, id: &str) -> Result<Option<(ContainerDir, Stored)>> {
    if tsoci_state::validate_id(id).is_err() {
        return Ok(None);
    }
    let dir = match tsoci_state::lock_container(&g.root, id, Some(LOCK_TIMEOUT)) {
        Ok(d) => d,
        Err(StateError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let stored = match dir.read_state() {
        Ok(Some(text)) => Stored::parse(&text),
        Ok(None) | Err(StateError::CorruptState { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(stored.map(|s| (dir, s)))
}

fn status_of(dir: &ContainerDir, s: &Stored) -> Option<Status> {
    s.live_status(&dir.path()).ok()
}

fn state(g: &Globals, id: &str) -> Result<Outcome> {
    let (dir, s) = or_handoff!(open(g, id)?);
    let status = or_handoff!(status_of(&dir, &s));
    let text = serde_json::to_string_pretty(&s.oci_state(status)).unwrap_or_default();
    drop(dir);
    print(&format!("{text}\n"));
    Ok(Outcome::Exit(0))
}

fn start(g: &Globals, id: &str) -> Result<Outcome> {
    let (dir, mut s) = or_handoff!(open(g, id)?);
    if s.has_hooks("startContainer")
        || s.has_hooks("poststart")
        || status_of(&dir, &s) != Some(Status::Created)
    {
        return Ok(Outcome::Handoff);
    }
    tsoci_state::release_exec_fifo(
        &dir.path().join(tsoci_state::EXEC_FIFO),
        s.pid,
        s.start_time,
        Some(START_TIMEOUT),
    )?;
    s.set_recorded("running");
    dir.write_state(&s.to_json())?;
    Ok(Outcome::Exit(0))
}

fn kill(g: &Globals, id: &str, signal: Option<&str>, all: bool) -> Result<Outcome> {
    let sig = or_handoff!(parse_signal(signal.unwrap_or("SIGTERM")));
    let (dir, s) = or_handoff!(open(g, id)?);
    let status = or_handoff!(status_of(&dir, &s));
    if status == Status::Stopped || (status == Status::Creating && s.pid == 0) {
        return Ok(Outcome::Handoff);
    }
    let cgroup = if all || status == Status::Paused {
        s.cgroup.as_ref()
    } else {
        None
    };
    match cgroup {
        Some(cg) if all => cg.kill_all(sig)?,
        _ => tsoci_state::signal_process(s.pid, s.start_time, sig)?,
    }
    // A frozen process cannot act on SIGKILL: thaw it, as runc does.
    if let Some(cg) = cgroup.filter(|_| status == Status::Paused && sig == libc::SIGKILL) {
        cg.freeze(false)?;
    }
    drop(dir);
    Ok(Outcome::Exit(0))
}

fn delete(g: &Globals, id: &str, force: bool) -> Result<Outcome> {
    if tsoci_state::validate_id(id).is_err() {
        return Ok(Outcome::Handoff);
    }
    let dir = match tsoci_state::lock_container(&g.root, id, Some(LOCK_TIMEOUT)) {
        Ok(d) => d,
        // The containerd shim calls `delete --force` after every delete: a
        // missing container is then not an error (runc behaves the same).
        Err(StateError::NotFound { .. }) => {
            return Ok(if force {
                Outcome::Exit(0)
            } else {
                Outcome::Handoff
            })
        }
        Err(e) => return Err(e.into()),
    };
    let s = match dir.read_state() {
        // A create killed before its first state write: nothing was started.
        Ok(None) => {
            dir.remove()?;
            return Ok(Outcome::Exit(0));
        }
        Ok(Some(text)) => or_handoff!(Stored::parse(&text)),
        Err(StateError::CorruptState { .. }) => return Ok(Outcome::Handoff),
        Err(e) => return Err(e.into()),
    };
    // Hooks run in Node, where their timeouts, environment and errors live;
    // so does removing a bundle the runtime made for the container (an
    // image's: unmounting its overlay and releasing the store's lease).
    if s.has_hooks("poststop") || s.owns_bundle() {
        return Ok(Outcome::Handoff);
    }
    let status = or_handoff!(status_of(&dir, &s));
    if matches!(status, Status::Running | Status::Paused) && !force {
        return Ok(Outcome::Handoff);
    }
    if status != Status::Stopped {
        // Through the cgroup first: it reaches every process, and kills a
        // frozen (paused) container properly (freeze, signal, thaw).
        if let Some(cg) = s.cgroup.as_ref().filter(|cg| cg.exists()) {
            kill_all_in(cg);
        }
        kill_quietly(s.pid, s.start_time);
        kill_quietly(s.init_pid, s.init_start_time);
        wait_dead(s.pid, s.start_time)?;
        wait_dead(s.init_pid, s.init_start_time)?;
    }
    if let Some(cg) = s.cgroup.as_ref().filter(|cg| cg.exists()) {
        kill_all_in(cg);
        cg.destroy()?;
    }
    dir.remove()?;
    Ok(Outcome::Exit(0))
}

/// SIGKILL to every process of the cgroup. An interrupted create can leave
/// hierarchies missing, where the freezer sweep fails: then pid by pid.
fn kill_all_in(cg: &crate::cgroup::Cgroup) {
    if cg.kill_all(libc::SIGKILL).is_err() {
        for pid in cg.pids() {
            let _ = crate::cgroup::kill_pid(pid, libc::SIGKILL);
        }
    }
}

fn kill_quietly(pid: u32, start_time: u64) {
    if pid > 0 {
        // Already gone (or the pid reused): nothing of ours to kill.
        let _ = tsoci_state::signal_process(pid, start_time, libc::SIGKILL);
    }
}

/// Waits until the process has exited (a zombie counts), on its pidfd.
fn wait_dead(pid: u32, start_time: u64) -> Result<()> {
    if pid == 0 {
        return Ok(());
    }
    let fd = match tsoci_state::open_pidfd(pid, start_time) {
        Ok(fd) => fd,
        Err(StateError::NoProcess { .. } | StateError::PidReused { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let deadline = Instant::now() + EXIT_TIMEOUT;
    loop {
        if !tsoci_state::is_alive(pid, start_time)? {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure(format!(
                "process {pid} did not exit within {} ms",
                EXIT_TIMEOUT.as_millis()
            )));
        }
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        let ts = rustix::event::Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Failure(format!("poll(pidfd of {pid}): {e}"))),
        }
    }
}

fn list(g: &Globals, format: ListFormat, quiet: bool) -> Result<Outcome> {
    let ids = or_handoff!(tsoci_state::list_ids(&g.root).ok());
    let mut all = Vec::with_capacity(ids.len());
    for id in ids {
        // Unlocked read (writes are atomic): `list` must not wait behind a create.
        let text = match tsoci_state::read_state(&g.root, &id) {
            Ok(Some(t)) => t,
            // Deleted meanwhile, or not written yet.
            Ok(None) | Err(StateError::NotFound { .. }) => continue,
            Err(_) => return Ok(Outcome::Handoff),
        };
        let s = or_handoff!(Stored::parse(&text));
        let status = or_handoff!(s.live_status(&g.root.join(&id)).ok());
        all.push((s, status));
    }
    let mut out = String::new();
    if quiet {
        for (s, _) in &all {
            out.push_str(&s.id);
            out.push('\n');
        }
    } else if format == ListFormat::Json {
        let docs: Vec<serde_json::Value> = all.iter().map(|(s, st)| s.oci_state(*st)).collect();
        out = serde_json::to_string(&docs).unwrap_or_default();
        out.push('\n');
    } else {
        out = table(&all);
    }
    print(&out);
    Ok(Outcome::Exit(0))
}

/// runc's tabwriter layout: columns at least 12 wide, 3 spaces of padding.
fn table(all: &[(Stored, Status)]) -> String {
    let text = |s: &Stored, key: &str| {
        s.value
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let mut rows: Vec<Vec<String>> = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .map(String::from)
        .to_vec()];
    for (s, st) in all {
        let pid = if *st == Status::Stopped { 0 } else { s.pid };
        let owner = text(s, "owner");
        rows.push(vec![
            s.id.clone(),
            pid.to_string(),
            st.as_str().to_owned(),
            text(s, "bundle"),
            text(s, "created"),
            if owner.is_empty() {
                "root".to_owned()
            } else {
                owner
            },
        ]);
    }
    // Widths in UTF-16 units, as the Node CLI's String.length counts them.
    let width = |c: &str| c.encode_utf16().count();
    let widths: Vec<usize> = (0..6)
        .map(|c| {
            rows.iter()
                .map(|r| width(&r[c]) + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in &rows {
        for (c, cell) in r.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < r.len() {
                out.push_str(&" ".repeat(widths[c].saturating_sub(width(cell))));
            }
        }
        out.push('\n');
    }
    out
}

fn freeze(g: &Globals, id: &str, frozen: bool) -> Result<Outcome> {
    let (dir, s) = or_handoff!(open(g, id)?);
    let wanted = if frozen {
        Status::Running
    } else {
        Status::Paused
    };
    if status_of(&dir, &s) != Some(wanted) {
        return Ok(Outcome::Handoff);
    }
    let cg = or_handoff!(s.cgroup.as_ref());
    cg.freeze(frozen)?;
    drop(dir);
    Ok(Outcome::Exit(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn globals(root: &Path) -> Globals {
        Globals {
            root: root.to_owned(),
            log: None,
            json_log: false,
            debug: false,
        }
    }

    fn temp_root(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("tsoci-cli-cmd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    fn stored(id: &str, status: &str, extra: &str) -> String {
        format!(
            r#"{{"ociVersion":"1.3.0","id":"{id}","status":"{status}","pid":0,"startTime":0,"initPid":0,"initStartTime":0,"bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00.000Z","annotations":{{}},"owner":""{extra}}}"#
        )
    }

    fn make(root: &Path, id: &str, text: Option<&str>) {
        let dir = tsoci_state::create_container_dir(root, id).expect("create");
        if let Some(t) = text {
            dir.write_state(t).expect("write");
        }
    }

    #[test]
    fn what_node_must_answer_is_handed_off_untouched() {
        let root = temp_root("handoff");
        let g = globals(&root);
        let outcome = |c: Command| run(&g, &c).ok();
        // Unknown and invalid ids.
        assert_eq!(
            outcome(Command::State { id: "nope".into() }),
            Some(Outcome::Handoff)
        );
        assert_eq!(
            outcome(Command::Delete {
                id: "../x".into(),
                force: true
            }),
            Some(Outcome::Handoff)
        );
        assert_eq!(
            outcome(Command::Delete {
                id: "nope".into(),
                force: false
            }),
            Some(Outcome::Handoff)
        );
        assert_eq!(
            outcome(Command::Kill {
                id: "nope".into(),
                signal: Some("NOPE".into()),
                all: false
            }),
            Some(Outcome::Handoff)
        );
        // A stopped container cannot be started, killed or paused.
        make(&root, "stopped", Some(&stored("stopped", "created", "")));
        for c in [
            Command::Start {
                id: "stopped".into(),
            },
            Command::Kill {
                id: "stopped".into(),
                signal: None,
                all: true,
            },
            Command::Pause {
                id: "stopped".into(),
            },
            Command::Resume {
                id: "stopped".into(),
            },
        ] {
            assert_eq!(outcome(c.clone()), Some(Outcome::Handoff), "{c:?}");
        }
        // Poststop hooks run in Node.
        let hooks = r#","config":{"hooks":{"poststop":[{"path":"/bin/true"}]}}"#;
        make(&root, "hooked", Some(&stored("hooked", "stopped", hooks)));
        assert_eq!(
            outcome(Command::Delete {
                id: "hooked".into(),
                force: false
            }),
            Some(Outcome::Handoff)
        );
        assert!(root.join("hooked").exists(), "a hand-off changes nothing");
        // So is removing a bundle the runtime owns (made from an image).
        let owned = r#","ownedBundle":"/run/tsoci/@bundles/owned""#;
        make(&root, "owned", Some(&stored("owned", "stopped", owned)));
        assert_eq!(
            outcome(Command::Delete {
                id: "owned".into(),
                force: true
            }),
            Some(Outcome::Handoff)
        );
        assert!(root.join("owned").exists(), "a hand-off changes nothing");
        // A state file this code does not understand.
        make(&root, "odd", Some(r#"{"id":"odd"}"#));
        assert_eq!(
            outcome(Command::State { id: "odd".into() }),
            Some(Outcome::Handoff)
        );
        assert_eq!(
            outcome(Command::List {
                format: ListFormat::Json,
                quiet: false
            }),
            Some(Outcome::Handoff)
        );
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn delete_removes_stopped_and_half_made_containers() {
        let root = temp_root("delete");
        let g = globals(&root);
        make(&root, "stopped", Some(&stored("stopped", "running", "")));
        make(&root, "empty", None);
        assert_eq!(
            run(
                &g,
                &Command::Delete {
                    id: "stopped".into(),
                    force: false
                }
            )
            .ok(),
            Some(Outcome::Exit(0))
        );
        assert_eq!(
            run(
                &g,
                &Command::Delete {
                    id: "empty".into(),
                    force: false
                }
            )
            .ok(),
            Some(Outcome::Exit(0))
        );
        assert!(!root.join("stopped").exists() && !root.join("empty").exists());
        // --force of a missing container succeeds quietly.
        assert_eq!(
            run(
                &g,
                &Command::Delete {
                    id: "gone".into(),
                    force: true
                }
            )
            .ok(),
            Some(Outcome::Exit(0))
        );
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn list_table_layout() {
        let mut s =
            Stored::parse(&stored("a-rather-long-container-id", "created", "")).expect("valid");
        let t = table(&[(s.clone(), Status::Stopped)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "ID                           PID         STATUS      BUNDLE      CREATED                    OWNER");
        assert_eq!(lines[1], "a-rather-long-container-id   0           stopped     /b          2026-01-01T00:00:00.000Z   root");
        s.value.insert("owner".into(), "alice".into());
        assert!(table(&[(s, Status::Stopped)])
            .lines()
            .nth(1)
            .is_some_and(|l| l.ends_with("alice")));
    }
}
