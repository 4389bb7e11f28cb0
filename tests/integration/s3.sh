#!/usr/bin/env bash
# s3.sh - the S3 sink as a user runs it: s3rver (npm) on loopback as the S3
# server (it knows the access key S3RVER but does not verify SigV4
# signatures: tests/unit/test_sigv4.c checks those against AWS's examples), the
# sluice broker, `sluice worker` with pipeline files; objects listed and
# downloaded with awscli, Avro decoded with avsc (s3_decode.js), compared
# with what datagen produced: every seq exactly once.
#
#  0. datagen sources fill topics first (bounded: max.records), then the
#     worker is stopped cleanly, so the topics hold each seq exactly once
#     and the sink pipelines below read a fixed input.
#  1. avro+deflate by flush.size; a schema change starts a new object;
#     JSON lines with a wall-clock tail
#     (rotate.schedule.interval.ms); field partitioner (op=c|u|d) skipping
#     tombstones; time-based partitioner with rotation on record time; a
#     file:// lake (atomic rename, no temporary file left); a topic of 3
#     partitions (default partitioner), HourlyPartitioner on Kafka time;
#     flat rows through Debezium's ExtractNewRecordState transform; values
#     in the Confluent wire format decoded through `sluice registry`.
#  2. kill -9 of the worker during a multipart upload, and right after an
#     object completed in the bucket while its offsets were certainly not
#     committed (no commit while that worker ran: checked with `sluice
#     groups describe`); after each restart the bucket holds every record
#     exactly once, and the object completed before the kill was rewritten
#     under the same name with the same bytes.
#  3. bad input: a missing bucket (NoSuchBucket) and an unknown access key
#     (InvalidAccessKeyId) fail the task with S3's code; an unreachable
#     endpoint retries without committing, and delivers once an S3 server
#     appears there; an unusable file:// directory fails the task, at open
#     or at its first object, with nothing committed.
. "$(dirname "$0")/lib.sh"
test_init s3

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DECODE="$ROOT/tests/integration/s3_decode.js"
s3_init

PLUGIN_ARGS=()
[ -n "${SLUICE_PLUGIN_PATH:-}" ] && PLUGIN_ARGS=(--set "plugin.path=$SLUICE_PLUGIN_PATH")

# ---- servers ----------------------------------------------------------------
S3_PORT="$(free_port)"
S3URL="http://127.0.0.1:$S3_PORT"
start_s3rver "$S3_PORT" "$T/s3"
s3 s3 mb s3://lake >/dev/null || fail "aws s3 mb s3://lake"
log "s3rver on $S3URL, bucket lake"

start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
start_registry
P="$T/pipelines"
mkdir -p "$P"
worker_pid=""
start_worker() # [flush interval ms [more --set options]]
{
    echo "==== worker start $(date +%T.%N)" >>"$T/worker.log"
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
        --set "offset.flush.interval.ms=${1:-1000}" --set "schema.registry.url=$REGISTRY" \
        "${PLUGIN_ARGS[@]}" "${@:2}" 2>>"$T/worker.log" &
    worker_pid=$!
    track_pid "$worker_pid"
}
logcount() { grep -c -- "$1" "$T/worker.log"; }
# has_records CONNECTOR N: its completed objects hold >= N records in all
has_records() { [ "$(s3_records "$1")" -ge "$2" ]; }
has_log() { [ "$(logcount "$1")" -ge "${2:-1}" ]; }
# committed_sum CONNECTOR TOPIC: the sum of the sink group's committed offsets
committed_sum()
{
    "$SLUICE" groups describe -b "$BOOTSTRAP" --group "connect-$1" 2>/dev/null |
        awk -v t="$2" '$2 == t && $4 ~ /^[0-9]+$/ {s += $4} END {print s + 0}'
}
committed_is() { [ "$(committed_sum "$1" "$2")" = "$3" ]; }

# fetch PREFIX: download s3://lake/PREFIX/ into $T/dl/PREFIX; prints the files
fetch()
{
    rm -rf "$T/dl/$1"
    mkdir -p "$T/dl/$1"
    s3 s3 cp --recursive --quiet "s3://lake/$1/" "$T/dl/$1/" >/dev/null || fail "aws s3 cp s3://lake/$1/"
    find "$T/dl/$1" -type f | sort
}
seqs() { node "$DECODE" "$@" | grep -o '"seq":[0-9]*' | cut -d: -f2; }
# exactly_once WHAT N FILE...: every seq 1..N exactly once in the files
exactly_once()
{
    local what="$1" n="$2"
    shift 2
    [ $# -gt 0 ] || fail "$what: no objects"
    seqs "$@" >"$T/seqs.txt" || fail "$what: an object does not decode"
    local total uniq_n first last
    total=$(wc -l <"$T/seqs.txt")
    uniq_n=$(sort -n -u "$T/seqs.txt" | wc -l)
    first=$(sort -n "$T/seqs.txt" | head -1)
    last=$(sort -n "$T/seqs.txt" | tail -1)
    [ "$total" = "$n" ] && [ "$uniq_n" = "$n" ] && [ "$first" = 1 ] && [ "$last" = "$n" ] ||
        fail "$what: expected seqs 1..$n exactly once, got $total records, $uniq_n distinct, $first..$last"
}

# ---- 0. the input -------------------------------------------------------------
N_ROWS=30000
N_MIXED=10000
N_BIG=24000
# ~1 KiB rows: datagen writes "<column>-<id>-<hash>" (up to 95 bytes) into
# string columns, so ten string columns with long names
x80=$(printf 'x%.0s' $(seq 1 80))
BIGCOLS=""
for i in 0 1 2 3 4 5 6 7 8 9; do BIGCOLS="$BIGCOLS,s${i}_$x80:string"; done
cat >"$P/gen.json" <<JSON
{"name": "gen",
 "source": {"connector.class": "datagen", "topic": "rows", "max.records": $N_ROWS, "batch.size": 1000}}
JSON
cat >"$P/genmixed.json" <<JSON
{"name": "genmixed",
 "source": {"connector.class": "datagen", "topic": "mixed", "max.records": $N_MIXED,
            "ops": "mixed", "tombstones.on.delete": "true"}}
JSON
cat >"$P/genbig.json" <<JSON
{"name": "genbig",
 "source": {"connector.class": "datagen", "topic": "big", "max.records": $N_BIG, "batch.size": 1000,
            "schema.fields": "id:long$BIGCOLS"}}
JSON
"$SLUICE" topics create -b "$BOOTSTRAP" --topic multi --partitions 3 >/dev/null 2>&1 ||
    fail "sluice topics create multi --partitions 3"
cat >"$P/genmulti.json" <<JSON
{"name": "genmulti",
 "source": {"connector.class": "datagen", "topic": "multi", "max.records": 9000}}
JSON
# the same mix in Avro through the registry: the sink takes these values raw
cat >"$P/genmixedavro.json" <<JSON
{"name": "genmixedavro",
 "source": {"connector.class": "datagen", "topic": "mixedavro", "max.records": 3000,
            "ops": "mixed", "tombstones.on.delete": "true",
            "key.converter": "avro", "value.converter": "avro"}}
JSON
cat >"$P/genreg.json" <<JSON
{"name": "genreg",
 "source": {"connector.class": "datagen", "topic": "reg", "max.records": 5000,
            "key.converter": "avro", "value.converter": "avro"}}
JSON
cat >"$P/evolve1.json" <<JSON
{"name": "evolve1",
 "source": {"connector.class": "datagen", "topic": "evolve", "max.records": 3000,
            "schema.fields": "id:long,name:string"}}
JSON
start_worker
wait_for 90 has_log 'max.records .* reached' 7 || fail "datagen did not finish within 90 s"
stop_worker
# the second schema of topic evolve: a column more, after the first 3000
cat >"$P/evolve2.json" <<JSON
{"name": "evolve2",
 "source": {"connector.class": "datagen", "topic": "evolve", "max.records": 3000,
            "schema.fields": "id:long,name:string,score:double"}}
JSON
n0=$(logcount 'max.records .* reached')
start_worker
wait_for 60 has_log 'evolve2.source/0\] max.records .* reached' || fail "datagen evolve2 did not finish"
stop_worker
pass "datagen: topics rows ($N_ROWS), mixed ($N_MIXED, with tombstones), big ($N_BIG rows of ~1 KiB), multi (9000 on 3 partitions), reg (5000, Avro through the registry), evolve (3000 + 3000 with a new column)"

# ---- 1. formats, rotation, partitioners, file:// -------------------------------
sink() # NAME TOPIC EXTRA-JSON: a sink-only pipeline into the bucket
{
    cat >"$P/$1.json" <<JSON
{"name": "$1",
 "sinks": {"s3": {"connector.class": "s3", "topics": "$2", "s3.bucket.name": "lake",
                  "store.url": "$S3URL", "aws.access.key.id": "S3RVER",
                  "aws.secret.access.key": "S3RVER", "topics.dir": "$1" $3}}}
JSON
}
sink avro rows ', "flush.size": 1000, "avro.codec": "deflate"'
sink json rows ', "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
                  "flush.size": 7000, "rotate.schedule.interval.ms": 4000'
sink field mixed ', "format.class": "json", "flush.size": 2500, "rotate.schedule.interval.ms": 4000,
                   "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
                   "partition.field.name": "op", "behavior.on.null.values": "ignore"'
# raw Avro values with tombstones, and a partitioner that decodes them
sink fieldavro mixedavro ', "format.class": "json", "flush.size": 2500,
                   "rotate.schedule.interval.ms": 4000, "partitioner.class": "field",
                   "partition.field.name": "op", "behavior.on.null.values": "ignore",
                   "key.converter": "avro", "value.converter": "avro"'
sink timed rows ', "partitioner.class": "time-based", "flush.size": 100000,
                   "path.format": "'"'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH"'",
                   "partition.duration.ms": 3600000, "timestamp.extractor": "RecordField",
                   "timestamp.field": "id", "rotate.interval.ms": 4000,
                   "rotate.schedule.interval.ms": 5000'
sink evolve evolve ', "flush.size": 100000, "rotate.schedule.interval.ms": 3000'
sink flat mixed ', "flush.size": 2000, "rotate.schedule.interval.ms": 3000,
                  "transforms": "unwrap",
                  "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
                  "transforms.unwrap.delete.handling.mode": "rewrite",
                  "transforms.unwrap.add.fields": "op,source.seq",
                  "partitioner.class": "field", "partition.field.name": "__op"'
sink multi multi ', "flush.size": 1000, "rotate.schedule.interval.ms": 3000'
sink reg reg ', "flush.size": 1000, "key.converter": "avro", "value.converter": "avro"'
# three tasks share the 3 partitions of topic moving while datagen writes
# it; an outside member joins their group for a moment (below), so every
# task gives up its partitions with objects open, and gets some back
"$SLUICE" topics create -b "$BOOTSTRAP" --topic moving --partitions 3 >/dev/null 2>&1 ||
    fail "sluice topics create moving --partitions 3"
cat >"$P/moving.json" <<JSON
{"name": "moving",
 "source": {"connector.class": "datagen", "topic": "moving", "max.records": 9000, "rate": 1500},
 "sinks": {"s3": {"connector.class": "s3", "topics": "moving", "s3.bucket.name": "lake",
                  "store.url": "$S3URL", "aws.access.key.id": "S3RVER",
                  "aws.secret.access.key": "S3RVER", "topics.dir": "moving", "tasks.max": "3",
                  "flush.size": 400, "rotate.schedule.interval.ms": 6000}}}
JSON
sink hourly multi ', "partitioner.class": "io.confluent.connect.storage.partitioner.HourlyPartitioner",
                    "flush.size": 100000, "rotate.schedule.interval.ms": 3000'
T_START=$(date -u +%s)
cat >"$P/file.json" <<JSON
{"name": "file",
 "sinks": {"lake": {"connector.class": "s3", "topics": "rows", "s3.bucket.name": "local",
                    "store.url": "file://$T/lake", "flush.size": 5000}}}
JSON
start_worker
wait_for 30 has_log '\[moving\.s3/[0-9]*\] object .* complete' ||
    fail "moving: no object complete within 30 s"
# a member of the group that reads and commits nothing (kcat -G commits)
"$SLUICE" consume -b "$BOOTSTRAP" -t moving -G connect-moving.s3 -X enable.auto.commit=false \
    >/dev/null 2>&1 &
member_pid=$!
sleep 1.5
kill -TERM "$member_pid" 2>/dev/null
wait "$member_pid" 2>/dev/null
wait_for 60 has_log '\[avro.s3/0\] object .* complete' 30 || fail "avro: 30 objects not complete within 60 s"
wait_for 60 has_records json.s3 "$N_ROWS" || fail "json: not every record in complete objects within 60 s"
wait_for 30 has_records field.s3 "$N_MIXED" || fail "field: not every record in complete objects"
wait_for 30 has_records timed.s3 "$N_ROWS" || fail "timed: not every record in complete objects"
wait_for 30 has_records fieldavro.s3 3000 || fail "fieldavro: not every record in complete objects"
wait_for 30 has_records evolve.s3 6000 || fail "evolve: not every record in complete objects"
wait_for 30 has_records flat.s3 "$N_MIXED" || fail "flat: not every record in complete objects"
wait_for 30 has_records multi.s3 9000 || fail "multi: not every record in complete objects"
wait_for 30 has_records reg.s3 5000 || fail "reg: not every record in complete objects"
wait_for 30 has_records hourly.s3 9000 || fail "hourly: not every record in complete objects"
wait_for 60 committed_is moving.s3 moving 9000 ||
    fail "moving: committed offsets sum to $(committed_sum moving.s3 moving), not 9000, after 60 s"
T_END=$(date -u +%s)
wait_for 30 has_log '\[file.lake/0\] object .* complete' 6 || fail "file: 6 objects not complete"

mapfile -t files < <(fetch avro)
[ "${#files[@]}" = 30 ] || fail "avro: ${#files[@]} objects, expected 30"
for i in 0 1000 29000; do
    [ -f "$T/dl/avro/rows/partition=0/rows+0+$(printf %010d $i).avro" ] ||
        fail "avro: object rows+0+$(printf %010d $i).avro missing: ${files[*]:0:3}"
done
node "$DECODE" --meta "${files[@]}" >"$T/meta.txt" || fail "avro: objects do not decode"
[ "$(grep -c ' deflate 1000 ' "$T/meta.txt")" = 30 ] || { cat "$T/meta.txt" >&2; fail "avro: not 30 deflate objects of 1000 records"; }
exactly_once avro "$N_ROWS" "${files[@]}"
pass "avro+deflate, flush.size=1000: 30 objects avro/rows/partition=0/rows+0+<offset>.avro, seqs 1..$N_ROWS exactly once"

mapfile -t files < <(fetch json)
exactly_once json "$N_ROWS" "${files[@]}"
lines7000=0
for f in "${files[@]}"; do [ "$(wc -l <"$f")" = 7000 ] && lines7000=$((lines7000 + 1)); done
[ "$lines7000" -ge 1 ] || fail "json: no object of flush.size=7000 lines: ${files[*]}"
pass "JSON lines, flush.size=7000 + rotate.schedule.interval.ms=4000: ${#files[@]} objects ($lines7000 of 7000 lines, the rest cut by the wall clock), seqs exactly once"

mapfile -t files < <(fetch field)
for op in c u d; do
    ls "$T/dl/field/mixed/op=$op/"mixed+0+*.json >/dev/null 2>&1 || fail "field: no objects under op=$op/"
    if cat "$T/dl/field/mixed/op=$op/"*.json | grep -v "\"op\":\"$op\"" | grep -q .; then
        fail "field: a record in op=$op/ has another op"
    fi
done
exactly_once field "$N_MIXED" "${files[@]}"
pass "field partitioner (op), tombstones ignored: ${#files[@]} objects under op=c|u|d/, seqs 1..$N_MIXED exactly once"

mapfile -t files < <(fetch fieldavro)
for op in c u d; do
    if cat "$T/dl/fieldavro/mixedavro/op=$op/"*.json 2>/dev/null | grep -v "\"op\":\"$op\"" | grep -q .; then
        fail "fieldavro: a record in op=$op/ has another op"
    fi
done
exactly_once fieldavro 3000 "${files[@]}"
pass "Avro values taken raw, field partitioner decoding them, tombstones ignored: ${#files[@]} objects under op=c|u|d/, seqs 1..3000 exactly once"

mapfile -t files < <(fetch timed)
bad=$(printf '%s\n' "${files[@]}" | grep -v -E '/timed/rows/year=1970/month=01/day=01/hour=00/rows\+0\+[0-9]{10}\.avro$' | head -1)
[ -z "$bad" ] || fail "timed: unexpected path $bad"
[ "${#files[@]}" -ge 7 ] || fail "timed: ${#files[@]} objects; rotate.interval.ms=4000 over ids 1..$N_ROWS must give >= 7"
for f in "${files[@]}"; do
    ids=$(node "$DECODE" "$f" | grep -o '"after":{"id":[0-9]*' | grep -o '[0-9]*$' | sort -n)
    span=$(($(echo "$ids" | tail -1) - $(echo "$ids" | head -1)))
    [ "$span" -lt 4000 ] || fail "timed: $f spans $span ms of record time (rotate.interval.ms=4000)"
done
exactly_once timed "$N_ROWS" "${files[@]}"
pass "time-based partitioner (RecordField id as ms): year=1970/month=01/day=01/hour=00/, rotate.interval.ms cuts ${#files[@]} objects each < 4000 ms, exactly once"

mapfile -t files < <(fetch evolve)
node "$DECODE" --meta "${files[@]}" >"$T/meta.txt" || fail "evolve: objects do not decode"
[ -f "$T/dl/evolve/evolve/partition=0/evolve+0+0000003000.avro" ] ||
    { cat "$T/meta.txt" >&2; fail "evolve: no object starts at offset 3000, where the schema changed"; }
awk '{split($1, a, "+"); off = a[3] + 0; ok = (off < 3000) ? ($5 == "id,name") : ($5 == "id,name,score")
      if (!ok) {print "evolve: " $0 > "/dev/stderr"; bad = 1}} END {exit bad}' "$T/meta.txt" ||
    fail "evolve: an object mixes schemas or holds the wrong one"
[ "$(awk '{s += $3} END {print s}' "$T/meta.txt")" = 6000 ] || fail "evolve: not 6000 records"
pass "schema change at offset 3000: a new object evolve+0+0000003000.avro with the new schema (${#files[@]} objects, 6000 records)"

mapfile -t files < <(fetch flat)
node "$DECODE" "${files[@]}" >"$T/flat.txt" || fail "flat: objects do not decode"
grep -q '"after"' "$T/flat.txt" && fail "flat: an envelope reached the lake"
for op in c u d; do
    [ -n "$(ls "$T/dl/flat/mixed/__op=$op/" 2>/dev/null)" ] || fail "flat: no objects under __op=$op/"
done
n=$(grep -o '"__source_seq":[0-9]*' "$T/flat.txt" | sort -u | wc -l)
[ "$(wc -l <"$T/flat.txt")" = "$N_MIXED" ] && [ "$n" = "$N_MIXED" ] ||
    fail "flat: $(wc -l <"$T/flat.txt") rows, $n distinct __source_seq; expected $N_MIXED"
pass "ExtractNewRecordState (rewrite) on the sink: flat Avro rows under __op=c|u|d/, $N_MIXED rows exactly once, $(grep -c '"__deleted":"true"' "$T/flat.txt") marked __deleted"

mapfile -t files < <(fetch reg)
[ "${#files[@]}" = 5 ] || fail "reg: ${#files[@]} objects, expected 5"
node "$DECODE" --meta "${files[@]}" | grep -q ' reg.Envelope ' ||
    fail "reg: the objects do not carry the registry's schema (reg.Envelope)"
exactly_once reg 5000 "${files[@]}"
pass "Avro converter (Confluent wire format, schemas from the registry): 5 objects with schema reg.Envelope, exactly once"

mapfile -t files < <(fetch multi)
for p in 0 1 2; do
    n=$(printf '%s\n' "${files[@]}" | grep -c "/multi/multi/partition=$p/multi+$p+[0-9]\{10\}\.avro$")
    [ "$n" -ge 1 ] || fail "multi: no object of Kafka partition $p under partition=$p/: ${files[*]}"
done
bad=$(printf '%s\n' "${files[@]}" | grep -v -E '/partition=([0-2])/multi\+\1\+[0-9]{10}\.avro$' | head -1)
[ -z "$bad" ] || fail "multi: $bad is not under its Kafka partition"
exactly_once multi 9000 "${files[@]}"
pass "3 Kafka partitions: ${#files[@]} objects under partition=0|1|2/ named multi+<p>+<offset>.avro, seqs 1..9000 exactly once"

mapfile -t files < <(fetch moving)
exactly_once moving 9000 "${files[@]}"
tasks=$(grep -o '\[moving\.s3/[0-9]*\] object .* complete' "$T/worker.log" | cut -d/ -f2 | cut -d] -f1 | sort -u | wc -l)
[ "$tasks" -ge 2 ] || fail "moving: objects came from $tasks task(s); tasks.max=3 on 3 partitions"
gaveup=$(grep -c '\[moving\.s3/[0-9]*\] rebalance: gave up [1-9][0-9]* partitions, [1-9][0-9]* incomplete' "$T/worker.log")
[ "$gaveup" -ge 1 ] || fail "moving: no task gave up partitions with objects open: the hand-over was not tested"
pass "tasks.max=3 on 3 partitions written while a group member came and went: $tasks tasks wrote ${#files[@]} objects, $gaveup hand-overs discarded open objects, seqs 1..9000 exactly once, committed offsets sum to 9000"

mapfile -t files < <(fetch hourly)
hours=""
for t in $(seq "$T_START" 3600 "$T_END") "$T_END"; do hours="$hours|$(date -u -d "@$t" +'year=%Y/month=%m/day=%d/hour=%H')"; done
bad=$(printf '%s\n' "${files[@]}" | grep -v -E "/hourly/multi/(${hours#|})/multi\+[0-2]\+[0-9]{10}\.avro\$" | head -1)
[ -z "$bad" ] || fail "hourly: $bad is not under the hour of its Kafka timestamp (${hours#|})"
exactly_once hourly 9000 "${files[@]}"
pass "HourlyPartitioner on Kafka record time: ${#files[@]} objects under $(printf '%s\n' "${files[0]}" | grep -o 'year=[^+]*hour=[0-9]*'), exactly once"

mapfile -t files < <(find "$T/lake" -type f | sort)
[ "${#files[@]}" = 6 ] || fail "file: ${#files[@]} files in the lake, expected 6: ${files[*]}"
[ -f "$T/lake/topics/rows/partition=0/rows+0+0000025000.avro" ] || fail "file: rows+0+0000025000.avro missing"
ls -a "$T/lake/topics/rows/partition=0/" | grep -q '\.tmp$' && fail "file: a temporary file is left"
exactly_once file "$N_ROWS" "${files[@]}"
pass "file:// lake: 6 Avro files under topics/rows/partition=0/, no temporary file, exactly once"
stop_worker
rm -f "$P"/{avro,json,field,fieldavro,timed,evolve,flat,reg,multi,moving,hourly,file}.json

# ---- 2. kill -9 during a multipart upload, and between upload and commit --------
sink big big ', "flush.size": 8000, "s3.part.size": 5242880'
start_worker 4000
wait_for 60 has_log '\[big.s3/0\] object .*: multipart upload started' || fail "big: no multipart upload started"
kill9_worker
mpu=$(grep 'multipart upload started' "$T/worker.log" | tail -1 | grep -o 'big+0+[0-9]*\.avro')
s3 s3 ls --recursive s3://lake/big/ >"$T/ls1.txt" 2>/dev/null
if has_log "object big/big/partition=0/$mpu complete"; then
    log "kill -9 came after $mpu completed (the replay rewrites it)"
elif grep -q "$mpu" "$T/ls1.txt"; then
    # S3 completed it before the kill, the task had not reaped it yet: it
    # must then be the whole object, never a part of one
    mkdir -p "$T/mpu"
    s3 s3 cp --quiet "s3://lake/big/big/partition=0/$mpu" "$T/mpu/" >/dev/null ||
        fail "big: cannot download $mpu"
    n=$(node "$DECODE" "$T/mpu/$mpu" 2>/dev/null | wc -l)
    [ "$n" = 8000 ] || fail "big: $mpu is in the bucket with $n records, not flush.size 8000: an interrupted multipart upload became visible"
    log "kill -9 came just after S3 completed $mpu (whole: 8000 records; the replay rewrites it)"
else
    pass "kill -9 during the multipart upload of $mpu: nothing of it is visible in the bucket"
fi
# Between upload and commit: this worker commits no offsets while it runs
# (the interval is 10 minutes, and no flush after N records), so when an
# object is complete in s3rver's directory (its metadata file, s3rver's last
# step) and the worker is killed at once, the object is in the bucket and
# its offsets are not committed; the replay must rewrite it, byte for byte.
BIGDIR="$T/s3/lake/big/big/partition=0"
committed_big() # the group's committed offset of big (-1: none)
{
    "$SLUICE" groups describe -b "$BOOTSTRAP" --group connect-big.s3 2>/dev/null |
        awk '$2 == "big" && $4 ~ /^[0-9]+$/ {c = $4} END {print (c == "" ? -1 : c)}'
}
completed_since() # MARK: objects whose upload completed after MARK was touched
{
    find "$BIGDIR" -name 'big+0+*.avro._S3rver_metadata.json' -newer "$1" 2>/dev/null |
        sed 's#.*/##; s#\._S3rver_metadata\.json$##' | sort
}
has_completed_since() { [ -n "$(completed_since "$1")" ]; }
touch "$T/mark1"
start_worker 600000 --set sink.flush.records=1000000000
wait_for 60 has_completed_since "$T/mark1" || fail "big: no object completes in the bucket after the restart"
kill9_worker
first=$(completed_since "$T/mark1" | head -1)
start=$((10#$(echo "$first" | grep -o '[0-9]\{10\}')))
committed=$(committed_big)
[ "$committed" -le "$start" ] ||
    fail "big: offset $committed was committed before the kill: not the case between upload and commit"
s3 s3 ls "s3://lake/big/big/partition=0/$first" >/dev/null || fail "big: $first is not listed in the bucket"
cp "$BIGDIR/$first._S3rver_object" "$T/first.bin" || fail "big: $first is not in s3rver's directory"
pass "kill -9 between upload and commit: $first complete in the bucket, the committed offset ($committed) before its first record ($start)"

touch "$T/mark2"
start_worker 1000
wait_for 90 has_log '\[big.s3/0\] object .*+0000016000.avro complete' || fail "big: the last object did not complete after the restart"
sleep 2
stop_worker
completed_since "$T/mark2" | grep -qx "$first" ||
    fail "big: $first was not rewritten after the restart, though its offsets were not committed"
cmp -s "$T/first.bin" "$BIGDIR/$first._S3rver_object" ||
    fail "big: $first changed after the replay: the objects are not deterministic"
log "big: $first was completed again after the kill (same name, same bytes: replayed)"
mapfile -t files < <(fetch big)
[ "${#files[@]}" = 3 ] || fail "big: ${#files[@]} objects, expected 3: ${files[*]}"
node "$DECODE" --meta "${files[@]}" | grep -q ' 8000 ' || fail "big: objects are not 8000 records"
exactly_once big "$N_BIG" "${files[@]}"
size=$(stat -c %s "${files[0]}")
pass "kill -9 during a multipart upload and after $first completed: 3 objects of 8000 records (~$((size / 1048576)) MiB, multipart), $first byte-identical after the replay, seqs 1..$N_BIG exactly once"
"$SLUICE" groups describe -b "$BOOTSTRAP" --group connect-big.s3 >"$T/group.txt" 2>&1
awk '$2 == "big" && $4 == '"$N_BIG"' {ok = 1} END {exit !ok}' "$T/group.txt" ||
    { cat "$T/group.txt" >&2; fail "big: connect-big.s3 did not commit offset $N_BIG"; }
pass "connect-big.s3 committed offset $N_BIG (the end of the last object)"
rm -f "$P/big.json"

# ---- 3. bad input ----------------------------------------------------------------
DEAD_PORT="$(free_port)"
sink nobucket rows ', "flush.size": 100'
sed -i 's/"s3.bucket.name": "lake"/"s3.bucket.name": "no-such-bucket"/' "$P/nobucket.json"
sink badkey rows ', "flush.size": 100'
sed -i 's/"aws.access.key.id": "S3RVER"/"aws.access.key.id": "AKIDUNKNOWN"/' "$P/badkey.json"
sink dead rows ', "flush.size": 10000, "s3.part.retries": 1, "s3.retry.backoff.ms": 50'
sed -i "s#$S3URL#http://127.0.0.1:$DEAD_PORT#" "$P/dead.json"
touch "$T/notadir"
cat >"$P/baddir.json" <<JSON
{"name": "baddir",
 "sinks": {"lake": {"connector.class": "s3", "topics": "rows", "s3.bucket.name": "x",
                    "store.url": "file://$T/notadir/lake"}}}
JSON
mkdir -p "$T/lake2/topics" && touch "$T/lake2/topics/rows" # the topic's directory is a file
cat >"$P/blocked.json" <<JSON
{"name": "blocked",
 "sinks": {"lake": {"connector.class": "s3", "topics": "rows", "s3.bucket.name": "x",
                    "store.url": "file://$T/lake2", "flush.size": 100}}}
JSON
start_worker
wait_for 30 has_log 'status-task-nobucket.s3-0: FAILED' || fail "missing bucket: the task is not FAILED"
grep 'nobucket' "$T/worker.log" | grep -q 'NoSuchBucket' || fail "missing bucket: NoSuchBucket not reported"
pass "missing bucket: task FAILED: $(grep -o "s3://no-such-bucket[^;]*" "$T/worker.log" | head -1)"
wait_for 30 has_log 'status-task-badkey.s3-0: FAILED' || fail "unknown access key: the task is not FAILED"
grep 'badkey' "$T/worker.log" | grep -q 'InvalidAccessKeyId' || fail "unknown access key: InvalidAccessKeyId not reported"
pass "unknown access key: task FAILED: $(grep -o 'HTTP 403 InvalidAccessKeyId[^;]*' "$T/worker.log" | head -1)"
wait_for 30 has_log 'status-task-baddir.lake-0: FAILED' || fail "unusable file:// dir: the task is not FAILED"
pass "unusable file:// directory: task FAILED: $(grep -o 'lake directory [^;]*Not a directory' "$T/worker.log" | head -1)"
wait_for 30 has_log 'status-task-blocked.lake-0: FAILED' || fail "blocked file:// path: the task is not FAILED"
"$SLUICE" groups describe -b "$BOOTSTRAP" --group connect-blocked.lake >"$T/bgroup.txt" 2>&1
awk '$2 == "rows" && $4 ~ /^[0-9]+$/ && $4 > 0 {bad = 1} END {exit !bad}' "$T/bgroup.txt" &&
    { cat "$T/bgroup.txt" >&2; fail "blocked file:// path: offsets were committed"; }
[ -z "$(find "$T/lake2" -name '*.avro*')" ] || fail "blocked file:// path: files were written"
pass "file:// object path blocked mid-stream: task FAILED ($(grep -o 'cannot create the directory of [^;]*' "$T/worker.log" | head -1)), nothing committed"
wait_for 30 has_log '\[dead.s3\] task 0: .*Couldn.t connect.*retrying in' ||
    fail "unreachable endpoint: no retry reported"
"$SLUICE" groups describe -b "$BOOTSTRAP" --group connect-dead.s3 >"$T/dgroup.txt" 2>&1
awk '$2 == "rows" && $4 ~ /^[0-9]+$/ && $4 > 0 {bad = 1} END {exit !bad}' "$T/dgroup.txt" &&
    { cat "$T/dgroup.txt" >&2; fail "unreachable endpoint: offsets were committed"; }
pass "unreachable endpoint: the task retries ($(logcount 'dead.s3.*retrying in') times so far), nothing committed"
start_s3rver "$DEAD_PORT" "$T/s3dead" --configure-bucket lake # the bucket exists when it listens
wait_for 90 has_log '\[dead.s3/0\] object .*+0000020000.avro complete' || fail "unreachable endpoint: no delivery once the server is up"
S3URL="http://127.0.0.1:$DEAD_PORT"
mapfile -t files < <(fetch dead)
exactly_once dead 30000 "${files[@]}"
pass "the endpoint came up: ${#files[@]} objects delivered, seqs 1..30000 exactly once"
stop_worker
finish
