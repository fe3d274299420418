#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bad command lines for every program: each must end with a non-zero exit and a clear message.

    bad_command_lines.py P9XD P9X P9X_CONFORM

One table row per bad command line: the program, its arguments, and words the message must
contain (case-insensitive) so that it names what is wrong. A row passes when the program exits
within 15 s, with a status that is neither 0 nor a signal, and prints a message (on stdout or
stderr) that starts with the program's name and holds those words. Exit 0 when every row passes.
"""
import os
import subprocess
import sys
import tempfile

MISSING = "/nonexistent-p9x-path/x"


def table(work):
    not_json = os.path.join(work, "not.json")
    with open(not_json, "w") as f:
        f.write("this is not json\n")
    out = os.path.join(work, "out.html")
    return [
        # p9xd
        ("p9xd", ["--no-such-option"], ["no-such-option"]),
        ("p9xd", [], ["--export"]),
        ("p9xd", ["--export"], ["--export"]),
        ("p9xd", ["--export", MISSING, "--listen", f"unix:{work}/a.sock"], [MISSING]),
        ("p9xd", ["--export", work, "--listen", "nonsense"], ["nonsense"]),
        ("p9xd", ["--export", work, "--listen", "tcp:127.0.0.1:99999"], ["99999"]),
        ("p9xd", ["--export", work, "--msize-max", "lots"], ["msize"]),
        ("p9xd", ["--export", work, "--multidevs", "sometimes"], ["multidevs"]),
        # p9x
        ("p9x", ["--no-such-option", "version"], ["no-such-option"]),
        ("p9x", ["--target", "nonsense", "version"], ["nonsense"]),
        ("p9x", ["--target", f"unix:{MISSING}", "version"], [MISSING]),
        ("p9x", ["--target", f"unix:{work}/none.sock", "--msize", "lots", "version"], ["msize"]),
        ("p9x", ["--target", f"unix:{work}/none.sock", "--dialect", "klingon", "version"], ["dialect"]),
        ("p9x", ["--target", f"unix:{work}/none.sock", "no-such-command"], ["no-such-command"]),
        ("p9x", ["decode", "zz"], ["zz"]),
        ("p9x", ["decode", MISSING + ".pcapng"], [MISSING]),
        ("p9x", ["describe", "no-such-message"], ["no-such-message"]),
        # p9x-conform
        ("p9x-conform", ["--no-such-option"], ["no-such-option"]),
        ("p9x-conform", [], ["--target"]),
        ("p9x-conform", ["--target", "nonsense"], ["nonsense"]),
        ("p9x-conform", ["--target", f"unix:{MISSING}"], [MISSING]),
        ("p9x-conform", ["--target", f"unix:{work}/none.sock", "--msize", "12"], ["msize"]),
        ("p9x-conform", ["--target", f"unix:{work}/none.sock", "--timeout", "soon"], ["timeout"]),
        ("p9x-conform", ["--target", f"unix:{work}/none.sock", "--n-uname", "root"], ["n-uname"]),
        ("p9x-conform", ["--target", f"unix:{work}/none.sock", "--dialect", "klingon"], ["dialect"]),
        ("p9x-conform", ["--target", f"unix:{work}/none.sock", "--expected", MISSING], [MISSING]),
        ("p9x-conform", ["--filter"], ["--filter"]),
        ("p9x-conform", ["compare", MISSING + ".json", "--html", out], [MISSING]),
        ("p9x-conform", ["compare", not_json, "--html", out], ["not a p9x-conform JSON report"]),
        ("p9x-conform", ["compare", not_json], ["usage"]),
        ("p9x-conform", ["render", not_json, not_json, "--html", out], ["usage"]),
        ("p9x-conform", ["fixture"], ["usage"]),
    ]


def main():
    programs = {"p9xd": sys.argv[1], "p9x": sys.argv[2], "p9x-conform": sys.argv[3]}
    problems = 0
    with tempfile.TemporaryDirectory(prefix="p9x-cli.") as work:
        rows = table(work)
        for name, args, words in rows:
            argv = [programs[name], *args]
            shown = " ".join([name, *args]).replace(work, "$TMP")
            try:
                r = subprocess.run(argv, capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL)
                status, text = r.returncode, (r.stderr + r.stdout).strip()
            except subprocess.TimeoutExpired:
                status, text = "hung", ""
            first = next((line for line in text.splitlines() if line.strip()), "")
            why = []
            if status == "hung":
                why.append("still running after 15 s")
            elif status == 0:
                why.append("exit status 0")
            elif status < 0:
                why.append(f"killed by signal {-status}")
            if status != "hung":
                if not text:
                    why.append("no message")
                elif not any(line.lower().startswith((name + ":", "usage:", name + " ")) for line in text.splitlines()):
                    why.append(f"no line starts with '{name}:' or 'usage:'")
                for w in words:
                    if w.lower() not in text.lower():
                        why.append(f"the message does not name {w!r}")
            verdict = "FAIL" if why else "ok  "
            print(f"{verdict} {shown}  -> exit {status}: {first[:160].replace(work, '$TMP')}"
                  + (f"  [{'; '.join(why)}]" if why else ""))
            problems += bool(why)
    print(f"{'FAIL' if problems else 'PASS'}: {len(rows)} bad command lines, {problems} without a clear error")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
