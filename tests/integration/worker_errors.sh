#!/usr/bin/env bash
# worker_errors.sh - Kafka Connect's error handling in the sluice worker:
# poison records in a topic read by file sinks.
#
#  1. errors.tolerance=all with a dead letter queue (context headers on):
#     every good record reaches the file, every poison record is in the DLQ
#     topic as it was consumed (same key and value bytes) with the
#     __connect.errors.* headers naming topic, partition, offset, stage and
#     the converter's message; the connector keeps RUNNING; errors.log.enable
#     logs each one; the consumer group's committed offset is past them.
#  2. errors.tolerance=none (the default): the same topic fails the task
#     with a message naming the topic, partition and offset and telling how
#     to tolerate such records; the other connector keeps running.
#  3. A bad errors.tolerance value fails its connector with a clear message.
. "$(dirname "$0")/lib.sh"
test_init worker_errors

start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
P="$T/pipelines"
mkdir -p "$P"
TOPIC=orders.events

# 40 records with JSON string keys: every 10th value (10, 20, 30, 40) is not JSON
for i in $(seq 1 40); do
    if [ $((i % 10)) = 0 ]; then
        echo "\"k$i\"|this is not JSON #$i"
    else
        echo "\"k$i\"|{\"id\":$i,\"item\":\"widget-$i\"}"
    fi
done >"$T/input.txt"
kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -K '|' -l "$T/input.txt" 2>/dev/null || fail "kcat could not produce"

cat >"$P/tolerant.json" <<JSON
{"name": "tolerant",
 "sinks": {"out": {"connector.class": "file", "topics": "$TOPIC", "file": "$T/good.jsonl",
                   "key.converter": "json", "key.converter.schemas.enable": "false",
                   "value.converter": "json", "value.converter.schemas.enable": "false",
                   "errors.tolerance": "all", "errors.log.enable": "true",
                   "errors.deadletterqueue.topic.name": "dlq.orders",
                   "errors.deadletterqueue.context.headers.enable": "true"}}}
JSON
cat >"$P/strict.json" <<JSON
{"name": "strict",
 "sinks": {"out": {"connector.class": "file", "topics": "$TOPIC", "file": "$T/strict.jsonl",
                   "key.converter": "json", "key.converter.schemas.enable": "false",
                   "value.converter": "json", "value.converter.schemas.enable": "false"}}}
JSON
cat >"$P/badopt.json" <<JSON
{"name": "badopt",
 "sinks": {"out": {"connector.class": "file", "topics": "$TOPIC", "file": "$T/badopt.jsonl",
                   "errors.tolerance": "some"}}}
JSON

"$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
    --set "listeners=http://127.0.0.1:$(free_port)" --set offset.flush.interval.ms=500 \
    2>>"$T/worker.log" &
track_pid $!
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
have_lines() { [ "$(lines "$1")" -ge "$2" ]; }

# ---- 1. tolerated, dead-lettered ---------------------------------------------
wait_for 60 have_lines "$T/good.jsonl" 36 || fail "tolerant: $(lines "$T/good.jsonl") of 36 good records"
ids=$(grep -o '"id":[0-9]*' "$T/good.jsonl" | cut -d: -f2 | sort -n | tr '\n' ' ')
want=$(seq 1 40 | awk '$1 % 10' | tr '\n' ' ')
[ "$ids" = "$want" ] || fail "tolerant: ids '$ids', expected '$want'"
pass "errors.tolerance=all: the 36 good records reached the file, in order per key"

kcat -C -b "$BOOTSTRAP" -t dlq.orders -e -q -f '%k|%s|%h\n' >"$T/dlq.txt" 2>/dev/null
[ "$(wc -l <"$T/dlq.txt")" = 4 ] || { cat "$T/dlq.txt" >&2; fail "DLQ holds $(wc -l <"$T/dlq.txt") records, expected 4"; }
for i in 10 20 30 40; do
    line=$(grep "^\"k$i\"|" "$T/dlq.txt") || fail "DLQ lacks k$i"
    case "$line" in "\"k$i\"|this is not JSON #$i|"*) ;; *) fail "DLQ k$i is not the consumed bytes: $line" ;; esac
    for h in "__connect.errors.topic=$TOPIC" "__connect.errors.partition=0" \
        "__connect.errors.offset=$((i - 1))" "__connect.errors.connector.name=tolerant.out" \
        "__connect.errors.stage=VALUE_CONVERTER" "__connect.errors.exception.message=topic $TOPIC: value is not JSON"; do
        case "$line" in *"$h"*) ;; *) fail "DLQ k$i lacks header $h: $line" ;; esac
    done
done
pass "dead letter queue: the 4 poison records as consumed, with __connect.errors.* headers (offset, stage, message)"

[ "$(grep -c 'tolerant.out.*skipped a record at stage VALUE_CONVERTER' "$T/worker.log")" = 4 ] ||
    fail "errors.log.enable: expected 4 'skipped a record' lines"
pass "errors.log.enable: one log line per skipped record"

committed() {
    "$SLUICE" groups describe --group connect-tolerant.out -b "$BOOTSTRAP" 2>/dev/null |
        awk -v t="$TOPIC" '$0 ~ t {print}' | grep -qw 40
}
wait_for 20 committed || { "$SLUICE" groups describe --group connect-tolerant.out -b "$BOOTSTRAP" >&2; fail "the group did not commit offset 40"; }
pass "the group connect-tolerant.out committed offset 40 (past the skipped records)"

# ---- 2. strict: the task fails, naming where ------------------------------------
wait_for 30 grep -q 'status-task-strict.out-0: FAILED' "$T/worker.log" || fail "strict.out did not fail"
msg=$(grep 'status-task-strict.out-0: FAILED' "$T/worker.log" | head -1)
case "$msg" in *"partition 0 offset 9"*"errors.tolerance=all"*) ;; *) fail "strict failure message: $msg" ;; esac
pass "errors.tolerance=none: strict.out FAILED at partition 0 offset 9, saying how to tolerate it"
grep -q 'status-task-tolerant.out-0: FAILED' "$T/worker.log" && fail "the tolerant connector failed too"

# ---- 3. a bad option value -------------------------------------------------------
wait_for 20 grep -q "badopt.out.*errors.tolerance: 'some' is not none or all" "$T/worker.log" ||
    fail "a bad errors.tolerance is not reported"
pass "errors.tolerance=some is refused: $(grep -o "errors.tolerance: 'some'[^\"]*" "$T/worker.log" | head -1)"

finish
