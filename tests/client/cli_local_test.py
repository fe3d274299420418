#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The p9x commands whose behaviour depends on the local side, against a real p9xd:

  - xattr list|get|set|remove on real files (user.* attributes of the export's filesystem),
    checked against what the host file then carries;
  - get and put show progress on a terminal (a pty) and stay quiet on a pipe or with --json;
  - decode refuses an argument that is neither hex nor a file, with a message and exit 2.

usage: cli_local_test.py P9X P9XD   (exit 77 = skipped: p9xd not built, or no user xattrs here)
"""

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

P9X, P9XD = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def run(args, stdin=None):
    """p9x with pipes: (exit status, stdout bytes, stderr text)."""
    p = subprocess.run([P9X] + args, input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def run_on_pty(args):
    """p9x with standard error (and output) on a pseudo-terminal: (exit status, terminal bytes)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(P9X, [P9X] + args)
    out = b""
    deadline = time.time() + 60
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out


def main():
    if not os.access(P9XD, os.X_OK):
        print("SKIP: p9xd is not built (%s)" % P9XD)
        return 77
    work = tempfile.mkdtemp(prefix="p9x-cli-local-")
    export = os.path.join(work, "export")
    os.mkdir(export)
    probe = os.path.join(export, "probe")
    open(probe, "w").close()
    try:
        os.setxattr(probe, "user.p9x-probe", b"1")
        has_xattrs = True
    except OSError:
        has_xattrs = False
    os.unlink(probe)
    sock = os.path.join(work, "p9xd.sock")
    log = open(os.path.join(work, "p9xd.log"), "w")
    server = subprocess.Popen([P9XD, "--listen", "unix:" + sock, "--export", export], stdout=log, stderr=log)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        target = ["--target", "unix:" + sock]

        # ---- xattr ----
        if has_xattrs:
            path = os.path.join(export, "tagged")
            with open(path, "w") as f:
                f.write("x")
            rc, out, err = run(target + ["xattr", "set", "tagged", "user.colour", "blue"])
            check(rc == 0, "xattr set exits 0 (%s)" % err.strip())
            check(os.getxattr(path, "user.colour") == b"blue", "xattr set: the host file carries user.colour=blue")
            os.setxattr(path, "user.shape", b"round\0with a NUL")
            rc, out, err = run(target + ["xattr", "list", "tagged"])
            names = out.decode().split()
            check(rc == 0 and "user.colour" in names and "user.shape" in names,
                  "xattr list names both attributes: %r" % names)
            rc, out, err = run(target + ["xattr", "get", "tagged", "user.shape"])
            check(rc == 0 and out == b"round\0with a NUL", "xattr get prints the value byte for byte: %r" % out)
            rc, out, err = run(target + ["xattr", "set", "--create", "tagged", "user.colour", "red"])
            check(rc == 1 and "EEXIST" in err, "xattr set --create of an existing name fails with EEXIST (%s)" % err.strip())
            check(os.getxattr(path, "user.colour") == b"blue", "a refused --create leaves the value as it was")
            rc, out, err = run(target + ["xattr", "set", "tagged", "user.note", "-"], stdin=b"from stdin")
            check(rc == 0 and os.getxattr(path, "user.note") == b"from stdin", "xattr set VALUE '-' reads stdin")
            rc, out, err = run(target + ["xattr", "remove", "tagged", "user.colour"])
            check(rc == 0 and "user.colour" not in os.listxattr(path), "xattr remove deletes the host attribute")
            rc, out, err = run(target + ["xattr", "get", "tagged", "user.colour"])
            check(rc == 1 and "ENODATA" in err, "xattr get of a removed name fails with ENODATA (%s)" % err.strip())
            rc, out, err = run(target + ["--json", "xattr", "get", "tagged", "user.note"])
            check(rc == 0 and b'"text": "from stdin"' in out, "xattr get --json gives the text of a printable value")
        else:
            print("skip  xattr: the export's filesystem refuses user.* attributes")

        # ---- progress ----
        big = os.path.join(work, "big")
        with open(big, "wb") as f:
            f.write(os.urandom(12 << 20))
        rc, screen = run_on_pty(target + ["put", big, "big"])
        text = screen.decode(errors="replace")
        check(rc == 0, "put on a terminal exits 0")
        check("put big: 12.0 MiB / 12.0 MiB (100%)" in text and "/s  in " in text,
              "put on a terminal shows bytes, total, rate and time: %r" % text[-120:])
        check(open(os.path.join(export, "big"), "rb").read() == open(big, "rb").read(), "put copied every byte")
        copy = os.path.join(work, "copy")
        rc, screen = run_on_pty(target + ["get", "big", copy])
        text = screen.decode(errors="replace")
        check(rc == 0 and "get big: 12.0 MiB / 12.0 MiB (100%)" in text, "get on a terminal shows progress: %r" % text[-120:])
        check(open(copy, "rb").read() == open(big, "rb").read(), "get copied every byte")
        rc, out, err = run(target + ["get", "big", copy])
        check(rc == 0 and err == "", "get on a pipe prints nothing on stderr: %r" % err[:120])
        rc, screen = run_on_pty(target + ["--json", "get", "big", copy])
        text = screen.decode(errors="replace")
        check(rc == 0 and "MiB/s" not in text and '"bytes": 12582912' in text,
              "get --json on a terminal prints only the JSON: %r" % text[-160:])

        # ---- decode ----
        rc, out, err = run(["decode", "zz"])
        check(rc == 2 and "neither hex nor a file" in err, "decode zz: exit 2 and a reason (%d, %r)" % (rc, err.strip()))
        rc, out, err = run(["decode", "1500000064ffff0020000008003950323030302e4c"])
        check(rc == 0 and out.startswith(b"Tversion"), "decode of real hex still works: %r" % out[:60])
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
