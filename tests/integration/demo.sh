#!/usr/bin/env bash
# demo.sh (test) - `make run`'s demo as a user meets it: scripts/demo.sh
# starts PostgreSQL with the shop schema and a trickle of writes, and
# `sluice run` with config/demo/shop.json (PostgreSQL -> broker -> S3 sink
# into a file:// lake). Checks: the snapshot of all three tables lands in the
# lake as Avro object files; a row written afterwards (a marker customer)
# arrives in a lake object; Ctrl-C (SIGINT to the process group, as a
# terminal sends it) stops sluice in order, then PostgreSQL.
# The demo's ports are moved to free ones and its files to a temp dir
# (SLUICE_DEMO_*_PORT, SLUICE_DEMO_VAR).
. "$(dirname "$0")/lib.sh"
test_init demo
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export SLUICE_DEMO_VAR="$T/var"
chmod 755 "$T" # PostgreSQL runs as the postgres user
export SLUICE_DEMO_BROKER_PORT="$(free_port)" SLUICE_DEMO_REGISTRY_PORT="$(free_port)"
export SLUICE_DEMO_REST_PORT="$(free_port)" SLUICE_DEMO_ADMIN_PORT="$(free_port)"

setsid "$ROOT/scripts/demo.sh" >"$T/demo.out" 2>&1 &
DEMO_PID=$!
track_pid "$DEMO_PID"
stop_demo() { kill -INT -- "-$DEMO_PID" 2>/dev/null; }
trap 'stop_demo; sleep 3; cleanup' EXIT

LAKE="$T/var/lake/topics"
has_objects() {
    kill -0 "$DEMO_PID" 2>/dev/null || return 0 # it died: stop waiting
    for t in customers products orders; do
        ls "$LAKE/shop.public.$t"/*/*.avro >/dev/null 2>&1 || return 1
    done
}
wait_for 120 has_objects && kill -0 "$DEMO_PID" 2>/dev/null || { cat "$T/demo.out" >&2; tail -20 "$T/var/demo/sluice.log" >&2; fail "no lake objects for all three tables within 120 s"; }
pass "snapshot in the lake: $(find "$LAKE" -name '*.avro' | wc -l) Avro objects for customers, products, orders"
head -c 4 "$(find "$LAKE" -name '*.avro' | head -1)" | grep -q 'Obj' || fail "lake objects are not Avro container files"

port=$(grep -o 'PostgreSQL on 127.0.0.1:[0-9]*' "$T/demo.out" | cut -d: -f2)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg psql -h 127.0.0.1 -p "$port" -U postgres -d shop -q \
    -c "INSERT INTO customers (name, email) VALUES ('marker-$$', 'marker@example.com')" ||
    fail "cannot write to the demo database on port $port"
marker_in_lake() { grep -rqa "marker-$$" "$LAKE/shop.public.customers"; }
wait_for 60 marker_in_lake || fail "the marker row did not reach the lake within 60 s"
pass "a row inserted into PostgreSQL reached the lake: $(grep -rla "marker-$$" "$LAKE" | head -1 | sed "s|$T/||")"

stop_demo
wait "$DEMO_PID"
rc=$?
# 130 from a terminal; a background job starts with SIGINT ignored, so the
# script itself ends normally (0) once sluice has stopped.
[ "$rc" = 130 ] || [ "$rc" = 0 ] || fail "the demo exited with $rc after Ctrl-C"
grep -q 'worker and registry stopped; stopping the broker' "$T/var/demo/sluice.log" &&
    grep -q 'stopped cleanly' "$T/var/demo/sluice.log" || fail "sluice did not stop in order"
port_open "$SLUICE_DEMO_BROKER_PORT" && fail "the broker still listens after Ctrl-C"
port_open "$port" && fail "PostgreSQL still listens after Ctrl-C"
pass "Ctrl-C: sluice stopped in order (worker, registry, broker), PostgreSQL stopped, exit $rc"
trap cleanup EXIT
finish
