#!/usr/bin/env bash
# run.sh - `sluice run` as a user starts it: broker, schema registry and
# worker in one process on one data directory, a pipeline file using the
# avro converter, and real clients on the other side.
#
#  1. sluice run with role-prefixed keys and data.dir; datagen (50000
#     records) -> avro converter -> broker -> avro converter -> file sink:
#     every seq arrives exactly once; the registry holds <topic>-key and
#     <topic>-value with the logical types the source declared; kcat sees
#     the Confluent wire format (magic 0, the registry's id) and
#     @kafkajs/confluent-schema-registry decodes a message to the same row
#     the file sink wrote.
#  2. SIGTERM stops all three roles in order (worker first) with exit 0;
#     a restart on the same data.dir finds the subjects and ids again and
#     datagen resumes from its stored position (no seq twice, none more).
#  3. A bad key is refused with a message naming it; exit status 2.
. "$(dirname "$0")/lib.sh"
test_init run

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BROKER_PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
REG_PORT="$(free_port)"
REST_PORT="$(free_port)"
BOOTSTRAP="127.0.0.1:$BROKER_PORT"
REGISTRY="http://127.0.0.1:$REG_PORT"
TOPIC=shop.public.orders
N=50000

mkdir -p "$T/pipelines"
cat >"$T/pipelines/shop.json" <<JSON
{"name": "shop",
 "source": {"connector.class": "datagen", "topic": "$TOPIC", "max.records": $N,
            "key.converter": "avro", "value.converter": "avro"},
 "sinks": {"lake": {"connector.class": "file", "topics": "$TOPIC", "file": "$T/orders.jsonl",
                    "key.converter": "avro", "value.converter": "avro"}}}
JSON

run_pid=""
starts=0
served() { [ "$(grep -c '\[run\] serving' "$T/run.log" 2>/dev/null)" -ge "$starts" ]; }
start_run()
{
    starts=$((starts + 1))
    "$SLUICE" run --set "data.dir=$T/data" \
        --set "broker.listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT" \
        --set "broker.admin.listeners=http://127.0.0.1:$ADMIN_PORT" \
        --set "registry.listeners=$REGISTRY" \
        --set "worker.listeners=http://127.0.0.1:$REST_PORT" \
        --set "worker.pipelines.dir=$T/pipelines" 2>>"$T/run.log" >/dev/null &
    run_pid=$!
    track_pid "$run_pid"
    wait_for 30 served || {
        tail -30 "$T/run.log" >&2
        fail "sluice run did not start its roles within 30 s"
    }
}
seqs() { grep -o '"seq":[0-9]*' "$1" | cut -d: -f2; }

# ---- 1. one process, avro end to end ---------------------------------------
start_run
pass "sluice run: broker, registry and worker started ($(grep -c 'INFO' "$T/run.log") log lines)"
wait_for 90 have_lines "$T/orders.jsonl" "$N" || fail "$(lines "$T/orders.jsonl") of $N rows within 90 s"
uniq_n=$(seqs "$T/orders.jsonl" | sort -n -u | wc -l)
[ "$(lines "$T/orders.jsonl")" = "$N" ] && [ "$uniq_n" = "$N" ] ||
    fail "expected seqs 1..$N exactly once, got $(lines "$T/orders.jsonl") lines, $uniq_n distinct"
pass "datagen -> avro -> broker -> avro -> file: $N records, each seq exactly once"

subjects=$(curl -sf "$REGISTRY/subjects") || fail "GET /subjects failed"
[ "$subjects" = "[\"$TOPIC-key\",\"$TOPIC-value\"]" ] || fail "subjects: $subjects"
vid=$(curl -sf "$REGISTRY/subjects/$TOPIC-value/versions/latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
schema=$(curl -sf "$REGISTRY/subjects/$TOPIC-value/versions/latest/schema")
echo "$schema" | grep -q '"logicalType":"timestamp-millis"' ||
    fail "the registered value schema lost the source's logicalType: $schema"
pass "registry: subjects $subjects, value schema id $vid keeps logicalType timestamp-millis"

kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o 41 -c 1 -e -q -f '%s' >"$T/msg.value" 2>/dev/null
kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o 41 -c 1 -e -q -f '%k' >"$T/msg.key" 2>/dev/null
hdr=$(head -c 5 "$T/msg.value" | od -An -tu1 | tr -s ' ')
want=$(printf ' 0 %d %d %d %d' $((vid >> 24 & 255)) $((vid >> 16 & 255)) $((vid >> 8 & 255)) $((vid & 255)))
[ "$hdr" = "$want" ] || fail "message header is '$hdr', expected magic 0 and id $vid: '$want'"
pass "kcat: the message is magic byte 0 + schema id $vid + Avro"

REGISTRY="$REGISTRY" node "$(dirname "$0")/avro_decode.js" "$T/msg.key" "$T/msg.value" >"$T/decoded.txt" 2>&1 ||
    { cat "$T/decoded.txt" >&2; fail "@kafkajs/confluent-schema-registry could not decode the message"; }
python3 - "$T/decoded.txt" "$T/orders.jsonl" <<'PY' || fail "decoded message differs from the file sink's row"
import json, sys
key, value = [json.loads(l) for l in open(sys.argv[1])]
rows = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    rows[r["key"]["id"]] = r["value"]
want = rows[int(key["id"])]
after = value["after"]
# the Node client shows a union branch as {"<type name>": value}
if len(after) == 1 and isinstance(list(after.values())[0], dict):
    after = list(after.values())[0]
for f in ("id", "name", "created"):
    if str(after[f]) != str(want["after"][f]):
        sys.exit(f"field {f}: node decoded {after[f]!r}, file sink wrote {want['after'][f]!r}")
if value["op"] != want["op"]:
    sys.exit("op differs")
PY
pass "@kafkajs/confluent-schema-registry decodes key $(head -1 "$T/decoded.txt") to the file sink's row"

# ---- 2. ordered stop, restart on the same data.dir --------------------------
kill -TERM "$run_pid"
wait "$run_pid"
rc=$?
[ "$rc" = 0 ] || fail "sluice run exited with $rc after SIGTERM"
grep -n 'stopping the other roles first\|worker and registry stopped\|stopped cleanly' "$T/run.log" |
    tail -3 >"$T/order.txt"
grep -q 'other roles first' "$T/order.txt" && grep -q 'worker and registry stopped' "$T/order.txt" &&
    tail -1 "$T/order.txt" | grep -q 'stopped cleanly' || { cat "$T/order.txt" >&2; fail "stop order"; }
pass "SIGTERM: worker and registry stopped before the broker, exit 0"

start_run
subjects2=$(curl -sf "$REGISTRY/subjects")
vid2=$(curl -sf "$REGISTRY/subjects/$TOPIC-value/versions/latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[ "$subjects2" = "$subjects" ] && [ "$vid2" = "$vid" ] || fail "after restart: $subjects2 id $vid2"
sleep 3
[ "$(lines "$T/orders.jsonl")" = "$N" ] || fail "after restart the file has $(lines "$T/orders.jsonl") lines (datagen did not resume from its position)"
grep -q 'stored position {"seq": '"$N"'}' "$T/run.log" || fail "datagen's stored position was not read back"
pass "restart on the same data.dir: subjects and ids kept, datagen resumed at seq $N, nothing repeated"
kill -TERM "$run_pid"
wait "$run_pid"

# ---- 3. bad keys ------------------------------------------------------------
"$SLUICE" run --set nosuch.key=1 >/dev/null 2>"$T/bad.txt"
rc=$?
[ "$rc" = 2 ] && grep -q "nosuch.key" "$T/bad.txt" || fail "bad key: exit $rc, $(cat "$T/bad.txt")"
pass "an unknown key is refused naming it: $(head -1 "$T/bad.txt")"

finish
