#!/usr/bin/env python3
"""A stand-in for QEMU's contrib/ivshmem-server (Debian ships none), speaking the same protocol
(QEMU docs/specs/ivshmem-spec.rst): to each new client the int64 protocol version, its peer id,
-1 with the shared-memory fd; then every other peer's id once per vector with that peer's
eventfd (and the new peer to the others); last its own id once per vector with its own eventfds.
A client that sends anything or disconnects is gone: the others get its id without an fd.

Knobs for bad-input tests: --version N sends another protocol version; --silent accepts and
sends nothing; --shm PATH keeps the memory in a named file (as the real server's -M NAME does
with shm_open, i.e. /dev/shm/NAME) instead of a memfd, so a test can truncate it. Prints
"ready" once listening.
"""
import argparse
import os
import select
import socket
import struct


def send(conn, value, fd=None):
    # Like the real server, ignore a peer that is already gone; select() reports it next.
    data = struct.pack('<q', value)
    try:
        if fd is None:
            conn.sendall(data)
        else:
            socket.send_fds(conn, [data], [fd])
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--socket', required=True)
    ap.add_argument('--size', type=int, default=4 << 20)
    ap.add_argument('--vectors', type=int, default=1)
    ap.add_argument('--version', type=int, default=0)
    ap.add_argument('--silent', action='store_true')
    ap.add_argument('--shm')
    a = ap.parse_args()

    shm = os.open(a.shm, os.O_RDWR | os.O_CREAT, 0o600) if a.shm else os.memfd_create('ivshmem')
    os.ftruncate(shm, a.size)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.socket)
    srv.listen(8)
    print('ready', flush=True)

    peers = {}  # id -> (conn, [eventfd per vector])
    next_id = 0
    while True:
        readable, _, _ = select.select([srv] + [c for c, _ in peers.values()], [], [])
        for r in readable:
            if r is srv:
                conn, _ = srv.accept()
                if a.silent:
                    peers[-1 - len(peers)] = (conn, [])
                    continue
                pid = next_id
                next_id += 1
                vectors = [os.eventfd(0) for _ in range(a.vectors)]
                send(conn, a.version)
                send(conn, pid)
                send(conn, -1, shm)
                for other, (oconn, ovec) in peers.items():
                    for fd in vectors:
                        send(oconn, pid, fd)
                for other, (oconn, ovec) in peers.items():
                    for fd in ovec:
                        send(conn, other, fd)
                for fd in vectors:
                    send(conn, pid, fd)
                peers[pid] = (conn, vectors)
            else:
                gone = next(p for p, (c, _) in peers.items() if c is r)
                conn, vectors = peers.pop(gone)
                conn.close()
                for fd in vectors:
                    os.close(fd)
                for oconn, _ in peers.values():
                    send(oconn, gone)


if __name__ == '__main__':
    main()
