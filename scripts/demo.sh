#!/usr/bin/env bash
# demo.sh - what `make run` runs: the whole product on one machine.
#
#   1. a throwaway PostgreSQL 15 (Debian's binaries) in var/demo/pg on a
#      free port (5433 when free), wal_level=logical, with a small shop
#      schema (customers, products, orders) and seed rows;
#   2. a trickle of writes: every second an order is placed, another one's
#      status changes, now and then one is deleted, a customer changes;
#   3. `sluice run`: broker (:9092), schema registry (:8081) and worker
#      (:8083) in one process, data in var/demo/sluice, running the pipeline
#      file config/demo/shop.json: PostgreSQL -> broker (Avro, registry)
#      -> S3 sink into a file:// lake under var/lake, rows flattened by
#      ExtractNewRecordState;
#   4. it tells you where to look, and Ctrl-C stops everything cleanly
#      (sluice first, in order, then the writer and PostgreSQL).
#
# PostgreSQL refuses to run as root, so as root the database runs as the
# `postgres` user (created by Debian's package). Everything under var/demo
# and var/lake is recreated on each run.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SLUICE="$ROOT/build/sluice"
VAR="${SLUICE_DEMO_VAR:-$ROOT/var}"
DEMO="$VAR/demo"
LAKE="$VAR/lake"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

[ -x "$SLUICE" ] || die "build/sluice is missing: run make build"
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || die "PostgreSQL is not installed (scripts/install-deps.sh installs it)"

# The usual ports; SLUICE_DEMO_{BROKER,REGISTRY,REST,ADMIN}_PORT move them.
BROKER_PORT="${SLUICE_DEMO_BROKER_PORT:-9092}"
REGISTRY_PORT="${SLUICE_DEMO_REGISTRY_PORT:-8081}"
REST_PORT="${SLUICE_DEMO_REST_PORT:-8083}"
ADMIN_PORT="${SLUICE_DEMO_ADMIN_PORT:-9644}"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$BROKER_PORT" "$REGISTRY_PORT" "$REST_PORT" "$ADMIN_PORT"; do
    port_free "$p" || die "port $p is in use: the demo needs $BROKER_PORT (broker), $REGISTRY_PORT (registry), $REST_PORT (REST) and $ADMIN_PORT (metrics); stop what holds it"
done
PGPORT=5433
while ! port_free "$PGPORT"; do PGPORT=$((PGPORT + 1)); done

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

rm -rf "$DEMO" "$LAKE"
mkdir -p "$DEMO/pg" "$LAKE"
if [ "$(id -u)" = 0 ]; then
    chown -R postgres: "$DEMO/pg"
    runuser -u postgres -- test -w "$DEMO/pg" ||
        die "the postgres user cannot reach $DEMO/pg (a parent directory is not searchable by others)"
fi

# ---- 1. PostgreSQL -------------------------------------------------------------
say "starting PostgreSQL on 127.0.0.1:$PGPORT (data in var/demo/pg)"
as_pg "$PGBIN/initdb" -D "$DEMO/pg" -U postgres --auth=trust >"$DEMO/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -3 "$DEMO/initdb.log")"
cat >>"$DEMO/pg/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$DEMO/pg'
wal_level = logical
max_replication_slots = 4
max_wal_senders = 4
CONF
as_pg "$PGBIN/pg_ctl" -D "$DEMO/pg" -l "$DEMO/pg/server.log" -w start >/dev/null ||
    die "PostgreSQL did not start: $(tail -5 "$DEMO/pg/server.log")"

PIDS=()
SLUICE_PID=""
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$SLUICE_PID" ]; then # sluice first: the worker stores its positions
        kill -INT "$SLUICE_PID" 2>/dev/null || true
        wait "$SLUICE_PID" 2>/dev/null || true
    fi
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    as_pg "$PGBIN/pg_ctl" -D "$DEMO/pg" -m fast stop >/dev/null 2>&1 || true
    say "stopped. The lake stays in var/lake; make run starts afresh."
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_shop() { as_pg psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d shop -v ON_ERROR_STOP=1 -q "$@"; }
as_pg psql -h 127.0.0.1 -p "$PGPORT" -U postgres -q -c "CREATE DATABASE shop" >/dev/null
psql_shop <<'SQL'
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text,
                        created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
                     product_id int NOT NULL REFERENCES products, qty int NOT NULL,
                     status text NOT NULL DEFAULT 'new', placed_at timestamptz NOT NULL DEFAULT now());
INSERT INTO customers (name, email)
  SELECT 'customer ' || i, 'c' || i || '@example.com' FROM generate_series(1, 100) i;
INSERT INTO products (name, price)
  SELECT 'product ' || i, (i * 3.75)::numeric(10,2) FROM generate_series(1, 20) i;
INSERT INTO orders (customer_id, product_id, qty)
  SELECT 1 + i % 100, 1 + i % 20, 1 + i % 5 FROM generate_series(1, 500) i;
SQL
say "shop database: 100 customers, 20 products, 500 orders"

# ---- 2. a trickle of writes ------------------------------------------------------
(
    i=0
    while sleep 1; do
        i=$((i + 1))
        sql="INSERT INTO orders (customer_id, product_id, qty) VALUES (1 + $i % 100, 1 + $i % 20, 1 + $i % 7);
             UPDATE orders SET status = (ARRAY['paid','shipped','delivered'])[1 + $i % 3]
               WHERE id = (SELECT id FROM orders ORDER BY random() LIMIT 1);"
        [ $((i % 5)) = 0 ] && sql="$sql DELETE FROM orders WHERE id = (SELECT min(id) FROM orders);"
        [ $((i % 7)) = 0 ] && sql="$sql UPDATE customers SET email = 'new$i@example.com' WHERE id = 1 + $i % 100;"
        psql_shop -c "$sql" >/dev/null 2>&1 || true
    done
) &
PIDS+=($!)

# ---- 3. sluice run ---------------------------------------------------------------
export SLUICE_DEMO_PG_PORT="$PGPORT" SLUICE_DEMO_PG_PASSWORD="unused-with-trust" SLUICE_DEMO_LAKE="$LAKE"
say "starting sluice run (broker, registry, worker); its log is var/demo/sluice.log"
"$SLUICE" run --set "data.dir=$DEMO/sluice" --set "worker.pipelines.dir=$ROOT/config/demo" \
    --set "broker.listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT" \
    --set "broker.admin.listeners=http://127.0.0.1:$ADMIN_PORT" \
    --set "registry.listeners=http://127.0.0.1:$REGISTRY_PORT" \
    --set "worker.listeners=http://127.0.0.1:$REST_PORT" 2>"$DEMO/sluice.log" &
SLUICE_PID=$!
for _ in $(seq 1 100); do
    grep -q '\[run\] serving' "$DEMO/sluice.log" 2>/dev/null && break
    kill -0 "$SLUICE_PID" 2>/dev/null || die "sluice run exited: $(tail -5 "$DEMO/sluice.log")"
    sleep 0.2
done

cat <<TXT

  sluice is running: PostgreSQL shop -> broker -> lake.

  connectors      curl -s localhost:$REST_PORT/connectors?expand=status
  schemas         curl -s localhost:$REGISTRY_PORT/subjects
  a topic         ./build/sluice consume -t shop.public.orders -b localhost:$BROKER_PORT | head
  the lake        find $LAKE -type f | sort | tail
                  (Avro object files: a new one per 200 rows or every 10 s)
  metrics         curl -s localhost:$REST_PORT/metrics ; curl -s localhost:$ADMIN_PORT/metrics
  the database    psql -h 127.0.0.1 -p $PGPORT -U postgres shop    (a write lands in the lake)
  the log         tail -f var/demo/sluice.log

  Ctrl-C stops everything.

TXT
wait "$SLUICE_PID" || true
