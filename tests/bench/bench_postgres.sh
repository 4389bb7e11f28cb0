#!/usr/bin/env bash
# bench_postgres.sh - the postgres source's throughput and latency (not run
# by make test; run it by hand: SLUICE=build/sluice bash tests/bench/bench_postgres.sh).
#
#  streaming: BENCH_PG_ROWS changes (half inserts, half updates, in
#    transactions of 10,000) wait in two slots created before the writes.
#    Timed in the same run: `pg_recvlogical` with pgoutput (proto_version 1)
#    to /dev/null up to the end LSN, then sluice (snapshot.mode=no_data)
#    from worker start until the broker holds every change (the topic's
#    high watermark, acks=all). Prints rows/s for both and the ratio
#    (issue target: >= 0.8x pg_recvlogical).
#  snapshot: a table of BENCH_PG_ROWS rows; `COPY snap TO '/dev/null'` (the
#    server alone, the issue's baseline) and `COPY snap TO STDOUT` through
#    psql to /dev/null (the same rows over the wire) against sluice's
#    snapshot (snapshot.mode=initial_only) into the broker (target: >= 0.5x
#    COPY TO '/dev/null'). The same again for a table of as many rows with
#    ten typed columns (bigint, int, varchar, text, numeric, float8,
#    timestamptz, date, bool, uuid), where COPY's output functions and
#    sluice's type conversions weigh more than on (int, int, text).
#  ceiling: datagen -> broker through the same worker, converter and acks:
#    what the worker and broker allow any source; and kcat -P of as many
#    pre-made records of the snapshot's mean size: what librdkafka and the
#    broker allow with no source at all (the snapshot target's context),
#    with kcat's and the broker's CPU per record; and the same kcat -P
#    into librdkafka's own mock cluster: librdkafka with no sluice code.
#    From those, what the snapshot target (0.5 x COPY) would leave of the
#    2 cores once COPY, librdkafka and the broker had their share.
#  latency: pgbench commits BENCH_PG_TPS (2000) one-row transactions a
#    second for BENCH_PG_LAT_SECS (10) while sluice streams them; a consumer
#    (kcat, fetch.wait.max.ms=5, so at most 5 ms of its own) stamps each
#    record on arrival: arrival - the record's timestamp (the commit time
#    PostgreSQL put in the Begin message) = commit-to-broker latency, as a
#    consumer sees it (only durable records are visible). Prints p50, p99
#    and max (target: p99 < 100 ms).
#
# Converter: avro (the issue's bench; a `sluice registry` is started) unless
# BENCH_PG_CONVERTER=json. Never fails on time.
#
# Environment: SLUICE (default build/sluice), BENCH_PG_ROWS (1000000),
# BENCH_PG_TPS (2000), BENCH_PG_LAT_SECS (10), BENCH_PG_PERF (a directory:
# perf record of each sluice phase, see perf_start), SLUICE_PLUGIN_PATH
# (default: beside the binary).
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SLUICE="${SLUICE:-$ROOT/build/sluice}"
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/pg_lib.sh"
test_init bench_postgres
pg_trap
ROWS="${BENCH_PG_ROWS:-1000000}"
CONVERTER="${BENCH_PG_CONVERTER:-avro}"
TPS="${BENCH_PG_TPS:-2000}"
LAT_SECS="${BENCH_PG_LAT_SECS:-10}"
PLUGIN_ARGS=()
[ -n "${SLUICE_PLUGIN_PATH:-}" ] && PLUGIN_ARGS=(--set "plugin.path=$SLUICE_PLUGIN_PATH")
now() { date +%s.%N; }
rate() { echo "$1 / ($3 - $2)" | bc -l | xargs printf '%.0f'; }
# each timed phase, baselines included, starts after warm_memory: see lib.sh
warm_memory_init $((ROWS * 6 / 10000 + 64))

# synchronous_commit back to PostgreSQL's default (pg_lib.sh turns it off for
# the tests): an asynchronous commit reaches the walsender only at the WAL
# writer's next round (wal_writer_delay, 200 ms), which would be all the
# latency measured. fsync stays off, so it costs the writes nothing.
start_pg main "wal_level = logical" "max_wal_size = 4GB" "checkpoint_timeout = 30min" \
    "synchronous_commit = on"
PORT=$(pg_port main)
pg_sql main postgres "CREATE ROLE sluice LOGIN REPLICATION SUPERUSER PASSWORD 'secret'"
pg_sql main postgres "CREATE DATABASE bench OWNER sluice"
pg_sql main bench "CREATE TABLE s (id int PRIMARY KEY, v int, pad text)"
pg_sql main bench "CREATE TABLE snap (id int PRIMARY KEY, v int, pad text)"
pg_sql main bench "CREATE PUBLICATION bench_pub FOR TABLE s"
pg_sql main bench "CREATE TABLE lat (id bigserial PRIMARY KEY, v int)"
pg_sql main bench "CREATE PUBLICATION snap_pub FOR TABLE snap"
pg_sql main bench "CREATE PUBLICATION lat_pub FOR TABLE lat"
pg_sql main bench "SELECT 1 FROM pg_create_logical_replication_slot('sluice', 'pgoutput')" >/dev/null
pg_sql main bench "SELECT 1 FROM pg_create_logical_replication_slot('recv', 'pgoutput')" >/dev/null

half=$((ROWS / 2))
log "writing $half inserts and $half updates in transactions of 10000"
for ((lo = 1; lo <= half; lo += 10000)); do
    hi=$((lo + 9999 < half ? lo + 9999 : half))
    pg_sql main bench "INSERT INTO s SELECT g, 0, md5(g::text) FROM generate_series($lo, $hi) g"
done
for ((lo = 1; lo <= half; lo += 10000)); do
    hi=$((lo + 9999 < half ? lo + 9999 : half))
    pg_sql main bench "UPDATE s SET v = v + 1 WHERE id BETWEEN $lo AND $hi"
done
END_LSN=$(pg_sql main bench "SELECT pg_current_wal_lsn()")
pg_sql main bench "INSERT INTO snap SELECT g, g, md5(g::text) FROM generate_series(1, $ROWS) g"
pg_sql main bench "ANALYZE snap"
pg_sql main bench "CREATE TABLE typed (id bigint PRIMARY KEY, customer int, name varchar(40),
    email text, amount numeric(12,2), price float8, created timestamptz, day date, active bool,
    ref uuid)"
pg_sql main bench "INSERT INTO typed SELECT g, g % 10000, 'customer ' || g, 'user' || g || '@example.com',
    (g % 100000) / 100.0, g * 1.5, now() - g * interval '1 second', current_date - g % 1000,
    g % 2 = 0, md5(g::text)::uuid FROM generate_series(1, $ROWS) g"
pg_sql main bench "CREATE PUBLICATION typed_pub FOR TABLE typed"
pg_sql main bench "ANALYZE typed"

# ---- pg_recvlogical ------------------------------------------------------------
warm_memory
t0=$(now)
"$PG_BIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U postgres -d bench --slot recv --start \
    -o proto_version=1 -o publication_names=bench_pub --endpos "$END_LSN" -f /dev/null ||
    fail "pg_recvlogical failed"
t1=$(now)
recv_rate=$(rate "$ROWS" "$t0" "$t1")
log "pg_recvlogical: $ROWS changes in $(echo "$t1 - $t0" | bc) s = $recv_rate rows/s"

# ---- sluice streaming -------------------------------------------------------------
start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
P="$T/p"
mkdir -p "$P"
CONV_ARGS=()
if [ "$CONVERTER" = avro ]; then
    start_registry
    CONV_ARGS=(--set value.converter=avro --set key.converter=avro
        --set "schema.registry.url=$REGISTRY")
fi
source_json()
{
    cat <<JSON
{"connector.class": "postgres", "database.hostname": "127.0.0.1", "database.port": $PORT,
 "database.user": "sluice", "database.password": "secret", "database.dbname": "bench",
 "topic.prefix": "bench", "slot.name": "$1", "publication.name": "$2", "snapshot.mode": "$3"}
JSON
}
# The topic's high watermark (what is durable in the broker, acks=all): an
# offset query of a few ms, polled every 50 ms by all_in_within. (Consuming
# the last record with kcat every 0.2 s, as before, made the end of a
# 1.6 s phase up to 0.4 s late.)
hw() { kcat -Q -b "$BOOTSTRAP" -t "$1:0:-1" 2>/dev/null | awk '{print $NF}'; }
all_in() { local o; o=$(hw "$1"); [ -n "$o" ] && [ "$o" -ge "$2" ]; }
all_in_within() # SECS TOPIC N
{
    local end=$(($(date +%s) + $1))
    while [ "$(date +%s)" -lt "$end" ]; do
        all_in "$2" "$3" && return 0
        sleep 0.05
    done
    return 1
}
# BENCH_PG_PERF=DIR: a system-wide perf record of each sluice phase (the
# worker's threads come and go, so -p would miss them): DIR/<phase>.data;
# `perf report -i DIR/snapshot.data --sort comm,dso,sym` splits it by thread.
PERF_PIDS=()
# CPU seconds process $1 has used so far (user + system), from /proc
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }
perf_start()
{
    [ -n "${BENCH_PG_PERF:-}" ] || return 0
    mkdir -p "$BENCH_PG_PERF"
    perf record -F 499 -a -g -o "$BENCH_PG_PERF/$1.data" >/dev/null 2>&1 &
    PERF_PIDS=($!)
}
perf_stop()
{
    local p
    for p in "${PERF_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    PERF_PIDS=()
}
run_worker()
{
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
        --set "listeners=http://127.0.0.1:$(free_port)" "${PLUGIN_ARGS[@]}" "${CONV_ARGS[@]}" \
        2>>"$T/worker.log" &
    WORKER=$!
    track_pid "$WORKER"
}
"$SLUICE" topics create -b "$BOOTSTRAP" -t bench.public.s --partitions 1 >/dev/null 2>&1
"$SLUICE" topics create -b "$BOOTSTRAP" -t bench.public.snap --partitions 1 >/dev/null 2>&1
"$SLUICE" topics create -b "$BOOTSTRAP" -t bench.public.typed --partitions 1 >/dev/null 2>&1
echo "{\"name\": \"stream\", \"source\": $(source_json sluice bench_pub no_data)}" >"$P/stream.json"
perf_start stream
warm_memory
t0=$(now)
run_worker
all_in_within 600 bench.public.s "$ROWS" || fail "sluice: $(hw bench.public.s) of $ROWS changes in the broker"
t1=$(now)
sluice_rate=$(rate "$ROWS" "$t0" "$t1")
perf_stop
log "sluice streaming: $ROWS changes in $(echo "$t1 - $t0" | bc) s = $sluice_rate rows/s"
kill -TERM "$WORKER"
wait "$WORKER"
rm -f "$P/stream.json"

# ---- the worker's own ceiling: datagen -> broker, same converter and acks -------------
"$SLUICE" topics create -b "$BOOTSTRAP" -t bench.public.gen --partitions 1 >/dev/null 2>&1
cat >"$P/gen.json" <<JSON
{"name": "gen", "source": {"connector.class": "datagen", "topic": "bench.public.gen",
 "schema.fields": "id:int,v:int,pad:string", "max.records": $ROWS, "batch.size": 1000}}
JSON
warm_memory
t0=$(now)
run_worker
all_in_within 600 bench.public.gen "$ROWS" || fail "datagen: $(hw bench.public.gen) of $ROWS records"
t1=$(now)
gen_rate=$(rate "$ROWS" "$t0" "$t1")
log "datagen -> broker (the worker's ceiling): $ROWS records in $(echo "$t1 - $t0" | bc) s = $gen_rate rows/s"
kill -TERM "$WORKER"
wait "$WORKER"
rm -f "$P/gen.json"

# ---- snapshot -----------------------------------------------------------------------
# snapshot_phase TABLE: COPY TO '/dev/null', COPY TO STDOUT through psql, then
# sluice's snapshot (its own slot and publication <TABLE>_pub) into the broker;
# sets COPY_RATE, COPY_OUT_RATE, SNAP_RATE.
snapshot_phase()
{
    local tb="$1" t0 t1
    warm_memory
    t0=$(now)
    pg_sql main bench "COPY $tb TO '/dev/null'"
    t1=$(now)
    COPY_RATE=$(rate "$ROWS" "$t0" "$t1")
    log "$tb: COPY TO '/dev/null': $ROWS rows in $(echo "$t1 - $t0" | bc) s = $COPY_RATE rows/s"
    warm_memory
    t0=$(now)
    psql -h 127.0.0.1 -p "$PORT" -U postgres -d bench -XAtq -c "COPY $tb TO STDOUT" >/dev/null
    t1=$(now)
    COPY_OUT_RATE=$(rate "$ROWS" "$t0" "$t1")
    log "$tb: COPY TO STDOUT: $ROWS rows in $(echo "$t1 - $t0" | bc) s = $COPY_OUT_RATE rows/s"
    echo "{\"name\": \"$tb\", \"source\": $(source_json "${tb}slot" "${tb}_pub" initial_only)}" \
        >"$P/$tb.json"
    perf_start "$tb"
    warm_memory
    t0=$(now)
    run_worker
    all_in_within 600 "bench.public.$tb" "$ROWS" ||
        fail "$tb: $(hw "bench.public.$tb") of $ROWS rows in the broker"
    t1=$(now)
    perf_stop
    SNAP_RATE=$(rate "$ROWS" "$t0" "$t1")
    log "$tb: sluice snapshot: $ROWS rows in $(echo "$t1 - $t0" | bc) s = $SNAP_RATE rows/s"
    grep -o "snapshot: table [0-9]* of [0-9]*, public.$tb: .*" "$T/worker.log" | tail -2 >&2
    kill -TERM "$WORKER"
    wait "$WORKER"
    rm -f "$P/$tb.json"
}
snapshot_phase snap
snap_rate=$SNAP_RATE copy_rate=$COPY_RATE copy_out_rate=$COPY_OUT_RATE
# What librdkafka and the broker alone allow, with no source at all: kcat -P
# of as many records of the snapshot's mean size (key + value), read from a
# file, through the same producer settings (idempotent, acks=all,
# linger.ms=5) until every one is acknowledged.
rec_bytes=$(kcat -C -b "$BOOTSTRAP" -t bench.public.snap -c 10000 -e -q -f '%K %S\n' 2>/dev/null |
    awk '{ n++; b += $1 + $2 } END { if (n) printf "%d", b / n }')
python3 -c "import sys; sys.stdout.buffer.write((b'x' * ($rec_bytes - 1) + b'\n') * $ROWS)" >"$T/records"
"$SLUICE" topics create -b "$BOOTSTRAP" -t bench.kcat --partitions 1 >/dev/null 2>&1
KCAT_P=(kcat -P -X enable.idempotence=true -X acks=all -X linger.ms=5 -t bench.kcat -l "$T/records")
TIMEFORMAT='%U %S' # bash's time: the command's user and system CPU seconds
warm_memory
b0=$(cpu_of "$BROKER_PID")
t0=$(now)
{ time "${KCAT_P[@]}" -b "$BOOTSTRAP" 2>"$T/kcat.err"; } 2>"$T/kcat.cpu" ||
    fail "kcat -P into bench.kcat: $(cat "$T/kcat.err")"
t1=$(now)
b1=$(cpu_of "$BROKER_PID")
kcat_rate=$(rate "$ROWS" "$t0" "$t1")
# CPU per record, in microseconds: kcat's own (librdkafka's producer and
# reading the file) and the broker's
kcat_us=$(awk -v n="$ROWS" '{printf "%.3f", ($1 + $2) * 1e6 / n}' "$T/kcat.cpu")
broker_us=$(echo "($b1 - $b0) * 1000000 / $ROWS" | bc -l | xargs printf '%.3f')
log "kcat -P: $ROWS records of $rec_bytes bytes in $(echo "$t1 - $t0" | bc) s = $kcat_rate rows/s; CPU per record: kcat $kcat_us us, broker $broker_us us"
# librdkafka alone, no sluice code at all: the same kcat -P against
# librdkafka's own mock cluster (test.mock.num.brokers: a broker inside the
# kcat process, in memory; topics auto-created, so several partitions)
warm_memory
t0=$(now)
{ time "${KCAT_P[@]}" -X test.mock.num.brokers=1 -b 127.0.0.1:9 2>"$T/mock.err"; } 2>"$T/mock.cpu" ||
    fail "kcat -P into librdkafka's mock cluster: $(cat "$T/mock.err")"
t1=$(now)
rm -f "$T/records"
mock_rate=$(rate "$ROWS" "$t0" "$t1")
log "kcat -P into librdkafka's mock cluster: $ROWS records in $(echo "$t1 - $t0" | bc) s = $mock_rate rows/s"
# the same count of rows with ten typed columns, as an orders table has:
# output functions weigh on COPY, type conversion on sluice
snapshot_phase typed

# ---- commit-to-broker latency at $TPS transactions/s -----------------------------------
"$SLUICE" topics create -b "$BOOTSTRAP" -t bench.public.lat --partitions 1 >/dev/null 2>&1
pg_sql main bench "SELECT 1 FROM pg_create_logical_replication_slot('latslot', 'pgoutput')" >/dev/null
echo "{\"name\": \"lat\", \"source\": $(source_json latslot lat_pub no_data)}" >"$P/lat.json"
warm_memory
run_worker
pg_sql main bench "INSERT INTO lat (v) VALUES (0)"
all_in_within 60 bench.public.lat 1 || fail "latency: the first row never reached the broker"
# arrival - record timestamp (ms), per record, on stdin's EOF: count p50 p99 max
cat >"$T/lat.py" <<'PY'
import sys, time
lat = []
for line in sys.stdin:
    now = time.time() * 1000.0
    try:
        lat.append(now - int(line))
    except ValueError:
        pass
lat.sort()
n = len(lat)
print(n, *(["%.1f" % lat[min(n - 1, int(n * q))] for q in (0.5, 0.99)] + ["%.1f" % lat[-1]]) if n else [])
PY
kcat -C -u -b "$BOOTSTRAP" -t bench.public.lat -o end -X fetch.wait.max.ms=5 -f '%T\n' 2>/dev/null \
    > >(python3 "$T/lat.py" >"$T/lat.out") &
KCAT=$!
track_pid "$KCAT"
sleep 2
echo 'INSERT INTO lat (v) VALUES (1);' >"$T/lat.sql"
"$PG_BIN/pgbench" -n -h 127.0.0.1 -p "$PORT" -U postgres -c 4 -j 2 -R "$TPS" -T "$LAT_SECS" \
    -f "$T/lat.sql" bench >"$T/pgbench.out" 2>&1 || fail "pgbench: $(tail -3 "$T/pgbench.out")"
tps=$(awk '/^tps/ {printf "%.0f", $3; exit}' "$T/pgbench.out")
nlat=$(pg_sql main bench "SELECT count(*) FROM lat")
all_in_within 60 bench.public.lat "$nlat" || fail "latency: $(hw bench.public.lat) of $nlat rows"
sleep 1
kill "$KCAT"
wait_for 10 test -s "$T/lat.out"
read -r lat_n lat_p50 lat_p99 lat_max <"$T/lat.out"
log "latency: $lat_n transactions at $tps tx/s: p50 $lat_p50 ms, p99 $lat_p99 ms, max $lat_max ms"

printf 'streaming: sluice %s rows/s, pg_recvlogical %s rows/s, ratio %.2f (target >= 0.8)\n' \
    "$sluice_rate" "$recv_rate" "$(echo "$sluice_rate / $recv_rate" | bc -l)"
printf "snapshot:  sluice %s rows/s, COPY TO '/dev/null' %s rows/s, ratio %.2f (target >= 0.5); COPY TO STDOUT via psql %s rows/s, ratio %.2f\n" \
    "$snap_rate" "$copy_rate" "$(echo "$snap_rate / $copy_rate" | bc -l)" \
    "$copy_out_rate" "$(echo "$snap_rate / $copy_out_rate" | bc -l)"
printf "           the producer's ceiling, no source: kcat -P of %s records of %s bytes (the snapshot's mean) %s rows/s = %.2f of COPY TO '/dev/null' (sluice's snapshot = %.2f of it)\n" \
    "$ROWS" "$rec_bytes" "$kcat_rate" "$(echo "$kcat_rate / $copy_rate" | bc -l)" "$(echo "$snap_rate / $kcat_rate" | bc -l)"
# What the snapshot target leaves on 2 cores: at 0.5 x COPY TO '/dev/null'
# PostgreSQL's COPY alone takes half a core (the baseline is one backend on
# one core); librdkafka's producer and the broker take their CPU per record
# times that rate, before a single row is read or encoded.
target=$(echo "$copy_rate / 2" | bc -l | xargs printf '%.0f')
need_kcat=$(echo "$kcat_us * $target / 1000000" | bc -l)
need_broker=$(echo "$broker_us * $target / 1000000" | bc -l)
printf "           librdkafka alone: kcat -P into librdkafka's own mock cluster (no sluice code) %s rows/s = %.2f of COPY TO '/dev/null'\n" \
    "$mock_rate" "$(echo "$mock_rate / $copy_rate" | bc -l)"
printf "           at the target, 0.5 x COPY = %s rows/s: COPY takes 0.50 cores, librdkafka's producer %.2f (kcat's %s us of CPU per record), the broker %.2f (%s us): %.2f of the 2 cores before a row is decoded or encoded\n" \
    "$target" "$need_kcat" "$kcat_us" "$need_broker" "$broker_us" "$(echo "0.5 + $need_kcat + $need_broker" | bc -l)"
printf "           typed (10 columns: bigint, int, varchar, text, numeric, float8, timestamptz, date, bool, uuid): sluice %s rows/s, COPY TO '/dev/null' %s rows/s, ratio %.2f; COPY TO STDOUT %s rows/s, ratio %.2f\n" \
    "$SNAP_RATE" "$COPY_RATE" "$(echo "$SNAP_RATE / $COPY_RATE" | bc -l)" \
    "$COPY_OUT_RATE" "$(echo "$SNAP_RATE / $COPY_OUT_RATE" | bc -l)"
printf 'ceiling:   datagen -> broker %s rows/s in the same worker (sluice streaming = %.2f of it)\n' \
    "$gen_rate" "$(echo "$sluice_rate / $gen_rate" | bc -l)"
printf 'latency:   commit-to-broker p50 %s ms, p99 %s ms, max %s ms over %s transactions at %s tx/s (target: p99 < 100 ms at 2000 tx/s)\n' \
    "${lat_p50:-?}" "${lat_p99:-?}" "${lat_max:-?}" "${lat_n:-0}" "${tps:-?}"
printf 'converter: %s\n' "$CONVERTER"
printf '%s (each timed phase starts after such a write)\n' "$WARM_NOTE"
