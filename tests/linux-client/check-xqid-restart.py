#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that qemu/'s xqid path_hi survives a QEMU restart and a renumbering of the host's devices.

usage: check-xqid-restart.py BOOT_A BOOT_B HOST_A HOST_B

BOOT_A and BOOT_B are two boots of the guest (run.sh boot directories, each with QEMU's
9p-trace.log and the guest's results.txt), each with its own QEMU process, over the same export
whose two cloned ext4 images (p1, p2: same UUID, same inode numbers) were detached and attached
again in the other order between the boots, as a host reboot renumbers loop devices. The guest
met the filesystems in a different order in each boot. HOST_A and HOST_B hold the host's view
of each boot's fixture: lines "p1 ST_DEV ST_INO" for p1/file, p2/file and p3/file.

QEMU's trace names each filesystem's path_hi as first met (v9fs_xqid_filesystem, with its
identity, whose at= is the mount point relative to the export); the guest reports the st_dev
and st_ino it sees for p1/file, p2/file and p3/file (RESULT restart.pN.file PASS DEV:INO).
A file's qid is (path_hi, path) with path the host's inode number, so the qids of p1/file and
p2/file are unchanged when their path_hi and their inode numbers are. Checked:
  setup      the host's st_dev of p1 and of p2 changed between the boots, and the trace shows
             the two boots meeting p1 and p2 in different orders
  distinct   in each boot the export root, p1, p2 and p3 have four different path_hi, and the
             guest shows p1/file and p2/file on different devices
  stable     the export root, p1 and p2 have the same path_hi in both boots
  inodes     the guest's st_ino of p1/file and p2/file is the host's, in both boots
Exit 0 when all pass; one PASS/FAIL line per check.
"""
import re
import sys

EVENT = re.compile(r"v9fs_xqid_filesystem path_hi 0x([0-9a-f]+) identity (.*)$")


def read_trace(boot):
    """The filesystems in the order QEMU met them: [(place, path_hi)]; place is at= or 'unlisted'."""
    met = []
    with open(f"{boot}/9p-trace.log", encoding="utf-8", errors="replace") as f:
        for line in f:
            m = EVENT.search(line)
            if not m:
                continue
            at = re.search(r"(?:^| )at=(\S*)", m.group(2))
            met.append((at.group(1) if at else "unlisted", int(m.group(1), 16)))
    return met


def read_guest(boot):
    """{p1: (dev, ino)} from the guest's RESULT restart.pN.file lines."""
    seen = {}
    with open(f"{boot}/results.txt", encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"RESULT restart\.(p\d)\.file PASS (\d+):(\d+)", line)
            if m:
                seen[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return seen


def read_host(path):
    with open(path, encoding="utf-8") as f:
        return {w[0]: (int(w[1]), int(w[2])) for w in (line.split() for line in f) if len(w) == 3}


def main():
    boot_a, boot_b, host_a, host_b = sys.argv[1:5]
    failed = 0

    def check(name, ok, detail):
        nonlocal failed
        print(f"{'PASS' if ok else 'FAIL'} restart.{name}: {detail}")
        failed += not ok

    met = {"A": read_trace(boot_a), "B": read_trace(boot_b)}
    guest = {"A": read_guest(boot_a), "B": read_guest(boot_b)}
    host = {"A": read_host(host_a), "B": read_host(host_b)}
    path_hi = {k: dict(v) for k, v in met.items()}
    for k in "AB":
        shown = " ".join(f"{at or '(root)'}=0x{h:016x}" for at, h in met[k])
        print(f"      boot {k}: path_hi in the order met: {shown}; guest dev:ino {guest[k]}")

    renumbered = all(host["A"][p][0] != host["B"][p][0] for p in ("p1", "p2"))
    check("setup.renumbered", renumbered,
          f"host st_dev of p1, p2: {host['A']['p1'][0]}, {host['A']['p2'][0]} then "
          f"{host['B']['p1'][0]}, {host['B']['p2'][0]}")

    def order(k):
        return [at for at, _ in met[k] if at in ("p1", "p2")]
    check("setup.order", order("A") != order("B") and len(order("A")) == 2,
          f"p1 and p2 met in the order {order('A')} then {order('B')}")

    for k in "AB":
        places = ["", "p1", "p2", "p3"]
        numbers = [path_hi[k].get(p) for p in places]
        check(f"distinct.{k}", None not in numbers and len(set(numbers)) == 4,
              f"boot {k}: root, p1, p2, p3 have path_hi {numbers}")
        g = guest[k]
        check(f"distinct-guest.{k}", "p1" in g and "p2" in g and g["p1"][0] != g["p2"][0],
              f"boot {k}: guest st_dev of p1/file, p2/file: {g.get('p1')}, {g.get('p2')}")

    for p in ("", "p1", "p2"):
        a, b = path_hi["A"].get(p), path_hi["B"].get(p)
        check(f"stable.{p or 'root'}", a is not None and a == b,
              f"path_hi of {p or 'the export root'}: {a} then {b}")

    for k in "AB":
        for p in ("p1", "p2"):
            g, h = guest[k].get(p), host[k][p]
            check(f"inodes.{k}.{p}", g is not None and g[1] == h[1],
                  f"boot {k}: {p}/file st_ino in the guest {g and g[1]}, on the host {h[1]}")
    for p in ("p1", "p2"):
        a, b = guest["A"].get(p), guest["B"].get(p)
        check(f"inodes-stable.{p}", a is not None and b is not None and a[1] == b[1],
              f"{p}/file st_ino {a and a[1]} then {b and b[1]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
