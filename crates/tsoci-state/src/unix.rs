//! Unix sockets carrying one fd (SCM_RIGHTS), as the `--console-socket`
//! protocol does: the runtime connects and sends the pty master with its name
//! as the message bytes.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};

use crate::store::millis;
use crate::{Result, StateError};

/// Longest path a `sockaddr_un` holds (108 bytes including the NUL).
pub const MAX_SOCKET_PATH: usize = 107;
// runc's console protocol caps names at 4096 bytes.
const MAX_NAME: usize = 4096;
// Room for more fds than expected so that extras are seen (and closed), not truncated.
const FD_SLOTS: usize = 8;

/// An fd received over a socket, with the message bytes sent along with it.
#[derive(Debug)]
pub struct ReceivedFd {
    pub fd: OwnedFd,
    pub name: String,
}

fn socket_addr(path: &Path) -> Result<SocketAddrUnix> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(StateError::InvalidArgument {
            what: format!("socket path {}", path.display()),
            reason: format!("is {len} bytes, longer than the {MAX_SOCKET_PATH}-byte limit of a unix socket address"),
        });
    }
    SocketAddrUnix::new(path).map_err(StateError::io("socket address", path))
}

/// Creates a listening SOCK_STREAM unix socket at `path` (which must not
/// exist: nothing is unlinked on the caller's behalf). The fd is CLOEXEC.
pub fn listen_unix(path: &Path) -> Result<OwnedFd> {
    let addr = socket_addr(path)?;
    let fd = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)
        .map_err(StateError::sys("socket(AF_UNIX)"))?;
    rustix::net::bind(&fd, &addr).map_err(StateError::io("bind", path))?;
    rustix::net::listen(&fd, 16).map_err(StateError::io("listen", path))?;
    Ok(fd)
}

/// Waits for `fd` to become readable until `deadline`.
fn wait_readable(fd: BorrowedFd<'_>, deadline: Option<Instant>, what: &str, timeout: Option<Duration>) -> Result<()> {
    loop {
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let ts = remaining.map(|r| Timespec {
            tv_sec: i64::try_from(r.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(r.subsec_nanos()),
        });
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(0) if remaining.is_some() => {
                return Err(StateError::Timeout { what: what.to_owned(), ms: timeout.map_or(0, millis) })
            }
            Ok(0) | Err(Errno::INTR) => continue,
            Ok(_) => return Ok(()),
            Err(e) => return Err(StateError::sys("poll")(e)),
        }
    }
}

/// Accepts one connection on `listener` and receives exactly one fd from it
/// (with the bytes sent alongside as its name), then closes the connection.
/// `timeout` bounds the whole exchange; `None` waits forever.
pub fn accept_recv_fd(listener: BorrowedFd<'_>, timeout: Option<Duration>) -> Result<ReceivedFd> {
    let deadline = timeout.map(|t| Instant::now() + t);
    wait_readable(listener, deadline, "waiting for a connection on the console socket", timeout)?;
    let conn = loop {
        match rustix::net::accept_with(listener, SocketFlags::CLOEXEC) {
            Ok(c) => break c,
            Err(Errno::INTR) => continue,
            // Another acceptor took it (or the listener is non-blocking): wait again.
            Err(Errno::AGAIN) => {
                wait_readable(listener, deadline, "waiting for a connection on the console socket", timeout)?
            }
            Err(e) => return Err(StateError::sys("accept")(e)),
        }
    };
    wait_readable(conn.as_fd(), deadline, "waiting for a file descriptor on the console socket", timeout)?;
    recv_one_fd(conn.as_fd())
}

fn recv_one_fd(conn: BorrowedFd<'_>) -> Result<ReceivedFd> {
    let mut name = vec![0u8; MAX_NAME];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(FD_SLOTS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = loop {
        let mut iov = [IoSliceMut::new(&mut name)];
        match rustix::net::recvmsg(conn, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(m) => break m,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(StateError::sys("recvmsg")(e)),
        }
    };
    let mut fds: Vec<OwnedFd> = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = m {
            fds.extend(received);
        }
    }
    if msg.flags.contains(ReturnFlags::CTRUNC) {
        return Err(StateError::Protocol {
            what: format!("the peer sent more than {FD_SLOTS} file descriptors; expected exactly one"),
        });
    }
    let count = fds.len();
    let Some(fd) = fds.pop() else {
        return Err(StateError::Protocol {
            what: if msg.bytes == 0 {
                "the peer closed the connection without sending a file descriptor".to_owned()
            } else {
                "the peer sent a message without a file descriptor".to_owned()
            },
        });
    };
    if count != 1 {
        // Dropping `fds` and `fd` closes every received descriptor.
        return Err(StateError::Protocol {
            what: format!("the peer sent {count} file descriptors; expected exactly one"),
        });
    }
    name.truncate(msg.bytes.min(MAX_NAME));
    while name.last() == Some(&0) {
        name.pop();
    }
    Ok(ReceivedFd { fd, name: String::from_utf8_lossy(&name).into_owned() })
}

/// Connects to the unix socket at `path` and sends `fd` with `name` as the
/// message bytes (the client side of the console socket protocol).
pub fn send_fd(path: &Path, fd: BorrowedFd<'_>, name: &str) -> Result<()> {
    let addr = socket_addr(path)?;
    let sock = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)
        .map_err(StateError::sys("socket(AF_UNIX)"))?;
    rustix::net::connect(&sock, &addr).map_err(StateError::io("connect", path))?;
    let fds = [fd];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(StateError::Protocol { what: "no room for SCM_RIGHTS in the control buffer".to_owned() });
    }
    // A zero-byte message would not carry the fd on a stream socket; the
    // receiver strips trailing NULs.
    let payload = if name.is_empty() { "\0" } else { name };
    let iov = [IoSlice::new(payload.as_bytes())];
    loop {
        match rustix::net::sendmsg(&sock, &iov, &mut control, SendFlags::NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(StateError::io("sendmsg", path)(e)),
        }
    }
}
