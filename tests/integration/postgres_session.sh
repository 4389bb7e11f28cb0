#!/usr/bin/env bash
# postgres_session.sh - what the postgres source must not get wrong whatever
# the database around it is set to, as a user with a real PostgreSQL meets it:
#
#  a. session settings: the database and the connector's role set
#     bytea_output=escape, a lc_monetary other than C (when the machine has
#     such a locale), DateStyle 'SQL, DMY', IntervalStyle sql_standard and
#     extra_float_digits=0 and client_encoding LATIN1 (ALTER DATABASE /
#     ALTER ROLE ... SET); bytea, money, float8, timestamptz, interval and
#     text (with a character LATIN1 lacks) values still arrive as
#     inserted, in the snapshot and streamed (the connector pins the forms it
#     parses on both of its connections);
#  b. numeric without typmod at PostgreSQL's limits: 2000 digits, 1000
#     digits after the point, and the largest value there is (131072 digits
#     before the point, 16383 after) arrive exactly, snapshot and streamed,
#     as VariableScaleDecimal (decimal.handling.mode=precise, through the
#     avro converter and the registry) and as text (string); as double, a
#     value beyond a double's range is null, a long one within it the
#     nearest double;
#  c. snapshot.mode=initial_only: once its snapshot is in the topic, no
#     replication slot of it is left to hold WAL back, and a restart of the
#     finished task stays done (no new slot, no rows again).
#
# Environment: SLUICE (required), PLUGIN_PATH (optional plugin.path).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
test_init postgres_session
pg_trap

start_pg main "wal_level = logical"
PORT=$(pg_port main)
pg_sql main postgres "CREATE ROLE sluice LOGIN REPLICATION PASSWORD 'secret'"
pg_sql main postgres "CREATE DATABASE shop OWNER sluice"
pg_sql main postgres "ALTER DATABASE shop SET bytea_output = 'escape'"
pg_sql main postgres "ALTER ROLE sluice SET DateStyle = 'SQL, DMY'; ALTER ROLE sluice SET IntervalStyle = 'sql_standard'; ALTER ROLE sluice SET extra_float_digits = 0; ALTER ROLE sluice SET client_encoding = 'LATIN1'"
# lc_monetary takes only a locale the server's machine has: the first of
# `locale -a` that is not C or POSIX. A machine with none (a minimal
# container: C, C.utf8, POSIX) cannot show another money format, so that
# part is skipped there (said in the log).
MON_LOCALE=$(locale -a 2>/dev/null | grep -viE '^(c|posix|c\.utf-?8)$' | head -1)
if [ -n "$MON_LOCALE" ]; then
    pg_sql main postgres "ALTER DATABASE shop SET lc_monetary = '$MON_LOCALE'"
    log "lc_monetary of database shop: $MON_LOCALE"
else
    log "no locale but C and POSIX on this machine (locale -a): lc_monetary stays C, its part is skipped"
fi
pg_sql main shop "CREATE TABLE blobs (id int PRIMARY KEY, by bytea, m money, f8 float8, tstz timestamptz, iv interval, tx text); ALTER TABLE blobs OWNER TO sluice"
pg_sql main shop "CREATE TABLE nums (id int PRIMARY KEY, nv numeric); ALTER TABLE nums OWNER TO sluice"
# rows 1-4 (+10 when streamed): 2000 digits; 500 + 1000 after the point,
# negative; PostgreSQL's largest; 1200 digits after the point, as a double
# 0.333...
NUMS="(repeat('1234567890', 200))::numeric,
      ('-' || repeat('9876543210', 50) || '.' || repeat('0123456789', 100))::numeric,
      (repeat('7', 131072) || '.' || repeat('3', 16383))::numeric,
      ('0.' || repeat('3', 1200))::numeric"
ins_nums() { pg_sql main shop "INSERT INTO nums SELECT $1 + i, (ARRAY[$NUMS])[i] FROM generate_series(1, 4) i"; }
# money: amounts without a thousands separator, which would keep the digits
# of '1.234,56 EUR' by chance; '12,50 EUR' read as C would be 1250.00
ins_blob() { pg_sql main shop "INSERT INTO blobs VALUES ($1, '\\x00ff5c27410a'::bytea, '$2'::numeric::money, 0.1::float8 + 0.2, '2024-02-29 11:14:15.5+00', '1 year 2 months 3 days 04:05:06.5', 'café ☕')"; }
ins_nums 0
ins_blob 1 12.50

start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
start_registry
for t in sess.public.blobs sess.public.nums once.public.nums dbl.public.nums; do
    "$SLUICE" topics create -b "$BOOTSTRAP" -t "$t" --partitions 1 --if-not-exists >/dev/null 2>&1
done

P="$T/pipelines"
mkdir -p "$P"
# src PREFIX SLOT TABLES MORE: a source's config
src()
{
    cat <<JSON
{"connector.class": "postgres", "database.hostname": "127.0.0.1", "database.port": $PORT,
 "database.user": "sluice", "database.password": "secret", "database.dbname": "shop",
 "topic.prefix": "$1", "slot.name": "$2", "publication.name": "$2_pub",
 "publication.autocreate.mode": "filtered", "table.include.list": "$3" $4}
JSON
}
cat >"$P/sess.json" <<JSON
{"name": "sess", "source": $(src sess sess 'public\\.(blobs|nums)' ', "key.converter": "avro", "value.converter": "avro"'),
 "sinks": {"out": {"connector.class": "file", "topics": "sess.public.blobs,sess.public.nums",
                   "file": "$T/sess.jsonl", "key.converter": "avro", "value.converter": "avro"}}}
JSON
cat >"$P/once.json" <<JSON
{"name": "once", "source": $(src once once 'public\\.nums' ', "snapshot.mode": "initial_only", "decimal.handling.mode": "string"'),
 "sinks": {"out": {"connector.class": "file", "topics": "once.public.nums", "file": "$T/once.jsonl"}}}
JSON
cat >"$P/dbl.json" <<JSON
{"name": "dbl", "source": $(src dbl dbl 'public\\.nums' ', "snapshot.mode": "initial_only", "decimal.handling.mode": "double"'),
 "sinks": {"out": {"connector.class": "file", "topics": "dbl.public.nums", "file": "$T/dbl.jsonl"}}}
JSON
pg_worker "$P"

task_state() { curl -s "$W/connectors/$1.source/status" | python3 -c "import json,sys; t=json.load(sys.stdin)['tasks'][0]; print(t['state'], t.get('trace', '')[:400])" 2>/dev/null; }
# arrived FILE N NAME: wait for N records in FILE, else fail with the task's state
arrived() { wait_for 60 have_lines "$1" "$2" || fail "$3: $(lines "$1") of $2 records arrived; task: $(task_state "${3%% *}")"; }
# db_text SQL: a value's text as the database prints it
db_text() { pg_sql main shop "$1"; }

# check_py WHAT FILE <<'PY': python asserts over FILE's records (recs: dicts;
# after(topic, id): the after image of the record of that key; expect(cond, msg))
check_py()
{
    local what="$1" out rc
    out=$(python3 - "$2" "$T" 2>&1 <<PYEOF
import base64, json, sys
sys.set_int_max_str_digits(0)
recs = [json.loads(l) for l in open(sys.argv[1])]
T = sys.argv[2]
fails = []
def expect(cond, msg):
    if not cond:
        fails.append(msg)
def after(topic, id):
    rows = [r["value"]["after"] for r in recs if r["topic"] == topic and r["key"] == {"id": id}]
    return rows[-1] if rows else None
def unscaled(b64):
    return int.from_bytes(base64.b64decode(b64), "big", signed=True)
def dec_text(u, scale):  # an unscaled integer and a scale as PostgreSQL prints it
    s = str(abs(u)).rjust(scale + 1, "0")
    return ("-" if u < 0 else "") + (s[:-scale] + "." + s[-scale:] if scale else s)
$(cat)
for f in fails:
    print(f[:400])
PYEOF
)
    rc=$? # a check that cannot run (an exception) has not passed
    if [ -n "$out" ] || [ "$rc" != 0 ]; then
        echo "$out" | tail -20 >&2
        fail "$what (python3 exited with $rc)"
    fi
    pass "$what"
}

# the values' text as the database holds them, for the checks
for i in 1 2 3 4; do db_text "SELECT nv FROM nums WHERE id = $i" >"$T/num$i.txt"; done

# ---- a + b: snapshot -------------------------------------------------------------
arrived "$T/sess.jsonl" 5 "sess snapshot"
BLOB_CHECK='
def check_blob(id, money_cents, what):
    a = after("sess.public.blobs", id)
    expect(a is not None, what + ": no row")
    if a is None:
        return
    expect(base64.b64decode(a["by"]) == bytes.fromhex("00ff5c27410a"), what + ": bytea %r" % a["by"])
    expect(unscaled(a["m"]) == money_cents, what + ": money %r = %d cents, expected %d" % (a["m"], unscaled(a["m"]), money_cents))
    expect(a["f8"] == 0.30000000000000004, what + ": float8 %r" % a["f8"])
    expect(a["tstz"] == "2024-02-29T11:14:15.5Z", what + ": timestamptz %r" % a["tstz"])
    iv = ((14 * 30.4375 + 3) * 86400 + 4 * 3600 + 5 * 60 + 6.5) * 1000000
    expect(a["iv"] == iv, what + ": interval %r, expected %r" % (a["iv"], iv))
    expect(a["tx"] == "caf\u00e9 \u2615", what + ": text %r" % a["tx"])
'
NUM_CHECK='
def check_nums(topic, base, what):
    for i in range(1, 5):
        a = after(topic, base + i)
        want = open("%s/num%d.txt" % (T, i)).read().strip()
        expect(a is not None, "%s: no row %d" % (what, base + i))
        if a is None:
            continue
        v = a["nv"]
        got = dec_text(unscaled(v["value"]), v["scale"]) if isinstance(v, dict) else v
        expect(got == want, "%s: row %d: %d characters %.30s...%.30s, expected %d %.30s...%.30s" %
               (what, base + i, len(got), got, got[-30:], len(want), want, want[-30:]))
'
check_py "(a) snapshot under bytea_output=escape${MON_LOCALE:+, lc_monetary=$MON_LOCALE}, DateStyle SQL, IntervalStyle sql_standard, extra_float_digits 0, client_encoding LATIN1: bytea, money, float8, timestamptz, interval, text (UTF-8, a character LATIN1 lacks) as inserted" "$T/sess.jsonl" <<PY
$BLOB_CHECK
check_blob(1, 1250, "snapshot")
PY
check_py "(b) snapshot: numeric of 2000 digits, 500.1000 digits, 131072.16383 digits (PostgreSQL's largest), 0.(1200 digits) exact as VariableScaleDecimal (avro)" "$T/sess.jsonl" <<PY
$NUM_CHECK
check_nums("sess.public.nums", 0, "precise snapshot")
PY

# ---- c: initial_only ---------------------------------------------------------------
arrived "$T/once.jsonl" 4 "once snapshot"
arrived "$T/dbl.jsonl" 4 "dbl snapshot"
check_py "(b) decimal.handling.mode=string: the same four values, text for text" "$T/once.jsonl" <<PY
$NUM_CHECK
check_nums("once.public.nums", 0, "string snapshot")
expect(len(recs) == 4, "once: %d records, expected the 4 rows of the snapshot" % len(recs))
PY
check_py "(b) decimal.handling.mode=double: beyond a double's range null, 0.(1200 digits) 0.3333333333333333" "$T/dbl.jsonl" <<PY
got = [after("dbl.public.nums", i)["nv"] for i in range(1, 5)]
expect(got == [None, None, None, 0.3333333333333333], "double values: %r" % got)
PY
slots() { pg_sql main postgres "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$1'"; }
no_slot() { [ "$(slots "$1")" = 0 ]; }
# the last snapshot row is handed over before the task drops its slot: a moment
wait_for 10 no_slot once || fail "(c) slot 'once' of the finished initial_only task is still there: $(pg_sql main postgres "SELECT slot_name, temporary, active_pid FROM pg_replication_slots")"
no_slot dbl || fail "(c) slot 'dbl' of the finished initial_only task is still there"
grep -q "temporary slot once created" "$T/worker.log" || fail "(c) no 'temporary slot once created' in the worker log"
pass "(c) initial_only: the 4 snapshot rows in once.public.nums and dbl.public.nums, no slot once or dbl left ($(slots sess) slot of the streaming pipeline sess)"

# ---- a + b: streaming -------------------------------------------------------------
ins_blob 2 -7.25
ins_nums 10
arrived "$T/sess.jsonl" 10 "sess streaming"
check_py "(a) streamed under the same settings: bytea, money (-7.25), float8, timestamptz, interval as inserted" "$T/sess.jsonl" <<PY
$BLOB_CHECK
check_blob(2, -725, "streamed")
PY
check_py "(b) streamed: the four numeric values exact as VariableScaleDecimal" "$T/sess.jsonl" <<PY
$NUM_CHECK
check_nums("sess.public.nums", 10, "precise streamed")
PY

# ---- c: a restart of the finished initial_only task stays done ---------------------------
curl -sf -X POST "$W/connectors/once.source/tasks/0/restart" >/dev/null || fail "restart of once.source"
sleep 3
case "$(task_state once)" in RUNNING*) ;; *) fail "(c) once.source after the restart: $(task_state once)" ;; esac
no_slot once || fail "(c) the restarted initial_only task made a slot once"
[ "$(lines "$T/once.jsonl")" = 4 ] || fail "(c) the restarted initial_only task emitted again: $(lines "$T/once.jsonl") records"
pass "(c) restart of the finished initial_only task: RUNNING, done, no slot, no record again"

# ---- c: an initial_only task that dies in its snapshot ---------------------------------
# A row-level security policy that sleeps 0.1 s per row while slow.on_ is
# true holds the snapshot's COPY of table held for 10 s (a lock cannot: one
# that stops a COPY gets an xid, which the slot's creation waits for); rows
# of 2 kB, so that the server sends some (8 kB at a time) early, and 5
# rows per poll, so that they go on before the COPY ends. The worker
# is killed -9 in it, some rows and a snapshot position stored. The temporary slot goes with its walsender, and a new
# worker takes the snapshot again from the start and leaves no slot either.
stop_worker
pg_sql main shop "CREATE TABLE slow (on_ boolean); INSERT INTO slow VALUES (true); ALTER TABLE slow OWNER TO sluice;
    CREATE TABLE held (id int PRIMARY KEY, pad text); ALTER TABLE held OWNER TO sluice; INSERT INTO held SELECT g, repeat('x', 2000) FROM generate_series(1, 100) g;
    ALTER TABLE held ENABLE ROW LEVEL SECURITY; ALTER TABLE held FORCE ROW LEVEL SECURITY;
    CREATE POLICY slow ON held USING (pg_sleep(CASE WHEN (SELECT on_ FROM slow) THEN 0.1 ELSE 0 END) IS NOT NULL)"
"$SLUICE" topics create -b "$BOOTSTRAP" -t held.public.held --partitions 1 --if-not-exists >/dev/null 2>&1
P2="$T/pipelines2"
mkdir -p "$P2"
cat >"$P2/held.json" <<JSON
{"name": "held", "source": $(src held held 'public\\.held' ', "snapshot.mode": "initial_only", "snapshot.fetch.size": 5'),
 "sinks": {"out": {"connector.class": "file", "topics": "held.public.held", "file": "$T/held.jsonl"}}}
JSON
start_held_worker()
{
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P2" \
        --set "listeners=http://127.0.0.1:$(free_port)" --set offset.flush.interval.ms=500 "${pp[@]}" 2>>"$T/worker2.log" &
    worker_pid=$!
    track_pid $worker_pid
}
start_held_worker
copying() { [ "$(pg_sql main shop "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY%held%'")" = 1 ]; }
wait_for 30 copying || fail "(c) the snapshot's COPY of held did not start: $(tail -3 "$T/worker2.log")"
slot_kind=$(pg_sql main postgres "SELECT CASE WHEN temporary THEN 'temporary' ELSE 'permanent' END FROM pg_replication_slots WHERE slot_name = 'held'")
[ "$slot_kind" = temporary ] || fail "(c) slot held during the snapshot: '$slot_kind', not temporary"
wait_for 30 have_lines "$T/held.jsonl" 4 || fail "(c) no row of held arrived during its snapshot"
sleep 1 # offset.flush.interval.ms: a snapshot position stored
kill9_worker
wait_for 15 no_slot held || fail "(c) slot held outlived the killed task: $(pg_sql main postgres "SELECT slot_name, temporary, active_pid FROM pg_replication_slots")"
pass "(c) initial_only killed -9 in its snapshot ($(lines "$T/held.jsonl") of 100 rows out, the slot temporary): the slot went with it"
pg_sql main shop "UPDATE slow SET on_ = false"
start_held_worker
# held_ids: the distinct ids in held.jsonl (a line torn by the kill -9 is
# read from the record that continues it)
held_ids() { python3 - "$T/held.jsonl" <<'PY'
import json, sys
ids = set()
for l in open(sys.argv[1]):
    try:
        ids.add(json.loads(l[l.rindex('{"topic":'):])["key"]["id"])
    except ValueError:
        pass
print(len(ids))
PY
}
all_held() { [ "$(held_ids)" = 100 ]; }
wait_for 60 all_held || fail "(c) held: $(held_ids) distinct rows of 100 after the restart: $(tail -3 "$T/worker2.log")"
wait_for 10 no_slot held || fail "(c) slot held is left after the snapshot taken again"
[ "$(grep -c "temporary slot held created" "$T/worker2.log")" = 2 ] || fail "(c) the snapshot of held was not taken twice: $(grep "slot held" "$T/worker2.log")"
pass "(c) restarted: the snapshot taken again from the start, all 100 rows, no slot left"
finish
