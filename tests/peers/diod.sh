#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# diod.sh — run diod (a real third-party 9P2000.L server) on 127.0.0.1, no authentication.
#
#   diod.sh start --export DIR --port N [--workdir W]   background; waits until it answers Tversion;
#                                                       a diod already there that is hung (does not
#                                                       answer) or a zombie is replaced
#   diod.sh stop  [--port N | --workdir W]              SIGTERM, then SIGKILL after 5 s; idempotent
#   diod.sh status [--port N | --workdir W]
#   diod.sh run   --export DIR --port N [--workdir W]   foreground (exec), for run.sh --server-cmd
#
# The workdir (default /tmp/p9x-diod-PORT) holds diod.pid and diod.log.
# Flags: -f foreground, -n no auth, -N no user database (any uid may attach, gid = uid),
# -c /dev/null ignores the host's /etc/diod.conf. Run as root so root's attach and chown work.
# Note: diod 1.0.24 does not cross mount points inside an export (p1/, p2/ look empty).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
[[ -n "$cmd" ]] && shift
export_dir="" port="" workdir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --export) export_dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    *) echo "diod.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done
[[ -z "$workdir" && -n "$port" ]] && workdir=/tmp/p9x-diod-$port
log() { echo "diod.sh: $*"; }
need() { [[ -n "$2" ]] || { echo "diod.sh: $cmd needs $1" >&2; exit 64; }; }

diod_argv() {
  command -v diod >/dev/null || { echo "diod.sh: diod not installed (run scripts/setup.sh)" >&2; exit 2; }
  argv=(diod -f -n -N -c /dev/null -l "127.0.0.1:$port" -e "$(cd "$export_dir" && pwd)")
}

# shellcheck source=process.sh
source "$here/process.sh"
alive() { pid_running "$workdir/diod.pid"; }
# A live diod answers Tversion; one that stopped answering (hung) is not a server to keep.
answers() { python3 "$here/9p-probe.py" --wait 2 "tcp:127.0.0.1:$port" >/dev/null 2>&1; }

case "$cmd" in
  run)
    need --export "$export_dir"; need --port "$port"
    diod_argv
    mkdir -p "${workdir:-/tmp}"
    exec "${argv[@]}" -L stderr
    ;;
  start)
    need --export "$export_dir"; need --port "$port"
    mkdir -p "$workdir"
    if alive; then
      if answers; then log "already running (pid $(cat "$workdir/diod.pid"))"; exit 0; fi
      log "pid $(cat "$workdir/diod.pid") is alive but does not answer Tversion: stopping it"
      stop_pid "$workdir/diod.pid" 20
    fi
    diod_argv
    log "starting: ${argv[*]}"
    "${argv[@]}" -L "$workdir/diod.log" </dev/null >>"$workdir/diod.log" 2>&1 &
    echo $! > "$workdir/diod.pid"
    if ! python3 "$here/9p-probe.py" --wait 10 "tcp:127.0.0.1:$port"; then
      log "diod did not come up; log follows"; cat "$workdir/diod.log" >&2 || true
      "$0" stop --workdir "$workdir" || true
      exit 1
    fi
    log "running (pid $(cat "$workdir/diod.pid")), export $export_dir, log $workdir/diod.log"
    ;;
  stop)
    need "--port or --workdir" "$workdir"
    if alive; then
      pid=$(cat "$workdir/diod.pid")
      stop_pid "$workdir/diod.pid" 50
      log "stopped (pid $pid)"
    else
      log "not running"
    fi
    rm -f "$workdir/diod.pid"
    ;;
  status)
    need "--port or --workdir" "$workdir"
    if alive; then log "running (pid $(cat "$workdir/diod.pid"))"; else log "not running"; exit 1; fi
    ;;
  *)
    sed -n '2,15p' "$0" >&2; exit 64 ;;
esac
