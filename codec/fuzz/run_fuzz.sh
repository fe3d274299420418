#!/usr/bin/env bash
# Builds fuzz_decode_frame with clang (libFuzzer, ASan, UBSan) in its own build directory and runs
# it for a bounded time, seeded from the golden vectors and the kept corpus.
#
#   codec/fuzz/run_fuzz.sh [SECONDS]     fuzz for SECONDS (default 60); exit 1 on any finding
#   codec/fuzz/run_fuzz.sh --merge       fold what the last runs found into codec/fuzz/corpus
#                                        (libFuzzer -merge=1 keeps only inputs adding coverage)
#
# The build directory is build-fuzz/ (or $P9X_FUZZ_BUILD_DIR). New inputs go to
# build-fuzz/fuzz-work/corpus, never into the source tree unless --merge is asked for. A crash
# leaves its input as build-fuzz/fuzz-work/crash-* and prints the hex of the offending frame.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${P9X_FUZZ_BUILD_DIR:-$root/build-fuzz}
work=$build/fuzz-work
mode=run
seconds=60
if [[ "${1:-}" == "--merge" ]]; then mode=merge; elif [[ -n "${1:-}" ]]; then seconds=$1; fi

for tool in clang clang++ python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "run_fuzz: $tool is missing (scripts/setup.sh installs clang, libclang-rt-14-dev, python3)" >&2
    exit 1
  fi
done

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  gen=()
  command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
  launcher=()
  command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Every target gets ASan+UBSan (P9X_SANITIZE) and coverage instrumentation (fuzzer-no-link),
  # so libFuzzer sees the codec's branches, not only the target's.
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" "${gen[@]}" "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP9X_FUZZ=ON -DP9X_BENCH=OFF \
    -DP9X_SANITIZE=address,undefined -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
fi
cmake --build "$build" --target fuzz_decode_frame -j "$(nproc)"

# Seeds: the bytes of every golden vector (valid and invalid) as one file each.
mkdir -p "$work/seeds" "$work/corpus"
python3 - "$root/spec/vectors" "$work/seeds" <<'EOF'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
for sub in ("valid", "invalid"):
    for name in sorted(os.listdir(os.path.join(src, sub))):
        for line in open(os.path.join(src, sub, name)):
            if line.startswith("hex: "):
                with open(os.path.join(dst, sub + "-" + name[:-4]), "wb") as f:
                    f.write(bytes.fromhex(line[5:].replace(" ", "").strip()))
EOF

fuzzer=$build/codec/fuzz/fuzz_decode_frame
flags=(-max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [[ $mode == merge ]]; then
  "$fuzzer" -merge=1 "${flags[@]}" "$root/codec/fuzz/corpus" "$work/corpus" "$work/seeds"
  echo "run_fuzz: codec/fuzz/corpus now holds $(ls "$root/codec/fuzz/corpus" | wc -l) inputs"
  exit 0
fi
echo "run_fuzz: fuzzing DecodeFrame (both dialects) for ${seconds}s"
"$fuzzer" "${flags[@]}" -max_total_time="$seconds" -artifact_prefix="$work/" \
  "$work/corpus" "$root/codec/fuzz/corpus" "$work/seeds"
