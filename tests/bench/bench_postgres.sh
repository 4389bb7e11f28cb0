#!/usr/bin/env bash
# bench_postgres.sh - the postgres source's throughput (not run by make test).
#
#  streaming: BENCH_PG_ROWS changes (half inserts, half updates, in
#    transactions of 10,000) wait in two slots created before the writes.
#    Timed in the same run: `pg_recvlogical` with pgoutput (proto_version 1)
#    to /dev/null up to the end LSN, then sluice (snapshot.mode=no_data)
#    from worker start until the broker holds every change (the topic's
#    high watermark, acks=all). Prints rows/s for both and the ratio
#    (issue target: >= 0.8x pg_recvlogical).
#  snapshot: a table of BENCH_PG_ROWS rows; `COPY t TO STDOUT` through psql
#    to /dev/null against sluice's snapshot (snapshot.mode=initial_only)
#    into the broker (target: >= 0.5x COPY).
#  ceiling: datagen -> broker through the same worker, converter and acks:
#    what the worker and broker allow any source.
#
# Converter: the worker's default (json) unless BENCH_PG_CONVERTER=avro
# (then a `sluice registry` is started and value.converter=avro used).
# Never fails on time.
#
# Environment: SLUICE (default build/sluice), BENCH_PG_ROWS (1000000),
# SLUICE_PLUGIN_PATH (default: beside the binary).
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SLUICE="${SLUICE:-$ROOT/build/sluice}"
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/pg_lib.sh"
test_init bench_postgres
pg_trap
ROWS="${BENCH_PG_ROWS:-1000000}"
CONVERTER="${BENCH_PG_CONVERTER:-json}"
PLUGIN_ARGS=()
[ -n "${SLUICE_PLUGIN_PATH:-}" ] && PLUGIN_ARGS=(--set "plugin.path=$SLUICE_PLUGIN_PATH")
now() { date +%s.%N; }
rate() { echo "$1 / ($3 - $2)" | bc -l | xargs printf '%.0f'; }

start_pg main "wal_level = logical" "max_wal_size = 4GB" "checkpoint_timeout = 30min"
PORT=$(pg_port main)
pg_sql main postgres "CREATE ROLE sluice LOGIN REPLICATION SUPERUSER PASSWORD 'secret'"
pg_sql main postgres "CREATE DATABASE bench OWNER sluice"
pg_sql main bench "CREATE TABLE s (id int PRIMARY KEY, v int, pad text)"
pg_sql main bench "CREATE TABLE snap (id int PRIMARY KEY, v int, pad text)"
pg_sql main bench "CREATE PUBLICATION bench_pub FOR TABLE s"
pg_sql main bench "CREATE PUBLICATION snap_pub FOR TABLE snap"
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

# ---- pg_recvlogical ------------------------------------------------------------
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
    REG_PORT=$(free_port)
    "$SLUICE" registry --set "listeners=http://127.0.0.1:$REG_PORT" --set "bootstrap.servers=$BOOTSTRAP" \
        2>"$T/registry.log" &
    track_pid $!
    wait_for 20 port_open "$REG_PORT" || fail "registry did not start"
    CONV_ARGS=(--set value.converter=avro --set key.converter=avro
        --set "schema.registry.url=http://127.0.0.1:$REG_PORT")
fi
source_json()
{
    cat <<JSON
{"connector.class": "postgres", "database.hostname": "127.0.0.1", "database.port": $PORT,
 "database.user": "sluice", "database.password": "secret", "database.dbname": "bench",
 "topic.prefix": "bench", "slot.name": "$1", "publication.name": "$2", "snapshot.mode": "$3"}
JSON
}
hw() { kcat -C -b "$BOOTSTRAP" -t "$1" -o -1 -e -q -f '%o\n' 2>/dev/null | tail -1; }
all_in() { local o; o=$(hw "$1"); [ -n "$o" ] && [ "$o" -ge $(($2 - 1)) ]; }
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
echo "{\"name\": \"stream\", \"source\": $(source_json sluice bench_pub no_data)}" >"$P/stream.json"
t0=$(now)
run_worker
[ -n "${BENCH_PG_PERF:-}" ] && { perf record -g -o "$BENCH_PG_PERF" -p "$WORKER" -- sleep 4 >/dev/null 2>&1 & }
wait_for 600 all_in bench.public.s "$ROWS" || fail "sluice: $(hw bench.public.s) of $ROWS changes in the broker"
t1=$(now)
sluice_rate=$(rate "$ROWS" "$t0" "$t1")
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
t0=$(now)
run_worker
wait_for 600 all_in bench.public.gen "$ROWS" || fail "datagen: $(hw bench.public.gen) of $ROWS records"
t1=$(now)
gen_rate=$(rate "$ROWS" "$t0" "$t1")
log "datagen -> broker (the worker's ceiling): $ROWS records in $(echo "$t1 - $t0" | bc) s = $gen_rate rows/s"
kill -TERM "$WORKER"
wait "$WORKER"
rm -f "$P/gen.json"

# ---- snapshot -----------------------------------------------------------------------
t0=$(now)
psql -h 127.0.0.1 -p "$PORT" -U postgres -d bench -XAtq -c "COPY snap TO STDOUT" >/dev/null
t1=$(now)
copy_rate=$(rate "$ROWS" "$t0" "$t1")
log "COPY TO STDOUT: $ROWS rows in $(echo "$t1 - $t0" | bc) s = $copy_rate rows/s"
echo "{\"name\": \"snap\", \"source\": $(source_json snapslot snap_pub initial_only)}" >"$P/snap.json"
t0=$(now)
run_worker
wait_for 600 all_in bench.public.snap "$ROWS" || fail "snapshot: $(hw bench.public.snap) of $ROWS rows in the broker"
t1=$(now)
snap_rate=$(rate "$ROWS" "$t0" "$t1")
log "sluice snapshot: $ROWS rows in $(echo "$t1 - $t0" | bc) s = $snap_rate rows/s"
grep -o 'snapshot: public.snap, .*' "$T/worker.log" | tail -2 >&2

printf 'streaming: sluice %s rows/s, pg_recvlogical %s rows/s, ratio %.2f (target >= 0.8)\n' \
    "$sluice_rate" "$recv_rate" "$(echo "$sluice_rate / $recv_rate" | bc -l)"
printf 'snapshot:  sluice %s rows/s, COPY %s rows/s, ratio %.2f (target >= 0.5)\n' \
    "$snap_rate" "$copy_rate" "$(echo "$snap_rate / $copy_rate" | bc -l)"
printf 'ceiling:   datagen -> broker %s rows/s in the same worker (sluice streaming = %.2f of it)\n' \
    "$gen_rate" "$(echo "$sluice_rate / $gen_rate" | bc -l)"
printf 'converter: %s\n' "$CONVERTER"
