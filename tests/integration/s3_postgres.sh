#!/usr/bin/env bash
# s3_postgres.sh - the product's main job as a user runs it: rows change in
# PostgreSQL and land as objects in a bucket. A real PostgreSQL 15
# (wal_level=logical, pg_lib.sh), the sluice broker, `sluice registry`,
# s3rver (npm) as the S3 server, and one pipeline file
# postgres -> broker (Avro through the registry) -> two S3 sinks:
#
#   flat      Avro objects of flat rows (Debezium's ExtractNewRecordState,
#             deletes rewritten as __deleted=true rows, __op added)
#   envelope  JSON lines of the whole Debezium envelope
#
# The table `orders` has typed columns (int, smallint, text with quotes,
# backslashes, tabs, newlines and non-ASCII, numeric(10,2), boolean, double,
# date before and after 1970, timestamp(6), NULLs and empty strings), and
# REPLICA IDENTITY FULL so a delete carries the whole row. A trigger writes
# every change of orders, as its row image, into the table `changes` (not
# captured): that is the source of truth the lake is compared with.
#
#  1. snapshot: 400 rows exist before the pipeline starts (op 'r');
#  2. streaming: 400 inserts in one transaction, updates of a third and a
#     fifth of the rows (some twice), deletes of a seventh, a row inserted,
#     updated and deleted in one transaction, values set to NULL;
#  3. once every change is in complete objects, the objects are listed and
#     downloaded with awscli, decoded with avsc (s3_decode.js) and compared,
#     value by value, with `psql` output: every change of `changes` exactly
#     once in each sink (each change bumps `version`, so (id, version,
#     deleted) names one), each key's changes in order, the table rebuilt
#     from the flat objects equal to `SELECT * FROM orders`, and the
#     consumer groups committed up to the end of the topic.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
test_init s3_postgres
pg_trap

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DECODE="$ROOT/tests/integration/s3_decode.js"
s3_init
export PGCLIENTENCODING=UTF8

PLUGIN_ARGS=()
[ -n "${SLUICE_PLUGIN_PATH:-}" ] && PLUGIN_ARGS=(--set "plugin.path=$SLUICE_PLUGIN_PATH")

# ---- servers ----------------------------------------------------------------
start_pg main "wal_level = logical"
PG_PORT=$(pg_port main)
pg_sql main postgres "CREATE ROLE sluice LOGIN REPLICATION PASSWORD 'secret'"
pg_sql main postgres "CREATE DATABASE shop OWNER sluice"
PGPASSWORD=secret psql -h 127.0.0.1 -p "$PG_PORT" -U sluice -d shop -XAtq -v ON_ERROR_STOP=1 \
    >/dev/null 2>"$T/schema.err" <<'SQL' || { cat "$T/schema.err" >&2; fail "creating the schema"; }
CREATE TABLE orders (
    id int PRIMARY KEY,
    version int NOT NULL,
    customer text NOT NULL,
    qty smallint,
    total numeric(10, 2),
    paid boolean,
    score double precision,
    placed date,
    updated timestamp(6),
    note text
);
ALTER TABLE orders REPLICA IDENTITY FULL;
-- every change of orders as its row image (the old one for a delete), in order
CREATE TABLE changes (LIKE orders, deleted boolean NOT NULL, n bigserial PRIMARY KEY);
CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO changes SELECT OLD.*, true;
    ELSE
        INSERT INTO changes SELECT NEW.*, false;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_log AFTER INSERT OR UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION log_change();
-- rows lo..hi with every column's awkward values somewhere
CREATE FUNCTION add_orders(lo int, hi int) RETURNS void LANGUAGE sql AS $$
INSERT INTO orders
SELECT g, 1,
       CASE WHEN g % 10 = 0 THEN 'Zoë "quoted" \ back ' || g
            WHEN g % 13 = 0 THEN E'tab\there\nnew line ' || g
            ELSE 'customer-' || g END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 50 - 10)::smallint END,
       CASE WHEN g % 17 = 0 THEN NULL ELSE round((g * 7.31 - 1000)::numeric, 2) END,
       CASE WHEN g % 19 = 0 THEN NULL ELSE g % 2 = 0 END,
       (g - 200) * 1.1e10 / 7 + g / 3.0::float8,
       date '1969-11-20' + g * 13,
       timestamp '2026-12-02 03:04:05.123456' + g * interval '1 minute 0.000007 seconds',
       CASE WHEN g % 4 = 0 THEN NULL ELSE repeat('n', g % 30) END
FROM generate_series(lo, hi) g
$$;
SELECT add_orders(1, 400);
SQL
pg_sql main shop "SELECT count(*) FROM orders" | grep -qx 400 || fail "the snapshot rows are not there"

S3_PORT="$(free_port)"
S3URL="http://127.0.0.1:$S3_PORT"
start_s3rver "$S3_PORT" "$T/s3" --configure-bucket lake

start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
TOPIC=shop.public.orders
"$SLUICE" topics create -b "$BOOTSTRAP" -t "$TOPIC" --partitions 2 >/dev/null 2>&1 ||
    fail "sluice topics create $TOPIC --partitions 2"
start_registry
log "PostgreSQL on $PG_PORT, s3rver on $S3URL (bucket lake), registry on $REGISTRY"

# ---- the pipeline -------------------------------------------------------------
P="$T/pipelines"
mkdir -p "$P"
SINK_COMMON="\"connector.class\": \"s3\", \"topics\": \"$TOPIC\", \"s3.bucket.name\": \"lake\",
             \"store.url\": \"$S3URL\", \"aws.access.key.id\": \"S3RVER\",
             \"aws.secret.access.key\": \"S3RVER\", \"flush.size\": 200,
             \"rotate.schedule.interval.ms\": 2000,
             \"key.converter\": \"avro\", \"value.converter\": \"avro\""
cat >"$P/shop.json" <<JSON
{"name": "shop",
 "source": {"connector.class": "postgres", "database.hostname": "127.0.0.1",
            "database.port": $PG_PORT, "database.user": "sluice", "database.password": "secret",
            "database.dbname": "shop", "topic.prefix": "shop", "slot.name": "lake",
            "publication.autocreate.mode": "filtered", "table.include.list": "public\\\\.orders",
            "key.converter": "avro", "value.converter": "avro"},
 "sinks": {
   "flat": {$SINK_COMMON, "topics.dir": "flat",
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.unwrap.delete.handling.mode": "rewrite",
            "transforms.unwrap.add.fields": "op"},
   "envelope": {$SINK_COMMON, "topics.dir": "envelope", "format.class": "json",
                "behavior.on.null.values": "ignore"}}}
JSON
worker_pid=""
start_worker()
{
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
        --set "listeners=http://127.0.0.1:$(free_port)" --set offset.flush.interval.ms=1000 \
        --set "schema.registry.url=$REGISTRY" "${PLUGIN_ARGS[@]}" 2>>"$T/worker.log" &
    worker_pid=$!
    track_pid "$worker_pid"
}
has_log() { grep -q -- "$1" "$T/worker.log"; }
has_records() { [ "$(s3_records "$1")" -ge "$2" ]; }

start_worker
wait_for 30 has_log '\[shop.source/0\] snapshot complete' ||
    { tail -20 "$T/worker.log" >&2; fail "the snapshot did not complete within 30 s"; }
wait_for 30 has_records shop.flat 400 || { tail -20 "$T/worker.log" >&2; fail "flat: the snapshot's 400 rows are not in the lake"; }
pass "snapshot: 400 rows of orders in complete objects of the flat sink"

# ---- 2. streaming ---------------------------------------------------------------
PGPASSWORD=secret psql -h 127.0.0.1 -p "$PG_PORT" -U sluice -d shop -XAtq -v ON_ERROR_STOP=1 \
    >/dev/null 2>"$T/stream.err" <<'SQL' || { cat "$T/stream.err" >&2; fail "the streaming changes"; }
SELECT add_orders(401, 800);
UPDATE orders SET version = version + 1, qty = qty + 1, total = -total, note = 'updated ' || id
    WHERE id % 3 = 0;
UPDATE orders SET version = version + 1, paid = NOT paid, score = score * -3,
    updated = updated + interval '1 day 0.5 seconds', placed = NULL WHERE id % 5 = 0;
DELETE FROM orders WHERE id % 7 = 0;
BEGIN;
SELECT add_orders(1001, 1001);
UPDATE orders SET version = 2, customer = 'short-lived' WHERE id = 1001;
DELETE FROM orders WHERE id = 1001;
COMMIT;
UPDATE orders SET version = version + 1, qty = NULL, total = NULL, paid = NULL, note = NULL,
    placed = date '1970-01-01', updated = timestamp '1970-01-01 00:00:00' WHERE id = 1;
INSERT INTO orders VALUES (2000, 1, '', 0, 0, false, 0, date '0001-01-01', NULL, '');
SQL
N_CHANGES=$(pg_sql main shop "SELECT count(*) FROM changes")
N_ROWS=$(pg_sql main shop "SELECT count(*) FROM orders")
log "$N_CHANGES changes of orders in all, $N_ROWS rows at the end"
wait_for 40 has_records shop.flat "$N_CHANGES" ||
    fail "flat: $(s3_records shop.flat) of $N_CHANGES changes in complete objects after 40 s"
wait_for 20 has_records shop.envelope "$N_CHANGES" ||
    fail "envelope: $(s3_records shop.envelope) of $N_CHANGES changes in complete objects after 20 s"
pass "streaming: every one of the $N_CHANGES changes in complete objects of both sinks"

# ---- 3. the lake against psql -----------------------------------------------------
# committed offsets: the end of both partitions, once every object is complete
committed_all() # GROUP
{
    "$SLUICE" groups describe -b "$BOOTSTRAP" --group "$1" >"$T/group.txt" 2>&1 || return 1
    [ "$(awk -v t="$TOPIC" '$2 == t && $4 == $5 && $4 ~ /^[0-9]+$/' "$T/group.txt" | wc -l)" = 2 ]
}
for g in connect-shop.flat connect-shop.envelope; do
    wait_for 20 committed_all "$g" || { cat "$T/group.txt" >&2; fail "$g did not commit the end of $TOPIC"; }
done
pass "connect-shop.flat and connect-shop.envelope committed the log end of both partitions"
stop_worker

fetch() # PREFIX: download s3://lake/PREFIX/ into $T/dl/PREFIX; prints the files
{
    mkdir -p "$T/dl/$1"
    s3 s3 cp --recursive --quiet "s3://lake/$1/" "$T/dl/$1/" >/dev/null || fail "aws s3 cp s3://lake/$1/"
    find "$T/dl/$1" -type f | sort
}
for sink in flat envelope; do
    mapfile -t files < <(fetch "$sink")
    [ "${#files[@]}" -ge 2 ] || fail "$sink: ${#files[@]} objects"
    bad=$(printf '%s\n' "${files[@]}" |
        grep -v -E "/$sink/$TOPIC/partition=([01])/$TOPIC\+\1\+[0-9]{10}\.(avro|json)\$" | head -1)
    [ -z "$bad" ] || fail "$sink: unexpected object $bad"
    node "$DECODE" --tag "${files[@]}" >"$T/$sink.tsv" || fail "$sink: an object does not decode"
done
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d shop -Xq -v ON_ERROR_STOP=1 \
    -c "COPY (SELECT * FROM changes ORDER BY n) TO STDOUT WITH (FORMAT csv, NULL '\\N')" \
    >"$T/changes.csv" || fail "psql COPY changes"
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d shop -Xq -v ON_ERROR_STOP=1 \
    -c "COPY (SELECT *, false FROM orders ORDER BY id) TO STDOUT WITH (FORMAT csv, NULL '\\N')" \
    >"$T/orders.csv" || fail "psql COPY orders"

# compare.py WHAT: python3 checks of the decoded objects against psql's rows;
# prints one line per failure, nothing when all hold.
compare()
{
    python3 - "$T" "$1" <<'PY'
import base64, collections, csv, datetime, decimal, json, re, sys
T, what = sys.argv[1], sys.argv[2]
fails = []
def expect(cond, msg):
    if not cond and len(fails) < 20:
        fails.append(what + ": " + msg)

COLS = ["id", "version", "customer", "qty", "total", "paid", "score", "placed", "updated", "note"]
EPOCH_D, EPOCH_T = datetime.date(1970, 1, 1), datetime.datetime(1970, 1, 1)

# psql's text forms -> python values
def from_psql(row):
    v = [None if x == "\\N" else x for x in row]
    conv = [int, int, str, int, decimal.Decimal, lambda s: s == "t", float,
            datetime.date.fromisoformat, datetime.datetime.fromisoformat, str]
    vals = tuple(None if x is None else c(x) for c, x in zip(conv, v[:10]))
    return vals + (v[10] == "t",)

# the lake's Avro / Debezium JSON forms -> the same python values
def unscaled(b):
    return decimal.Decimal(int.from_bytes(b, "big", signed=True)).scaleb(-2)
def from_lake(row, deleted):
    tot = row["total"]
    if isinstance(tot, dict):  # avsc: a Buffer
        tot = unscaled(bytes(tot["data"]))
    elif isinstance(tot, str):  # Debezium JSON: base64
        tot = unscaled(base64.b64decode(tot))
    return (row["id"], row["version"], row["customer"], row["qty"], tot, row["paid"],
            row["score"],
            None if row["placed"] is None else EPOCH_D + datetime.timedelta(days=row["placed"]),
            None if row["updated"] is None
            else EPOCH_T + datetime.timedelta(microseconds=row["updated"]),
            row["note"], deleted)

# records in the lake, each with (partition, offset of its object, index)
lake = []
for line in open("%s/%s.tsv" % (T, what)):
    f, rec = line.rstrip("\n").split("\t", 1)
    m = re.search(r"\+(\d)\+(\d{10})\.(avro|json)$", f)
    lake.append(((int(m.group(1)), int(m.group(2)), len(lake)), json.loads(rec)))
lake.sort(key=lambda x: x[0])

changes = [from_psql(r) for r in csv.reader(open(T + "/changes.csv"))]
got = []
ops = collections.Counter()
for pos, r in lake:
    if what == "flat":
        expect(set(r) == set(COLS) | {"__op", "__deleted"}, "fields %s" % sorted(r))
        deleted = r.get("__deleted") == "true"
        expect((r.get("__op") == "d") == deleted, "__op %r with __deleted %r" % (r.get("__op"), r.get("__deleted")))
        op, row = r.get("__op"), r
    else:
        expect(set(r) >= {"before", "after", "source", "op", "ts_ms"}, "not an envelope: %s" % sorted(r))
        op = r.get("op")
        deleted = op == "d"
        row = r.get("before") if deleted else r.get("after")
        expect(r.get("source", {}).get("table") == "orders", "source.table %r" % r.get("source", {}).get("table"))
        if op == "u":
            expect(r["before"] is not None and r["before"]["version"] == r["after"]["version"] - 1,
                   "update of id %s: before %r" % (row["id"], r["before"]))
    ops[op] += 1
    got.append(from_lake(row, deleted))

# every change exactly once, values equal
want_c, got_c = collections.Counter(changes), collections.Counter(got)
expect(len(got) == len(changes), "%d records in the lake, %d changes in PostgreSQL" % (len(got), len(changes)))
for k in list((want_c - got_c).keys())[:5]:
    expect(False, "change missing or different in the lake: %r" % (k,))
for k in list((got_c - want_c).keys())[:5]:
    expect(False, "lake record not (or more than once) in PostgreSQL: %r (x%d)" % (k, got_c[k]))
keys = collections.Counter((c[0], c[1], c[10]) for c in got)
expect(all(n == 1 for n in keys.values()), "a change (id, version, deleted) repeats in the lake")
# the snapshot rows as reads, the rest as changes
snap = sum(1 for c in changes if c[0] <= 400 and c[1] == 1 and not c[10])
expect(ops["r"] == snap, "%d snapshot reads (op r), expected %d" % (ops["r"], snap))
expect(ops["c"] + ops["r"] == sum(1 for c in changes if c[1] == 1 and not c[10]), "creates: %r" % ops)
expect(ops["d"] == sum(1 for c in changes if c[10]), "deletes: %r" % ops)
# each key's changes in order (same key, same partition; objects by offset)
last = {}
for c in got:
    prev = last.get(c[0])
    expect(prev is None or (c[1], c[10]) > prev, "id %d: %r after %r" % (c[0], (c[1], c[10]), prev))
    last[c[0]] = (c[1], c[10])
# the table rebuilt from the lake equals SELECT * FROM orders
rows = {}
for c in got:
    if c[10]:
        rows.pop(c[0], None)
    else:
        rows[c[0]] = c
table = [from_psql(r) for r in csv.reader(open(T + "/orders.csv"))]
expect([rows[k] for k in sorted(rows)] == table,
       "the table rebuilt from the lake (%d rows) differs from SELECT * FROM orders (%d rows)"
       % (len(rows), len(table)))
print("\n".join(fails) if fails else "ok %d records (%s), %d rows rebuilt" %
      (len(got), " ".join("%s=%d" % kv for kv in sorted(ops.items())), len(rows)))
PY
}
for sink in flat envelope; do
    out=$(compare "$sink")
    case "$out" in
    ok*) pass "$sink: ${out#ok } from $(find "$T/dl/$sink" -type f | wc -l) objects: every change of PostgreSQL exactly once, values equal to psql's, per-key order kept, the rebuilt table equals SELECT * FROM orders" ;;
    *) echo "$out" >&2; fail "$sink: the lake differs from PostgreSQL" ;;
    esac
done
finish
