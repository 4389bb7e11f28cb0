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
#  3. JSON values as their producer sent them: kcat writes values spaced,
#     reordered, escaped, spread over lines, in and out of Connect's
#     {"schema","payload"} envelope; the file sink (json converter) writes
#     one line per record whose value is the same JSON, and one-line
#     values after the first of their class as sent (no decode and
#     re-render). A sink of a topic not there yet has it created (as Kafka's
#     consumer does) and takes its records.
#  4. Keyed records into a 6-partition topic land where the Java producer
#     (Kafka Connect's) puts each key: murmur2, as kafkajs computes it;
#     so do `sluice produce -K` lines. The worker's producer.* keys reach
#     its producer (compression.type=zstd: every batch in the broker's log
#     is zstd); acks, idempotence, group.id and unknown keys are refused at
#     start; a connector's consumer.override cannot run a command.
#  5. A connector's producer.override.* (Kafka Connect's per-connector
#     producer): a source with producer.override.compression.type=zstd gets
#     its own producer, its topic's batches are zstd while another source's
#     (the worker's producer, no compression) are not; both deliver every
#     seq exactly once, and SIGTERM stops the worker cleanly.
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
        --set offset.flush.interval.ms=1000 "$@" 2>>"$T/worker.log" &
    worker_pid=$!
    track_pid "$worker_pid"
}
seqs() { grep -o '"seq":[0-9]*' "$1" | cut -d: -f2; }
# codecs_of TOPIC: the codecs (attributes bits 0-2) of the record batches of
# TOPIC in the broker's log
codecs_of() {
    python3 - "$T/b" "$1" <<'PY'
import glob, struct, sys
codecs = set()
for seg in glob.glob(sys.argv[1] + "/**/" + sys.argv[2] + "-*/*.log", recursive=True):
    data, off = open(seg, "rb").read(), 0
    while off + 23 <= len(data):
        length = struct.unpack(">i", data[off + 8:off + 12])[0]
        codecs.add(struct.unpack(">h", data[off + 21:off + 23])[0] & 7)
        off += 12 + length
print(" ".join(str(c) for c in sorted(codecs)))
PY
}

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

# ---- 3. JSON values as sent -----------------------------------------------
rm -f "$P/live.json"
# messages end at a line holding only '%' (kcat -D), so a value may span lines
cat >"$T/sent.txt" <<'EOF'
{"id":1,"name":"a","tags":["x"],"score":1.5}
%
{"id": 2, "name": "b", "tags": ["y", "z"], "score": 2.25}
%
{"score":3.0,"tags":[],"name":"c\"\u00e9\\","id":3}
%
{
  "id": 4,
  "name": "pretty",
  "tags": ["p"],
  "score": 4.5
}
%
{"id": 5, "name": "last", "tags": ["q"], "score": -1e-3}
%
EOF
S='{"type":"struct","fields":[{"field":"id","type":"int64"},{"field":"name","type":"string","optional":true}],"optional":false}'
printf '{"schema":%s,"payload":{"id":10,"name":"e1"}}\n%%\n{"schema":%s,"payload":{"id": 11, "name": null}}\n%%\n{"schema":%s,"payload":{"id":12}}\n%%\n' \
    "$S" "$S" "$S" >"$T/enveloped.txt"
kcat -P -b "$BOOTSTRAP" -t sent.plain -D '\n%\n' -l "$T/sent.txt" 2>/dev/null || fail "kcat could not produce"
kcat -P -b "$BOOTSTRAP" -t sent.enveloped -D '\n%\n' -l "$T/enveloped.txt" 2>/dev/null ||
    fail "kcat could not produce"
cat >"$P/sent.json" <<JSON
{"name": "sent",
 "sinks": {"plain": {"connector.class": "file", "topics": "sent.plain", "file": "$T/plain.jsonl",
                     "value.converter": "json", "value.converter.schemas.enable": "false"},
           "env": {"connector.class": "file", "topics": "sent.enveloped", "file": "$T/env.jsonl",
                   "value.converter": "json"},
           "early": {"connector.class": "file", "topics": "sent.later", "file": "$T/later.jsonl"}}}
JSON
start_worker
wait_for 30 have_lines "$T/plain.jsonl" 5 || fail "sent.plain: $(lines "$T/plain.jsonl") of 5 lines"
wait_for 30 have_lines "$T/env.jsonl" 3 || fail "sent.enveloped: $(lines "$T/env.jsonl") of 3 lines"
python3 - "$T/sent.txt" "$T/plain.jsonl" "$T/enveloped.txt" "$T/env.jsonl" <<'PY' || fail "JSON values as sent: see above"
import json, sys
def msgs(path):
    return [m for m in open(path).read().split("\n%\n") if m.strip()]
def check(sent, out, payload):
    lines = open(out).read().splitlines()
    assert len(lines) == len(sent), "%s: %d lines for %d messages" % (out, len(lines), len(sent))
    for m, line in zip(sent, lines):
        want = json.loads(m)
        want = want["payload"] if payload else want
        got = json.loads(line)["value"]
        assert got == want, "%s: value %r, sent %r" % (out, got, want)
    return lines
sent = msgs(sys.argv[1])
lines = check(sent, sys.argv[2], False)
# the first of its class is decoded (written compact); a spaced one after
# it goes through as sent; keys in another order are another class (its
# first: decoded); the pretty one is decoded
assert '"value":{"id":1,"name":"a","tags":["x"],"score":1.5}' in lines[0], lines[0]
assert '"value":' + sent[1] + "," in lines[1], lines[1]
assert '"value":{"id":4,"name":"pretty","tags":["p"],"score":4.5}' in lines[3], lines[3]
assert '"value":' + sent[4] + "," in lines[4], lines[4]
env = msgs(sys.argv[3])
lines = check(env, sys.argv[4], True)
assert '"value":{"id": 11, "name": null},' in lines[1], lines[1]
PY
pass "JSON values as sent: the same JSON in the file, one line each; after the first of a class, the producer's text"
# a sink whose topic is not there yet creates it (the broker allows it), as
# Kafka's consumer does, and takes what is written to it from then on
topic_there() { kcat -L -b "$BOOTSTRAP" -t sent.later 2>/dev/null | grep -q 'partition 0,'; }
wait_for 20 topic_there || fail "the sink of sent.later did not have its topic created"
printf '{"n":1}\n{"n":2}\n' | kcat -P -b "$BOOTSTRAP" -t sent.later 2>/dev/null || fail "kcat could not produce"
wait_for 30 have_lines "$T/later.jsonl" 2 || fail "sent.later: $(lines "$T/later.jsonl") of 2 lines"
pass "a sink of a topic not there yet: the topic is created at its start, and its records arrive"
kill -TERM "$worker_pid"
wait "$worker_pid"

# ---- 4. keys partitioned as Kafka Connect's producer does ---------------------
# A topic a Debezium connector wrote, then sluice, or one joined with others
# in Kafka Streams, needs each key on the partition the Java producer picks
# (murmur2 of the key bytes), not librdkafka's default (CRC32): else a row's
# changes split over two partitions at the switch and lose their order.
# kafkajs's default partitioner is the Java one: it is the judge here.
rm -f "$P/sent.json"
"$SLUICE" topics create -b "$BOOTSTRAP" -t keyed.rows --partitions 6 >/dev/null || fail "create keyed.rows"
cat >"$P/keyed.json" <<JSON
{"name": "keyed",
 "source": {"connector.class": "datagen", "topic": "keyed.rows", "max.records": 3000},
 "sinks": {"krb": {"connector.class": "file", "topics": "keyed.rows", "file": "$T/krb.jsonl",
                   "consumer.override.sasl.kerberos.kinit.cmd": "touch $T/pwned"}}}
JSON
# the worker's producer. keys reach its producer: zstd batches
start_worker --set producer.compression.type=zstd --set producer.linger.ms=20
keyed_in() { [ "$(kcat -C -b "$BOOTSTRAP" -t keyed.rows -e -q -f '.\n' 2>/dev/null | wc -l)" -ge 3000 ]; }
wait_for 60 keyed_in || fail "keyed.rows: not all 3000 records within 60 s"
kcat -C -b "$BOOTSTRAP" -t keyed.rows -e -q -f '%p\t%k\n' 2>/dev/null >"$T/keyed.txt"
out=$(node "$(dirname "$0")/partition_of.js" 6 <"$T/keyed.txt") ||
    { echo "$out" >&2; fail "keyed.rows: records on another partition than the Java producer's"; }
used=$(cut -f1 "$T/keyed.txt" | sort -u | wc -l)
[ "$used" = 6 ] || fail "keyed.rows: only $used of 6 partitions used"
pass "3000 keyed records over 6 partitions, each on the Java producer's partition for its key (murmur2; checked with kafkajs's partitioner)"
codecs_of keyed.rows >"$T/codecs.txt" || fail "keyed.rows: could not read the broker's segments"
[ "$(cat "$T/codecs.txt")" = 4 ] || fail "keyed.rows: batch codecs $(cat "$T/codecs.txt"), not only zstd (4)"
pass "producer.compression.type=zstd in the worker's config: every batch of keyed.rows is zstd"
# a connector's config (which the REST API takes) cannot make the worker run
# a command: the sink fails, naming the key, and the command never ran
krb_failed() { grep -q 'consumer.override.sasl.kerberos.kinit.cmd: it runs a command' "$T/worker.log"; }
wait_for 20 krb_failed || fail "a sink with consumer.override.sasl.kerberos.kinit.cmd is not refused"
[ ! -e "$T/pwned" ] || fail "consumer.override.sasl.kerberos.kinit.cmd ran"
pass "consumer.override.sasl.kerberos.kinit.cmd refused: $(grep -o 'consumer.override.sasl.kerberos.kinit.cmd: [^;]*' "$T/worker.log" | head -1)"
# `sluice produce` puts a key where the worker does
"$SLUICE" topics create -b "$BOOTSTRAP" -t keyed.cli --partitions 6 >/dev/null || fail "create keyed.cli"
seq 1 600 | sed 's/^/order-/; s/$/:v/' | "$SLUICE" produce -b "$BOOTSTRAP" -t keyed.cli -K : 2>/dev/null ||
    fail "sluice produce -K : into keyed.cli"
kcat -C -b "$BOOTSTRAP" -t keyed.cli -e -q -f '%p\t%k\n' 2>/dev/null >"$T/keyed_cli.txt"
out=$(node "$(dirname "$0")/partition_of.js" 6 <"$T/keyed_cli.txt") ||
    { echo "$out" >&2; fail "keyed.cli: sluice produce put keys on another partition than the Java producer's"; }
pass "sluice produce -K: $out (records, mismatches) against the Java producer's partitions"
kill -TERM "$worker_pid"
wait "$worker_pid"
# what the worker must set itself, and keys librdkafka does not know, stop
# it at start with the key named (and never its value)
for kv in producer.acks=1 producer.enable.idempotence=false consumer.group.id=mine \
    producer.no.such.key=secret-value; do
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
        --set "listeners=http://127.0.0.1:$(free_port)" --set "$kv" >"$T/refused.out" 2>&1 &&
        fail "the worker started with $kv"
    grep -q "${kv%%=*}: " "$T/refused.out" || { cat "$T/refused.out" >&2; fail "$kv: the key is not named"; }
    ! grep -q "secret-value" "$T/refused.out" || fail "$kv: the value is shown"
    log "$kv: $(grep -o "${kv%%=*}: .*" "$T/refused.out" | head -1)"
done
pass "producer.acks, producer.enable.idempotence, consumer.group.id and an unknown producer. key are refused at start, naming the key"

# ---- 5. a connector's producer.override.* ----------------------------------
P="$T/p5"
mkdir -p "$P"
for c in ovr plain; do
    if [ "$c" = ovr ]; then extra='"producer.override.compression.type": "zstd", "producer.override.linger.ms": "20",'; else extra=""; fi
    cat >"$P/$c.json" <<JSON
{"name": "$c",
 "source": {"connector.class": "datagen", "topic": "$c.rows", $extra
            "max.records": 20000, "batch.size": 500},
 "sinks": {"out": {"connector.class": "file", "topics": "$c.rows", "file": "$T/p5.$c.jsonl"}}}
JSON
done
start_worker
for c in ovr plain; do
    wait_for 60 have_lines "$T/p5.$c.jsonl" 20000 || fail "$c: $(lines "$T/p5.$c.jsonl") of 20000 lines within 60 s"
done
kill -TERM "$worker_pid"
wait "$worker_pid" || fail "the worker with a connector's own producer exited with $? after SIGTERM"
for c in ovr plain; do
    n=$(lines "$T/p5.$c.jsonl")
    uniq_n=$(seqs "$T/p5.$c.jsonl" | sort -n -u | wc -l)
    last=$(seqs "$T/p5.$c.jsonl" | sort -n | tail -1)
    [ "$n" = 20000 ] && [ "$uniq_n" = 20000 ] && [ "$last" = 20000 ] ||
        fail "$c: $n lines, $uniq_n distinct seqs up to $last: expected seqs 1..20000 exactly once"
done
[ "$(codecs_of ovr.rows)" = 4 ] || fail "ovr.rows: batch codecs '$(codecs_of ovr.rows)', not only zstd (4)"
[ "$(codecs_of plain.rows)" = 0 ] || fail "plain.rows: batch codecs '$(codecs_of plain.rows)', not only none (0)"
grep -q 'task 0: own producer .* (producer.override' "$T/worker.log" ||
    fail "ovr.source did not log its own producer"
pass "producer.override.compression.type=zstd: every batch of ovr.rows is zstd, plain.rows (the worker's producer) uncompressed; both connectors' 20000 seqs arrive exactly once, and the worker stops cleanly"
finish
