#!/usr/bin/env bash
# postgres_types.sh - every supported PostgreSQL type through the avro
# converter and the schema registry, as a Debezium consumer reads them:
#
#  1. the registered schemas: the Envelope / Value / Key records named as
#     Debezium's AvroConverter output names them, and each column's Avro
#     type with its Debezium semantic name (connect.name) and parameters
#     (Decimal precision/scale, VariableScaleDecimal, int16, MicroTime,
#     MicroTimestamp, ZonedTime, ZonedTimestamp, MicroDuration, Date, Uuid,
#     Json, Xml, Bits length, Enum allowed values), arrays of nullable items;
#  2. the values, decoded back through the registry by the file sink, field
#     by field against what was written: the snapshot (COPY text) and the
#     stream (pgoutput) of the same rows, a row of NULLs, and arrays of
#     numeric, numeric(p,s), bytea, timestamptz, date, bool, uuid, an enum
#     and a domain, with NULL items;
#  3. logical decoding messages (pg_logical_emit_message) in
#     <topic.prefix>.message as Debezium writes them: a transactional one with
#     its transaction (txId, after the row it follows, never when rolled
#     back), one that is not, and message.prefix.exclude.list;
#  4. an incremental snapshot signalled through a table whose name needs
#     quoting (public."Signals": mixed case);
#  5. the publication dropped under the streaming task: FAILED at the next
#     change with what happened and what to do, not an endless reconnect;
#  6. the extension types Debezium maps (citext, ltree, hstore, with arrays of
#     them) and point, schemas and values, snapshot and stream: hstore as a
#     JSON object string by default and as an Avro map with
#     hstore.handling.mode=map (a second connector on the same table); and a
#     numeric of negative scale and one of scale beyond its precision
#     (PostgreSQL 15) as decimals Avro allows; bytea and bytea[] as strings
#     under binary.handling.mode hex (the first connector) and
#     base64-url-safe (the second).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
test_init postgres_types
pg_trap
HERE="$(cd "$(dirname "$0")" && pwd)"

start_pg main "wal_level = logical"
PORT=$(pg_port main)
pg_sql main postgres "CREATE ROLE sluice LOGIN REPLICATION PASSWORD 'secret'"
pg_sql main postgres "CREATE DATABASE shop OWNER sluice"
pg_sql_file main shop "$HERE/pg_schema.sql" >/dev/null || fail "loading pg_schema.sql"
pg_sql main shop "UPDATE alltypes SET vc = E'var\\tchar\\n\\\\' WHERE id = 1"
pg_sql main shop "CREATE TABLE arrays (id int PRIMARY KEY, an numeric[], ad2 numeric(5,2)[], aby bytea[],
    atz timestamptz[], adt date[], ab bool[], au uuid[], ae mood[], adm posint[]);
  INSERT INTO arrays VALUES (1, '{1.5,NULL,-2.25}', '{1.25,NULL}', '{\"\\\\x00ff\",NULL}',
    '{\"2024-02-29 13:14:15.5+02\",NULL}', '{2024-02-29,NULL}', '{t,f,NULL}',
    '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}', '{sad,happy,NULL}', '{1,2,NULL}'),
    (2, '{}', NULL, '{}', NULL, NULL, NULL, NULL, '{}', NULL);
  GRANT SELECT ON arrays TO sluice;
  CREATE TABLE \"Signals\" (id text PRIMARY KEY, type text NOT NULL, data text);
  GRANT SELECT, INSERT ON \"Signals\" TO sluice"
# hs of row 1: keys with a blank, a quote and a backslash, an empty key and
# value, a NULL value; hstore's output quotes and escapes them again
psql -h 127.0.0.1 -p "$PORT" -U postgres -d shop -XAtq -v ON_ERROR_STOP=1 <<'SQL' >/dev/null || fail "ext table"
CREATE EXTENSION citext; CREATE EXTENSION ltree; CREATE EXTENSION hstore;
CREATE TABLE ext (id int PRIMARY KEY, ci citext, lt ltree, hs hstore, pt point, aci citext[],
  ahs hstore[], apt point[], ns numeric(2,-3), ns2 numeric(2,5), bb bytea, abb bytea[]);
INSERT INTO ext VALUES (1, 'MiXed Case', 'Top.Science.Astronomy',
  'a=>1, "b c"=>NULL, "q\"\\"=>"x\\y", ""=>""', '(1.5,-2)', '{One,NULL}',
  '{"k=>v",NULL}', '{"(0,0)",NULL,"(3,4.25)"}', 12345, 0.00012, '\xfbff00', '{"\\xfbef",NULL}'),
  (2, NULL, NULL, '', NULL, '{}', NULL, '{}', NULL, NULL, NULL, NULL);
GRANT SELECT ON ext TO sluice;
SQL

start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
start_registry
for t in av.public.alltypes av.public.arrays av.message av.transaction ej.public.ext em.public.ext; do
    "$SLUICE" topics create -b "$BOOTSTRAP" -t "$t" --partitions 1 --if-not-exists >/dev/null 2>&1
done
P="$T/pipelines"
mkdir -p "$P"
OUT="$T/out.jsonl"
cat >"$P/types.json" <<JSON
{"name": "types",
 "source": {"connector.class": "postgres", "database.hostname": "127.0.0.1", "database.port": $PORT,
            "database.user": "sluice", "database.password": "secret", "database.dbname": "shop",
            "topic.prefix": "av", "slot.name": "types", "publication.name": "dbz_publication",
            "table.include.list": "public\\\\.alltypes,public\\\\.arrays",
            "column.exclude.list": "public\\\\.alltypes\\\\.secret", "message.prefix.exclude.list": "skip.*",
            "signal.data.collection": "public.Signals", "provide.transaction.metadata": true,
            "key.converter": "avro", "value.converter": "avro"},
 "sinks": {"out": {"connector.class": "file", "topics": "av.public.alltypes,av.public.arrays,av.message,av.transaction",
                   "file": "$OUT", "key.converter": "avro", "value.converter": "avro"}}}
JSON
# the extension types (section 6): hstore.handling.mode json (the default)
# and map, one connector each
for m in json map; do
    cat >"$P/ext_$m.json" <<JSON
{"name": "ext_$m",
 "source": {"connector.class": "postgres", "database.hostname": "127.0.0.1", "database.port": $PORT,
            "database.user": "sluice", "database.password": "secret", "database.dbname": "shop",
            "topic.prefix": "e${m:0:1}", "slot.name": "ext_$m", "publication.name": "dbz_publication",
            "table.include.list": "public\\\\.ext", "hstore.handling.mode": "$m",
            "binary.handling.mode": "$([ $m = json ] && echo hex || echo base64-url-safe)",
            "key.converter": "avro", "value.converter": "avro"},
 "sinks": {"out": {"connector.class": "file", "topics": "e${m:0:1}.public.ext", "file": "$T/ext_$m.jsonl",
                   "key.converter": "avro", "value.converter": "avro"}}}
JSON
done
pg_worker "$P"

wait_for 60 have_lines "$OUT" 4 || fail "the snapshot's 4 rows did not arrive: $(tail -3 "$T/worker.log")"
pg_sql main shop "INSERT INTO alltypes SELECT 3, b, i2, i8, f4, f8, n, nv, m, t, vc, c, by, u, j, jb, x, d, tm, ttz, ts, tstz, iv, ip, net, mac, bt, vb, e, ai, at, dm FROM alltypes WHERE id = 1;
  INSERT INTO arrays SELECT 3, an, ad2, aby, atz, adt, ab, au, ae, adm FROM arrays WHERE id = 1"
wait_for 60 have_lines "$OUT" 6 || fail "the streamed rows did not arrive: $(tail -3 "$T/worker.log")"

# ---- 1. the registered schemas ----------------------------------------------------
curl -sf "$REGISTRY/subjects/av.public.alltypes-value/versions/latest" >"$T/value.json" || fail "no value subject"
curl -sf "$REGISTRY/subjects/av.public.alltypes-key/versions/latest" >"$T/key.json" || fail "no key subject"
curl -sf "$REGISTRY/subjects/av.public.arrays-value/versions/latest" >"$T/arrays.json" || fail "no arrays subject"
check_py "registered schemas: Envelope/Value/Key named as Debezium's, every column's Avro type and semantic name (Decimal, VariableScaleDecimal, int16, MicroTime, MicroTimestamp, ZonedTime, ZonedTimestamp, MicroDuration, Date, Uuid, Json, Xml, Bits, Enum), arrays of nullable items" "$T/value.json" "$T/key.json" "$T/arrays.json" <<'PY'
env = json.loads(json.load(open(sys.argv[3]))["schema"])
key = json.loads(json.load(open(sys.argv[4]))["schema"])
arr = json.loads(json.load(open(sys.argv[5]))["schema"])
expect((env["type"], env["name"], env.get("namespace"), env.get("connect.name")) ==
       ("record", "Envelope", "av.public.alltypes", "av.public.alltypes.Envelope"),
       "envelope record: %r" % {k: env.get(k) for k in ("name", "namespace", "connect.name")})
expect([f["name"] for f in env["fields"]][:6] == ["before", "after", "source", "transaction", "op", "ts_ms"],
       "envelope fields (Debezium's order): %r" % [f["name"] for f in env["fields"]])
tx = [f for f in env["fields"] if f["name"] == "transaction"]
expect(tx and tx[0].get("default", 1) is None and tx[0]["type"][0] == "null"
       and tx[0]["type"][1].get("connect.name") == "event.block"
       and [(f["name"], f["type"]) for f in tx[0]["type"][1]["fields"]] ==
           [("id", "string"), ("total_order", "long"), ("data_collection_order", "long")],
       "transaction block schema: %r" % (tx[0] if tx else None))
expect((key["name"], key.get("namespace"), [f["name"] for f in key["fields"]]) ==
       ("Key", "av.public.alltypes", ["id"]), "key record: %r" % key)
before = env["fields"][0]["type"]
expect(before[0] == "null" and before[1]["name"] == "Value" and env["fields"][0].get("default", 1) is None,
       "before is not [null, Value] default null: %r" % before[:1])
value = before[1]
cols = {f["name"]: f for f in value["fields"]}
expect("secret" not in cols, "the excluded column is in the schema")
def col(name):
    t = cols[name]["type"]
    expect(isinstance(t, list) and t[0] == "null" and cols[name].get("default", 1) is None,
           "%s: nullable column is not [null, T] default null: %r" % (name, t))
    return t[1] if isinstance(t, list) else t
def sem(name, avro_type, connect_name, **extra):
    t = col(name)
    got = t if isinstance(t, str) else t.get("type")
    expect(got == avro_type, "%s: type %r, expected %r" % (name, got, avro_type))
    if connect_name:
        expect(isinstance(t, dict) and t.get("connect.name") == connect_name,
               "%s: connect.name %r, expected %r" % (name, t.get("connect.name") if isinstance(t, dict) else None, connect_name))
    for k, v in extra.items():
        k = k.replace("_", ".")
        expect(isinstance(t, dict) and t.get(k) == v, "%s: %s = %r, expected %r" % (name, k, t.get(k) if isinstance(t, dict) else None, v))
expect(cols["id"]["type"] == "int", "id (primary key, NOT NULL) is not a required int: %r" % cols["id"]["type"])
sem("b", "boolean", None)
sem("i2", "int", None, connect_type="int16")
sem("i8", "long", None)
sem("f4", "float", None)
sem("f8", "double", None)
sem("n", "bytes", "org.apache.kafka.connect.data.Decimal", logicalType="decimal", precision=10, scale=3,
    connect_parameters={"scale": "3", "connect.decimal.precision": "10"})
nv = col("nv")
expect(nv.get("type") == "record" and nv.get("connect.name") == "io.debezium.data.VariableScaleDecimal"
       and [(f["name"], f["type"]) for f in nv.get("fields", [])] == [("scale", "int"), ("value", "bytes")],
       "nv (numeric): not io.debezium.data.VariableScaleDecimal {scale int, value bytes}: %r" % nv)
sem("m", "bytes", "org.apache.kafka.connect.data.Decimal", logicalType="decimal", scale=2)
for c in ("t", "vc", "c", "ip", "net", "mac"):
    sem(c, "string", None)
sem("by", "bytes", None)
sem("u", "string", "io.debezium.data.Uuid")
sem("j", "string", "io.debezium.data.Json")
sem("jb", "string", "io.debezium.data.Json")
sem("x", "string", "io.debezium.data.Xml")
sem("d", "int", "io.debezium.time.Date")
sem("tm", "long", "io.debezium.time.MicroTime")
sem("ttz", "string", "io.debezium.time.ZonedTime")
sem("ts", "long", "io.debezium.time.MicroTimestamp")
sem("tstz", "string", "io.debezium.time.ZonedTimestamp")
sem("iv", "long", "io.debezium.time.MicroDuration")
sem("bt", "bytes", "io.debezium.data.Bits", connect_parameters={"length": "4"})
sem("vb", "bytes", "io.debezium.data.Bits", connect_parameters={"length": "8"})
sem("e", "string", "io.debezium.data.Enum", connect_parameters={"allowed": "sad,ok,happy"})
sem("dm", "int", None)
for c, item in (("ai", "int"), ("at", "string")):
    t = col(c)
    expect(t.get("type") == "array" and t.get("items") == ["null", item],
           "%s: not an array of [null, %s]: %r" % (c, item, t))
acols = {f["name"]: f["type"] for f in arr["fields"][0]["type"][1]["fields"]}
def items(c):
    t = acols[c][1] if isinstance(acols[c], list) else acols[c]
    expect(t.get("type") == "array" and t["items"][0] == "null", "%s: not an array of nullable items: %r" % (c, t))
    return t["items"][1]
i = items("an")
expect(i == "io.debezium.data.VariableScaleDecimal" or (isinstance(i, dict) and i.get("connect.name") == "io.debezium.data.VariableScaleDecimal"),
       "an: items are not VariableScaleDecimal: %r" % i)
i = items("ad2")
expect(isinstance(i, dict) and (i.get("logicalType"), i.get("precision"), i.get("scale")) == ("decimal", 5, 2), "ad2 items: %r" % i)
expect(items("aby") == "bytes", "aby items: %r" % items("aby"))
expect(items("atz").get("connect.name") == "io.debezium.time.ZonedTimestamp", "atz items: %r" % items("atz"))
expect(items("adt").get("connect.name") == "io.debezium.time.Date", "adt items: %r" % items("adt"))
expect(items("ab") == "boolean", "ab items: %r" % items("ab"))
expect(items("au").get("connect.name") == "io.debezium.data.Uuid", "au items: %r" % items("au"))
i = items("ae")
expect(i.get("connect.name") == "io.debezium.data.Enum" and i.get("connect.parameters", {}).get("allowed") == "sad,ok,happy",
       "ae items: %r" % i)
expect(items("adm") == "int", "adm (domain posint) items: %r" % items("adm"))
PY

# ---- 2. the values, decoded through the registry -----------------------------------
check_py "every type's value, decoded through the registry, equals what was written: snapshot and stream, NULLs, arrays of numeric, numeric(5,2), bytea, timestamptz, date, bool, uuid, enum, domain with NULL items" <<'PY'
EXP = ROW1
# 1.5 = 15 scale 1; -2.25 = -225 scale 2 (two's complement 0xff1f); 1.25 = 125 (0x7d)
AEXP = {"an": [{"scale": 1, "value": "Dw=="}, None, {"scale": 2, "value": "/x8="}],
        "ad2": ["fQ==", None], "aby": ["AP8=", None], "atz": ["2024-02-29T11:14:15.5Z", None],
        "adt": [19782, None], "ab": [True, False, None],
        "au": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", None], "ae": ["sad", "happy", None],
        "adm": [1, 2, None]}
def after(topic, id, op):
    rows = [r["value"]["after"] for r in recs if r["topic"] == topic and r["key"] == {"id": id}
            and r["value"]["op"] == op]
    expect(len(rows) == 1, "%s id %d op %s: %d records" % (topic, id, op, len(rows)))
    return rows[0] if rows else {}
for id, op, what in ((1, "r", "snapshot"), (3, "c", "stream")):
    row = after("av.public.alltypes", id, op)
    expect("secret" not in row, what + ": the excluded column is present")
    for k, v in EXP.items():
        if k != "id":
            expect(row.get(k) == v, "%s: %s = %r, expected %r" % (what, k, row.get(k), v))
    row = after("av.public.arrays", id, op)
    for k, v in AEXP.items():
        expect(row.get(k) == v, "%s arrays: %s = %r, expected %r" % (what, k, row.get(k), v))
r2 = after("av.public.alltypes", 2, "r")
expect(all(r2.get(k) is None for k in EXP if k != "id"), "row 2 is not all null: %r" % r2)
a2 = after("av.public.arrays", 2, "r")
expect((a2.get("an"), a2.get("aby"), a2.get("ae"), a2.get("ad2")) == ([], [], [], None),
       "arrays row 2 (empty arrays, NULLs): %r" % a2)
PY

# ---- 3. logical decoding messages ----------------------------------------------------
base=$(lines "$OUT")
pg_sql main shop "BEGIN; INSERT INTO arrays (id) VALUES (10); SELECT pg_logical_emit_message(true, 'outbox', 'order 10 placed'); COMMIT" >/dev/null
pg_sql main shop "BEGIN; SELECT pg_logical_emit_message(true, 'outbox', 'rolled back'); ROLLBACK" >/dev/null
pg_sql main shop "SELECT pg_logical_emit_message(false, 'skipped', 'x')" >/dev/null
pg_sql main shop "SELECT pg_logical_emit_message(false, 'audit', '\\x00ff'::bytea)" >/dev/null
wait_for 60 have_lines "$OUT" $((base + 3)) || fail "the messages did not arrive: $(tail -3 "$T/worker.log")"
sleep 1 # anything that should not come would come by now
check_py "logical decoding messages in av.message: transactional (with its transaction's txId, after its row; none when rolled back), non-transactional, message.prefix.exclude.list; MessageKey/MessageValue schemas" "$REGISTRY" <<'PY'
import urllib.request
msgs = [r for r in recs if r["topic"] == "av.message"]
expect([r["key"] for r in msgs] == [{"prefix": "outbox"}, {"prefix": "audit"}],
       "message keys: %r" % [r["key"] for r in msgs])
if len(msgs) == 2:
    outbox, audit = msgs[0]["value"], msgs[1]["value"]
    expect(outbox["op"] == "m" and outbox["message"] == {"prefix": "outbox", "content": "b3JkZXIgMTAgcGxhY2Vk"},
           "transactional message: %r" % outbox)
    expect(audit["op"] == "m" and audit["message"] == {"prefix": "audit", "content": "AP8="},
           "non-transactional message: %r" % audit)
    row = [r["value"] for r in recs if r["topic"] == "av.public.arrays" and r["key"] == {"id": 10}]
    expect(len(row) == 1, "the row of the message's transaction: %r" % row)
    if row:
        rs, ms = row[0]["source"], outbox["source"]
        expect(ms["txId"] == rs["txId"] and isinstance(ms["txId"], int),
               "the message's txId %r is not its transaction's %r" % (ms["txId"], rs["txId"]))
        expect(ms["lsn"] > rs["lsn"], "the message (lsn %r) is not after the row (lsn %r)" % (ms["lsn"], rs["lsn"]))
        expect(ms["db"] == "shop" and ms["name"] == "av" and ms["connector"] == "postgresql", "message source: %r" % ms)
    expect(audit["source"]["txId"] is None, "a non-transactional message has txId %r" % audit["source"]["txId"])
    if row:
        begin = [r["value"] for r in recs if r["topic"] == "av.transaction" and r["value"]["status"] == "BEGIN"
                 and r["value"]["id"].startswith("%d:" % row[0]["source"]["txId"])]
        expect(len(begin) == 1 and row[0]["transaction"] == {"id": begin[0]["id"], "total_order": 1, "data_collection_order": 1},
               "row 10's transaction block %r, BEGIN %r" % (row[0].get("transaction"), begin))
v = json.loads(json.load(urllib.request.urlopen(sys.argv[3] + "/subjects/av.message-value/versions/latest"))["schema"])
k = json.loads(json.load(urllib.request.urlopen(sys.argv[3] + "/subjects/av.message-key/versions/latest"))["schema"])
expect(v.get("connect.name") == "io.debezium.connector.postgresql.MessageValue"
       and [f["name"] for f in v["fields"]] == ["op", "ts_ms", "source", "message"],
       "av.message-value schema: %r" % {x: v.get(x) for x in ("name", "connect.name")})
msg = [f for f in v["fields"] if f["name"] == "message"][0]["type"]
expect(msg.get("connect.name") == "io.debezium.connector.postgresql.Message"
       and [(f["name"], f["type"]) for f in msg["fields"]] == [("prefix", ["null", "string"]), ("content", ["null", "bytes"])],
       "message block schema: %r" % msg)
expect(k.get("connect.name") == "io.debezium.connector.postgresql.MessageKey", "av.message-key schema: %r" % k)
PY

# ---- 3b. transaction metadata: each change's place in its transaction -------------------
base=$(lines "$OUT")
pg_sql main shop "BEGIN; INSERT INTO arrays (id) VALUES (11), (12); INSERT INTO alltypes (id) VALUES (13); COMMIT" >/dev/null
wait_for 60 have_lines "$OUT" $((base + 5)) || fail "the transaction of rows 11-13 did not arrive"
check_py "provide.transaction.metadata: each change carries its transaction block (id as BEGIN/END, total_order 1-3, data_collection_order per table), snapshot rows none" <<'PY'
v = {(r["topic"], r["key"]["id"]): r["value"] for r in recs if r["topic"].startswith("av.public.") and r["key"]}
got = [v.get(k, {}).get("transaction") for k in (("av.public.arrays", 11), ("av.public.arrays", 12), ("av.public.alltypes", 13))]
ids = {b["id"] if b else None for b in got}
end = [r["value"] for r in recs if r["topic"] == "av.transaction" and r["value"]["status"] == "END" and r["value"]["id"] in ids]
if len(ids) != 1 or None in ids or len(end) != 1:
    fails.append("rows 11-13 do not share one transaction id with an END: %r, END %r" % (got, end))
elif [(b["total_order"], b["data_collection_order"]) for b in got] != [(1, 1), (2, 2), (3, 1)]:
    fails.append("total_order / data_collection_order: %r" % got)
elif end[0]["event_count"] != 3:
    fails.append("END event_count %r" % end[0]["event_count"])
snap = [r["value"]["transaction"] for r in recs if r["topic"].startswith("av.public.") and r["value"] and r["value"]["op"] == "r"]
if any(b is not None for b in snap):
    fails.append("snapshot rows with a transaction block: %r" % [b for b in snap if b][:2])
PY

# ---- 4. an incremental snapshot signalled through public."Signals" --------------------
reads() { python3 -c "
import json, sys
print(sum(1 for l in open('$OUT') if (lambda r: r['topic'] == 'av.public.arrays' and (r['value'] or {}).get('op') == 'r')(json.loads(l))))"; }
before_reads=$(reads)
pg_sql main shop "INSERT INTO \"Signals\" VALUES ('ad-hoc-1', 'execute-snapshot', '{\"data-collections\": [\"public.arrays\"]}')" >/dev/null
incr_done() { [ "$(reads)" -ge $((before_reads + 4)) ]; }
wait_for 60 incr_done || fail "the incremental snapshot of public.arrays did not arrive ($(reads) reads): $(grep -i 'snapshot\|signal' "$T/worker.log" | tail -3)"
[ "$(pg_sql main shop "SELECT count(*) FROM \"Signals\" WHERE type LIKE 'snapshot-window-%'")" -ge 2 ] ||
    fail "no watermarks in public.\"Signals\""
pass "an incremental snapshot through public.\"Signals\" (a name that needs quoting): arrays read again, watermarks written"

# ---- 6. extension types (citext, ltree, hstore), point, numeric(2,-3) ------------------------------
# row 4's hstore is TOASTed (about 20 kB of md5 text), and left unchanged by
# its update: {placeholder: placeholder} in either mode's form, as Debezium;
# its bytea (16 kB of md5 bytes) too: the placeholder's bytes, hex or base64
pg_sql main shop "INSERT INTO ext SELECT 3, ci, lt, hs, pt, aci, ahs, apt, ns, ns2, bb, abb FROM ext WHERE id = 1;
  INSERT INTO ext (id, hs, bb) SELECT 4, hstore(array_agg(md5(g::text)), array_agg(md5((-g)::text))),
    decode(string_agg(md5(g::text), ''), 'hex') FROM generate_series(1, 1000) g;
  UPDATE ext SET ci = 'toasted' WHERE id = 4"
for m in json map; do
    wait_for 60 have_lines "$T/ext_$m.jsonl" 5 || fail "ext ($m): 5 rows did not arrive: $(tail -3 "$T/worker.log")"
done
for m in json map; do
    curl -sf "$REGISTRY/subjects/e${m:0:1}.public.ext-value/versions/latest" >"$T/ext_$m.schema" || fail "no e${m:0:1}.public.ext-value subject"
done
check_py "citext, ltree, hstore (json and map), point and arrays of them: Debezium's schemas (string, io.debezium.data.Ltree, io.debezium.data.Json / map, io.debezium.data.geometry.Point once, then by name) and values, snapshot and stream; numeric(2,-3) and (2,5) as decimal(5,0) and (5,5); an unchanged TOASTed hstore ({placeholder: placeholder}); bytea as hex and base64-url-safe strings" "$T/ext_json.jsonl" "$T/ext_map.jsonl" "$T/ext_json.schema" "$T/ext_map.schema" <<'PY'
import base64, struct
HS = {"": "", "a": "1", "b c": None, 'q"\\': "x\\y"}
WKB = lambda x, y: base64.b64encode(struct.pack("<BIdd", 1, 1, x, y)).decode()
PT = lambda x, y: {"x": x, "y": y, "wkb": WKB(x, y), "srid": None}
for i, m in enumerate(("json", "map")):
    out = [json.loads(l) for l in open(sys.argv[3 + i])]
    env = json.loads(json.load(open(sys.argv[5 + i]))["schema"])
    cols = {f["name"]: f["type"] for f in env["fields"][0]["type"][1]["fields"]}
    t = lambda c: cols[c][1]
    expect(t("ci") == "string", "%s: ci (citext): %r" % (m, t("ci")))
    expect(t("lt").get("connect.name") == "io.debezium.data.Ltree" and t("lt")["type"] == "string", "%s: lt: %r" % (m, t("lt")))
    if m == "json":
        expect(t("hs").get("connect.name") == "io.debezium.data.Json" and t("hs")["type"] == "string", "json: hs: %r" % t("hs"))
        expect(t("ahs")["items"][1].get("connect.name") == "io.debezium.data.Json", "json: ahs: %r" % t("ahs"))
    else:
        expect(t("hs") == {"type": "map", "values": ["null", "string"]}, "map: hs: %r" % t("hs"))
    pt = t("pt")
    expect(pt.get("type") == "record" and pt.get("connect.name") == "io.debezium.data.geometry.Point"
           and [(f["name"], f["type"]) for f in pt["fields"]] == [("x", "double"), ("y", "double"), ("wkb", ["null", "bytes"]), ("srid", ["null", "int"])],
           "%s: pt: %r" % (m, pt))
    expect(t("apt")["items"] == ["null", "io.debezium.data.geometry.Point"], "%s: apt items (Point by name): %r" % (m, t("apt")))
    expect((t("ns").get("logicalType"), t("ns").get("precision"), t("ns").get("scale")) == ("decimal", 5, 0),
           "%s: ns numeric(2,-3) is not decimal(5, 0): %r" % (m, t("ns")))
    expect(t("bb") == "string" and t("abb")["items"] == ["null", "string"],
           "%s: bytea / bytea[] under binary.handling.mode are not strings: %r %r" % (m, t("bb"), t("abb")))
    expect((t("ns2").get("logicalType"), t("ns2").get("precision"), t("ns2").get("scale")) == ("decimal", 5, 5),
           "%s: ns2 numeric(2,5) is not decimal(5, 5): %r" % (m, t("ns2")))
    rows = {(r["value"]["op"], r["key"]["id"]): r["value"]["after"] for r in out}
    for key, what in ((("r", 1), "snapshot"), (("c", 3), "stream")):
        row = rows.get(key, {})
        hs = row.get("hs")
        if m == "json":
            expect(isinstance(hs, str) and list(json.loads(hs).items()) == list(HS.items()),
                   "%s json: hs %r, expected the object %r in hstore's order" % (what, hs, HS))
            expect(row.get("ahs") == ['{"k":"v"}', None], "%s json: ahs %r" % (what, row.get("ahs")))
        else:
            expect(hs == HS, "%s map: hs %r, expected %r" % (what, hs, HS))
            expect(row.get("ahs") == [{"k": "v"}, None], "%s map: ahs %r" % (what, row.get("ahs")))
        for c, v in (("ci", "MiXed Case"), ("lt", "Top.Science.Astronomy"), ("pt", PT(1.5, -2.0)),
                     ("aci", ["One", None]), ("apt", [PT(0.0, 0.0), None, PT(3.0, 4.25)]),
                     ("ns", base64.b64encode((12000).to_bytes(2, "big")).decode()),
                     ("ns2", base64.b64encode((12).to_bytes(1, "big")).decode()),
                     ("bb", "fbff00" if m == "json" else "-_8A"),
                     ("abb", ["fbef" if m == "json" else "--8=", None])):
            expect(row.get(c) == v, "%s %s: %s = %r, expected %r" % (what, m, c, row.get(c), v))
    u4 = rows.get(("u", 4), {})
    PH = "__debezium_unavailable_value"
    expect((u4.get("ci"), u4.get("hs")) == ("toasted", json.dumps({PH: PH}, separators=(",", ":")) if m == "json" else {PH: PH}),
           "%s: row 4's unchanged TOASTed hstore: %.120r" % (m, (u4.get("ci"), u4.get("hs"))))
    # and its 16 kB bytea: the placeholder's bytes in the binary.handling.mode
    bb = PH.encode().hex() if m == "json" else base64.urlsafe_b64encode(PH.encode()).decode()
    expect(u4.get("bb") == bb, "%s: row 4's unchanged TOASTed bytea: %.80r, expected %r" % (m, u4.get("bb"), bb))
    r2 = rows.get(("r", 2), {})
    expect((r2.get("ci"), r2.get("hs"), r2.get("pt"), r2.get("aci"), r2.get("apt")) ==
           (None, "{}" if m == "json" else {}, None, [], []), "%s: row 2 (NULLs, empty hstore and arrays): %r" % (m, r2))
PY

# ---- 5. the publication dropped while streaming ----------------------------------------
task_state() { curl -s "$W/connectors/types.source/status" | python3 -c "import json,sys; t=json.load(sys.stdin)['tasks'][0]; print(t['state'], t.get('trace', '').replace(chr(10), ' '))" 2>/dev/null; }
pg_sql main shop "DROP PUBLICATION dbz_publication; INSERT INTO arrays (id) VALUES (20)"
failed() { st=$(task_state); case "$st" in FAILED*) return 0 ;; esac; return 1; }
wait_for 30 failed || fail "the task is not FAILED after the publication was dropped: $st; $(grep -c reconnecting "$T/worker.log") reconnects"
for want in 'publication "dbz_publication" does not exist' "Drop the replication slot" "snapshot.mode=when_needed"; do
    case "$st" in *"$want"*) ;; *) fail "the FAILED trace lacks '$want': $st" ;; esac
done
curl -sf "$W/connectors" >/dev/null || fail "the worker's REST API is down"
pass "publication dropped under the streaming task: FAILED with what to do ($(echo "$st" | head -c 200)...), the worker up"
finish
