//! The compiler proper (feature `compile`, on by default): JSON → libseccomp
//! filter context → exported BPF. `tsoci-init` needs none of it, only
//! [`crate::install_filter`], so it can leave libseccomp out.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::OnceLock;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    native_arch_name, SeccompError, FLAG_WAIT_KILLABLE_RECV, JSON_PATH, KNOWN_ACTIONS, KNOWN_ARCHES, KNOWN_FLAGS,
    MAX_INSTRUCTIONS, OPERATORS, SOCK_FILTER_SIZE,
};

const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

// libseccomp's error, with the errno name the napi convention needs.
fn library(what: impl Into<String>, err: &libseccomp::error::SeccompError) -> SeccompError {
    let errno = match err.errno() {
        Some(e) => libseccomp_errno_name(e),
        None => "EIO",
    };
    SeccompError::Library { what: what.into(), errno, message: err.to_string() }
}

fn libseccomp_errno_name(e: libseccomp::error::SeccompErrno) -> &'static str {
    use libseccomp::error::SeccompErrno as E;
    match e {
        E::EACCES => "EACCES",
        E::ECANCELED => "ECANCELED",
        E::EDOM => "EDOM",
        E::EEXIST => "EEXIST",
        E::EFAULT => "EFAULT",
        E::EINVAL => "EINVAL",
        E::ENOENT => "ENOENT",
        E::ENOMEM => "ENOMEM",
        E::EOPNOTSUPP => "EOPNOTSUPP",
        E::ERANGE => "ERANGE",
        E::ESRCH => "ESRCH",
        _ => "EIO",
    }
}

/// `linux.seccomp` as the runtime spec defines it. Action, operator, arch and
/// flag values are kept as strings so that [`compile`] can reject unknown ones
/// with their JSON path. Unknown JSON fields are ignored (config.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfile {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<SyscallRule>,
}

/// One `linux.seccomp.syscalls[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<SyscallArg>,
}

/// One `linux.seccomp.syscalls[].args[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallArg {
    pub index: u32,
    pub value: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_two: Option<u64>,
    pub op: String,
}

// Hand-written instead of serde so every type error names its JSON path;
// serde_json only reports line and column.
impl SeccompProfile {
    /// Parses the JSON text of a `linux.seccomp` object.
    pub fn from_json(json: &str) -> Result<Self, SeccompError> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| SeccompError::invalid(JSON_PATH, format!("not valid JSON: {e}")))?;
        Self::from_value(&value, JSON_PATH)
    }

    /// Reads a `linux.seccomp` object; `path` is the JSON path used in errors.
    pub fn from_value(value: &Value, path: &str) -> Result<Self, SeccompError> {
        let obj = value
            .as_object()
            .ok_or_else(|| SeccompError::invalid(path, format!("expected an object, got {}", kind(value))))?;
        let field = |name: &str| obj.get(name).filter(|v| !v.is_null());
        let default_action = match field("defaultAction") {
            Some(v) => string(v, &format!("{path}.defaultAction"))?,
            None => return Err(SeccompError::invalid(format!("{path}.defaultAction"), "is required")),
        };
        let default_errno_ret =
            field("defaultErrnoRet").map(|v| uint32(v, &format!("{path}.defaultErrnoRet"))).transpose()?;
        let architectures = match field("architectures") {
            Some(v) => strings(v, &format!("{path}.architectures"))?,
            None => Vec::new(),
        };
        let flags = match field("flags") {
            Some(v) => strings(v, &format!("{path}.flags"))?,
            None => Vec::new(),
        };
        let listener_path = field("listenerPath").map(|v| string(v, &format!("{path}.listenerPath"))).transpose()?;
        let listener_metadata =
            field("listenerMetadata").map(|v| string(v, &format!("{path}.listenerMetadata"))).transpose()?;
        let mut syscalls = Vec::new();
        if let Some(v) = field("syscalls") {
            let p = format!("{path}.syscalls");
            let items =
                v.as_array().ok_or_else(|| SeccompError::invalid(&p, format!("expected an array, got {}", kind(v))))?;
            for (i, item) in items.iter().enumerate() {
                syscalls.push(SyscallRule::from_value(item, &format!("{p}[{i}]"))?);
            }
        }
        Ok(SeccompProfile {
            default_action,
            default_errno_ret,
            architectures,
            flags,
            listener_path,
            listener_metadata,
            syscalls,
        })
    }
}

impl SyscallRule {
    fn from_value(value: &Value, path: &str) -> Result<Self, SeccompError> {
        let obj = value
            .as_object()
            .ok_or_else(|| SeccompError::invalid(path, format!("expected an object, got {}", kind(value))))?;
        let field = |name: &str| obj.get(name).filter(|v| !v.is_null());
        let names = match field("names") {
            Some(v) => strings(v, &format!("{path}.names"))?,
            None => return Err(SeccompError::invalid(format!("{path}.names"), "is required")),
        };
        let action = match field("action") {
            Some(v) => string(v, &format!("{path}.action"))?,
            None => return Err(SeccompError::invalid(format!("{path}.action"), "is required")),
        };
        let errno_ret = field("errnoRet").map(|v| uint32(v, &format!("{path}.errnoRet"))).transpose()?;
        let mut args = Vec::new();
        if let Some(v) = field("args") {
            let p = format!("{path}.args");
            let items =
                v.as_array().ok_or_else(|| SeccompError::invalid(&p, format!("expected an array, got {}", kind(v))))?;
            for (i, item) in items.iter().enumerate() {
                args.push(SyscallArg::from_value(item, &format!("{p}[{i}]"))?);
            }
        }
        Ok(SyscallRule { names, action, errno_ret, args })
    }
}

impl SyscallArg {
    fn from_value(value: &Value, path: &str) -> Result<Self, SeccompError> {
        let obj = value
            .as_object()
            .ok_or_else(|| SeccompError::invalid(path, format!("expected an object, got {}", kind(value))))?;
        let field = |name: &str| obj.get(name).filter(|v| !v.is_null());
        let required =
            |name: &str| field(name).ok_or_else(|| SeccompError::invalid(format!("{path}.{name}"), "is required"));
        Ok(SyscallArg {
            index: uint32(required("index")?, &format!("{path}.index"))?,
            value: uint64(required("value")?, &format!("{path}.value"))?,
            value_two: field("valueTwo").map(|v| uint64(v, &format!("{path}.valueTwo"))).transpose()?,
            op: string(required("op")?, &format!("{path}.op"))?,
        })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string(v: &Value, path: &str) -> Result<String, SeccompError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| SeccompError::invalid(path, format!("expected a string, got {}", kind(v))))
}

fn strings(v: &Value, path: &str) -> Result<Vec<String>, SeccompError> {
    let items =
        v.as_array().ok_or_else(|| SeccompError::invalid(path, format!("expected an array, got {}", kind(v))))?;
    items.iter().enumerate().map(|(i, item)| string(item, &format!("{path}[{i}]"))).collect()
}

fn uint64(v: &Value, path: &str) -> Result<u64, SeccompError> {
    v.as_u64()
        .ok_or_else(|| SeccompError::invalid(path, format!("expected an unsigned 64-bit integer, got {}", describe(v))))
}

fn uint32(v: &Value, path: &str) -> Result<u32, SeccompError> {
    let n = v.as_u64().ok_or_else(|| {
        SeccompError::invalid(path, format!("expected an unsigned 32-bit integer, got {}", describe(v)))
    })?;
    u32::try_from(n).map_err(|_| SeccompError::invalid(path, format!("{n} does not fit in 32 bits")))
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => kind(other).to_owned(),
    }
}

/// The result of [`compile`]: what the init plan carries as `process.seccomp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledFilter {
    /// A `struct sock_filter[]` in native byte order, `8 * n` bytes.
    pub bpf: Vec<u8>,
    /// The `flags` argument of seccomp(SECCOMP_SET_MODE_FILTER).
    pub flags: u32,
    /// Syscall names libseccomp could not resolve on this system; skipped.
    pub skipped_syscalls: Vec<String>,
}

impl CompiledFilter {
    pub fn instruction_count(&self) -> usize {
        self.bpf.len() / SOCK_FILTER_SIZE
    }
}

/// Which action a spec name denotes, before the errno is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActionKind {
    KillThread,
    KillProcess,
    Trap,
    Errno,
    Trace,
    Allow,
    Log,
    Notify,
}

fn action_kind(name: &str) -> Option<ActionKind> {
    Some(match name {
        // libseccomp's SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD.
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ActionKind::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ActionKind::KillProcess,
        "SCMP_ACT_TRAP" => ActionKind::Trap,
        "SCMP_ACT_ERRNO" => ActionKind::Errno,
        "SCMP_ACT_TRACE" => ActionKind::Trace,
        "SCMP_ACT_ALLOW" => ActionKind::Allow,
        "SCMP_ACT_LOG" => ActionKind::Log,
        "SCMP_ACT_NOTIFY" => ActionKind::Notify,
        _ => return None,
    })
}

/// Resolves an action name plus optional errno into a libseccomp action.
/// `action_path` and `errno_path` name the JSON fields for errors.
fn resolve_action(
    name: &str,
    errno_ret: Option<u32>,
    action_path: &str,
    errno_path: &str,
) -> Result<ScmpAction, SeccompError> {
    let kind = action_kind(name).ok_or_else(|| {
        SeccompError::invalid(action_path, format!("unknown action {name:?} (known: {})", KNOWN_ACTIONS.join(", ")))
    })?;
    let data = |n: u32| -> Result<u16, SeccompError> {
        // SECCOMP_RET_DATA is 16 bits; a larger value would be silently truncated.
        u16::try_from(n).map_err(|_| SeccompError::invalid(errno_path, format!("{n} does not fit in 16 bits")))
    };
    match (kind, errno_ret) {
        (ActionKind::Errno, e) => Ok(ScmpAction::Errno(i32::from(data(e.unwrap_or(DEFAULT_ERRNO))?))),
        (ActionKind::Trace, e) => Ok(ScmpAction::Trace(data(e.unwrap_or(DEFAULT_ERRNO))?)),
        (ActionKind::Notify, _) => Err(SeccompError::Unsupported {
            path: action_path.to_owned(),
            message: "SCMP_ACT_NOTIFY is not supported yet (tsoci cannot hand a seccomp listener fd to an agent)"
                .to_owned(),
        }),
        (_, Some(_)) => Err(SeccompError::invalid(
            errno_path,
            format!("only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not {name}"),
        )),
        (ActionKind::KillThread, None) => Ok(ScmpAction::KillThread),
        (ActionKind::KillProcess, None) => Ok(ScmpAction::KillProcess),
        (ActionKind::Trap, None) => Ok(ScmpAction::Trap),
        (ActionKind::Allow, None) => Ok(ScmpAction::Allow),
        (ActionKind::Log, None) => Ok(ScmpAction::Log),
    }
}

fn arch_from_name(name: &str) -> Option<ScmpArch> {
    Some(match name {
        "SCMP_ARCH_X86" => ScmpArch::X86,
        "SCMP_ARCH_X86_64" => ScmpArch::X8664,
        "SCMP_ARCH_X32" => ScmpArch::X32,
        "SCMP_ARCH_ARM" => ScmpArch::Arm,
        "SCMP_ARCH_AARCH64" => ScmpArch::Aarch64,
        "SCMP_ARCH_MIPS" => ScmpArch::Mips,
        "SCMP_ARCH_MIPS64" => ScmpArch::Mips64,
        "SCMP_ARCH_MIPS64N32" => ScmpArch::Mips64N32,
        "SCMP_ARCH_MIPSEL" => ScmpArch::Mipsel,
        "SCMP_ARCH_MIPSEL64" => ScmpArch::Mipsel64,
        "SCMP_ARCH_MIPSEL64N32" => ScmpArch::Mipsel64N32,
        "SCMP_ARCH_PPC" => ScmpArch::Ppc,
        "SCMP_ARCH_PPC64" => ScmpArch::Ppc64,
        "SCMP_ARCH_PPC64LE" => ScmpArch::Ppc64Le,
        "SCMP_ARCH_S390" => ScmpArch::S390,
        "SCMP_ARCH_S390X" => ScmpArch::S390X,
        "SCMP_ARCH_PARISC" => ScmpArch::Parisc,
        "SCMP_ARCH_PARISC64" => ScmpArch::Parisc64,
        "SCMP_ARCH_RISCV64" => ScmpArch::Riscv64,
        "SCMP_ARCH_LOONGARCH64" => ScmpArch::Loongarch64,
        "SCMP_ARCH_M68K" => ScmpArch::M68k,
        "SCMP_ARCH_SH" => ScmpArch::Sh,
        "SCMP_ARCH_SHEB" => ScmpArch::Sheb,
        _ => return None,
    })
}

/// `op` is the spec operator name; `value`/`value_two` as in the spec.
fn condition(arg: &SyscallArg, path: &str) -> Result<ScmpArgCompare, SeccompError> {
    if arg.index > 5 {
        return Err(SeccompError::invalid(
            format!("{path}.index"),
            format!("{} is out of range: syscalls have arguments 0 to 5", arg.index),
        ));
    }
    let op = match arg.op.as_str() {
        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
        "SCMP_CMP_LT" => ScmpCompareOp::Less,
        "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
        "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
        "SCMP_CMP_GT" => ScmpCompareOp::Greater,
        // As runc: `value` is the mask, `valueTwo` the value the masked argument must equal.
        "SCMP_CMP_MASKED_EQ" => {
            return Ok(ScmpArgCompare::new(
                arg.index,
                ScmpCompareOp::MaskedEqual(arg.value),
                arg.value_two.unwrap_or(0),
            ))
        }
        other => {
            return Err(SeccompError::invalid(
                format!("{path}.op"),
                format!("unknown operator {other:?} (known: {})", OPERATORS.join(", ")),
            ))
        }
    };
    Ok(ScmpArgCompare::new(arg.index, op, arg.value))
}

/// Parses and compiles the JSON text of a `linux.seccomp` object.
pub fn compile_json(json: &str) -> Result<CompiledFilter, SeccompError> {
    compile(&SeccompProfile::from_json(json)?)
}

/// Compiles a profile into BPF. Touches nothing but memory and one memfd:
/// safe to call from the runtime process (it installs no filter).
pub fn compile(profile: &SeccompProfile) -> Result<CompiledFilter, SeccompError> {
    compile_at(profile, JSON_PATH)
}

/// [`compile`] with errors naming `path` instead of `linux.seccomp`.
pub fn compile_at(profile: &SeccompProfile, path: &str) -> Result<CompiledFilter, SeccompError> {
    // Validate everything before building, so the first error reported is the
    // first one in document order regardless of libseccomp's behaviour.
    let default_action = resolve_action(
        &profile.default_action,
        profile.default_errno_ret,
        &format!("{path}.defaultAction"),
        &format!("{path}.defaultErrnoRet"),
    )?;
    if profile.listener_metadata.is_some() && profile.listener_path.is_none() {
        return Err(SeccompError::invalid(format!("{path}.listenerMetadata"), "must not be set without listenerPath"));
    }

    let mut flags = 0u32;
    for (i, name) in profile.flags.iter().enumerate() {
        let value = KNOWN_FLAGS.iter().find(|(n, _)| n == name).map(|(_, v)| *v).ok_or_else(|| {
            let known: Vec<&str> = KNOWN_FLAGS.iter().map(|(n, _)| *n).collect();
            SeccompError::invalid(
                format!("{path}.flags[{i}]"),
                format!("unknown flag {name:?} (known: {})", known.join(", ")),
            )
        })?;
        if value != FLAG_WAIT_KILLABLE_RECV {
            flags |= value;
        }
    }

    let mut arches = Vec::with_capacity(profile.architectures.len());
    for (i, name) in profile.architectures.iter().enumerate() {
        let arch = arch_from_name(name).ok_or_else(|| {
            SeccompError::invalid(
                format!("{path}.architectures[{i}]"),
                format!("unknown architecture {name:?} (known: {})", KNOWN_ARCHES.join(", ")),
            )
        })?;
        arches.push((i, name, arch));
    }

    struct Rule {
        rule_path: String,
        action: ScmpAction,
        conditions: Vec<ScmpArgCompare>,
    }
    let mut rules = Vec::with_capacity(profile.syscalls.len());
    for (i, rule) in profile.syscalls.iter().enumerate() {
        let rule_path = format!("{path}.syscalls[{i}]");
        if rule.names.is_empty() {
            return Err(SeccompError::invalid(format!("{rule_path}.names"), "must contain at least one entry"));
        }
        if let Some(j) = rule.names.iter().position(String::is_empty) {
            return Err(SeccompError::invalid(format!("{rule_path}.names[{j}]"), "empty syscall name"));
        }
        let action = resolve_action(
            &rule.action,
            rule.errno_ret,
            &format!("{rule_path}.action"),
            &format!("{rule_path}.errnoRet"),
        )?;
        let conditions = rule
            .args
            .iter()
            .enumerate()
            .map(|(j, a)| condition(a, &format!("{rule_path}.args[{j}]")))
            .collect::<Result<Vec<_>, _>>()?;
        rules.push(Rule { rule_path, action, conditions });
    }

    let mut ctx = ScmpFilterContext::new(default_action).map_err(|e| library(format!("{path}.defaultAction"), &e))?;
    // Arches first: libseccomp applies a rule only to the arches present when it is added.
    for (i, name, arch) in arches {
        ctx.add_arch(arch).map_err(|e| match e.errno() {
            Some(libseccomp::error::SeccompErrno::EINVAL) => SeccompError::Unsupported {
                path: format!("{path}.architectures[{i}]"),
                message: format!("{name} is not supported by the linked libseccomp {}", library_version()),
            },
            // libseccomp keeps one byte order per filter, fixed by the native arch.
            Some(libseccomp::error::SeccompErrno::EDOM) => SeccompError::Unsupported {
                path: format!("{path}.architectures[{i}]"),
                message: format!(
                    "{name} cannot share a filter with the native architecture {} (different byte order)",
                    native_arch_name()
                ),
            },
            _ => library(format!("{path}.architectures[{i}]"), &e),
        })?;
    }

    let mut skipped = Vec::new();
    for (rule, spec) in rules.iter().zip(&profile.syscalls) {
        if rule.action == default_action {
            continue;
        }
        let mut seen = [false; 6];
        let repeated_index = rule.conditions.iter().zip(&spec.args).any(|(_, a)| {
            let i = a.index as usize;
            std::mem::replace(&mut seen[i], true)
        });
        for name in &spec.names {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                if !skipped.contains(name) {
                    skipped.push(name.clone());
                }
                continue;
            };
            let what = || format!("{}: syscall {name:?}", rule.rule_path);
            if rule.conditions.is_empty() {
                ctx.add_rule(rule.action, syscall).map_err(|e| library(what(), &e))?;
            } else if repeated_index {
                for c in &rule.conditions {
                    ctx.add_rule_conditional(rule.action, syscall, std::slice::from_ref(c))
                        .map_err(|e| library(what(), &e))?;
                }
            } else {
                ctx.add_rule_conditional(rule.action, syscall, &rule.conditions).map_err(|e| library(what(), &e))?;
            }
        }
    }

    let bpf = export(&ctx)?;
    if bpf.len() % SOCK_FILTER_SIZE != 0 || bpf.is_empty() {
        return Err(SeccompError::Library {
            what: path.to_owned(),
            errno: "EIO",
            message: format!("exported filter has {} bytes, not a whole number of instructions", bpf.len()),
        });
    }
    let n = bpf.len() / SOCK_FILTER_SIZE;
    if n > MAX_INSTRUCTIONS {
        return Err(SeccompError::Unsupported {
            path: path.to_owned(),
            message: format!(
                "the compiled filter has {n} instructions, more than the kernel's limit of {MAX_INSTRUCTIONS}"
            ),
        });
    }
    Ok(CompiledFilter { bpf, flags, skipped_syscalls: skipped })
}

// libseccomp 2.5 has no seccomp_export_bpf_mem; a memfd takes any size
// without the blocking a pipe would risk for big filters.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, SeccompError> {
    let fd = rustix::fs::memfd_create("tsoci-seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|source| SeccompError::Sys { what: "memfd_create", source })?;
    ctx.export_bpf(&fd).map_err(|e| library("seccomp_export_bpf", &e))?;
    let mut file = File::from(fd);
    let io = |what: &'static str| {
        move |e: std::io::Error| SeccompError::Sys {
            what,
            source: rustix::io::Errno::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EIO)),
        }
    };
    file.seek(SeekFrom::Start(0)).map_err(io("lseek on the export memfd"))?;
    let mut bpf = Vec::new();
    file.read_to_end(&mut bpf).map_err(io("read from the export memfd"))?;
    Ok(bpf)
}

/// `major.minor.micro` of the libseccomp this process linked.
pub fn library_version() -> String {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "(unknown version)".to_owned(),
    }
}

/// The names of [`KNOWN_ARCHES`] a filter built here can include: the linked
/// libseccomp must know the arch (2.5.4 lacks LoongArch, M68K and SuperH) and
/// it must have the native byte order (libseccomp keeps one per filter).
/// Probed once on a scratch filter context.
pub fn supported_arches() -> &'static [&'static str] {
    static ARCHES: OnceLock<Vec<&'static str>> = OnceLock::new();
    ARCHES.get_or_init(|| {
        KNOWN_ARCHES
            .iter()
            .copied()
            .filter(|name| {
                let Some(arch) = arch_from_name(name) else { return false };
                match ScmpFilterContext::new(ScmpAction::Allow) {
                    Ok(mut ctx) => ctx.add_arch(arch).is_ok(),
                    Err(_) => false,
                }
            })
            .collect()
    })
}
