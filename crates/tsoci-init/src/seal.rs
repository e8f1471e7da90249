//! CVE-2019-5736 defence: run from a sealed, anonymous copy of the binary.
//!
//! If the container later reaches `/proc/<init>/exe` (for example through an
//! entrypoint `#!/proc/self/exe`), it finds a memfd whose content can never
//! change again, not the host's tsoci-init file.

use rustix::fs::{MemfdFlags, SealFlags};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use tsoci_process::Errno;

const REQUIRED: SealFlags = SealFlags::SEAL
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW)
    .union(SealFlags::WRITE);

/// True when `file` is a memfd carrying at least the four required seals.
fn is_sealed(file: &File) -> bool {
    rustix::fs::fcntl_get_seals(file).is_ok_and(|s| s.contains(REQUIRED))
}

/// Re-executes from a sealed memfd unless already running from one. Returns
/// only when nothing needs doing; on success of the re-exec it never returns.
pub fn ensure_sealed() -> Result<(), String> {
    let exe = File::open("/proc/self/exe")
        .map_err(|e| format!("opening /proc/self/exe: {}", Errno::from_io(&e)))?;
    if is_sealed(&exe) {
        return Ok(());
    }
    let mfd = create_memfd()?;
    let mut dst = File::from(mfd);
    let mut src = exe;
    std::io::copy(&mut src, &mut dst).map_err(|e| {
        format!(
            "copying /proc/self/exe into a memfd: {}",
            Errno::from_io(&e)
        )
    })?;
    // F_SEAL_EXEC (6.3+) also freezes the mode bits; older kernels reject it.
    if rustix::fs::fcntl_add_seals(&dst, REQUIRED | SealFlags::EXEC).is_err() {
        rustix::fs::fcntl_add_seals(&dst, REQUIRED)
            .map_err(|e| format!("sealing the memfd copy: {}", Errno::from(e)))?;
    }
    if !is_sealed(&dst) {
        return Err("sealing the memfd copy: seals did not stick".into());
    }
    let args: Vec<CString> = std::env::args_os()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv)
        })
        .collect::<Result<_, _>>()?;
    let e = fexecve(&OwnedFd::from(dst), &args, &env);
    Err(format!("re-executing from the sealed memfd: {e}"))
}

fn cstring(b: &[u8]) -> Result<CString, String> {
    CString::new(b).map_err(|_| "argument or environment entry with a NUL byte".to_owned())
}

fn create_memfd() -> Result<OwnedFd, String> {
    let base = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // MFD_EXEC (6.3+) keeps the copy executable under vm.memfd_noexec=1.
    rustix::fs::memfd_create("tsoci-init", base | MemfdFlags::EXEC)
        .or_else(|_| rustix::fs::memfd_create("tsoci-init", base))
        .map_err(|e| format!("memfd_create: {}", Errno::from(e)))
}

fn fexecve(fd: &OwnedFd, args: &[CString], env: &[CString]) -> Errno {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: argv/envp are NULL-terminated arrays of pointers into CStrings
    // that outlive the call; fexecve only returns on failure.
    unsafe { libc::fexecve(fd.as_raw_fd(), argv.as_ptr(), envp.as_ptr()) };
    Errno::last()
}

/// For tests and diagnostics: whether this process runs from a sealed memfd.
pub fn running_sealed() -> bool {
    File::open("/proc/self/exe").is_ok_and(|f| is_sealed(&f))
}
