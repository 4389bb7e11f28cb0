#!/usr/bin/env bash
# worker_transforms.sh - single message transforms as a pipeline file names
# them, on real records through the broker:
#
#   datagen (ops=mixed: inserts, updates, deletes + tombstones)
#     -> [ExtractNewRecordState rewrite + add.fields, RegexRouter] -> broker
#     -> file sink (topics.regex) with its own Filter (drop tombstones by predicate)
#
# Checks: the source wrote flattened rows (no before/after) to the routed
# topic flat.rows only; deletes carry __deleted=true and __op=d; the sink's
# Filter dropped the tombstones; every seq of the source is there once.
# Then a pipeline naming an unknown transform fails with a clear message.
. "$(dirname "$0")/lib.sh"
test_init worker_transforms

start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
P="$T/pipelines"
mkdir -p "$P"
N=3000
cat >"$P/flat.json" <<JSON
{"name": "flat",
 "source": {"connector.class": "datagen", "topic": "shop.public.rows", "max.records": $N,
            "ops": "mixed"},
 "transforms": [
   {"name": "unwrap", "type": "io.debezium.transforms.ExtractNewRecordState",
    "delete.handling.mode": "rewrite", "drop.tombstones": "false", "add.fields": "op,table"},
   {"name": "route", "type": "org.apache.kafka.connect.transforms.RegexRouter",
    "regex": "([^.]*)\\\\.public\\\\.(.*)", "replacement": "flat.\$2"}],
 "sinks": {"out": {"connector.class": "file", "topics.regex": "flat\\\\..*", "file": "$T/flat.jsonl",
                   "transforms": "notomb", "transforms.notomb.type": "Filter",
                   "transforms.notomb.predicate": "tomb",
                   "predicates": "tomb", "predicates.tomb.type": "RecordIsTombstone"}}}
JSON
cat >"$P/bad.json" <<JSON
{"name": "bad",
 "source": {"connector.class": "datagen", "topic": "bad.rows", "max.records": 10},
 "transforms": [{"type": "org.example.NoSuchTransform"}]}
JSON
"$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
    --set "listeners=http://127.0.0.1:$(free_port)" 2>>"$T/worker.log" &
track_pid $!

done_source() { kcat -C -b "$BOOTSTRAP" -t _sluice_offsets -e -q -f '%s\n' 2>/dev/null | grep -q "\"seq\": $N"; }
wait_for 60 done_source || fail "the source did not store position seq $N"
kcat -L -b "$BOOTSTRAP" >"$T/meta.txt" 2>/dev/null
grep -q 'topic "flat.rows"' "$T/meta.txt" || fail "no topic flat.rows"
grep -q 'topic "shop.public.rows"' "$T/meta.txt" && fail "the source also wrote the unrouted topic"
pass "RegexRouter: records went to flat.rows, none to shop.public.rows"

kcat -C -b "$BOOTSTRAP" -t flat.rows -e -q -f '%S\n' >"$T/sizes.txt" 2>/dev/null
tomb=$(grep -c '^-1$' "$T/sizes.txt")
total=$(wc -l <"$T/sizes.txt")
[ "$tomb" -gt 0 ] || fail "no tombstones in flat.rows (drop.tombstones=false keeps them)"
pass "flat.rows holds $total records, $tomb of them tombstones"

want=$((total - tomb))
have() { [ "$(lines "$T/flat.jsonl")" -ge "$want" ]; }
wait_for 60 have || fail "sink wrote $(lines "$T/flat.jsonl") of $want lines"
sleep 1
python3 - "$T/flat.jsonl" "$N" "$want" <<'PY' || fail "flattened rows are wrong"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n, want = int(sys.argv[2]), int(sys.argv[3])
if len(rows) != want:
    sys.exit(f"{len(rows)} lines, expected {want}")
ops = {}
for r in rows:
    v = r["value"]
    if v is None:
        sys.exit("a tombstone passed the Filter")
    if "before" in v or "after" in v or "source" in v:
        sys.exit(f"not flattened: {v}")
    for f in ("id", "__op", "__table", "__deleted"):
        if f not in v:
            sys.exit(f"missing {f}: {v}")
    if v["__table"] != "rows":
        sys.exit(f"__table {v['__table']}")
    if (v["__op"] == "d") != (v["__deleted"] == "true"):
        sys.exit(f"__deleted does not match __op: {v}")
    ops[v["__op"]] = ops.get(v["__op"], 0) + 1
if not all(ops.get(o, 0) > 0 for o in "cud"):
    sys.exit(f"expected creates, updates and deletes, got {ops}")
print(" ".join(f"{k}={ops[k]}" for k in sorted(ops)))
PY
pass "ExtractNewRecordState: $(lines "$T/flat.jsonl") flat rows with __op/__table/__deleted; the sink's Filter dropped $tomb tombstones"

wait_for 20 grep -q 'status-task-bad.source-0: FAILED.*NoSuchTransform' "$T/worker.log" ||
    fail "an unknown transform is not reported"
pass "unknown transform refused: $(grep -o 'transform[^"]*NoSuchTransform[^"]*' "$T/worker.log" | head -1 | cut -c1-160)"
finish
