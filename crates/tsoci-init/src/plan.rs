//! The InitPlan (PROTOCOL.md, version 1) and its validation. Everything that
//! can be checked without touching the system is checked here, before the
//! first side effect, so a bad plan never leaves a half-made container.

use base64::Engine;
use serde::Deserialize;
use tsoci_mount::RootfsPlan;
use tsoci_ns::{NamespaceKind, NsPlan};
use tsoci_process::caps::CapMask;
use tsoci_process::{rlimit, seccomp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Create,
    Exec,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitPlan {
    pub version: u32,
    pub mode: Mode,
    pub id: String,
    #[serde(default)]
    pub namespaces: Vec<NsEntry>,
    #[serde(default)]
    pub time_offsets: Option<TimeOffsets>,
    #[serde(default)]
    pub no_new_keyring: bool,
    #[serde(default)]
    pub console_socket: Option<String>,
    #[serde(default)]
    pub exec_fifo: Option<String>,
    #[serde(default)]
    pub preserve_fds: u32,
    #[serde(default)]
    pub rootfs: Option<RootfsPlan>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub domainname: Option<String>,
    #[serde(default)]
    pub sysctl: Vec<(String, String)>,
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// cgroup v1 directories stage 0 moves itself into before anything else.
    #[serde(default)]
    pub join_cgroups: Vec<String>,
    /// Create mode: stop after the mounts (`mounted`, then wait for
    /// `continue`) so the parent can run its hooks. False when there are
    /// none: one round trip through the parent less.
    #[serde(default = "yes")]
    pub stop_after_mounts: bool,
    /// Exec mode only: stage 0 stays, forwards signals and exits with the
    /// process's status instead of exiting 0 once it started.
    #[serde(default)]
    pub wait: bool,
    pub process: ProcessPlan,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NsEntry {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeOffset {
    pub secs: i64,
    #[serde(default)]
    pub nanosecs: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeOffsets {
    #[serde(default)]
    pub monotonic: Option<TimeOffset>,
    #[serde(default)]
    pub boottime: Option<TimeOffset>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSize {
    pub height: u16,
    pub width: u16,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapsPlan {
    #[serde(default)]
    pub bounding: Option<Vec<u32>>,
    #[serde(default)]
    pub effective: Option<Vec<u32>>,
    #[serde(default)]
    pub inheritable: Option<Vec<u32>>,
    #[serde(default)]
    pub permitted: Option<Vec<u32>>,
    #[serde(default)]
    pub ambient: Option<Vec<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlimitPlan {
    pub resource: u32,
    pub soft: String,
    pub hard: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompPlan {
    pub filter: String,
    #[serde(default)]
    pub flags: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcessPlan {
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    pub cwd: String,
    #[serde(default)]
    pub terminal: bool,
    #[serde(default)]
    pub console_size: Option<ConsoleSize>,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub additional_gids: Vec<u32>,
    #[serde(default)]
    pub umask: Option<u32>,
    #[serde(default)]
    pub capabilities: Option<CapsPlan>,
    #[serde(default)]
    pub rlimits: Vec<RlimitPlan>,
    #[serde(default)]
    pub no_new_privileges: bool,
    #[serde(default)]
    pub seccomp: Option<SeccompPlan>,
    #[serde(default)]
    pub personality: Option<u64>,
}

/// Capability masks resolved from the plan; `None` leaves a set unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct CapMasks {
    pub bounding: Option<CapMask>,
    pub effective: Option<CapMask>,
    pub inheritable: Option<CapMask>,
    pub permitted: Option<CapMask>,
    pub ambient: Option<CapMask>,
}

/// A plan that passed validation, with the derived values the init needs.
#[derive(Debug)]
pub struct Checked {
    pub plan: InitPlan,
    pub ns: NsPlan,
    pub rlimits: Vec<(u32, u64, u64)>,
    pub caps: Option<CapMasks>,
    pub seccomp: Option<(Vec<libc::sock_filter>, u32)>,
    /// sysctl writes as (path below /proc, value).
    pub sysctl: Vec<(String, String)>,
}

fn yes() -> bool {
    true
}

fn bad(field: &str, why: impl std::fmt::Display) -> String {
    format!("invalid init plan: {field}: {why}")
}

/// Parses and validates the `plan` member of the first frame.
pub fn parse(json: &str) -> Result<Checked, String> {
    let plan: InitPlan =
        serde_json::from_str(json).map_err(|e| format!("invalid init plan: {e}"))?;
    check(plan)
}

pub fn check(plan: InitPlan) -> Result<Checked, String> {
    if plan.version != 1 {
        return Err(bad(
            "version",
            format!("{} is not supported (expected 1)", plan.version),
        ));
    }
    if plan.id.is_empty() {
        return Err(bad("id", "must not be empty"));
    }
    let mut entries = Vec::with_capacity(plan.namespaces.len());
    for (i, e) in plan.namespaces.iter().enumerate() {
        let kind = NamespaceKind::parse(&e.kind).ok_or_else(|| {
            bad(
                &format!("namespaces[{i}].type"),
                format!("unknown namespace kind {:?}", e.kind),
            )
        })?;
        entries.push((kind, e.path.clone()));
    }
    let ns = NsPlan::build(&entries).map_err(|e| format!("invalid init plan: {e}"))?;

    match plan.mode {
        Mode::Create => {
            let rootfs = plan
                .rootfs
                .as_ref()
                .ok_or_else(|| bad("rootfs", "required in create mode"))?;
            rootfs
                .validate()
                .map_err(|e| format!("invalid init plan: {e}"))?;
            // Joined by path (a pod's, or runtime-tools' `unshare --mount`),
            // the rootfs is set up in that namespace, as runc does; init.rs
            // refuses the runtime's own. Without one it would be the host's.
            let joins_mount = ns.join.iter().any(|(k, _)| *k == NamespaceKind::Mount);
            if !ns.is_new(NamespaceKind::Mount) && !joins_mount {
                return Err(bad(
                    "namespaces",
                    "create mode needs a mount namespace (new or joined)",
                ));
            }
            let fifo = plan
                .exec_fifo
                .as_deref()
                .ok_or_else(|| bad("execFifo", "required in create mode"))?;
            absolute("execFifo", fifo)?;
            if plan.wait {
                return Err(bad("wait", "only valid in exec mode"));
            }
        }
        Mode::Exec => {
            if plan.rootfs.is_some() {
                return Err(bad("rootfs", "must be null in exec mode"));
            }
            if plan.exec_fifo.is_some() {
                return Err(bad("execFifo", "must be null in exec mode"));
            }
            if ns.create.iter().any(|k| *k != NamespaceKind::User) || ns.new_user {
                return Err(bad(
                    "namespaces",
                    "exec mode only joins namespaces (every entry needs a path)",
                ));
            }
        }
    }
    for (field, value) in [
        ("hostname", &plan.hostname),
        ("domainname", &plan.domainname),
    ] {
        if let Some(v) = value {
            // Joined by path is fine: the name is set in that namespace.
            if !ns.has(NamespaceKind::Uts) {
                return Err(bad(
                    field,
                    "setting it needs a uts namespace (new or joined)",
                ));
            }
            if v.len() > 64 || v.contains('\0') {
                return Err(bad(
                    field,
                    format!("{v:?} is longer than 64 bytes or contains NUL"),
                ));
            }
        }
    }
    if let Some(t) = &plan.time_offsets {
        if !ns.is_new(NamespaceKind::Time) {
            return Err(bad(
                "timeOffsets",
                "setting them needs a new time namespace",
            ));
        }
        for (name, off) in [("monotonic", t.monotonic), ("boottime", t.boottime)] {
            if let Some(o) = off {
                if o.nanosecs >= 1_000_000_000 {
                    return Err(bad(
                        &format!("timeOffsets.{name}.nanosecs"),
                        format!("{} is not below 10^9", o.nanosecs),
                    ));
                }
            }
        }
    }
    for (i, dir) in plan.join_cgroups.iter().enumerate() {
        let field = format!("joinCgroups[{i}]");
        absolute(&field, dir)?;
        if dir.split('/').any(|c| c == "..") {
            return Err(bad(&field, format!("{dir:?} contains a `..` component")));
        }
    }
    if let Some(s) = &plan.console_socket {
        absolute("consoleSocket", s)?;
        if s.len() > 107 {
            return Err(bad(
                "consoleSocket",
                format!("{s:?} is longer than the 107 bytes a unix socket path may have"),
            ));
        }
    }
    let p = &plan.process;
    if p.terminal && plan.console_socket.is_none() {
        return Err(bad(
            "consoleSocket",
            "required when process.terminal is true",
        ));
    }
    if p.args.is_empty() || p.args[0].is_empty() {
        return Err(bad(
            "process.args",
            "must contain at least a non-empty program name",
        ));
    }
    if p.args.iter().chain(p.env.iter()).any(|a| a.contains('\0')) {
        return Err(bad("process", "args and env must not contain NUL bytes"));
    }
    for (i, e) in p.env.iter().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            return Err(bad(
                &format!("process.env[{i}]"),
                format!("{e:?} is not KEY=value"),
            ));
        }
    }
    absolute("process.cwd", &p.cwd)?;
    if let Some(m) = p.umask {
        if m > 0o777 {
            return Err(bad(
                "process.umask",
                format!("{m:#o} is not a permission mask"),
            ));
        }
    }
    if p.uid == u32::MAX || p.gid == u32::MAX {
        return Err(bad("process.uid/gid", "4294967295 (-1) is not a valid id"));
    }
    let mut rlimits: Vec<(u32, u64, u64)> = Vec::new();
    for (i, r) in p.rlimits.iter().enumerate() {
        let soft = rlimit::parse_limit(&format!("process.rlimits[{i}].soft"), &r.soft)
            .map_err(|e| bad("process", e))?;
        let hard = rlimit::parse_limit(&format!("process.rlimits[{i}].hard"), &r.hard)
            .map_err(|e| bad("process", e))?;
        if soft > hard {
            return Err(bad(
                &format!("process.rlimits[{i}]"),
                format!(
                    "{} soft {soft} above hard {hard}",
                    rlimit::rlimit_name(r.resource)
                ),
            ));
        }
        if rlimits.iter().any(|x| x.0 == r.resource) {
            return Err(bad(
                &format!("process.rlimits[{i}]"),
                format!("{} listed twice", rlimit::rlimit_name(r.resource)),
            ));
        }
        rlimits.push((r.resource, soft, hard));
    }
    let caps = match &p.capabilities {
        None => None,
        Some(c) => {
            let m = |set: &str, v: &Option<Vec<u32>>| -> Result<Option<CapMask>, String> {
                v.as_ref()
                    .map(|v| CapMask::from_numbers(set, v))
                    .transpose()
                    .map_err(|e| bad("process", e))
            };
            Some(CapMasks {
                bounding: m("bounding", &c.bounding)?,
                effective: m("effective", &c.effective)?,
                inheritable: m("inheritable", &c.inheritable)?,
                permitted: m("permitted", &c.permitted)?,
                ambient: m("ambient", &c.ambient)?,
            })
        }
    };
    let seccomp = match &p.seccomp {
        None => None,
        Some(s) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&s.filter)
                .map_err(|e| bad("process.seccomp.filter", format!("not base64: {e}")))?;
            let prog = seccomp::parse_program(&bytes).map_err(|e| bad("process.seccomp", e))?;
            if s.flags & seccomp::FLAG_NEW_LISTENER != 0 {
                return Err(bad(
                    "process.seccomp.flags",
                    "SECCOMP_FILTER_FLAG_NEW_LISTENER is not supported",
                ));
            }
            Some((prog, s.flags))
        }
    };
    let mut sysctl = Vec::with_capacity(plan.sysctl.len());
    for (i, (k, v)) in plan.sysctl.iter().enumerate() {
        sysctl.push((
            sysctl_path(k).map_err(|e| bad(&format!("sysctl[{i}]"), e))?,
            v.clone(),
        ));
    }
    Ok(Checked {
        plan,
        ns,
        rlimits,
        caps,
        seccomp,
        sysctl,
    })
}

fn absolute(field: &str, p: &str) -> Result<(), String> {
    if !p.starts_with('/') || p.contains('\0') {
        return Err(bad(field, format!("{p:?} is not an absolute path")));
    }
    Ok(())
}

/// `net.ipv4.ip_forward` → `sys/net/ipv4/ip_forward`. As sysctl(8) does, a
/// `/` in the key stands for a `.` inside one component (`eth0/100` is the
/// interface `eth0.100`). Components may not be empty, `.` or `..`.
pub fn sysctl_path(key: &str) -> Result<String, String> {
    let mut out = String::from("sys");
    let sep = if key.contains('/') && !key.contains('.') {
        '/'
    } else {
        '.'
    };
    for comp in key.split(sep) {
        let comp = if sep == '.' {
            comp.replace('/', ".")
        } else {
            comp.to_owned()
        };
        if comp.is_empty() || comp == "." || comp == ".." || comp.contains('\0') {
            return Err(format!("{key:?} is not a valid sysctl name"));
        }
        out.push('/');
        out.push_str(&comp);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of PROTOCOL.md with its comments stripped.
    fn protocol_example() -> String {
        let doc = include_str!("../PROTOCOL.md");
        let start = doc.find("## InitPlan").unwrap();
        let block = &doc[start..];
        let open = block.find("```jsonc\n").unwrap() + "```jsonc\n".len();
        let close = block[open..].find("```").unwrap();
        let text = &block[open..open + close];
        let rootfs_doc = &doc[doc.find("### RootfsPlan").unwrap()..];
        let ro = rootfs_doc.find("```jsonc\n").unwrap() + 9;
        let rc = rootfs_doc[ro..].find("```").unwrap();
        let rootfs = strip_comments(&rootfs_doc[ro..ro + rc]);
        let mount_doc = &doc[doc.find("`MountOp`").unwrap()..];
        let mo = mount_doc.find("```jsonc\n").unwrap() + 9;
        let mc = mount_doc[mo..].find("```").unwrap();
        let mount = strip_comments(&mount_doc[mo..mo + mc]);
        strip_comments(text).replace("RootfsPlan", &rootfs.replace("MountOp", &mount))
    }

    fn strip_comments(s: &str) -> String {
        s.lines()
            .map(|l| {
                // `//` outside strings starts a comment; the example strings contain no `//`.
                let mut in_str = false;
                let b = l.as_bytes();
                for i in 0..b.len() {
                    if b[i] == b'"' {
                        in_str = !in_str;
                    }
                    if !in_str && b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
                        return l[..i].to_owned();
                    }
                }
                l.to_owned()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn protocol_example_deserializes_and_validates() {
        let json = protocol_example();
        let checked = parse(&json).unwrap_or_else(|e| panic!("{e}\n{json}"));
        assert_eq!(checked.plan.mode, Mode::Create);
        assert_eq!(checked.plan.process.args, vec!["sh"]);
        assert_eq!(checked.rlimits, vec![(7, 1024, 1024)]);
        assert_eq!(
            checked.sysctl,
            vec![("sys/net/ipv4/ip_forward".to_owned(), "1".to_owned())]
        );
        assert!(checked.ns.is_new(NamespaceKind::Pid));
        assert_eq!(
            checked.ns.join,
            vec![(NamespaceKind::Network, "/run/netns/x".to_owned())]
        );
        assert_eq!(checked.caps.unwrap().bounding, Some(CapMask(0b11)));
        assert_eq!(
            checked.plan.join_cgroups,
            vec!["/sys/fs/cgroup/pids/mycontainer".to_owned()]
        );
        let rootfs = checked.plan.rootfs.as_ref().unwrap();
        assert_eq!(rootfs.mounts.len(), 1);
        assert_eq!(rootfs.mounts[0].destination, "/proc");
    }

    fn minimal(extra: &str) -> String {
        format!(
            r#"{{"version":1,"mode":"exec","id":"c1","namespaces":[{{"type":"uts","path":"/proc/1/ns/uts"}}],
            "process":{{"args":["sh"],"cwd":"/","uid":0,"gid":0{extra}}}}}"#
        )
    }

    #[test]
    fn bad_plans_name_the_field() {
        let e = parse(&minimal(
            r#","rlimits":[{"resource":7,"soft":"x","hard":"1"}]"#,
        ))
        .unwrap_err();
        assert!(e.contains("process.rlimits[0].soft"), "{e}");
        let e = parse(&minimal(r#","capabilities":{"effective":[70]}"#)).unwrap_err();
        assert!(
            e.contains("capabilities.effective: capability number 70"),
            "{e}"
        );
        let e = parse(&minimal(r#","seccomp":{"filter":"AAAA"}"#)).unwrap_err();
        assert!(e.contains("seccomp filter: 3 bytes"), "{e}");
        let e = parse(&minimal(r#","env":["NOEQUALS"]"#)).unwrap_err();
        assert!(e.contains("process.env[0]"), "{e}");
        let e = parse(&minimal(r#","bogus":1"#)).unwrap_err();
        assert!(e.contains("unknown field `bogus`"), "{e}");
        let e = parse(&minimal(r#","terminal":true"#)).unwrap_err();
        assert!(e.contains("consoleSocket: required"), "{e}");
        let e = parse(&minimal("").replace(r#""type":"uts""#, r#""type":"uts2""#)).unwrap_err();
        assert!(
            e.contains("namespaces[0].type: unknown namespace kind \"uts2\""),
            "{e}"
        );
        let e = parse(&minimal("").replace(r#""path":"/proc/1/ns/uts""#, r#""path":null"#))
            .unwrap_err();
        assert!(e.contains("exec mode only joins"), "{e}");
        let ok = parse(&minimal(
            r#","rlimits":[{"resource":7,"soft":"1","hard":"18446744073709551615"}]"#,
        ))
        .unwrap();
        assert_eq!(ok.rlimits, vec![(7, 1, u64::MAX)]);
    }

    #[test]
    fn join_cgroups_are_absolute_without_dot_dot() {
        let with = |dirs: &str| minimal("").replace(r#""process""#, &format!(r#""joinCgroups":{dirs},"process""#));
        assert!(parse(&with(r#"["/sys/fs/cgroup/pids/c1"]"#)).is_ok());
        let e = parse(&with(r#"["sys/fs/cgroup/pids/c1"]"#)).unwrap_err();
        assert!(e.contains("joinCgroups[0]"), "{e}");
        let e = parse(&with(r#"["/sys/fs/cgroup/pids/c1","/sys/fs/cgroup/../../etc"]"#)).unwrap_err();
        assert!(e.contains("joinCgroups[1]") && e.contains("`..`"), "{e}");
    }

    #[test]
    fn hostname_needs_a_uts_namespace() {
        // Joined by path (as `minimal` does): set in that namespace.
        let joined = minimal("").replace(r#""process""#, r#""hostname":"box","process""#);
        assert!(parse(&joined).is_ok());
        // None at all: it would be the host's.
        let none = joined.replace(r#""type":"uts""#, r#""type":"ipc""#);
        let e = parse(&none).unwrap_err();
        assert!(
            e.contains("hostname: setting it needs a uts namespace (new or joined)"),
            "{e}"
        );
    }

    #[test]
    fn sysctl_names() {
        assert_eq!(
            sysctl_path("kernel.shm_rmid_forced").unwrap(),
            "sys/kernel/shm_rmid_forced"
        );
        assert_eq!(
            sysctl_path("net.ipv4.conf.eth0/100.forwarding").unwrap(),
            "sys/net/ipv4/conf/eth0.100/forwarding"
        );
        assert_eq!(
            sysctl_path("net/ipv4/ip_forward").unwrap(),
            "sys/net/ipv4/ip_forward"
        );
        assert!(sysctl_path("net..x").is_err());
        assert!(sysctl_path("net.ipv4...").is_err());
        assert!(sysctl_path("../../etc").is_err());
    }
}
