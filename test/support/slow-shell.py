#!/usr/bin/env python3
"""A shell behind a slow link, for the predictive echo tests: bash in a PTY of
its own, its output (the echo of each key included) forwarded to ours
SLOW_SHELL_DELAY_MS later (default 150), input forwarded at once. Set as the
host's SHELL in a test, it puts a real delay on the real path between a key
and its echo, without touching the host or the transport. A test tool only:
the host never runs it by itself."""
import fcntl
import os
import pty
import select
import signal
import termios
import time
import tty

DELAY = float(os.environ.get("SLOW_SHELL_DELAY_MS", "150")) / 1000

pid, fd = pty.fork()
if pid == 0:
    os.environ["PS1"] = "ps1> "
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])


def copy_size(*_):
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        pass


copy_size()
signal.signal(signal.SIGWINCH, copy_size)
tty.setraw(0)
queue = []  # (due, bytes), oldest first
child_done = False
while True:
    timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
    if child_done and not queue:
        break
    try:
        ready, _, _ = select.select([] if child_done else [0, fd], [], [], timeout)
    except InterruptedError:
        continue
    if 0 in ready:
        data = os.read(0, 4096)
        if not data:
            break
        os.write(fd, data)
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if data:
            queue.append((time.monotonic() + DELAY, data))
        else:
            child_done = True
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        os.write(1, queue.pop(0)[1])
_, status = os.waitpid(pid, 0)
os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
