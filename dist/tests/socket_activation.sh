#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# socket_activation.sh P9XD P9X
#
# CTest driver (Dist.SocketActivation): p9xd serves listening sockets it inherits by the
# LISTEN_FDS protocol (sd_listen_fds(3)), as p9xd@.socket gives them. CI has no systemd as PID 1,
# so neither `systemctl start` nor `systemd-run` can run here; a launcher of a few lines does what
# systemd does: binds the sockets, moves them to descriptors 3, 4, ..., sets LISTEN_FDS and
# LISTEN_PID (its own pid, which exec keeps) and execs p9xd. Checked:
#   1. two inherited sockets (a unix and a TCP one, port 0) are both served, with no --listen;
#   2. an inherited socket and a --listen address are both served;
#   3. LISTEN_PID naming another process: the descriptors are not taken (p9xd listens where told);
#   4. an inherited descriptor that is not a listening socket: p9xd refuses to start.
set -euo pipefail
p9xd=$(realpath "$1") p9x=$(realpath "$2")
work=$(mktemp -d /tmp/p9x-socket-activation.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
mkdir "$work/export"
echo activated > "$work/export/hello"

# launch LOG PID_MODE SOCKET... -- P9XD_ARGS...: SOCKET is unix:PATH, tcp (127.0.0.1, port 0; the
# port is written to LOG.port) or pipe (not a socket). PID_MODE is self or other.
launch() {
  local log=$1 mode=$2
  shift 2
  python3 - "$log" "$mode" "$@" <<'PY' &
import os, socket, sys
log, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
split = args.index("--")
specs, argv = args[:split], args[split + 1:]
fds = []
for spec in specs:
    if spec.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(spec[5:])
        s.listen(16)
    elif spec == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        with open(log + ".port", "w") as f:
            f.write(str(s.getsockname()[1]))
    else:  # a pipe: not a socket at all
        r, w = os.pipe()
        s = None
        fds.append(r)
        continue
    fds.append(s.detach())
# Descriptors 3, 4, ... in order (sd_listen_fds: SD_LISTEN_FDS_START is 3).
moved = [os.dup(fd) for fd in fds]
for i, fd in enumerate(moved):
    os.dup2(fd, 3 + i, inheritable=True)
env = dict(os.environ, LISTEN_FDS=str(len(fds)),
           LISTEN_PID=str(os.getpid() if mode == "self" else os.getppid()))
out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(out, 1)
os.dup2(out, 2)
os.execve(argv[0], argv, env)
PY
  pids+=($!)
}
wait_for() { for _ in $(seq 100); do [[ -e "$1" ]] && return 0; sleep 0.05; done; echo "timed out waiting for $1"; return 1; }
expect_hello() {  # TARGET
  local got
  got=$("$p9x" --timeout 5 --target "$1" cat hello) || { echo "FAIL: no answer on $1"; exit 1; }
  [[ "$got" == activated ]] || { echo "FAIL: $1 returned '$got'"; exit 1; }
  echo "ok: $1 served"
}

echo "--- 1. two inherited sockets, no --listen"
launch "$work/1.log" self "unix:$work/1.sock" tcp -- "$p9xd" --export "$work/export"
wait_for "$work/1.log.port"
sleep 0.3
expect_hello "unix:$work/1.sock"
expect_hello "tcp:127.0.0.1:$(cat "$work/1.log.port")"
grep -q "inherited fd 3, unix:$work/1.sock" "$work/1.log" || { echo "FAIL: log does not name fd 3"; cat "$work/1.log"; exit 1; }

echo "--- 2. an inherited socket and --listen"
launch "$work/2.log" self "unix:$work/2a.sock" -- "$p9xd" --export "$work/export" --listen "unix:$work/2b.sock"
wait_for "$work/2b.sock"
expect_hello "unix:$work/2a.sock"
expect_hello "unix:$work/2b.sock"

echo "--- 3. LISTEN_PID of another process: not ours"
launch "$work/3.log" other "unix:$work/3a.sock" -- "$p9xd" --export "$work/export" --listen "unix:$work/3b.sock"
wait_for "$work/3b.sock"
expect_hello "unix:$work/3b.sock"
if "$p9x" --timeout 2 --target "unix:$work/3a.sock" version >/dev/null 2>&1; then
  echo "FAIL: p9xd served a descriptor whose LISTEN_PID named another process"; exit 1
fi
echo "ok: the foreign descriptor was left alone"

echo "--- 4. an inherited descriptor that is not a listening socket"
launch "$work/4.log" self pipe -- "$p9xd" --export "$work/export"
status=0
wait "${pids[-1]}" || status=$?
grep -q "not a listening stream socket\|inherited descriptor 3" "$work/4.log" && ((status != 0)) ||
  { echo "FAIL: p9xd started on a pipe (status $status)"; cat "$work/4.log"; exit 1; }
echo "ok: refused ($(head -1 "$work/4.log"))"
