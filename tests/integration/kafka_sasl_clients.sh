#!/usr/bin/env bash
# kafka_sasl_clients.sh - sluice's own Kafka clients against a broker that
# has only a SASL_PLAINTEXT listener (SASL/PLAIN, users from a file), set up
# with the names a Kafka user knows (core/kafka_client.h):
#
#  1. bad values are config errors naming the key, at start, never a crash:
#     an unknown security.protocol, a JAAS text that is not a
#     PlainLoginModule, SASL without credentials, a JKS truststore;
#  2. `sluice registry` with kafkastore.security.protocol,
#     kafkastore.sasl.mechanism and kafkastore.sasl.jaas.config;
#  2b. a worker whose producer.sasl.jaas.config has a wrong password (its
#     other clients log in): its datagen source task is FAILED within 20 s,
#     its trace naming the worker's producer, the broker and the refused
#     login (never a password); the worker goes on and its REST API answers;
#     SIGTERM stops it within a few seconds (no wait for acknowledgements
#     that cannot come); the same for a producer that does not trust the
#     broker's certificate;
#  3. `sluice worker` from a worker.json holding security.protocol,
#     sasl.mechanism and sasl.jaas.config (alice), whose file sink logs in
#     as bob through consumer.override.sasl.jaas.config: datagen -> avro
#     (through the registry) -> file sink delivers every seq exactly once;
#     a second sink with a wrong override password is refused by the broker
#     and gets no rows; the REST API shows consumer.override.sasl.jaas.config
#     as [hidden]
#     (GET .../config and validate);
#  3b. that second sink's task is FAILED, its trace naming the refused login
#     (never a password), while the worker goes on (a sink created then
#     delivers); a PUT with the right password and
#     restart?includeTasks=true make it RUNNING and it delivers every row;
#     a sink whose consumer does not trust the broker's certificate (the SSL
#     listener, consumer.override.ssl.ca.location of another CA) is FAILED
#     too, its trace saying so;
#  3c. a datagen source whose producer.override.sasl.jaas.config is bob's
#     (the worker's producer logs in as alice) delivers every seq exactly
#     once; one with a wrong password is FAILED, its trace naming that
#     connector's producer and the refused login (never a password), while
#     the other sources go on;
#  4. a worker or a registry with a wrong password stops with the broker's
#     "Authentication failed" in its log (exit status 1, not a crash);
#  5. `sluice topics list --command-config FILE` (a Kafka client properties
#     file) lists the topics; without credentials it fails saying how to
#     give them;
#  6. `sluice run` with a SASL_PLAINTEXT broker listener: the worker and the
#     registry log in with worker.sasl.jaas.config and
#     registry.kafkastore.sasl.jaas.config (the protocol follows the
#     listener);
#  7. no password appears in any log;
#  8. librdkafka's own log lines (a refused login, a broker down) are
#     sluice's, naming the client ("[worker] producer: FAIL: ...",
#     "[sasl.badpw/0] consumer: FAIL: ...", "[registry] kafkastore
#     producer: ..."), never librdkafka's "%3|...|FAIL|rdkafka#producer-1|"
#     lines; a refusal repeated at every reconnect is written once, then
#     counted (checked in 2b, 3b, 4 and 7).
. "$(dirname "$0")/lib.sh"
test_init kafka_sasl_clients
command -v curl >/dev/null || fail "curl is needed"

ALICE_PW='Al1ce-kc-3141'
BOB_PW='b0b-kc-2718'
BAD_PW='wr0ng-kc-1618'
SECRETS=("$ALICE_PW" "$BOB_PW" "$BAD_PW")
printf '# SASL/PLAIN users\nalice:%s\nbob:%s\n' "$ALICE_PW" "$BOB_PW" >"$T/users"
jaas() { echo "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$1\" password=\"$2\";"; }

# an SSL listener too, its certificate signed by a test CA (3b: a client
# trusting another CA refuses it)
command -v openssl >/dev/null || fail "openssl is not installed (scripts/install-deps.sh)"
C="$T/certs"
mkdir -p "$C"
ossl() { openssl "$@" 2>>"$C/openssl.log" || fail "openssl $1 failed: $(tail -3 "$C/openssl.log")"; }
for ca in ca other-ca; do
    ossl req -x509 -newkey rsa:2048 -nodes -keyout "$C/$ca.key" -out "$C/$ca.pem" -days 2 -subj "/CN=$ca"
done
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$C/san.cnf"
ossl req -newkey rsa:2048 -nodes -keyout "$C/server.key" -out "$C/server.csr" -subj "/CN=localhost"
ossl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
    -out "$C/server.pem" -days 2 -extfile "$C/san.cnf"

# start_broker adds a PLAINTEXT listener on BROKER_PORT: replace it by ours
BROKER_PORT="$(free_port)"
SSL_PORT="$(free_port)"
start_broker "$T/b" --set "listeners=SASL_PLAINTEXT://127.0.0.1:$BROKER_PORT,SSL://127.0.0.1:$SSL_PORT" \
    --set "ssl.certificate.location=$C/server.pem" --set "ssl.key.location=$C/server.key" \
    --set "sasl.users.file=$T/users" --set group.initial.rebalance.delay.ms=0

# ---- 1. config errors at start ----------------------------------------------------
W_ANY=(--set "bootstrap.servers=$BOOTSTRAP" --set "listeners=http://127.0.0.1:$(free_port)")
R_ANY=(--set "kafkastore.bootstrap.servers=$BOOTSTRAP" --set "listeners=http://127.0.0.1:$(free_port)")
refused worker "security.protocol: 'SASL_PLAIN' is not one of PLAINTEXT, SASL_PLAINTEXT, SSL, SASL_SSL" \
    "${W_ANY[@]}" --set security.protocol=SASL_PLAIN
refused worker "sasl.jaas.config: the entry must end with ';'" "${W_ANY[@]}" \
    --set security.protocol=SASL_PLAINTEXT --set "sasl.jaas.config=$(jaas alice "$BAD_PW" | tr -d ';')"
refused worker "consumer.sasl.jaas.config: login module com.sun.security.auth.module.Krb5LoginModule is not supported" \
    "${W_ANY[@]}" --set security.protocol=SASL_PLAINTEXT \
    --set "consumer.sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;"
refused worker "sasl.mechanism: 'GSSAPI' is not supported" "${W_ANY[@]}" --set sasl.mechanism=GSSAPI
refused registry "kafkastore.security.protocol SASL_PLAINTEXT needs credentials: set kafkastore.sasl.jaas.config" \
    "${R_ANY[@]}" --set kafkastore.security.protocol=SASL_PLAINTEXT
refused registry "kafkastore.ssl.ca.location '$T/none.pem': cannot read" \
    "${R_ANY[@]}" --set kafkastore.security.protocol=SSL --set "kafkastore.ssl.ca.location=$T/none.pem"
grep -qF "$BAD_PW" "$T/refused.log" && fail "a refusal message shows the password of the JAAS text"
pass "refusal messages name the key, never the password"

# ---- 2. the registry over SASL ------------------------------------------------------
REG_PORT="$(free_port)"
REGISTRY="http://127.0.0.1:$REG_PORT"
"$SLUICE" registry --set "listeners=$REGISTRY" --set "kafkastore.bootstrap.servers=$BOOTSTRAP" \
    --set kafkastore.security.protocol=SASL_PLAINTEXT --set kafkastore.sasl.mechanism=PLAIN \
    --set "kafkastore.sasl.jaas.config=$(jaas alice "$ALICE_PW")" 2>>"$T/registry.log" &
track_pid $!
wait_for 30 port_open "$REG_PORT" || fail "the registry did not serve on $REG_PORT: $(tail -5 "$T/registry.log")"
[ "$(curl -s "$REGISTRY/subjects")" = "[]" ] || fail "the registry over SASL: GET /subjects is not []"
pass "sluice registry reads and writes _schemas as alice (kafkastore.sasl.jaas.config)"

# ---- 2b. a worker whose producer cannot log in: its source tasks fail, it goes on ----------
# (Kafka Connect: each source task's producer is built from the worker's
# producer.* keys; its send throws an authentication exception and the task
# is FAILED with it in its trace; the worker and its REST API go on.) It
# runs before 3, when the internal topics hold nothing: this worker stores
# nothing (its producer is refused) and starts nobody else's connectors.
PA_PORT="$(free_port)"
PAUTH="http://127.0.0.1:$PA_PORT"
mkdir -p "$T/pauth"
echo '{"name": "pauth", "source": {"connector.class": "datagen", "topic": "pauth.rows", "max.records": 1000}}' \
    >"$T/pauth/pauth.json"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
pa_t0="$(now_ms)"
"$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "listeners=$PAUTH" \
    --set "pipelines.dir=$T/pauth" --set group.id=sluice-pauth --set security.protocol=SASL_PLAINTEXT \
    --set "sasl.jaas.config=$(jaas alice "$ALICE_PW")" \
    --set "producer.sasl.jaas.config=$(jaas alice "$BAD_PW")" 2>>"$T/pauth.log" &
pauth_pid=$!
track_pid "$pauth_pid"
pa_field() { # pa_field FIELD: tasks[0][FIELD] of pauth.source's status
    curl -s "$PAUTH/connectors/pauth.source/status" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0].get(sys.argv[1]) or "")' "$1" 2>/dev/null
}
pa_failed() { [ "$(pa_field state)" = FAILED ]; }
wait_for 30 pa_failed ||
    fail "the source of a worker whose producer is refused is not FAILED but '$(pa_field state)': $(tail -3 "$T/pauth.log")"
pa_secs="$(( ($(now_ms) - pa_t0) / 1000 ))"
[ "$pa_secs" -le 20 ] || fail "the source task was FAILED only $pa_secs s after the worker started"
trace="$(pa_field trace)"
case "$trace" in *"worker's producer could not authenticate to $BOOTSTRAP"*"Authentication failed"*"producer.*"*) ;;
*) fail "the FAILED source task's trace does not say the worker's producer was refused where and why: $trace" ;; esac
for s in "${SECRETS[@]}"; do
    case "$trace" in *"$s"*) fail "the FAILED source task's trace shows a password: $trace" ;; esac
done
pass "a wrong producer.sasl.jaas.config: the source task is FAILED in ${pa_secs}s: $(echo "$trace" | cut -c1-150)..."
code="$(curl -s -o "$T/body" -w '%{http_code}' "$PAUTH/connectors")"
[ "$code" = 200 ] || fail "GET /connectors of the worker whose producer is refused: $code $(cat "$T/body")"
kill -0 "$pauth_pid" || fail "the worker whose producer is refused exited"
for s in "${SECRETS[@]}"; do
    grep -qF -- "$s" "$T/body" && fail "GET /connectors shows a password"
done
pass "the worker whose producer is refused goes on: GET /connectors is 200: $(cat "$T/body")"
# a config write goes through that producer: refused, the REST call says so
# at once (Kafka Connect answers 500 with the producer's exception)
pa_t0="$(now_ms)"
code="$(curl -s -o "$T/body" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    "$PAUTH/connectors/pauth.more/config" \
    --data '{"connector.class": "datagen", "topic": "pauth.more", "max.records": 10}')"
pa_ms="$(($(now_ms) - pa_t0))"
[ "$code" = 500 ] || fail "PUT a connector on the worker whose producer is refused: $code $(cat "$T/body")"
grep -q '"error_code": *500' "$T/body" && grep -q "worker's producer could not authenticate to $BOOTSTRAP" "$T/body" ||
    fail "the refused config write's answer does not say why: $(cat "$T/body")"
[ "$pa_ms" -lt 5000 ] || fail "the refused config write was answered after $pa_ms ms"
for s in "${SECRETS[@]}"; do
    grep -qF -- "$s" "$T/body" && fail "the refused config write's answer shows a password"
done
pass "a config write through the refused producer is answered 500 in $pa_ms ms, saying why: $(cut -c1-150 "$T/body")"
# librdkafka retries the login (backoff 100 ms doubling up to 10 s) and
# reports every refusal: the worker logs it once, not at each retry
alice_refused() { [ "$(grep -c "authentication failed for user 'alice'" "$T/b/broker.log")" -ge "$1" ]; }
wait_for 15 alice_refused 4 || fail "the refused producer did not retry its login 4 times"
n="$(grep -c "ERROR \[worker\] [^ ]*#producer-[0-9]*: .*Authentication failed" "$T/pauth.log")"
[ "$n" = 1 ] || fail "the producer's refused login is logged $n times in 4 refusals (expected once)"
pass "the producer's refused login is logged once, not at each of its retries"
# librdkafka's own lines go through the worker's log: its FAIL line for
# the refusal, which the line above says already, is no second line (the
# task's FAILED status is another event)
grep -qE '^%[0-9]\|' "$T/pauth.log" && fail "librdkafka writes its own lines in the worker's log: $(grep -m2 -E '^%[0-9]\|' "$T/pauth.log")"
n="$(grep -E '^[0-9T:.-]+Z (ERROR|WARN) +\[worker\] .*SASL authentication error' "$T/pauth.log" | grep -vc ' status-task-')"
[ "$n" = 1 ] || fail "the refused login is written $n times in the worker's log (expected once): $(grep 'SASL auth' "$T/pauth.log" | cut -c1-120)"
pass "no librdkafka-format line in the worker's log; the refusal is one line"
pa_t0="$(now_ms)"
kill -TERM "$pauth_pid"
wait "$pauth_pid"
rc=$?
pa_ms="$(( $(now_ms) - pa_t0 ))"
[ "$rc" = 0 ] || fail "the worker whose producer is refused exited with $rc after SIGTERM"
[ "$pa_ms" -lt 5000 ] || fail "the worker whose producer is refused took $pa_ms ms to stop after SIGTERM"
pass "SIGTERM: the worker whose producer is refused stopped in $pa_ms ms"
# the same when the producer does not trust the broker's certificate (the
# SSL listener; the worker's other clients trust its CA)
PA_PORT="$(free_port)"
PAUTH="http://127.0.0.1:$PA_PORT"
"$SLUICE" worker --set "bootstrap.servers=127.0.0.1:$SSL_PORT" --set "listeners=$PAUTH" \
    --set "pipelines.dir=$T/pauth" --set group.id=sluice-pauth --set security.protocol=SSL \
    --set "ssl.ca.location=$C/ca.pem" --set "producer.ssl.ca.location=$C/other-ca.pem" \
    2>>"$T/pauth-ssl.log" &
pauth_pid=$!
track_pid "$pauth_pid"
wait_for 20 pa_failed ||
    fail "the source of a worker whose producer distrusts the broker is not FAILED but '$(pa_field state)': $(tail -3 "$T/pauth-ssl.log")"
trace="$(pa_field trace)"
case "$trace" in *"worker's producer could not authenticate to 127.0.0.1:$SSL_PORT"*"SSL handshake failed"*"certificate verify failed"*) ;;
*) fail "the FAILED source task's trace does not say the broker's certificate was refused: $trace" ;; esac
kill -0 "$pauth_pid" || fail "the worker whose producer distrusts the broker exited"
pa_t0="$(now_ms)"
kill -TERM "$pauth_pid"
wait "$pauth_pid" || fail "the worker whose producer distrusts the broker exited with $? after SIGTERM"
pa_ms="$(( $(now_ms) - pa_t0 ))"
[ "$pa_ms" -lt 5000 ] || fail "the worker whose producer distrusts the broker took $pa_ms ms to stop"
pass "a broker certificate the producer does not trust: the source task is FAILED, SIGTERM stops the worker in $pa_ms ms"

# ---- 3. the worker over SASL: datagen -> avro -> file sink ----------------------------
N=500
P="$T/pipelines"
mkdir -p "$P"
W_PORT="$(free_port)"
WORKER="http://127.0.0.1:$W_PORT"
python3 - "$T/worker.json" "$BOOTSTRAP" "$WORKER" "$P" "$REGISTRY" "$(jaas alice "$ALICE_PW")" <<'PY'
import json, sys
path, bootstrap, listeners, pdir, registry, jaas = sys.argv[1:]
json.dump({"bootstrap.servers": bootstrap, "listeners": listeners, "pipelines.dir": pdir,
           "offset.flush.interval.ms": 500, "schema.registry.url": registry,
           "key.converter": "avro", "value.converter": "avro",
           "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
           "sasl.jaas.config": jaas}, open(path, "w"))
PY
python3 - "$P/sasl.json" "$T/out.jsonl" "$N" "$(jaas bob "$BOB_PW")" "$(jaas bob "$BAD_PW")" \
    "127.0.0.1:$SSL_PORT" "$C/other-ca.pem" <<'PY'
import json, sys
path, out, n, jaas, bad, ssl_servers, other_ca = sys.argv[1:]
json.dump({"name": "sasl",
           "source": {"connector.class": "datagen", "topic": "sasl.rows", "max.records": int(n)},
           "sinks": {"out": {"connector.class": "file", "topics": "sasl.rows", "file": out,
                             "consumer.override.sasl.jaas.config": jaas},
                     "badpw": {"connector.class": "file", "topics": "sasl.rows",
                               "file": out + ".badpw", "consumer.override.sasl.jaas.config": bad},
                     # the SSL listener, trusting a CA that did not sign its certificate
                     "untrusted": {"connector.class": "file", "topics": "sasl.rows",
                                   "file": out + ".untrusted",
                                   "consumer.override.bootstrap.servers": ssl_servers,
                                   "consumer.override.security.protocol": "SSL",
                                   "consumer.override.ssl.ca.location": other_ca}}},
          open(path, "w"))
PY
"$SLUICE" worker --config "$T/worker.json" 2>>"$T/worker.log" &
worker_pid=$!
track_pid "$worker_pid"
wait_for 90 have_lines "$T/out.jsonl" "$N" ||
    fail "the file sink has $(lines "$T/out.jsonl") of $N rows; worker log: $(tail -5 "$T/worker.log")"
uniq_n="$(grep -o '"seq":[0-9]*' "$T/out.jsonl" | sort -u | wc -l)"
[ "$(lines "$T/out.jsonl")" = "$N" ] && [ "$uniq_n" = "$N" ] ||
    fail "expected seqs 1..$N exactly once: $(lines "$T/out.jsonl") lines, $uniq_n distinct"
subjects="$(curl -s "$REGISTRY/subjects")"
case "$subjects" in *'"sasl.rows-value"'*) ;; *) fail "the registry lacks sasl.rows-value: $subjects" ;; esac
pass "datagen -> avro (registry over SASL) -> file sink as bob: every seq 1..$N exactly once"
# the override is what the sink's consumer logs in with: a wrong one is refused
grep -q "SASL/PLAIN authentication failed for user 'bob'" "$T/b/broker.log" ||
    fail "the sink with a wrong consumer.override.sasl.jaas.config did not try to log in as bob"
[ "$(lines "$T/out.jsonl.badpw")" = 0 ] || fail "the sink with a wrong password received records"
pass "consumer.override.sasl.jaas.config reaches the sink's consumer (a wrong one: refused, no rows)"

body="$(curl -s "$WORKER/connectors/sasl.out/config")"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["consumer.override.sasl.jaas.config"] == "[hidden]", d' \
    "$body" || fail "GET /connectors/sasl.out/config: $body"
case "$body" in *"$BOB_PW"*) fail "a config answer holds bob's password" ;; esac
body="$(curl -s -X PUT -H 'Content-Type: application/json' "$WORKER/connector-plugins/file/config/validate" \
    --data "{\"connector.class\":\"file\",\"topics\":\"t\",\"file\":\"/tmp/x\",\"consumer.override.sasl.jaas.config\":$(jaas bob "$BOB_PW" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))'),\"consumer.override.sasl.password\":\"$BOB_PW\"}")"
case "$body" in *'"[hidden]"'*) ;; *) fail "validate: no [hidden] value: $body" ;; esac
case "$body" in *"$BOB_PW"*) fail "the validate answer shows bob's password: $body" ;; esac
pass "REST: consumer.override.sasl.jaas.config and sasl.password are [hidden] (config, validate)"

# ---- 3b. the sink with the wrong password fails; fixed and restarted, it delivers ----------
# (Kafka Connect: the consumer's poll throws an authentication exception and
# the task is FAILED with it in its trace; the worker and other connectors
# go on; a PUT of the corrected config and a restart bring the task back)
task_field() { # task_field CONNECTOR FIELD: tasks[0][FIELD] of GET .../status
    curl -s "$WORKER/connectors/$1/status" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0].get(sys.argv[1]) or "")' "$2" 2>/dev/null
}
task_is() { [ "$(task_field "$1" state)" = "$2" ]; }
wait_for 30 task_is sasl.badpw FAILED ||
    fail "the sink with a wrong password is not FAILED but $(task_field sasl.badpw state): $(tail -3 "$T/worker.log")"
trace="$(task_field sasl.badpw trace)"
case "$trace" in *"could not authenticate to $BOOTSTRAP"*"Authentication failed"*) ;;
*) fail "the FAILED task's trace does not say who failed to authenticate where and why: $trace" ;; esac
for s in "${SECRETS[@]}"; do
    case "$trace" in *"$s"*) fail "the FAILED task's trace shows a password: $trace" ;; esac
done
task_is sasl.out RUNNING || fail "sasl.out is $(task_field sasl.out state) beside the failed sink"
kill -0 "$worker_pid" || fail "the worker exited after a sink failed to authenticate"
pass "a wrong consumer.override password: the task is FAILED: $(echo "$trace" | cut -c1-150)..."
wait_for 30 task_is sasl.untrusted FAILED ||
    fail "the sink that does not trust the broker is not FAILED but $(task_field sasl.untrusted state)"
trace="$(task_field sasl.untrusted trace)"
case "$trace" in *"could not authenticate to 127.0.0.1:$SSL_PORT"*"SSL handshake failed"*"certificate verify failed"*) ;;
*) fail "the untrusting sink's trace does not say the broker's certificate was refused: $trace" ;; esac
[ "$(lines "$T/out.jsonl.untrusted")" = 0 ] || fail "the sink that does not trust the broker received records"
pass "a broker certificate the consumer does not trust: the task is FAILED: $(echo "$trace" | cut -c1-150)..."
# librdkafka's lines for those refusals are the tasks' own
grep -qE '^[0-9T:.-]+Z ERROR +\[sasl\.badpw/0\] consumer: FAIL: .*SASL authentication error: Authentication failed' "$T/worker.log" ||
    fail "no worker line naming sasl.badpw/0's consumer for its refused login: $(grep -m3 -i 'fail' "$T/worker.log")"
grep -qE '^[0-9T:.-]+Z ERROR +\[sasl\.untrusted/0\] consumer: FAIL: .*SSL handshake failed' "$T/worker.log" ||
    fail "no worker line naming sasl.untrusted/0's consumer for its refused certificate"
grep -qE '^%[0-9]\|' "$T/worker.log" && fail "librdkafka writes its own lines in the worker's log: $(grep -m2 -E '^%[0-9]\|' "$T/worker.log")"
pass "librdkafka's lines name the sink task: $(grep -m1 'sasl.badpw/0\] consumer: FAIL:' "$T/worker.log" | cut -c1-140)..."
# put_bob_sink NAME FILE: PUT a file sink of sasl.rows with bob's right
# password as connector NAME; prints the HTTP status (the body in $T/body)
put_bob_sink()
{
    python3 - "$T/$1.json" "$2" "$(jaas bob "$BOB_PW")" <<'PY2'
import json, sys
path, out, jaas = sys.argv[1:]
json.dump({"connector.class": "file", "topics": "sasl.rows", "file": out,
           "consumer.override.sasl.jaas.config": jaas}, open(path, "w"))
PY2
    curl -s -o "$T/body" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
        "$WORKER/connectors/$1/config" --data @"$T/$1.json"
}
# the worker goes on: a connector created now delivers every row
code="$(put_bob_sink late "$T/late.jsonl")"
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "PUT /connectors/late/config: $code $(cat "$T/body")"
wait_for 60 have_lines "$T/late.jsonl" "$N" ||
    fail "a sink created after the failure has $(lines "$T/late.jsonl") of $N rows"
pass "beside the FAILED sink, a sink created later delivers all $N rows"
# the user corrects the password and restarts the task
code="$(put_bob_sink sasl.badpw "$T/out.jsonl.badpw")"
[ "$code" = 200 ] || fail "PUT /connectors/sasl.badpw/config: $code $(cat "$T/body")"
code="$(curl -s -o "$T/body" -w '%{http_code}' -X POST \
    "$WORKER/connectors/sasl.badpw/restart?includeTasks=true")"
case "$code" in 20[024]) ;; *) fail "POST /connectors/sasl.badpw/restart?includeTasks=true: $code $(cat "$T/body")" ;; esac
wait_for 60 have_lines "$T/out.jsonl.badpw" "$N" ||
    fail "the corrected sink has $(lines "$T/out.jsonl.badpw") of $N rows (task $(task_field sasl.badpw state))"
task_is sasl.badpw RUNNING || fail "the corrected sink's task is $(task_field sasl.badpw state)"
pass "PUT with the right password, restart?includeTasks=true: RUNNING, all $N rows delivered"

# ---- 3c. a source's own producer: producer.override.sasl.jaas.config ---------------------
# (Kafka Connect gives each source task a producer of the worker's producer
# settings plus the connector's producer.override.*: here bob's login while
# the worker's producer is alice's; a wrong one fails that task alone)
# put_source NAME TOPIC PASSWORD: PUT a datagen source of N records to TOPIC
# whose producer logs in as bob with PASSWORD; prints the HTTP status
put_source()
{
    python3 - "$T/$1.json" "$2" "$N" "$(jaas bob "$3")" <<'PY2'
import json, sys
path, topic, n, jaas = sys.argv[1:]
json.dump({"connector.class": "datagen", "topic": topic, "max.records": n,
           "producer.override.sasl.jaas.config": jaas}, open(path, "w"))
PY2
    curl -s -o "$T/body" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
        "$WORKER/connectors/$1/config" --data @"$T/$1.json"
}
code="$(put_source bobsrc bob.rows "$BOB_PW")"
[ "$code" = 201 ] || fail "PUT /connectors/bobsrc/config (producer.override.sasl.jaas.config): $code $(cat "$T/body")"
code="$(put_source badsrc badsrc.rows "$BAD_PW")"
[ "$code" = 201 ] || fail "PUT /connectors/badsrc/config: $code $(cat "$T/body")"
python3 - "$T/bobout.json" "$T/bob.jsonl" "$(jaas bob "$BOB_PW")" <<'PY2'
import json, sys
path, out, jaas = sys.argv[1:]
json.dump({"connector.class": "file", "topics": "bob.rows", "file": out,
           "consumer.override.sasl.jaas.config": jaas}, open(path, "w"))
PY2
code="$(curl -s -o "$T/body" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    "$WORKER/connectors/bobout/config" --data @"$T/bobout.json")"
[ "$code" = 201 ] || fail "PUT /connectors/bobout/config: $code $(cat "$T/body")"
wait_for 60 have_lines "$T/bob.jsonl" "$N" ||
    fail "the source producing as bob delivered $(lines "$T/bob.jsonl") of $N rows (task $(task_field bobsrc state): $(task_field bobsrc trace))"
uniq_n="$(grep -o '"seq":[0-9]*' "$T/bob.jsonl" | sort -u | wc -l)"
[ "$(lines "$T/bob.jsonl")" = "$N" ] && [ "$uniq_n" = "$N" ] ||
    fail "bob.rows: expected seqs 1..$N exactly once: $(lines "$T/bob.jsonl") lines, $uniq_n distinct"
grep -q "bobsrc.*task 0: own producer" "$T/worker.log" || fail "bobsrc did not get its own producer"
pass "a source with producer.override.sasl.jaas.config (bob) beside the worker's producer (alice): every seq 1..$N exactly once"
wait_for 30 task_is badsrc FAILED ||
    fail "the source whose own producer has a wrong password is not FAILED but $(task_field badsrc state): $(tail -3 "$T/worker.log")"
trace="$(task_field badsrc trace)"
case "$trace" in *"connector badsrc's producer (task 0, producer.override.*) could not authenticate to $BOOTSTRAP"*"Authentication failed"*"producer.override.*"*) ;;
*) fail "the FAILED source's trace does not name its producer, where and why: $trace" ;; esac
for s in "${SECRETS[@]}"; do
    case "$trace" in *"$s"*) fail "the FAILED source's trace shows a password: $trace" ;; esac
done
for c in bobsrc sasl.source; do
    task_is "$c" RUNNING || fail "$c is $(task_field "$c" state) beside the source whose producer is refused"
done
kill -0 "$worker_pid" || fail "the worker exited after a source's own producer was refused"
pass "a wrong producer.override password fails that source alone: $(echo "$trace" | cut -c1-160)..."

# ---- 4. a wrong password ----------------------------------------------------------------
out="$(timeout 60 "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" \
    --set "listeners=http://127.0.0.1:$(free_port)" --set security.protocol=SASL_PLAINTEXT \
    --set "sasl.jaas.config=$(jaas alice "$BAD_PW")" 2>&1)"
rc=$?
echo "$out" >>"$T/badworker.log"
[ "$rc" = 1 ] || fail "a worker with a wrong password exited with $rc (expected 1): $(echo "$out" | tail -3)"
case "$out" in *"SASL authentication error: Authentication failed"*) ;;
*) fail "a worker with a wrong password does not say why: $(echo "$out" | tail -3)" ;; esac
case "$(echo "$out" | tail -1)" in *"creating internal topics"*"Authentication failed"*) ;;
*) fail "the worker's last line does not say authentication failed: $(echo "$out" | tail -1)" ;; esac
pass "a wrong password: the worker stops (status 1) saying: $(echo "$out" | tail -1 | cut -c1-160)"

out="$(timeout 60 "$SLUICE" registry --set "listeners=http://127.0.0.1:$(free_port)" \
    --set "kafkastore.bootstrap.servers=$BOOTSTRAP" --set kafkastore.security.protocol=SASL_PLAINTEXT \
    --set kafkastore.sasl.username=alice --set "kafkastore.sasl.password=$BAD_PW" 2>&1)"
rc=$?
echo "$out" >>"$T/badregistry.log"
[ "$rc" = 1 ] || fail "a registry with a wrong password exited with $rc (expected 1): $(echo "$out" | tail -2)"
case "$out" in *"ERROR [registry] kafkastore "*"SASL authentication error: Authentication failed"*) ;;
*) fail "a registry with a wrong password does not log why: $(echo "$out" | tail -3)" ;; esac
echo "$out" | grep -qE '^[0-9T:.-]+Z ERROR +\[registry\] kafkastore (producer|consumer): FAIL: .*Authentication failed' ||
    fail "librdkafka's line for the registry's refused login is not the registry's: $(echo "$out" | grep -m2 FAIL)"
pass "a wrong kafkastore.sasl.password: the registry logs the refused login and stops (status 1)"

# ---- 5. the CLI with --command-config ------------------------------------------------------
cat >"$T/client.properties" <<PROPS
# as for kafka-topics.sh --command-config
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
    username="alice" password="$ALICE_PW";
PROPS
out="$("$SLUICE" topics list -b "$BOOTSTRAP" --command-config "$T/client.properties" 2>>"$T/cli.log")" ||
    fail "sluice topics list --command-config: $(tail -3 "$T/cli.log")"
echo "$out" | grep -qx sasl.rows || fail "sluice topics list --command-config does not list sasl.rows: $out"
pass "sluice topics list --command-config lists the topics"
out="$(timeout 60 "$SLUICE" topics list -b "$BOOTSTRAP" 2>&1)" && fail "sluice topics list without credentials: $out"
echo "$out" >>"$T/cli.log"
case "$(echo "$out" | tail -1)" in *"cannot fetch metadata"*"give --command-config FILE"*) ;;
*) fail "sluice topics list without credentials: unclear message: $(echo "$out" | tail -1)" ;; esac
pass "without credentials: $(echo "$out" | tail -1 | cut -c1-150)..."
sed "s/$ALICE_PW/$BAD_PW/" "$T/client.properties" >"$T/bad.properties"
out="$(timeout 60 "$SLUICE" topics list -b "$BOOTSTRAP" --command-config "$T/bad.properties" 2>&1)" &&
    fail "sluice topics list with a wrong password: $out"
echo "$out" >>"$T/cli.log"
case "$out" in *"Authentication failed"*) ;; *) fail "the CLI, wrong password: $(echo "$out" | tail -2)" ;; esac
pass "a wrong password in --command-config: the CLI says Authentication failed"

kill -TERM "$worker_pid"
wait "$worker_pid" || fail "the worker exited with $? after SIGTERM"

# ---- 6. sluice run with a SASL listener: the user gives the roles' credentials ----------------
RUN_B="$(free_port)" RUN_R="$(free_port)" RUN_W="$(free_port)"
"$SLUICE" run --set "data.dir=$T/run" --set "broker.listeners=SASL_PLAINTEXT://127.0.0.1:$RUN_B" \
    --set "broker.sasl.users.file=$T/users" --set broker.admin.listeners= \
    --set "registry.listeners=http://127.0.0.1:$RUN_R" --set "worker.listeners=http://127.0.0.1:$RUN_W" \
    --set "worker.sasl.jaas.config=$(jaas alice "$ALICE_PW")" \
    --set "registry.kafkastore.sasl.jaas.config=$(jaas bob "$BOB_PW")" 2>>"$T/run.log" &
run_pid=$!
track_pid "$run_pid"
wait_for 60 port_open "$RUN_W" || fail "sluice run over SASL: the worker did not serve: $(tail -3 "$T/run.log")"
[ "$(curl -s "http://127.0.0.1:$RUN_R/subjects")" = "[]" ] || fail "sluice run: the registry does not answer"
grep -q "SASL/PLAIN authentication failed" "$T/run.log" && fail "sluice run: a role failed to log in"
pass "sluice run, SASL_PLAINTEXT broker: worker.sasl.jaas.config and registry.kafkastore.sasl.jaas.config suffice"
kill -TERM "$run_pid"
wait "$run_pid" || fail "sluice run exited with $? after SIGTERM"

# ---- 7. no password in any log -------------------------------------------------------------
for s in "${SECRETS[@]}"; do
    grep -lF -- "$s" "$T"/*.log "$T/b/broker.log" && fail "a log holds a password"
done
pass "no password in the broker, registry, worker or CLI logs"
raw="$(grep -lE '^%[0-9]\|' "$T"/*.log)" && fail "librdkafka's own lines in $raw: $(grep -hm2 -E '^%[0-9]\|' $raw)"
pass "no librdkafka-format line in the registry, worker or CLI logs"
finish
