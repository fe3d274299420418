#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_against_peer.sh P9X_CONFORM PEER DIALECT EXPECTED_LIST [REPORT_DIR]
#
# CTest driver (label peers): runs the whole p9x-conform catalogue against a real third-party
# 9P2000.L server over the multi-filesystem fixture, judged by that server's checked-in
# expected-failure list (conformance/expected/PEER.txt).
#
#   PEER     diod                 diod 1.0.24 on 127.0.0.1 (tests/peers/diod.sh)
#            ganesha              nfs-ganesha 4.3, FSAL VFS, 9P only, default config, in a private
#                                 network namespace with only lo (tests/peers/ganesha.sh); the
#                                 runner runs inside that namespace too
#            ganesha-fsid-device  the same with fsid_device = true (GANESHA_FSID_DEVICE=1): ganesha
#                                 then crosses both cloned filesystems and their qids collide
#   DIALECT  auto (offer 9P2000.L.xqid, fall back: both servers decline it) or legacy
#
# Steps: build the fixture (tests/fixture/make-fixture.sh, without big/) in a fresh temporary
# directory, start the server on it, run p9x-conform with --local-root (ground truth), --aname
# (both servers take the export path) and --restart-cmd (both servers crash on some cases; the
# run restarts them and goes on, so every case reports what the server itself does), then stop
# the server and tear the fixture down whatever happens (trap).
# The per-reply timeout is 2 s (p9x-conform's default is 5 s): ganesha answers many malformed
# frames with nothing, and each of those cases waits the whole timeout; every real reply from
# either server comes within milliseconds.
# Exit 77 (CTest: skipped) when not root or when the server or the fixture tools are missing.
# REPORT_DIR (optional): keep the JSON, JUnit and HTML reports there (PEER-DIALECT.{json,xml,html}).
# P9X_CONFORM_FIX=1 rewrites EXPECTED_LIST from the run (p9x-conform --fix); review the diff before
# committing it. P9X_CONFORM_NO_RESTART=1 leaves out --restart-cmd: after the server's first crash
# every later case is reported "not run" and the run fails.
#
# Internal: run_against_peer.sh _restart PEER WORKDIR EXPORT PORT [NETNS] is the --restart-cmd.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
peers=$root/tests/peers
fixture=$root/tests/fixture

# Waits (up to 15 s, then SIGKILL) until the process in PIDFILE is gone: a crashed server may
# still be exiting (or dumping core) when the runner notices that it stopped answering.
wait_gone() {
  local pidfile=$1 pid
  [[ -f "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || return 0
    # A zombie (dead, not yet reaped by init) no longer holds the port; drop its pid file, or the
    # peer script (kill -0) would take it for a running server.
    if [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]]; then rm -f "$pidfile"; return 0; fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  sleep 0.2
}

start_server() {  # PEER WORKDIR EXPORT PORT NETNS
  local peer=$1 workdir=$2 export_dir=$3 port=$4 netns=$5
  case "$peer" in
    diod) "$peers/diod.sh" start --export "$export_dir" --port "$port" --workdir "$workdir/diod" ;;
    ganesha | ganesha-fsid-device)
      "$peers/ganesha.sh" start --export "$export_dir" --port "$port" --workdir "$workdir/ganesha" --netns "$netns" ;;
  esac
}

if [[ "${1:-}" == _restart ]]; then
  peer=$2 workdir=$3 export_dir=$4 port=$5 netns=${6:-}
  case "$peer" in
    diod) wait_gone "$workdir/diod/diod.pid" ;;
    *) wait_gone "$workdir/ganesha/ganesha.pid" ;;
  esac
  start_server "$peer" "$workdir" "$export_dir" "$port" "$netns" >>"$workdir/restarts.log" 2>&1
  exit $?
fi

if [[ $# -lt 4 ]]; then
  sed -n '2,25p' "$0" >&2
  exit 64
fi
conform=$(realpath -m "$1") peer=$2 dialect=$3 expected=$(realpath -m "$4") report_dir=${5:+$(realpath -m "$5")}

skip() { echo "SKIPPED: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (loop-mounted fixture; ganesha needs a network namespace)"
case "$peer" in
  diod) server_bin=diod ;;
  ganesha | ganesha-fsid-device) server_bin=ganesha.nfsd ;;
  *) echo "run_against_peer.sh: unknown peer $peer (diod, ganesha, ganesha-fsid-device)" >&2; exit 64 ;;
esac
command -v "$server_bin" >/dev/null || skip "$server_bin is not installed (scripts/setup.sh installs it)"
for tool in mkfs.ext4 debugfs losetup mount python3; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh installs it)"
done
if [[ $peer == ganesha* ]]; then
  command -v ip >/dev/null && command -v nsenter >/dev/null || skip "ip or nsenter is not installed"
fi
[[ -x "$conform" ]] || { echo "run_against_peer.sh: $conform does not exist (build first)" >&2; exit 1; }

work=$(mktemp -d "/tmp/p9x-peer-$peer.XXXXXX")
export_dir=$work/export
netns=""
runner=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$runner" ]] && kill -0 "$runner" 2>/dev/null; then
    kill -TERM "$runner" 2>/dev/null
    wait "$runner" 2>/dev/null
  fi
  case "$peer" in
    diod) "$peers/diod.sh" stop --workdir "$work/diod" >/dev/null 2>&1 ;;
    *) [[ -d "$work/ganesha" ]] && "$peers/ganesha.sh" stop --workdir "$work/ganesha" >/dev/null 2>&1 ;;
  esac
  if ! "$fixture/teardown-fixture.sh" "$export_dir" >"$work/teardown.log" 2>&1; then
    echo "run_against_peer.sh: fixture teardown failed:"; cat "$work/teardown.log"
    status=1
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
# The runner runs in the background and is waited for, so that a signal (CTest's timeout, ^C)
# is handled at once: the EXIT trap stops the runner and the server and tears the fixture down.
trap 'exit 130' INT
trap 'exit 143' TERM

# Both servers crash on some cases (that is what the lists record), and diod raises its own core
# limit (it refuses to start when the hard limit is 0), so their core files must not land in the
# caller's directory: the servers run in the temporary directory (the runner and --restart-cmd
# start them from here), which the cleanup removes. With core_pattern "core" (Debian's default)
# a directory of that name makes the kernel skip the dump: diod writes hundreds of MB per crash.
cd "$work" || exit 1
mkdir -p "$work/core"

if ! P9X_FIXTURE_BIG=0 "$fixture/make-fixture.sh" "$export_dir" >"$work/fixture.log" 2>&1; then
  echo "run_against_peer.sh: the fixture could not be built:"; cat "$work/fixture.log"
  exit 1
fi

case "$peer" in
  diod)
    # A free port on 127.0.0.1 (CTest runs the peer tests one at a time: RESOURCE_LOCK).
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    ;;
  ganesha | ganesha-fsid-device)
    port=564  # inside a private network namespace: nothing else listens there
    netns=p9x-conform-$$
    unset GANESHA_FSID_DEVICE
    [[ $peer == ganesha-fsid-device ]] && export GANESHA_FSID_DEVICE=1
    ;;
esac

if ! start_server "$peer" "$work" "$export_dir" "$port" "$netns" >"$work/start.log" 2>&1; then
  echo "run_against_peer.sh: $peer did not start:"; cat "$work/start.log"
  exit 1
fi

args=(--target "tcp:127.0.0.1:$port" --aname "$export_dir" --local-root "$export_dir" --dialect "$dialect"
      --expected "$expected" --timeout 2000)
if [[ "${P9X_CONFORM_NO_RESTART:-0}" != 1 ]]; then
  args+=(--restart-cmd "$here/run_against_peer.sh _restart $peer $work $export_dir $port $netns")
fi
# P9X_CONFORM_FIX=1: rewrite the expected-failure list from this run (then review the diff).
[[ "${P9X_CONFORM_FIX:-0}" == 1 ]] && args+=(--fix)
if [[ -n "$report_dir" ]]; then
  mkdir -p "$report_dir"
  args+=(--json "$report_dir/$peer-$dialect.json" --junit "$report_dir/$peer-$dialect.xml"
         --html "$report_dir/$peer-$dialect.html")
fi
echo "run_against_peer.sh: $peer ($(dpkg-query -W -f='${Package} ${Version}' "$( [[ $peer == diod ]] && echo diod || echo nfs-ganesha)" 2>/dev/null)), dialect $dialect, fixture $export_dir, port $port${netns:+, netns $netns}"
if [[ $peer == diod ]]; then
  "$conform" "${args[@]}" &
else
  "$peers/ganesha.sh" exec --workdir "$work/ganesha" -- "$conform" "${args[@]}" &
fi
runner=$!
wait "$runner"
status=$?
runner=""
if [[ -s "$work/restarts.log" ]]; then
  echo "--- server restarts ---"; cat "$work/restarts.log"
fi
if [[ $status -ne 0 ]]; then
  log=$work/diod/diod.log
  [[ $peer == diod ]] || log=$work/ganesha/ganesha.log
  echo "--- $peer log (last 30 lines) ---"; tail -n 30 "$log" 2>/dev/null
fi
exit $status
