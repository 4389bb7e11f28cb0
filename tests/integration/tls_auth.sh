#!/usr/bin/env bash
# tls_auth.sh - HTTPS listeners and HTTP basic authentication on the schema
# registry and the worker's REST API, as a user sets them up: a self-signed
# certificate made with openssl, a users file, curl as the client.
#
#  1. config errors, refused at start with a message naming the key and the
#     file (never a password): https without a certificate, an encrypted key
#     without or with the wrong ssl.key.password, a key that is not the
#     certificate's, BASIC without users, a bad users file line;
#  2. the registry on https:// with an encrypted key (ssl.key.password) and
#     BASIC users from a file: curl --cacert with good credentials 200; plain
#     http:// to it gets no HTTP answer; an unknown CA is refused by curl; no
#     or bad credentials 401 with WWW-Authenticate and the JSON error body;
#  3. the worker's REST API on https:// with BASIC: the same, its realm
#     "sluice";
#  4. sluice's own HTTP client (core/restclient.c) against them: `sluice
#     schemas` and `sluice connectors` refuse the untrusted certificate with
#     a message saying what to do, trust it from SSL_CERT_FILE, report a 401
#     with the URL; a worker whose avro converters use the https+BASIC
#     registry (basic.auth.user.info, schema.registry.ssl.ca.location)
#     carries datagen rows to a file sink, while a connector with a wrong
#     password FAILS naming the registry and the 401; basic.auth.user.info is
#     [hidden] in GET /connectors/<n>/config and in a validate answer;
#  5. no password (users file, key password) appears in any log.
. "$(dirname "$0")/lib.sh"
test_init tls_auth

command -v openssl >/dev/null || fail "openssl (the command) is needed to make the test certificate"
command -v curl >/dev/null || fail "curl is needed"

# ---- a certificate, an encrypted copy of its key, another key, users --------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null ||
    fail "openssl req -x509 failed"
KEYPW='kEy-pa55-7731'
openssl pkey -in "$T/key.pem" -aes256 -passout "pass:$KEYPW" -out "$T/key.enc.pem" ||
    fail "openssl pkey -aes256 failed"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.pem" 2>/dev/null ||
    fail "openssl genpkey failed"
# a comment, a blank line, and a password holding ':' (only the first ':' splits)
printf '# who may call\nalice:Al1ce-pw-5150\n\nbob:b0b:pw-9922\n' >"$T/users"
printf 'alice:Al1ce-pw-5150\nthis line has no colon\n' >"$T/badusers"
SECRETS=("$KEYPW" Al1ce-pw-5150 b0b:pw-9922)

start_broker "$T/b"

# ---- 1. config errors ---------------------------------------------------------
REG_BASE=(--set "kafkastore.bootstrap.servers=$BOOTSTRAP")
HTTPS_ANY=(--set "listeners=https://127.0.0.1:$(free_port)")
refused registry "an https:// listener needs ssl.certificate.location and ssl.key.location" \
    "${REG_BASE[@]}" "${HTTPS_ANY[@]}"
refused registry "ssl.key.location '$T/key.enc.pem': the key is encrypted: set ssl.key.password" \
    "${REG_BASE[@]}" "${HTTPS_ANY[@]}" --set "ssl.certificate.location=$T/cert.pem" \
    --set "ssl.key.location=$T/key.enc.pem"
refused registry "ssl.key.password: cannot decrypt ssl.key.location '$T/key.enc.pem'" \
    "${REG_BASE[@]}" "${HTTPS_ANY[@]}" --set "ssl.certificate.location=$T/cert.pem" \
    --set "ssl.key.location=$T/key.enc.pem" --set ssl.key.password=not-it
refused registry "ssl.key.location '$T/other.pem' is not the key of the certificate" \
    "${REG_BASE[@]}" "${HTTPS_ANY[@]}" --set "ssl.certificate.location=$T/cert.pem" \
    --set "ssl.key.location=$T/other.pem"
refused registry "ssl.certificate.location '$T/key.pem': no PEM certificate in it" \
    "${REG_BASE[@]}" "${HTTPS_ANY[@]}" --set "ssl.certificate.location=$T/key.pem" \
    --set "ssl.key.location=$T/key.pem"
refused registry "authentication.method=BASIC needs users" \
    "${REG_BASE[@]}" --set authentication.method=BASIC
refused registry "authentication.users.file '$T/badusers' line 2: expected user:password" \
    "${REG_BASE[@]}" --set authentication.method=BASIC --set "authentication.users.file=$T/badusers"
refused registry "authentication.method: 'DIGEST' must be NONE or BASIC" \
    "${REG_BASE[@]}" --set authentication.method=DIGEST
refused worker "ssl.certificate.location '$T/none.pem': cannot read: No such file or directory" \
    --set "bootstrap.servers=$BOOTSTRAP" "${HTTPS_ANY[@]}" \
    --set "ssl.certificate.location=$T/none.pem" --set "ssl.key.location=$T/key.pem"
grep -qF -e "not-it" -e "this line has no colon" "$T/refused.log" &&
    fail "a refusal message shows a password or a users file line"
pass "refusal messages name keys, files and line numbers, never a password"

# ---- 2. the registry: https, encrypted key, BASIC from a users file -----------
REG_PORT="$(free_port)"
REG="https://127.0.0.1:$REG_PORT"
"$SLUICE" registry "${REG_BASE[@]}" --set "listeners=$REG" \
    --set "ssl.certificate.location=$T/cert.pem" --set "ssl.key.location=$T/key.enc.pem" \
    --set "ssl.key.password=$KEYPW" \
    --set authentication.method=BASIC --set "authentication.users.file=$T/users" \
    2>>"$T/registry.log" &
track_pid $!
wait_for 30 port_open "$REG_PORT" || fail "the registry did not listen on $REG_PORT"

# call URL [curl args]: sets STATUS (000 when no HTTP answer), HDRS, BODY
call()
{
    local url="$1"
    shift
    : >"$T/hdrs"
    STATUS="$(curl -s -o "$T/body" -D "$T/hdrs" -w '%{http_code}' --max-time 10 "$@" "$url")"
    BODY="$(cat "$T/body" 2>/dev/null)"
    HDRS="$(cat "$T/hdrs")"
}
# unauthorized ROLE URL REALM [curl args]: a 401 as Confluent and Kafka Connect answer it
unauthorized()
{
    local role="$1" url="$2" realm="$3"
    shift 3
    call "$url" --cacert "$T/cert.pem" "$@"
    [ "$STATUS" = 401 ] || fail "$role $* -> HTTP $STATUS, expected 401: $BODY"
    grep -qiF "WWW-Authenticate: Basic realm=\"$realm\"" <<<"$HDRS" ||
        fail "$role: 401 without WWW-Authenticate: Basic realm=\"$realm\": $HDRS"
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["error_code"] == 401 and d["message"], d' \
        "$BODY" || fail "$role: the 401 body is not {\"error_code\":401,\"message\":...}: $BODY"
}

call "$REG/subjects" --cacert "$T/cert.pem" -u alice:Al1ce-pw-5150
[ "$STATUS" = 200 ] && [ "$BODY" = '[]' ] || fail "registry over https as alice: HTTP $STATUS $BODY"
pass "registry: https with --cacert and alice's credentials -> 200 []"
call "$REG/subjects" --cacert "$T/cert.pem" -u bob:b0b:pw-9922
[ "$STATUS" = 200 ] || fail "registry as bob (a ':' in the password): HTTP $STATUS $BODY"
pass "registry: bob, whose password holds a ':', -> 200"
call "https://localhost:$REG_PORT/" --cacert "$T/cert.pem" -u alice:Al1ce-pw-5150
[ "$STATUS" = 200 ] || fail "registry by the name localhost: HTTP $STATUS $BODY"
pass "registry: the certificate is good for the name localhost too"

call "http://127.0.0.1:$REG_PORT/subjects" -u alice:Al1ce-pw-5150
[ "$STATUS" = 000 ] || fail "plain http to the https listener got HTTP $STATUS: $BODY"
pass "registry: plain http:// to the https listener gets no HTTP answer"
if curl -s -o /dev/null --max-time 10 -u alice:Al1ce-pw-5150 "$REG/subjects"; then
    fail "curl without --cacert trusted the self-signed certificate"
fi
pass "registry: a client that does not trust the certificate refuses it"

unauthorized registry "$REG/subjects" SchemaRegistry
unauthorized registry "$REG/subjects" SchemaRegistry -u alice:wrong
unauthorized registry "$REG/subjects" SchemaRegistry -u alice:b0b:pw-9922
unauthorized registry "$REG/subjects" SchemaRegistry -u carol:Al1ce-pw-5150
unauthorized registry "$REG/subjects" SchemaRegistry -H 'Authorization: Basic !!notbase64!!'
pass "registry: no, wrong, another user's and malformed credentials -> 401, WWW-Authenticate, JSON body"
call "$REG/subjects/t-value/versions" --cacert "$T/cert.pem" -X POST \
    -H 'Content-Type: application/vnd.schemaregistry.v1+json' --data '{"schema":"\"string\""}'
[ "$STATUS" = 401 ] || fail "an unauthenticated write got HTTP $STATUS: $BODY"
call "$REG/subjects" --cacert "$T/cert.pem" -u alice:Al1ce-pw-5150
[ "$BODY" = '[]' ] || fail "the unauthenticated write registered something: $BODY"
pass "registry: an unauthenticated write is refused and changes nothing"

# ---- 3. the worker's REST API: https, BASIC (realm sluice) -------------------
W_PORT="$(free_port)"
WORKER="https://127.0.0.1:$W_PORT"
"$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "listeners=$WORKER" \
    --set "ssl.certificate.location=$T/cert.pem" --set "ssl.key.location=$T/key.pem" \
    --set authentication.method=BASIC --set "authentication.users.file=$T/users" \
    2>>"$T/worker.log" &
worker_pid=$!
track_pid $worker_pid
wait_for 30 port_open "$W_PORT" || fail "the worker did not listen on $W_PORT"
call "$WORKER/connectors" --cacert "$T/cert.pem" -u alice:Al1ce-pw-5150
[ "$STATUS" = 200 ] && [ "$BODY" = '[]' ] || fail "worker over https as alice: HTTP $STATUS $BODY"
pass "worker: https with --cacert and credentials -> 200 []"
unauthorized worker "$WORKER/connectors" sluice
unauthorized worker "$WORKER/connectors" sluice -u bob:wrong
pass "worker: no or wrong credentials -> 401 with realm \"sluice\" and the JSON body"
call "http://127.0.0.1:$W_PORT/connectors" -u alice:Al1ce-pw-5150
[ "$STATUS" = 000 ] || fail "plain http to the worker's https listener got HTTP $STATUS"
pass "worker: plain http:// to the https listener gets no HTTP answer"

# ---- 4. sluice's HTTP client: CLIs, then the avro converter end to end --------
unset SSL_CERT_FILE # as set on some machines for the system's CAs, which do not know ours
out="$("$SLUICE" schemas -r "$REG" -u alice:Al1ce-pw-5150 list 2>&1)" &&
    fail "sluice schemas trusted the self-signed certificate: $out"
case "$out" in *"$REG/subjects"*certificate*"give the client the PEM file of the server's CA"*) ;;
*) fail "sluice schemas, untrusted certificate: unclear message: $out" ;; esac
pass "sluice schemas: an untrusted certificate is refused, the message names the URL and the fix"
export SSL_CERT_FILE="$T/cert.pem"
echo '{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}' >"$T/r.avsc"
out="$("$SLUICE" schemas -r "$REG" -u alice:Al1ce-pw-5150 register cli-value "$T/r.avsc" 2>&1)" ||
    fail "sluice schemas register over https (SSL_CERT_FILE): $out"
[ "$out" = 1 ] || fail "sluice schemas register printed '$out', expected id 1"
pass "sluice schemas: https with the CA from SSL_CERT_FILE and basic auth -> registered id 1"
out="$("$SLUICE" schemas -r "$REG" -u alice:wrong list 2>&1)" && fail "a wrong password listed: $out"
case "$out" in *401*) ;; *) fail "sluice schemas, wrong password: no 401 in: $out" ;; esac
pass "sluice schemas: a wrong password is reported with the 401"
out="$("$SLUICE" connectors -w "$WORKER" -u alice:Al1ce-pw-5150 list 2>&1)" ||
    fail "sluice connectors over https: $out"
pass "sluice connectors: https with SSL_CERT_FILE and basic auth"
stop_worker

P="$T/pipelines"
mkdir -p "$P"
# avro_pipe NAME USER_INFO: datagen -> avro (the https registry) -> file sink
avro_pipe()
{
    local conv="\"key.converter\": \"avro\", \"value.converter\": \"avro\",
      \"key.converter.schema.registry.url\": \"$REG\", \"value.converter.schema.registry.url\": \"$REG\",
      \"key.converter.basic.auth.credentials.source\": \"USER_INFO\",
      \"value.converter.basic.auth.credentials.source\": \"USER_INFO\",
      \"key.converter.basic.auth.user.info\": \"$2\", \"value.converter.basic.auth.user.info\": \"$2\",
      \"key.converter.schema.registry.ssl.ca.location\": \"$T/cert.pem\",
      \"value.converter.schema.registry.ssl.ca.location\": \"$T/cert.pem\""
    cat >"$P/$1.json" <<JSON
{"name": "$1",
 "source": {"connector.class": "datagen", "topic": "$1.rows", "max.records": 40, $conv},
 "sinks": {"out": {"connector.class": "file", "topics": "$1.rows", "file": "$T/$1.jsonl", $conv}}}
JSON
}
avro_pipe good alice:Al1ce-pw-5150
avro_pipe badpw alice:not-her-password
SECRETS+=(not-her-password)
unset SSL_CERT_FILE # the converters trust the registry from schema.registry.ssl.ca.location
"$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "listeners=$WORKER" \
    --set "ssl.certificate.location=$T/cert.pem" --set "ssl.key.location=$T/key.pem" \
    --set authentication.method=BASIC --set "authentication.users.file=$T/users" \
    --set "pipelines.dir=$P" --set offset.flush.interval.ms=500 2>>"$T/worker.log" &
worker_pid=$!
track_pid $worker_pid
wait_for 60 have_lines "$T/good.jsonl" 40 || fail "good: $(lines "$T/good.jsonl") of 40 rows in the file"
call "$REG/subjects" --cacert "$T/cert.pem" -u bob:b0b:pw-9922
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert {"good.rows-key","good.rows-value"} <= set(s), s' \
    "$BODY" || fail "the registry lacks the good.rows subjects: $BODY"
pass "avro over https+BASIC: 40 datagen rows reached the file sink, schemas registered"

task_failed() # CONNECTOR: its task 0 is FAILED; the trace in $T/trace
{
    call "$WORKER/connectors/$1/status" --cacert "$T/cert.pem" -u alice:Al1ce-pw-5150
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); t=d["tasks"][0]; assert t["state"] == "FAILED"
open(sys.argv[2], "w").write(t.get("trace") or "")' "$BODY" "$T/trace" 2>/dev/null
}
wait_for 30 task_failed badpw.source || fail "badpw.source did not fail: $BODY"
trace="$(cat "$T/trace")"
case "$trace" in *"$REG/subjects/badpw.rows-"*"HTTP 401"*) ;;
*) fail "badpw.source: the trace does not name the registry URL and HTTP 401: $trace" ;; esac
pass "a wrong basic.auth.user.info fails the task: $(head -c 200 "$T/trace")"
call "$WORKER/connectors/good.source/status" --cacert "$T/cert.pem" -u alice:Al1ce-pw-5150
case "$BODY" in *FAILED*) fail "good.source failed beside badpw: $BODY" ;; esac
pass "the good connector keeps running beside the failed one"
for c in good.source good.out; do
    call "$WORKER/connectors/$c/config" --cacert "$T/cert.pem" -u alice:Al1ce-pw-5150
    python3 -c 'import json,sys; d=json.loads(sys.argv[1])
assert d["value.converter.basic.auth.user.info"] == "[hidden]" and d["key.converter.basic.auth.user.info"] == "[hidden]", d
assert d["value.converter.schema.registry.url"].startswith("https://"), d' "$BODY" ||
        fail "GET /connectors/$c/config shows basic.auth.user.info: $BODY"
done
case "$(cat "$T/body")" in *Al1ce-pw*) fail "a config answer holds alice's password" ;; esac
pass "GET /connectors/<n>/config: basic.auth.user.info is [hidden]"
call "$WORKER/connector-plugins/file/config/validate" --cacert "$T/cert.pem" -u alice:Al1ce-pw-5150 \
    -X PUT -H 'Content-Type: application/json' \
    --data '{"connector.class":"file","topics":"t","file":"/tmp/x","value.converter.basic.auth.user.info":"alice:Al1ce-pw-5150"}'
[ "$STATUS" = 200 ] || fail "validate: HTTP $STATUS $BODY"
case "$BODY" in *Al1ce-pw*) fail "the validate answer shows basic.auth.user.info: $BODY" ;; esac
pass "validate: basic.auth.user.info is [hidden]"
stop_worker

# ---- 5. no secret in any log ----------------------------------------------------
for s in "${SECRETS[@]}"; do
    if grep -rqF -- "$s" "$T"/*.log "$T/b/broker.log"; then
        fail "a log holds the secret '$s': $(grep -rlF -- "$s" "$T"/*.log)"
    fi
done
pass "no log holds the key password or a user's password (nor basic.auth.user.info's)"

finish
