#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Wireshark dissector dist/wireshark/p9x.lua decodes every field as `p9x decode --json` does.

usage: dissector_test.py --lua P9X_LUA --p9x P9X --vectors DIR [--p9xd P9XD]

Two captures, each decoded twice: by tshark with the dissector (Wireshark's own 9P dissector
disabled: it also claims port 564 and knows only 13-byte qids), and by `p9x decode --json`.
  1. The golden vectors (spec/vectors/valid): each vector in a TCP conversation of its own on
     port 564, after a Tversion/Rversion that agrees the vector's dialect (9P2000.L or
     9P2000.L.xqid), so the dissector must follow the negotiation to read 21-byte qids.
  2. A real capture (with --p9xd, as root, when dumpcap exists): p9xd on a loopback port that is
     not 564, selected with Decode As (-d tcp.port==PORT,p9x), and p9x commands in both dialects.
For every 9P message of each direction of each conversation, in order, the fields the dissector
shows (header, every message field, each qid's type/version/path and, in xqid, path_hi, each
directory entry, walk name and data) must equal those of the codec's text form that
`p9x decode --json` prints, and there must be as many messages on both sides.
Exit 0 pass, 1 fail, 77 skipped (no tshark).
"""
import argparse
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

failures = []
FIELD_TYPES = {}  # message name -> field name -> wire type (spec/messages.json)


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


# ---- The codec's text form (codec/text.cc), parsed into (name, value) pairs in wire order.

class TextParser:
    def __init__(self, text, xqid):
        self.s, self.i, self.xqid = text, 0, xqid
        self.field_types = FIELD_TYPES.get(text.split("{", 1)[0], {})

    def peek(self, t):
        return self.s.startswith(t, self.i)

    def eat(self, t):
        if not self.peek(t):
            raise ValueError("expected %r at %d in %s" % (t, self.i, self.s))
        self.i += len(t)

    def ident(self):
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(self.s, self.i)
        self.i = m.end()
        return m.group(0)

    def number(self):
        m = re.compile(r"0x[0-9a-f]+|[0-9]+").match(self.s, self.i)
        self.i = m.end()
        return int(m.group(0), 0)

    def string(self):
        self.eat('"')
        out = bytearray()
        while not self.peek('"'):
            if self.peek("\\x"):
                out.append(int(self.s[self.i + 2:self.i + 4], 16))
                self.i += 4
            elif self.peek("\\"):
                out += self.s[self.i + 1].encode()
                self.i += 2
            else:
                out += self.s[self.i].encode()
                self.i += 1
        self.eat('"')
        return out.decode("utf-8", "replace")

    def qid(self, out):
        self.eat("{type=")
        out.append(("qid.type", self.number()))
        self.eat(" version=")
        out.append(("qid.version", self.number()))
        self.eat(" path=")
        a = self.number()
        hi, lo = 0, a
        if self.peek(":"):
            self.eat(":")
            hi, lo = a, self.number()
        out.append(("qid.path", lo))
        if self.xqid:
            out.append(("qid.path_hi", hi))
        self.eat("}")

    def message(self):
        """Returns (message name, [(field, value)...])."""
        name = self.ident()
        self.eat("{")
        out = []
        while not self.peek("}"):
            self.eat(" ") if self.peek(" ") else None
            field = self.ident()
            self.eat("=")
            if self.peek('"'):
                out.append((field, self.string()))
            elif self.peek("{"):
                self.qid(out)
            elif self.peek("<"):  # data: <N bytes HEX> (hex only up to 64 bytes)
                self.eat("<")
                n = self.number()
                self.eat(" bytes")
                out.append((field + ".count", n))
                if self.peek(" "):
                    self.eat(" ")
                    m = re.compile(r"[0-9a-f]*").match(self.s, self.i)
                    self.i = m.end()
                    out.append((field, m.group(0)))
                self.eat(">")
            elif self.peek("["):
                self.eat("[")
                start, items, entry_bytes = len(out), 0, 0
                while not self.peek("]"):
                    if items:
                        self.eat(",")
                        if self.peek(" "):
                            self.eat(" ")
                    if self.peek('"'):  # a walk name
                        out.append(("wname", self.string()))
                    elif self.s.startswith("{qid=", self.i):  # a directory entry
                        self.eat("{qid=")
                        self.qid(out)
                        self.eat(" offset=")
                        out.append(("dirent.offset", self.number()))
                        self.eat(" type=")
                        out.append(("dirent.type", self.number()))
                        self.eat(" name=")
                        entry_name = self.string()
                        out.append(("dirent.name", entry_name))
                        self.eat("}")
                        entry_bytes += (21 if self.xqid else 13) + 8 + 1 + 2 + len(entry_name.encode())
                    else:  # a qid of Rwalk
                        self.qid(out)
                    items += 1
                self.eat("]")
                # The counts the text form leaves implicit, where the wire has them.
                wire_type = self.field_types[field]
                if wire_type == "wnames":
                    out.insert(start, ("nwname", items))
                elif wire_type == "wqids":
                    out.insert(start, ("nwqid", items))
                elif wire_type == "dirents":
                    out.insert(start, (field + ".count", entry_bytes))
            else:
                out.append((field, self.number()))
        self.eat("}")
        return name, out


# ---- tshark's JSON for the p9x layers, flattened into the same (name, value) pairs.

def pairs_hook(pairs):
    return pairs  # keep duplicate keys (several qids, several 9P messages in one packet) in order


def tshark_value(v):
    if isinstance(v, list):
        v = v[0]
    return v


def flatten(pairs, message, out):
    keys = {k for k, _ in pairs}
    for key, value in pairs:
        if key.endswith("_tree"):
            flatten(value, message, out)
            continue
        if key + "_tree" in keys:
            continue  # a subtree's own node (qid, entry): its children are what counts
        if key in ("p9x.dialect",):
            continue
        if key.startswith("_ws."):  # expert info (a malformed message): shown, so that it mismatches
            out.append(("expert", json.dumps(value)))
            continue
        if not isinstance(value, (str, list)) or (isinstance(value, list) and value and isinstance(value[0], tuple)):
            flatten(value, message, out)
            continue
        name = key[len("p9x."):]
        if message and name.startswith(message + "."):
            name = name[len(message) + 1:]
        value = tshark_value(value)
        if re.fullmatch(r"([0-9a-f]{2}:)*[0-9a-f]{2}", value or "") and not name.startswith(("qid", "dirent")) \
                and name not in ("tag", "size", "type") and not re.fullmatch(r"[0-9]+", value):
            out.append((name, value.replace(":", "")))
        elif re.fullmatch(r"0x[0-9a-f]+|[0-9]+", value or ""):
            out.append((name, int(value, 0)))
        else:
            out.append((name, value))


def tshark_messages(tshark, lua, capture, decode_as):
    cmd = [tshark, "-X", "lua_script:" + lua, "--disable-protocol", "9p", "-r", capture, "-T", "json",
           "-o", "tcp.desegment_tcp_streams:TRUE"]
    if decode_as:
        cmd += ["-d", decode_as]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0 or "Lua" in res.stderr and "rror" in res.stderr:
        fail("tshark failed (%d): %s" % (res.returncode, res.stderr.strip()[:2000]))
        return {}
    packets = json.loads(res.stdout, object_pairs_hook=pairs_hook)
    convs = {}
    for packet in packets:
        layers = dict(packet)["_source"]
        layers = dict(layers)["layers"]
        ip = dict(dict(layers).get("ip", []))
        tcp = dict(dict(layers).get("tcp", []))
        src = "%s:%s" % (tshark_value(ip.get("ip.src")), tshark_value(tcp.get("tcp.srcport")))
        dst = "%s:%s" % (tshark_value(ip.get("ip.dst")), tshark_value(tcp.get("tcp.dstport")))
        for key, layer in layers:
            if key != "p9x":
                continue
            fields = dict(layer)
            type_number = int(tshark_value(fields["p9x.type"]))
            seq = []
            msg = MESSAGE_NAMES.get(type_number, "").lower()
            flatten(layer, msg, seq)
            convs.setdefault((src, dst), []).append((MESSAGE_NAMES.get(type_number), seq))
    return convs


def p9x_messages(p9x, capture, port):
    cmd = [p9x, "decode", capture, "--json"] + (["--port", str(port)] if port else [])
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        fail("p9x decode failed (%d): %s" % (res.returncode, res.stderr.strip()))
        return {}
    convs = {}
    for frame in json.loads(res.stdout):
        if "error" in frame:
            fail("p9x decode: %s" % frame)
            continue
        client, server = frame["client"], frame["server"]
        src, dst = (client, server) if frame["direction"] == "client->server" else (server, client)
        name, fields = TextParser(frame["text"], frame["dialect"] == "xqid").message()
        tag = fields.pop(0)
        seq = [("size", frame["size"]), ("type", TYPE_OF[name]), tag] + fields
        convs.setdefault((src, dst), []).append((name, seq))
    return convs


def compare(label, ours, theirs):
    messages = 0
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key, []), theirs.get(key, [])
        if len(a) != len(b):
            fail("%s %s -> %s: p9x decode shows %d messages, the dissector %d: %s / %s" %
                 (label, key[0], key[1], len(a), len(b), [n for n, _ in a], [n for n, _ in b]))
        for (name_a, seq_a), (name_b, seq_b) in zip(a, b):
            messages += 1
            # The text form prints data bytes only up to 64 (codec/text.cc kMaxHexDataBytes);
            # beyond that only the count is p9x decode's to compare.
            shown = {n for n, _ in seq_a}
            seq_b = [(n, v) for n, v in seq_b if not (n + ".count" in shown and n not in shown)]
            if name_a != name_b or seq_a != seq_b:
                fail("%s %s -> %s %s:\n  p9x decode: %s\n  dissector:  %s" %
                     (label, key[0], key[1], name_a, seq_a, [(n, v) for n, v in seq_b]))
    print("%s: %d messages compared field by field in %d conversation directions" % (label, messages, len(ours)))
    return messages


# ---- Captures.

def pcap_packet(src, sport, dst, dport, seq, ack, payload, t):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x18, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    frame = b"\x00" * 6 + b"\x00" * 6 + b"\x08\x00" + ip + tcp + payload
    return struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(frame), len(frame)) + frame


def frame_bytes(type_number, tag, body):
    return struct.pack("<IBH", 7 + len(body), type_number, tag) + body


def version_exchange(version):
    body = struct.pack("<IH", 8192, len(version)) + version.encode()
    return frame_bytes(100, 0xFFFF, body), frame_bytes(101, 0xFFFF, body)


def vectors_capture(vectors_dir, path):
    """One conversation per valid vector, after the Tversion/Rversion of its dialect."""
    packets, t, n = [], 1700000000.0, 0
    for fname in sorted(os.listdir(os.path.join(vectors_dir, "valid"))):
        if not fname.endswith(".vec"):
            continue
        fields = {}
        for line in open(os.path.join(vectors_dir, "valid", fname)):
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                fields[k.strip()] = v.strip()
        frame = bytes.fromhex(fields["hex"].replace(" ", ""))
        dialects = ["legacy", "xqid"] if fields["dialect"] == "both" else [fields["dialect"]]
        for dialect in dialects:
            n += 1
            client, cport, server = "10.9.0.1", 30000 + n, "10.9.0.2"
            cseq, sseq = 1000, 5000
            tv, rv = version_exchange("9P2000.L.xqid" if dialect == "xqid" else "9P2000.L")
            from_client = frame[4] % 2 == 0
            for payload, c2s in ((tv, True), (rv, False), (frame, from_client)):
                t += 0.001
                if c2s:
                    packets.append(pcap_packet(client, cport, server, 564, cseq, sseq, payload, t))
                    cseq += len(payload)
                else:
                    packets.append(pcap_packet(server, 564, client, cport, sseq, cseq, payload, t))
                    sseq += len(payload)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # LINKTYPE_ETHERNET
        f.write(b"".join(packets))
    return n


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def live_capture(p9xd, p9x, work):
    """p9xd on a loopback port, dumpcap recording p9x commands in both dialects."""
    dumpcap = shutil.which("dumpcap")
    if os.geteuid() != 0 or not dumpcap:
        print("live capture: skipped (needs root and dumpcap)")
        return None, None
    port = free_port()
    export = os.path.join(work, "export")
    os.mkdir(export)
    server = subprocess.Popen([p9xd, "--export", export, "--listen", "tcp:127.0.0.1:%d" % port, "-q"])
    capture_path = os.path.join(work, "live.pcapng")
    log = open(os.path.join(work, "dumpcap.log"), "w+")
    cap = subprocess.Popen([dumpcap, "-q", "-i", "lo", "-f", "tcp port %d" % port, "-w", capture_path],
                           stdout=log, stderr=log)
    try:
        for _ in range(100):
            log.seek(0)
            if "Capturing on" in log.read():
                break
            time.sleep(0.05)
        target = [p9x, "--target", "tcp:127.0.0.1:%d" % port]
        big = os.urandom(200000)
        for dialect in ("xqid", "legacy"):
            d = ["--dialect", dialect]
            run = lambda *args, stdin=None: subprocess.run(target + d + list(args), input=stdin,
                                                           capture_output=True, check=True)
            run("version")
            run("mkdir", "-p", "dir-" + dialect + "/sub")
            run("put", "-", "dir-" + dialect + "/small", stdin=b"hello\n")
            run("put", "-", "dir-" + dialect + "/big", stdin=big)
            run("ln", "-s", "small", "dir-" + dialect + "/link")
            run("ls", "-l", "dir-" + dialect)
            run("stat", "dir-" + dialect + "/small")
            run("tree")
            if run("cat", "dir-" + dialect + "/big").stdout != big:
                fail("live capture: p9x cat returned other bytes than were put")
            run("mv", "dir-" + dialect + "/small", "dir-" + dialect + "/moved")
            run("rm", "dir-" + dialect + "/moved")
        time.sleep(0.3)  # let dumpcap read the last packets
    finally:
        cap.terminate()
        cap.wait()
        server.terminate()
        server.wait()
    return capture_path, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lua", required=True)
    ap.add_argument("--p9x", required=True)
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--p9xd")
    ap.add_argument("--spec", required=True, help="spec/messages.json")
    args = ap.parse_args()
    tshark = shutil.which("tshark")
    if not tshark:
        print("SKIPPED: tshark is not installed")
        return 77
    global MESSAGE_NAMES, TYPE_OF
    table = json.load(open(args.spec))["messages"]
    MESSAGE_NAMES = {m["type"]: m["name"] for m in table}
    TYPE_OF = {m["name"]: m["type"] for m in table}
    FIELD_TYPES.update({m["name"]: {f["name"]: f["type"] for f in m["fields"]} for m in table})

    work = tempfile.mkdtemp(prefix="p9x-dissector.")
    try:
        vec = os.path.join(work, "vectors.pcap")
        n = vectors_capture(args.vectors, vec)
        print("golden vectors: %d conversations" % n)
        compared = compare("golden vectors", p9x_messages(args.p9x, vec, 564),
                           tshark_messages(tshark, args.lua, vec, None))
        if compared < n:
            fail("golden vectors: only %d of %d vectors compared" % (compared, n))
        if args.p9xd:
            live, port = live_capture(args.p9xd, args.p9x, work)
            if live:
                ours = p9x_messages(args.p9x, live, port)
                xqid_sessions = sum(1 for msgs in ours.values() for name, seq in msgs if ("qid.path_hi" in dict(seq)))
                if xqid_sessions == 0:
                    fail("live capture: no message with a 21-byte qid was seen")
                compare("live capture (Decode As tcp.port==%d)" % port, ours,
                        tshark_messages(tshark, args.lua, live, "tcp.port==%d,p9x" % port))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d failures" % len(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
