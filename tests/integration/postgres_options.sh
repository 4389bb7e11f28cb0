#!/usr/bin/env bash
# postgres_options.sh - the Debezium options every PostgreSQL connector
# config carries, as a Debezium user meets them on sluice:
#
#  1. plugin.name=decoderbufs (Debezium's old default) and
#     snapshot.isolation.mode=read_committed are refused at once: the REST
#     validate answer and POST /connectors (400) name the key and the value;
#  2. connectors created over REST with plugin.name=pgoutput and the other
#     keys load and run:
#       a: defaults (skipped.operations t, include.unknown.datatypes false),
#          schema.include.list=public, a filtered publication, slot.drop.on.stop;
#       b: skipped.operations=d, include.unknown.datatypes=true,
#          snapshot.isolation.mode=repeatable_read;
#       c: skipped.operations=none, snapshot.include.collection.list=public.u,
#          transaction metadata to c.txn (topic.transaction) and heartbeats
#          to hb.c (topic.heartbeat.prefix);
#  3. the records: a truncate is left out by default and emitted under
#     none; skipped.operations=d drops deletes and their tombstones, not
#     inserts; schema.include.list keeps schema other's table (snapshot,
#     stream, publication) out; a composite-type and a box column are left
#     out of a's schema and records and are strings in b's;
#  4. DELETE /connectors/a drops slot a (slot.drop.on.stop=true); deleting b
#     (false) keeps slot b;
#  5. TLS with certificates, as a locked-down server asks: connector d logs
#     in as certuser by client certificate only (pg_hba `cert`), with
#     database.sslmode=verify-full against database.sslrootcert and an
#     encrypted database.sslkey opened with database.sslpassword (masked in
#     the REST answers); both of its connections are TLS, its query
#     connection ran database.initial.statements (';;' a ';' in one), and
#     column.include.list keeps only the named columns (and the key); e,
#     with a CA that did not sign the server's certificate, is FAILED
#     naming the verification;
#  6. message.key.columns: t1 keyed by v instead of its primary key (a
#     delete's key has v null: outside the replica identity, warned), and a
#     table without primary key (REPLICA IDENTITY FULL) keyed by (b, a) in
#     that order (two entries match it: "nopk:b" and "no.*:A", names
#     case-insensitive), b nullable: keys in snapshot and stream, an update moving
#     the key a delete, tombstone and create; its max.batch.size=1 polls one record
#     per batch (the worker's /metrics).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
test_init postgres_options
pg_trap

C="$T/certs"
test_ca "$C"
signed pgserver ca 127.0.0.1
signed pgclient ca certuser
SSLPW='ssl-k3y-pw-5521'
ossl pkey -in "$C/pgclient.key" -aes256 -passout "pass:$SSLPW" -out "$C/pgclient-enc.key"
chmod 600 "$C/pgserver.key" "$C/pgclient-enc.key"
chown postgres "$C/pgserver.key" "$C/pgserver.pem"
start_pg main "wal_level = logical" "ssl = on" "ssl_cert_file = '$C/pgserver.pem'" \
    "ssl_key_file = '$C/pgserver.key'" "ssl_ca_file = '$C/ca.pem'"
PORT=$(pg_port main)
# certuser may log in only over TLS with a certificate (CN = the user name)
sed -i '1i hostssl all certuser 127.0.0.1/32 cert\nhostssl replication certuser 127.0.0.1/32 cert' \
    "$T/pg-main/data/pg_hba.conf"
pg_sql main postgres "CREATE ROLE certuser LOGIN REPLICATION; SELECT pg_reload_conf()" >/dev/null
pg_sql main postgres "CREATE ROLE sluice LOGIN REPLICATION PASSWORD 'secret'"
pg_sql main postgres "CREATE DATABASE opt OWNER sluice"
psql "postgresql://sluice:secret@127.0.0.1:$PORT/opt" -XAtq -v ON_ERROR_STOP=1 <<'SQL' || fail "schema"
CREATE SCHEMA other;
CREATE TYPE pair AS (a int, b text);
CREATE TABLE t1 (id int PRIMARY KEY, v text);
CREATE TABLE u (id int PRIMARY KEY, p pair, bx box, note text);
CREATE TABLE other.t2 (id int PRIMARY KEY);
INSERT INTO t1 VALUES (1, 'one');
INSERT INTO u VALUES (1, ROW(7, 'seven'), '((0,0),(1.5,2))', 'n1');
INSERT INTO other.t2 VALUES (1);
SQL
# one publication for b and c (a builds its own, filtered)
pg_sql main opt "CREATE PUBLICATION dbz_publication FOR ALL TABLES"

start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
for p in a b c; do
    for tb in public.t1 public.u other.t2; do
        "$SLUICE" topics create -b "$BOOTSTRAP" -t "$p.$tb" --partitions 1 --if-not-exists >/dev/null 2>&1
    done
done
for tp in c.txn hb.c; do
    "$SLUICE" topics create -b "$BOOTSTRAP" -t "$tp" --partitions 1 --if-not-exists >/dev/null 2>&1
done
P="$T/pipelines"
mkdir -p "$P"
WPORT=$(free_port)
U="http://127.0.0.1:$WPORT"
pp=()
[ -n "${PLUGIN_PATH:-}" ] && pp=(--set "plugin.path=$PLUGIN_PATH")
"$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" --set "listeners=$U" \
    --set offset.flush.interval.ms=300 "${pp[@]}" 2>"$T/worker.log" &
worker_pid=$!
track_pid $worker_pid
healthy() { curl -sf "$U/health" >/dev/null; }
wait_for 30 healthy || fail "the worker's /health did not answer"

py() { python3 -c "import json,sys; raw=open(sys.argv[1]).read(); d=json.loads(raw) if raw.strip() else None; sys.exit(0 if (eval(sys.argv[2])) else 1)" "$T/body" "$1"; }
expect()
{
    [ "$CODE" = "$1" ] || fail "$3: HTTP $CODE, expected $1: $(head -c 600 "$T/body")"
    [ -z "$2" ] || py "$2" || fail "$3: ($2) is false for: $(head -c 900 "$T/body")"
    pass "$3"
}

# pg_config NAME [EXTRA JSON members]: a Debezium-style source config
pg_config()
{
    local name="$1"
    shift
    echo "{\"connector.class\": \"postgres\", \"database.hostname\": \"127.0.0.1\",
  \"database.port\": \"$PORT\", \"database.user\": \"sluice\", \"database.password\": \"secret\",
  \"database.dbname\": \"opt\", \"topic.prefix\": \"$name\", \"slot.name\": \"$name\",
  \"plugin.name\": \"pgoutput\"${1:+, $1}}"
}

# ---- 1. refused values ----------------------------------------------------------
bad=$(pg_config z '"plugin.name": "decoderbufs"' | sed 's/"plugin.name": "pgoutput", //')
req PUT /connector-plugins/postgres/config/validate "$bad"
expect 200 "d['error_count'] == 1 and [e for c in d['configs'] if c['value']['name'] == 'plugin.name' for e in c['value']['errors'] if 'decoderbufs' in e and 'pgoutput' in e]" \
    "validate: plugin.name=decoderbufs is an error naming the value and pgoutput"
req POST /connectors "{\"name\": \"z\", \"config\": $bad}"
expect 400 "'plugin.name' in d['message'] and 'decoderbufs' in d['message'] and 'pgoutput' in d['message']" \
    "POST with plugin.name=decoderbufs: 400 naming the key, the value and pgoutput"
req POST /connectors "{\"name\": \"z\", \"config\": $(pg_config z '"snapshot.isolation.mode": "read_committed"')}"
expect 400 "'snapshot.isolation.mode' in d['message'] and 'read_committed' in d['message']" \
    "POST with snapshot.isolation.mode=read_committed: 400 naming the key and the value"
req GET /connector-plugins/postgres/config
expect 200 "all(any(o['name'] == k and o['documentation'] for o in d) for k in ('plugin.name', 'skipped.operations', 'slot.drop.on.stop', 'schema.include.list', 'schema.exclude.list', 'snapshot.isolation.mode', 'include.unknown.datatypes')) and {o['name']: o['default_value'] for o in d}['skipped.operations'] == 't'" \
    "the option table has the seven options, documented, skipped.operations defaulting to t"

# ---- 2. three connectors --------------------------------------------------------
create()
{
    req POST /connectors "{\"name\": \"$1\", \"config\": $2}"
    expect 201 "" "POST /connectors $1"
    req POST /connectors "{\"name\": \"$1-out\", \"config\": {\"connector.class\": \"file\",
        \"topics\": \"$1.public.t1,$1.public.u,$1.other.t2\", \"file\": \"$T/$1.jsonl\"}}"
    [ "$CODE" = 201 ] || fail "POST /connectors $1-out: $CODE $(cat "$T/body")"
}
create a "$(pg_config a '"schema.include.list": "public", "publication.name": "a_pub",
  "publication.autocreate.mode": "filtered", "slot.drop.on.stop": "true",
  "snapshot.isolation.mode": "serializable"')"
create b "$(pg_config b '"skipped.operations": "d", "include.unknown.datatypes": "true",
  "snapshot.isolation.mode": "repeatable_read", "slot.drop.on.stop": "false"')"
create c "$(pg_config c '"skipped.operations": "none", "schema.exclude.list": "oth.*",
  "snapshot.include.collection.list": "public\\.u", "provide.transaction.metadata": "true",
  "topic.transaction": "txn", "heartbeat.interval.ms": "300", "topic.heartbeat.prefix": "hb"')"

# a: t1 1 + u 1; b: t1 1 + u 1 + t2 1; c: u 1 (snapshot.include.collection.list)
wait_for 60 have_lines "$T/a.jsonl" 2 && wait_for 30 have_lines "$T/b.jsonl" 3 &&
    wait_for 30 have_lines "$T/c.jsonl" 1 || fail "snapshots did not arrive: $(tail -5 "$T/worker.log")"
pass "connectors with plugin.name=pgoutput and the other keys run and take their snapshots"

pg_sql main opt "INSERT INTO t1 VALUES (2, 'two')"
pg_sql main opt "DELETE FROM t1 WHERE id = 1"
pg_sql main opt "TRUNCATE u"
pg_sql main opt "INSERT INTO u VALUES (2, ROW(8, 'eight'), '((3,4),(0,0))', 'n2')"
pg_sql main opt "INSERT INTO other.t2 VALUES (2)"
pg_sql main opt "INSERT INTO t1 VALUES (9, 'last')"
last_in() { python3 - "$T/$1.jsonl" "$1" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(r["topic"] == sys.argv[2] + ".public.t1" and r["value"] and r["value"]["after"]
                  and r["value"]["after"]["id"] == 9 for r in recs) else 1)
PY
}
for p in a b c; do
    wait_for 60 last_in $p || fail "$p: the last insert did not arrive: $(tail -5 "$T/worker.log")"
done

# ---- 3. the records ---------------------------------------------------------------
# summary P: one line per record, "topic op key-id after-fields" (tombstone: op -)
summary() { python3 - "$T/$1.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    v = r["value"]
    key = (r.get("key") or {}).get("id")
    if v is None:
        print(r["topic"], "-", key)
        continue
    row = v["after"] or v["before"] or {}
    print(r["topic"], v["op"], key, ",".join(sorted(row)), json.dumps(row.get("p")), json.dumps(row.get("bx")))
PY
}
summary a >"$T/a.sum"
summary b >"$T/b.sum"
summary c >"$T/c.sum"
grep -q "^c.public.u t " "$T/c.sum" || fail "c (skipped.operations=none): no truncate record: $(cat "$T/c.sum")"
grep -q "^a.public.u t " "$T/a.sum" && fail "a (default skipped.operations=t): a truncate record: $(cat "$T/a.sum")"
grep -q "^a.public.u c 2 " "$T/a.sum" || fail "a: the insert after the truncate is missing: $(cat "$T/a.sum")"
pass "truncate: left out by default (skipped.operations=t), emitted with skipped.operations=none"

grep -q "^c.public.t1 d 1 " "$T/c.sum" && grep -q "^c.public.t1 - 1" "$T/c.sum" ||
    fail "c: the delete of 1 and its tombstone: $(cat "$T/c.sum")"
grep -Eq "^b.public.t1 (d|-) " "$T/b.sum" && fail "b (skipped.operations=d): a delete or tombstone: $(cat "$T/b.sum")"
grep -q "^b.public.t1 c 2 " "$T/b.sum" && grep -q "^b.public.t1 c 9 " "$T/b.sum" ||
    fail "b: the inserts are missing: $(cat "$T/b.sum")"
grep -q "^b.public.u t " "$T/b.sum" || fail "b (skipped.operations=d): no truncate: $(cat "$T/b.sum")"
pass "skipped.operations=d: no delete and no tombstone, inserts and truncates emitted"

grep -q "^a.other.t2 " "$T/a.sum" && fail "a (schema.include.list=public): other.t2 records: $(cat "$T/a.sum")"
grep -q "^b.other.t2 r 1 " "$T/b.sum" && grep -q "^b.other.t2 c 2 " "$T/b.sum" ||
    fail "b (no schema filter): other.t2 snapshot and insert missing: $(cat "$T/b.sum")"
grep -q "^c.other.t2 " "$T/c.sum" && fail "c (schema.exclude.list=oth.*): other.t2 records: $(cat "$T/c.sum")"
grep -q "^c.public.t1 c 9 " "$T/c.sum" || fail "c (schema.exclude.list=oth.*): public.t1 missing: $(cat "$T/c.sum")"
grep -q "^c.public.t1 r " "$T/c.sum" && fail "c (snapshot.include.collection.list=public.u): t1 snapshotted: $(cat "$T/c.sum")"
grep -q "^c.public.u r 1 " "$T/c.sum" || fail "c: u's snapshot row is missing: $(cat "$T/c.sum")"
pass "snapshot.include.collection.list=public.u: u snapshotted, t1 streamed only"
count() { kcat -C -b "$BOOTSTRAP" -t "$1" -o beginning -e -q -f '%s\n' 2>/dev/null | grep -c "$2"; }
# hb.c never ends (a beat every 300 ms, so -e would wait for ever): the first
timeout 10 kcat -C -b "$BOOTSTRAP" -t hb.c -o beginning -c 1 -q -f '%s\n' 2>/dev/null | grep -q ts_ms ||
    fail "no heartbeat in hb.c (topic.heartbeat.prefix=hb)"
[ "$(count c.txn '"status":"END"')" -ge 2 ] || fail "c.txn (topic.transaction=txn): $(count c.txn END) END events"
pass "topic.transaction=txn and topic.heartbeat.prefix=hb: transaction events in c.txn, heartbeats in hb.c"
pass "schema.exclude.list=oth.*: other.t2 left out, public kept"
pubs=$(pg_sql main opt "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY 1) FROM pg_publication_tables WHERE pubname = 'a_pub'")
[ "$pubs" = "public.t1,public.u" ] || fail "a's filtered publication: $pubs"
pass "schema.include.list=public: other.t2 not snapshotted, not streamed, not in the filtered publication ($pubs)"

grep -q '^a.public.u r 1 id,note null null$' "$T/a.sum" && grep -q '^a.public.u c 2 id,note null null$' "$T/a.sum" ||
    fail "a (include.unknown.datatypes=false): u's composite and box columns: $(grep public.u "$T/a.sum")"
grep -q '^b.public.u r 1 bx,id,note,p "(7,seven)" "(1.5,2),(0,0)"$' "$T/b.sum" &&
    grep -q '^b.public.u c 2 bx,id,note,p "(8,eight)" "(3,4),(0,0)"$' "$T/b.sum" ||
    fail "b (include.unknown.datatypes=true): u's columns: $(grep public.u "$T/b.sum")"
grep -q 'table public.u column bx: its type (oid 603) has no mapping; left out' "$T/worker.log" ||
    fail "a column left out for its type is not logged: $(grep 'no mapping' "$T/worker.log" | head -2)"
pass "include.unknown.datatypes: composite and box columns left out by default (and logged), their text with true"

# values refused when the task starts (they need more than one key)
task_trace() { curl -s "$U/connectors/$1/status" | python3 -c "import json,sys; t=json.load(sys.stdin)['tasks']; print(t[0]['state'] + ' ' + t[0].get('trace', '') if t else '')" 2>/dev/null; }
refused_at_start()
{
    req POST /connectors "{\"name\": \"$1\", \"config\": $2}"
    [ "$CODE" = 201 ] || fail "POST /connectors $1: $CODE $(cat "$T/body")"
    is_failed() { case "$(task_trace "$1")" in FAILED*) return 0 ;; esac; return 1; }
    wait_for 30 is_failed "$1" || fail "$1: the task did not fail: $(task_trace "$1")"
    case "$(task_trace "$1")" in *"$3"*) ;; *) fail "$1: the trace lacks '$3': $(task_trace "$1")" ;; esac
    pass "$4: $(task_trace "$1" | head -c 200)"
    req DELETE "/connectors/$1"
}
refused_at_start x "$(pg_config x '"schema.include.list": "public", "schema.exclude.list": "other"')" \
    "schema.include.list 'public' and schema.exclude.list 'other'" \
    "schema.include.list with schema.exclude.list: the task fails naming both"
refused_at_start y "$(pg_config y '"skipped.operations": "none,d"')" "skipped.operations: 'none,d'" \
    "skipped.operations=none,d: the task fails naming the value"

# ---- 4. slot.drop.on.stop ------------------------------------------------------------
slots() { pg_sql main opt "SELECT string_agg(slot_name, ',' ORDER BY 1) FROM pg_replication_slots"; }
[ "$(slots)" = "a,b,c" ] || fail "slots before the deletes: $(slots)"
req DELETE /connectors/a
[ "$CODE" = 204 ] || [ "$CODE" = 200 ] || fail "DELETE /connectors/a: $CODE"
no_slot_a() { [ "$(slots)" = "b,c" ]; }
wait_for 30 no_slot_a || fail "slot a (slot.drop.on.stop=true) still there after DELETE: $(slots)"
grep -q "slot a dropped (slot.drop.on.stop)" "$T/worker.log" || fail "no log line for the drop of slot a"
req DELETE /connectors/b
[ "$CODE" = 204 ] || [ "$CODE" = 200 ] || fail "DELETE /connectors/b: $CODE"
b_released() { [ "$(pg_sql main opt "SELECT active FROM pg_replication_slots WHERE slot_name = 'b'")" = f ]; }
wait_for 30 b_released || fail "slot b is still active (or gone) after DELETE: $(slots)"
[ "$(slots)" = "b,c" ] || fail "slot b (slot.drop.on.stop=false) was dropped: $(slots)"
pass "slot.drop.on.stop: DELETE /connectors/a dropped slot a, DELETE /connectors/b kept slot b"

# ---- 5. TLS with certificates, initial statements, column.include.list -----------------
pg_sql main opt "GRANT SELECT ON ALL TABLES IN SCHEMA public TO certuser"
for tb in public.t1 public.u other.t2; do
    "$SLUICE" topics create -b "$BOOTSTRAP" -t "d.$tb" --partitions 1 --if-not-exists >/dev/null 2>&1
done
tls_config() # NAME CA
{
    echo "{\"connector.class\": \"postgres\", \"database.hostname\": \"127.0.0.1\",
  \"database.port\": \"$PORT\", \"database.user\": \"certuser\", \"database.dbname\": \"opt\",
  \"topic.prefix\": \"$1\", \"slot.name\": \"$1\", \"plugin.name\": \"pgoutput\",
  \"database.sslmode\": \"verify-full\", \"database.sslrootcert\": \"$C/$2.pem\",
  \"database.sslcert\": \"$C/pgclient.pem\", \"database.sslkey\": \"$C/pgclient-enc.key\",
  \"database.sslpassword\": \"$SSLPW\", \"table.include.list\": \"public\\\\.(t1|u)\",
  \"column.include.list\": \"public\\\\.t1\\\\.id,public\\\\.u\\\\.note\",
  \"database.initial.statements\": \"SET application_name = 'first';SET application_name = 'init;;app'; -- a comment alone\"}"
}
create d "$(tls_config d ca)"
wait_for 60 have_lines "$T/d.jsonl" 3 || fail "d: the snapshot did not arrive: $(tail -5 "$T/worker.log")"
summary d >"$T/d.sum"
grep -q '^d.public.t1 r 2 id null null$' "$T/d.sum" && grep -q '^d.public.t1 r 9 id null null$' "$T/d.sum" &&
    grep -q '^d.public.u r 2 id,note null null$' "$T/d.sum" ||
    fail "d (column.include.list=t1.id,u.note): $(cat "$T/d.sum")"
pass "column.include.list: only t1.id and u.note (and u's key id) in the records"
tls=$(pg_sql main opt "SELECT string_agg(a.application_name || ':' || s.ssl, ',' ORDER BY 1)
  FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = 'certuser'")
[ "$tls" = "init;app:true,sluice:true" ] ||
    fail "d's connections (application_name:ssl), expected the query one renamed by its initial statements and both TLS: $tls"
pass "database.sslmode=verify-full, sslrootcert, sslcert and an encrypted sslkey with sslpassword: certificate login, both connections TLS; database.initial.statements ran in order, ';;' a ';' ($tls)"
req GET /connectors/d
[ "$CODE" = 200 ] && ! grep -q "$SSLPW" "$T/body" && grep -q 'database.sslpassword' "$T/body" ||
    fail "GET /connectors/d: $CODE, database.sslpassword not masked: $(head -c 600 "$T/body")"
pass "database.sslpassword masked in GET /connectors/d"

create e "$(tls_config e other-ca)"
e_state() { curl -s "$U/connectors/e/status" | python3 -c "import json,sys; t=json.load(sys.stdin)['tasks'][0]; print(t['state'], t.get('trace', '').replace(chr(10), ' '))" 2>/dev/null; }
e_failed() { st=$(e_state); case "$st" in FAILED*) return 0 ;; esac; return 1; }
wait_for 30 e_failed || fail "e (sslrootcert of another CA) is not FAILED: $(e_state)"
case "$st" in *"certificate verify failed"*) ;; *) fail "e's trace does not name the verification: $st" ;; esac
pass "a server certificate the sslrootcert CA did not sign: FAILED, naming it ($(echo "$st" | grep -o 'certificate verify failed.*' | head -c 120))"
grep -q "$SSLPW" "$T/worker.log" && fail "database.sslpassword is in the worker's log"

# ---- 6. message.key.columns ------------------------------------------------------------
pg_sql main opt "CREATE TABLE nopk (a int, b text, c int); ALTER TABLE nopk REPLICA IDENTITY FULL;
  ALTER TABLE nopk OWNER TO sluice; INSERT INTO nopk VALUES (1, 'x', 5), (2, NULL, 6)"
req POST /connectors "{\"name\": \"f\", \"config\": $(pg_config f '"table.include.list": "public\\.(t1|nopk)",
  "message.key.columns": "public\\.t1:v; public\\.nopk:b; public\\.no.*:A", "max.batch.size": "1"')}"
expect 201 "" "POST /connectors f (message.key.columns)"
req POST /connectors "{\"name\": \"f-out\", \"config\": {\"connector.class\": \"file\",
    \"topics\": \"f.public.t1,f.public.nopk\", \"file\": \"$T/f.jsonl\"}}"
[ "$CODE" = 201 ] || fail "POST /connectors f-out: $CODE $(cat "$T/body")"
wait_for 60 have_lines "$T/f.jsonl" 4 || fail "f: the snapshot did not arrive: $(tail -5 "$T/worker.log")"
pg_sql main opt "INSERT INTO nopk VALUES (3, 'y', 7); UPDATE nopk SET c = 8 WHERE a = 1; UPDATE nopk SET b = 'z' WHERE a = 2"
# t1's key column v is outside its replica identity (DEFAULT: the primary
# key): a delete's old key has no v, so its key is {v: null}, not a failure
pg_sql main opt "DELETE FROM t1 WHERE id = 2"
wait_for 60 have_lines "$T/f.jsonl" 11 || fail "f: the changes did not arrive: $(tail -5 "$T/worker.log")"
grep -q "message.key.columns column v is outside the replica identity" "$T/worker.log" ||
    fail "no warning that t1's key column v is outside the replica identity"
python3 - "$T/f.jsonl" <<'PY' || fail "message.key.columns"
import json, sys
got = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    v = r["value"]
    # the key's fields as a list of pairs: their order is the key schema's
    got.append((r["topic"].split(".")[-1], list(r["key"].items()), v["op"] if v else "-",
                ((v or {}).get("after") or {}).get("c")))
K = lambda b, a: [("b", b), ("a", a)] # message.key.columns' order: b, a
want = sorted([("t1", [("v", "two")], "r", None), ("t1", [("v", "last")], "r", None),
               ("nopk", K("x", 1), "r", 5), ("nopk", K(None, 2), "r", 6)], key=repr)
stream = {"nopk": [("nopk", K("y", 3), "c", 7), ("nopk", K("x", 1), "u", 8),
                   ("nopk", K(None, 2), "d", None), ("nopk", K(None, 2), "-", None),
                   ("nopk", K("z", 2), "c", 6)],
          "t1": [("t1", [("v", None)], "d", None), ("t1", [("v", None)], "-", None)]}
if sorted(got[:4], key=repr) != want or any([g for g in got[4:] if g[0] == tb] != s for tb, s in stream.items()):
    print("records (table, key, op, after.c):\n  %s" % "\n  ".join(map(repr, got)), file=sys.stderr)
    sys.exit(1)
PY
pass "message.key.columns: t1 keyed by v (a delete's key {v: null}, v outside the replica identity, and a warning); nopk (no primary key) by (b, a) in that order, b null in a key, in snapshot and stream; a moved key a delete, tombstone and create"
curl -sf "$U/metrics" >"$T/metrics" || fail "GET /metrics"
read -r f_recs f_batches < <(python3 - "$T/metrics" <<'PY'
import re, sys
v = {}
for l in open(sys.argv[1]):
    m = re.match(r'(sluice_task_(records_in|batches)_total)\{[^}]*connector="f"[^}]*\} (\d+)', l)
    if m:
        v[m.group(2)] = int(m.group(3))
print(v.get("records_in", 0), v.get("batches", 0))
PY
)
[ "${f_recs:-0}" -ge 11 ] && [ "$f_batches" -ge "$f_recs" ] ||
    fail "max.batch.size=1: connector f handed over $f_recs records in $f_batches batches"
pass "max.batch.size=1: $f_recs records in $f_batches batches (one record each at most)"
finish
