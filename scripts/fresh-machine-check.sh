#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the README's two commands in a clean clone on a freshly installed minimal Debian 12: the
# check to run before any change to the install steps (scripts/setup.sh, the README) is called
# done, because the developers' machines have more installed than a new user's.
#
#   scripts/fresh-machine-check.sh [--root DIR] [--reuse-root] [--skip-run] [-- TEST_ARGS...]
#
# 1. debootstrap --variant=minbase bookworm into DIR (default: a new directory under /var/tmp),
#    from the Debian mirror this machine's apt sources name (deb.debian.org when none does);
#    --reuse-root keeps an existing DIR that a previous run bootstrapped (faster; not fresh).
# 2. git clone of this repository's HEAD (committed work only) into DIR/root/p9x.
# 3. Enters DIR as root in private mount, PID, UTS and IPC namespaces: DIR is bind-mounted on
#    itself so that its / is a mount point, with proc, sys, dev (the host's devices: loop
#    devices and /dev/kvm for the root-only tiers) and a tmpfs /tmp and /run; then chroot.
#    The PID namespace keeps `pkill` in the scripts away from the host's processes.
# 4. Inside: scripts/run.sh, then scripts/test.sh TEST_ARGS (no TEST_ARGS: the whole test
#    command, about 25 minutes of 2 cores plus the package installation); --skip-run skips
#    scripts/run.sh. Output is also written to DIR/root/fresh-machine-check.log.
# Exit status: non-zero if either command failed. Needs root and network access to the mirror;
# installs debootstrap on this machine when it is missing.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root_dir="" reuse=0 skip_run=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) root_dir=$2; shift 2 ;;
    --reuse-root) reuse=1; shift ;;
    --skip-run) skip_run=1; shift ;;
    --) shift; break ;;
    *) sed -n '2,22p' "$0" >&2; exit 64 ;;
  esac
done
test_args=("$@")
log() { echo "fresh-machine-check: $*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "needs root (debootstrap, chroot, mounts)"; exit 2; }

if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap on this machine"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
fi

# The first Debian (not -security, not -updates) mirror in the machine's apt sources, in either
# the one-line or the deb822 format.
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
           2>/dev/null | grep -v '^\s*#' |
         sed -n -e 's/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*\) bookworm .*/\2/p' -e 's/^URIs: *\(http[^ ]*\)/\1/p' |
         grep -v -e security -e updates | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

[[ -n "$root_dir" ]] || root_dir=$(mktemp -d /var/tmp/p9x-fresh-root.XXXXXX)
mkdir -p "$root_dir"
root_dir=$(cd "$root_dir" && pwd)
if [[ $reuse == 1 && -f "$root_dir/etc/debian_version" ]]; then
  log "reusing the Debian root in $root_dir"
else
  [[ -z "$(ls -A "$root_dir")" ]] || { log "$root_dir is not empty (use --reuse-root to keep it)"; exit 2; }
  log "debootstrap --variant=minbase bookworm $root_dir $mirror"
  debootstrap --variant=minbase bookworm "$root_dir" "$mirror" >"$root_dir.debootstrap.log" 2>&1 ||
    { tail -20 "$root_dir.debootstrap.log" >&2; exit 1; }
fi
cp /etc/resolv.conf "$root_dir/etc/resolv.conf" 2>/dev/null || true
# setup.sh installs git among its packages, but the clone must exist before setup.sh runs.
rm -rf "$root_dir/root/p9x"
git clone -q --no-local "$repo" "$root_dir/root/p9x"
git -C "$root_dir/root/p9x" checkout -q "$(git -C "$repo" rev-parse HEAD)"
log "cloned $(git -C "$repo" rev-parse --short HEAD) into $root_dir/root/p9x"

inside=$(cat <<'EOF'
set -u
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
cd /root/p9x
rc=0
if [[ $P9X_SKIP_RUN != 1 ]]; then
  echo "=== scripts/run.sh"; scripts/run.sh || { rc=$?; echo "=== scripts/run.sh FAILED ($rc)"; }
fi
echo "=== scripts/test.sh $*"; scripts/test.sh "$@" || { rc=$?; echo "=== scripts/test.sh FAILED ($rc)"; }
exit $rc
EOF
)
# PID 1 of the namespace is the bash below: it reaps orphaned servers (a diod killed by a test).
# shellcheck disable=SC2016
P9X_SKIP_RUN=$skip_run unshare --mount --propagation private --pid --fork --uts --ipc -- bash -c '
  set -e
  r=$1; shift
  mount --bind "$r" "$r"
  mount -t proc proc "$r/proc"
  mount --rbind /sys "$r/sys"; mount --make-rslave "$r/sys"
  mount --rbind /dev "$r/dev"; mount --make-rslave "$r/dev"
  mount -t tmpfs tmpfs "$r/tmp"
  mount -t tmpfs tmpfs "$r/run"
  hostname p9x-fresh
  exec chroot "$r" /usr/bin/env -i P9X_SKIP_RUN="$P9X_SKIP_RUN" /bin/bash -c "$0" fresh-check "$@"
' "$inside" "$root_dir" "${test_args[@]}" 2>&1 | tee "$root_dir/root/fresh-machine-check.log"
