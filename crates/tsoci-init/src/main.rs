//! tsoci-init: the small, single-threaded executable that becomes the
//! container (PROTOCOL.md). Modes: container init (`_TSOCI_SYNC_FD` set),
//! `nsenter`, `unshare`. Every mode first re-executes itself from a sealed
//! memfd (CVE-2019-5736).

mod cli;
mod common;
mod frame;
mod init;
mod plan;
mod seal;
mod sys;

const USAGE: &str = "usage: tsoci-init (with _TSOCI_SYNC_FD=<fd>)\n       tsoci-init nsenter --target PID [--ns TYPE]... [--env K=V]... [--clear-env] -- ARGV...\n       tsoci-init unshare [--ns TYPE]... [--map-root] [--env K=V]... [--clear-env] -- ARGV...";

fn main() {
    // Recorded before anything else, so a parent that dies while we start up
    // is noticed after PDEATHSIG is set (the signal would never come).
    let first_ppid = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
    if let Err(e) = seal::ensure_sealed() {
        eprintln!("tsoci-init: {e}");
        std::process::exit(1);
    }
    let args: Vec<String> = match std::env::args_os().map(|a| a.into_string()).collect() {
        Ok(a) => a,
        Err(bad) => {
            eprintln!("tsoci-init: argument {bad:?} is not UTF-8");
            std::process::exit(1);
        }
    };
    let code = match args.get(1).map(String::as_str) {
        Some(mode @ ("nsenter" | "unshare")) => cli::main(mode, &args[2..]),
        Some("--sealed-check") => i32::from(!seal::running_sealed()),
        Some(other) => {
            eprintln!("tsoci-init: unknown mode {other:?}\n{USAGE}");
            1
        }
        None => match std::env::var("_TSOCI_SYNC_FD") {
            Ok(fd) => init::run(&fd, first_ppid),
            Err(_) => {
                eprintln!("tsoci-init: _TSOCI_SYNC_FD is not set\n{USAGE}");
                1
            }
        },
    };
    std::process::exit(code);
}
