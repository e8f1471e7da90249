//! Resource limits by `RLIMIT_*` number. Limits travel as decimal strings in
//! the plan because RLIM_INFINITY (2^64-1) does not fit a JSON number exactly.

use crate::sys;
use crate::ProcessError;

const NAMES: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// The name used in messages (`RLIMIT_NOFILE`); unknown numbers read `RLIMIT_<n>`.
pub fn rlimit_name(resource: u32) -> String {
    NAMES
        .get(resource as usize)
        .map_or_else(|| format!("RLIMIT_{resource}"), |n| (*n).to_owned())
}

/// Parses a limit value from the plan: a decimal u64 (`18446744073709551615` is
/// RLIM_INFINITY). `what` names the field in the error.
pub fn parse_limit(what: &str, value: &str) -> Result<u64, ProcessError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProcessError::Invalid(format!(
            "{what}: {value:?} is not a decimal number"
        )));
    }
    value
        .parse::<u64>()
        .map_err(|_| ProcessError::Invalid(format!("{what}: {value:?} does not fit in 64 bits")))
}

/// Sets one limit of the calling process.
pub fn set_rlimit(resource: u32, soft: u64, hard: u64) -> Result<(), ProcessError> {
    let name = rlimit_name(resource);
    if soft > hard {
        return Err(ProcessError::Invalid(format!(
            "setting rlimit {name}: soft limit {soft} is above hard limit {hard}"
        )));
    }
    sys::set_rlimit(resource, soft, hard)
        .map_err(|e| ProcessError::sys(format!("setting rlimit {name}"), e))
}

/// `(soft, hard)` of one limit of the calling process.
pub fn get_rlimit(resource: u32) -> Result<(u64, u64), ProcessError> {
    sys::get_rlimit(resource)
        .map_err(|e| ProcessError::sys(format!("reading rlimit {}", rlimit_name(resource)), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::in_child;

    #[test]
    fn names_and_parsing() {
        assert_eq!(rlimit_name(7), "RLIMIT_NOFILE");
        assert_eq!(rlimit_name(99), "RLIMIT_99");
        assert_eq!(parse_limit("x", "18446744073709551615").unwrap(), u64::MAX);
        assert!(parse_limit("rlimits[0].soft", "-1")
            .unwrap_err()
            .to_string()
            .contains("rlimits[0].soft"));
        assert!(parse_limit("x", "18446744073709551616").is_err());
        assert!(parse_limit("x", "").is_err());
    }

    #[test]
    fn soft_above_hard_is_invalid() {
        let e = set_rlimit(7, 10, 5).unwrap_err();
        assert_eq!(e.errno_name(), "EINVAL");
        assert!(e.to_string().contains("RLIMIT_NOFILE"), "{e}");
    }

    #[test]
    fn setting_nofile_shows_in_proc_limits() {
        let out = in_child(|| {
            let (_, hard) = get_rlimit(7).map_err(|e| e.to_string())?;
            let soft = hard.min(777);
            set_rlimit(7, soft, hard).map_err(|e| e.to_string())?;
            let limits = std::fs::read_to_string("/proc/self/limits").map_err(|e| e.to_string())?;
            Ok(limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .unwrap_or("")
                .to_owned())
        });
        let fields: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(fields.get(3), Some(&"777"), "{out}");
    }

    #[test]
    fn raising_hard_limit_without_privilege_names_the_limit() {
        let out = in_child(|| {
            let (soft, hard) = get_rlimit(7).map_err(|e| e.to_string())?;
            // Lowering the hard limit is always allowed; raising it back needs
            // CAP_SYS_RESOURCE, which an unprivileged caller (and root on
            // this VM) lacks. Drop the cap explicitly so the result is certain.
            let low = soft.min(64);
            set_rlimit(7, low, low).map_err(|e| e.to_string())?;
            if rustix::process::geteuid().is_root() {
                let mut s = crate::caps::get_sets().map_err(|e| e.to_string())?;
                s.effective.0 &= !(1 << 24);
                crate::caps::set_sets(s).map_err(|e| e.to_string())?;
            }
            match set_rlimit(7, low, hard.max(low + 1)) {
                Ok(()) => Err("raising the hard limit unexpectedly succeeded".into()),
                Err(e) => Ok(format!("{e}|{}", e.errno_name())),
            }
        });
        assert_eq!(
            out,
            "setting rlimit RLIMIT_NOFILE: operation not permitted|EPERM"
        );
    }
}
