#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the golden vectors of spec/vectors/ (format: README.md in this folder).

The bytes here are built by hand from the wire layouts of 9P2000.L (diod protocol.md, Linux
include/net/9p/9p.h and net/9p/protocol.c), not by
p9x's encoder: the vectors are the codec's specification, and tests/vectors checks the codec
against them. The text form follows codec/text.h. Every layout below is written out field by
field, in wire order, independently of spec/messages.json.

  make_vectors.py           rewrite valid/ and invalid/
  make_vectors.py --check   exit 1 (and list the files) if anything on disk differs
"""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

LEGACY, XQID, BOTH = "legacy", "xqid", "both"
NOTAG = 0xFFFF
NOFID = 0xFFFFFFFF
NONUNAME = 0xFFFFFFFF

# Message type numbers (Linux enum p9_msg_t).
TYPES = {
    "Rlerror": 7, "Tstatfs": 8, "Rstatfs": 9, "Tlopen": 12, "Rlopen": 13, "Tlcreate": 14,
    "Rlcreate": 15, "Tsymlink": 16, "Rsymlink": 17, "Tmknod": 18, "Rmknod": 19, "Trename": 20,
    "Rrename": 21, "Treadlink": 22, "Rreadlink": 23, "Tgetattr": 24, "Rgetattr": 25,
    "Tsetattr": 26, "Rsetattr": 27, "Txattrwalk": 30, "Rxattrwalk": 31, "Txattrcreate": 32,
    "Rxattrcreate": 33, "Treaddir": 40, "Rreaddir": 41, "Tfsync": 50, "Rfsync": 51,
    "Tlock": 52, "Rlock": 53, "Tgetlock": 54, "Rgetlock": 55, "Tlink": 70, "Rlink": 71,
    "Tmkdir": 72, "Rmkdir": 73, "Trenameat": 74, "Rrenameat": 75, "Tunlinkat": 76,
    "Runlinkat": 77, "Tversion": 100, "Rversion": 101, "Tauth": 102, "Rauth": 103,
    "Tattach": 104, "Rattach": 105, "Tflush": 108, "Rflush": 109, "Twalk": 110, "Rwalk": 111,
    "Tread": 116, "Rread": 117, "Twrite": 118, "Rwrite": 119, "Tclunk": 120, "Rclunk": 121,
    "Tremove": 122, "Rremove": 123,
}


# ---- wire primitives: each returns (list of hex groups, text) ----

def le(fmt, v):
    return struct.pack("<" + fmt, v).hex()


def is_hex_field(name):  # codec/text.h: "*mask/valid/flags fields in hex"
    return name.endswith("mask") or name in ("valid", "flags")


def text_int(name, v):
    return "0x%x" % v if is_hex_field(name) else str(v)


def text_str(b):
    out = '"'
    for c in b:
        if c in (0x22, 0x5C):
            out += "\\" + chr(c)
        elif 0x20 <= c < 0x7F:
            out += chr(c)
        else:
            out += "\\x%02x" % c
    return out + '"'


def text_qid(q):
    qtype, version, path, hi = q
    p = ("0x%x:0x%x" % (hi, path)) if hi else ("0x%x" % path)
    return "{type=0x%x version=%d path=%s}" % (qtype, version, p)


def enc_str(b):
    return [le("H", len(b)), b.hex()] if b else [le("H", 0)]


def enc_qid(q, dialect):
    qtype, version, path, hi = q
    groups = [le("B", qtype), le("I", version), le("Q", path)]  # type[1] version[4] path[8]
    if dialect == XQID:
        groups.append(le("Q", hi))  # path_hi[8] (spec/xqid.md)
    else:
        assert hi == 0, "a legacy qid has no path_hi"
    return groups


def enc_dirent(e, dialect):  # qid offset[8] type[1] name[s]
    q, offset, dtype, name = e
    return enc_qid(q, dialect) + [le("Q", offset), le("B", dtype)] + enc_str(name)


def field(kind, name, value, dialect):
    """Wire groups and text of one field."""
    if kind in ("u8", "u16", "u32", "u64"):
        fmt = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q"}[kind]
        return [le(fmt, value)], text_int(name, value)
    if kind == "str":
        return enc_str(value), text_str(value)
    if kind == "qid":
        return enc_qid(value, dialect), text_qid(value)
    if kind == "data":  # count[4] data[count]
        assert len(value) <= 64, "longer data prints without its bytes"
        t = "<%d bytes%s>" % (len(value), (" " + value.hex()) if value else "")
        return [le("I", len(value))] + ([value.hex()] if value else []), t
    if kind == "wnames":  # nwname[2] nwname*wname[s]
        g = [le("H", len(value))]
        for n in value:
            g += enc_str(n)
        return g, "[" + ",".join(text_str(n) for n in value) + "]"
    if kind == "wqids":  # nwqid[2] nwqid*qid
        g = [le("H", len(value))]
        for q in value:
            g += enc_qid(q, dialect)
        return g, "[" + ",".join(text_qid(q) for q in value) + "]"
    if kind == "dirents":  # count[4] then whole entries
        body = []
        for e in value:
            body += enc_dirent(e, dialect)
        count = sum(len(x) for x in body) // 2
        t = "[" + ", ".join("{qid=%s offset=%d type=%d name=%s}" % (text_qid(e[0]), e[1], e[2],
                                                                     text_str(e[3]))
                            for e in value) + "]"
        return [le("I", count)] + body, t
    raise ValueError(kind)


def frame(name, tag, fields, dialect):
    """(hex with one group per primitive, text) of a whole frame."""
    groups, texts = [], []
    for kind, fname, value in fields:
        g, t = field(kind, fname, value, dialect)
        groups += g
        texts.append(" %s=%s" % (fname, t))
    size = 7 + sum(len(g) for g in groups) // 2
    hexs = " ".join([le("I", size), le("B", TYPES[name]), le("H", tag)] + groups)
    return hexs, "%s{tag=%d%s}" % (name, tag, "".join(texts))


# ---- valid vectors ----
# (file stem, message, tag, fields, note). Fields: (wire kind, man-page name, value).
# Messages with a qid get one legacy vector (path_hi must be 0) and one xqid vector, whose qids
# get path_hi from XQID_HI unless the note says otherwise.

def Q(qtype, version, path, hi=0):
    return (qtype, version, path, hi)


def with_hi(fields, hi):
    def fix(kind, value):
        if kind == "qid":
            return value[:3] + (hi if value[3] == 0 else value[3],)
        if kind == "wqids":
            return [fix("qid", q) for q in value]
        if kind == "dirents":
            return [(fix("qid", e[0]),) + e[1:] for e in value]
        return value
    return [(k, n, fix(k, v)) for k, n, v in fields]


def has_qid(fields):
    return any(k in ("qid", "wqids", "dirents") and v for k, n, v in fields)


ROOT = Q(0x80, 0, 2)
FILE = Q(0x00, 1, 17)
WALK16 = [b"d%d" % i for i in range(16)]

VALID = [
    ("Tversion", "Tversion", NOTAG, [("u32", "msize", 8192), ("str", "version", b"9P2000.L")],
     "version(5): the tag of a version message is NOTAG"),
    ("Tversion-xqid", "Tversion", NOTAG,
     [("u32", "msize", 131072), ("str", "version", b"9P2000.L.xqid")],
     "offering the extended-qid dialect; the frame itself is dialect-free"),
    ("Rversion", "Rversion", NOTAG, [("u32", "msize", 8192), ("str", "version", b"9P2000.L")], ""),
    ("Rversion-unknown", "Rversion", NOTAG,
     [("u32", "msize", 8192), ("str", "version", b"unknown")],
     "version(5): a server that does not understand the version replies 'unknown'"),
    ("Tauth", "Tauth", 1,
     [("u32", "afid", 5), ("str", "uname", b"glenda"), ("str", "aname", b"/srv"),
      ("u32", "n_uname", 1000)], ""),
    ("Rauth", "Rauth", 1, [("qid", "aqid", Q(0x08, 0, 0x1))], "aqid has type QTAUTH"),
    ("Tattach", "Tattach", 1,
     [("u32", "fid", 0), ("u32", "afid", NOFID), ("str", "uname", b"root"),
      ("str", "aname", b"/export"), ("u32", "n_uname", 0)], "afid NOFID: no authentication"),
    ("Tattach-nouname", "Tattach", 1,
     [("u32", "fid", 0), ("u32", "afid", NOFID), ("str", "uname", b"nobody"),
      ("str", "aname", b""), ("u32", "n_uname", NONUNAME)], "n_uname NONUNAME, empty aname"),
    ("Rattach", "Rattach", 1, [("qid", "qid", ROOT)], "a directory qid"),
    ("Rlerror", "Rlerror", 2, [("u32", "ecode", 2)], "ENOENT"),
    ("Tflush", "Tflush", 9, [("u16", "oldtag", 3)], ""),
    ("Rflush", "Rflush", 9, [], "an empty body"),
    ("Twalk-clone", "Twalk", 2, [("u32", "fid", 0), ("u32", "newfid", 1), ("wnames", "wnames", [])],
     "walk(5): nwname 0 clones fid"),
    ("Twalk-one-name", "Twalk", 2,
     [("u32", "fid", 0), ("u32", "newfid", 1), ("wnames", "wnames", [b"p1"])], ""),
    ("Twalk-two-names", "Twalk", 2,
     [("u32", "fid", 1), ("u32", "newfid", 1), ("wnames", "wnames", [b"a", b"bc"])],
     "newfid may equal fid"),
    ("Twalk-sixteen-names", "Twalk", 2,
     [("u32", "fid", 0), ("u32", "newfid", 7), ("wnames", "wnames", WALK16)],
     "walk(5): at most sixteen elements; sixteen is allowed"),
    ("Twalk-escaped-names", "Twalk", 2,
     [("u32", "fid", 0), ("u32", "newfid", 1),
      ("wnames", "wnames", [b'q"uote', b"back\\slash", "caf\u00e9".encode(), b"\x01"])],
     "the text form escapes quote and backslash, and prints non-ASCII bytes as \\xNN"),
    ("Rwalk-empty", "Rwalk", 2, [("wqids", "wqids", [])],
     "nwqid 0 (the reply to a clone) carries no qid, so one frame serves both dialects"),
    ("Rwalk-two-qids", "Rwalk", 2, [("wqids", "wqids", [Q(0x80, 0, 2), Q(0x00, 5, 17)])], ""),
    ("Rwalk-sixteen-qids", "Rwalk", 2,
     [("wqids", "wqids", [Q(0x80, i, 0x100 + i) for i in range(16)])], "the most walk(5) allows"),
    ("Tread", "Tread", 3,
     [("u32", "fid", 4), ("u64", "offset", 0x0102030405060708), ("u32", "count", 8168)],
     "offset bytes differ so a byte-order error shows"),
    ("Rread", "Rread", 3, [("data", "data", b"hello\n")], ""),
    ("Rread-empty", "Rread", 3, [("data", "data", b"")], "count 0: end of file"),
    ("Twrite", "Twrite", 4,
     [("u32", "fid", 4), ("u64", "offset", 4096), ("data", "data", b"\x00\xffdata")], ""),
    ("Rwrite", "Rwrite", 4, [("u32", "count", 6)], ""),
    ("Tclunk", "Tclunk", 5, [("u32", "fid", 1)], ""),
    ("Rclunk", "Rclunk", 5, [], ""),
    ("Tremove", "Tremove", 6, [("u32", "fid", 2)], ""),
    ("Rremove", "Rremove", 6, [], ""),
    ("Tstatfs", "Tstatfs", 7, [("u32", "fid", 0)], ""),
    ("Rstatfs", "Rstatfs", 7,
     [("u32", "type", 0xEF53), ("u32", "bsize", 4096), ("u64", "blocks", 262144),
      ("u64", "bfree", 200000), ("u64", "bavail", 190000), ("u64", "files", 65536),
      ("u64", "ffree", 65000), ("u64", "fsid", 0x1122334455667788), ("u32", "namelen", 255)],
     "type 0xef53 is EXT4_SUPER_MAGIC"),
    ("Tlopen", "Tlopen", 8, [("u32", "fid", 1), ("u32", "flags", 0o1002)], "O_RDWR|O_TRUNC"),
    ("Rlopen", "Rlopen", 8, [("qid", "qid", FILE), ("u32", "iounit", 8168)], ""),
    ("Tlcreate", "Tlcreate", 9,
     [("u32", "fid", 1), ("str", "name", b"new.txt"), ("u32", "flags", 0o102),
      ("u32", "mode", 0o644), ("u32", "gid", 100)], "O_RDWR|O_CREAT, mode 0644 (decimal 420)"),
    ("Rlcreate", "Rlcreate", 9, [("qid", "qid", Q(0x00, 0, 18)), ("u32", "iounit", 0)], ""),
    ("Tsymlink", "Tsymlink", 10,
     [("u32", "fid", 1), ("str", "name", b"link"), ("str", "symtgt", b"../target"),
      ("u32", "gid", 100)], ""),
    ("Rsymlink", "Rsymlink", 10, [("qid", "qid", Q(0x02, 0, 19))], "QTSYMLINK"),
    ("Tmknod", "Tmknod", 11,
     [("u32", "dfid", 1), ("str", "name", b"null"), ("u32", "mode", 0o20666),
      ("u32", "major", 1), ("u32", "minor", 3), ("u32", "gid", 0)], "a character device 1:3"),
    ("Rmknod", "Rmknod", 11, [("qid", "qid", Q(0x00, 0, 20))], ""),
    ("Trename", "Trename", 12,
     [("u32", "fid", 2), ("u32", "dfid", 1), ("str", "name", b"renamed")], ""),
    ("Rrename", "Rrename", 12, [], ""),
    ("Treadlink", "Treadlink", 13, [("u32", "fid", 3)], ""),
    ("Rreadlink", "Rreadlink", 13, [("str", "target", b"../target")], ""),
    ("Tgetattr", "Tgetattr", 14, [("u32", "fid", 1), ("u64", "request_mask", 0x3FFF)],
     "P9_GETATTR_ALL"),
    ("Rgetattr", "Rgetattr", 14,
     [("u64", "valid", 0x7FF), ("qid", "qid", Q(0x00, 3, 17)), ("u32", "mode", 0o100644),
      ("u32", "uid", 1000), ("u32", "gid", 100), ("u64", "nlink", 1), ("u64", "rdev", 0),
      ("u64", "size", 12345), ("u64", "blksize", 4096), ("u64", "blocks", 24),
      ("u64", "atime_sec", 1700000001), ("u64", "atime_nsec", 11),
      ("u64", "mtime_sec", 1700000002), ("u64", "mtime_nsec", 22),
      ("u64", "ctime_sec", 1700000003), ("u64", "ctime_nsec", 33),
      ("u64", "btime_sec", 1700000004), ("u64", "btime_nsec", 44), ("u64", "gen", 5),
      ("u64", "data_version", 6)],
     "every field distinct, so a shifted field shows; valid = P9_GETATTR_BASIC"),
    ("Tsetattr", "Tsetattr", 15,
     [("u32", "fid", 1), ("u32", "valid", 0x1B9), ("u32", "mode", 0o600), ("u32", "uid", 0),
      ("u32", "gid", 0), ("u64", "size", 4096), ("u64", "atime_sec", 1600000000),
      ("u64", "atime_nsec", 5), ("u64", "mtime_sec", 1600000001), ("u64", "mtime_nsec", 6)],
     "MODE|SIZE|ATIME|MTIME|ATIME_SET|MTIME_SET"),
    ("Rsetattr", "Rsetattr", 15, [], ""),
    ("Txattrwalk", "Txattrwalk", 16,
     [("u32", "fid", 1), ("u32", "newfid", 2), ("str", "name", b"user.comment")], ""),
    ("Txattrwalk-list", "Txattrwalk", 16,
     [("u32", "fid", 1), ("u32", "newfid", 2), ("str", "name", b"")],
     "an empty name asks for the list of names"),
    ("Rxattrwalk", "Rxattrwalk", 16, [("u64", "size", 11)], ""),
    ("Txattrcreate", "Txattrcreate", 17,
     [("u32", "fid", 2), ("str", "name", b"user.comment"), ("u64", "attr_size", 11),
      ("u32", "flags", 1)], "XATTR_CREATE"),
    ("Rxattrcreate", "Rxattrcreate", 17, [], ""),
    ("Treaddir", "Treaddir", 18,
     [("u32", "fid", 1), ("u64", "offset", 0), ("u32", "count", 8168)], ""),
    ("Rreaddir", "Rreaddir", 18,
     [("dirents", "data", [(Q(0x80, 0, 2), 1, 4, b"."), (Q(0x80, 0, 1), 2, 4, b".."),
                           (Q(0x00, 1, 17), 3, 8, b"file")])],
     "three entries: qid offset[8] type[1] name[s] each (d_type 4 = DT_DIR, 8 = DT_REG)"),
    ("Rreaddir-empty", "Rreaddir", 18, [("dirents", "data", [])],
     "count 0: the end of the directory; no entry, so one frame serves both dialects"),
    ("Tfsync", "Tfsync", 19, [("u32", "fid", 1), ("u32", "datasync", 1)], ""),
    ("Rfsync", "Rfsync", 19, [], ""),
    ("Tlock", "Tlock", 20,
     [("u32", "fid", 1), ("u8", "type", 1), ("u32", "flags", 1), ("u64", "start", 0),
      ("u64", "length", 100), ("u32", "proc_id", 4242), ("str", "client_id", b"host")],
     "WRLCK, P9_LOCK_FLAGS_BLOCK"),
    ("Rlock", "Rlock", 20, [("u8", "status", 1)], "P9_LOCK_BLOCKED"),
    ("Tgetlock", "Tgetlock", 21,
     [("u32", "fid", 1), ("u8", "type", 0), ("u64", "start", 10), ("u64", "length", 0),
      ("u32", "proc_id", 4242), ("str", "client_id", b"host")], "RDLCK to the end of file"),
    ("Rgetlock", "Rgetlock", 21,
     [("u8", "type", 2), ("u64", "start", 10), ("u64", "length", 0), ("u32", "proc_id", 0),
      ("str", "client_id", b"")], "UNLCK: no conflicting lock"),
    ("Tlink", "Tlink", 22, [("u32", "dfid", 1), ("u32", "fid", 2), ("str", "name", b"hard")], ""),
    ("Rlink", "Rlink", 22, [], ""),
    ("Tmkdir", "Tmkdir", 23,
     [("u32", "dfid", 1), ("str", "name", b"sub"), ("u32", "mode", 0o755), ("u32", "gid", 100)],
     ""),
    ("Rmkdir", "Rmkdir", 23, [("qid", "qid", Q(0x80, 0, 21))], ""),
    ("Trenameat", "Trenameat", 24,
     [("u32", "olddirfid", 1), ("str", "oldname", b"a"), ("u32", "newdirfid", 3),
      ("str", "newname", b"b")], ""),
    ("Rrenameat", "Rrenameat", 24, [], ""),
    ("Tunlinkat", "Tunlinkat", 25,
     [("u32", "dirfd", 1), ("str", "name", b"sub"), ("u32", "flags", 0x200)],
     "P9_DOTL_AT_REMOVEDIR"),
    ("Runlinkat", "Runlinkat", 25, [], ""),
]

XQID_HI = 0x3  # a server-assigned filesystem number

# Extra xqid-only vectors: path_hi values the legacy dialect cannot carry.
VALID_XQID_ONLY = [
    ("Rattach-xqid-zero-hi", "Rattach", 1, [("qid", "qid", ROOT)],
     "path_hi 0 is legal in xqid: the frame still has the 21-byte qid"),
    ("Rattach-xqid-max", "Rattach", 1,
     [("qid", "qid", Q(0xFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF))],
     "every qid bit set"),
]


def valid_files():
    out = {}
    for stem, name, tag, fields, note in VALID:
        if has_qid(fields):
            h, t = frame(name, tag, fields, LEGACY)
            out["valid/%s.legacy.vec" % stem] = (LEGACY, h, t, note, None)
            xf = with_hi(fields, XQID_HI)
            h, t = frame(name, tag, xf, XQID)
            out["valid/%s.xqid.vec" % stem] = (
                XQID, h, t, (note + "; " if note else "") + "qids carry path_hi=0x%x" % XQID_HI,
                None)
        else:
            h, t = frame(name, tag, fields, LEGACY)
            h2, t2 = frame(name, tag, fields, XQID)
            assert (h, t) == (h2, t2)
            out["valid/%s.both.vec" % stem] = (BOTH, h, t, note, None)
    for stem, name, tag, fields, note in VALID_XQID_ONLY:
        h, t = frame(name, tag, fields, XQID)
        out["valid/%s.vec" % stem] = (XQID, h, t, note, None)
    return out


# ---- invalid vectors ----
# (file stem, dialect, hex, error kind, offset, note[, msize]). Offsets are frame offsets,
# worked out by hand from the layouts: header size[4]@0 type[1]@4 tag[2]@5, body from 7.

def hx(name, tag, fields, dialect):
    return frame(name, tag, fields, dialect)[0]


def raw(size, type_, tag, body_hex=""):
    return " ".join(x for x in [le("I", size), le("B", type_), le("H", tag), body_hex] if x)


def dirent_hex(entries, dialect):
    return " ".join(g for e in entries for g in enc_dirent(e, dialect))


XQID_ROOT = Q(0x80, 0, 2, XQID_HI)
RGETATTR = VALID[[v[0] for v in VALID].index("Rgetattr")][3]
DOT = (Q(0x80, 0, 2), 1, 4, b".")

INVALID = [
    ("frame-shorter-than-header", BOTH, "05000000 64", "FrameTooShort", 0,
     "5 bytes: not even the 7-byte header size[4] type[1] tag[2]"),
    ("size-field-below-seven", BOTH, raw(6, 120, 1), "FrameTooShort", 0,
     "intro(5): size counts the whole message, so it is at least 7"),
    ("size-field-zero", BOTH, raw(0, 120, 1), "FrameTooShort", 0, ""),
    ("size-field-above-bytes", BOTH, raw(12, 120, 1, le("I", 1)), "SizeMismatch", 0,
     "a Tclunk of 11 bytes whose size says 12"),
    ("size-field-below-bytes", BOTH, raw(10, 120, 1, le("I", 1)), "SizeMismatch", 0,
     "a Tclunk of 11 bytes whose size says 10"),
    ("size-field-above-msize", BOTH, raw(8193, 120, 1), "FrameTooLarge", 0,
     "size 8193 over msize 8192 is refused from the header alone, before the rest arrives",
     8192),
    ("frame-above-msize", BOTH, hx("Tversion", NOTAG, [("u32", "msize", 8192),
                                                        ("str", "version", b"9P2000.L")], LEGACY),
     "FrameTooLarge", 0, "a whole 21-byte Tversion with msize 20", 20),
    ("unknown-type-tlerror", BOTH, raw(7, 6, 1), "UnknownType", 4,
     "Tlerror (6) is reserved: no client sends it"),
    ("unknown-type-rerror", BOTH, raw(11, 107, 1, le("I", 2)), "UnknownType", 4,
     "Rerror (107) is 9P2000's error reply; 9P2000.L answers Rlerror (nfs-ganesha sends 107 "
     "with an errno body)"),
    ("unknown-type-topen", BOTH, raw(12, 112, 1, le("I", 1) + " 00"), "UnknownType", 4,
     "Topen (112) is a 9P2000 message, replaced by Tlopen in 9P2000.L"),
    ("unknown-type-zero", BOTH, raw(7, 0, 1), "UnknownType", 4, ""),
    ("unknown-type-255", BOTH, raw(7, 255, 1), "UnknownType", 4, ""),
    ("fixed-field-past-end", BOTH, raw(10, 120, 1, "010000"), "Truncated", 7,
     "Tclunk with 3 of fid's 4 bytes"),
    ("tread-count-missing", BOTH, raw(19, 116, 1, le("I", 4) + " " + le("Q", 0)), "Truncated",
     19, "Tread without count[4]"),
    ("string-past-end", BOTH, raw(21, 100, NOTAG, le("I", 8192) + " 0900 " + b"9P2000.L".hex()),
     "Truncated", 13, "Tversion whose version length says 9 but 8 bytes follow"),
    ("string-length-past-end", BOTH, raw(12, 100, NOTAG, le("I", 8192) + " 09"), "Truncated", 11,
     "Tversion with one byte of version's length[2]"),
    ("twalk-name-past-end", BOTH,
     raw(24, 110, 2, " ".join([le("I", 0), le("I", 1), le("H", 2), "0100 61", "0500 6263"])),
     "Truncated", 22, "the second wname says 5 bytes, 2 follow"),
    ("twalk-fewer-names-than-nwname", BOTH,
     raw(20, 110, 2, " ".join([le("I", 0), le("I", 1), le("H", 2), "0100 61"])),
     "Truncated", 20, "nwname 2 but one name present"),
    ("twalk-seventeen-names", BOTH,
     raw(17 + 17 * 3, 110, 2, " ".join([le("I", 0), le("I", 1), le("H", 17)] + ["0100 61"] * 17)),
     "TooManyWalkElements", 15, "walk(5): at most sixteen names; the error points at nwname"),
    ("twalk-nwname-65535", BOTH,
     raw(17, 110, 2, " ".join([le("I", 0), le("I", 1), le("H", 0xFFFF)])),
     "TooManyWalkElements", 15, "the count is refused before any name is read"),
    ("rwalk-seventeen-qids", LEGACY,
     raw(9 + 17 * 13, 111, 2, " ".join([le("H", 17)] + [" ".join(enc_qid(FILE, LEGACY))] * 17)),
     "TooManyWalkElements", 7, "walk(5): at most sixteen qids"),
    ("rwalk-seventeen-qids-xqid", XQID,
     raw(9 + 17 * 21, 111, 2,
         " ".join([le("H", 17)] + [" ".join(enc_qid(Q(0, 1, 17, 3), XQID))] * 17)),
     "TooManyWalkElements", 7, "walk(5): at most sixteen qids"),
    ("rwalk-fewer-qids-than-nwqid", LEGACY,
     raw(22, 111, 2, " ".join([le("H", 2)] + enc_qid(ROOT, LEGACY))), "Truncated", 22,
     "nwqid 2 but one legacy qid; not a dialect mismatch, since xqid cannot decode it either"),
    ("rread-count-past-end", BOTH, raw(16, 117, 3, le("I", 10) + " " + b"hello".hex()),
     "Truncated", 11, "count 10, 5 bytes of data"),
    ("rread-count-max", BOTH, raw(11, 117, 3, le("I", 0xFFFFFFFF)), "Truncated", 11,
     "count 2^32-1 with no data: refused without reading or allocating"),
    ("twrite-count-past-end", BOTH,
     raw(25, 118, 4, " ".join([le("I", 4), le("Q", 0), le("I", 3), "6869"])), "Truncated", 23,
     "count 3, 2 bytes of data"),
    ("tclunk-trailing-byte", BOTH, raw(12, 120, 5, le("I", 1) + " 00"), "TrailingBytes", 11,
     "a frame has exactly one meaning: bytes after the last field are refused"),
    ("rclunk-with-body", BOTH, raw(8, 121, 5, "00"), "TrailingBytes", 7,
     "Rclunk has no body"),
    ("rlerror-trailing-bytes", BOTH, raw(13, 7, 5, le("I", 2) + " 0000"), "TrailingBytes", 11,
     ""),
    ("rversion-trailing-bytes", BOTH,
     raw(22, 101, NOTAG, le("I", 8192) + " 0800 " + b"9P2000.L".hex() + " 00"), "TrailingBytes",
     21, ""),
    ("rreaddir-count-past-end", BOTH, raw(11, 41, 18, le("I", 1)), "Truncated", 11,
     "count 1 and no data"),
    ("rreaddir-entry-cut-short", LEGACY,
     raw(11 + 25 + 10, 41, 18,
         le("I", 35) + " " + dirent_hex([DOT], LEGACY) + " " + "".join(enc_qid(FILE, LEGACY))[:20]),
     "BadDirent", 36,
     "one whole entry (25 bytes) then 10 bytes of the next qid; the error points at that entry"),
    ("rreaddir-entry-cut-short-xqid", XQID,
     raw(11 + 33 + 10, 41, 18,
         le("I", 43) + " " + dirent_hex([(Q(0x80, 0, 2, 3), 1, 4, b".")], XQID) + " " +
         "".join(enc_qid(Q(0, 1, 17, 3), XQID))[:20]),
     "BadDirent", 44,
     "one whole xqid entry (33 bytes) then 10 bytes of the next qid"),
    ("rreaddir-name-past-entry-data", BOTH,
     raw(11 + 5, 41, 18, le("I", 5) + " 0000000000"), "BadDirent", 11,
     "5 bytes of data cannot hold any entry (24 bytes at least in 9P2000.L, 32 in xqid)"),
    # Dialect mismatches: a frame decoded under the wrong dialect, detected through its lengths.
    ("rattach-xqid-as-legacy", LEGACY, hx("Rattach", 1, [("qid", "qid", XQID_ROOT)], XQID),
     "DialectMismatch", 20,
     "an xqid Rattach (21-byte qid) decoded as 9P2000.L leaves 8 bytes at 20; it decodes as xqid"),
    ("rattach-legacy-as-xqid", XQID, hx("Rattach", 1, [("qid", "qid", ROOT)], LEGACY),
     "DialectMismatch", 7,
     "a 9P2000.L Rattach (13-byte qid) decoded as xqid: the qid at 7 does not fit"),
    ("rlopen-xqid-as-legacy", LEGACY,
     hx("Rlopen", 8, [("qid", "qid", Q(0, 1, 17, 3)), ("u32", "iounit", 8168)], XQID),
     "DialectMismatch", 24, "17 bytes of body read as 9P2000.L, 8 left at 24"),
    ("rgetattr-xqid-as-legacy", LEGACY, hx("Rgetattr", 14, with_hi(RGETATTR, 3), XQID),
     "DialectMismatch", 160, "153 body bytes read as 9P2000.L, 8 left at 160"),
    ("rgetattr-legacy-as-xqid", XQID, hx("Rgetattr", 14, RGETATTR, LEGACY), "DialectMismatch",
     160, "read as xqid, every field after the qid moves by 8: data_version at 160 does not fit"),
    ("rwalk-xqid-as-legacy", LEGACY,
     hx("Rwalk", 2, [("wqids", "wqids", [Q(0x80, 0, 2, 3), Q(0, 5, 17, 3)])], XQID),
     "DialectMismatch", 35, "two 21-byte qids read as 13-byte ones end at 35 of 51"),
    ("rwalk-legacy-as-xqid", XQID,
     hx("Rwalk", 2, [("wqids", "wqids", [Q(0x80, 0, 2), Q(0, 5, 17)])], LEGACY),
     "DialectMismatch", 30, "the second 21-byte qid would start at 30 of a 35-byte frame"),
    ("rreaddir-xqid-as-legacy", LEGACY,
     hx("Rreaddir", 18, [("dirents", "data", [(Q(0x80, 0, 2, 3), 1, 4, b".")])], XQID),
     "DialectMismatch", 35,
     "one 33-byte xqid entry read as 9P2000.L: a 24-byte entry with an empty name (its length "
     "is bytes 1-2 of the xqid offset, 0), then 9 bytes that are no entry at data offset 24"),
    ("rreaddir-legacy-as-xqid", XQID,
     hx("Rreaddir", 18, [("dirents", "data", [DOT])], LEGACY), "DialectMismatch", 11,
     "one 25-byte 9P2000.L entry cannot hold a 32-byte xqid entry"),
]

# Text that must not encode in the given dialect.
INVALID_ENCODE = [
    ("rattach-path-hi-in-legacy", LEGACY,
     "Rattach{tag=1 qid={type=0x80 version=0 path=0x3:0x2}}", "QidNeedsXqid",
     "a 128-bit path cannot be sent in a 9P2000.L session: the encoder refuses, never truncates"),
]


def invalid_files():
    out = {}
    for row in INVALID:
        stem, dialect, h, kind, offset, note = row[:6]
        msize = row[6] if len(row) > 6 else None
        out["invalid/%s.%s.vec" % (stem, dialect)] = (dialect, h, None, note, (kind, offset, msize))
    for stem, dialect, text, kind, note in INVALID_ENCODE:
        out["invalid/%s.%s.vec" % (stem, dialect)] = (dialect, None, text, note, (kind, None, None))
    return out


def render(path, v):
    dialect, h, t, note, err = v
    lines = ["# p9x golden vector (spec/vectors/README.md); written by make_vectors.py"]
    lines.append("dialect: " + dialect)
    if err and err[2] is not None:
        lines.append("msize: %d" % err[2])
    if h is not None:
        lines.append("hex: " + h)
    if t is not None:
        lines.append("text: " + t)
    if err:
        lines.append("error: " + err[0])
        if err[1] is not None:
            lines.append("offset: %d" % err[1])
    if note:
        lines.append("note: " + note)
    return "\n".join(lines) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    files = {}
    files.update(valid_files())
    files.update(invalid_files())
    stale = []
    for sub in ("valid", "invalid"):
        d = os.path.join(HERE, sub)
        os.makedirs(d, exist_ok=True) if not check else None
        if os.path.isdir(d):
            for f in os.listdir(d):
                if f.endswith(".vec") and "%s/%s" % (sub, f) not in files:
                    stale.append("%s/%s (not generated)" % (sub, f))
                    if not check:
                        os.remove(os.path.join(d, f))
    for rel, v in sorted(files.items()):
        text = render(rel, v)
        path = os.path.join(HERE, rel)
        old = open(path).read() if os.path.exists(path) else None
        if old != text:
            stale.append(rel)
            if not check:
                with open(path, "w") as f:
                    f.write(text)
    if check:
        if stale:
            print("spec/vectors is stale; run spec/vectors/make_vectors.py:\n  " + "\n  ".join(stale))
            return 1
        print("spec/vectors: %d files up to date" % len(files))
        return 0
    print("spec/vectors: %d files, %d written or removed" % (len(files), len(stale)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
