#!/usr/bin/env bash
# postgres.sh - the postgres source as a user runs it: a real PostgreSQL 15
# (wal_level=logical), a sluice broker, `sluice worker` with a pipeline
# postgres -> broker -> file sink (Debezium JSON lines), checked field by
# field.
#
#  1. snapshot: every supported type (pg_schema.sql), NULLs, excluded
#     column, source.snapshot true/last, op 'r'; a second pipeline with
#     decimal.handling.mode=string and time.precision.mode=connect;
#  2. streaming: insert (every type again), update, delete + tombstone,
#     REPLICA IDENTITY FULL (full before) vs DEFAULT (keys only), an
#     unchanged TOASTed column (placeholder), a table without primary key
#     (null key, no tombstone), a column added and one dropped mid-stream,
#     a primary-key update (delete + tombstone + create), truncate (op 't'),
#     transaction metadata (BEGIN / END);
#  3. an incremental snapshot (signal table) during a write load, its
#     windows widened to 100 ms (SLUICE_PG_INCR_WINDOW_MS) so writes land in
#     them: the table rebuilt from the topic equals the database;
#     a large transaction streamed in progress (logical_decoding_work_mem
#     64kB, protocol 2) with a rolled-back savepoint, and an aborted one:
#     only committed rows appear;
#  4. an idle database with heartbeats (heartbeat.action.query upserting a
#     heartbeat table): heartbeat records a second apart, the query run and its
#     changes captured each time, confirmed_flush_lsn advances;
#  5. bad input - wrong password, missing database, no REPLICATION
#     attribute, wal_level=replica - each FAILED with the reason while the
#     worker and the good pipeline keep running;
#  5b. PostgreSQL restarted under the running task: it reconnects, and
#      heartbeat.action.query runs again;
#  6. kill -9 of the worker during a pgbench write load, restart: the table
#     rebuilt from its topic equals the database, and no change is missing
#     (a counter column numbers each key's changes: no gap) or snapshotted again;
#  6b. kill -9 in the middle of an incremental snapshot (30,000 rows, chunks
#     of 500): after the restart it resumes from its last stored chunk (not
#     from the start), completes, and every row arrived as op 'r';
#  7. restart after the slot was dropped: a clear FAILED (initial mode).
#
# Environment: SLUICE (required), PLUGIN_PATH (optional plugin.path).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
test_init postgres
pg_trap
HERE="$(cd "$(dirname "$0")" && pwd)"

start_pg main "wal_level = logical" "logical_decoding_work_mem = 64kB"
start_pg replica "wal_level = replica"
PORT=$(pg_port main)
pg_sql main postgres "CREATE ROLE sluice LOGIN REPLICATION PASSWORD 'secret'"
pg_sql main postgres "CREATE ROLE norepl LOGIN PASSWORD 'secret'"
pg_sql main postgres "CREATE DATABASE shop OWNER sluice"
pg_sql_file main shop "$HERE/pg_schema.sql" >/dev/null || fail "loading pg_schema.sql"
# a tab, a newline and a backslash in a text value: the snapshot reads COPY
# text output, where they arrive escaped
pg_sql main shop "UPDATE alltypes SET vc = E'var\\tchar\\n\\\\' WHERE id = 1"
# the heartbeat table heartbeat.action.query writes, as Debezium users set it up
# (captured like any table: its changes are what moves a quiet database's slot)
pg_sql main shop "CREATE TABLE hb (id int PRIMARY KEY, ts timestamptz NOT NULL); GRANT SELECT, INSERT, UPDATE ON hb TO sluice"
pg_sql replica postgres "CREATE ROLE sluice LOGIN REPLICATION PASSWORD 'secret'"

start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
P="$T/pipelines"
mkdir -p "$P"
OUT="$T/out.jsonl"
TOPICS=""
for tb in alltypes ri_full ri_default toasty nopk big acct inc resume hb; do
    TOPICS="$TOPICS${TOPICS:+,}shop.public.$tb"
done
TOPICS="$TOPICS,__debezium-heartbeat.shop,shop.transaction"
for t in ${TOPICS//,/ }; do
    "$SLUICE" topics create -b "$BOOTSTRAP" -t "$t" --partitions 1 --if-not-exists >/dev/null 2>&1
done

# source config shared by the good and the bad pipelines: pg_source PORT USER PASSWORD DB SLOT
pg_source()
{
    cat <<JSON
{"connector.class": "postgres", "database.hostname": "127.0.0.1", "database.port": $1,
 "database.user": "$2", "database.password": "$3", "database.dbname": "$4",
 "topic.prefix": "shop", "slot.name": "$5", "heartbeat.interval.ms": 1000,
 "heartbeat.action.query": "INSERT INTO hb (id, ts) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET ts = now()",
 "provide.transaction.metadata": true, "signal.data.collection": "public.debezium_signal",
 "incremental.snapshot.chunk.size": 500,
 "skipped.operations": "none",
 "table.exclude.list": "public\\\\.ignored", "column.exclude.list": "public\\\\.alltypes\\\\.secret"}
JSON
}
cat >"$P/shop.json" <<JSON
{"name": "shop", "source": $(pg_source "$PORT" sluice secret shop debezium),
 "sinks": {"out": {"connector.class": "file", "topics": "$TOPICS", "file": "$OUT"}}}
JSON
# the other value modes, from the snapshot of alltypes (its own slot and topics)
cat >"$P/modes.json" <<JSON
{"name": "modes", "source": {"connector.class": "postgres", "database.hostname": "127.0.0.1",
   "database.port": $PORT, "database.user": "sluice", "database.password": "secret",
   "database.dbname": "shop", "topic.prefix": "modes", "slot.name": "modes",
   "snapshot.mode": "initial_only", "table.include.list": "public\\\\.alltypes",
   "decimal.handling.mode": "string", "time.precision.mode": "connect"},
 "sinks": {"out": {"connector.class": "file", "topics": "modes.public.alltypes", "file": "$T/modes.jsonl"}}}
JSON
"$SLUICE" topics create -b "$BOOTSTRAP" -t modes.public.alltypes --partitions 1 --if-not-exists >/dev/null 2>&1
cat >"$P/badpass.json" <<JSON
{"name": "badpass", "source": $(pg_source "$PORT" sluice wrong shop s1)}
JSON
cat >"$P/nodb.json" <<JSON
{"name": "nodb", "source": $(pg_source "$PORT" sluice secret nosuchdb s2)}
JSON
cat >"$P/norepl.json" <<JSON
{"name": "norepl", "source": $(pg_source "$PORT" norepl secret shop s3)}
JSON
cat >"$P/nopub.json" <<JSON
{"name": "nopub", "source": $(pg_source "$PORT" sluice secret shop s5 | sed 's/^ "topic.prefix"/ "publication.name": "nopub", "publication.autocreate.mode": "disabled", "topic.prefix"/')}
JSON
cat >"$P/walreplica.json" <<JSON
{"name": "walreplica", "source": $(pg_source "$(pg_port replica)" sluice secret postgres s4)}
JSON

worker_pid=""
start_worker()
{
    local pp=()
    [ -n "${PLUGIN_PATH:-}" ] && pp=(--set "plugin.path=$PLUGIN_PATH")
    SLUICE_PG_INCR_WINDOW_MS=100 \
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
        --set "listeners=http://127.0.0.1:$(free_port)" --set offset.flush.interval.ms=500 \
        "${pp[@]}" 2>>"$T/worker.log" &
    worker_pid=$!
    track_pid "$worker_pid"
}
# count_ops TOPIC OP: records of TOPIC with value.op == OP in the output
# count_where PYEXPR: output records r (dicts; v = r["value"] or {}) for which
# the python expression holds; lines still being written are skipped.
count_where()
{
    python3 - "$OUT" "$1" <<'PY'
import json, sys
n = 0
for l in open(sys.argv[1]):
    try:
        r = json.loads(l)
    except ValueError:
        continue
    v = r["value"] or {}
    n += bool(eval(sys.argv[2]))
print(n)
PY
}
count_ops() { count_where "r['topic'] == '$1' and v.get('op') == '$2'"; }
has_ops() { [ "$(count_ops "$1" "$2")" -ge "$3" ]; }

# rebuild TABLE COLUMN: the table as its topic's records leave it (last record
# per key; delete or tombstone removes), "id|COLUMN" lines, compared with
# $T/TABLE.db. Lines torn by a kill -9 are read from their last record on.
rebuild()
{
    python3 - "$OUT" "shop.public.$1" "$2" >"$T/$1.topic" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["PG_LIB_DIR"])
from pg_expect import records
rows = {}
for r in records(sys.argv[1]):
    if r["topic"] != sys.argv[2]:
        continue
    v = r["value"]
    if v is None or v["op"] == "d":
        rows.pop(r["key"]["id"], None)
    elif v["op"] in ("c", "u", "r"):
        rows[r["key"]["id"]] = v["after"][sys.argv[3]]
for k in sorted(rows):
    print("%d|%d" % (k, rows[k]))
PY
    cmp -s "$T/$1.db" "$T/$1.topic"
}

# counter_check TABLE COLUMN: COLUMN counts the changes of its row (an insert
# makes it 1, each update adds 1, a delete ends the row), so a key's changes in
# the topic, in offset order, must run 1, 2, 3, ... and a lost change is a
# skipped number. A record delivered again (at-least-once, after a restart) is
# the same change, same source.lsn: only its first copy counts. A snapshot
# record (op 'r') is a failure too: the table is empty at the initial snapshot,
# so one means a restart snapshotted instead of streaming from its position.
# Prints "changes records" (distinct changes, records read), then one line
# per failure. Lines torn by a kill -9 are read from their last record on.
counter_check()
{
    python3 - "$OUT" "shop.public.$1" "$2" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["PG_LIB_DIR"])
from pg_expect import records
seen, last, bad, n = set(), {}, [], 0
for r in records(sys.argv[1]):
    v = r["value"]
    if r["topic"] != sys.argv[2] or v is None:  # tombstones: their delete is checked
        continue
    n += 1
    k = r["key"]["id"]
    if (k, v["source"]["lsn"], v["op"]) in seen:
        continue
    seen.add((k, v["source"]["lsn"], v["op"]))
    prev, op = last.get(k), v["op"]
    got = v["after"][sys.argv[3]] if v["after"] else None
    want = {"c": prev is None and got == 1, "u": prev is not None and got == prev + 1,
            "d": prev is not None}.get(op, False)
    if not want:
        bad.append("id %d: op %s %s=%r after %r (lsn %d)" % (k, op, sys.argv[3], got, prev, v["source"]["lsn"]))
    last[k] = None if op == "d" else got
print(len(seen), n)
for b in bad:
    print(b)
PY
}

start_worker
all_snapshot() { has_ops shop.public.alltypes r 2 && has_ops shop.public.ri_full r 2 && has_ops shop.public.ri_default r 2; }
wait_for 60 all_snapshot || { tail -20 "$T/worker.log" >&2; fail "the snapshot did not arrive"; }

# ---- 1. snapshot ------------------------------------------------------------
ROW1_CHECKS='
EXP = ROW1
def check_row(row, what):
    expect(row is not None, what + ": no row")
    if row is None:
        return
    expect("secret" not in row, what + ": excluded column secret is present")
    for k, v in EXP.items():
        expect(row.get(k) == v, "%s: %s = %r, expected %r" % (what, k, row.get(k), v))
'
check_py "snapshot: every type of row 1 field by field, row 2 all NULL, source.snapshot true/last" <<PY
$ROW1_CHECKS
snap = of("shop.public.alltypes", "r")
expect(len(snap) == 2, "alltypes snapshot rows: %d" % len(snap))
rows = {r["key"]["id"]: r["value"] for r in snap}
check_row(rows.get(1, {}).get("after"), "snapshot row 1")
r2 = rows.get(2, {}).get("after") or {}
expect(all(r2.get(k) is None for k in EXP if k != "id"), "row 2 not all null: %r" % r2)
allsnap = [r for r in recs if (r["value"] or {}).get("op") == "r"]
kinds = [r["value"]["source"]["snapshot"] for r in allsnap]
expect(len(kinds) == 6 and kinds.count("last") == 1, "snapshot flags: %r" % kinds)
last = [r for r in allsnap if r["value"]["source"]["snapshot"] == "last"]
expect(last and last[0]["topic"] == "shop.public.ri_full" and last[0]["key"] == {"id": 2},
       "the last snapshot row is not ri_full id 2 (tables in name order): %r" % last)
expect(all(r["value"]["before"] is None for r in allsnap), "snapshot rows have a before")
src = allsnap[0]["value"]["source"]
expect(src["connector"] == "postgresql" and src["db"] == "shop" and src["schema"] == "public"
       and src["name"] == "shop" and isinstance(src["lsn"], int), "source block: %r" % src)
PY

wait_for 30 have_lines "$T/modes.jsonl" 2 || fail "modes: no snapshot"
OUT="$T/modes.jsonl" check_py "decimal.handling.mode=string, time.precision.mode=connect" <<PY
row = [r["value"]["after"] for r in recs if r["key"] == {"id": 1}][0]
want = {"n": "12345.678", "nv": "3.14159265358979", "m": "1234.56", "d": 19782, "tm": 47655123,
        "ts": 1709212455123, "tstz": "2024-02-29T11:14:15.5Z"}
for k, v in want.items():
    expect(row.get(k) == v, "%s = %r, expected %r" % (k, row.get(k), v))
PY

# ---- 2. streaming -------------------------------------------------------------
pg_sql main shop "INSERT INTO alltypes SELECT 3, b, i2, i8, f4, f8, n, nv, m, t, vc, c, by, u, j, jb, x, d, tm, ttz, ts, tstz, iv, ip, net, mac, bt, vb, e, ai, at, dm, secret FROM alltypes WHERE id = 1"
pg_sql main shop "UPDATE alltypes SET t = 'changed' WHERE id = 1"
pg_sql main shop "DELETE FROM alltypes WHERE id = 2"
pg_sql main shop "UPDATE ri_full SET qty = 11 WHERE id = 1"
pg_sql main shop "DELETE FROM ri_full WHERE id = 2"
pg_sql main shop "UPDATE ri_default SET note = 'n1b' WHERE id = 1"
pg_sql main shop "DELETE FROM ri_default WHERE id = 2"
pg_sql main shop "INSERT INTO toasty SELECT 1, string_agg(md5(g::text), ''), 1, array_agg(md5(g::text)), array_agg(hashtext(g::text)) FROM generate_series(1, 4000) g"
pg_sql main shop "UPDATE toasty SET small = 2 WHERE id = 1"
pg_sql main shop "INSERT INTO nopk VALUES (1, 'x'), (2, 'y')"
pg_sql main shop "UPDATE nopk SET b = 'xx' WHERE a = 1"
pg_sql main shop "DELETE FROM nopk WHERE a = 2"
pg_sql main shop "INSERT INTO ignored VALUES (1)"
pg_sql main shop "ALTER TABLE ri_default ADD COLUMN extra text"
pg_sql main shop "INSERT INTO ri_default VALUES (3, 'three', 'n3', 'added')"
pg_sql main shop "ALTER TABLE ri_default DROP COLUMN note"
pg_sql main shop "INSERT INTO ri_default VALUES (4, 'four', 'after drop')"
pg_sql main shop "UPDATE ri_default SET id = 10 WHERE id = 1"
pg_sql main shop "TRUNCATE ri_full"
streamed_all() { has_ops shop.public.ri_full t 1 && has_ops shop.public.ri_default c 3 && has_ops shop.public.ri_default d 2 && has_ops shop.public.nopk d 1 && has_ops shop.public.toasty u 1; }
wait_for 60 streamed_all || { tail -20 "$T/worker.log" >&2; fail "streamed changes did not all arrive"; }

check_py "streaming insert of every type, update, delete + tombstone (alltypes)" <<PY
$ROW1_CHECKS
c = [r for r in of("shop.public.alltypes", "c")]
expect(len(c) == 1 and c[0]["key"] == {"id": 3}, "insert of id 3: %r" % c)
if c:
    row = dict(c[0]["value"]["after"]); row["id"] = 1
    check_row(row, "streamed row 3")
    s = c[0]["value"]["source"]
    expect(s["snapshot"] == "false" and isinstance(s["txId"], int) and isinstance(s["lsn"], int)
           and s["ts_ms"] > 0, "streamed source: %r" % s)
u = of("shop.public.alltypes", "u")
expect(len(u) == 1 and u[0]["value"]["after"]["t"] == "changed" and u[0]["value"]["before"] is None,
       "update under REPLICA IDENTITY DEFAULT: %r" % u)
d = of("shop.public.alltypes", "d")
expect(len(d) == 1 and d[0]["key"] == {"id": 2} and d[0]["value"]["before"]["id"] == 2,
       "delete: %r" % d)
tr = of("shop.public.alltypes")
i = tr.index(d[0]) if d else -1
expect(i >= 0 and i + 1 < len(tr) and tr[i + 1]["value"] is None and tr[i + 1]["key"] == {"id": 2},
       "the delete is not followed by a tombstone")
PY

check_py "REPLICA IDENTITY FULL gives the full before; DEFAULT gives keys only" <<PY
u = of("shop.public.ri_full", "u")
expect(len(u) == 1 and u[0]["value"]["before"] == {"id": 1, "name": "one", "qty": 10}
       and u[0]["value"]["after"] == {"id": 1, "name": "one", "qty": 11}, "ri_full update: %r" % u)
d = of("shop.public.ri_full", "d")
expect(len(d) == 1 and d[0]["value"]["before"] == {"id": 2, "name": "two", "qty": 20}, "ri_full delete: %r" % d)
u = of("shop.public.ri_default", "u")
expect(len(u) == 1 and u[0]["value"]["before"] is None and u[0]["value"]["after"]["note"] == "n1b",
       "ri_default update: %r" % u)
d = of("shop.public.ri_default", "d")
# only the key is sent: the NOT NULL name gets its fallback "" (a required field), the
# nullable note null
expect(len(d) == 2 and d[0]["value"]["before"] == {"id": 2, "name": "", "note": None},
       "ri_default delete (key only): %r" % d)
# a primary-key update: delete of the old key (+ tombstone), create of the new one
expect(len(d) == 2 and d[1]["key"] == {"id": 1} and d[1]["value"]["before"]["id"] == 1, "key change: %r" % d[1:])
tr = of("shop.public.ri_default")
i = tr.index(d[-1]) if d else -1
expect(i >= 0 and i + 2 < len(tr) and tr[i + 1]["value"] is None
       and tr[i + 2]["key"] == {"id": 10} and tr[i + 2]["value"]["op"] == "c"
       and tr[i + 2]["value"]["after"]["name"] == "one", "key change: no tombstone + create after the delete")
PY

check_py "unchanged TOAST columns get __debezium_unavailable_value in their type (text, text[], int[])" <<PY
c = of("shop.public.toasty", "c")
u = of("shop.public.toasty", "u")
ph = "__debezium_unavailable_value"
expect(len(c) == 1 and len(c[0]["value"]["after"]["big"]) == 128000 and len(c[0]["value"]["after"]["tags"]) == 4000
       and len(c[0]["value"]["after"]["nums"]) == 4000, "toasty insert: %r" % [len(str(x)) for x in c])
a = u[0]["value"]["after"] if len(u) == 1 else {}
expect(a.get("big") == ph and a.get("small") == 2, "toasty update: big %r small %r" % (str(a.get("big"))[:40], a.get("small")))
# arrays, as Debezium: the placeholder as the one element of a text array (NOT NULL:
# required), one element per placeholder byte in an int array
expect(a.get("tags") == [ph], "toasty update: tags %r" % str(a.get("tags"))[:80])
expect(a.get("nums") == [ord(ch) for ch in ph], "toasty update: nums %r" % str(a.get("nums"))[:80])
PY

check_py "table without primary key: null key, full before, no tombstone" <<PY
n = of("shop.public.nopk")
expect([r["value"]["op"] if r["value"] else None for r in n] == ["c", "c", "u", "d"], "nopk ops: %r" % n)
expect(all(r["key"] is None for r in n), "nopk keys: %r" % [r["key"] for r in n])
u = [r for r in n if r["value"]["op"] == "u"]
expect(u and u[0]["value"]["before"] == {"a": 1, "b": "x"} and u[0]["value"]["after"] == {"a": 1, "b": "xx"}, "nopk update: %r" % u)
expect(not of("shop.public.ignored"), "table.exclude.list: ignored was captured")
PY

check_py "transaction metadata: BEGIN and END (event_count, data_collections) around each transaction" <<PY
tx = [r["value"] for r in of("shop.transaction")]
xid = [r["value"]["source"]["txId"] for r in of("shop.public.nopk", "c")][0]
ev = [v for v in tx if v["id"].startswith("%d:" % xid)]
expect([v["status"] for v in ev] == ["BEGIN", "END"], "events of nopk's insert transaction: %r" % ev)
if len(ev) == 2:
    expect(ev[1]["event_count"] == 2 and ev[1]["data_collections"] == [{"data_collection": "public.nopk", "event_count": 2}],
           "END: %r" % ev[1])
expect(tx and tx.count(None) == 0 and len([v for v in tx if v["status"] == "BEGIN"]) == len([v for v in tx if v["status"] == "END"]) >= 10,
       "BEGIN/END unbalanced: %d events" % len(tx))
PY

check_py "column added then dropped mid-stream: new schema each time" <<PY
c = {r["key"]["id"]: r["value"]["after"] for r in of("shop.public.ri_default", "c")}
expect(c.get(3) == {"id": 3, "name": "three", "note": "n3", "extra": "added"}, "after ADD COLUMN: %r" % c.get(3))
expect(c.get(4) == {"id": 4, "name": "four", "extra": "after drop"}, "after DROP COLUMN: %r" % c.get(4))
t = of("shop.public.ri_full", "t")
expect(len(t) == 1 and t[0]["value"]["before"] is None and t[0]["value"]["after"] is None, "truncate: %r" % t)
PY
grep -q 'table public.ri_default changed' "$T/worker.log" || fail "no log of the ri_default schema change"

# ---- 3. large streamed transactions ----------------------------------------------
pg_sql main shop "BEGIN; INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g; SAVEPOINT s; INSERT INTO big SELECT g, 'rolled back' FROM generate_series(90001, 95000) g; ROLLBACK TO SAVEPOINT s; INSERT INTO big SELECT g, repeat('y', 100) FROM generate_series(5001, 10000) g; COMMIT"
pg_sql main shop "BEGIN; INSERT INTO big SELECT g, 'aborted' FROM generate_series(100001, 110000) g; ROLLBACK"
pg_sql main shop "INSERT INTO big VALUES (0, 'marker')"
wait_for 90 has_ops shop.public.big c 10001 || fail "big: $(count_ops shop.public.big c) of 10001 rows"
check_py "large transaction streamed in progress: committed rows only (10001), none rolled back" <<PY
ids = sorted(r["key"]["id"] for r in of("shop.public.big", "c"))
expect(ids == list(range(0, 10001)), "big ids: %d rows, first %r last %r" % (len(ids), ids[:3], ids[-3:]))
PY
grep -q 'streamed transaction [0-9]* committed: replaying' "$T/worker.log" ||
    fail "the large transaction was not streamed in progress (protocol 2)"
grep -q 'streamed transaction [0-9]* aborted' "$T/worker.log" || fail "no streamed abort logged"
pass "protocol 2 streaming seen: $(grep -c 'streamed transaction' "$T/worker.log") streamed commit/abort events"

# ---- 3b. incremental snapshot under a write load ------------------------------------
pg_sql main shop "INSERT INTO inc SELECT g, 0 FROM generate_series(1, 3000) g"
cat >"$T/inc.sql" <<'SQL'
\set id random(1, 3000)
UPDATE inc SET v = v + 1 WHERE id = :id;
DELETE FROM inc WHERE id = :id AND :id % 97 = 0;
SQL
pgbench -h 127.0.0.1 -p "$PORT" -U postgres -n -c 1 -T 4 -f "$T/inc.sql" shop >"$T/pgbench-inc.log" 2>&1 &
inc_load=$!
track_pid "$inc_load"
sleep 0.5
psql "postgresql://sluice:secret@127.0.0.1:$PORT/shop" -XAtq -c "INSERT INTO debezium_signal VALUES ('sig-1', 'execute-snapshot', '{\"data-collections\": [\"public.inc\"]}')" ||
    fail "inserting the signal"
inc_done() { grep -q 'incremental snapshot of public.inc done' "$T/worker.log"; }
wait_for 60 inc_done || { tail -20 "$T/worker.log" >&2; fail "the incremental snapshot of public.inc did not finish"; }
wait "$inc_load" || { cat "$T/pgbench-inc.log" >&2; fail "pgbench on inc failed"; }
pg_sql main shop "SELECT id, v FROM inc ORDER BY id" >"$T/inc.db"
wait_for 60 rebuild inc v || { diff "$T/inc.db" "$T/inc.topic" | head >&2; fail "inc rebuilt from its topic differs from the database"; }
nr=$(count_where "r['topic'] == 'shop.public.inc' and v and v['source']['snapshot'] == 'incremental'")
[ "$nr" -gt 0 ] || fail "no incremental snapshot rows"
grep -q '"topic":"shop.public.debezium_signal"' "$OUT" && fail "signal table rows were emitted"
pass "incremental snapshot during writes: $nr rows read in chunks of 500, table rebuilt from its topic equals the database ($(wc -l <"$T/inc.db") rows)"
check_py "deletes under REPLICA IDENTITY DEFAULT: the NOT NULL v (not sent) is its fallback 0" <<PY
d = of("shop.public.inc", "d")
expect(d, "no deletes of inc")
bad = [r["value"]["before"] for r in d if r["value"]["before"] != {"id": r["key"]["id"], "v": 0}]
expect(not bad, "%d of %d delete before images are not {id, v: 0}: %r" % (len(bad), len(d), bad[:3]))
PY

# ---- 4. heartbeats on an idle database -----------------------------------------------
# From here nothing writes to shop but heartbeat.action.query; WAL moves in another
# database, which gives the slot no change.
slot_lsn() { pg_sql main shop "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'debezium'"; }
idle_ms=$(date +%s%3N)
hb_ts0=$(pg_sql main shop "SELECT ts FROM hb WHERE id = 1")
[ -n "$hb_ts0" ] || fail "heartbeat.action.query never ran: table hb is empty"
pg_sql main postgres "CREATE TABLE elsewhere AS SELECT g FROM generate_series(1, 10000) g"
target=$(pg_sql main postgres "SELECT pg_current_wal_lsn()")
flushed_past() { [ "$(pg_sql main shop "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'debezium'")" = t ]; }
wait_for 30 flushed_past || fail "confirmed_flush_lsn $(slot_lsn) did not reach $target on an idle database"
# three heartbeats and two captured heartbeat-table updates since the idle period began
idle_beats() {
    [ "$(count_where "r['topic'] == '__debezium-heartbeat.shop' and v['ts_ms'] >= $idle_ms")" -ge 3 ] &&
        [ "$(count_where "r['topic'] == 'shop.public.hb' and v and v['source']['ts_ms'] >= $idle_ms")" -ge 2 ]
}
wait_for 15 idle_beats || fail "idle: $(count_where "r['topic'] == '__debezium-heartbeat.shop' and v['ts_ms'] >= $idle_ms") heartbeats, $(count_where "r['topic'] == 'shop.public.hb' and v and v['source']['ts_ms'] >= $idle_ms") hb changes"
[ "$(pg_sql main shop "SELECT ts > '$hb_ts0' FROM hb WHERE id = 1")" = t ] ||
    fail "heartbeat.action.query did not run again: hb.ts still $hb_ts0"
check_py "idle database: a heartbeat record a second (heartbeat.interval.ms), heartbeat.action.query run and its change captured each time" <<PY
hbs = [r for r in of("__debezium-heartbeat.shop") if r["value"]["ts_ms"] >= $idle_ms]
ts = [r["value"]["ts_ms"] for r in hbs]
expect(all(r["key"] == {"serverName": "shop"} for r in hbs), "heartbeat keys: %r" % [r["key"] for r in hbs])
# heartbeat.interval.ms = 1000: one a second, not one per poll
expect(all(b - a >= 900 for a, b in zip(ts, ts[1:])), "heartbeat ts_ms not increasing by the interval: %r" % ts)
upd = [r["value"] for r in of("shop.public.hb") if r["value"] and r["value"]["source"]["ts_ms"] >= $idle_ms]
expect(len(set(v["after"]["ts"] for v in upd)) == len(upd) and all(v["op"] == "u" for v in upd),
       "heartbeat-table changes: %r" % [(v["op"], v["after"]) for v in upd])
PY
pass "idle database: confirmed_flush_lsn advanced to $(slot_lsn) (>= $target), hb.ts $hb_ts0 -> $(pg_sql main shop "SELECT ts FROM hb")"

# ---- 5. bad input ----------------------------------------------------------------------
for want in "badpass.source.*password authentication failed" \
    "nodb.source.*database \"nosuchdb\" does not exist" \
    "norepl.source.*lacks the REPLICATION attribute" \
    "walreplica.source.*wal_level is 'replica'" \
    "nopub.source.*publication nopub does not exist"; do
    grep -q "status-task-${want}" "$T/worker.log" || { grep FAILED "$T/worker.log" >&2; fail "no FAILED status matching: $want"; }
done
kill -0 "$worker_pid" || fail "the worker died"
pass "bad input: wrong password, missing database, no REPLICATION, wal_level=replica, missing publication: FAILED with the reason, worker alive"

# ---- 5b. PostgreSQL restarts under the connector ------------------------------------------
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T/pg-main/data" -m fast -w restart >/dev/null ||
    fail "restarting PostgreSQL"
pg_sql main shop "INSERT INTO ri_default (id, name) SELECT g, 'after restart' FROM generate_series(100, 104) g"
after_restart() { [ "$(count_where "(v.get('after') or {}).get('name') == 'after restart'")" -ge 5 ]; }
wait_for 60 after_restart || { tail -20 "$T/worker.log" >&2; fail "no changes arrive after a PostgreSQL restart"; }
grep -q 'shop.source.*(reconnecting)' "$T/worker.log" || fail "the lost connection was not logged"
# heartbeat.action.query runs on the other (SQL) connection, which the restart ended too
restarted=$(pg_sql main shop "SELECT now()")
hb_after_restart() { [ "$(pg_sql main shop "SELECT ts > '$restarted' FROM hb WHERE id = 1")" = t ]; }
wait_for 10 hb_after_restart ||
    { grep 'heartbeat.action.query' "$T/worker.log" | tail -3 >&2; fail "heartbeat.action.query does not run after a PostgreSQL restart"; }
pass "PostgreSQL restarted: the task reconnected by itself, the next changes arrived, heartbeat.action.query runs again"

# ---- 6. kill -9 during a write load ----------------------------------------------------
cat >"$T/load.sql" <<'SQL'
\set id random(1, 500)
INSERT INTO acct VALUES (:id, 1) ON CONFLICT (id) DO UPDATE SET balance = acct.balance + 1;
\set d random(1, 500)
DELETE FROM acct WHERE id = :d AND :d % 7 = 0;
SQL
pgbench -h 127.0.0.1 -p "$PORT" -U postgres -n -c 2 -T 8 -f "$T/load.sql" shop >"$T/pgbench.log" 2>&1 &
load_pid=$!
track_pid "$load_pid"
sleep 3
kill -9 "$worker_pid"
wait "$worker_pid" 2>/dev/null
# the sink runs in the worker: the output stays as the kill left it until the
# restart (counted after it, so the restart comes while the load still runs)
cp "$OUT" "$T/out.at-kill"
sleep 1
start_worker
acct_before=$(OUT="$T/out.at-kill" counter_check acct balance | head -1 | cut -d' ' -f1)
log "kill -9 of the worker under load ($acct_before acct changes before it)"
wait "$load_pid" || { cat "$T/pgbench.log" >&2; fail "pgbench failed"; }
tx=$(grep -o 'number of transactions actually processed: [0-9]*' "$T/pgbench.log" | grep -o '[0-9]*$')
pg_sql main shop "SELECT id, balance FROM acct ORDER BY id" >"$T/acct.db"
wait_for 60 rebuild acct balance || { diff "$T/acct.db" "$T/acct.topic" | head >&2; fail "acct rebuilt from its topic differs from the database"; }
pass "kill -9 under load ($tx pgbench transactions): acct rebuilt from its topic equals the database ($(wc -l <"$T/acct.db") rows)"
# the last value of a key hides a change lost around the kill (the load goes on
# over the same 500 keys): every change must be there, in order
counter_check acct balance >"$T/acct.seq"
[ "$(wc -l <"$T/acct.seq")" -eq 1 ] ||
    { sed -n '2,21p' "$T/acct.seq" >&2; fail "kill -9 under load: $(($(wc -l <"$T/acct.seq") - 1)) acct changes lost, out of order or snapshotted again"; }
set -- $(head -1 "$T/acct.seq")
[ "$acct_before" -gt 0 ] && [ "$1" -gt "$acct_before" ] ||
    fail "the load did not span the kill: $acct_before acct records before it, $1 changes in all"
pass "kill -9 under load: no acct change lost (balance counts each key's changes without a gap, $1 changes in $2 records, $acct_before before the kill), none snapshotted again"

# ---- 6b. kill -9 in the middle of an incremental snapshot ---------------------------------
pg_sql main shop "INSERT INTO resume SELECT g, g FROM generate_series(1, 30000) g"
# incr_rows: incremental snapshot rows of resume in the output, and the distinct ids among them
# (lines torn by the kill -9 are read from their last record on)
incr_rows()
{
    python3 - "$OUT" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["PG_LIB_DIR"])
from pg_expect import records
n, ids = 0, set()
for r in records(sys.argv[1]):
    v = r["value"]
    if r["topic"] == "shop.public.resume" and v and v["op"] == "r" and v["source"]["snapshot"] == "incremental":
        n += 1
        ids.add(r["key"]["id"])
print(n, len(ids), int(ids == set(range(1, 30001))))
PY
}
psql "postgresql://sluice:secret@127.0.0.1:$PORT/shop" -XAtq -c "INSERT INTO debezium_signal VALUES ('sig-2', 'execute-snapshot', '{\"data-collections\": [\"public.resume\"]}')" ||
    fail "inserting the signal for resume"
# (grep: quick enough to catch the snapshot a third of the way through)
some_read() { [ "$(grep -c '"topic": *"shop.public.resume".*"snapshot": *"incremental"' "$OUT")" -ge 5000 ]; }
wait_for 60 some_read || { tail -5 "$T/worker.log" >&2; fail "the incremental snapshot of resume did not start: $(incr_rows)"; }
grep -q 'incremental snapshot of public.resume done' "$T/worker.log" &&
    fail "the snapshot of resume finished before the kill: make the table bigger"
kill -9 "$worker_pid"
wait "$worker_pid" 2>/dev/null
set -- $(incr_rows)
before_kill=$1
log "kill -9 of the worker in the incremental snapshot of resume ($before_kill rows read)"
start_worker
resume_done() { grep -q 'incremental snapshot of public.resume done' "$T/worker.log"; }
wait_for 90 resume_done || { tail -20 "$T/worker.log" >&2; fail "the resumed incremental snapshot of resume did not complete"; }
grep -q 'incremental snapshot of public.resume resumed after key' "$T/worker.log" ||
    { grep 'incremental snapshot' "$T/worker.log" | tail >&2; fail "the incremental snapshot was not resumed from a stored chunk"; }
all_read() { set -- $(incr_rows); [ "$3" = 1 ]; }
wait_for 30 all_read || fail "after the restart not every row of resume arrived as op 'r': $(incr_rows) (rows, distinct ids, all)"
set -- $(incr_rows)
# resumed, not started over: the rows read twice (from the last stored chunk to the kill)
# are fewer than those read before the kill
[ $(($1 - 30000)) -lt "$before_kill" ] ||
    fail "$1 incremental rows for 30000: the snapshot started over instead of resuming ($before_kill before the kill)"
pass "kill -9 in an incremental snapshot: resumed ($(grep -o 'resumed after key ([^)]*)' "$T/worker.log" | tail -1)), completed, all 30000 rows as op 'r' ($(($1 - 30000)) read twice, $before_kill before the kill)"

kill -TERM "$worker_pid"
wait "$worker_pid"
rc=$?
[ "$rc" = 0 ] || fail "worker exited with $rc after SIGTERM"
pass "worker stopped cleanly"

# ---- 7. the slot vanished while the worker was down ------------------------------------
pg_sql main shop "SELECT pg_drop_replication_slot('debezium')" >/dev/null
start_worker
slot_missing() { grep -q "status-task-shop.source-0: FAILED.*replication slot debezium is missing" "$T/worker.log"; }
wait_for 30 slot_missing || fail "a missing slot after restart is not a clear FAILED"
pass "restart without its slot: $(grep -o 'replication slot debezium is missing[^;]*' "$T/worker.log" | head -1)"
finish
