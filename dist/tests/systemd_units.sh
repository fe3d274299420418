#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# systemd_units.sh UNIT_DIR
#
# CTest driver (Dist.SystemdUnits): the units parse (systemd-analyze verify, offline; the only
# complaint allowed is that /usr/sbin/p9xd is not installed on this machine), and the service's
# sandbox scores at most 1.4 in `systemd-analyze security --offline=yes` (0 is the best, 10 the
# worst), so that loosening any option fails. Exit 77 (skipped) without systemd-analyze.
set -euo pipefail
units=$(realpath "$1")
command -v systemd-analyze >/dev/null || { echo "SKIPPED: systemd-analyze not installed (Debian package systemd)"; exit 77; }
work=$(mktemp -d /tmp/p9x-units.XXXXXX)
trap 'rm -rf "$work"' EXIT
# An instance for the export /srv/9p, as `systemctl enable p9xd@srv-9p.socket` would use.
cp "$units/p9xd@.service" "$work/p9xd@srv-9p.service"
cp "$units/p9xd@.socket" "$work/p9xd@srv-9p.socket"
cd "$work"
complaints=$(systemd-analyze verify --man=no "$work/p9xd@srv-9p.socket" "$work/p9xd@srv-9p.service" 2>&1 |
             grep -v 'Command /usr/sbin/p9xd is not executable' || true)
if [[ -n "$complaints" ]]; then
  echo "FAIL: systemd-analyze verify:"; echo "$complaints"; exit 1
fi
echo "ok: systemd-analyze verify"
systemd-analyze security --offline=yes "$work/p9xd@srv-9p.service" | tail -n 1
# --threshold is in tenths: 14 = 1.4.
systemd-analyze security --offline=yes --threshold=14 "$work/p9xd@srv-9p.service" >/dev/null ||
  { echo "FAIL: the sandbox's exposure rose above 1.4"; exit 1; }
echo "ok: exposure at most 1.4"
