//! Compiled filters loaded for real, each in a forked child so the test
//! process itself never runs under a filter.
//!
//! The child of a multi-threaded test process may only make async-signal-safe
//! calls: everything is decoded before fork, and the child issues raw
//! syscalls and `_exit`s.

use std::time::Instant;

use tsoci_seccomp::{compile_json, decode, install_program, CompiledFilter};

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Exited(i32),
    Signaled(i32),
}

/// Runs `body` in a forked child under `filter`. The child exits with what
/// `body` returns; 100 means the filter could not be installed.
fn run_filtered(filter: &CompiledFilter, body: fn() -> i32) -> Outcome {
    let program = decode(&filter.bpf).expect("decodable filter");
    let flags = filter.flags;
    match fork() {
        0 => {
            let code = if set_no_new_privs() && install_program(&program, flags).is_ok() { body() } else { 100 };
            exit_now(code)
        }
        pid if pid > 0 => wait(pid),
        _ => panic!("fork failed: {}", std::io::Error::last_os_error()),
    }
}

fn fork() -> libc::pid_t {
    // SAFETY: the child only runs async-signal-safe code (raw syscalls and
    // _exit, see run_filtered) before it exits.
    unsafe { libc::fork() }
}

fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the forked child without running the parent's atexit
    // handlers or destructors, which would not be safe after fork.
    unsafe { libc::_exit(code) }
}

fn set_no_new_privs() -> bool {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 }
}

fn wait(pid: libc::pid_t) -> Outcome {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the duration of the call.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::EINTR), "waitpid failed");
    }
    if libc::WIFEXITED(status) {
        Outcome::Exited(libc::WEXITSTATUS(status))
    } else {
        Outcome::Signaled(libc::WTERMSIG(status))
    }
}

/// A raw 1-argument syscall: Ok(return value) or Err(errno).
fn sys1(nr: libc::c_long, a0: u64) -> Result<i64, i32> {
    // SAFETY: only used with syscalls whose single argument is an integer
    // (getpgid, umask, getppid ignores it), so no memory is passed.
    let rc = unsafe { libc::syscall(nr, a0) };
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1))
    } else {
        Ok(rc)
    }
}

fn getcwd_errno() -> i32 {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its full length, which is what we pass.
    let rc = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if rc < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

fn mkdir_errno() -> i32 {
    // The parent directory does not exist, so an allowed mkdir fails with
    // ENOENT and never creates anything.
    let path = c"/nonexistent-tsoci-seccomp-test/dir";
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_mkdir, path.as_ptr(), 0o700) };
    if rc < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

fn setns_errno() -> i32 {
    // fd -1: an allowed setns fails with EBADF and changes nothing.
    // SAFETY: integer arguments only.
    let rc = unsafe { libc::syscall(libc::SYS_setns, -1, 0) };
    if rc < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

#[test]
fn denied_syscalls_return_the_configured_errno_and_others_work() {
    let filter = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":18},
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let outcome = run_filtered(&filter, || {
        if getcwd_errno() != libc::EXDEV {
            return 1;
        }
        // errnoRet absent: EPERM.
        if mkdir_errno() != libc::EPERM {
            return 2;
        }
        if sys1(libc::SYS_getpid, 0).is_err() {
            return 3;
        }
        0
    });
    assert_eq!(outcome, Outcome::Exited(0));

    // Control: without the filter the same probes behave normally.
    let allow = compile_json(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let outcome = run_filtered(&allow, || if getcwd_errno() == 0 && mkdir_errno() == libc::ENOENT { 0 } else { 1 });
    assert_eq!(outcome, Outcome::Exited(0));
}

#[test]
fn argument_comparisons() {
    // getpgid(pid) fails with ESRCH for an unused pid; the filter turns some
    // argument values into distinctive errnos instead.
    let filter = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":33,"args":[{"index":0,"value":4000000,"op":"SCMP_CMP_EQ"}]},
            {"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":34,"args":[{"index":0,"value":4100000,"op":"SCMP_CMP_EQ"},{"index":0,"value":4100007,"op":"SCMP_CMP_EQ"}]},
            {"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":36,"args":[{"index":0,"value":4294967296,"op":"SCMP_CMP_GT"}]},
            {"names":["umask"],"action":"SCMP_ACT_ERRNO","errnoRet":35,"args":[{"index":0,"value":63,"valueTwo":63,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#,
    )
    .unwrap();
    let outcome = run_filtered(&filter, || {
        if sys1(libc::SYS_getpgid, 0).is_err() {
            return 1; // not matched: the real syscall runs
        }
        if sys1(libc::SYS_getpgid, 4_000_000) != Err(33) {
            return 2; // EQ
        }
        if sys1(libc::SYS_getpgid, 4_000_001) != Err(libc::ESRCH) {
            return 3; // EQ does not match a neighbour
        }
        // Two conditions on one index are ORed (runc semantics); ANDed they
        // could never both hold.
        if sys1(libc::SYS_getpgid, 4_100_000) != Err(34) || sys1(libc::SYS_getpgid, 4_100_007) != Err(34) {
            return 4;
        }
        if sys1(libc::SYS_getpgid, 4_100_005) != Err(libc::ESRCH) {
            return 8;
        }
        // 64-bit comparison: the high word counts.
        if sys1(libc::SYS_getpgid, 0x1_0000_0005) != Err(36) {
            return 5;
        }
        // MASKED_EQ: (mask & 0o77) == 0o77.
        if sys1(libc::SYS_umask, 0o077) != Err(35) || sys1(libc::SYS_umask, 0o177) != Err(35) {
            return 6;
        }
        if sys1(libc::SYS_umask, 0o022).is_err() {
            return 7;
        }
        0
    });
    assert_eq!(outcome, Outcome::Exited(0));
}

#[test]
fn anded_conditions_on_different_arguments() {
    // kill(pid, sig): deny only signal 0 probes of one pid; both must match.
    let filter = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":42,"args":[
                {"index":0,"value":4000000,"op":"SCMP_CMP_EQ"},{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
    )
    .unwrap();
    fn kill(pid: i64, sig: i64) -> Result<i64, i32> {
        // SAFETY: integer arguments only; pid 4000000 is above pid_max, so
        // nothing is ever signalled.
        let rc = unsafe { libc::syscall(libc::SYS_kill, pid, sig) };
        if rc < 0 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1))
        } else {
            Ok(rc)
        }
    }
    let outcome = run_filtered(&filter, || {
        if kill(4_000_000, 0) != Err(42) {
            return 1;
        }
        if kill(4_000_001, 0) != Err(libc::ESRCH) {
            return 2;
        }
        0
    });
    assert_eq!(outcome, Outcome::Exited(0));
}

#[test]
fn kill_trap_log_and_trace_actions() {
    let kill = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
    )
    .unwrap();
    assert_eq!(run_filtered(&kill, || sys1(libc::SYS_getppid, 0).map_or(1, |_| 2)), Outcome::Signaled(libc::SIGSYS));

    let trap = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_TRAP"}]}"#,
    )
    .unwrap();
    assert_eq!(run_filtered(&trap, || sys1(libc::SYS_getppid, 0).map_or(1, |_| 2)), Outcome::Signaled(libc::SIGSYS));

    let log = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_LOG"}]}"#,
    )
    .unwrap();
    assert_eq!(run_filtered(&log, || sys1(libc::SYS_getppid, 0).map_or(1, |_| 0)), Outcome::Exited(0));

    // With no tracer attached, SECCOMP_RET_TRACE fails the syscall with ENOSYS.
    let trace = compile_json(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_TRACE","errnoRet":7}]}"#).unwrap();
    assert_eq!(
        run_filtered(&trace, || if sys1(libc::SYS_getppid, 0) == Err(libc::ENOSYS) { 0 } else { 1 }),
        Outcome::Exited(0)
    );
}

#[test]
fn default_errno_ret_applies_to_the_default_action() {
    let filter = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[{"names":["getpid","exit","exit_group","getcwd"],"action":"SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let outcome = run_filtered(&filter, || {
        if sys1(libc::SYS_getpid, 0).is_err() || getcwd_errno() != 0 {
            return 1;
        }
        if mkdir_errno() != libc::ENOSYS {
            return 2;
        }
        0
    });
    assert_eq!(outcome, Outcome::Exited(0));
}

#[test]
fn flags_are_accepted_by_the_kernel() {
    let filter = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"],"syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":9}]}"#,
    )
    .unwrap();
    assert_eq!(run_filtered(&filter, || if mkdir_errno() == libc::EBADF { 0 } else { 1 }), Outcome::Exited(0));
}

/// The allow list of the Docker/moby default profile (as of 2024), plus its
/// conditional entries, for the x86 family of architectures.
fn docker_like_profile() -> String {
    const ALLOWED: &str = "accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown \
        chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 \
        clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 \
        epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old \
        eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate \
        fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr \
        flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate \
        ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat getcpu getcwd \
        getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer \
        getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid \
        getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid \
        gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch \
        io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set \
        io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown \
        lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat \
        lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod \
        mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive \
        mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd \
        msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 \
        pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll \
        ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 \
        pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 \
        recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction \
        rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait \
        rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam \
        sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval \
        sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler \
        sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 \
        sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 \
        setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid \
        setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 \
        setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn \
        socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range \
        syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 \
        timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime \
        timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime \
        utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev arch_prctl \
        modify_ldt";
    let names: Vec<String> = ALLOWED.split_whitespace().map(|n| format!("\"{n}\"")).collect();
    let personality: Vec<String> = [0u64, 8, 131072, 131080, 4294967295]
        .iter()
        .map(|v| {
            format!(r#"{{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{{"index":0,"value":{v},"op":"SCMP_CMP_EQ"}}]}}"#)
        })
        .collect();
    format!(
        r#"{{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
            "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
            "syscalls":[
              {{"names":[{}],"action":"SCMP_ACT_ALLOW"}},
              {},
              {{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}}]}},
              {{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}},
              {{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{{"index":0,"value":40,"op":"SCMP_CMP_NE"}}]}}
            ]}}"#,
        names.join(","),
        personality.join(",")
    )
}

#[test]
fn docker_like_profile_compiles_and_loads() {
    let json = docker_like_profile();
    let started = Instant::now();
    let filter = compile_json(&json).unwrap();
    // Printed, not asserted: timings belong to bench/, never to a test.
    eprintln!(
        "docker-like profile: {} instructions, {} skipped names, compiled in {:?}",
        filter.instruction_count(),
        filter.skipped_syscalls.len(),
        started.elapsed()
    );
    assert!(filter.instruction_count() > 300);
    let outcome = run_filtered(&filter, || {
        if sys1(libc::SYS_getpid, 0).is_err() || getcwd_errno() != 0 || mkdir_errno() != libc::ENOENT {
            return 1;
        }
        // Not in the allow list: the default action answers EPERM.
        if setns_errno() != libc::EPERM {
            return 2;
        }
        // clone3 is turned into ENOSYS so that libcs fall back to clone.
        // SAFETY: a NULL clone_args with size 0 is rejected (EINVAL) before
        // anything is created if the syscall is allowed at all.
        let rc = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
        if rc != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
            return 3;
        }
        0
    });
    assert_eq!(outcome, Outcome::Exited(0));
}
