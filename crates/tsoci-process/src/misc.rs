//! Single-call process attributes: umask, no_new_privs, personality,
//! parent-death signal, session keyring.

use crate::errno::Errno;
use crate::sys;
use crate::ProcessError;
use std::ffi::CString;

/// Sets the umask; `mask` must be a permission mask (≤ 0o777).
pub fn set_umask(mask: u32) -> Result<(), ProcessError> {
    if mask > 0o777 {
        return Err(ProcessError::Invalid(format!(
            "umask {mask:#o} is not a permission mask (at most 0o777)"
        )));
    }
    rustix::process::umask(rustix::fs::Mode::from_bits_retain(mask));
    Ok(())
}

/// `PR_SET_NO_NEW_PRIVS`: execve can no longer grant privileges.
pub fn set_no_new_privs() -> Result<(), ProcessError> {
    rustix::thread::set_no_new_privs(true).map_err(|e| ProcessError::sys("setting no_new_privs", e))
}

/// `personality(domain)`.
pub fn set_personality(domain: u64) -> Result<(), ProcessError> {
    let d = libc::c_ulong::try_from(domain).map_err(|_| {
        ProcessError::Invalid(format!("personality {domain:#x} does not fit the platform"))
    })?;
    // 0xffffffff is the "query" value: it would silently change nothing.
    if d == 0xffff_ffff {
        return Err(ProcessError::Invalid(
            "personality 0xffffffff is the query value, not a domain".into(),
        ));
    }
    sys::personality(d)
        .map(|_| ())
        .map_err(|e| ProcessError::sys(format!("setting personality {domain:#x}"), e))
}

/// Sets (or with `None` clears) the signal sent when the parent thread exits.
pub fn set_parent_death_signal(signal: Option<i32>) -> Result<(), ProcessError> {
    let sig =
        match signal {
            None => None,
            Some(n) => Some(rustix::process::Signal::from_named_raw(n).ok_or_else(|| {
                ProcessError::Invalid(format!("signal {n} is not a known signal"))
            })?),
        };
    rustix::process::set_parent_process_death_signal(sig)
        .map_err(|e| ProcessError::sys("setting PR_SET_PDEATHSIG", e))
}

const KEYCTL_JOIN_SESSION_KEYRING: i32 = 1;
const KEYCTL_SETPERM: i32 = 5;
const KEYCTL_DESCRIBE: i32 = 6;
/// `KEY_USR_SEARCH`: lets the container user search its own session keyring.
const KEY_USR_SEARCH: u32 = 0x0008_0000;

/// What joining a session keyring did.
#[derive(Debug, PartialEq, Eq)]
pub enum Keyring {
    /// A new keyring with this serial is the session keyring now.
    Joined(i32),
    /// The kernel has no keyrings (ENOSYS); runc carries on in this case too.
    Unsupported,
}

/// Joins a fresh session keyring named `name` (runc uses `_ses.<id>`), so the
/// container does not share the caller's session keyring, then adds
/// user-search permission to it.
pub fn join_session_keyring(name: &str) -> Result<Keyring, ProcessError> {
    let cname = CString::new(name)
        .map_err(|_| ProcessError::Invalid(format!("keyring name {name:?} contains a NUL byte")))?;
    let serial = match sys::keyctl(
        KEYCTL_JOIN_SESSION_KEYRING,
        cname.as_ptr() as libc::c_ulong,
        0,
        0,
        0,
    ) {
        Ok(s) => s as i32,
        Err(Errno::ENOSYS) => return Ok(Keyring::Unsupported),
        Err(e) => {
            return Err(ProcessError::sys(
                format!("joining session keyring {name:?}"),
                e,
            ))
        }
    };
    let perm = keyring_perm(serial)?;
    sys::keyctl(
        KEYCTL_SETPERM,
        serial as libc::c_ulong,
        (perm | KEY_USR_SEARCH) as libc::c_ulong,
        0,
        0,
    )
    .map_err(|e| {
        ProcessError::sys(
            format!("setting permissions of session keyring {name:?}"),
            e,
        )
    })?;
    Ok(Keyring::Joined(serial))
}

/// The permission mask of a key: the last `;`-separated number is not it;
/// KEYCTL_DESCRIBE gives `type;uid;gid;perm;description` with perm in hex.
fn keyring_perm(serial: i32) -> Result<u32, ProcessError> {
    let mut buf = vec![0u8; 512];
    let n = sys::keyctl(
        KEYCTL_DESCRIBE,
        serial as libc::c_ulong,
        buf.as_mut_ptr() as libc::c_ulong,
        buf.len() as libc::c_ulong,
        0,
    )
    .map_err(|e| ProcessError::sys("describing the session keyring", e))?;
    let text = String::from_utf8_lossy(&buf[..(n as usize).min(buf.len())]);
    parse_key_perm(text.trim_end_matches('\0')).ok_or_else(|| {
        ProcessError::Invalid(format!(
            "session keyring description {text:?} has no permission field"
        ))
    })
}

fn parse_key_perm(desc: &str) -> Option<u32> {
    u32::from_str_radix(desc.split(';').nth(3)?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{in_child, proc_status_field};

    #[test]
    fn umask_rejects_non_masks() {
        assert!(set_umask(0o1777)
            .unwrap_err()
            .to_string()
            .contains("0o1777"));
        let out = in_child(|| {
            set_umask(0o027).map_err(|e| e.to_string())?;
            proc_status_field("Umask")
        });
        assert_eq!(out, "0027");
    }

    #[test]
    fn no_new_privs_shows_in_status() {
        let out = in_child(|| {
            let before = proc_status_field("NoNewPrivs")?;
            set_no_new_privs().map_err(|e| e.to_string())?;
            Ok(format!("{before} {}", proc_status_field("NoNewPrivs")?))
        });
        assert_eq!(out, "0 1");
    }

    #[test]
    fn personality_changes_and_query_value_is_refused() {
        assert!(set_personality(0xffff_ffff).is_err());
        let out = in_child(|| {
            set_personality(0x0008).map_err(|e| e.to_string())?; // PER_LINUX32
            let now = sys::personality(0xffff_ffff).map_err(|e| e.to_string())?;
            Ok(format!("{now:#x}"))
        });
        assert_eq!(out, "0x8");
    }

    #[test]
    fn key_perm_parsing() {
        assert_eq!(
            parse_key_perm("keyring;0;0;3f030000;_ses.x"),
            Some(0x3f03_0000)
        );
        assert_eq!(parse_key_perm("keyring;0;0"), None);
    }

    #[test]
    fn joining_a_session_keyring_gives_a_new_searchable_one() {
        let out = in_child(|| {
            match join_session_keyring("_ses.tsoci-test").map_err(|e| e.to_string())? {
                Keyring::Unsupported => Ok("unsupported".into()),
                Keyring::Joined(serial) => {
                    let perm = keyring_perm(serial).map_err(|e| e.to_string())?;
                    // KEYCTL_GET_KEYRING_ID(KEY_SPEC_SESSION_KEYRING) is now the joined keyring.
                    let current = sys::keyctl(0, -3i64 as libc::c_ulong, 0, 0, 0)
                        .map_err(|e| e.to_string())?;
                    Ok(format!("{serial} {perm:x} {current}"))
                }
            }
        });
        if out == "unsupported" {
            eprintln!("skipped: kernel without keyrings");
            return;
        }
        let mut it = out.split(' ');
        let serial: i32 = it.next().unwrap().parse().unwrap();
        let perm = u32::from_str_radix(it.next().unwrap(), 16).unwrap();
        let current: i32 = it.next().unwrap().parse().unwrap();
        assert!(serial > 0);
        assert_eq!(current, serial, "session keyring is not the joined one");
        assert_ne!(perm & KEY_USR_SEARCH, 0, "user search not set: {perm:x}");
    }

    #[test]
    fn pdeathsig_round_trip() {
        let out = in_child(|| {
            set_parent_death_signal(Some(9)).map_err(|e| e.to_string())?;
            let a = rustix::process::parent_process_death_signal().map_err(|e| e.to_string())?;
            set_parent_death_signal(None).map_err(|e| e.to_string())?;
            let b = rustix::process::parent_process_death_signal().map_err(|e| e.to_string())?;
            Ok(format!(
                "{:?} {:?}",
                a.map(|s| s.as_raw()),
                b.map(|s| s.as_raw())
            ))
        });
        assert_eq!(out, "Some(9) None");
    }
}
