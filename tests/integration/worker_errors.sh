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
#  4. The schema registry unreachable: with errors.retry.timeout=-1 the avro
#     converters of a source and a sink retry (logged, the tasks RUNNING) and
#     every record arrives once the registry is up; with the default (0) the
#     task fails at once, with 1500 ms after about that long, each naming
#     the registry's error; a bad errors.retry.timeout is refused.
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

REG_PORT=$(free_port) # the registry starts in part 4
REG="http://127.0.0.1:$REG_PORT"
avro_pipe() # NAME RETRY-TIMEOUT
{
    cat >"$P/$1.json" <<JSON
{"name": "$1",
 "source": {"connector.class": "datagen", "topic": "$1.rows", "max.records": 50,
            "key.converter": "avro", "value.converter": "avro",
            "key.converter.schema.registry.url": "$REG", "value.converter.schema.registry.url": "$REG",
            "errors.retry.timeout": "$2", "errors.retry.delay.max.ms": "400"}
JSON
}
avro_pipe waiting -1
cat >>"$P/waiting.json" <<JSON
 ,"sinks": {"out": {"connector.class": "file", "topics": "waiting.rows", "file": "$T/waiting.jsonl",
                    "key.converter": "avro", "value.converter": "avro",
                    "key.converter.schema.registry.url": "$REG", "value.converter.schema.registry.url": "$REG",
                    "errors.retry.timeout": "-1", "errors.retry.delay.max.ms": "400"}}}
JSON
avro_pipe giveup 0
echo "}" >>"$P/giveup.json"
avro_pipe bounded 1500
echo "}" >>"$P/bounded.json"
avro_pipe badretry soon
echo "}" >>"$P/badretry.json"
WORKER="http://127.0.0.1:$(free_port)"
"$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
    --set "listeners=$WORKER" --set offset.flush.interval.ms=500 \
    2>>"$T/worker.log" &
track_pid $!

# ---- 1. tolerated, dead-lettered ---------------------------------------------
wait_for 60 have_lines "$T/good.jsonl" 36 || fail "tolerant: $(lines "$T/good.jsonl") of 36 good records"
ids=$(grep -o '"id":[0-9]*' "$T/good.jsonl" | cut -d: -f2 | sort -n | tr '\n' ' ')
want=$(seq 1 40 | awk '$1 % 10' | tr '\n' ' ')
[ "$ids" = "$want" ] || fail "tolerant: ids '$ids', expected '$want'"
pass "errors.tolerance=all: the 36 good records reached the file, in order per key"

# the file shows lines as soon as they are written; the dead letters are
# produced before the offsets after them are committed (a flush later)
dlq_has() { kcat -C -b "$BOOTSTRAP" -t "$1" -e -q -f '%o\n' 2>/dev/null | wc -l | grep -qx "$2"; }
wait_for 20 dlq_has dlq.orders 4
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

# ---- 4. the schema registry unreachable ---------------------------------------
wait_for 20 grep -q 'status-task-giveup.source-0: FAILED.*Couldn.t connect' "$T/worker.log" ||
    fail "errors.retry.timeout=0: giveup.source did not fail naming the connection error"
grep -q 'giveup.*retrying in' "$T/worker.log" && fail "errors.retry.timeout=0 retried"
pass "errors.retry.timeout=0 (default): the task FAILED at once: $(grep 'giveup' "$T/worker.log" | grep -o 'registering the key schema[^;]*' | head -1)"
wait_for 20 grep -q 'status-task-bounded.source-0: FAILED' "$T/worker.log" ||
    fail "errors.retry.timeout=1500: bounded.source did not fail"
n=$(grep -c 'bounded.*retrying in' "$T/worker.log")
[ "$n" -ge 2 ] || fail "errors.retry.timeout=1500: only $n retries logged"
grep 'status-task-bounded.source-0: FAILED' "$T/worker.log" | grep -q 'still failing after [0-9]* ms of retries' ||
    fail "errors.retry.timeout=1500: the FAILED trace does not say it outlasted the retries"
pass "errors.retry.timeout=1500: $n retries, then FAILED"
wait_for 20 grep -q "badretry.*errors.retry.timeout: expected milliseconds" "$T/worker.log" ||
    fail "errors.retry.timeout=soon is not refused"
pass "errors.retry.timeout=soon is refused"
grep -q 'waiting.source.*retrying in' "$T/worker.log" || fail "waiting.source does not retry"
grep -q 'status-task-waiting.source-0: FAILED' "$T/worker.log" && fail "waiting.source failed while retrying"
start_registry()
{
    "$SLUICE" registry --set "listeners=$REG" --set "kafkastore.bootstrap.servers=$BOOTSTRAP" \
        2>>"$T/registry.log" &
    REG_PID=$!
    track_pid $REG_PID
}
start_registry
wait_for 60 have_lines "$T/waiting.jsonl" 50 || fail "after the registry came up: $(lines "$T/waiting.jsonl") of 50 records"
seqs=$(grep -o '"seq":[0-9]*' "$T/waiting.jsonl" | cut -d: -f2 | sort -n | uniq | wc -l)
[ "$seqs" = 50 ] || fail "waiting: $seqs distinct seqs of 50"
pass "errors.retry.timeout=-1: the source retried ($(grep -c 'waiting.source.*retrying in' "$T/worker.log") times) and all 50 records arrived once the registry was up"
# a sink meeting schema ids it has not fetched while the registry is down
kill "$REG_PID"
wait "$REG_PID" 2>/dev/null
curl -s -o "$T/late.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$WORKER/connectors" \
    -d "{\"name\": \"late\", \"config\": {\"connector.class\": \"file\", \"topics\": \"waiting.rows\",
         \"file\": \"$T/late.jsonl\", \"key.converter\": \"avro\", \"value.converter\": \"avro\",
         \"key.converter.schema.registry.url\": \"$REG\", \"value.converter.schema.registry.url\": \"$REG\",
         \"errors.retry.timeout\": \"-1\", \"errors.retry.delay.max.ms\": \"400\"}}" >"$T/late.code"
[ "$(cat "$T/late.code")" = 201 ] || fail "POST late: $(cat "$T/late.code") $(cat "$T/late.out")"
wait_for 30 grep -q '\[late\] task 0: .*schema id.*retrying in' "$T/worker.log" || fail "the late sink does not retry"
have_lines "$T/late.jsonl" 1 && fail "the late sink wrote records without their schema"
start_registry
wait_for 60 have_lines "$T/late.jsonl" 50 || fail "late sink: $(lines "$T/late.jsonl") of 50 records"
pass "the sink's converter retried ($(grep -c '\[late\] task 0: .*retrying in' "$T/worker.log") times) while the registry was down, then wrote all 50 records"

# ---- 5. Avro poison: the right wire-format header, bytes that are no value of
# its schema. The file sink takes Avro values raw (not decoded by the worker):
# the bytes are still checked against their writer schema before the sink
# sees them, and a bad one is dead-lettered like any conversion error.
post() # NAME CONFIG-JSON
{
    local code
    code=$(curl -s -o "$T/post.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        "$WORKER/connectors" -d "{\"name\": \"$1\", \"config\": $2}")
    [ "$code" = 201 ] || fail "POST $1: $code $(cat "$T/post.out")"
}
AVRO_CONV="\"key.converter\": \"avro\", \"value.converter\": \"avro\",
           \"key.converter.schema.registry.url\": \"$REG\", \"value.converter.schema.registry.url\": \"$REG\""
post poisonsrc "{\"connector.class\": \"datagen\", \"topic\": \"poison.avro\", \"max.records\": \"20\", $AVRO_CONV}"
wait_for 30 grep -q 'poisonsrc.*max.records .* reached' "$T/worker.log" || fail "poisonsrc did not write its 20 records"
vid=$(curl -s "$REG/subjects/poison.avro-value/versions/latest" | grep -o '"id": *[0-9]*' | grep -o '[0-9]*$')
[ -n "$vid" ] && [ "$vid" != 10 ] && [ "$vid" -lt 256 ] || fail "value schema id of poison.avro: '$vid'"
hex=$(printf '%02x' "$vid")
# no key; a union branch index of -64 where the envelope's first field is
# ["null", row]; and a row cut short after its union branch
printf "\x00\x00\x00\x00\x$hex\x7f\x7f\x7f\n\x00\x00\x00\x00\x$hex\x02\n" |
    kcat -P -b "$BOOTSTRAP" -t poison.avro 2>/dev/null || fail "kcat could not produce the poison records"
post poisonsink "{\"connector.class\": \"file\", \"topics\": \"poison.avro\", \"file\": \"$T/poison.jsonl\",
                  \"errors.tolerance\": \"all\", \"errors.deadletterqueue.topic.name\": \"dlq.avro\",
                  \"errors.deadletterqueue.context.headers.enable\": \"true\", $AVRO_CONV}"
wait_for 30 have_lines "$T/poison.jsonl" 20 || fail "poisonsink: $(lines "$T/poison.jsonl") of 20 good records"
n=$(grep -o '"seq":[0-9]*' "$T/poison.jsonl" | sort -u | wc -l)
[ "$n" = 20 ] || fail "poisonsink: $n distinct seqs of 20"
wait_for 20 dlq_has dlq.avro 2 ||
    fail "dlq.avro does not hold the 2 poison records"
kcat -C -b "$BOOTSTRAP" -t dlq.avro -e -q -f '%h\n' >"$T/dlq.avro.txt" 2>/dev/null
for off in 20 21; do
    line=$(grep "__connect.errors.offset=$off," "$T/dlq.avro.txt") || fail "dlq.avro lacks offset $off"
    for h in "__connect.errors.stage=VALUE_CONVERTER" "not a valid Avro encoding for schema id $vid"; do
        case "$line" in *"$h"*) ;; *) fail "dlq.avro offset $off lacks '$h': $line" ;; esac
    done
done
grep -q 'status-task-poisonsink-0: FAILED' "$T/worker.log" && fail "poisonsink failed"
pass "raw Avro values: 2 records of schema id $vid that are no value of it went to the DLQ (VALUE_CONVERTER, 'not a valid Avro encoding'); the 20 good ones reached the file"

finish
