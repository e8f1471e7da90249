//! Compiles an OCI `linux.seccomp` object (runtime-spec v1.3.0, config-linux.md)
//! into classic BPF: the bytes of a `struct sock_filter[]` array plus the flags
//! value for `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`.
//!
//! Compilation happens in the runtime (Node) before any side effect, so a bad
//! profile fails with a message naming its JSON path; `tsoci-init` only loads
//! the finished bytes ([`install_filter`]) and can depend on this crate with
//! `default-features = false` to leave the compiler and libseccomp out.
//!
//! Semantics chosen to match runc, because profiles are written against it:
//! - syscall names libseccomp cannot resolve are skipped (a profile listing
//!   syscalls this kernel or architecture lacks must still load) and reported
//!   in [`CompiledFilter::skipped_syscalls`];
//! - a rule whose action equals the default action is skipped (libseccomp
//!   refuses it with EACCES, and it could not change the outcome anyway);
//! - when several conditions of one rule name the same argument index, each
//!   condition becomes its own rule (OR), because libseccomp cannot AND two
//!   comparisons of one argument;
//! - `SCMP_CMP_MASKED_EQ` takes `value` as the mask and `valueTwo` as the datum;
//! - `errnoRet` defaults to EPERM for `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE`, and
//!   is an error on any other action.
//!
//! Unknown actions, operators, architectures and flags are errors.
//! `SCMP_ACT_NOTIFY` is rejected as unsupported: it needs a listener fd handed
//! to a seccomp agent, which the init protocol does not carry yet.

use std::sync::OnceLock;

#[cfg(feature = "compile")]
mod compile;
#[cfg(feature = "compile")]
pub use compile::{
    compile, compile_at, compile_json, library_version, supported_arches, CompiledFilter, SeccompProfile, SyscallArg,
    SyscallRule,
};

/// The JSON path the errors of [`compile_json`] and [`SeccompProfile::from_json`] start with.
pub const JSON_PATH: &str = "linux.seccomp";

/// The kernel's `BPF_MAXINSNS`: a longer program is refused by seccomp(2).
pub const MAX_INSTRUCTIONS: usize = 4096;

/// Size of one `struct sock_filter` (u16 code, u8 jt, u8 jf, u32 k).
pub const SOCK_FILTER_SIZE: usize = 8;

/// Every action the runtime spec names, in spec order.
pub const KNOWN_ACTIONS: [&str; 9] = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

/// The actions [`compile`] accepts (what `tsoci features` may claim).
/// `SCMP_ACT_NOTIFY` is absent: it needs seccomp-agent support.
pub const SUPPORTED_ACTIONS: [&str; 8] = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
];

/// Every comparison operator of the runtime spec; all are supported.
pub const OPERATORS: [&str; 7] =
    ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];

/// Every architecture name the runtime spec (libseccomp v2.6.0) lists. Whether
/// the linked libseccomp knows one is a runtime fact: see [`supported_arches`].
pub const KNOWN_ARCHES: [&str; 23] = [
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

/// seccomp(2) filter flags the runtime spec names, with their kernel values.
pub const KNOWN_FLAGS: [(&str, u32); 4] = [
    ("SECCOMP_FILTER_FLAG_TSYNC", 1),
    ("SECCOMP_FILTER_FLAG_LOG", 2),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", 4),
    // Only meaningful together with SECCOMP_FILTER_FLAG_NEW_LISTENER (a
    // SCMP_ACT_NOTIFY filter). Accepted, but not passed on while NOTIFY is
    // unsupported: the kernel would reject it with EINVAL on its own.
    ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 32),
];

const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// A failure to parse, validate, compile or install a filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile is malformed or uses an unknown value. `path` is a JSON path
    /// such as `linux.seccomp.syscalls[3].action`.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// The profile is valid but asks for something tsoci or the linked
    /// libseccomp cannot do.
    #[error("{path}: {message}")]
    Unsupported { path: String, message: String },
    /// libseccomp refused an operation.
    #[error("{what}: libseccomp: {message} ({errno})")]
    Library { what: String, errno: &'static str, message: String },
    /// A system call failed.
    #[error("{what}: {source} ({})", errno_name(.source.raw_os_error()))]
    Sys { what: &'static str, source: rustix::io::Errno },
}

impl SeccompError {
    /// The errno name this error maps to (`EINVAL`, `ENOTSUP`, …), for the
    /// `ERRNO: message` convention of the napi bindings.
    pub fn errno_name(&self) -> &'static str {
        match self {
            SeccompError::Invalid { .. } => "EINVAL",
            SeccompError::Unsupported { .. } => "ENOTSUP",
            SeccompError::Library { errno, .. } => errno,
            SeccompError::Sys { source, .. } => errno_name(source.raw_os_error()),
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        SeccompError::Invalid { path: path.into(), message: message.into() }
    }
}

// Only the errnos the few syscalls of this crate (memfd, read, prctl, seccomp) can return.
fn errno_name(raw: i32) -> &'static str {
    match raw {
        libc::EPERM => "EPERM",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::ENOSYS => "ENOSYS",
        libc::ESRCH => "ESRCH",
        libc::EOPNOTSUPP => "ENOTSUP",
        _ => "EIO",
    }
}

/// The spec name of the architecture this code was built for.
pub fn native_arch_name() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "SCMP_ARCH_X86_64"
    } else if cfg!(target_arch = "x86") {
        "SCMP_ARCH_X86"
    } else if cfg!(target_arch = "aarch64") {
        "SCMP_ARCH_AARCH64"
    } else if cfg!(target_arch = "arm") {
        "SCMP_ARCH_ARM"
    } else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
        "SCMP_ARCH_PPC64LE"
    } else if cfg!(target_arch = "powerpc64") {
        "SCMP_ARCH_PPC64"
    } else if cfg!(target_arch = "s390x") {
        "SCMP_ARCH_S390X"
    } else if cfg!(target_arch = "riscv64") {
        "SCMP_ARCH_RISCV64"
    } else if cfg!(target_arch = "loongarch64") {
        "SCMP_ARCH_LOONGARCH64"
    } else {
        "(native)"
    }
}

/// The flags of [`KNOWN_FLAGS`] this kernel accepts and that tsoci passes on
/// (`SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` is never passed, see there).
pub fn supported_flags() -> &'static [&'static str] {
    static FLAGS: OnceLock<Vec<&'static str>> = OnceLock::new();
    FLAGS.get_or_init(|| {
        KNOWN_FLAGS
            .iter()
            .filter(|(_, v)| *v != FLAG_WAIT_KILLABLE_RECV && kernel_accepts_flag(*v))
            .map(|(n, _)| *n)
            .collect()
    })
}

fn kernel_accepts_flag(flag: u32) -> bool {
    // The kernel validates the flags before it reads the program, so with a
    // NULL program a known flag yields EFAULT and an unknown one EINVAL;
    // nothing is ever installed.
    probe_seccomp_flag(flag) == Err(libc::EFAULT)
}

fn probe_seccomp_flag(flag: u32) -> Result<(), i32> {
    // SAFETY: seccomp(2) with a NULL program pointer cannot install a filter:
    // it fails with EINVAL (unknown flag) or EFAULT (reading the program) and
    // touches no memory of ours.
    let rc = unsafe {
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flag as libc::c_ulong, std::ptr::null::<u8>())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    }
}

/// Decodes filter bytes into `sock_filter` instructions, checking the length.
pub fn decode(bpf: &[u8]) -> Result<Vec<libc::sock_filter>, SeccompError> {
    if bpf.is_empty() || bpf.len() % SOCK_FILTER_SIZE != 0 {
        return Err(SeccompError::invalid(
            "process.seccomp.filter",
            format!("{} bytes is not a whole number of 8-byte BPF instructions", bpf.len()),
        ));
    }
    let n = bpf.len() / SOCK_FILTER_SIZE;
    if n > MAX_INSTRUCTIONS {
        return Err(SeccompError::invalid(
            "process.seccomp.filter",
            format!("{n} instructions exceed the kernel's limit of {MAX_INSTRUCTIONS}"),
        ));
    }
    Ok(bpf
        .chunks_exact(SOCK_FILTER_SIZE)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// Installs a compiled filter on the CALLING THREAD (and, with TSYNC, its
/// siblings). For `tsoci-init` and tests only: never call it in the runtime
/// process or on a libuv pool thread. Unless the caller has CAP_SYS_ADMIN, it
/// must have set no_new_privs first (the kernel answers EACCES otherwise).
pub fn install_filter(bpf: &[u8], flags: u32) -> Result<(), SeccompError> {
    install_program(&decode(bpf)?, flags)
}

/// [`install_filter`] for an already [`decode`]d program. Allocates nothing
/// on success, so it may run in a child forked from a multi-threaded process.
pub fn install_program(program: &[libc::sock_filter], flags: u32) -> Result<(), SeccompError> {
    let Ok(len) = u16::try_from(program.len()) else {
        return Err(SeccompError::invalid("process.seccomp.filter", "more instructions than sock_fprog.len can hold"));
    };
    seccomp_set_mode_filter(program, len, flags)
        .map_err(|source| SeccompError::Sys { what: "seccomp(SECCOMP_SET_MODE_FILTER)", source })
}

fn seccomp_set_mode_filter(program: &[libc::sock_filter], len: u16, flags: u32) -> Result<(), rustix::io::Errno> {
    let prog = libc::sock_fprog { len, filter: program.as_ptr().cast_mut() };
    // SAFETY: `prog` points at `len` valid, aligned sock_filter values that
    // outlive the call; the kernel copies the program and does not keep the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        Err(rustix::io::Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_ragged_programs() {
        assert!(decode(&[0u8; 12]).unwrap_err().to_string().contains("12 bytes is not a whole number"));
        assert!(decode(&[]).is_err());
        assert!(decode(&vec![0u8; 8 * 4097]).unwrap_err().to_string().contains("4097 instructions"));
        let one = [0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x7f]; // BPF_RET|BPF_K SECCOMP_RET_ALLOW
        let prog = decode(&one).unwrap();
        assert_eq!((prog[0].code, prog[0].jt, prog[0].jf, prog[0].k), (0x06, 0, 0, 0x7fff_0000));
    }

    #[test]
    fn install_refuses_ragged_programs_before_any_syscall() {
        assert_eq!(install_filter(&[0u8; 9], 0).unwrap_err().errno_name(), "EINVAL");
    }
}
