# SPDX-License-Identifier: MIT
# process.sh — sourced by the peer scripts: is the server in a pid file alive, and stopping it.
# A pid that kill -0 accepts is not necessarily a server: a zombie (dead, not yet reaped by its
# parent; common when PID 1 of a container does not reap) passes kill -0 and holds nothing.

# pid_running PIDFILE: the process exists and is not a zombie.
pid_running() {
  local pidfile=$1 pid state
  [[ -f "$pidfile" ]] || return 1
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
  [[ -n "$state" && "$state" != Z ]]
}

# stop_pid PIDFILE GRACE_TENTHS: SIGTERM, then SIGKILL after GRACE_TENTHS tenths of a second;
# returns once the process is gone or a zombie. Removes PIDFILE.
stop_pid() {
  local pidfile=$1 grace=$2 pid
  if pid_running "$pidfile"; then
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq "$grace"); do pid_running "$pidfile" || break; sleep 0.1; done
    if pid_running "$pidfile"; then
      echo "$(basename "$0"): pid $pid still alive after SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 50); do pid_running "$pidfile" || break; sleep 0.1; done
    fi
  fi
  rm -f "$pidfile"
}
