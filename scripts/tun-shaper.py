#!/usr/bin/env python3
"""tun-shaper: a userspace link emulator between two TUN devices.

Why Python: the kernels we bench on have no netem qdisc, so the delay and
rate limit are done in userspace between two TUN devices. Creating a TUN
device needs ioctl(TUNSETIFF) on /dev/net/tun, which Node cannot do without
a native addon; python3 (stdlib only: os, fcntl, struct, select) is on every
machine of this kind and can. The bench (test/bench/shaped-link.ts) starts
this as root, moves the two devices into two network namespaces (an open TUN
fd keeps working after its device changes namespace) and addresses them.

Model, per direction (A->B and B->A are independent):
  * a serializer at RATE bit/s: a packet starts serializing when the previous
    one finished (time = IP packet length * 8 / RATE; no L2 overhead);
  * a drop-tail queue in front of it: a packet is dropped when the bytes still
    waiting to be serialized plus its own length exceed QUEUE bytes (default
    64 KiB, about 260 ms at 2 Mbit/s: a modest real access link);
  * then a fixed DELAY of propagation (one way).
Packets are never reordered. Counters go to stderr on exit.

usage: tun-shaper.py --dev-a NAME --dev-b NAME [--delay-ms 50] [--rate-kbit 2000]
                     [--queue-bytes 65536]
Prints "ready NAME_A NAME_B" on stdout once both devices exist; runs until
SIGTERM/SIGINT or stdin closes (so it dies with the bench).
"""

import argparse
import collections
import errno
import fcntl
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class Direction:
    def __init__(self, name, out_fd, rate_bps, delay_s, queue_bytes):
        self.name = name
        self.out_fd = out_fd
        self.rate = rate_bps
        self.delay = delay_s
        self.limit = queue_bytes
        self.free_at = 0.0  # when the serializer finishes its last packet
        self.pending = collections.deque()  # (deliver_at, packet), deliver_at non-decreasing
        self.sent = self.dropped = self.bytes = self.max_backlog = 0

    def offer(self, packet, now):
        start = max(now, self.free_at)
        backlog = (start - now) * self.rate / 8  # bytes still waiting to serialize
        if backlog + len(packet) > self.limit:
            self.dropped += 1
            return
        self.max_backlog = max(self.max_backlog, int(backlog))
        self.free_at = start + len(packet) * 8 / self.rate
        self.pending.append((self.free_at + self.delay, packet))

    def flush(self, now):
        while self.pending and self.pending[0][0] <= now:
            _, packet = self.pending.popleft()
            try:
                os.write(self.out_fd, packet)
                self.sent += 1
                self.bytes += len(packet)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EIO, errno.EINVAL, errno.EBADFD):
                    raise
                self.dropped += 1  # device down or full: the link lost it

    def next_at(self):
        return self.pending[0][0] if self.pending else None

    def stats(self):
        return (
            f"{self.name}: sent {self.sent} packets / {self.bytes} bytes, dropped {self.dropped}, "
            f"max backlog {self.max_backlog} bytes"
        )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dev-a", required=True)
    p.add_argument("--dev-b", required=True)
    p.add_argument("--delay-ms", type=float, default=50.0, help="one-way propagation delay")
    p.add_argument("--rate-kbit", type=float, default=2000.0, help="rate each way, kbit/s")
    p.add_argument("--queue-bytes", type=int, default=65536, help="drop-tail queue limit each way")
    args = p.parse_args()

    fd_a = open_tun(args.dev_a)
    fd_b = open_tun(args.dev_b)
    rate = args.rate_kbit * 1000
    delay = args.delay_ms / 1000
    a_to_b = Direction("a->b", fd_b, rate, delay, args.queue_bytes)
    b_to_a = Direction("b->a", fd_a, rate, delay, args.queue_bytes)
    by_fd = {fd_a: a_to_b, fd_b: b_to_a}

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print(f"ready {args.dev_a} {args.dev_b}", flush=True)

    stdin = sys.stdin.fileno()
    watch = [fd_a, fd_b, stdin]
    try:
        while not stop:
            now = time.monotonic()
            nexts = [t for t in (a_to_b.next_at(), b_to_a.next_at()) if t is not None]
            timeout = max(0.0, min(nexts) - now) if nexts else 1.0
            try:
                readable, _, _ = select.select(watch, [], [], timeout)
            except InterruptedError:
                continue
            now = time.monotonic()
            for fd in readable:
                if fd == stdin:
                    if not os.read(stdin, 4096):
                        stop.append(1)  # the bench went away
                    continue
                d = by_fd[fd]
                while True:  # drain what is readable
                    try:
                        packet = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    except OSError as e:
                        if e.errno == errno.EIO:
                            break  # device not up yet
                        if e.errno == errno.EBADFD:
                            stop.append(1)  # device destroyed (its namespace was deleted)
                            break
                        raise
                    if not packet:
                        break
                    d.offer(packet, now)
            now = time.monotonic()
            a_to_b.flush(now)
            b_to_a.flush(now)
    finally:
        print(a_to_b.stats(), file=sys.stderr)
        print(b_to_a.stats(), file=sys.stderr)
        os.close(fd_a)
        os.close(fd_b)


if __name__ == "__main__":
    main()
