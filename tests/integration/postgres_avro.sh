#!/usr/bin/env bash
# postgres_avro.sh - schema changes of a PostgreSQL table through the Avro
# converter and the schema registry, as a Debezium user meets them:
#
#  1. rows streamed with the avro converter register subject
#     shop.public.items-value, version 1; the file sink decodes them back
#     through the registry;
#  2. ALTER TABLE ... ADD COLUMN note text (nullable): a compatible
#     evolution, registered as version 2 under the default BACKWARD level,
#     and the new column's values arrive;
#  3. ALTER COLUMN qty TYPE text: the registry refuses the new schema (409);
#     the source task is FAILED with a message naming the subject, what is
#     incompatible and how to go on; the worker and its REST API stay up and
#     nothing after the last good row reaches the topic;
#  4. following that message (the subject's compatibility to NONE, restart
#     the task) the changed row arrives, with qty now a string;
#  5. NOT NULL columns: name (NOT NULL) is a required field ("string", no
#     union) in the registered schema, qty (nullable) ["null", "int"] with
#     default null; a delete under REPLICA IDENTITY DEFAULT (only the key
#     is sent) decodes with name = "" (Debezium's fallback); DROP NOT NULL
#     registers a new, compatible version (BACKWARD); SET NOT NULL is
#     refused by the registry (409: the new reader cannot read the nulls of
#     the old writer): FAILED with directions, which, followed, let it through;
#  6. ADD COLUMN ... NOT NULL DEFAULT <constant>: the default is the field's
#     Avro default (as Debezium), so the new version is compatible, and a
#     key-only delete's before image carries it.
# Also: the initial snapshot's progress (rows done, estimate, rate) and the
# slot's lag in bytes, in the task's /status and in /metrics; and the WAL
# the slot keeps on disk (slot.retained.bytes) while a transaction is left
# open, as the server counts it, falling again once it ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
test_init postgres_avro
pg_trap

start_pg main "wal_level = logical"
PORT=$(pg_port main)
pg_sql main postgres "CREATE ROLE sluice LOGIN REPLICATION PASSWORD 'secret'"
pg_sql main postgres "CREATE DATABASE shop OWNER sluice"
pg_sql main shop "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int); ALTER TABLE items OWNER TO sluice"
pg_sql main shop "INSERT INTO items SELECT g, 'seed-' || g, g FROM generate_series(1001, 2000) g; ANALYZE items"

start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
start_registry
REG="$REGISTRY"
"$SLUICE" topics create -b "$BOOTSTRAP" -t shop.public.items --partitions 1 --if-not-exists >/dev/null 2>&1

P="$T/pipelines"
mkdir -p "$P"
cat >"$P/shop.json" <<JSON
{"name": "shop",
 "source": {"connector.class": "postgres", "database.hostname": "127.0.0.1", "database.port": $PORT,
            "database.user": "sluice", "database.password": "secret", "database.dbname": "shop",
            "topic.prefix": "shop", "slot.name": "avro", "table.include.list": "public\\\\.items",
            "publication.autocreate.mode": "filtered",
            "key.converter": "avro", "value.converter": "avro"},
 "sinks": {"out": {"connector.class": "file", "topics": "shop.public.items", "file": "$T/out.jsonl",
                   "key.converter": "avro", "value.converter": "avro"}}}
JSON
pg_worker "$P"

task_state() { curl -s "$W/connectors/shop.source/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['tasks'][0]['state'])" 2>/dev/null; }
running() { [ "$(task_state)" = RUNNING ]; }
versions() { curl -s "$REG/subjects/shop.public.items-value/versions"; }
# after ID: the "after" image of the row with that id in the sink's output, as compact JSON
after() { python3 - "$T/out.jsonl" "$1" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    v = json.loads(l)["value"]
    if v and v.get("after") and v["after"]["id"] == int(sys.argv[2]):
        print(json.dumps(v["after"], sort_keys=True, separators=(",", ":")))
PY
}
# before ID: the "before" image of the delete of the row with that id
before() { python3 - "$T/out.jsonl" "$1" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    v = json.loads(l)["value"]
    if v and v.get("op") == "d" and v["before"]["id"] == int(sys.argv[2]):
        print(json.dumps(v["before"], sort_keys=True, separators=(",", ":")))
PY
}
# field_type VERSION FIELD: the type of FIELD of the Value record in version
# VERSION of the subject, and its default when it has one, as compact JSON
field_type() {
    curl -sf "$REG/subjects/shop.public.items-value/versions/$1" | python3 -c "
import json, sys
s = json.loads(json.load(sys.stdin)['schema'])
row = [f for f in s['fields'] if f['name'] == 'before'][0]['type'][1]  # after names it
f = [f for f in row['fields'] if f['name'] == '$2'][0]
print(json.dumps([f['type'], f.get('default', 'no default')], separators=(',', ':')))"
}

# ---- 1. version 1 ---------------------------------------------------------------
wait_for 60 running || fail "shop.source is not RUNNING: $(tail -3 "$T/worker.log")"
wait_for 60 have_lines "$T/out.jsonl" 1000 || fail "the snapshot's 1000 rows did not arrive: $(tail -3 "$T/worker.log")"
metric_of() { curl -s "$W/connectors/shop.source/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['tasks'][0].get('metrics', {}).get('$1', ''))"; }
[ "$(metric_of snapshot.rows)" = 1000 ] || fail "/status: snapshot.rows '$(metric_of snapshot.rows)'"
est=$(metric_of snapshot.rows.estimated)
[ -n "$est" ] && [ "$est" -ge 900 ] && [ "$est" -le 1100 ] || fail "/status: snapshot.rows.estimated '$est'"
[ -n "$(metric_of snapshot.rows.per.second)" ] || fail "/status: no snapshot.rows.per.second"
[ "$(metric_of snapshot.eta.seconds)" = 0 ] || fail "/status: snapshot.eta.seconds '$(metric_of snapshot.eta.seconds)' once done"
[ "$(metric_of snapshot.tables.total)" = 1 ] && [ "$(metric_of snapshot.table.number)" = 1 ] &&
    [ "$(metric_of snapshot.table.rows)" = 1000 ] || fail "/status: table $(metric_of snapshot.table.number) of $(metric_of snapshot.tables.total), $(metric_of snapshot.table.rows) rows"
test_est=$(metric_of snapshot.table.rows.estimated)
[ -n "$test_est" ] && [ "$test_est" -ge 900 ] && [ "$test_est" -le 1100 ] || fail "/status: snapshot.table.rows.estimated '$test_est'"
grep -Eq "snapshot: table 1 of 1, public.items: 1000 rows of about [0-9]+ \([0-9]+%\); all tables: 1000 rows of about [0-9]+ \([0-9]+%\), [0-9]+ rows/s, ETA 0 s" "$T/worker.log" ||
    fail "no per-table progress line: $(grep 'snapshot: table' "$T/worker.log" | tail -2)"
pass "snapshot progress in /status: table 1 of 1, 1000 rows of about $test_est; all tables 1000 of about $est, $(metric_of snapshot.rows.per.second) rows/s, ETA 0 s"
pg_sql main shop "INSERT INTO items VALUES (1, 'bolt', 10), (2, 'nut', 20)"
wait_for 60 have_lines "$T/out.jsonl" 1002 || fail "rows 1-2 did not arrive: $(tail -3 "$T/worker.log")"
# the gauge is set once a second while streaming: the rows may be in the
# file (it shows lines as soon as they are written) before its first time
has_lag() { lag=$(metric_of slot.lag.bytes); [ -n "$lag" ] && [ "$lag" -ge 0 ]; }
wait_for 10 has_lag || fail "/status: slot.lag.bytes '$lag' 10 s into streaming"
curl -s "$W/metrics" | grep -Eq '^sluice_plugin_slot_lag_bytes\{connector="shop.source",task="0"\} [0-9]+$' ||
    fail "/metrics lacks sluice_plugin_slot_lag_bytes"
curl -s "$W/metrics" | grep -Eq '^sluice_plugin_snapshot_rows_total\{connector="shop.source",task="0"\} 1000$' ||
    fail "/metrics lacks sluice_plugin_snapshot_rows_total 1000"
pass "the slot's lag ($lag bytes) in /status and /metrics, with the snapshot counters"
[ "$(versions)" = "[1]" ] || fail "versions after the first rows: $(versions)"
[ "$(after 2)" = '{"id":2,"name":"nut","qty":20}' ] || fail "row 2 decoded as $(after 2)"
pass "rows through the avro converter: subject shop.public.items-value version 1, decoded back by the sink"
[ "$(field_type 1 id)" = '["int","no default"]' ] || fail "v1 id: $(field_type 1 id)"
[ "$(field_type 1 name)" = '["string","no default"]' ] || fail "v1 name (NOT NULL): $(field_type 1 name)"
[ "$(field_type 1 qty)" = '[["null","int"],null]' ] || fail "v1 qty (nullable): $(field_type 1 qty)"
pass "registered schema: NOT NULL name is a required \"string\", nullable qty is [\"null\", \"int\"] default null"
pg_sql main shop "DELETE FROM items WHERE id = 1001"
wait_for 60 have_lines "$T/out.jsonl" 1004 || fail "the delete (+ tombstone) did not arrive"
[ "$(before 1001)" = '{"id":1001,"name":"","qty":null}' ] || fail "delete of 1001 decoded as '$(before 1001)'"
[ "$(versions)" = "[1]" ] || fail "versions after the delete: $(versions)"
pass "delete under REPLICA IDENTITY DEFAULT: before = key + fallback \"\" for NOT NULL name + null qty, a valid version-1 record"

# ---- 2. a compatible change --------------------------------------------------------
pg_sql main shop "ALTER TABLE items ADD COLUMN note text; INSERT INTO items VALUES (3, 'washer', 30, 'zinc')"
wait_for 60 have_lines "$T/out.jsonl" 1005 || fail "row 3 did not arrive"
[ "$(versions)" = "[1,2]" ] || fail "versions after ADD COLUMN: $(versions)"
curl -s "$REG/subjects/shop.public.items-value/versions/2/schema" | grep -q '"note"' ||
    fail "version 2 lacks the new column"
[ "$(after 3)" = '{"id":3,"name":"washer","note":"zinc","qty":30}' ] || fail "row 3 decoded as $(after 3)"
pass "ADD COLUMN note (nullable): version 2 registered under BACKWARD, row 3 carries note"
pg_sql main shop "ALTER TABLE items ALTER COLUMN name DROP NOT NULL; INSERT INTO items VALUES (5, NULL, 50, NULL)"
wait_for 60 have_lines "$T/out.jsonl" 1006 || fail "row 5 did not arrive: $(tail -3 "$T/worker.log")"
[ "$(versions)" = "[1,2,3]" ] || fail "versions after DROP NOT NULL: $(versions)"
[ "$(field_type 3 name)" = '[["null","string"],null]' ] || fail "v3 name: $(field_type 3 name)"
[ "$(after 5)" = '{"id":5,"name":null,"note":null,"qty":50}' ] || fail "row 5 decoded as $(after 5)"
pass "DROP NOT NULL name: version 3 (name [\"null\", \"string\"]) registered under BACKWARD, row 5 has name null"

# ---- 3. an incompatible change -----------------------------------------------------
end_before=$(kcat -Q -b "$BOOTSTRAP" -t shop.public.items:0:-1 2>/dev/null | awk '{print $NF}')
pg_sql main shop "ALTER TABLE items ALTER COLUMN qty TYPE text USING qty::text; INSERT INTO items VALUES (4, 'rivet', '40', NULL)"
failed() { [ "$(task_state)" = FAILED ]; }
wait_for 60 failed || fail "the incompatible change did not fail the task (state $(task_state))"
trace=$(curl -s "$W/connectors/shop.source/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['tasks'][0]['trace'])")
for want in "changed incompatibly" "shop.public.items-value" "qty" "PUT /config/shop.public.items-value"; do
    case "$trace" in *"$want"*) ;; *) fail "the FAILED trace lacks '$want': $trace" ;; esac
done
curl -sf "$W/connectors" >/dev/null || fail "the worker's REST API is down"
end_after=$(kcat -Q -b "$BOOTSTRAP" -t shop.public.items:0:-1 2>/dev/null | awk '{print $NF}')
[ "$end_after" = "$end_before" ] || fail "records reached the topic after the refused schema ($end_before -> $end_after)"
pass "ALTER COLUMN qty TYPE text: task FAILED, the worker up, nothing written: $(echo "$trace" | head -c 300)..."

# ---- 4. doing what the message says -------------------------------------------------
curl -sf -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    -d '{"compatibility": "NONE"}' "$REG/config/shop.public.items-value" >/dev/null || fail "PUT /config"
curl -sf -X POST "$W/connectors/shop.source/tasks/0/restart" >/dev/null || fail "restart of the task"
wait_for 60 have_lines "$T/out.jsonl" 1007 || fail "row 4 did not arrive after the restart: $(tail -3 "$T/worker.log")"
[ "$(after 4)" = '{"id":4,"name":"rivet","note":null,"qty":"40"}' ] || fail "row 4 decoded as $(after 4)"
[ "$(versions)" = "[1,2,3,4]" ] || fail "versions after the restart: $(versions)"
pass "compatibility NONE + task restart: version 4 registered, row 4 arrives with qty as a string"

# ---- 5. SET NOT NULL: the registry's check decides --------------------------------------
curl -sf -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    -d '{"compatibility": "BACKWARD"}' "$REG/config/shop.public.items-value" >/dev/null || fail "PUT /config BACKWARD"
pg_sql main shop "UPDATE items SET name = 'unnamed' WHERE name IS NULL; ALTER TABLE items ALTER COLUMN name SET NOT NULL; INSERT INTO items VALUES (6, 'pin', '60', NULL)"
wait_for 60 failed || fail "SET NOT NULL under BACKWARD did not fail the task (state $(task_state), versions $(versions))"
trace=$(curl -s "$W/connectors/shop.source/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['tasks'][0]['trace'])")
for want in "changed incompatibly" "shop.public.items-value" "cannot read the writer's union branch 0 (null) (field 'name')" "PUT /config/shop.public.items-value"; do
    case "$trace" in *"$want"*) ;; *) fail "the SET NOT NULL trace lacks '$want': $trace" ;; esac
done
[ "$(versions)" = "[1,2,3,4]" ] || fail "versions after the refused SET NOT NULL: $(versions)"
pass "SET NOT NULL name under BACKWARD: refused (409), task FAILED: $(echo "$trace" | head -c 250)..."
curl -sf -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    -d '{"compatibility": "NONE"}' "$REG/config/shop.public.items-value" >/dev/null || fail "PUT /config NONE"
curl -sf -X POST "$W/connectors/shop.source/tasks/0/restart" >/dev/null || fail "restart of the task"
have_row6() { [ "$(after 6)" = '{"id":6,"name":"pin","note":null,"qty":"60"}' ]; }
wait_for 60 have_row6 || fail "row 6 decoded as '$(after 6)' after the restart: $(tail -3 "$T/worker.log")"
[ "$(versions)" = "[1,2,3,4,5]" ] && [ "$(field_type 5 name)" = '["string","no default"]' ] ||
    fail "after SET NOT NULL + NONE: versions $(versions), name $(field_type 5 name)"
pass "compatibility NONE + restart: version 5 with a required name, row 6 arrives"

# ---- 6. ADD COLUMN ... NOT NULL DEFAULT: the default is in the schema ---------------------
curl -sf -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    -d '{"compatibility": "BACKWARD"}' "$REG/config/shop.public.items-value" >/dev/null || fail "PUT /config BACKWARD"
pg_sql main shop "ALTER TABLE items ADD COLUMN stock int NOT NULL DEFAULT 7, ADD COLUMN unit char(3) NOT NULL DEFAULT 'pc', ADD COLUMN ok boolean NOT NULL DEFAULT true; INSERT INTO items (id, name, qty, stock) VALUES (7, 'cog', '70', 3); DELETE FROM items WHERE id = 7"
have_del7() { [ -n "$(before 7)" ]; }
wait_for 60 have_del7 || fail "the delete of row 7 did not arrive (state $(task_state)): $(tail -3 "$T/worker.log")"
[ "$(versions)" = "[1,2,3,4,5,6]" ] || fail "versions after ADD COLUMN NOT NULL DEFAULT: $(versions)"
[ "$(field_type 6 stock)" = '["int",7]' ] && [ "$(field_type 6 unit)" = '["string","pc "]' ] &&
    [ "$(field_type 6 ok)" = '["boolean",true]' ] ||
    fail "v6 stock $(field_type 6 stock), unit $(field_type 6 unit), ok $(field_type 6 ok)"
[ "$(after 7)" = '{"id":7,"name":"cog","note":null,"ok":true,"qty":"70","stock":3,"unit":"pc "}' ] ||
    fail "row 7 decoded as $(after 7)"
[ "$(before 7)" = '{"id":7,"name":"","note":null,"ok":true,"qty":null,"stock":7,"unit":"pc "}' ] ||
    fail "delete of 7 decoded as $(before 7)"
pass "ADD COLUMN stock int NOT NULL DEFAULT 7, unit char(3) ... DEFAULT 'pc', ok boolean ... DEFAULT true: version 6 under BACKWARD (defaults 7, \"pc \", true); a key-only delete gets them"
# ---- 7. the WAL the slot keeps on disk -------------------------------------------------
# A transaction left open holds the slot's restart_lsn back: every byte of
# WAL written after it stays on disk, however far the worker has confirmed.
# The stream cannot tell (it only sends how far decoding got); the server can.
psql -h 127.0.0.1 -p "$PORT" -U postgres -d shop -XAtq \
    -c "BEGIN; INSERT INTO items (id, name) VALUES (900001, 'held open'); SELECT pg_sleep(120)" >/dev/null 2>&1 &
open_tx=$!
track_pid $open_tx
wait_for 10 eval '[ "$(pg_sql main shop "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '"'"'BEGIN; INSERT INTO items (id, name) VALUES (900001%'"'"' AND state = '"'"'active'"'"'")" = 1 ]' ||
    fail "the open transaction did not start"
base=$(lines "$T/out.jsonl")
pg_sql main shop "INSERT INTO items (id, name, qty) SELECT g, 'bulk-' || g, g::text FROM generate_series(10001, 30000) g"
wait_for 60 have_lines "$T/out.jsonl" $((base + 20000)) || fail "the 20000 bulk rows did not arrive: $(tail -3 "$T/worker.log")"
slot_bytes() { pg_sql main shop "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint FROM pg_replication_slots WHERE slot_name = 'avro'"; }
held=$(slot_bytes restart_lsn)
[ "$held" -ge 1000000 ] || fail "the server says the slot retains only $held bytes behind an open transaction"
retained_at_least() { retained=$(metric_of slot.retained.bytes); [ -n "$retained" ] && [ "$retained" -ge "$1" ]; }
wait_for 10 retained_at_least "$held" || fail "/status: slot.retained.bytes '$retained', the server says $held"
lag=$(metric_of slot.lag.bytes)
[ "$lag" -lt "$held" ] || fail "/status: slot.lag.bytes $lag although every row is delivered (retained $held)"
pass "an open transaction: slot.retained.bytes $retained (the server: $held), slot.lag.bytes $lag (all delivered)"
# (the backend sleeps on whether or not its client is gone: end it server-side)
pg_sql main shop "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; INSERT INTO items (id, name) VALUES (900001%'" >/dev/null
wait $open_tx 2>/dev/null
# restart_lsn moves at the next running-transactions record (a checkpoint
# writes one) the worker confirms past
released() { pg_sql main shop "CHECKPOINT; INSERT INTO items (id, name) VALUES (900002, 'after') ON CONFLICT (id) DO UPDATE SET stock = items.stock + 1" >/dev/null
             retained=$(metric_of slot.retained.bytes); [ -n "$retained" ] && [ "$retained" -lt 1000000 ]; }
wait_for 30 released || fail "slot.retained.bytes still $retained after the open transaction ended (server: $(slot_bytes restart_lsn))"
pass "the transaction ended: slot.retained.bytes down to $retained"
finish
