#!/usr/bin/env bash
# worker_rest.sh - the worker's Kafka Connect REST API as a user (or Kafka
# Connect tooling) drives it with curl, and `sluice connectors`:
#
#  1. GET /, /health, /connector-plugins, a plugin's config table, and
#     validate (Kafka Connect's ConfigInfos shape, per-field errors).
#  2. create (201), conflicting create (409), bad config (400 with field
#     messages), unknown connector (404 on every sub-resource), 405.
#  3. secrets: values from ${env:} are [hidden] in every answer.
#  4. pause: status PAUSED and no new record reaches the file sink; resume:
#     they flow again.
#  5. offsets: altering a running connector is 400; stop (STOPPED, no
#     tasks), GET/PATCH/DELETE offsets of a source (the task resumes from
#     the altered position) and of a sink (consumer group connect-<name>).
#  6. restart (204 / 202 RESTARTING), task restart, PUT/PATCH config,
#     topics and topics/reset, delete (204, then 404).
#  7. a sink whose put keeps failing (file sink on /dev/full) is FAILED with
#     its trace in /status while the others keep running; /metrics, /health.
#  8. kill -9 of the worker and restart: every connector comes back in its
#     last target state (PAUSED stays PAUSED, STOPPED stays STOPPED), a
#     deleted one stays deleted, a pipeline-file connector keeps its pause.
#  9. the `sluice connectors` CLI.
. "$(dirname "$0")/lib.sh"
test_init worker_rest

start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
P="$T/pipelines"
mkdir -p "$P"
WPORT="$(free_port)"
U="http://127.0.0.1:$WPORT"
export WR_SECRET_DIR="$T" # a ${env:} reference resolves to it

cat >"$P/filed.json" <<JSON
{"name": "filed",
 "source": {"connector.class": "datagen", "topic": "filed.rows", "rate": 100},
 "sinks": {"out": {"connector.class": "file", "topics": "filed.rows", "file": "$T/filed.jsonl"}}}
JSON

# plugin.path: the shipped plugins and one built for another ABI version
# (tests/unit/plugins/badabi.c), which must not take the worker or the
# other connectors down
PLUGINS="$T/plugins"
mkdir -p "$PLUGINS"
ln -s "$(dirname "$SLUICE")"/plugins/*.so "$PLUGINS/"
BADABI="$(dirname "$SLUICE")/test-plugins/badabi.so"
[ -f "$BADABI" ] || fail "$BADABI is not built (the unit tests' plugins: CUnit)"
ln -s "$BADABI" "$PLUGINS/badabi.so"

worker_pid=""
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$U/health")" = 200 ]; }
start_worker()
{
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$P" \
        --set "listeners=http://127.0.0.1:$WPORT" --set offset.flush.interval.ms=300 \
        --set "plugin.path=$PLUGINS" \
        2>>"$T/worker.log" &
    worker_pid=$!
    track_pid "$worker_pid"
    wait_for 30 healthy || fail "the worker's /health did not answer 200 within 30 s"
}

# py EXPR: EXPR (Python, the last answer's JSON as d, its text as raw) holds.
py()
{
    python3 - "$T/body" "$1" <<'EOF'
import json, sys
raw = open(sys.argv[1]).read()
d = json.loads(raw) if raw.strip() else None
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}
# expect CODE [EXPR] MSG: the last answer has status CODE (and EXPR holds).
expect()
{
    local code="$1" expr="$2" msg="$3"
    [ "$CODE" = "$code" ] || fail "$msg: HTTP $CODE, expected $code: $(head -c 600 "$T/body")"
    if [ -n "$expr" ]; then
        py "$expr" || fail "$msg: ($expr) is false for: $(head -c 900 "$T/body")"
    fi
    pass "$msg"
}
more_lines() { [ "$(lines "$1")" -gt "$2" ]; }
seq_count() { grep -c "\"seq\":$2[,}]" "$1" 2>/dev/null || true; }
state_is() # NAME STATE [TASKSTATE]
{
    req GET "/connectors/$1/status"
    py "d['connector']['state'] == '$2' and ('${3:-}' == '' or [t['state'] for t in d['tasks']] == ['${3:-}'])"
}

start_worker

# ---- 1. info, plugins, validate --------------------------------------------
req GET /
expect 200 "'version' in d and 'commit' in d and d.get('kafka_cluster_id')" "GET / answers version, commit and kafka_cluster_id"
req GET /health
expect 200 "d['status'] == 'healthy'" "GET /health: healthy"
req GET /connector-plugins
expect 200 "{'class': 'datagen', 'type': 'source'} in [{k: p[k] for k in ('class', 'type')} for p in d] and any(p['class'] == 'file' and p['type'] == 'sink' and 'version' in p for p in d) and not any(p['type'] == 'converter' for p in d)" \
    "GET /connector-plugins: datagen source, file sink, with versions"
req GET '/connector-plugins?connectorsOnly=false'
expect 200 "any(p['type'] == 'converter' for p in d)" "GET /connector-plugins?connectorsOnly=false lists converters too"
req GET /connector-plugins/file/config
expect 200 "any(o['name'] == 'file' and o['required'] and o['type'] == 'STRING' and 'default_value' in o and 'documentation' in o for o in d)" \
    "GET /connector-plugins/file/config: the option table"
req GET /connector-plugins/nosuch/config
expect 404 "d['error_code'] == 404" "GET /connector-plugins/nosuch/config: 404"
req PUT /connector-plugins/file/config/validate '{"connector.class": "file", "rate": "1", "append": "maybe"}'
expect 200 "d['name'] == 'file' and d['error_count'] == 4 and isinstance(d['groups'], list) and all(set(c) == {'definition', 'value'} and set(c['value']) >= {'name', 'value', 'recommended_values', 'errors', 'visible'} for c in d['configs']) and any(c['value']['name'] == 'file' and 'Missing required configuration' in c['value']['errors'][0] for c in d['configs']) and any(c['value']['name'] == 'rate' and c['value']['errors'] for c in d['configs']) and any(c['value']['name'] == 'append' and c['value']['errors'] for c in d['configs'])" \
    "validate: ConfigInfos with per-field errors (missing file, unknown rate, bad boolean, no topics)"
req PUT /connector-plugins/file/config/validate '{"connector.class": "file", "topics": "a", "file": "/tmp/x"}'
expect 200 "d['error_count'] == 0" "validate: a good config has no error"
# the worker's integer keys are checked with the rest, each naming what it expects
req PUT /connector-plugins/file/config/validate '{"connector.class": "file", "topics": "a", "file": "/tmp/x", "tasks.max": "0", "errors.retry.timeout": "soon", "errors.retry.delay.max.ms": "-5"}'
expect 200 "d['error_count'] == 3 and all(any('Invalid value' in e for e in c['value']['errors']) for c in d['configs'] if c['value']['name'] in ('tasks.max', 'errors.retry.timeout', 'errors.retry.delay.max.ms'))" \
    "validate: tasks.max 0, errors.retry.timeout soon, errors.retry.delay.max.ms -5 each refused"
req PUT /connector-plugins/file/config/validate '{"connector.class": "datagen"}'
expect 400 "'does not match' in d['message']" "validate: a config of another plugin is 400"

# ---- 2. create, conflicts, bad configs, unknown connectors -----------------
req GET /connectors
expect 200 "'filed.source' in d and 'filed.out' in d" "pipeline-file connectors are listed"
req POST /connectors '{"name": "gen", "config": {"connector.class": "datagen", "topic": "rest.rows", "rate": "400"}}'
expect 201 "d['name'] == 'gen' and d['type'] == 'source' and d['config']['topic'] == 'rest.rows' and d['config']['name'] == 'gen' and d['tasks'] == [{'connector': 'gen', 'task': 0}]" \
    "POST /connectors: 201 with the connector's info"
req POST /connectors "{\"name\": \"out\", \"config\": {\"connector.class\": \"file\", \"topics\": \"rest.rows\", \"file\": \"$T/out.jsonl\"}}"
expect 201 "d['type'] == 'sink'" "POST /connectors: a file sink"
req POST /connectors '{"name": "gen", "config": {"connector.class": "datagen"}}'
expect 409 "d['error_code'] == 409 and d['message'] == 'Connector gen already exists'" "POST of an existing name: 409"
req POST /connectors '{"name": "bad", "config": {"connector.class": "file", "rate": "x"}}'
expect 400 "d['error_code'] == 400 and 'Missing required configuration \"file\"' in d['message'] and 'Unknown configuration \"rate\"' in d['message'] and 'topics' in d['message']" \
    "POST with a bad config: 400 naming every field"
req POST /connectors '{"name": "bad", "config": {"connector.class": "nosuchplugin"}}'
expect 400 "'nosuchplugin' in d['message']" "POST with an unknown connector.class: 400"
req POST /connectors '{"name": "bad", "config": {"connector.class": "badabi"}}'
expect 400 "d['error_code'] == 400 and 'badabi.so' in d['message'] and 'ABI version' in d['message']" \
    "POST of a plugin built for another ABI version: 400 saying so"
# a sink's consumer.override.* keys are checked as its consumer takes them
req POST /connectors "{\"name\": \"bad\", \"config\": {\"connector.class\": \"file\", \"topics\": \"rest.rows\", \"file\": \"$T/bad.jsonl\", \"consumer.override.fetch.wait.max.ms\": \"50\", \"consumer.override.no.such.key\": \"secret-value\"}}"
expect 400 "d['error_code'] == 400 and 'consumer.override.no.such.key: No such configuration property' in d['message'] and 'secret-value' not in raw" \
    "POST of a sink with an unknown consumer.override key: 400 naming it, not its value"
req POST /connectors "{\"name\": \"bad\", \"config\": {\"connector.class\": \"file\", \"topics\": \"rest.rows\", \"file\": \"$T/bad.jsonl\", \"consumer.override.sasl.kerberos.kinit.cmd\": \"touch $T/pwned\"}}"
expect 400 "'consumer.override.sasl.kerberos.kinit.cmd: it runs a command' in d['message']" \
    "POST of a sink whose consumer.override would run a command on the worker: 400"
req POST /connectors "{\"name\": \"bad\", \"config\": {\"connector.class\": \"file\", \"topics\": \"rest.rows\", \"file\": \"$T/bad.jsonl\", \"consumer.override.group.id\": \"other\"}}"
expect 400 "'consumer.override.group.id: the worker sets it itself' in d['message']" \
    "POST of a sink overriding its consumer's group.id: 400"
req PUT /connector-plugins/file/config/validate "{\"connector.class\": \"file\", \"topics\": \"rest.rows\", \"file\": \"$T/bad.jsonl\", \"consumer.override.no.such.key\": \"1\"}"
expect 200 "d['error_count'] == 1 and any('consumer.override.no.such.key: No such configuration property' in e for c in d['configs'] for e in c['value']['errors'])" \
    "validate: an unknown consumer.override key is one error, named"
# Kafka Connect's per-connector producer overrides: a source's are checked
# as its own producer takes them; a sink's DLQ uses the worker's producer
req PUT /connector-plugins/datagen/config/validate '{"connector.class": "datagen", "producer.override.compression.type": "zstd", "producer.override.linger.ms": "20"}'
expect 200 "d['error_count'] == 0" "validate: a source's producer.override.compression.type / linger.ms are valid"
req POST /connectors '{"name": "bad", "config": {"connector.class": "datagen", "producer.override.acks": "1"}}'
expect 400 "'producer.override.acks: the source' in d['message'] and 'is idempotent with acks=all' in d['message']" \
    "POST of a source with producer.override.acks: 400 saying why"
req POST /connectors '{"name": "bad", "config": {"connector.class": "datagen", "producer.override.no.such.key": "secret-value"}}'
expect 400 "'producer.override.no.such.key: No such configuration property' in d['message'] and 'secret-value' not in d['message']" \
    "POST of a source with an unknown producer.override key: 400 naming it, not its value"
req POST /connectors "{\"name\": \"bad\", \"config\": {\"connector.class\": \"file\", \"topics\": \"rest.rows\", \"file\": \"$T/bad.jsonl\", \"producer.override.compression.type\": \"zstd\"}}"
expect 400 "'producer.override.compression.type: a sink connector' in d['message'] and 'dead letter queue uses the worker' in d['message'] and 'set producer.compression.type in the worker' in d['message']" \
    "POST of a sink with producer.override.*: 400 saying its dead letter queue uses the worker's producer"
req POST /connectors '{"name": "bad", "config": {"connector.class": "datagen", "admin.override.request.timeout.ms": "100"}}'
expect 400 "'admin.override.request.timeout.ms: per-connector admin client overrides are not supported' in d['message']" \
    "POST of a source with admin.override.*: 400"
req GET /connectors
expect 200 "'gen' in d and 'out' in d and 'filed.source' in d and 'bad' not in d" \
    "after the refused plugin the worker serves on, its connectors listed"
req POST /connectors '{"config": {"connector.class": "datagen"}}'
expect 400 "'name' in d['message']" "POST without a name: 400"
req POST /connectors '{"name": "x", "config": '
expect 400 "'Invalid JSON' in d['message']" "POST with broken JSON: 400"
req GET /connectors/bad
expect 404 "" "a rejected connector does not exist"
for sub in "GET /connectors/nope" "GET /connectors/nope/status" "GET /connectors/nope/config" \
    "GET /connectors/nope/tasks" "GET /connectors/nope/topics" "GET /connectors/nope/offsets" \
    "PUT /connectors/nope/pause" "PUT /connectors/nope/resume" "PUT /connectors/nope/stop" \
    "POST /connectors/nope/restart" "DELETE /connectors/nope" "DELETE /connectors/nope/offsets"; do
    req $sub
    [ "$CODE" = 404 ] && py "d == {'error_code': 404, 'message': 'Connector nope not found'}" ||
        fail "$sub: expected 404 Connector nope not found, got $CODE $(cat "$T/body")"
done
pass "unknown connector: 404 {\"error_code\":404,\"message\":\"Connector nope not found\"} on 12 endpoints"
req POST /connectors/gen/status
expect 405 "" "a known path with the wrong method: 405"

wait_for 30 more_lines "$T/out.jsonl" 200 || fail "gen -> out: no records in out.jsonl"
pass "datagen -> broker -> file sink through REST-created connectors"
req GET '/connectors?expand=status&expand=info'
expect 200 "d['gen']['status']['connector']['state'] == 'RUNNING' and d['gen']['status']['tasks'][0]['state'] == 'RUNNING' and d['out']['info']['type'] == 'sink' and 'filed.out' in d" \
    "GET /connectors?expand=status&expand=info"
req GET /connectors/gen/tasks
expect 200 "d[0]['id'] == {'connector': 'gen', 'task': 0} and d[0]['config']['topic'] == 'rest.rows'" "GET /connectors/gen/tasks"
req GET /connectors/gen/tasks/0/status
expect 200 "d['id'] == 0 and d['state'] == 'RUNNING' and 'worker_id' in d" "GET /connectors/gen/tasks/0/status"
req GET /connectors/gen/tasks/3/status
expect 404 "" "GET of an unknown task: 404"
req GET /connectors/out/topics
expect 200 "d == {'out': {'topics': ['rest.rows']}}" "GET /connectors/out/topics: the active topics"
req PUT /connectors/out/topics/reset
expect 202 "" "PUT /connectors/out/topics/reset: 202"

# ---- 3. secrets --------------------------------------------------------------
req POST /connectors '{"name": "sec", "config": {"connector.class": "file", "topics": "rest.rows", "file": "${env:WR_SECRET_DIR}/sec.jsonl"}}'
expect 201 "d['config']['file'] == '[hidden]'" "POST answer: a \${env:} value is [hidden]"
for p in /connectors/sec /connectors/sec/config /connectors/sec/tasks; do
    req GET "$p"
    grep -q "$T" "$T/body" && fail "GET $p shows the resolved secret: $(cat "$T/body")"
    grep -q 'hidden' "$T/body" || fail "GET $p: no [hidden] value: $(cat "$T/body")"
done
req GET '/connectors?expand=info'
py "d['sec']['info']['config']['file'] == '[hidden]'" || fail "expand=info shows sec's file: $(cat "$T/body")"
pass "GET info/config/tasks/expand=info: the \${env:} value is [hidden], never resolved"
req PUT /connector-plugins/file/config/validate '{"connector.class": "file", "topics": "a", "file": "${env:WR_SECRET_DIR}/v"}'
expect 200 "[c['value']['value'] for c in d['configs'] if c['value']['name'] == 'file'] == ['[hidden]']" "validate: the \${env:} value is [hidden]"
wait_for 20 more_lines "$T/sec.jsonl" 0 || fail "the connector with a \${env:} path writes nothing to $T/sec.jsonl"
pass "the \${env:} reference resolved for the task: $T/sec.jsonl is written"
req DELETE /connectors/sec
expect 204 "" "DELETE /connectors/sec: 204"
req DELETE /connectors/sec
expect 404 "" "DELETE again: 404"

# ---- 4. pause / resume -------------------------------------------------------
req PUT /connectors/gen/pause
expect 202 "" "PUT /connectors/gen/pause: 202"
state_is gen PAUSED PAUSED || fail "gen is not PAUSED: $(cat "$T/body")"
pass "status after pause: connector and task PAUSED"
sleep 1.5 # records produced before the pause reach the sink
n1=$(lines "$T/out.jsonl")
sleep 3
n2=$(lines "$T/out.jsonl")
[ "$n1" = "$n2" ] || fail "paused gen: out.jsonl grew from $n1 to $n2 lines"
pass "paused: no new record in 3 s ($n2 lines)"
kcat -C -b "$BOOTSTRAP" -t _sluice_status -e -q -f '%k %s\n' 2>/dev/null | grep -q 'status-task-gen-0 {"state":"PAUSED"' ||
    fail "_sluice_status has no PAUSED record of gen's task"
pass "_sluice_status: gen's task PAUSED"
req PUT /connectors/gen/resume
expect 202 "" "PUT /connectors/gen/resume: 202"
wait_for 20 more_lines "$T/out.jsonl" "$n2" || fail "resumed gen: no new records"
state_is gen RUNNING RUNNING || fail "gen is not RUNNING after resume: $(cat "$T/body")"
pass "resumed: records flow again ($(lines "$T/out.jsonl") lines), status RUNNING"

# ---- 5. offsets --------------------------------------------------------------
req GET /connectors/gen/offsets
expect 200 "d['offsets'][0]['partition'] == {'task': 0} and d['offsets'][0]['offset']['seq'] > 0" "GET offsets of a running source"
req PATCH /connectors/gen/offsets '{"offsets": [{"partition": {"task": 0}, "offset": {"seq": 10}}]}'
expect 400 "'STOPPED' in d['message']" "PATCH offsets of a running connector: 400"
req DELETE /connectors/gen/offsets
expect 400 "'STOPPED' in d['message']" "DELETE offsets of a running connector: 400"
req PUT /connectors/gen/stop
expect 202 "" "PUT /connectors/gen/stop: 202"
state_is gen STOPPED || fail "gen is not STOPPED: $(cat "$T/body")"
py "d['tasks'] == []" || fail "a STOPPED connector still lists tasks: $(cat "$T/body")"
pass "status after stop: STOPPED, no tasks"
req GET /connectors/gen/offsets
expect 200 "len(d['offsets']) == 1 and d['offsets'][0]['offset']['seq'] > 10" "GET offsets of the stopped source: its stored position"
stopped_at=$(python3 -c "import json; print(json.load(open('$T/body'))['offsets'][0]['offset']['seq'])")
sleep 1
before11=$(seq_count "$T/out.jsonl" 11)
req PATCH /connectors/gen/offsets '{"offsets": [{"partition": {"task": 0}, "offset": {"seq": 10}}]}'
expect 200 "d == {'message': 'The offsets for this connector have been altered successfully'}" "PATCH offsets of the stopped source: 200"
req GET /connectors/gen/offsets
expect 200 "d['offsets'] == [{'partition': {'task': 0}, 'offset': {'seq': 10}}]" "GET offsets after PATCH: seq 10"
req PUT /connectors/gen/resume
expect 202 "" "resume after the offset change"
again11() { [ "$(seq_count "$T/out.jsonl" 11)" -gt "$before11" ]; }
wait_for 20 again11 || fail "after PATCH to seq 10, seq 11 was not produced again"
pass "resumed from the altered offset: seq 11 produced again (stopped at seq $stopped_at)"
req PUT /connectors/gen/stop
sleep 0.5
req DELETE /connectors/gen/offsets
expect 200 "d == {'message': 'The offsets for this connector have been reset successfully'}" "DELETE offsets of the stopped source: 200"
req GET /connectors/gen/offsets
expect 200 "d['offsets'] == []" "GET offsets after DELETE: none"
before1=$(seq_count "$T/out.jsonl" 1)
req PUT /connectors/gen/resume
again1() { [ "$(seq_count "$T/out.jsonl" 1)" -gt "$before1" ]; }
wait_for 20 again1 || fail "after the offsets reset, gen did not start over at seq 1"
pass "after DELETE offsets the source starts over at seq 1"

req PUT /connectors/out/stop
expect 202 "" "stop the sink"
req GET /connectors/out/offsets
expect 200 "d['offsets'][0]['partition'] == {'kafka_topic': 'rest.rows', 'kafka_partition': 0} and d['offsets'][0]['offset']['kafka_offset'] > 100" \
    "GET offsets of a stopped sink: consumer group connect-out"
req PATCH /connectors/out/offsets '{"offsets": [{"partition": {"kafka_topic": "rest.rows", "kafka_partition": 0}, "offset": {"kafka_offset": 5}}]}'
expect 200 "'altered' in d['message']" "PATCH offsets of the sink"
req GET /connectors/out/offsets
expect 200 "d['offsets'][0]['offset'] == {'kafka_offset': 5}" "GET offsets of the sink after PATCH: 5"
req DELETE /connectors/out/offsets
expect 200 "'reset' in d['message']" "DELETE offsets of the sink"
req GET /connectors/out/offsets
expect 200 "d['offsets'] == []" "GET offsets of the sink after DELETE: none"
before2=$(seq_count "$T/out.jsonl" 2)
req PUT /connectors/out/resume
again2() { [ "$(seq_count "$T/out.jsonl" 2)" -gt "$before2" ]; }
wait_for 30 again2 || fail "after the sink offsets reset, the topic was not consumed from its start again"
pass "after DELETE offsets the sink consumes its topic from the start again"

# a topics.regex sink: its offsets are those of every topic the regex matches
req POST /connectors "{\"name\": \"rx\", \"config\": {\"connector.class\": \"file\", \"topics.regex\": \"rest\\\\.r.*\", \"file\": \"$T/rx.jsonl\"}}"
expect 201 "" "create rx (topics.regex rest\\.r.*)"
wait_for 30 more_lines "$T/rx.jsonl" 100 || fail "rx consumes nothing"
req PUT /connectors/rx/stop
expect 202 "" "stop rx"
wait_for 20 state_is rx STOPPED || fail "rx not STOPPED"
req GET /connectors/rx/offsets
expect 200 "[o['partition'] for o in d['offsets']] == [{'kafka_topic': 'rest.rows', 'kafka_partition': 0}] and d['offsets'][0]['offset']['kafka_offset'] > 100" \
    "GET offsets of a stopped topics.regex sink: rest.rows, committed"
req PATCH /connectors/rx/offsets '{"offsets": [{"partition": {"kafka_topic": "rest.rows", "kafka_partition": 0}, "offset": {"kafka_offset": 7}}]}'
expect 200 "'altered' in d['message']" "PATCH offsets of the topics.regex sink"
req GET /connectors/rx/offsets
expect 200 "d['offsets'] == [{'partition': {'kafka_topic': 'rest.rows', 'kafka_partition': 0}, 'offset': {'kafka_offset': 7}}]" \
    "GET offsets of the topics.regex sink after PATCH: 7"
req DELETE /connectors/rx
expect 204 "" "delete rx"

# ---- 6. restart, config, delete ---------------------------------------------
req POST /connectors/gen/restart
expect 204 "" "POST /connectors/gen/restart: 204"
req POST '/connectors/gen/restart?includeTasks=true'
expect 202 "d['connector']['state'] == 'RESTARTING' and d['tasks'][0]['state'] == 'RESTARTING'" "restart?includeTasks=true: 202, RESTARTING"
req POST '/connectors/gen/restart?includeTasks=true&onlyFailed=true'
expect 202 "d['tasks'][0]['state'] == 'RUNNING'" "restart?includeTasks=true&onlyFailed=true: nothing failed, nothing restarted"
req POST /connectors/gen/tasks/0/restart
expect 204 "" "POST /connectors/gen/tasks/0/restart: 204"
req POST /connectors/gen/tasks/4/restart
expect 404 "" "restart of an unknown task: 404"
wait_for 10 state_is gen RUNNING RUNNING || fail "gen not RUNNING after the restarts: $(cat "$T/body")"
pass "gen RUNNING after the restarts"
req PUT /connectors/out2/config "{\"connector.class\": \"file\", \"topics\": \"rest.rows\", \"file\": \"$T/out2.jsonl\"}"
expect 201 "d['name'] == 'out2'" "PUT /connectors/out2/config creates: 201"
req PUT /connectors/out2/config "{\"connector.class\": \"file\", \"topics\": \"rest.rows\", \"file\": \"$T/out2b.jsonl\"}"
expect 200 "d['config']['file'].endswith('out2b.jsonl')" "PUT again updates: 200"
req PUT /connectors/out2/config '{"connector.class": "file", "topics": "rest.rows"}'
expect 400 "'file' in d['message']" "PUT of a bad config: 400"
req PATCH /connectors/out2/config '{"append": "false"}'
expect 200 "d['config']['append'] == 'false' and d['config']['file'].endswith('out2b.jsonl')" "PATCH config merges: 200"
req GET /connectors/out2/config
expect 200 "d['append'] == 'false' and d['connector.class'] == 'file'" "GET /connectors/out2/config"
req PATCH /connectors/nope/config '{"append": "false"}'
expect 404 "" "PATCH config of an unknown connector: 404"
wait_for 30 more_lines "$T/out2b.jsonl" 0 || fail "out2 does not write to its updated file"
pass "the updated config is running: out2b.jsonl written"
req PUT /connectors/out3/config "{\"connector.class\": \"file\", \"topics\": \"rest.rows\", \"file\": \"$T/out3.jsonl\"}"
expect 201 "" "create out3"
req DELETE /connectors/out3
expect 204 "" "DELETE /connectors/out3: 204"
req GET /connectors/out3
expect 404 "" "GET after DELETE: 404"

# ---- 7. a failing sink beside running ones; metrics, health ----------------
req POST /connectors '{"name": "full", "config": {"connector.class": "file", "topics": "rest.rows", "file": "/dev/full"}}'
expect 201 "" "create a file sink writing to /dev/full"
full_failed() { state_is full RUNNING FAILED; }
wait_for 30 full_failed || fail "full's task is not FAILED: $(cat "$T/body")"
py "'No space left on device' in d['tasks'][0]['trace']" || fail "no trace in full's status: $(cat "$T/body")"
pass "a sink whose put keeps failing: task FAILED, trace: $(python3 -c "import json; print(json.load(open('$T/body'))['tasks'][0]['trace'])")"
n1=$(lines "$T/out.jsonl")
wait_for 20 more_lines "$T/out.jsonl" "$n1" || fail "out stopped receiving records while full failed"
state_is gen RUNNING RUNNING || fail "gen not RUNNING beside the failed sink"
pass "the other connectors keep running"
req GET /metrics
grep -q 'sluice_task_state{connector="full",task="0",state="FAILED"} 1' "$T/body" &&
    grep -Eq 'sluice_task_records_out_total\{connector="gen",task="0"\} [1-9]' "$T/body" &&
    grep -Eq 'sluice_task_records_in_total\{connector="out",task="0"\} [1-9]' "$T/body" &&
    grep -Eq 'sluice_task_batches_total\{connector="gen",task="0"\} [1-9]' "$T/body" &&
    grep -q '# TYPE sluice_task_errors_total counter' "$T/body" ||
    fail "/metrics lacks task counters or states: $(head -c 1500 "$T/body")"
pass "/metrics: records in/out, batches, errors per task, task states (Prometheus text)"
metric() { awk -v k="$1{connector=\"$2\",task=\"0\"}" '$1 == k {print $2}' "$T/body"; }
src_lag=$(metric sluice_task_source_lag_ms gen)
snk_lag=$(metric sluice_task_sink_lag_records out)
[ -n "$src_lag" ] && [ "$src_lag" -ge 0 ] && [ "$src_lag" -lt 5000 ] ||
    fail "source lag of gen missing or not small: '$src_lag'"
[ -n "$snk_lag" ] && [ "$snk_lag" -ge 0 ] && [ "$snk_lag" -lt 2000 ] ||
    fail "sink lag of out missing or not small: '$snk_lag'"
pass "/metrics: source lag of gen ${src_lag} ms, sink lag of out ${snk_lag} records"
written=$(metric sluice_plugin_records_written_total out)
[ "${written:-0}" -gt 0 ] && grep -q '^# TYPE sluice_plugin_records_written_total counter' "$T/body" ||
    fail "/metrics lacks the file plugin's records.written counter"
req GET /connectors/out/status
expect 200 "d['tasks'][0]['metrics']['records.written'] >= $written" \
    "plugin metrics in /metrics (sluice_plugin_records_written_total $written) and in the task's /status"
req GET /health
expect 200 "d['status'] == 'healthy' and d['tasks']['failed'] >= 1" "/health: healthy, counting the failed task"

# ---- 7b. a pause longer than max.poll.interval.ms keeps the group ------------
req POST /connectors "{\"name\": \"longpause\", \"config\": {\"connector.class\": \"file\", \"topics\": \"rest.rows\",
    \"file\": \"$T/longpause.jsonl\", \"consumer.override.max.poll.interval.ms\": \"7000\"}}"
expect 201 "" "create longpause with consumer.override.max.poll.interval.ms=7000"
wait_for 20 more_lines "$T/longpause.jsonl" 0 || fail "longpause writes nothing"
rebalances() { grep -c 'group connect-longpause: preparing to rebalance' "$T/b/broker.log"; }
before=$(rebalances)
req PUT /connectors/longpause/pause
expect 202 "" "pause longpause"
sleep 1
n_paused=$(lines "$T/longpause.jsonl")
sleep 10 # longer than max.poll.interval.ms
[ "$(lines "$T/longpause.jsonl")" = "$n_paused" ] || fail "longpause wrote while paused"
req PUT /connectors/longpause/resume
expect 202 "" "resume longpause"
wait_for 20 more_lines "$T/longpause.jsonl" "$n_paused" || fail "longpause does not resume"
[ "$(rebalances)" = "$before" ] || { grep 'connect-longpause' "$T/b/broker.log" >&2; fail "the 11 s pause made the group rebalance"; }
grep 'connect-longpause' "$T/b/broker.log" | grep -q 'left' && fail "longpause's member left its group"
# what it wrote is the topic from its start, record for record: nothing twice, nothing left out
grep -o '"seq":[0-9]*' "$T/longpause.jsonl" >"$T/lp.file"
kcat -C -b "$BOOTSTRAP" -t rest.rows -o beginning -c "$(wc -l <"$T/lp.file")" -e -q 2>/dev/null |
    grep -o '"seq":[0-9]*' >"$T/lp.topic"
cmp -s "$T/lp.file" "$T/lp.topic" || fail "longpause's file is not the topic's records in order ($(wc -l <"$T/lp.file") lines)"
pass "an 11 s pause (max.poll.interval.ms 7 s): the member kept its group (no rebalance), resumed where it stopped ($(wc -l <"$T/lp.file") records, as in the topic)"

# ---- 8. kill -9 and restart: target states survive -------------------------
req POST /connectors '{"name": "pauser", "config": {"connector.class": "datagen", "topic": "p.rows"}, "initial_state": "PAUSED"}'
expect 201 "" "create with initial_state PAUSED"
state_is pauser PAUSED || fail "pauser is not PAUSED: $(cat "$T/body")"
req POST /connectors '{"name": "stopper", "config": {"connector.class": "datagen", "topic": "s.rows"}, "initial_state": "STOPPED"}'
expect 201 "" "create with initial_state STOPPED"
state_is stopper STOPPED || fail "stopper is not STOPPED: $(cat "$T/body")"
req PUT /connectors/out2/pause
req PUT /connectors/filed.out/pause
expect 202 "" "pause a pipeline-file connector"
paused_lag() { req GET /metrics; l=$(metric sluice_task_sink_lag_records filed.out); [ "${l:-0}" -ge 100 ]; }
wait_for 20 paused_lag || fail "the paused sink's lag does not grow: '$(metric sluice_task_sink_lag_records filed.out)'"
pass "a paused sink's lag grows: $(metric sluice_task_sink_lag_records filed.out) records behind"
sleep 0.5
kill -9 "$worker_pid"
wait "$worker_pid" 2>/dev/null
log "kill -9 of the worker"
start_worker
for want in "gen RUNNING RUNNING" "out RUNNING RUNNING" "out2 PAUSED PAUSED" "pauser PAUSED PAUSED" \
    "stopper STOPPED" "filed.source RUNNING RUNNING" "filed.out PAUSED PAUSED"; do
    # shellcheck disable=SC2086
    wait_for 15 state_is $want || fail "after kill -9: $want expected, got $(cat "$T/body")"
done
wait_for 20 full_failed || fail "after kill -9: full's task should fail again: $(cat "$T/body")"
req GET /connectors
expect 200 "'out3' not in d and 'sec' not in d and 'bad' not in d" "deleted connectors stay deleted"
pass "after kill -9 every connector is back in its last state (RUNNING, PAUSED, STOPPED, FAILED)"
n1=$(lines "$T/out.jsonl")
wait_for 20 more_lines "$T/out.jsonl" "$n1" || fail "after the restart gen -> out does not flow"
pass "records flow again after the restart"

# ---- 9. the CLI ----------------------------------------------------------------
export SLUICE_WORKER="$U"
"$SLUICE" connectors list >"$T/list.txt" || fail "sluice connectors list failed"
grep -Eq '^gen +source +RUNNING +0:RUNNING' "$T/list.txt" && grep -Eq '^stopper +source +STOPPED' "$T/list.txt" ||
    fail "sluice connectors list: $(cat "$T/list.txt")"
pass "sluice connectors list"
cat >"$T/cli.json" <<JSON
{"name": "cli", "config": {"connector.class": "file", "topics": "rest.rows", "file": "$T/cli.jsonl"}}
JSON
"$SLUICE" connectors create "$T/cli.json" >/dev/null || fail "sluice connectors create failed"
"$SLUICE" connectors create "$T/cli.json" 2>"$T/cli.err" && fail "a second create succeeded"
grep -q '409' "$T/cli.err" || fail "a second create does not report 409: $(cat "$T/cli.err")"
sed -i 's/cli.jsonl/cli2.jsonl/' "$T/cli.json"
"$SLUICE" connectors apply "$T/cli.json" >/dev/null || fail "sluice connectors apply failed"
"$SLUICE" connectors status cli >"$T/cli.status" || fail "sluice connectors status failed"
grep -q '"state": "RUNNING"' "$T/cli.status" || fail "status: $(cat "$T/cli.status")"
"$SLUICE" connectors pause cli >/dev/null && state_is cli PAUSED || fail "sluice connectors pause"
"$SLUICE" connectors resume cli >/dev/null && state_is cli RUNNING || fail "sluice connectors resume"
"$SLUICE" connectors restart cli --tasks >/dev/null || fail "sluice connectors restart --tasks"
"$SLUICE" connectors stop cli >/dev/null && state_is cli STOPPED || fail "sluice connectors stop"
wait_for 30 more_lines "$T/cli2.jsonl" 0 || fail "the applied config did not run: no $T/cli2.jsonl"
"$SLUICE" connectors offsets cli >"$T/cli.offsets" || fail "sluice connectors offsets"
grep -q 'kafka_offset' "$T/cli.offsets" || fail "offsets: $(cat "$T/cli.offsets")"
echo '{"offsets": [{"partition": {"kafka_topic": "rest.rows", "kafka_partition": 0}, "offset": {"kafka_offset": 3}}]}' |
    "$SLUICE" connectors offsets cli --set - >/dev/null || fail "sluice connectors offsets --set"
"$SLUICE" connectors offsets cli | grep -q '"kafka_offset": 3' || fail "offsets --set did not set 3"
"$SLUICE" connectors offsets cli --reset >/dev/null || fail "sluice connectors offsets --reset"
"$SLUICE" connectors delete cli >/dev/null || fail "sluice connectors delete"
"$SLUICE" connectors delete cli 2>/dev/null && fail "deleting twice succeeded"
"$SLUICE" connectors status nope 2>/dev/null
[ $? = 1 ] || fail "status of an unknown connector: exit code not 1"
"$SLUICE" connectors bogus 2>/dev/null
[ $? = 2 ] || fail "an unknown command: exit code not 2"
pass "sluice connectors create/apply/status/pause/resume/restart/stop/offsets/delete"

req DELETE /connectors/gen
expect 204 "" "DELETE /connectors/gen"
kcat -C -b "$BOOTSTRAP" -t _sluice_configs -e -q -Z -f '%k=%s\n' >"$T/configs.txt" 2>/dev/null
grep -q '^connector-gen=NULL' "$T/configs.txt" && grep -q '^connector-pauser={"properties":{' "$T/configs.txt" &&
    grep -q '^target-state-pauser={"state":"PAUSED"}' "$T/configs.txt" ||
    fail "_sluice_configs: $(cat "$T/configs.txt")"
pass "_sluice_configs: connector-<name> {\"properties\"}, target-state-<name>, tombstone on delete"

kill -TERM "$worker_pid"
wait "$worker_pid"
rc=$?
[ "$rc" = 0 ] || fail "worker exited with $rc after SIGTERM"
pass "worker stopped cleanly on SIGTERM"
finish
