#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""9p-probe: is a real 9P2000.L server listening here?

Sends Tversion(tag NOTAG, msize 65536, "9P2000.L") and requires Rversion (type 101).
Prints one line: "9p-probe: ADDR Rversion msize=N version=S" and exits 0, or explains and exits 1.

usage: 9p-probe.py [--wait SECONDS] tcp:HOST:PORT | unix:PATH | HOST:PORT
  --wait S   keep retrying (connection refused, no reply) for up to S seconds (default 0)
"""
import socket
import struct
import sys
import time

TVERSION, RVERSION, RERROR, RLERROR = 100, 101, 107, 7
NOTAG = 0xFFFF


def parse_addr(a):
    if a.startswith("unix:"):
        return socket.AF_UNIX, a[5:]
    if a.startswith("tcp:"):
        a = a[4:]
    host, _, port = a.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return fam, (host, int(port))


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def probe(addr, msize=65536, version=b"9P2000.L"):
    fam, sa = parse_addr(addr)
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect(sa)
        if fam != socket.AF_UNIX:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = struct.pack("<IH", msize, len(version)) + version
        s.sendall(struct.pack("<IBH", 7 + len(body), TVERSION, NOTAG) + body)
        size, mtype, tag = struct.unpack("<IBH", recv_exact(s, 7))
        if size < 7 or size > 1 << 20:
            raise ValueError("bad reply size %d" % size)
        rest = recv_exact(s, size - 7)
        if mtype == RVERSION:
            rmsize, slen = struct.unpack("<IH", rest[:6])
            return "Rversion msize=%d version=%s tag=0x%04x" % (rmsize, rest[6:6 + slen].decode(errors="replace"), tag)
        if mtype in (RERROR, RLERROR) and len(rest) >= 4:
            raise ValueError("got type %d (error) errno %d instead of Rversion" % (mtype, struct.unpack("<I", rest[:4])[0]))
        raise ValueError("got message type %d instead of Rversion (101)" % mtype)


def main(argv):
    wait = 0.0
    args = argv[1:]
    if args[:1] == ["--wait"]:
        wait = float(args[1])
        args = args[2:]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 64
    deadline = time.monotonic() + wait
    while True:
        try:
            print("9p-probe: %s %s" % (args[0], probe(args[0])))
            return 0
        except (OSError, ConnectionError) as e:
            if time.monotonic() >= deadline:
                print("9p-probe: %s: no 9P server: %s" % (args[0], e), file=sys.stderr)
                return 1
            time.sleep(0.1)
        except ValueError as e:
            print("9p-probe: %s: not a 9P2000.L server: %s" % (args[0], e), file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
