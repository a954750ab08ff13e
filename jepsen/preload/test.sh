#!/usr/bin/env bash
# Tests for lose-unsynced.so: build, file-level crash tests, RocksDB crash test,
# overhead.  Usage: bash test.sh [WORKDIR]   (needs cc, librocksdb-dev)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
W=${1:-$(mktemp -d /tmp/lose-unsynced-test.XXXXXX)}
mkdir -p "$W"; W=$(cd "$W" && pwd)
cd "$W"
cc -shared -fPIC -O2 -Wall -o lose-unsynced.so "$HERE/lose-unsynced.c" -ldl -lpthread
cc -O2 -Wall -DLOSE_UNSYNCED_MAIN -o lose-unsynced-restore "$HERE/lose-unsynced.c"
cc -O2 -Wall -o t_file "$HERE/t_file.c" -lpthread
HAVE_ROCKSDB=0
if [ -f /usr/include/rocksdb/c.h ]; then cc -O2 -Wall -o rdb "$HERE/rdb.c" -lrocksdb && HAVE_ROCKSDB=1; fi

J=$W/journal
PRE=(env LD_PRELOAD="$W/lose-unsynced.so" LOSE_UNSYNCED_JOURNAL="$J" LOSE_UNSYNCED_ROOT="$W/data")
FAIL=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAIL=1; }

# run_kill OUT CMD...: start CMD, wait until it prints "ready" or "done", SIGKILL it.
run_kill() {
  local out=$1; shift
  "$@" >"$out" 2>"$out.err" & local pid=$!
  for _ in $(seq 1 6000); do
    if grep -qE '^(ready|done)$' "$out"; then break; fi
    if ! kill -0 $pid 2>/dev/null; then echo "process died:"; cat "$out.err"; return 1; fi
    sleep 0.01
  done
  kill -9 $pid; wait $pid 2>/dev/null || true
}
run_kill_at() { # run_kill_at SECONDS OUT CMD...: SIGKILL CMD after SECONDS
  local t=$1 out=$2; shift 2
  "$@" >"$out" 2>"$out.err" & local pid=$!
  sleep "$t"; kill -9 $pid; wait $pid 2>/dev/null || true
}
check() { # check FILE EXPECTED DESC
  local got; got=$(cat "$1")
  if [ "$got" == "$2" ]; then pass "$3"; else fail "$3: expected $(printf %q "$2") got $(printf %q "$got")"; fi
}

rm -rf "$W/data" "$J"; mkdir -p "$W/data"; D=$W/data

# 1. appends: fsync after the 2nd; restore with the tool
run_kill out1 "${PRE[@]}" ./t_file append "$D/A"
check "$D/A" $'one\ntwo\nthree' "before restore, file A holds all 3 appends (page cache)"
./lose-unsynced-restore "$J"
check "$D/A" $'one\ntwo' "append: after SIGKILL+restore A holds exactly the 2 synced appends"

# control: without the library the unsynced append survives SIGKILL
rm -f "$D/A0"; run_kill out1c ./t_file append "$D/A0"
check "$D/A0" $'one\ntwo\nthree' "control: without the preload, SIGKILL keeps all 3 appends"

# 2. overwrites of synced bytes; restore by starting the next process under the preload
"${PRE[@]}" ./t_file init "$D/B" AAAAAAAAAA
run_kill out2 "${PRE[@]}" ./t_file overwrite "$D/B"
check "$D/B" "XAZYYYYAAAtail" "overwrite: before restore B is modified"
"${PRE[@]}" /bin/true
check "$D/B" "AAAAAAAAAA" "overwrite: pwrite over synced bytes undone by the next start"

# 3. ftruncate shrink + write past the new end
run_kill out3 "${PRE[@]}" ./t_file shrink "$D/B"
"${PRE[@]}" /bin/true
check "$D/B" "AAAAAAAAAA" "shrink: ftruncate + write undone"

# 4. open(O_TRUNC)
run_kill out4 "${PRE[@]}" ./t_file otrunc "$D/B"
check "$D/B" "new" "otrunc: before restore B was truncated"
./lose-unsynced-restore "$J" >/dev/null
check "$D/B" "AAAAAAAAAA" "otrunc: O_TRUNC open + write undone"

# 5. writev at an lseek'd offset
run_kill out5 "${PRE[@]}" ./t_file writev "$D/B"
./lose-unsynced-restore "$J" >/dev/null
check "$D/B" "AAAAAAAAAA" "writev: undone"

# 6. write, fsync, write: only the last write is lost
run_kill out6 "${PRE[@]}" ./t_file syncmix "$D/B"
./lose-unsynced-restore "$J" >/dev/null
check "$D/B" "11AAAAAAAA" "syncmix: synced overwrite kept, later unsynced one undone"

# 7. a normal exit is not a crash: nothing is lost
"${PRE[@]}" ./t_file init "$D/C" hello
"${PRE[@]}" ./t_file appendexit "$D/C"
"${PRE[@]}" /bin/true
check "$D/C" "hello world" "normal exit: unsynced write kept"

# 7b. an unsynced overwrite of a file that is then renamed is undone at the new name
run_kill out7 "${PRE[@]}" ./t_file rename "$D/B"
./lose-unsynced-restore "$J" >/dev/null
check "$D/B.renamed" "11AAAAAAAA" "rename: unsynced overwrite undone at the file's new name"

# 8. files outside LOSE_UNSYNCED_ROOT are not touched
rm -f "$W/outside"; run_kill out8 "${PRE[@]}" ./t_file append "$W/outside"
./lose-unsynced-restore "$J" >/dev/null
check "$W/outside" $'one\ntwo\nthree' "outside LOSE_UNSYNCED_ROOT: not tracked"

# 9. restore refuses while the owner is alive
"${PRE[@]}" ./t_file append "$D/E" >/dev/null & P=$!
sleep 0.3
if ./lose-unsynced-restore "$J" >/dev/null 2>&1; then fail "restore ran while owner alive"; else pass "restore refuses while the journal owner is alive"; fi
kill -9 $P; wait $P 2>/dev/null || true
./lose-unsynced-restore "$J" >/dev/null

# 10. 4 threads appending (and overwriting in place) with fdatasyncs, journal compaction,
#     SIGKILL at a random time: each file ends exactly at a sync it acknowledged or later
for k in 1 2 3; do
  rm -rf "$D/th" "$J"; mkdir -p "$D/th"
  "${PRE[@]}" ./t_file threads "$D/th" > th.out & P=$!
  sleep "$((k + 1)).$((RANDOM % 9))"; kill -9 $P; wait $P 2>/dev/null || true
  ./lose-unsynced-restore "$J" >/dev/null
  if python3 "$HERE/checkthreads.py" th.out "$D/th" > th.check; then pass "threads run $k: $(tr '\n' ' ' < th.check)"; else fail "threads run $k: $(cat th.check)"; fi
done

if [ $HAVE_ROCKSDB = 1 ]; then
  N=${N:-200} M=${M:-2000}
  # control: plain SIGKILL keeps unsynced puts (page cache)
  rm -rf "$D/db0"
  run_kill rdb0.out ./rdb write "$D/db0" $N $M
  echo "control (no preload):  $(./rdb read "$D/db0" $N $M)"
  ctl=$(./rdb read "$D/db0" $N $M)
  # with the library
  rm -rf "$D/db" "$J"
  run_kill rdb1.out "${PRE[@]}" ./rdb write "$D/db" $N $M
  acked=$(grep -c '^ack ' rdb1.out)
  res=$("${PRE[@]}" LOSE_UNSYNCED_VERBOSE=1 ./rdb read "$D/db" $N $M 2>rdb2.err)
  echo "with lose-unsynced:   $res   (acked synced puts: $acked)"; cat rdb2.err
  s=$(echo "$res" | sed -E 's/^synced_present ([0-9]+).*/\1/')
  u=$(echo "$res" | sed -E 's/.* unsynced_present ([0-9]+).*/\1/')
  cu=$(echo "$ctl" | sed -E 's/.* unsynced_present ([0-9]+).*/\1/')
  [ "$s" -ge "$acked" ] && [ "$s" = "$N" ] && pass "rocksdb: all $acked acknowledged synced puts present" || fail "rocksdb: synced puts lost ($s/$acked)"
  [ "$u" -lt "$M" ] && pass "rocksdb: unsynced puts lost ($u/$M present)" || fail "rocksdb: no unsynced put lost"
  [ "$cu" = "$M" ] && pass "rocksdb control: plain SIGKILL keeps all $M unsynced puts" || echo "note: control kept $cu/$M"

  # crash loop with a 64 KiB write buffer (flushes, compactions, LOG rotation):
  # SIGKILL during the synced phase at random times; every acknowledged put survives
  rm -rf "$D/dbx" "$J"
  for k in 1 2 3 4 5; do
    RDB_WBS=65536 run_kill_at "0.$((RANDOM % 9 + 1))" rdbx.out "${PRE[@]}" ./rdb write "$D/dbx" 3000 3000
    a=$(grep -c '^ack ' rdbx.out || true)
    r=$(RDB_WBS=65536 "${PRE[@]}" ./rdb read "$D/dbx" $a 3000)
    case "$r" in "synced_present $a/$a "*) pass "rocksdb crash loop $k: $a acked, $r";; *) fail "rocksdb crash loop $k: $a acked, $r";; esac
  done

  # overhead
  B=${B:-10000}
  rm -rf "$D/bench0" "$D/bench1" "$J"
  t0=$(./rdb bench "$D/bench0" $B 1)
  t1=$("${PRE[@]}" ./rdb bench "$D/bench1" $B 1)
  echo "overhead: $B synced puts: without preload ${t0}s, with preload ${t1}s"
  rm -rf "$D/bench0" "$D/bench1"
  t0=$(./rdb bench "$D/bench0" $((B*10)) 0)
  t1=$("${PRE[@]}" ./rdb bench "$D/bench1" $((B*10)) 0)
  echo "overhead: $((B*10)) unsynced puts: without preload ${t0}s, with preload ${t1}s; journal $(stat -c %s "$J") bytes"
fi
[ $FAIL = 0 ] && echo "ALL PASSED" || { echo "SOME FAILED"; exit 1; }
