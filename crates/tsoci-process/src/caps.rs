//! Capabilities by number (the plan carries numbers, not names).
//!
//! The kernel's capability sets are 64-bit masks; a number above the running
//! kernel's `cap_last_cap` cannot be set or dropped, so callers first split a
//! request into what this kernel knows and what it does not (runc warns and
//! skips unknown capabilities instead of failing).

use crate::errno::Errno;
use crate::sys::prctl_int;
use crate::ProcessError;
use rustix::thread::{CapabilitySet, CapabilitySets};

const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// `CAP_SYS_ADMIN` for 21, `CAP_41` for numbers newer than this table.
pub fn cap_name(cap: u32) -> String {
    NAMES
        .get(cap as usize)
        .map_or_else(|| format!("CAP_{cap}"), |n| (*n).to_owned())
}

/// A set of capability numbers as the kernel's 64-bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapMask(pub u64);

impl CapMask {
    /// Builds a mask; numbers ≥ 64 cannot exist in any kernel ABI and are rejected.
    pub fn from_numbers(set: &str, caps: &[u32]) -> Result<CapMask, ProcessError> {
        let mut m = 0u64;
        for &c in caps {
            if c >= 64 {
                return Err(ProcessError::Invalid(format!(
                    "capabilities.{set}: capability number {c} is out of range (0-63)"
                )));
            }
            m |= 1 << c;
        }
        Ok(CapMask(m))
    }

    pub fn contains(self, cap: u32) -> bool {
        cap < 64 && self.0 & (1 << cap) != 0
    }

    /// Splits into (known to this kernel, unknown cap numbers).
    pub fn split_known(self, last_cap: u32) -> (CapMask, Vec<u32>) {
        let known = if last_cap >= 63 {
            u64::MAX
        } else {
            (1u64 << (last_cap + 1)) - 1
        };
        let unknown = (0..64)
            .filter(|&c| self.0 & !known & (1 << c) != 0)
            .collect();
        (CapMask(self.0 & known), unknown)
    }
}

/// The highest capability number this kernel knows. Probed with
/// `PR_CAPBSET_READ` (EINVAL above the last one) so it works without /proc.
pub fn last_cap() -> Result<u32, ProcessError> {
    let mut last = None;
    for cap in 0..64u32 {
        match prctl_int(libc::PR_CAPBSET_READ, cap.into(), 0, 0, 0) {
            Ok(_) => last = Some(cap),
            Err(Errno::EINVAL) => break,
            Err(e) => {
                return Err(ProcessError::sys(
                    format!("reading bounding capability {}", cap_name(cap)),
                    e,
                ))
            }
        }
    }
    last.ok_or_else(|| ProcessError::sys("probing the last capability", Errno::EINVAL))
}

/// Whether `cap` is in the calling thread's bounding set.
pub fn bounding_contains(cap: u32) -> Result<bool, ProcessError> {
    prctl_int(libc::PR_CAPBSET_READ, cap.into(), 0, 0, 0)
        .map(|r| r == 1)
        .map_err(|e| ProcessError::sys(format!("reading bounding capability {}", cap_name(cap)), e))
}

/// Drops every capability up to `last_cap` that is not in `keep` from the
/// bounding set. Needs CAP_SETPCAP in the effective set, so it runs before the
/// other sets are reduced.
pub fn drop_bounding_except(keep: CapMask, last_cap: u32) -> Result<(), ProcessError> {
    for cap in 0..=last_cap.min(63) {
        if keep.contains(cap) || !bounding_contains(cap)? {
            continue;
        }
        prctl_int(libc::PR_CAPBSET_DROP, cap.into(), 0, 0, 0).map_err(|e| {
            ProcessError::sys(format!("dropping bounding capability {}", cap_name(cap)), e)
        })?;
    }
    Ok(())
}

/// The effective, permitted and inheritable sets of the calling thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapSets {
    pub effective: CapMask,
    pub permitted: CapMask,
    pub inheritable: CapMask,
}

pub fn get_sets() -> Result<CapSets, ProcessError> {
    let s = rustix::thread::capabilities(None).map_err(|e| ProcessError::sys("capget", e))?;
    Ok(CapSets {
        effective: CapMask(s.effective.bits()),
        permitted: CapMask(s.permitted.bits()),
        inheritable: CapMask(s.inheritable.bits()),
    })
}

/// `capset` of the three sets at once. The kernel requires effective ⊆
/// permitted and a permitted set no larger than the current one; checking the
/// first here gives a clearer message than the kernel's bare EPERM.
pub fn set_sets(sets: CapSets) -> Result<(), ProcessError> {
    let extra = sets.effective.0 & !sets.permitted.0;
    if extra != 0 {
        let names: Vec<String> = (0..64)
            .filter(|c| extra & (1 << c) != 0)
            .map(cap_name)
            .collect();
        return Err(ProcessError::Invalid(format!(
            "capabilities: effective {} not in the permitted set",
            names.join(",")
        )));
    }
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: CapabilitySet::from_bits_retain(sets.effective.0),
            permitted: CapabilitySet::from_bits_retain(sets.permitted.0),
            inheritable: CapabilitySet::from_bits_retain(sets.inheritable.0),
        },
    )
    .map_err(|e| ProcessError::sys("setting capabilities (capset)", e))
}

/// Clears the ambient set and raises each capability of `ambient`. Raising
/// needs the capability in both the permitted and inheritable sets, so this
/// runs after [`set_sets`].
pub fn set_ambient(ambient: CapMask, last_cap: u32) -> Result<(), ProcessError> {
    prctl_int(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as _,
        0,
        0,
        0,
    )
    .map_err(|e| ProcessError::sys("clearing ambient capabilities", e))?;
    for cap in 0..=last_cap.min(63) {
        if ambient.contains(cap) {
            prctl_int(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as _,
                cap.into(),
                0,
                0,
            )
            .map_err(|e| {
                ProcessError::sys(format!("raising ambient capability {}", cap_name(cap)), e)
            })?;
        }
    }
    Ok(())
}

/// `PR_SET_KEEPCAPS`: keep the permitted set across a uid change away from 0.
pub fn set_keepcaps(keep: bool) -> Result<(), ProcessError> {
    rustix::thread::set_keep_capabilities(keep)
        .map_err(|e| ProcessError::sys("setting PR_SET_KEEPCAPS", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{in_child, proc_status_field};

    #[test]
    fn masks_and_names() {
        let m = CapMask::from_numbers("bounding", &[0, 21, 40]).unwrap();
        assert!(m.contains(21) && m.contains(0) && !m.contains(1));
        assert_eq!(cap_name(21), "CAP_SYS_ADMIN");
        assert_eq!(cap_name(55), "CAP_55");
        let err = CapMask::from_numbers("effective", &[64]).unwrap_err();
        assert!(
            err.to_string()
                .contains("capabilities.effective: capability number 64"),
            "{err}"
        );
        let (known, unknown) = m.split_known(39);
        assert_eq!(known, CapMask((1 << 0) | (1 << 21)));
        assert_eq!(unknown, vec![40]);
    }

    #[test]
    fn last_cap_matches_proc() {
        let from_proc: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(last_cap().unwrap(), from_proc);
    }

    #[test]
    fn effective_outside_permitted_is_rejected_before_the_kernel() {
        let err = set_sets(CapSets {
            effective: CapMask(1 << 21),
            permitted: CapMask(0),
            inheritable: CapMask(0),
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("CAP_SYS_ADMIN not in the permitted set"),
            "{err}"
        );
    }

    #[test]
    fn dropping_a_capability_shows_in_proc_status() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let out = in_child(|| {
            let last = last_cap().map_err(|e| e.to_string())?;
            let keep = CapMask(!(1 << 13)); // all but CAP_NET_RAW
            drop_bounding_except(keep, last).map_err(|e| e.to_string())?;
            let mut s = get_sets().map_err(|e| e.to_string())?;
            s.effective.0 &= !(1 << 12); // CAP_NET_ADMIN
            s.permitted.0 &= !(1 << 12);
            set_sets(s).map_err(|e| e.to_string())?;
            Ok(format!(
                "{}\n{}",
                proc_status_field("CapBnd")?,
                proc_status_field("CapEff")?
            ))
        });
        let mut lines = out.lines();
        let bnd = u64::from_str_radix(lines.next().unwrap(), 16).unwrap();
        let eff = u64::from_str_radix(lines.next().unwrap(), 16).unwrap();
        assert_eq!(bnd & (1 << 13), 0, "CAP_NET_RAW still bounding: {bnd:x}");
        assert_ne!(bnd & (1 << 12), 0, "CAP_NET_ADMIN wrongly dropped: {bnd:x}");
        assert_eq!(eff & (1 << 12), 0, "CAP_NET_ADMIN still effective: {eff:x}");
        assert_ne!(eff & (1 << 21), 0, "CAP_SYS_ADMIN lost: {eff:x}");
    }

    #[test]
    fn ambient_raise_needs_inheritable_and_shows_in_status() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let out = in_child(|| {
            let last = last_cap().map_err(|e| e.to_string())?;
            // Without the inheritable bit the kernel refuses: the error must name the cap.
            let e = set_ambient(CapMask(1 << 10), last).unwrap_err().to_string();
            let mut s = get_sets().map_err(|e| e.to_string())?;
            s.inheritable = CapMask(1 << 10);
            set_sets(s).map_err(|e| e.to_string())?;
            set_ambient(CapMask(1 << 10), last).map_err(|e| e.to_string())?;
            Ok(format!("{e}\n{}", proc_status_field("CapAmb")?))
        });
        let mut lines = out.lines();
        assert_eq!(
            lines.next().unwrap(),
            "raising ambient capability CAP_NET_BIND_SERVICE: operation not permitted"
        );
        assert_eq!(
            u64::from_str_radix(lines.next().unwrap(), 16).unwrap(),
            1 << 10
        );
    }
}
