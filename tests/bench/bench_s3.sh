#!/usr/bin/env bash
# bench_s3.sh - the S3 sink's throughput (not run by make test):
#   topic (~1 KiB rows, avro converter) -> worker -> s3 sink -> s3rver
#   topic -> worker -> s3 sink -> file:// lake
# each timed from the worker's start to the moment every object is complete
# in the lake (s3rver wrote their metadata, its last step / the final names
# exist in the file:// directory), against the baseline of the
# same run: `aws s3 cp` of a file of the same number of bytes to the same
# s3rver (awscli's own multipart, 10 threads). Prints records/s, MB/s of
# objects written, and the ratio to aws-cli. The issue's targets: >= 0.8x
# aws-cli's upload rate, >= 100,000 records/s to file:// on 2 cores. Never
# fails on time.
#
# The rows are made by datagen into the topic first (not timed); the sink
# pipelines then read the full topic.
#
# Reading the figures: the worker should be busy while a sink runs. If it is
# mostly idle (`ps -o times` of the worker, or `perf record -g -p PID`),
# the sink is waiting for records: with librdkafka 2.0, once a consumer's
# prefetch reaches queued.max.messages.kbytes it fetches again only at its
# broker thread's next wake-up (up to 1 s), which caps every sink at about
# that prefetch per second whatever the sink costs.
#
# Environment: SLUICE (default build/sluice), BENCH_S3_N (100000 records),
# BENCH_S3_FLUSH (flush.size, default 20000: ~22 MB objects), BENCH_S3_FORMAT
# (avro), BENCH_S3_CONVERTER (avro: Confluent wire format through a `sluice
# registry` started here; json: the JSON converter with schemas, whose
# parsing dominates the sink's time), SLUICE_PLUGIN_PATH (default: the
# worker's, beside the binary).
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SLUICE="${SLUICE:-$ROOT/build/sluice}"
. "$ROOT/tests/integration/lib.sh"
test_init bench_s3
N="${BENCH_S3_N:-100000}"
FLUSH="${BENCH_S3_FLUSH:-20000}"
FORMAT="${BENCH_S3_FORMAT:-avro}"
CONV="${BENCH_S3_CONVERTER:-avro}"
s3_init
PLUGIN_ARGS=()
[ -n "${SLUICE_PLUGIN_PATH:-}" ] && PLUGIN_ARGS=(--set "plugin.path=$SLUICE_PLUGIN_PATH")
now() { date +%s.%N; }

S3_PORT="$(free_port)"
S3URL="http://127.0.0.1:$S3_PORT"
start_s3rver "$S3_PORT" "$T/s3" --configure-bucket bench
start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
REG_ARGS=()
if [ "$CONV" = avro ]; then
    start_registry
    REG_ARGS=(--set "schema.registry.url=$REGISTRY")
fi
CONVS="\"key.converter\": \"$CONV\", \"value.converter\": \"$CONV\""
P="$T/p"
mkdir -p "$P"
worker_pid=""
start_worker()
{
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
        "${PLUGIN_ARGS[@]}" "${REG_ARGS[@]}" 2>>"$T/worker.log" &
    worker_pid=$!
    track_pid "$worker_pid"
}
stop_worker() { kill -TERM "$worker_pid"; wait "$worker_pid"; }
records_done() # CONNECTOR: records in its completed objects
{
    grep "\[$1/0\] object .* complete: " "$T/worker.log" | grep -o 'complete: [0-9]*' |
        awk '{s += $2} END {print s + 0}'
}
# only whole objects complete (no wall-clock rotation here): N is rounded
# down to a multiple of flush.size
N=$((N - N % FLUSH))
[ "$N" -gt 0 ] || fail "BENCH_S3_N must be >= BENCH_S3_FLUSH"
logged_all() { [ "$(records_done "$1")" -ge "$N" ]; }
OBJECTS=$((N / FLUSH))
# all_done NAME: every object complete where the store keeps it
all_done()
{
    local n
    if [ "$1" = s3 ]; then
        n=$(find "$T/s3/bench/s3" -name "*.$FORMAT._S3rver_metadata.json" 2>/dev/null | wc -l)
    else
        n=$(find "$T/lake" -name "*.$FORMAT" 2>/dev/null | wc -l)
    fi
    [ "$n" -ge "$OBJECTS" ]
}

# ---- the input: N rows of ~1 KiB ------------------------------------------------
x80=$(printf 'x%.0s' $(seq 1 80))
COLS="id:long"
for i in 0 1 2 3 4 5 6 7 8 9; do COLS="$COLS,s${i}_$x80:string"; done
cat >"$P/gen.json" <<JSON
{"name": "gen",
 "source": {"connector.class": "datagen", "topic": "rows", "max.records": $N, "batch.size": 2000,
            "schema.fields": "$COLS", $CONVS}}
JSON
start_worker
wait_for 600 grep -q 'max.records .* reached' "$T/worker.log" || fail "datagen did not finish"
stop_worker
log "topic rows: $N rows of ~1 KiB"

# ---- one sink run -----------------------------------------------------------------
one_run() # NAME STORE-URL
{
    cat >"$P/$1.json" <<JSON
{"name": "$1",
 "sinks": {"s3": {"connector.class": "s3", "topics": "rows", "s3.bucket.name": "bench",
                  "store.url": "$2", "format.class": "$FORMAT", "flush.size": $FLUSH,
                  "topics.dir": "$1", $CONVS}}}
JSON
    local t0 t1
    t0=$(now)
    start_worker
    wait_for 900 all_done "$1" || log "$1: not every object complete"
    t1=$(now)
    wait_for 30 logged_all "$1.s3" || log "$1: the log shows $(records_done "$1.s3") of $N records"
    stop_worker
    rm -f "$P/$1.json"
    echo "$t1 - $t0" | bc -l
}

S3_SECS=$(one_run s3 "$S3URL")
S3_BYTES=$(s3 s3 ls --recursive s3://bench/s3/ | awk '{s += $3} END {print s}')
log "s3rver: $N records, $S3_BYTES bytes in $S3_SECS s"

FILE_SECS=$(one_run file "file://$T/lake")
FILE_BYTES=$(find "$T/lake" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
log "file://: $N records, $FILE_BYTES bytes in $FILE_SECS s"

# ---- baseline: aws s3 cp of the same bytes -------------------------------------------
head -c "$S3_BYTES" /dev/urandom >"$T/blob"
t0=$(now)
s3 s3 cp --quiet "$T/blob" s3://bench/awscp/blob || fail "aws s3 cp"
t1=$(now)
CP_SECS=$(echo "$t1 - $t0" | bc -l)
rm -f "$T/blob"

mbs() { echo "scale=1; $1 / $2 / 1000000" | bc -l; }
rps() { echo "scale=0; $N / $2" | bc -l; }
S3_MBS=$(mbs "$S3_BYTES" "$S3_SECS")
CP_MBS=$(mbs "$S3_BYTES" "$CP_SECS")
printf '\nS3 sink benchmark: %d records of ~1 KiB, %s objects, flush.size %d, %s converter\n' \
    "$N" "$FORMAT" "$FLUSH" "$CONV"
printf '%-34s %10s %10s %10s\n' "path" "seconds" "records/s" "MB/s"
printf '%-34s %10.2f %10s %10s\n' "topic -> s3 sink -> s3rver" "$S3_SECS" "$(rps "$N" "$S3_SECS")" "$S3_MBS"
printf '%-34s %10.2f %10s %10s\n' "topic -> s3 sink -> file://" "$FILE_SECS" "$(rps "$N" "$FILE_SECS")" "$(mbs "$FILE_BYTES" "$FILE_SECS")"
printf '%-34s %10.2f %10s %10s\n' "aws s3 cp, same bytes -> s3rver" "$CP_SECS" "-" "$CP_MBS"
printf 'ratio s3 sink / aws s3 cp: %s (target >= 0.8); file:// target >= 100000 records/s\n' \
    "$(echo "scale=2; $S3_MBS / $CP_MBS" | bc -l)"
finish
