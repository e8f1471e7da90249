//! `tsoci`: the executable users and engines run. It answers the hot runc
//! commands (`state`, `start`, `kill`, `delete`, `list`, `pause`, `resume`,
//! `--version`) itself, through the same state-store crate the Node runtime
//! uses, and `features` from a template the build makes from the Node
//! runtime's tables (see features.rs); every other command line goes to the
//! Node CLI by `execv`.
//! `TSOCI_FAST_PATH=0` sends everything to Node, loading its modules from
//! `dist/bin.js` rather than from the start-up snapshot.
//!
//! No Rust runtime `main`: it would set SIGPIPE to ignored before our code
//! runs, and a hand-off must give Node the dispositions we were started with.
// The test harness brings its own main.
#![cfg_attr(not(test), no_main)]

mod args;
mod cgroup;
mod commands;
mod container;
mod features;
mod handoff;
mod log;
mod signals;

use std::ffi::OsString;

use commands::Outcome;

fn fast_path_enabled() -> bool {
    !matches!(
        std::env::var("TSOCI_FAST_PATH").as_deref(),
        Ok("0" | "false" | "off" | "no")
    )
}

#[cfg_attr(test, allow(dead_code))]
fn real_main() -> i32 {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let fast = fast_path_enabled();
    if fast {
        let cwd = std::env::current_dir().unwrap_or_default();
        if let Some((g, cmd)) = args::parse(argv.get(1..).unwrap_or_default(), &cwd) {
            match commands::run(&g, &cmd) {
                Ok(Outcome::Exit(code)) => return code,
                Ok(Outcome::Handoff) => {}
                Err(commands::Failure(msg)) => {
                    log::report_error(&g, &msg);
                    return 1;
                }
            }
        }
    }
    let msg = handoff::exec_node(&argv, fast);
    eprintln!("tsoci: {msg}");
    127
}

#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // std::env::args_os works without the Rust runtime on Linux/glibc: std
    // captures argv from the ELF init array.
    real_main()
}
