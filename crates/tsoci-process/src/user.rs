//! Switching the container process to its user.

use crate::caps::set_keepcaps;
use crate::errno::Errno;
use crate::ProcessError;
use rustix::process::{Gid, Uid};

/// `setgroups(gids)`.
pub fn set_groups(gids: &[u32]) -> Result<(), ProcessError> {
    let gids: Vec<Gid> = gids.iter().map(|&g| Gid::from_raw_unchecked(g)).collect();
    rustix::thread::set_thread_groups(&gids).map_err(|e| {
        ProcessError::sys(
            format!(
                "setgroups {:?}",
                gids.iter().map(|g| g.as_raw()).collect::<Vec<_>>()
            ),
            e,
        )
    })
}

/// `setresgid(gid, gid, gid)`.
pub fn set_gid(gid: u32) -> Result<(), ProcessError> {
    check_id("gid", gid)?;
    let g = Gid::from_raw_unchecked(gid);
    rustix::thread::set_thread_res_gid(g, g, g)
        .map_err(|e| ProcessError::sys(format!("setresgid {gid}"), e))
}

/// `setresuid(uid, uid, uid)`.
pub fn set_uid(uid: u32) -> Result<(), ProcessError> {
    check_id("uid", uid)?;
    let u = Uid::from_raw_unchecked(uid);
    rustix::thread::set_thread_res_uid(u, u, u)
        .map_err(|e| ProcessError::sys(format!("setresuid {uid}"), e))
}

fn check_id(what: &str, id: u32) -> Result<(), ProcessError> {
    if id == u32::MAX {
        return Err(ProcessError::Invalid(format!(
            "{what} 4294967295 (-1) is not a valid id"
        )));
    }
    Ok(())
}

/// Switches to `uid`/`gid` with `additional_gids` as supplementary groups.
///
/// With `keep_caps`, PR_SET_KEEPCAPS holds the permitted set across the uid
/// change so the caller can then set the capability sets the plan asks for
/// (the kernel clears the effective set either way). An empty group list is
/// allowed to fail with EPERM: in a user namespace whose `setgroups` file
/// says `deny` there is nothing to clear.
pub fn switch_user(
    uid: u32,
    gid: u32,
    additional_gids: &[u32],
    keep_caps: bool,
) -> Result<(), ProcessError> {
    if keep_caps {
        set_keepcaps(true)?;
    }
    match set_groups(additional_gids) {
        Err(e) if additional_gids.is_empty() && e.errno() == Errno::EPERM => {}
        other => other?,
    }
    set_gid(gid)?;
    set_uid(uid)?;
    if keep_caps {
        set_keepcaps(false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{in_child, proc_status_field};

    #[test]
    fn switching_keeps_permitted_caps_only_with_keepcaps() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let run = |keep: bool| {
            in_child(move || {
                switch_user(1000, 1001, &[1002, 1003], keep).map_err(|e| e.to_string())?;
                Ok([
                    proc_status_field("Uid")?,
                    proc_status_field("Gid")?,
                    proc_status_field("Groups")?,
                    proc_status_field("CapPrm")?,
                ]
                .join("\n"))
            })
        };
        let kept = run(true);
        let lines: Vec<&str> = kept.lines().collect();
        assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["1000"; 4]);
        assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["1001"; 4]);
        assert_eq!(lines[2], "1002 1003");
        assert_ne!(
            u64::from_str_radix(lines[3], 16).unwrap(),
            0,
            "keepcaps lost the permitted set"
        );
        let dropped = run(false);
        assert_eq!(
            u64::from_str_radix(dropped.lines().nth(3).unwrap(), 16).unwrap(),
            0
        );
    }

    #[test]
    fn minus_one_is_rejected() {
        assert!(set_uid(u32::MAX)
            .unwrap_err()
            .to_string()
            .contains("uid 4294967295"));
    }
}
