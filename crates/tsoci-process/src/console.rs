//! The container console: a pty opened inside the container, its master sent
//! to the caller's console socket (SCM_RIGHTS, as runc's `--console-socket`),
//! its slave made the process's stdio and controlling terminal.

use crate::errno::Errno;
use crate::ProcessError;
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use rustix::pty::OpenptFlags;
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// An unlocked pty pair.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// `/dev/pts/N` as the devpts instance of the master names it.
    pub slave_path: String,
}

/// Unlocks `master` (an fd of `ptmx`, opened by the caller inside the
/// container's root) and opens its peer with TIOCGPTPEER, which reaches the
/// slave through the master itself instead of a path that could be swapped.
pub fn open_pty(master: OwnedFd) -> Result<Pty, ProcessError> {
    rustix::pty::unlockpt(&master).map_err(|e| ProcessError::sys("unlockpt", e))?;
    let name =
        rustix::pty::ptsname(&master, Vec::new()).map_err(|e| ProcessError::sys("ptsname", e))?;
    let slave_path = name.to_string_lossy().into_owned();
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, OpenptFlags::RDWR | OpenptFlags::NOCTTY)
        .map_err(|e| ProcessError::sys(format!("opening the pty peer {slave_path}"), e))?;
    Ok(Pty {
        master,
        slave,
        slave_path,
    })
}

/// TIOCSWINSZ.
pub fn set_window_size(tty: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<(), ProcessError> {
    let ws = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(tty, ws)
        .map_err(|e| ProcessError::sys(format!("setting console size {rows}x{cols}"), e))
}

/// Connects to the caller's console socket (a listening `SOCK_STREAM` unix socket).
pub fn connect_console_socket(path: &str) -> Result<OwnedFd, ProcessError> {
    let addr = rustix::net::SocketAddrUnix::new(path).map_err(|e| {
        ProcessError::sys(format!("console socket {path:?}: bad unix socket path"), e)
    })?;
    let sock = rustix::net::socket_with(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| ProcessError::sys("creating the console socket", e))?;
    rustix::net::connect(&sock, &addr)
        .map_err(|e| ProcessError::sys(format!("connecting to console socket {path:?}"), e))?;
    Ok(sock)
}

/// Sends exactly one fd over `sock`, with `name` as the message payload
/// (runc sends the pty's name there; receivers such as go-runc read it as the
/// file name). The payload may not be empty: a zero-length stream message
/// carries no ancillary data on Linux.
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>, name: &str) -> Result<(), ProcessError> {
    if name.is_empty() || name.len() > 4096 {
        return Err(ProcessError::Invalid(format!(
            "fd name {name:?}: must be 1 to 4096 bytes"
        )));
    }
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(ProcessError::sys(
            "building the SCM_RIGHTS message",
            Errno::EMSGSIZE,
        ));
    }
    let sent = rustix::net::sendmsg(
        sock,
        &[IoSlice::new(name.as_bytes())],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map_err(|e| ProcessError::sys(format!("sending {name} over the console socket"), e))?;
    if sent != name.len() {
        return Err(ProcessError::sys(
            format!("sending {name} over the console socket (short write)"),
            Errno::EIO,
        ));
    }
    Ok(())
}

/// Makes `tty` fds 0, 1 and 2 and the controlling terminal of the calling
/// session (the caller must be a session leader without one, i.e. after setsid).
pub fn make_stdio_and_controlling(tty: &OwnedFd) -> Result<(), ProcessError> {
    for target in 0..=2 {
        dup_onto(tty.as_fd(), target)
            .map_err(|e| ProcessError::sys(format!("dup3 console onto fd {target}"), e))?;
    }
    rustix::process::ioctl_tiocsctty(tty)
        .map_err(|e| ProcessError::sys("setting the controlling terminal (TIOCSCTTY)", e))
}

fn dup_onto(fd: BorrowedFd<'_>, target: i32) -> Result<(), Errno> {
    if fd.as_raw_fd() == target {
        return Ok(());
    }
    // SAFETY: dup3 onto a small fixed fd number; the target (a stdio slot) is
    // deliberately replaced, and no Rust object owns it as an OwnedFd here.
    let r = unsafe { libc::dup3(fd.as_raw_fd(), target, 0) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::in_child;
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    use std::io::IoSliceMut;

    fn host_pty() -> Pty {
        let master =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
                .unwrap();
        open_pty(master).unwrap()
    }

    #[test]
    fn pty_size_and_fd_passing() {
        let pty = host_pty();
        assert!(
            pty.slave_path.starts_with("/dev/pts/"),
            "{}",
            pty.slave_path
        );
        set_window_size(pty.slave.as_fd(), 33, 101).unwrap();
        let ws = rustix::termios::tcgetwinsize(&pty.master).unwrap();
        assert_eq!((ws.ws_row, ws.ws_col), (33, 101));

        let (a, b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        assert!(send_fd(a.as_fd(), pty.master.as_fd(), "").is_err());
        send_fd(a.as_fd(), pty.master.as_fd(), "/dev/ptmx").unwrap();

        let mut buf = [0u8; 64];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = rustix::net::recvmsg(
            &b,
            &mut [IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .unwrap();
        assert_eq!(&buf[..got.bytes], b"/dev/ptmx");
        let mut fds: Vec<OwnedFd> = Vec::new();
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(it) = msg {
                fds.extend(it);
            }
        }
        assert_eq!(fds.len(), 1);
        // The received fd is the same pty master: same slave name.
        let name = rustix::pty::ptsname(&fds[0], Vec::new()).unwrap();
        assert_eq!(name.to_string_lossy(), pty.slave_path);
    }

    #[test]
    fn slave_becomes_stdio_and_controlling_terminal() {
        let out = in_child(|| {
            let pty = host_pty();
            rustix::process::setsid().map_err(|e| e.to_string())?;
            // Keep our result pipe off fds 0-2: the in_child pipe is ≥3 already.
            make_stdio_and_controlling(&pty.slave).map_err(|e| e.to_string())?;
            let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| e.to_string())?;
            let after_comm = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
            // fields after comm: state ppid pgrp session tty_nr
            let tty_nr: i64 = after_comm
                .split(' ')
                .nth(4)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let is_tty = rustix::termios::isatty(std::io::stdout());
            // Closing the master would hang up our controlling terminal and
            // SIGHUP this child before it reports; `_exit` closes it later.
            std::mem::forget(pty);
            Ok(format!("{} {}", tty_nr != 0, is_tty))
        });
        assert_eq!(out, "true true");
    }

    #[test]
    fn console_socket_errors_name_the_path() {
        let e = connect_console_socket("/nonexistent/tsoci.sock").unwrap_err();
        assert!(e.to_string().contains("\"/nonexistent/tsoci.sock\""), "{e}");
        assert_eq!(e.errno_name(), "ENOENT");
        let long = format!("/{}", "x".repeat(200));
        assert!(connect_console_socket(&long).is_err());
    }
}
