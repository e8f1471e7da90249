#!/usr/bin/env python3
"""Terminal helpers for the e2e tests.

Mode 1 (default) is the receiving end of runc's --console-socket protocol.

Listens on a unix socket, accepts one connection, takes the pty master that
the runtime sends with SCM_RIGHTS, then either writes the --send text to it or
relays our stdin to it, and copies everything the container prints to our
stdout until the pty's slave side is closed (the container exited).

stderr carries one JSON line per event so the test can follow along:
  {"event": "listening"}
  {"event": "received", "nfds": 1, "isatty": true, "pts": 3, "msg": "..."}
  {"event": "eof"} or {"event": "timeout"}
Exit status: 0 after eof, 2 when no fd arrived, 3 on timeout.

Mode 2, `--spawn -- CMD...`, runs CMD (the runtime) with a new pty as its
controlling terminal and stdio, as a user's shell would, writes --send to it
and copies the output to our stdout; stderr then gets
  {"event": "exit", "code": N}   (128+signal when CMD was killed)
"""

import argparse
import array
import fcntl
import json
import os
import pty
import select
import socket
import struct
import sys
import time

TIOCGPTN = 0x80045430


def event(**kw):
    sys.stderr.write(json.dumps(kw) + "\n")
    sys.stderr.flush()


def pts_number(fd):
    try:
        buf = fcntl.ioctl(fd, TIOCGPTN, struct.pack("I", 0))
        return struct.unpack("I", buf)[0]
    except OSError:
        return None


def relay(master, send, timeout, stdin_open):
    """Copies master to stdout until EIO, feeding it `send` and/or our stdin."""
    pending = send
    deadline = time.monotonic() + timeout
    out = sys.stdout.buffer
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            event(event="timeout", where="relay")
            return False
        rlist = [master] + ([0] if stdin_open else [])
        wlist = [master] if pending else []
        r, w, _ = select.select(rlist, wlist, [], left)
        if master in w and pending:
            n = os.write(master, pending)
            pending = pending[n:]
        if 0 in r:
            data = os.read(0, 4096)
            if data:
                pending = (pending or b"") + data
            else:
                stdin_open = False
        if master in r:
            try:
                data = os.read(master, 4096)
            except OSError:
                # EIO: every holder of the slave side is gone.
                data = b""
            if not data:
                out.flush()
                event(event="eof")
                return True
            out.write(data)
            out.flush()


def spawn(cmd, send, send_delay, timeout):
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    if send_delay:
        time.sleep(send_delay)
    done = relay(master, send.encode() if send is not None else None, timeout, send is None)
    if not done:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    event(event="exit", code=code if code >= 0 else 128 - code)
    return 0 if done else 3


def main():
    argv = sys.argv[1:]
    cmd = None
    if "--" in argv:
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1 :]
    ap = argparse.ArgumentParser()
    ap.add_argument("socket", nargs="?")
    ap.add_argument("--spawn", action="store_true", help="run the command after -- on a new pty")
    ap.add_argument("--send", help="text to write to the pty, instead of relaying stdin")
    ap.add_argument("--send-delay", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args(argv)
    if args.spawn:
        return spawn(cmd, args.send, args.send_delay, args.timeout)

    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.socket)
    srv.listen(1)
    event(event="listening")
    srv.settimeout(args.timeout)
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        event(event="timeout", where="accept")
        return 3
    msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 4)
    conn.close()
    srv.close()
    if not fds:
        event(event="received", nfds=0, msg=msg.decode(errors="replace"))
        return 2
    master = fds[0]
    for extra in fds[1:]:
        os.close(extra)
    event(
        event="received",
        nfds=len(fds),
        isatty=os.isatty(master),
        pts=pts_number(master),
        msg=msg.decode(errors="replace"),
    )

    if args.send is not None and args.send_delay:
        time.sleep(args.send_delay)
    send = args.send.encode() if args.send is not None else None
    return 0 if relay(master, send, args.timeout, args.send is None) else 3


if __name__ == "__main__":
    sys.exit(main())
