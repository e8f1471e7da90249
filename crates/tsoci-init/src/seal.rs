//! CVE-2019-5736 defence: run from a sealed, anonymous copy of the binary.
//!
//! If the container later reaches `/proc/<init>/exe` (for example through an
//! entrypoint `#!/proc/self/exe`), it finds a memfd whose content can never
//! change again, not the host's tsoci-init file.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use tsoci_process::sealed::{is_sealed, sealed_copy};
use tsoci_process::Errno;

/// Re-executes from a sealed memfd unless already running from one. Returns
/// only when nothing needs doing; on success of the re-exec it never returns.
pub fn ensure_sealed() -> Result<(), String> {
    let exe = File::open("/proc/self/exe")
        .map_err(|e| format!("opening /proc/self/exe: {}", Errno::from_io(&e)))?;
    if is_sealed(&exe) {
        return Ok(());
    }
    let mut src = exe;
    let dst = sealed_copy(&mut src, "tsoci-init")
        .map_err(|e| format!("copying /proc/self/exe: {e}"))?;
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
    let e = fexecve(&dst, &args, &env);
    Err(format!("re-executing from the sealed memfd: {e}"))
}

fn cstring(b: &[u8]) -> Result<CString, String> {
    CString::new(b).map_err(|_| "argument or environment entry with a NUL byte".to_owned())
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
