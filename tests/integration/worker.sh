#!/usr/bin/env bash
# worker.sh - the connector worker as a user runs it: a pipeline directory,
# `sluice worker`, a broker, and files written by the file sink.
#
#  1. datagen (max.records=200000, as fast as it goes) -> topic -> file sink:
#     every seq 1..200000 is in the file exactly once; a second pipeline
#     with an unknown key is reported (per field) and marked FAILED in
#     _sluice_status, and does not stop the good one; SIGTERM stops cleanly.
#  2. datagen at a high rate without a limit, kill -9 of the worker under
#     load, restart: no seq is missing, and the duplicates (records repeated
#     after the kill) are bounded by the unacknowledged window: positions are
#     stored every offset.flush.interval.ms, the sink commits after flush.
. "$(dirname "$0")/lib.sh"
test_init worker

RATE=5000
start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
P="$T/pipelines"
mkdir -p "$P"

worker_pid=""
start_worker()
{
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
        --set "listeners=http://127.0.0.1:$(free_port)" \
        --set offset.flush.interval.ms=1000 2>>"$T/worker.log" &
    worker_pid=$!
    track_pid "$worker_pid"
}
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
seqs() { grep -o '"seq":[0-9]*' "$1" | cut -d: -f2; }
have_lines() { [ "$(lines "$1")" -ge "$2" ]; }

# ---- 1. exactly once without failures; a bad pipeline beside -------------
cat >"$P/bulk.json" <<JSON
{"name": "bulk",
 "source": {"connector.class": "datagen", "topic": "bulk.public.rows",
            "max.records": 200000, "batch.size": 1000},
 "sinks": {"out": {"connector.class": "file", "topics": "bulk.public.rows",
                   "file": "$T/bulk.jsonl"}}}
JSON
cat >"$P/broken.json" <<JSON
{"name": "broken",
 "source": {"connector.class": "datagen", "topic": "broken.rows", "no.such.key": "1"}}
JSON
t0=$(date +%s.%N)
start_worker
wait_for 90 have_lines "$T/bulk.jsonl" 200000 || fail "bulk: $(lines "$T/bulk.jsonl") of 200000 lines within 90 s"
t1=$(date +%s.%N)
n=$(lines "$T/bulk.jsonl")
uniq_n=$(seqs "$T/bulk.jsonl" | sort -n -u | wc -l)
first=$(seqs "$T/bulk.jsonl" | sort -n | head -1)
last=$(seqs "$T/bulk.jsonl" | sort -n | tail -1)
log "bulk: $n lines, $uniq_n distinct seqs ($first..$last) in $(echo "$t1 - $t0" | bc) s"
[ "$n" = 200000 ] && [ "$uniq_n" = 200000 ] && [ "$first" = 1 ] && [ "$last" = 200000 ] ||
    fail "bulk: expected seqs 1..200000 exactly once"
pass "datagen -> broker -> file: 200000 records, each seq exactly once"
sleep 2
[ "$(lines "$T/bulk.jsonl")" = 200000 ] || fail "bulk: more lines appeared after the end"

grep -q 'no.such.key' "$T/worker.log" || fail "the unknown key of broken.source is not reported"
grep -q 'status-connector-broken.source: FAILED' "$T/worker.log" || fail "broken.source is not FAILED"
pass "bad pipeline reported: $(grep -o 'no.such.key[^;]*' "$T/worker.log" | head -1)"

kcat -C -b "$BOOTSTRAP" -t _sluice_status -e -q -f '%k %s\n' >"$T/status.txt" 2>/dev/null
grep -q 'status-task-bulk.out-0 {"state":"RUNNING"' "$T/status.txt" &&
    grep -q 'status-connector-broken.source {"state":"FAILED","trace":"' "$T/status.txt" ||
    { cat "$T/status.txt" >&2; fail "_sluice_status does not hold RUNNING / FAILED records"; }
pass "_sluice_status: $(wc -l <"$T/status.txt") records, bulk RUNNING, broken FAILED with trace"

kill -TERM "$worker_pid"
wait "$worker_pid"
rc=$?
[ "$rc" = 0 ] || fail "worker exited with $rc after SIGTERM"
pass "worker stopped cleanly on SIGTERM"
kcat -C -b "$BOOTSTRAP" -t _sluice_offsets -e -q -f '%k %s\n' >"$T/offsets.txt" 2>/dev/null
grep -q '\["bulk.source",{"task":0}\] {"seq": 200000}' "$T/offsets.txt" ||
    { cat "$T/offsets.txt" >&2; fail "_sluice_offsets does not end at seq 200000"; }
pass "_sluice_offsets: bulk.source stored {\"seq\": 200000}"

# ---- 2. kill -9 under load ------------------------------------------------
rm -f "$P/bulk.json" "$P/broken.json"
cat >"$P/live.json" <<JSON
{"name": "live",
 "source": {"connector.class": "datagen", "topic": "live.public.rows", "rate": $RATE},
 "sinks": {"out": {"connector.class": "file", "topics": "live.public.rows",
                   "file": "$T/live.jsonl"}}}
JSON
start_worker
wait_for 30 have_lines "$T/live.jsonl" 10000 || fail "live: no records arrive"
sleep 1.3
kill -9 "$worker_pid"
wait "$worker_pid" 2>/dev/null
before=$(lines "$T/live.jsonl")
log "kill -9 of the worker with $before lines in live.jsonl"
start_worker
stored_seq() { grep -o 'live.source/0: stored position {"seq": [0-9]*}' "$T/worker.log" | tail -1 | grep -o '[0-9]*}$' | tr -d '}'; }
max_seq() { seqs "$T/live.jsonl" | sort -n | tail -1; }
past_kill() { s=$(stored_seq); [ -n "$s" ] && [ "$(max_seq)" -gt $((s + RATE)) ]; }
wait_for 60 past_kill || fail "live: after the restart, no records past the stored position arrive"
kill -TERM "$worker_pid"
wait "$worker_pid"
rc=$?
[ "$rc" = 0 ] || fail "restarted worker exited with $rc after SIGTERM"
stored=$(stored_seq)
n=$(lines "$T/live.jsonl")
uniq_n=$(seqs "$T/live.jsonl" | sort -n -u | wc -l)
last=$(seqs "$T/live.jsonl" | sort -n | tail -1)
dups=$((n - uniq_n))
dup_min=$(seqs "$T/live.jsonl" | sort -n | uniq -d | head -1)
log "live: $n lines, $uniq_n distinct seqs 1..$last, $dups duplicates (lowest duplicated seq ${dup_min:-none}); position stored before the kill: seq ${stored:-none}"
[ "$uniq_n" = "$last" ] || fail "live: seqs missing: $uniq_n distinct but the highest is $last"
pass "kill -9 under load: no seq missing (1..$last)"
bound=$((RATE * 3))
[ "$dups" -le "$bound" ] || fail "live: $dups duplicates, more than 3 s of records ($bound)"
pass "duplicates after kill -9: $dups, within the unacknowledged window (bound $bound = 3 s at $RATE/s)"
finish
