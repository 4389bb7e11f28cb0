#!/usr/bin/env bash
# broker_ssl.sh - the broker's SSL and SASL_SSL listeners (TLS 1.2+, PEM
# files), as a user meets them with kcat and openssl:
#
#  1. start-up refusals naming the key: an SSL listener without a
#     certificate, an encrypted key with a wrong or no ssl.key.password, a
#     missing key file, a key that is not the certificate's, a bad
#     ssl.client.auth, ssl.client.auth=required without ssl.ca.location;
#  2. one broker with PLAINTEXT, SSL and SASL_SSL listeners side by side
#     (its key encrypted, the right password given): kcat produces and
#     consumes over SSL trusting the test CA, alone and in a consumer group,
#     and each listener advertises its own address (Metadata,
#     FindCoordinator);
#  3. SASL_SSL: the right password produces and consumes, a wrong one gets
#     "Authentication failed";
#  4. a plaintext client on the SSL port, a client that does not trust the
#     certificate, and a TLS 1.1 client are each closed with one log line
#     naming the peer and the reason; the broker stays up and the PLAINTEXT
#     listener keeps answering;
#  5. ssl.client.auth=required: a client without a certificate is refused,
#     one with a certificate from ssl.ca.location produces and consumes, one
#     with a certificate from another CA is refused; with requested, no
#     certificate is accepted but one from another CA is not;
#  6. no password in the logs;
#  8. connections.max.idle.ms=1000: a connection to the SSL listener that
#     sends nothing, one that stops inside its ClientHello, one that stops
#     after the TLS handshake, a SASL_SSL one that stops after SaslHandshake
#     and a PLAINTEXT one that sends half a request are each closed after
#     about a second, with one log line naming the listener and the peer; a
#     connection that keeps sending requests is not; kcat consuming with
#     fetch.wait.max.ms=10000 receives records produced 3 s later and a
#     consumer group waiting 3 s for its first rebalance is served (neither
#     is cut); an idle kcat producer is cut, reconnects and delivers; a value
#     that is no positive integer stops the broker at start naming the key;
#  7. information only (never asserted): 200k messages produced and
#     consumed with kcat over SSL and over PLAINTEXT on the same broker,
#     wall time and the broker's CPU time per message;
#  9. the admin listener (/metrics, /health) over https with basic
#     authentication (admin.ssl.*, admin.authentication.*): curl trusting the
#     test CA with a user from the file or the inline list gets the metrics
#     (counting what kcat produced) and /health; no credentials or a wrong
#     password get 401 with WWW-Authenticate and the JSON error; an unknown
#     path gets the 404 naming the paths there are; plain http to the port
#     and a client not trusting the CA get no answer; a wrong
#     admin.ssl.key.password, missing users, or only the Kafka listeners'
#     ssl.* keys stop the broker at start naming the admin. key.
. "$(dirname "$0")/lib.sh"
test_init broker_ssl

KEYPW='k3y-pw-ssl-6631'
SECRETS=("$KEYPW" Al1ce-ssl-2207 wrong-pw-8814 0ps-admin-5172 B0b-admin-3390)

# ---- certificates: a test CA, the server's (key encrypted), two clients -------
C="$T/certs"
test_ca "$C"
signed server ca localhost
signed client ca app-client
signed stranger other-ca stranger
ossl pkey -in "$C/server.key" -aes256 -passout "pass:$KEYPW" -out "$C/server-enc.key"
pass "test CA, server certificate (key encrypted) and client certificates made with openssl"

printf 'alice:Al1ce-ssl-2207\n' >"$T/users"
PORT="$(free_port)"
SSL_PORT="$(free_port)"
SASL_PORT="$(free_port)"
TLS_KEYS=(--set "ssl.certificate.location=$C/server.pem" --set "ssl.key.location=$C/server-enc.key"
    --set "ssl.key.password=$KEYPW")

# refused_broker WANT ARGS...: lib.sh's refused, for a broker of its own
refused_broker() { refused broker "$1" --set "log.dirs=$T/refused" --set admin.listeners= "${@:2}"; }
L="listeners=SSL://127.0.0.1:$SSL_PORT"
refused_broker "listeners: 'SSL://127.0.0.1:$SSL_PORT' needs ssl.certificate.location and ssl.key.location" \
    --set "$L"
refused_broker "ssl.key.password: cannot decrypt ssl.key.location '$C/server-enc.key' with it (wrong password?)" \
    --set "$L" --set "ssl.certificate.location=$C/server.pem" \
    --set "ssl.key.location=$C/server-enc.key" --set "ssl.key.password=wrong-pw-8814"
refused_broker "ssl.key.location '$C/server-enc.key': the key is encrypted: set ssl.key.password" \
    --set "$L" --set "ssl.certificate.location=$C/server.pem" --set "ssl.key.location=$C/server-enc.key"
refused_broker "ssl.key.location '$C/missing.key': cannot read: No such file or directory" \
    --set "$L" --set "ssl.certificate.location=$C/server.pem" --set "ssl.key.location=$C/missing.key"
refused_broker "ssl.certificate.location '$C/missing.pem': No such file or directory" \
    --set "$L" --set "ssl.certificate.location=$C/missing.pem" --set "ssl.key.location=$C/server.key"
refused_broker "ssl.key.location '$C/client.key' is not the key of the certificate in ssl.certificate.location '$C/server.pem'" \
    --set "$L" --set "ssl.certificate.location=$C/server.pem" --set "ssl.key.location=$C/client.key"
refused_broker "ssl.client.auth: 'sometimes' must be none, requested or required" \
    --set "$L" "${TLS_KEYS[@]}" --set ssl.client.auth=sometimes
refused_broker "ssl.client.auth=required needs ssl.ca.location" \
    --set "$L" "${TLS_KEYS[@]}" --set ssl.client.auth=required
refused_broker "listeners: 'SSL_PLAIN://127.0.0.1:$SSL_PORT': the protocol must be PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL" \
    --set "listeners=SSL_PLAIN://127.0.0.1:$SSL_PORT"
refused_broker "'connections.max.idle.ms' must be an integer, got 'soon'" --set connections.max.idle.ms=soon
refused_broker "'connections.max.idle.ms' must be between 1 and" --set connections.max.idle.ms=0
# the admin listener's keys are its own: admin.ssl.*, admin.authentication.*
ADMIN_HTTPS=(--set "admin.listeners=https://127.0.0.1:$(free_port)" --set "log.dirs=$T/refused-admin")
ADMIN_TLS=(--set "admin.ssl.certificate.location=$C/server.pem" --set "admin.ssl.key.location=$C/server-enc.key")
refused_broker "admin.ssl.key.password: cannot decrypt admin.ssl.key.location '$C/server-enc.key' with it (wrong password?)" \
    "${ADMIN_HTTPS[@]}" "${ADMIN_TLS[@]}" --set admin.ssl.key.password=wrong-pw-8814
refused_broker "an https:// listener needs admin.ssl.certificate.location and admin.ssl.key.location" \
    "${ADMIN_HTTPS[@]}" "${TLS_KEYS[@]}"
refused_broker "admin.authentication.method=BASIC needs users: admin.authentication.users.file" \
    "${ADMIN_HTTPS[@]}" "${ADMIN_TLS[@]}" --set "admin.ssl.key.password=$KEYPW" \
    --set admin.authentication.method=BASIC
[ ! -d "$T/refused-admin" ] || fail "a broker refused for its admin listener created its log.dirs first"

# logged FILE PATTERN: the line shows up within 5 s (the broker writes it when
# it reads the client's alert or close, which may be after the client exited)
logged() { wait_for 5 grep -q "$2" "$1"; }

# ---- 2. PLAINTEXT, SSL and SASL_SSL side by side ------------------------------
BROKER_PORT="$PORT"
start_broker "$T/b" --set "listeners=PLAINTEXT://127.0.0.1:$PORT,SSL://127.0.0.1:$SSL_PORT,SASL_SSL://127.0.0.1:$SASL_PORT" \
    "${TLS_KEYS[@]}" --set "sasl.users.file=$T/users" --set group.initial.rebalance.delay.ms=0
for p in "$SSL_PORT" "$SASL_PORT"; do
    wait_for 10 port_open "$p" || fail "the broker does not listen on $p"
done
SSL_BOOT="127.0.0.1:$SSL_PORT"
SSLX=(-X security.protocol=ssl -X "ssl.ca.location=$C/ca.pem")

seq 1 20 | sed 's/^/tls-row-/' | kcat -P -b "$SSL_BOOT" -t secured "${SSLX[@]}" 2>"$T/kcat.err" ||
    fail "kcat over SSL could not produce: $(cat "$T/kcat.err")"
got="$(kcat -C -b "$SSL_BOOT" -t secured -e -q "${SSLX[@]}" 2>"$T/kcat.err")"
[ "$(echo "$got" | grep -c '^tls-row-')" = 20 ] ||
    fail "kcat over SSL consumed $(echo "$got" | grep -c '^tls-row-') of 20 records: $(cat "$T/kcat.err")"
pass "SSL: kcat trusting the test CA produced 20 records and consumed them"
grep -q "TLS: certificate $C/server.pem" "$T/b/broker.log" || fail "the broker did not log its TLS setup"

kcat -L -b "$SSL_BOOT" "${SSLX[@]}" >"$T/meta.ssl" 2>"$T/kcat.err" || fail "kcat -L over SSL: $(cat "$T/kcat.err")"
grep -q "broker 1 at 127.0.0.1:$SSL_PORT" "$T/meta.ssl" ||
    fail "Metadata over SSL does not advertise the SSL listener: $(head -4 "$T/meta.ssl")"
kcat -L -b "$BOOTSTRAP" >"$T/meta.plain" 2>"$T/kcat.err" || fail "kcat -L over PLAINTEXT: $(cat "$T/kcat.err")"
grep -q "broker 1 at 127.0.0.1:$PORT" "$T/meta.plain" ||
    fail "Metadata over PLAINTEXT does not advertise the PLAINTEXT listener: $(head -4 "$T/meta.plain")"
pass "each listener advertises its own address (SSL $SSL_PORT, PLAINTEXT $PORT)"
got="$(timeout 60 kcat -b "$SSL_BOOT" -G ssl-group secured -c 20 -q "${SSLX[@]}" -X auto.offset.reset=earliest \
    2>"$T/kcat.err" | grep -c '^tls-row-')"
[ "$got" = 20 ] || fail "a consumer group over SSL consumed $got of 20 records: $(tail -5 "$T/kcat.err")"
pass "a consumer group over SSL (the coordinator is named at the SSL address) consumed the 20 records"

# ---- 3. SASL_SSL -------------------------------------------------------------
sasl_ssl() { echo -X security.protocol=SASL_SSL -X "ssl.ca.location=$C/ca.pem" -X sasl.mechanisms=PLAIN \
    -X "sasl.username=$1" -X "sasl.password=$2"; }
# shellcheck disable=SC2046
seq 1 10 | kcat -P -b "127.0.0.1:$SASL_PORT" -t sasl-tls $(sasl_ssl alice Al1ce-ssl-2207) 2>"$T/kcat.err" ||
    fail "kcat over SASL_SSL could not produce: $(cat "$T/kcat.err")"
# shellcheck disable=SC2046
got="$(kcat -C -b "127.0.0.1:$SASL_PORT" -t sasl-tls -e -q $(sasl_ssl alice Al1ce-ssl-2207) 2>"$T/kcat.err" | wc -l)"
[ "$got" = 10 ] || fail "kcat over SASL_SSL consumed $got of 10 records: $(cat "$T/kcat.err")"
pass "SASL_SSL: alice with her password produced 10 records and consumed them"
# shellcheck disable=SC2046
if timeout 30 kcat -L -b "127.0.0.1:$SASL_PORT" -m 3 $(sasl_ssl alice wrong-pw-8814) >"$T/kcat.out" 2>"$T/kcat.err"; then
    fail "kcat over SASL_SSL with a wrong password read metadata"
fi
grep -q "Authentication failed" "$T/kcat.err" ||
    fail "SASL_SSL, wrong password: kcat shows no authentication failure: $(cat "$T/kcat.err")"
logged "$T/b/broker.log" "SASL/PLAIN authentication failed for user 'alice'" ||
    fail "the broker did not log the failed SASL_SSL authentication"
pass "SASL_SSL: a wrong password gets 'Authentication failed' (and a log line)"
if timeout 30 kcat -L -b "127.0.0.1:$SASL_PORT" -m 3 "${SSLX[@]}" >"$T/kcat.out" 2>"$T/kcat.err"; then
    fail "TLS without SASL read metadata from the SASL_SSL listener"
fi
logged "$T/b/broker.log" "before SASL authentication (SASL_SSL listener); closing" ||
    fail "the broker did not log the request made without SASL on its SASL_SSL listener"
pass "SASL_SSL: TLS alone is not enough (Metadata before SASL closes the connection, logged)"

# ---- 4. clients that do not speak our TLS -----------------------------------------
n_lines() { grep -c "$1" "$T/b/broker.log"; }
before="$(n_lines 'not a TLS client on SSL listener')"
if timeout 20 kcat -L -b "$SSL_BOOT" -m 2 >"$T/kcat.out" 2>"$T/kcat.err"; then
    fail "a plaintext kcat read metadata from the SSL listener"
fi
after="$(n_lines 'not a TLS client on SSL listener')"
[ "$after" -gt "$before" ] || fail "the broker did not log the plaintext client on its SSL port"
grep "not a TLS client" "$T/b/broker.log" | tail -1 |
    grep -q "closing connection from 127.0.0.1:[0-9]*: not a TLS client on SSL listener 127.0.0.1:$SSL_PORT (first byte 0x00; a PLAINTEXT client?)" ||
    fail "the plaintext client's log line does not name the peer and the reason: $(grep 'not a TLS' "$T/b/broker.log" | tail -1)"
pass "a plaintext client on the SSL port is closed: $(grep 'not a TLS' "$T/b/broker.log" | tail -1 | sed 's/.*\] //')"

if timeout 20 kcat -L -b "$SSL_BOOT" -m 2 -X security.protocol=ssl -X "ssl.ca.location=$C/other-ca.pem" \
    >"$T/kcat.out" 2>"$T/kcat.err"; then
    fail "a client trusting another CA read metadata"
fi
logged "$T/b/broker.log" "closing connection from 127.0.0.1:[0-9]*: TLS handshake failed: tlsv1 alert unknown ca" ||
    fail "the broker did not log the client's refusal of its certificate"
pass "a client that does not trust the certificate: 'TLS handshake failed: tlsv1 alert unknown ca' logged"

echo | timeout 10 openssl s_client -connect "$SSL_BOOT" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' \
    >"$T/s_client.out" 2>&1
logged "$T/b/broker.log" "TLS handshake failed: unsupported protocol" ||
    fail "a TLS 1.1 client was not refused: $(tail -5 "$T/s_client.out")"
pass "a TLS 1.1 client is refused ('unsupported protocol')"
echo | timeout 10 openssl s_client -connect "$SSL_BOOT" -CAfile "$C/ca.pem" -verify_return_error \
    >"$T/s_client.out" 2>&1 || fail "openssl s_client could not connect: $(tail -5 "$T/s_client.out")"
grep -Eq "Protocol *: TLSv1\.[23]|New, TLSv1\.[23]" "$T/s_client.out" ||
    fail "openssl s_client: no TLS 1.2/1.3 session: $(grep -i protocol "$T/s_client.out")"
pass "openssl s_client verifies the certificate against the test CA ($(grep -Eo 'TLSv1\.[23]' "$T/s_client.out" | head -1))"

broker_alive || fail "the broker died after the bad clients"
kcat -L -b "$BOOTSTRAP" -m 5 >/dev/null 2>"$T/kcat.err" || fail "PLAINTEXT listener after bad clients: $(cat "$T/kcat.err")"
got="$(kcat -C -b "$SSL_BOOT" -t secured -e -q "${SSLX[@]}" 2>"$T/kcat.err" | grep -c '^tls-row-')"
[ "$got" = 20 ] || fail "SSL after bad clients: consumed $got of 20 records: $(cat "$T/kcat.err")"
pass "the broker stays up: PLAINTEXT and SSL clients are still served"

# ---- 7. information: throughput over SSL and PLAINTEXT ------------------------------
N=200000
# 100-byte messages, 20 MB each way; CPU from every broker thread's schedstat (ns)
seq -f '%0100.0f' 1 "$N" >"$T/msgs"
cpu_ns() { cat /proc/"$BROKER_PID"/task/*/schedstat | awk '{ s += $1 } END { printf "%d", s }'; }
bench() # LABEL BOOTSTRAP TOPIC KCAT-ARGS...
{
    local label="$1" boot="$2" topic="$3" t0 t1 t2 c0 c1 c2 got
    shift 3
    c0="$(cpu_ns)"
    t0="$(date +%s%N)"
    kcat -P -b "$boot" -t "$topic" "$@" -X linger.ms=5 <"$T/msgs" 2>"$T/bench.err" ||
        fail "$label: kcat could not produce: $(cat "$T/bench.err")"
    t1="$(date +%s%N)"
    c1="$(cpu_ns)"
    got="$(kcat -C -b "$boot" -t "$topic" "$@" -e -q -o beginning 2>"$T/bench.err" | wc -l)"
    t2="$(date +%s%N)"
    c2="$(cpu_ns)"
    [ "$got" = "$N" ] || fail "$label: consumed $got of $N messages: $(cat "$T/bench.err")"
    log "$(printf '%-9s %d x 100 B: produce %5d ms (broker CPU %.3f us/msg), consume %5d ms (broker CPU %.3f us/msg)' \
        "$label" "$N" $(((t1 - t0) / 1000000)) "$(echo "($c1 - $c0) / 1000 / $N" | bc -l)" \
        $(((t2 - t1) / 1000000)) "$(echo "($c2 - $c1) / 1000 / $N" | bc -l)")"
}
if command -v bc >/dev/null; then
    log "information only, not asserted (2 shared cores: noisy):"
    bench PLAINTEXT "$BOOTSTRAP" bench-plain
    bench SSL "$SSL_BOOT" bench-ssl "${SSLX[@]}"
    pass "throughput printed above (information only)"
else
    log "bc is not installed: throughput figures skipped"
fi

# ---- 5. mutual TLS: ssl.client.auth=required --------------------------------------
stop_broker
start_broker "$T/b2" --set "listeners=PLAINTEXT://127.0.0.1:$PORT,SSL://127.0.0.1:$SSL_PORT" \
    "${TLS_KEYS[@]}" --set ssl.client.auth=required --set "ssl.ca.location=$C/ca.pem"
wait_for 10 port_open "$SSL_PORT" || fail "the broker does not listen on $SSL_PORT"
if timeout 20 kcat -L -b "$SSL_BOOT" -m 2 "${SSLX[@]}" >"$T/kcat.out" 2>"$T/kcat.err"; then
    fail "ssl.client.auth=required: a client without a certificate read metadata"
fi
logged "$T/b2/broker.log" "closing connection from 127.0.0.1:[0-9]*: TLS handshake failed: peer did not return a certificate" ||
    fail "ssl.client.auth=required: the refusal of a client without a certificate is not logged"
pass "ssl.client.auth=required: a client without a certificate is refused (logged)"
CLIENTX=(-X "ssl.certificate.location=$C/client.pem" -X "ssl.key.location=$C/client.key")
seq 1 5 | kcat -P -b "$SSL_BOOT" -t mtls "${SSLX[@]}" "${CLIENTX[@]}" 2>"$T/kcat.err" ||
    fail "mutual TLS: kcat with a client certificate could not produce: $(cat "$T/kcat.err")"
got="$(kcat -C -b "$SSL_BOOT" -t mtls -e -q "${SSLX[@]}" "${CLIENTX[@]}" 2>"$T/kcat.err" | wc -l)"
[ "$got" = 5 ] || fail "mutual TLS: consumed $got of 5: $(cat "$T/kcat.err")"
pass "ssl.client.auth=required: a client with a certificate from ssl.ca.location produces and consumes"
if timeout 20 kcat -L -b "$SSL_BOOT" -m 2 "${SSLX[@]}" -X "ssl.certificate.location=$C/stranger.pem" \
    -X "ssl.key.location=$C/stranger.key" >"$T/kcat.out" 2>"$T/kcat.err"; then
    fail "ssl.client.auth=required: a certificate from another CA was accepted"
fi
logged "$T/b2/broker.log" "TLS handshake failed: certificate verify failed" ||
    fail "the refusal of a certificate from another CA is not logged"
pass "ssl.client.auth=required: a certificate from another CA is refused ('certificate verify failed')"
kcat -L -b "$BOOTSTRAP" -m 5 >/dev/null 2>"$T/kcat.err" || fail "PLAINTEXT beside mutual TLS: $(cat "$T/kcat.err")"
stop_broker
pass "the broker stops cleanly"

# ssl.client.auth=requested: no certificate is fine, a bad one is not
start_broker "$T/b3" --set "listeners=PLAINTEXT://127.0.0.1:$PORT,SSL://127.0.0.1:$SSL_PORT" \
    "${TLS_KEYS[@]}" --set ssl.client.auth=requested --set "ssl.ca.location=$C/ca.pem"
wait_for 10 port_open "$SSL_PORT" || fail "the broker does not listen on $SSL_PORT"
kcat -L -b "$SSL_BOOT" -m 10 "${SSLX[@]}" >/dev/null 2>"$T/kcat.err" ||
    fail "ssl.client.auth=requested: a client without a certificate was refused: $(cat "$T/kcat.err")"
if timeout 20 kcat -L -b "$SSL_BOOT" -m 2 "${SSLX[@]}" -X "ssl.certificate.location=$C/stranger.pem" \
    -X "ssl.key.location=$C/stranger.key" >"$T/kcat.out" 2>"$T/kcat.err"; then
    fail "ssl.client.auth=requested: a certificate from another CA was accepted"
fi
stop_broker
pass "ssl.client.auth=requested: no certificate is accepted, one from another CA is refused"

# ---- 8. idle connections: connections.max.idle.ms -----------------------------------
start_broker "$T/b4" --set "listeners=PLAINTEXT://127.0.0.1:$PORT,SSL://127.0.0.1:$SSL_PORT,SASL_SSL://127.0.0.1:$SASL_PORT" \
    "${TLS_KEYS[@]}" --set "sasl.users.file=$T/users" --set connections.max.idle.ms=1000 \
    --set group.initial.rebalance.delay.ms=3000
for p in "$SSL_PORT" "$SASL_PORT"; do
    wait_for 10 port_open "$p" || fail "the broker does not listen on $p"
done
# Each raw connection must see EOF between 0.8 and 6 s after it went quiet;
# its local port and what the broker's line must say go to idle.expect.
PYTHONPATH="$(dirname "$0")" python3 - "$PORT" "$SSL_PORT" "$SASL_PORT" "$C/ca.pem" >"$T/idle.expect" <<'PY' || fail "idle connections (see above)"
import socket, ssl, struct, sys, time
from idle_conn import call, closed, frame
plain, tls_port, sasl_port = (int(a) for a in sys.argv[1:4])
ctx = ssl.create_default_context(cafile=sys.argv[4])

def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)

closed(connect(tls_port), "SSL listener, nothing sent", "SSL %d idle for [0-9]* ms before the TLS handshake (no byte sent)" % tls_port)
s = connect(tls_port)
s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01")  # a ClientHello's first 8 of 517 bytes
closed(s, "SSL listener, a partial ClientHello", "SSL %d idle for [0-9]* ms in the TLS handshake" % tls_port)
t = ctx.wrap_socket(connect(tls_port), server_hostname="localhost")
closed(t, "SSL listener, TLS handshake done, then nothing", "SSL %d idle for [0-9]* ms (connections" % tls_port)
t = ctx.wrap_socket(connect(sasl_port), server_hostname="localhost")
r = call(t, 17, 1, 1, struct.pack(">h", 5) + b"PLAIN")
assert struct.unpack(">h", r[:2])[0] == 0, "SaslHandshake: %r" % r
closed(t, "SASL_SSL listener, SaslHandshake, then nothing", "SASL_SSL %d idle for [0-9]* ms before SASL authentication" % sasl_port)
s = connect(plain)
s.sendall(frame(18, 0, 1)[:6])
closed(s, "PLAINTEXT listener, half a request frame", "PLAINTEXT %d idle for [0-9]* ms with 6 bytes of an unfinished request" % plain)
s = connect(plain)
t0 = time.monotonic()
for corr in range(10):  # one ApiVersions every 0.3 s: 3 s, never 1 s quiet
    time.sleep(0.3)
    call(s, 18, 0, corr)
answered = time.monotonic()
print("ok: a PLAINTEXT connection asking every 0.3 s is still open after %.1f s" % (answered - t0),
      file=sys.stderr)
closed(s, "PLAINTEXT listener, quiet after 10 requests", "PLAINTEXT %d idle for [0-9]* ms (connections" % plain, answered)
PY
while read -r lport listener port stage; do
    want="closing connection from 127.0.0.1:$lport on $listener listener 127.0.0.1:$port: $stage"
    n="$(grep -c "$want" "$T/b4/broker.log")"
    [ "$n" = 1 ] || fail "expected one line '$want' in the broker log, found $n"
done <"$T/idle.expect"
pass "each idle connection is closed with one line naming listener, peer and stage: $(grep 'idle for' "$T/b4/broker.log" | head -2 | tail -1 | sed 's/.*\] //')"

# busy connections are not cut: a long-poll Fetch, a JoinGroup held 3 s
echo first | kcat -P -b "$SSL_BOOT" -t idle-poll "${SSLX[@]}" 2>"$T/kcat.err" || fail "produce: $(cat "$T/kcat.err")"
timeout 40 kcat -C -b "$SSL_BOOT" -t idle-poll -o 1 -c 3 -q "${SSLX[@]}" -X fetch.wait.max.ms=10000 \
    >"$T/poll.out" 2>"$T/poll.err" &
POLL_PID=$!
track_pid "$POLL_PID"
sleep 3
seq 1 3 | sed 's/^/late-/' | kcat -P -b "$SSL_BOOT" -t idle-poll "${SSLX[@]}" 2>"$T/kcat.err" ||
    fail "produce: $(cat "$T/kcat.err")"
wait "$POLL_PID" || fail "kcat consuming with fetch.wait.max.ms=10000 failed: $(cat "$T/poll.err")"
[ "$(grep -c '^late-' "$T/poll.out")" = 3 ] || fail "the long-poll consumer got: $(cat "$T/poll.out") $(cat "$T/poll.err")"
grep -q Disconnected "$T/poll.err" && fail "the long-poll consumer was disconnected: $(cat "$T/poll.err")"
pass "kcat with fetch.wait.max.ms=10000 received 3 records produced 3 s later (its connection, waiting in Fetch, is not idle)"

idle_ssl() { grep -c "on SSL listener 127.0.0.1:$SSL_PORT: idle for" "$T/b4/broker.log"; }
before="$(idle_ssl)"
(sleep 3 && seq 1 5 | sed 's/^/after-idle-/') | kcat -E -P -b "$SSL_BOOT" -t idle-rt "${SSLX[@]}" 2>"$T/kcat.err" ||
    fail "a kcat producer quiet for 3 s could not produce: $(cat "$T/kcat.err")"
[ "$(idle_ssl)" -gt "$before" ] || fail "the quiet kcat producer's connection was not closed"
got="$(timeout 60 kcat -b "$SSL_BOOT" -G idle-group idle-rt -c 5 -q "${SSLX[@]}" -X auto.offset.reset=earliest \
    2>"$T/kcat.err" | grep -c '^after-idle-')"
[ "$got" = 5 ] || fail "a consumer group (first rebalance after 3 s) consumed $got of 5: $(tail -5 "$T/kcat.err")"
grep -q Disconnected "$T/kcat.err" && fail "the group consumer was disconnected: $(cat "$T/kcat.err")"
pass "a kcat producer quiet for 3 s is cut, reconnects and delivers; a group consumer whose JoinGroup waits 3 s consumes it"
broker_alive || fail "the broker died"
stop_broker

# ---- 9. the admin listener over https with basic authentication -------------------
printf '# who may scrape\nops:0ps-admin-5172\n' >"$T/admin-users"
start_broker "$T/b5" --set "listeners=PLAINTEXT://127.0.0.1:$PORT" \
    --set "admin.listeners=https://127.0.0.1:$ADMIN_PORT" "${ADMIN_TLS[@]}" \
    --set "admin.ssl.key.password=$KEYPW" --set admin.authentication.method=BASIC \
    --set "admin.authentication.users.file=$T/admin-users" \
    --set "admin.authentication.users=bob:B0b-admin-3390" --set admin.authentication.realm=sluice-admin
wait_for 10 port_open "$ADMIN_PORT" || fail "the broker does not listen on its admin port $ADMIN_PORT"
ADMIN="https://127.0.0.1:$ADMIN_PORT"
seq 1 7 | kcat -P -b "$BOOTSTRAP" -t scraped 2>"$T/kcat.err" || fail "produce: $(cat "$T/kcat.err")"
# admin GET PATH CURL-ARGS...: status, content type and headers to $T/admin.*
admin()
{
    local path="$1"
    shift
    curl -sS -m 10 -D "$T/admin.hdr" -o "$T/admin.body" -w '%{http_code} %{content_type}' "$@" \
        "$ADMIN$path" >"$T/admin.out" 2>"$T/admin.err"
}
admin /metrics --cacert "$C/ca.pem" -u ops:0ps-admin-5172 ||
    fail "curl over https with ops's password: $(cat "$T/admin.err")"
[ "$(cat "$T/admin.out")" = "200 text/plain; version=0.0.4; charset=utf-8" ] ||
    fail "GET /metrics with credentials: $(cat "$T/admin.out")"
grep -q '^# TYPE sluice_broker_messages_in_total counter$' "$T/admin.body" &&
    grep -q '^sluice_broker_messages_in_total 7$' "$T/admin.body" ||
    fail "/metrics does not count the 7 records produced: $(grep messages_in "$T/admin.body")"
pass "https /metrics, user from admin.authentication.users.file: 200, Prometheus text, sluice_broker_messages_in_total 7"
admin /health --cacert "$C/ca.pem" -u bob:B0b-admin-3390 || fail "curl /health: $(cat "$T/admin.err")"
[ "$(cat "$T/admin.out")" = "200 application/json" ] && [ "$(cat "$T/admin.body")" = '{"status":"UP","role":"broker"}' ] ||
    fail "GET /health as bob: $(cat "$T/admin.out") $(cat "$T/admin.body")"
pass "https /health, user from admin.authentication.users: $(cat "$T/admin.body")"
for who in "no credentials" "a wrong password"; do
    creds=()
    [ "$who" = "a wrong password" ] && creds=(-u ops:wrong-pw-8814)
    admin /metrics --cacert "$C/ca.pem" "${creds[@]}" || fail "curl, $who: $(cat "$T/admin.err")"
    [ "$(cat "$T/admin.out")" = "401 application/json" ] || fail "GET /metrics with $who: $(cat "$T/admin.out")"
    grep -qi '^WWW-Authenticate: Basic realm="sluice-admin"' "$T/admin.hdr" ||
        fail "the 401 ($who) has no WWW-Authenticate challenge: $(cat "$T/admin.hdr")"
    python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); assert d["error_code"] == 401 and "basic authentication" in d["message"], d' \
        "$T/admin.body" 2>>"$T/admin.err" || fail "the 401 body ($who): $(cat "$T/admin.body")"
    grep -q 'sluice_broker' "$T/admin.body" && fail "the 401 ($who) holds metrics"
    pass "$who: 401, WWW-Authenticate: Basic realm=\"sluice-admin\", $(cat "$T/admin.body")"
done
admin /nope --cacert "$C/ca.pem" -u ops:0ps-admin-5172 || fail "curl /nope: $(cat "$T/admin.err")"
[ "$(cat "$T/admin.out")" = "404 application/json" ] &&
    [ "$(cat "$T/admin.body")" = '{"error_code":404,"message":"no such path: /nope (try /metrics or /health)"}' ] ||
    fail "GET /nope: $(cat "$T/admin.out") $(cat "$T/admin.body")"
pass "an unknown path: 404 $(cat "$T/admin.body")"
code="$(curl -s -m 10 -o /dev/null -w '%{http_code}' -u ops:0ps-admin-5172 "http://127.0.0.1:$ADMIN_PORT/metrics")"
[ "$code" = 000 ] || fail "plain http to the https admin port got HTTP $code"
curl -sS -m 10 -o /dev/null -u ops:0ps-admin-5172 "$ADMIN/metrics" 2>"$T/admin.err" &&
    fail "a client that does not trust the test CA read /metrics"
grep -qi "certificate" "$T/admin.err" || fail "curl without the CA: $(cat "$T/admin.err")"
pass "plain http to the https port gets no HTTP answer; a client not trusting the CA refuses the certificate"
broker_alive || fail "the broker died"
kcat -L -b "$BOOTSTRAP" -m 5 >/dev/null 2>"$T/kcat.err" || fail "PLAINTEXT beside the https admin listener: $(cat "$T/kcat.err")"
stop_broker

# ---- 6. no password in the logs ---------------------------------------------------
for s in "${SECRETS[@]}"; do
    grep -qF -- "$s" "$T/b/broker.log" "$T/b2/broker.log" "$T/b3/broker.log" "$T/b4/broker.log" \
        "$T/b5/broker.log" && fail "a broker log holds the password '$s'"
done
pass "no password in the broker's logs"

finish
