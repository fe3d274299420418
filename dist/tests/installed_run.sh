#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# installed_run.sh CMAKE BUILD_DIR SOURCE_DIR EXPECTED_LIST
#
# CTest driver (Dist.InstalledConformance): installs the build into a staging root
# (DESTDIR=STAGE cmake --install BUILD_DIR --prefix /usr), then, in a private mount namespace
# where an empty tmpfs hides both SOURCE_DIR and BUILD_DIR, runs the installed p9x-conform against
# the installed p9xd: the installed fixture script builds the multi-filesystem export
# (p9x-conform fixture), p9xd serves it on a unix socket, the whole catalogue runs in both
# dialects with p9xd's expected-failure list (empty), and the installed p9x talks to it.
# Everything must work from the installed paths alone (the vectors, the fixture scripts).
# Needs root (mount namespace, loop devices); exit 77 (skipped) otherwise.
set -euo pipefail
cmake=$1 build=$(realpath "$2") source=$(realpath "$3") expected=$4
[[ $(id -u) -eq 0 ]] || { echo "SKIPPED: needs root (private mount namespace, loop-mounted fixture)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIPPED: unshare (util-linux) not installed"; exit 77; }

work=$(mktemp -d /tmp/p9x-installed.XXXXXX)
trap 'rm -rf "$work"' EXIT
stage=$work/stage
DESTDIR=$stage "$cmake" --install "$build" --prefix /usr >"$work/install.log"
cp "$expected" "$work/expected.txt"
echo "installed into $stage: $(find "$stage" -type f | wc -l) files"

# shellcheck disable=SC2016
unshare --mount --propagation private -- bash -euo pipefail -c '
  source=$1 build=$2 stage=$3 work=$4
  mount -t tmpfs -o size=1m,mode=0555 hidden "$source"
  [[ "$build" == "$source"/* ]] || mount -t tmpfs -o size=1m,mode=0555 hidden "$build"
  if [[ -e "$source/spec/vectors" || -e "$build/server/p9xd" ]]; then echo "the trees are not hidden"; exit 1; fi
  echo "hidden: $source and $build"
  export PATH=$stage/usr/sbin:$stage/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin
  export_dir=$work/export sock=$work/p9xd.sock
  mkdir "$export_dir"
  P9X_FIXTURE_BIG=0 p9x-conform fixture "$export_dir" >"$work/fixture.log" 2>&1 ||
    { cat "$work/fixture.log"; echo "the installed fixture script failed"; exit 1; }
  p9xd --export "$export_dir" --listen "unix:$sock" >"$work/p9xd.log" 2>&1 &
  pid=$!
  trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null; $stage/usr/libexec/p9x/teardown-fixture.sh $export_dir >/dev/null 2>&1" EXIT
  for _ in $(seq 100); do [[ -S "$sock" ]] && break; sleep 0.1; done
  p9x --target "unix:$sock" version
  echo installed > "$export_dir/hello"
  [[ "$(p9x --target "unix:$sock" cat hello)" == installed ]] || { echo "p9x cat returned the wrong data"; exit 1; }
  for dialect in legacy xqid; do
    echo "=== installed p9x-conform, dialect $dialect"
    p9x-conform --target "unix:$sock" --dialect $dialect --local-root "$export_dir" \
      --expected "$work/expected.txt" --timeout 5000 | tail -n 4
  done
' hide "$source" "$build" "$stage" "$work"
