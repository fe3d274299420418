#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""p9x-conform and p9x against servers that misbehave (hostile_server.py), one mode at a time.

    run_hostile.py P9X_CONFORM P9X [MODE...]

For every mode, each program runs against the misbehaving server with a short reply timeout and
must end on its own: within its deadline (no hang), with a non-zero exit status that is not a
signal (no crash), a message on its output (a recorded failure or a clear error), and a peak
resident size under MAX_RSS_KIB (no unbounded growth). The command that meets the misbehaviour
must fail; commands that do not meet it may succeed. Exit 0 when every run passes, 1 otherwise.
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
MAX_RSS_KIB = 200 * 1024
DEADLINE_S = 45

# mode -> the p9x commands that meet the misbehaviour (all others may succeed)
MODES = {
    "garbage": None,  # None: every command meets it (the session cannot start)
    "huge-size": None,
    "size-below-header": None,
    "unknown-tag": None,
    "wrong-type": None,
    "long-read": {"cat"},
    "lying-read": {"cat"},
    "dirent-overrun": {"ls"},
    "silent": None,
    "close-mid-frame": None,
    "flood": None,
}
P9X_COMMANDS = {"cat": ["cat", "file"], "ls": ["ls", "dir"], "stat": ["stat", "file"]}


def run(argv, deadline_s):
    """(exit status or -signal, seconds, peak RSS in KiB, output) of argv, killed at the deadline."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        status, rusage = None, None
        while time.monotonic() - start < deadline_s:
            pid, wait_status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                status = os.waitstatus_to_exitcode(wait_status)
                break
            time.sleep(0.02)
        if status is None:
            proc.kill()
            _, _, rusage = os.wait4(proc.pid, 0)
            status = "hung"
        proc.returncode = 0  # reaped above
        out.seek(0)
        text = out.read().decode(errors="replace")
    return status, time.monotonic() - start, rusage.ru_maxrss, text


def check(label, argv, must_fail, problems, usage_status=None):
    status, seconds, rss, text = run(argv, DEADLINE_S)
    tail = text.strip().splitlines()[-3:] if text.strip() else []
    print(f"{label}: exit {status}, {seconds:.1f} s, peak RSS {rss // 1024} MiB: " + " | ".join(tail)[:400])
    if status == "hung":
        problems.append(f"{label}: still running after {DEADLINE_S} s (killed)")
    elif status < 0:
        problems.append(f"{label}: killed by signal {-status}\n{text[-2000:]}")
    elif must_fail and status == 0:
        problems.append(f"{label}: exit status 0 against a misbehaving server")
    elif usage_status is not None and status == usage_status:
        problems.append(f"{label}: exit status {status} (a usage error) for a server fault")
    if status != 0 and not text.strip():
        problems.append(f"{label}: failed without a message")
    if rss > MAX_RSS_KIB:
        problems.append(f"{label}: peak RSS {rss // 1024} MiB (limit {MAX_RSS_KIB // 1024} MiB)")


def main():
    conform, p9x = sys.argv[1], sys.argv[2]
    modes = sys.argv[3:] or list(MODES)
    problems = []
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="p9x-hostile.") as work:
            sock = os.path.join(work, "s")
            server = subprocess.Popen([sys.executable, str(HERE / "hostile_server.py"), mode, sock])
            try:
                for _ in range(100):
                    if os.path.exists(sock):
                        break
                    time.sleep(0.05)
                target = f"unix:{sock}"
                check(f"{mode}: p9x-conform", [conform, "--target", target, "--timeout", "1000", "--filter",
                                               "Required.Io.*,Required.Readdir.*"], True, problems)
                for name, args in P9X_COMMANDS.items():
                    meets = MODES[mode] is None or name in MODES[mode]
                    check(f"{mode}: p9x {' '.join(args)}", [p9x, "--target", target, "--timeout", "2", *args],
                          meets, problems, usage_status=2)
            finally:
                server.kill()
                server.wait()
    for p in problems:
        print("FAIL: " + p)
    print(f"{'FAIL' if problems else 'PASS'}: {len(modes)} misbehaviours, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
