//! Pieces shared by the container-init and the nsenter/unshare modes.

use rustix::fs::{Access, FileType, Mode};
use std::ffi::CString;
use std::fmt;
use tsoci_mount::MountError;
use tsoci_ns::NsError;
use tsoci_process::{Errno, ProcessError};

/// A failed step: the message names the step and its object; `errno` is the
/// kernel's errno name when one caused it.
#[derive(Debug)]
pub struct Failure {
    pub msg: String,
    pub errno: Option<&'static str>,
}

impl Failure {
    pub fn new(msg: impl Into<String>, errno: Option<&'static str>) -> Failure {
        Failure {
            msg: msg.into(),
            errno,
        }
    }

    /// `"<what>: <errno text>"` with the errno name attached.
    pub fn sys(what: impl fmt::Display, errno: impl Into<Errno>) -> Failure {
        let errno = errno.into();
        Failure {
            msg: format!("{what}: {errno}"),
            errno: Some(errno.name()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl From<ProcessError> for Failure {
    fn from(e: ProcessError) -> Failure {
        Failure {
            errno: Some(e.errno_name()),
            msg: e.to_string(),
        }
    }
}

impl From<NsError> for Failure {
    fn from(e: NsError) -> Failure {
        Failure {
            errno: Some(e.errno_name()),
            msg: e.to_string(),
        }
    }
}

impl From<MountError> for Failure {
    fn from(e: MountError) -> Failure {
        Failure {
            errno: Some(e.errno_name()),
            msg: e.to_string(),
        }
    }
}

/// Finds the program to exec the way runc (Go's exec.LookPath) does: a name
/// with a slash is used as is, otherwise each `$PATH` entry of the
/// *container's* environment is tried. Messages follow Go's wording, which
/// engines and tests match on.
pub fn resolve_program(arg0: &str, env: &[String]) -> Result<CString, Failure> {
    let cs = |s: &str| {
        CString::new(s)
            .map_err(|_| Failure::new(format!("exec: {s:?}: contains a NUL byte"), Some("EINVAL")))
    };
    if arg0.contains('/') {
        return match executable(arg0) {
            Ok(()) => cs(arg0),
            Err(e) if e == Errno::ENOENT || e == Errno::ENOTDIR => Err(Failure::new(
                format!("exec: {arg0:?}: stat {arg0}: {e}"),
                Some(e.name()),
            )),
            Err(e) => Err(Failure::new(format!("exec: {arg0:?}: {e}"), Some(e.name()))),
        };
    }
    let path = env
        .iter()
        .filter_map(|e| e.strip_prefix("PATH="))
        .next()
        .unwrap_or("");
    if !path.is_empty() {
        for dir in path.split(':') {
            let dir = if dir.is_empty() { "." } else { dir };
            let candidate = format!("{}/{arg0}", dir.trim_end_matches('/'));
            if executable(&candidate).is_ok() {
                return cs(&candidate);
            }
        }
    }
    Err(Failure::new(
        format!("exec: {arg0:?}: executable file not found in $PATH"),
        Some("ENOENT"),
    ))
}

/// A regular (or other non-directory) file with an execute bit that
/// access(X_OK) accepts for the current credentials.
fn executable(path: &str) -> Result<(), Errno> {
    let st = rustix::fs::stat(path).map_err(Errno::from)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        return Err(Errno::EISDIR);
    }
    if Mode::from_raw_mode(st.st_mode).bits() & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    rustix::fs::access(path, Access::EXEC_OK).map_err(Errno::from)
}

/// The first inside-id of a `/proc/self/{uid,gid}_map` that covers 0.
fn maps_zero(map: &str) -> bool {
    map.lines().any(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        f.len() == 3 && f[0] == 0 && f[2] > 0
    })
}

/// In a (new or joined) user namespace, become its root when 0 is mapped, so
/// files created later belong to the container's root. The supplementary
/// groups are cleared where `setgroups` is allowed.
pub fn become_root_if_mapped() -> Result<bool, Failure> {
    let uid_map = std::fs::read_to_string("/proc/self/uid_map")
        .map_err(|e| Failure::sys("reading /proc/self/uid_map", &e))?;
    let gid_map = std::fs::read_to_string("/proc/self/gid_map")
        .map_err(|e| Failure::sys("reading /proc/self/gid_map", &e))?;
    if !maps_zero(&uid_map) || !maps_zero(&gid_map) {
        return Ok(false);
    }
    tsoci_process::user::switch_user(0, 0, &[], false)?;
    Ok(true)
}

/// CVE-2024-21626: after chdir, the cwd must be reachable from the root. A
/// directory reached through a leaked host fd reads as "(unreachable)…" or
/// fails with ENOENT.
pub fn verify_cwd() -> Result<(), Failure> {
    match rustix::process::getcwd(Vec::new()) {
        Ok(p) if p.to_bytes().starts_with(b"/") => Ok(()),
        Ok(p) => Err(Failure::new(
            format!(
                "current working directory {:?} is outside of the container's root: possible container breakout detected",
                p.to_string_lossy()
            ),
            Some("EPERM"),
        )),
        Err(e) if e == rustix::io::Errno::NOENT => Err(Failure::new(
            "current working directory is outside of the container's root (getcwd: ENOENT): possible container breakout detected",
            Some("ENOENT"),
        )),
        Err(e) => Err(Failure::sys("getcwd", e)),
    }
}

/// The exec-time environment as C strings.
pub fn cstrings(items: &[String], what: &str) -> Result<Vec<CString>, Failure> {
    items
        .iter()
        .map(|s| {
            CString::new(s.as_str()).map_err(|_| {
                Failure::new(format!("{what} {s:?} contains a NUL byte"), Some("EINVAL"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lookup_uses_the_given_env() {
        let env = vec![
            "HOME=/".to_owned(),
            "PATH=/nonexistent:/bin:/usr/bin".to_owned(),
        ];
        let p = resolve_program("sh", &env).unwrap();
        assert!(p.to_str().unwrap().ends_with("/sh"), "{p:?}");
        let e = resolve_program("definitely-not-here-xyz", &env).unwrap_err();
        assert_eq!(
            e.msg,
            r#"exec: "definitely-not-here-xyz": executable file not found in $PATH"#
        );
        assert_eq!(e.errno, Some("ENOENT"));
        let e = resolve_program("sh", &["HOME=/".to_owned()]).unwrap_err();
        assert!(e.msg.contains("not found in $PATH"), "{}", e.msg);
    }

    #[test]
    fn paths_with_slash_are_checked_directly() {
        assert_eq!(
            resolve_program("/bin/sh", &[]).unwrap().to_str().unwrap(),
            "/bin/sh"
        );
        let e = resolve_program("/nonexistent/x", &[]).unwrap_err();
        assert_eq!(
            e.msg,
            r#"exec: "/nonexistent/x": stat /nonexistent/x: no such file or directory"#
        );
        let dir = std::env::temp_dir().join(format!("tsoci-init-resolve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        std::fs::write(&file, b"not a program").unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let e = resolve_program(file.to_str().unwrap(), &[]).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e.errno, Some("EACCES"), "{}", e.msg);
        let e = resolve_program("/etc", &[]).unwrap_err();
        assert_eq!(e.errno, Some("EISDIR"), "{}", e.msg);
    }

    #[test]
    fn zero_mapping_detection() {
        assert!(maps_zero("         0          0 4294967295\n"));
        assert!(maps_zero("0 100000 65536\n"));
        assert!(!maps_zero("1000 100000 65536\n"));
        assert!(!maps_zero(""));
    }

    #[test]
    fn cwd_of_the_test_process_is_reachable() {
        verify_cwd().unwrap();
    }
}
