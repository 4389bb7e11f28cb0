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
#  4. no password (users file, key password) appears in any log.
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
# refused: ROLE WANT-IN-MESSAGE ARGS... - the role exits non-zero at once,
# its last log line holding WANT
refused()
{
    local role="$1" want="$2" out rc
    shift 2
    out="$(timeout 20 "$SLUICE" "$role" "$@" 2>&1 >/dev/null)"
    rc=$?
    echo "$out" >>"$T/refused.log"
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "$role $*: expected a refusal, exit status $rc"
    case "$out" in *"$want"*) ;; *) fail "$role: expected '$want' in: $out" ;; esac
    pass "$role refuses: $want"
}
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
stop_worker

# ---- 4. no secret in any log ----------------------------------------------------
for s in "${SECRETS[@]}"; do
    if grep -rqF -- "$s" "$T"/*.log "$T/b/broker.log"; then
        fail "a log holds the secret '$s': $(grep -rlF -- "$s" "$T"/*.log)"
    fi
done
pass "no log holds the key password or a user's password"

finish
