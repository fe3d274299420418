#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds a libFuzzer target with clang (libFuzzer, ASan, UBSan) in its own build directory and
# runs it for a bounded time, seeded from its kept corpus (and, for the codec, the golden vectors).
#
#   codec/fuzz/run_fuzz.sh [--target T] [SECONDS]   fuzz for SECONDS (default 60); exit 1 on any finding
#   codec/fuzz/run_fuzz.sh [--target T] --merge     fold what the last runs found into T's corpus
#                                                   (libFuzzer -merge=1 keeps only inputs adding coverage)
#
# Targets: codec (default): fuzz_decode_frame, the frame decoder, corpus codec/fuzz/corpus;
#          server: fuzz_server, p9xd's protocol engine driven by operation sequences
#          (server/fuzz/fuzz_server.cc), corpus server/fuzz/corpus;
#          client: fuzz_client_replies, the client library fed arbitrary server bytes
#          (client/fuzz/fuzz_client_replies.cc), corpus client/fuzz/corpus.
# The build directory is build-fuzz/ (or $P9X_FUZZ_BUILD_DIR). New inputs go to
# build-fuzz/fuzz-work/corpus (server: build-fuzz/fuzz-work-server/corpus), never into the source
# tree unless --merge is asked for. A crash leaves its input as fuzz-work*/crash-* and prints what
# was violated (the codec: the hex of the offending frame; the server: the recent exchange).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${P9X_FUZZ_BUILD_DIR:-$root/build-fuzz}
target=codec
if [[ "${1:-}" == "--target" ]]; then
  target=${2:-}
  shift 2 || { echo "run_fuzz: --target needs codec, server or client" >&2; exit 2; }
fi
case $target in
  codec) name=fuzz_decode_frame; work=$build/fuzz-work; kept=$root/codec/fuzz/corpus
         fuzzer=$build/codec/fuzz/fuzz_decode_frame; max_len=4096 ;;
  server) name=fuzz_server; work=$build/fuzz-work-server; kept=$root/server/fuzz/corpus
          fuzzer=$build/server/fuzz/fuzz_server; max_len=4096 ;;
  client) name=fuzz_client_replies; work=$build/fuzz-work-client; kept=$root/client/fuzz/corpus
          fuzzer=$build/client/fuzz/fuzz_client_replies; max_len=4096 ;;
  *) echo "run_fuzz: unknown target '$target' (codec, server or client)" >&2; exit 2 ;;
esac
mode=run
seconds=60
if [[ "${1:-}" == "--merge" ]]; then mode=merge; elif [[ -n "${1:-}" ]]; then seconds=$1; fi

for tool in clang clang++ python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "run_fuzz: $tool is missing (scripts/setup.sh installs clang, libclang-rt-14-dev, python3)" >&2
    exit 1
  fi
done

# The same build directory as the ASan+UBSan test tier, configured in one place: every target
# gets ASan+UBSan and coverage instrumentation (fuzzer-no-link), so libFuzzer sees the codec's
# and the server's branches, not only the target's.
P9X_ASAN_BUILD_DIR=$build "$root/scripts/sanitize.sh" configure asan
cmake --build "$build" --target "$name" -j "$(nproc)"

# Seeds: the codec's are the bytes of every golden vector (valid and invalid) as one file each;
# the server's are its kept corpus (hand-written sessions and what earlier runs merged).
mkdir -p "$work/seeds" "$work/corpus"
[[ $target == codec ]] && python3 - "$root/spec/vectors" "$work/seeds" <<'EOF'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
for sub in ("valid", "invalid"):
    for name in sorted(os.listdir(os.path.join(src, sub))):
        for line in open(os.path.join(src, sub, name)):
            if line.startswith("hex: "):
                with open(os.path.join(dst, sub + "-" + name[:-4]), "wb") as f:
                    f.write(bytes.fromhex(line[5:].replace(" ", "").strip()))
EOF

# The server target runs whole sessions (threads, sockets): a generous per-input timeout.
timeout=10
[[ $target == server ]] && timeout=30
flags=(-max_len=$max_len -timeout=$timeout -rss_limit_mb=2048 -print_final_stats=1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [[ $mode == merge ]]; then
  # The server's inputs are whole sessions whose hit counts vary with thread timing: its merge
  # keeps inputs that add edges only (-use_counters=0), so that the kept corpus stays small.
  merge_flags=()
  [[ $target == server ]] && merge_flags=(-use_counters=0)
  "$fuzzer" -merge=1 "${flags[@]}" "${merge_flags[@]}" "$kept" "$work/corpus" "$work/seeds"
  echo "run_fuzz: ${kept#$root/} now holds $(ls "$kept" | wc -l) inputs"
  exit 0
fi
if [[ $target == codec ]]; then
  echo "run_fuzz: fuzzing DecodeFrame (both dialects) for ${seconds}s"
elif [[ $target == client ]]; then
  echo "run_fuzz: fuzzing the client's handling of server bytes for ${seconds}s"
else
  echo "run_fuzz: fuzzing p9xd (operation sequences over a MemFs) for ${seconds}s"
fi
"$fuzzer" "${flags[@]}" -max_total_time="$seconds" -artifact_prefix="$work/" \
  "$work/corpus" "$kept" "$work/seeds"
