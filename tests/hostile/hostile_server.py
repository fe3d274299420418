#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A 9P2000.L server that misbehaves in one chosen way, for testing clients against it.

    hostile_server.py MODE SOCKET_PATH

Listens on the unix socket SOCKET_PATH and serves every connection (one thread each) until
killed. Outside its misbehaviour it answers a minimal session well enough for a client to get
to the request it misbehaves on: Tversion (always "9P2000.L"), Tattach, Twalk (every name is a
file, or a directory when it is "dir"), Tlopen (iounit 4096), Tgetattr, Tread, Treaddir, Tclunk;
anything else gets Rlerror EOPNOTSUPP.

MODE:
  garbage        answers the first request with text that is not 9P (its size field is "GARB")
  huge-size      answers Tversion with a frame whose size field is 4 GiB - 1, then stalls
  size-below-header  answers Tversion with a frame whose size field is 3
  unknown-tag    answers every request after Tversion with a tag nobody used (tag + 1000)
  wrong-type     answers every request after Tversion with an Rclunk (an empty reply of the wrong type)
  long-read      answers Tread with 1000 bytes more than the count asked (the count field says so)
  lying-read     answers Tread with a count field larger than the data that follows
  dirent-overrun answers Treaddir with an entry whose name runs past the end of the data
  silent         reads every request and never answers
  close-mid-frame  answers Tversion with half a frame, then closes the connection
  flood          after Rversion, sends unsolicited replies (unused tags) as fast as it can, and
                 answers nothing else
"""
import os
import socket
import struct
import sys
import threading

TVERSION, RVERSION = 100, 101
TATTACH, RATTACH = 104, 105
TWALK, RWALK = 110, 111
TLOPEN, RLOPEN = 12, 13
TGETATTR, RGETATTR = 24, 25
TREAD, RREAD = 116, 117
TREADDIR, RREADDIR = 40, 41
TCLUNK, RCLUNK = 120, 121
RLERROR = 7
NOTAG = 0xFFFF
EOPNOTSUPP = 95
FILE_SIZE = 10000


def frame(msg_type, tag, body=b""):
    return struct.pack("<IBH", 7 + len(body), msg_type, tag) + body


def qid(is_dir, path):
    return struct.pack("<BIQ", 0x80 if is_dir else 0, 0, path)


def string(s):
    b = s.encode()
    return struct.pack("<H", len(b)) + b


def getattr_body(is_dir):
    mode = (0o040755 if is_dir else 0o100644)
    return (struct.pack("<Q", 0x7FF) + qid(is_dir, 2 if is_dir else 3) +
            struct.pack("<III", mode, 0, 0) + struct.pack("<QQQQQ", 1, 0, 0 if is_dir else FILE_SIZE, 4096, 8) +
            struct.pack("<" + "Q" * 10, *([0] * 10)))


class Session:
    def __init__(self, mode, conn):
        self.mode, self.conn = mode, conn
        self.fids = {}  # fid -> is_dir
        self.versioned = False

    def send(self, data):
        self.conn.sendall(data)

    def answer(self, msg_type, tag, body):
        """The honest answer to one request (msg_type, tag, body after the header)."""
        if msg_type == TVERSION:
            msize = struct.unpack_from("<I", body)[0]
            return frame(RVERSION, tag, struct.pack("<I", min(msize, 65536)) + string("9P2000.L"))
        if msg_type == TATTACH:
            fid = struct.unpack_from("<I", body)[0]
            self.fids[fid] = True
            return frame(RATTACH, tag, qid(True, 1))
        if msg_type == TWALK:
            fid, newfid, nwname = struct.unpack_from("<IIH", body)
            offset, qids, is_dir = 10, b"", self.fids.get(fid, True)
            for i in range(nwname):
                n = struct.unpack_from("<H", body, offset)[0]
                name = body[offset + 2:offset + 2 + n]
                offset += 2 + n
                is_dir = name == b"dir"
                qids += qid(is_dir, 10 + i)
            self.fids[newfid] = is_dir
            return frame(RWALK, tag, struct.pack("<H", nwname) + qids)
        if msg_type == TLOPEN:
            fid = struct.unpack_from("<I", body)[0]
            return frame(RLOPEN, tag, qid(self.fids.get(fid, False), 3) + struct.pack("<I", 4096))
        if msg_type == TGETATTR:
            fid = struct.unpack_from("<I", body)[0]
            return frame(RGETATTR, tag, getattr_body(self.fids.get(fid, False)))
        if msg_type == TREAD:
            _, offset, count = struct.unpack_from("<IQI", body)
            if self.mode == "long-read":
                count += 1000
                return frame(RREAD, tag, struct.pack("<I", count) + b"x" * count)
            if self.mode == "lying-read":
                return frame(RREAD, tag, struct.pack("<I", count + 5000) + b"x" * min(count, 10))
            n = max(0, min(count, FILE_SIZE - offset))
            return frame(RREAD, tag, struct.pack("<I", n) + b"x" * n)
        if msg_type == TREADDIR:
            _, offset, count = struct.unpack_from("<IQI", body)
            if offset > 0:
                return frame(RREADDIR, tag, struct.pack("<I", 0))
            entry = qid(False, 20) + struct.pack("<QB", 1, 8) + string("file")
            if self.mode == "dirent-overrun":
                # The name's length says 200 bytes; 4 follow, and the data ends there.
                entry = qid(False, 20) + struct.pack("<QBH", 1, 8, 200) + b"file"
            return frame(RREADDIR, tag, struct.pack("<I", len(entry)) + entry)
        if msg_type == TCLUNK:
            return frame(RCLUNK, tag)
        return frame(RLERROR, tag, struct.pack("<I", EOPNOTSUPP))

    def misbehave(self, msg_type, tag, body):
        """What this mode sends instead of the honest answer (None: the honest answer)."""
        mode = self.mode
        if mode == "garbage":
            return b"GARBAGE: this is not a 9P message at all\r\n" * 8
        if mode == "silent":
            return b""
        if msg_type == TVERSION:
            if mode == "huge-size":
                return struct.pack("<IBH", 0xFFFFFFFF, RVERSION, tag) + b"\0" * 64
            if mode == "size-below-header":
                return struct.pack("<IBH", 3, RVERSION, tag)
            if mode == "close-mid-frame":
                whole = self.answer(msg_type, tag, body)
                self.send(whole[:len(whole) // 2])
                raise ConnectionAbortedError
            if mode == "flood":
                self.send(self.answer(msg_type, tag, body))
                threading.Thread(target=self.flood, daemon=True).start()
                return b""
            return None
        if mode == "unknown-tag":
            reply = bytearray(self.answer(msg_type, tag, body))
            struct.pack_into("<H", reply, 5, (tag + 1000) % NOTAG)
            return bytes(reply)
        if mode == "wrong-type":
            return frame(RCLUNK, tag)
        if mode == "flood":
            return b""
        return None

    def flood(self):
        batch = b"".join(frame(RLERROR, 40000 + i, struct.pack("<I", 5)) for i in range(1000))
        try:
            while True:
                self.send(batch)
        except OSError:
            pass

    def serve(self):
        buf = b""
        try:
            while True:
                data = self.conn.recv(1 << 16)
                if not data:
                    return
                buf += data
                while len(buf) >= 7:
                    size, msg_type, tag = struct.unpack_from("<IBH", buf)
                    if size < 7 or size > (1 << 20):
                        return  # not a frame this server can follow
                    if len(buf) < size:
                        break
                    body, buf = buf[7:size], buf[size:]
                    reply = self.misbehave(msg_type, tag, body)
                    if reply is None:
                        reply = self.answer(msg_type, tag, body)
                    if reply:
                        self.send(reply)
        except (ConnectionAbortedError, OSError, struct.error):
            pass
        finally:
            self.conn.close()


def main():
    mode, path = sys.argv[1], sys.argv[2]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=Session(mode, conn).serve, daemon=True).start()


if __name__ == "__main__":
    main()
