//! Installing an already compiled seccomp program. The plan carries the
//! classic-BPF bytes produced by the TypeScript side (`struct sock_filter[]`
//! in native byte order); this module only checks the shape and loads it.

use crate::sys;
use crate::ProcessError;

/// BPF_MAXINSNS: the kernel refuses longer classic-BPF programs.
pub const MAX_INSTRUCTIONS: usize = 4096;

pub const FLAG_TSYNC: u32 = 1;
pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;
pub const FLAG_NEW_LISTENER: u32 = 8;
pub const FLAG_TSYNC_ESRCH: u32 = 16;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// Decodes `struct sock_filter[]` bytes (8 bytes per instruction).
pub fn parse_program(bytes: &[u8]) -> Result<Vec<libc::sock_filter>, ProcessError> {
    if bytes.is_empty() || bytes.len() % 8 != 0 {
        return Err(ProcessError::Invalid(format!(
            "seccomp filter: {} bytes is not a whole, non-empty number of 8-byte BPF instructions",
            bytes.len()
        )));
    }
    let n = bytes.len() / 8;
    if n > MAX_INSTRUCTIONS {
        return Err(ProcessError::Invalid(format!(
            "seccomp filter: {n} instructions exceed the kernel limit of {MAX_INSTRUCTIONS}"
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// Loads the program with `seccomp(SECCOMP_SET_MODE_FILTER, flags)`.
///
/// Without no_new_privs the kernel demands CAP_SYS_ADMIN, so callers install
/// before dropping capabilities in that case. `NEW_LISTENER` is refused: the
/// listener fd it returns would need a `listenerPath` hand-off the plan does
/// not describe, and leaking it into the container would be worse.
pub fn install_filter(program: &[libc::sock_filter], flags: u32) -> Result<(), ProcessError> {
    let known = FLAG_TSYNC
        | FLAG_LOG
        | FLAG_SPEC_ALLOW
        | FLAG_NEW_LISTENER
        | FLAG_TSYNC_ESRCH
        | FLAG_WAIT_KILLABLE_RECV;
    if flags & !known != 0 {
        return Err(ProcessError::Invalid(format!(
            "seccomp flags {flags:#x}: unknown bits {:#x}",
            flags & !known
        )));
    }
    if flags & FLAG_NEW_LISTENER != 0 {
        return Err(ProcessError::Invalid(
            "seccomp flag SECCOMP_FILTER_FLAG_NEW_LISTENER is not supported".into(),
        ));
    }
    if program.is_empty() || program.len() > MAX_INSTRUCTIONS {
        return Err(ProcessError::Invalid(format!(
            "seccomp filter: {} instructions",
            program.len()
        )));
    }
    sys::seccomp_set_filter(program, flags)
        .map(|_| ())
        .map_err(|e| {
            ProcessError::sys(
                format!("loading seccomp filter ({} instructions)", program.len()),
                e,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{in_child, proc_status_field};

    fn insn(code: u16, jt: u8, jf: u8, k: u32) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0..2].copy_from_slice(&code.to_ne_bytes());
        b[2] = jt;
        b[3] = jf;
        b[4..8].copy_from_slice(&k.to_ne_bytes());
        b
    }

    /// Returns EPERM for getppid, allows the rest.
    fn deny_getppid() -> Vec<u8> {
        const LD_W_ABS: u16 = 0x20;
        const JEQ_K: u16 = 0x15;
        const RET_K: u16 = 0x06;
        [
            insn(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
            insn(JEQ_K, 0, 1, libc::SYS_getppid as u32),
            insn(RET_K, 0, 0, 0x0005_0000 | libc::EPERM as u32), // SECCOMP_RET_ERRNO
            insn(RET_K, 0, 0, 0x7fff_0000),                      // SECCOMP_RET_ALLOW
        ]
        .concat()
    }

    #[test]
    fn shape_is_checked() {
        assert!(parse_program(&[]).is_err());
        assert!(parse_program(&[0; 12])
            .unwrap_err()
            .to_string()
            .contains("12 bytes"));
        assert!(parse_program(&vec![0; 8 * 4097])
            .unwrap_err()
            .to_string()
            .contains("4097 instructions"));
        let p = parse_program(&deny_getppid()).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[1].k, libc::SYS_getppid as u32);
        assert_eq!(p[1].jf, 1);
        assert!(install_filter(&p, FLAG_NEW_LISTENER)
            .unwrap_err()
            .to_string()
            .contains("NEW_LISTENER"));
        assert!(install_filter(&p, 0x1000)
            .unwrap_err()
            .to_string()
            .contains("unknown bits 0x1000"));
    }

    fn raw_getppid() -> (i64, i32) {
        // SAFETY: getppid takes no arguments and touches no memory.
        let r = unsafe { libc::syscall(libc::SYS_getppid) };
        (
            r,
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        )
    }

    #[test]
    fn filter_returns_errno_for_getppid() {
        let out = in_child(|| {
            crate::misc::set_no_new_privs().map_err(|e| e.to_string())?;
            let before = raw_getppid();
            let prog = parse_program(&deny_getppid()).map_err(|e| e.to_string())?;
            install_filter(&prog, 0).map_err(|e| e.to_string())?;
            let after = raw_getppid();
            Ok(format!(
                "{} {} {} {}",
                before.0 > 0,
                after.0,
                after.1,
                proc_status_field("Seccomp")?
            ))
        });
        assert_eq!(out, format!("true -1 {} 2", libc::EPERM));
    }

    #[test]
    fn without_nnp_or_cap_sys_admin_the_kernel_refuses() {
        let out = in_child(|| {
            if rustix::process::geteuid().is_root() {
                let mut s = crate::caps::get_sets().map_err(|e| e.to_string())?;
                s.effective.0 &= !(1 << 21);
                crate::caps::set_sets(s).map_err(|e| e.to_string())?;
            }
            let prog = parse_program(&deny_getppid()).map_err(|e| e.to_string())?;
            match install_filter(&prog, 0) {
                Ok(()) => Err("loaded without NNP and CAP_SYS_ADMIN".into()),
                Err(e) => Ok(format!("{e}|{}", e.errno_name())),
            }
        });
        assert_eq!(
            out,
            "loading seccomp filter (4 instructions): permission denied|EACCES"
        );
    }
}
