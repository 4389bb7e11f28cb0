#!/usr/bin/env bash
# bench_worker.sh - the worker's data path, end to end (make bench):
#   datagen -> converter -> broker (acks=all, fsync) -> converter -> file sink
# with ~200-byte rows, once with the json converter and once with avro
# (through `sluice run`'s registry), timed from the worker's start to the
# moment the sink's file holds every record. Baseline, same run, same
# broker: kcat producing the same number of 200-byte lines (acks=all) and
# consuming them back: what moving those bytes through the broker costs
# without any conversion. Prints records/s, the ratio to the baseline, the
# worker process's CPU time (user + sys, source and sink together) per
# record, its peak RSS, and when the first record reached the topic and the
# first and last lines the file (end to end includes the sink's start: it
# subscribes before the source creates the topic). Never fails on time. On a
# shared machine compare the CPU per record: the rates move with whatever
# else runs.
#
# Environment: SLUICE (default build/sluice), BENCH_WORKER_N (500000).
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SLUICE="${SLUICE:-$ROOT/build/sluice}"
. "$ROOT/tests/integration/lib.sh"
test_init bench_worker
N="${BENCH_WORKER_N:-500000}"
FIELDS="id:long,name:string,amount:double,created:timestamp,note:string,qty:int,flag:boolean"

now() { date +%s.%N; }
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
# the sink's line count while it writes, reading only the bytes added since
# the last call: counting the whole file every 0.1 s read up to 240 MB a
# time and took CPU from the worker under test on 2 cores
SEEN_BYTES=0 SEEN_LINES=0
count_new_lines() # FILE: sets SEEN_LINES
{
    local size
    size=$(stat -c %s "$1" 2>/dev/null || echo 0)
    [ "$size" -gt "$SEEN_BYTES" ] || return 0
    SEEN_LINES=$((SEEN_LINES + $(tail -c +$((SEEN_BYTES + 1)) "$1" | head -c $((size - SEEN_BYTES)) | wc -l)))
    SEEN_BYTES=$size
}

# each run (the baseline too) starts after warm_memory: see lib.sh
warm_memory_init $((N * 2 / 1000 + 64))

# ---- baseline: kcat through the same kind of broker -------------------------
start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
python3 -c "
import sys
row = 'x' * 190
w = sys.stdout.write
for i in range($N): w('%09d%s\n' % (i, row))" >"$T/lines.txt"
warm_memory
t0=$(now)
kcat -P -b "$BOOTSTRAP" -t base -X acks=all -X linger.ms=5 -l "$T/lines.txt" 2>/dev/null
kcat -C -b "$BOOTSTRAP" -t base -e -q -o beginning >"$T/base.out" 2>/dev/null
t1=$(now)
BASE_RPS=$(echo "$N / ($t1 - $t0)" | bc)
log "baseline kcat produce+consume of $N x 200 B: $(lines "$T/base.out") lines, $BASE_RPS records/s"

# ---- the worker -------------------------------------------------------------
one_run() # NAME CONVERTER
{
    local name="$1" conv="$2" P="$T/p-$1" out="$T/$1.jsonl"
    mkdir -p "$P"
    cat >"$P/bench.json" <<JSON
{"name": "$name",
 "source": {"connector.class": "datagen", "topic": "bench.$name", "max.records": $N,
            "schema.fields": "$FIELDS", "batch.size": 2000,
            "key.converter": "$conv", "value.converter": "$conv",
            "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"},
 "sinks": {"out": {"connector.class": "file", "topics": "bench.$name", "file": "$out",
                   "key.converter": "$conv", "value.converter": "$conv",
                   "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"}}}
JSON
    local t0 t1 pid
    # what earlier runs left to write back is not this run's to pay for
    warm_memory
    SEEN_BYTES=0 SEEN_LINES=0
    t0=$(now)
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
        --set "schema.registry.url=$REGISTRY" --set "listeners=http://127.0.0.1:$(free_port)" \
        2>"$T/$name.log" &
    pid=$!
    track_pid "$pid"
    # phases: the source fills the topic (first record .. N-th), the sink
    # writes the file (first line .. N-th), sampled every 0.1 s
    local ts0="" ts1="" tk0="" tk1="" topic_n sink_n
    local end=$(($(date +%s) + 600))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
        topic_n=$(kcat -Q -b "$BOOTSTRAP" -t "bench.$name:0:-1" 2>/dev/null | awk '{print $NF}')
        count_new_lines "$out"
        sink_n=$SEEN_LINES
        [ -z "$ts0" ] && [ "${topic_n:-0}" -gt 0 ] 2>/dev/null && ts0=$(now)
        [ -z "$ts1" ] && [ "${topic_n:-0}" -ge "$N" ] 2>/dev/null && ts1=$(now)
        [ -z "$tk0" ] && [ "$sink_n" -gt 0 ] && tk0=$(now)
        [ "$sink_n" -ge "$N" ] && { tk1=$(now); break; }
        sleep 0.1
    done
    [ -n "$tk1" ] || { log "$name: only $(lines "$out") of $N records"; tail -5 "$T/$name.log" >&2; return; }
    # a topic query that failed in the last samples: the source was done by
    # the time the sink had every record (and began after the worker did)
    [ -n "$ts1" ] || ts1=$tk1
    [ -n "$ts0" ] || ts0=$t0
    t1=$(now)
    local hwm
    hwm=$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
    local cpu_us # the whole run's CPU, start-up included, per record
    cpu_us=$(awk -v t="$(getconf CLK_TCK)" -v n="$N" '{printf "%.2f", ($14 + $15) / t * 1e6 / n}' \
        "/proc/$pid/stat")
    kill -TERM "$pid"
    wait "$pid"
    local rps src snk
    rps=$(echo "$N / ($t1 - $t0)" | bc)
    src=$(echo "$N / ($ts1 - $ts0 + 0.05)" | bc)
    snk=$(echo "$N / ($tk1 - $tk0 + 0.05)" | bc)
    local mb # what the sink wrote, against the disk's own rate for as many bytes
    mb=$(($(stat -c %s "$out") / 1048576 + 1))
    printf '%-5s %7s rec/s (%4.2fx)  source %7s rec/s  sink %7s rec/s  worker CPU %s us/rec  RSS %s MiB\n' \
        "$name" "$rps" "$(echo "scale=2; $rps / $BASE_RPS" | bc)" "$src" "$snk" "$cpu_us" "$hwm" \
        >>"$T/table"
    printf '      since the start: first record in the topic %.2f s, lines %.2f .. %.2f s\n' \
        "$(echo "$ts0 - $t0" | bc)" "$(echo "$tk0 - $t0" | bc)" "$(echo "$tk1 - $t0" | bc)" \
        >>"$T/table"
    printf '      sink output %d MiB in %.2f s = %s MB/s (%s bytes a line)\n' "$mb" \
        "$(echo "$tk1 - $tk0 + 0.05" | bc)" "$(echo "$mb * 1.048576 / ($tk1 - $tk0 + 0.05)" | bc)" \
        "$(($(stat -c %s "$out") / N))" >>"$T/table"
    SINK_MB=$mb
    # what each record costs the disk: the broker's log of it and the line
    local logb
    logb=$(du -sb "$T/b/data/bench.$name-0" 2>/dev/null | cut -f1)
    echo "$name ${logb:-0} $(stat -c %s "$out")" >>"$T/disk"
}

start_registry

one_run json json
one_run avro avro
# the disk's rate for the bytes the file sink writes (fdatasync, as its flush)
t0=$(now)
dd if=/dev/zero of="$T/dd.out" bs=1M count="${SINK_MB:-100}" conv=fdatasync 2>/dev/null
t1=$(now)
DISK_MBS=$(echo "${SINK_MB:-100} * 1.048576 / ($t1 - $t0)" | bc)
rm -f "$T/dd.out"
echo
echo "worker end to end: datagen -> broker (acks=all) -> file sink, $N rows of ~200 B"
echo "(end to end: from the worker's start, group join included, to the last line;"
echo " source: first to last record in the topic; sink: first to last line written)"
echo "baseline: kcat produce + consume of the same count of 200 B lines: $BASE_RPS records/s"
cat "$T/table"
echo "$WARM_NOTE (each run starts after such a write)"
echo "disk baseline: dd of as many bytes with fdatasync: $DISK_MBS MB/s"
# both the broker's log and the sink's file go to this disk: at the dd
# rate, their bytes per record bound any end-to-end rate on this machine
while read -r name logb fileb; do
    per=$(((logb + fileb) / N))
    [ "$per" -gt 0 ] && printf '%-5s disk bytes a record: %d (broker log %d + sink file %d) -> at most %d rec/s at %s MB/s\n' \
        "$name" "$per" "$((logb / N))" "$((fileb / N))" "$(echo "$DISK_MBS * 1000000 / $per" | bc)" "$DISK_MBS"
done <"$T/disk"
echo "(target: >= 300,000 records/s on 2 cores, worker RSS < 100 MB)"
