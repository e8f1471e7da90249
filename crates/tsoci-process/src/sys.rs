//! The few raw calls that neither std nor rustix wrap. Each unsafe block is
//! one syscall whose pointer arguments point at live, correctly typed memory.

use crate::errno::Errno;
use libc::{c_int, c_ulong};

/// `prctl` for the options that take only integer arguments.
pub(crate) fn prctl_int(
    op: c_int,
    a2: c_ulong,
    a3: c_ulong,
    a4: c_ulong,
    a5: c_ulong,
) -> Result<c_int, Errno> {
    // SAFETY: every caller passes an option whose arguments are plain integers
    // (PR_CAPBSET_*, PR_CAP_AMBIENT, PR_SET_KEEPCAPS, …); no memory is touched.
    let r = unsafe { libc::prctl(op, a2, a3, a4, a5) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// `prlimit(0, resource, new, NULL)`: set a limit of the calling process.
pub(crate) fn set_rlimit(resource: u32, soft: u64, hard: u64) -> Result<(), Errno> {
    let new = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `new` is a valid rlimit64 for the duration of the call; the old
    // value pointer is NULL, which prlimit64 allows.
    let r = unsafe { libc::prlimit64(0, resource as _, &new, std::ptr::null_mut()) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `prlimit(0, resource, NULL, &old)`.
pub(crate) fn get_rlimit(resource: u32) -> Result<(u64, u64), Errno> {
    let mut old = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `old` is a writable rlimit64 that outlives the call.
    let r = unsafe { libc::prlimit64(0, resource as _, std::ptr::null(), &mut old) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok((old.rlim_cur, old.rlim_max))
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)` for an already validated program.
pub(crate) fn seccomp_set_filter(filter: &[libc::sock_filter], flags: u32) -> Result<c_int, Errno> {
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `filter`, which stays borrowed (and therefore
    // alive and unmoved) for the whole call; the kernel copies the program.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as c_ulong,
            flags as c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as c_int)
    }
}

/// `keyctl(op, a2, a3, a4, a5)` with integer arguments or a NUL-terminated name.
pub(crate) fn keyctl(
    op: c_int,
    a2: c_ulong,
    a3: c_ulong,
    a4: c_ulong,
    a5: c_ulong,
) -> Result<libc::c_long, Errno> {
    // SAFETY: callers pass integers, or (for JOIN_SESSION_KEYRING / DESCRIBE)
    // pointers to a live NUL-terminated string or a writable buffer whose
    // length is passed alongside.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, op as c_ulong, a2, a3, a4, a5) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// `personality(persona)`; returns the previous persona.
pub(crate) fn personality(persona: c_ulong) -> Result<c_int, Errno> {
    // SAFETY: personality takes an integer and touches no memory.
    let r = unsafe { libc::personality(persona) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}
