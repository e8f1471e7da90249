//! The two helper modes: `nsenter` (run a command in another process's
//! namespaces, for hooks and `@ts-oci/namespaces`) and `unshare` (run a
//! command in new namespaces).

use crate::common::{become_root_if_mapped, cstrings, resolve_program, Failure};
use crate::sys::{self, Forked};
use std::os::fd::AsFd;
use tsoci_ns::{differing_kinds, ns_path, open_ns, setns, unshare, NamespaceKind, NsPlan};

/// Exit status when tsoci-init itself fails before running the command.
const SETUP_FAILED: i32 = 1;
/// Exit status when the command cannot be executed (as env(1) and nsenter(1)).
const EXEC_FAILED: i32 = 127;

#[derive(Debug, Default, PartialEq)]
pub struct Opts {
    pub target: Option<u32>,
    pub kinds: Vec<NamespaceKind>,
    pub env: Vec<String>,
    pub clear_env: bool,
    pub map_root: bool,
    /// argv[0] for the command when it must differ from the program path
    /// (an OCI hook whose `args[0]` is not its `path`).
    pub argv0: Option<String>,
    pub argv: Vec<String>,
}

const NSENTER_USAGE: &str =
    "usage: tsoci-init nsenter --target PID [--ns TYPE]... [--env K=V]... [--clear-env] [--argv0 NAME] -- ARGV...";
const UNSHARE_USAGE: &str =
    "usage: tsoci-init unshare [--ns TYPE]... [--map-root] [--env K=V]... [--clear-env] [--argv0 NAME] -- ARGV...";

/// Parses the options of either mode (`nsenter` accepts `--target`,
/// `unshare` accepts `--map-root`).
pub fn parse(mode: &str, args: &[String]) -> Result<Opts, String> {
    let usage = if mode == "nsenter" {
        NSENTER_USAGE
    } else {
        UNSHARE_USAGE
    };
    let mut o = Opts::default();
    let mut it = args.iter();
    let value = |it: &mut std::slice::Iter<String>, flag: &str| -> Result<String, String> {
        it.next()
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value\n{usage}"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--" => {
                o.argv = it.by_ref().cloned().collect();
                break;
            }
            "--target" | "-t" if mode == "nsenter" => {
                let v = value(&mut it, "--target")?;
                o.target = Some(
                    v.parse()
                        .ok()
                        .filter(|&p: &u32| p > 0)
                        .ok_or_else(|| format!("--target {v:?} is not a pid"))?,
                );
            }
            "--ns" => {
                let v = value(&mut it, "--ns")?;
                let k = NamespaceKind::parse(&v)
                    .ok_or_else(|| format!("--ns {v:?}: unknown namespace kind"))?;
                if o.kinds.contains(&k) {
                    return Err(format!("--ns {v}: given twice"));
                }
                o.kinds.push(k);
            }
            "--env" => {
                let v = value(&mut it, "--env")?;
                if !v.contains('=') || v.starts_with('=') {
                    return Err(format!("--env {v:?} is not KEY=value"));
                }
                o.env.push(v);
            }
            "--clear-env" => o.clear_env = true,
            "--argv0" => o.argv0 = Some(value(&mut it, "--argv0")?),
            "--map-root" if mode == "unshare" => o.map_root = true,
            other => return Err(format!("unknown option {other:?}\n{usage}")),
        }
    }
    if o.argv.is_empty() {
        return Err(format!("no command given after --\n{usage}"));
    }
    if mode == "nsenter" && o.target.is_none() {
        return Err(format!("--target is required\n{usage}"));
    }
    if o.map_root && !o.kinds.contains(&NamespaceKind::User) {
        o.kinds.push(NamespaceKind::User);
    }
    Ok(o)
}

/// The command's environment: ours without the `_TSOCI_*` control variables
/// (or nothing with `--clear-env`), then the `--env` entries, later winning.
fn command_env(o: &Opts) -> Vec<String> {
    let mut env: Vec<String> = if o.clear_env {
        Vec::new()
    } else {
        std::env::vars_os()
            .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v.to_str()?)))
            .filter(|kv| !kv.starts_with("_TSOCI_"))
            .collect()
    };
    for kv in &o.env {
        let key = &kv[..=kv.find('=').unwrap_or(0)];
        env.retain(|e| !e.starts_with(key));
        env.push(kv.clone());
    }
    env
}

pub fn main(mode: &str, args: &[String]) -> i32 {
    let opts = match parse(mode, args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tsoci-init {mode}: {e}");
            return SETUP_FAILED;
        }
    };
    let r = if mode == "nsenter" {
        enter(&opts)
    } else {
        create(&opts)
    };
    let needs_fork = match r {
        Ok(f) => f,
        Err(f) => {
            eprintln!("tsoci-init {mode}: {}", f.msg);
            return SETUP_FAILED;
        }
    };
    run(mode, &opts, needs_fork)
}

/// Joins the namespaces of the target; returns whether the command must be forked.
fn enter(o: &Opts) -> Result<bool, Failure> {
    let pid = o.target.unwrap_or(0);
    let kinds = if o.kinds.is_empty() {
        differing_kinds(pid)?
    } else {
        o.kinds.clone()
    };
    let entries: Vec<(NamespaceKind, Option<String>)> = kinds
        .iter()
        .map(|k| {
            (
                *k,
                Some(ns_path(Some(pid), *k).to_string_lossy().into_owned()),
            )
        })
        .collect();
    let plan = NsPlan::build(&entries)?;
    let mut handles = Vec::with_capacity(plan.join.len());
    for (kind, path) in &plan.join {
        handles.push(open_ns(path, *kind)?);
    }
    for h in &handles {
        setns(h)?;
    }
    if plan.has(NamespaceKind::User) {
        become_root_if_mapped()?;
    }
    Ok(plan.needs_fork())
}

/// Creates the namespaces; returns whether the command must be forked.
fn create(o: &Opts) -> Result<bool, Failure> {
    let entries: Vec<(NamespaceKind, Option<String>)> =
        o.kinds.iter().map(|k| (*k, None)).collect();
    let plan = NsPlan::build(&entries)?;
    if plan.new_user {
        let (uid, gid) = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        unshare(&[NamespaceKind::User])?;
        if o.map_root {
            // One line mapping our own ids needs no privilege in the new namespace;
            // gid_map needs setgroups denied first.
            tsoci_mount::write_procfs("self/setgroups", b"deny")?;
            tsoci_mount::write_procfs("self/uid_map", format!("0 {uid} 1\n").as_bytes())?;
            tsoci_mount::write_procfs("self/gid_map", format!("0 {gid} 1\n").as_bytes())?;
            become_root_if_mapped()?;
        }
    }
    unshare(&plan.create)?;
    Ok(plan.needs_fork())
}

fn run(mode: &str, o: &Opts, fork: bool) -> i32 {
    let env = command_env(o);
    // ARGV[0] is the program; --argv0 only changes what the program sees.
    let mut shown = o.argv.clone();
    if let (Some(a0), Some(first)) = (&o.argv0, shown.first_mut()) {
        first.clone_from(a0);
    }
    let prepared = resolve_program(&o.argv[0], &env).and_then(|prog| {
        Ok((
            prog,
            cstrings(&shown, "argument")?,
            cstrings(&env, "environment entry")?,
        ))
    });
    let (prog, argv, envp) = match prepared {
        Ok(x) => x,
        Err(f) => {
            eprintln!("tsoci-init {mode}: {}", f.msg);
            return EXEC_FAILED;
        }
    };
    if !fork {
        sys::default_sigpipe(true);
        let e = sys::execve(&prog, &argv, &envp);
        sys::default_sigpipe(false);
        eprintln!("tsoci-init {mode}: exec {:?}: {e}", o.argv[0]);
        return EXEC_FAILED;
    }
    // The parent holds `alive_w` until it exits; the child checks it for
    // hang-up after arming PDEATHSIG (getppid() is 0 across a pid namespace).
    let (alive_r, alive_w) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tsoci-init {mode}: pipe: {e}");
            return SETUP_FAILED;
        }
    };
    match sys::fork() {
        Err(e) => {
            eprintln!("tsoci-init {mode}: fork: {e}");
            SETUP_FAILED
        }
        Ok(Forked::Child) => {
            // Killing the waiting tsoci-init (a hook timeout) must not orphan the command.
            drop(alive_w);
            if tsoci_process::misc::set_parent_death_signal(Some(libc::SIGKILL)).is_err()
                || sys::writer_gone(alive_r.as_fd())
            {
                std::process::exit(SETUP_FAILED);
            }
            drop(alive_r);
            sys::default_sigpipe(true);
            let e = sys::execve(&prog, &argv, &envp);
            sys::default_sigpipe(false);
            eprintln!("tsoci-init {mode}: exec {:?}: {e}", o.argv[0]);
            std::process::exit(EXEC_FAILED);
        }
        Ok(Forked::Parent(pid)) => {
            drop(alive_r);
            sys::forward_signals_to(pid);
            match sys::wait_for(pid) {
                Ok(ended) => {
                    drop(alive_w);
                    ended.status()
                }
                Err(e) => {
                    eprintln!("tsoci-init {mode}: waiting for {pid}: {e}");
                    SETUP_FAILED
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn nsenter_options() {
        let o = parse(
            "nsenter",
            &s(&[
                "--target", "42", "--ns", "uts", "--ns", "mnt", "--env", "A=1", "--", "sh", "-c",
                "x",
            ]),
        )
        .unwrap();
        assert_eq!(o.target, Some(42));
        assert_eq!(o.kinds, vec![NamespaceKind::Uts, NamespaceKind::Mount]);
        assert_eq!(o.env, vec!["A=1"]);
        assert_eq!(o.argv, vec!["sh", "-c", "x"]);
        assert!(parse("nsenter", &s(&["--", "sh"]))
            .unwrap_err()
            .contains("--target is required"));
        assert!(parse("nsenter", &s(&["--target", "x", "--", "sh"]))
            .unwrap_err()
            .contains("not a pid"));
        assert!(
            parse("nsenter", &s(&["--target", "1", "--map-root", "--", "sh"]))
                .unwrap_err()
                .contains("unknown option")
        );
        assert!(
            parse("nsenter", &s(&["--target", "1", "--ns", "foo", "--", "sh"]))
                .unwrap_err()
                .contains("unknown namespace kind")
        );
    }

    #[test]
    fn unshare_options() {
        let a = parse(
            "nsenter",
            &s(&["--target", "7", "--argv0", "hook", "--", "/bin/x", "a"]),
        )
        .unwrap();
        assert_eq!(a.argv0.as_deref(), Some("hook"));
        assert_eq!(a.argv, vec!["/bin/x", "a"]);
        assert!(parse("nsenter", &s(&["--target", "7", "--argv0"]))
            .unwrap_err()
            .contains("--argv0 needs a value"));
        let o = parse("unshare", &s(&["--ns", "uts", "--map-root", "--", "true"])).unwrap();
        assert_eq!(o.kinds, vec![NamespaceKind::Uts, NamespaceKind::User]);
        assert!(o.map_root);
        assert!(parse("unshare", &s(&["--ns", "uts"]))
            .unwrap_err()
            .contains("no command"));
        assert!(
            parse("unshare", &s(&["--ns", "uts", "--ns", "uts", "--", "x"]))
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse("unshare", &s(&["--env", "NOPE", "--", "x"]))
            .unwrap_err()
            .contains("KEY=value"));
    }

    #[test]
    fn env_override_and_clear() {
        let o = Opts {
            clear_env: true,
            env: s(&["A=1", "B=2", "A=3"]),
            ..Default::default()
        };
        assert_eq!(command_env(&o), s(&["B=2", "A=3"]));
        let o = Opts {
            env: s(&["PATH=/x"]),
            ..Default::default()
        };
        let env = command_env(&o);
        assert_eq!(
            env.iter()
                .filter(|e| e.starts_with("PATH="))
                .collect::<Vec<_>>(),
            vec!["PATH=/x"]
        );
        assert!(env.iter().all(|e| !e.starts_with("_TSOCI_")));
    }
}
