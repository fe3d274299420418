#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_peer_test.sh — every p9x command against a real server, checked against the export on disk.
#
#   cli_peer_test.sh P9X SERVER [P9XD [REMOTE_TEST]]
#     P9X          the p9x binary
#     SERVER       diod | ganesha | p9xd-xqid | p9xd-legacy
#     P9XD         the p9xd binary (p9xd-* only); missing -> exit 77 (CTest: skipped)
#     REMOTE_TEST  client_remote_test: the library's file work (tests/client/file_work.h) run
#                  against the same server first (for ganesha this is the only way to run it
#                  inside the namespace)
#
# diod and nfs-ganesha are started with tests/peers/{diod,ganesha}.sh; ganesha runs in a private
# network namespace (its 9P listener binds every address), so p9x runs inside it too. Each server
# must reach the expected dialect through the ladder: diod and ganesha decline 9P2000.L.xqid
# (Rlerror EIO; type-107 ENOENT) and end in 9P2000.L; p9xd agrees on xqid when offered.
set -euo pipefail

p9x=$(realpath "$1")
server=$2
p9xd=${3:-}
remote_test=${4:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
peers=$root/tests/peers

work=$(mktemp -d /tmp/p9x-cli-XXXXXX)
export_dir=$work/export
mkdir -p "$export_dir"
server_pid=""
cleanup() {
  set +e
  case "$server" in
    diod) "$peers/diod.sh" stop --workdir "$work/diod" >/dev/null 2>&1 ;;
    ganesha) "$peers/ganesha.sh" stop --workdir "$work/ganesha" >/dev/null 2>&1 ;;
    p9xd-*) [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null ;;
  esac
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

wrap=()
aname=$export_dir
case "$server" in
  diod)
    port=$(free_port)
    "$peers/diod.sh" start --export "$export_dir" --port "$port" --workdir "$work/diod" >/dev/null
    target=tcp:127.0.0.1:$port
    want_dialect=legacy
    want_refusal=EIO
    ;;
  ganesha)
    [[ $(id -u) -eq 0 ]] || { echo "SKIP: ganesha needs root (network namespace)"; exit 77; }
    port=5640  # inside a private netns: nothing else there
    "$peers/ganesha.sh" start --export "$export_dir" --port "$port" --workdir "$work/ganesha" \
      --netns "p9x-cli-$$" >/dev/null
    wrap=("$peers/ganesha.sh" exec --workdir "$work/ganesha" --)
    target=tcp:127.0.0.1:$port
    want_dialect=legacy
    want_refusal=ENOENT  # type 107 with a 4-byte errno body
    ;;
  p9xd-xqid | p9xd-legacy)
    if [[ -z "$p9xd" || ! -x "$p9xd" ]]; then
      echo "SKIP: p9xd is not built yet (${p9xd:-no path given}); this test runs once server/ builds it"
      exit 77
    fi
    sock=$work/p9xd.sock
    "$p9xd" --listen "unix:$sock" --export "$export_dir" >"$work/p9xd.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do [[ -S "$sock" ]] && break; sleep 0.05; done
    [[ -S "$sock" ]] || { cat "$work/p9xd.log" >&2; fail "p9xd did not listen on $sock"; }
    target=unix:$sock
    aname=""
    if [[ $server == p9xd-xqid ]]; then want_dialect=xqid; else want_dialect=legacy; fi
    want_refusal=""
    ;;
  *) echo "usage: $0 P9X diod|ganesha|p9xd-xqid|p9xd-legacy [P9XD]" >&2; exit 64 ;;
esac

dialect_flag=auto
[[ $server == p9xd-legacy ]] && dialect_flag=legacy
run() { "${wrap[@]}" "$p9x" --target "$target" --aname "$aname" --dialect "$dialect_flag" --timeout 10 "$@"; }

echo "== $server at $target"

if [[ -n "$remote_test" ]]; then
  "${wrap[@]}" env P9X_REMOTE_TARGET="$target" P9X_REMOTE_ANAME="$aname" P9X_REMOTE_EXPORT="$export_dir" \
    P9X_REMOTE_DIALECT="$([[ $server == p9xd-xqid ]] && echo xqid || echo legacy)" \
    P9X_REMOTE_REFUSAL="$want_refusal" "$remote_test" --gtest_brief=1 \
    $([[ $server == p9xd-legacy ]] && echo --gtest_filter=-*ExpectedDialect*) || fail "library file work"
  [[ -z "$(ls -A "$export_dir")" ]] || fail "library test left files: $(ls -A "$export_dir")"
fi

# version: the dialect reached, and how.
run version
v=$(run --json version)
[[ $(json_get '["dialect"]' <<<"$v") == "$want_dialect" ]] || fail "dialect: $v"
if [[ -n "$want_refusal" ]]; then
  grep -q "9P2000.L.xqid.*$want_refusal" <<<"$(json_get '["ladder"][0]' <<<"$v")" || fail "ladder: $v"
fi

# put / get / cat: bytes survive both ways and land on disk.
head -c 300001 /dev/urandom >"$work/big"
run put "$work/big" big.bin
cmp "$work/big" "$export_dir/big.bin" || fail "put: bytes on disk differ"
run get big.bin "$work/big.back"
cmp "$work/big" "$work/big.back" || fail "get: bytes differ"
printf 'hello, 9p\n' >"$export_dir/hello.txt"
[[ $(run cat hello.txt) == "hello, 9p" ]] || fail "cat"
printf 'from stdin' | run put - stdin.txt
[[ $(cat "$export_dir/stdin.txt") == "from stdin" ]] || fail "put -"

# mkdir, ls, ls -l, stat (with qids).
run mkdir -p a/b/c
[[ -d "$export_dir/a/b/c" ]] || fail "mkdir -p"
# (Output is captured before grep -q: with pipefail, grep quitting early would SIGPIPE p9x.)
out=$(run ls)
grep -qx "a/" <<<"$out" || fail "ls: a/ missing in: $out"
out=$(run ls -l)
grep -E '^-rw' <<<"$out" | grep -q ' 10 .* hello.txt$' || fail "ls -l size of hello.txt: $out"
[[ $(run --json ls | json_get '["entries"][0]["name"]') == "a" ]] || fail "ls --json"
s=$(run --json stat hello.txt)
[[ $(json_get '["size"]' <<<"$s") == 10 ]] || fail "stat size: $s"
[[ $(json_get '["qid"]["path"]' <<<"$s") -gt 0 ]] || fail "stat qid: $s"
out=$(run stat hello.txt)
grep -q '^qid: *{type=0x0 ' <<<"$out" || fail "stat qid line: $out"

# ln -s, ln, mv, tree.
run ln -s hello.txt sym
[[ $(readlink "$export_dir/sym") == hello.txt ]] || fail "ln -s"
run ln hello.txt a/hard
[[ $(stat -c %i "$export_dir/hello.txt") == $(stat -c %i "$export_dir/a/hard") ]] || fail "ln: not a hard link"
run mv stdin.txt a/b
[[ -f "$export_dir/a/b/stdin.txt" && ! -e "$export_dir/stdin.txt" ]] || fail "mv into a directory"
run mv a/b/stdin.txt a/renamed.txt
[[ -f "$export_dir/a/renamed.txt" ]] || fail "mv rename"
t=$(run tree)
for p in a/ a/b/ a/b/c/ a/hard a/renamed.txt big.bin hello.txt sym; do
  grep -q "}  $p\$" <<<"$t" || fail "tree: $p missing in:
$t"
done
# A hard link has one identity: both names show the same qid.
q1=$(grep '}  hello.txt$' <<<"$t" | sed 's/}.*/}/')
q2=$(grep '}  a/hard$' <<<"$t" | sed 's/}.*/}/')
[[ "$q1" == "$q2" ]] || fail "tree: hard link qids differ: $q1 vs $q2"
[[ $(run --json tree | json_get '[0]["path"]') == "." ]] || fail "tree --json"

# Errors a person can act on: the errno name and the path, exit status 1.
set +e
msg=$(run stat nope 2>&1 >/dev/null); rc=$?
set -e
[[ $rc -eq 1 ]] || fail "stat nope: exit $rc"
[[ "$msg" == "p9x: stat nope: ENOENT (No such file or directory)" ]] || fail "stat nope message: $msg"
set +e
msg=$(run rm a 2>&1); rc=$?
set -e
[[ $rc -eq 1 && "$msg" == *"rm a: EISDIR"* ]] || fail "rm dir without -r: $rc $msg"

# rm, rm -r.
run rm sym big.bin
[[ ! -e "$export_dir/sym" && ! -e "$export_dir/big.bin" ]] || fail "rm"
run rm -r a
[[ ! -e "$export_dir/a" ]] || fail "rm -r"
run rm hello.txt
[[ -z "$(ls -A "$export_dir")" ]] || fail "export not empty: $(ls -A "$export_dir")"

echo "PASS: $server ($want_dialect)"
