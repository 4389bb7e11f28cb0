#!/usr/bin/env bash
# broker_sasl.sh - the broker's SASL_PLAINTEXT listener with SASL/PLAIN
# (KIP-152: SaslHandshake, then SaslAuthenticate), users from a file:
#
#  1. kcat with security.protocol=SASL_PLAINTEXT and the right password
#     produces and consumes (a password holding ':' too);
#  2. a wrong password is refused: kcat reports the broker's "Authentication
#     failed", and on the wire SaslAuthenticate answers error 58
#     (SASL_AUTHENTICATION_FAILED), after which the connection is closed;
#  3. a client that does not authenticate gets no answer but ApiVersions:
#     its Metadata closes the connection;
#  4. a SASL_PLAINTEXT listener without sasl.users.file, or with a bad
#     line in it, stops the broker at start with a message naming the key;
#  5. no password in the broker's log;
#  6. connections.max.idle.ms=1000: a client that stops after SaslHandshake
#     and one that goes quiet once authenticated are closed after about a
#     second (one log line each, naming the listener, the peer and, for the
#     first, that it had not authenticated); a kcat producer quiet for 3 s
#     is cut, reconnects, authenticates again and delivers.
. "$(dirname "$0")/lib.sh"
test_init broker_sasl

printf '# SASL/PLAIN users\nalice:Al1ce-sasl-4410\nbob:b0b:sasl-7781\n' >"$T/users"
SECRETS=(Al1ce-sasl-4410 b0b:sasl-7781 wrong-pw-5521)

# ---- 4. refused configurations (before the real broker takes the port) ------
PORT="$(free_port)"
# refused_broker WANT ARGS...: lib.sh's refused, for a broker of its own
refused_broker() { refused broker "$1" --set "log.dirs=$T/refused" --set admin.listeners= "${@:2}"; }
refused_broker "listeners: 'SASL_PLAINTEXT://127.0.0.1:$PORT' needs sasl.users.file" \
    --set "listeners=SASL_PLAINTEXT://127.0.0.1:$PORT"
printf 'alice:x\nno colon here\n' >"$T/badusers"
refused_broker "sasl.users.file '$T/badusers' line 2: expected user:password" \
    --set "listeners=SASL_PLAINTEXT://127.0.0.1:$PORT" --set "sasl.users.file=$T/badusers"
refused_broker "listeners: 'SASL_SSL://127.0.0.1:$PORT' needs ssl.certificate.location" \
    --set "listeners=SASL_SSL://127.0.0.1:$PORT" --set "sasl.users.file=$T/users"

# ---- the broker -----------------------------------------------------------------
# start_broker adds a PLAINTEXT listener on BROKER_PORT: replace it by ours
BROKER_PORT="$PORT"
start_broker "$T/b" --set "listeners=SASL_PLAINTEXT://127.0.0.1:$PORT" \
    --set "sasl.users.file=$T/users"
grep -q "listening on 127.0.0.1:$PORT" "$T/b/broker.log" || fail "the broker does not listen on $PORT"

sasl() # USER PASSWORD: kcat's SASL options
{
    echo -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN \
        -X "sasl.username=$1" -X "sasl.password=$2"
}

# ---- 1. the right passwords ---------------------------------------------------
# shellcheck disable=SC2046
seq 1 20 | sed 's/^/row-/' | kcat -P -b "$BOOTSTRAP" -t secured $(sasl alice Al1ce-sasl-4410) 2>"$T/kcat.err" ||
    fail "kcat as alice could not produce: $(cat "$T/kcat.err")"
# shellcheck disable=SC2046
got="$(kcat -C -b "$BOOTSTRAP" -t secured -e -q $(sasl bob b0b:sasl-7781) 2>"$T/kcat.err" | wc -l)"
[ "$got" = 20 ] || fail "kcat as bob consumed $got of 20 records: $(cat "$T/kcat.err")"
pass "SASL/PLAIN: alice produced 20 records, bob (a ':' in his password) consumed them"

# ---- 2. a wrong password ----------------------------------------------------------
# shellcheck disable=SC2046
if timeout 30 kcat -L -b "$BOOTSTRAP" -m 3 $(sasl alice wrong-pw-5521) >"$T/kcat.out" 2>"$T/kcat.err"; then
    fail "kcat with a wrong password read metadata: $(cat "$T/kcat.out")"
fi
grep -q "SASL authentication error: Authentication failed: Invalid username or password" "$T/kcat.err" ||
    fail "kcat, wrong password: no SASL authentication error: $(cat "$T/kcat.err")"
pass "a wrong password: kcat reports 'SASL authentication error: Authentication failed'"
grep -q "SASL/PLAIN authentication failed for user 'alice'" "$T/b/broker.log" ||
    fail "the broker did not log the failed authentication of alice"
pass "the broker logs the failed authentication, naming the user"

# The wire, by hand: ApiVersions lists SaslHandshake (17) and SaslAuthenticate
# (36); a wrong password -> 58, then any request closes; a right one -> 0 and
# Metadata answers; Metadata before authenticating closes the connection.
python3 - "$PORT" <<'PY' || fail "raw SASL exchange (see above)"
import socket, struct, sys
port = int(sys.argv[1])

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s

def call(s, key, ver, body, corr=[0]):
    corr[0] += 1
    hdr = struct.pack(">hhih", key, ver, corr[0], 4) + b"test"
    msg = hdr + body
    s.sendall(struct.pack(">i", len(msg)) + msg)
    raw = b""
    while len(raw) < 4:
        chunk = s.recv(4 - len(raw))
        if not chunk:
            return None
        raw += chunk
    n = struct.unpack(">i", raw)[0]
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    assert struct.unpack(">i", data[:4])[0] == corr[0], "correlation id"
    return data[4:]

def string(s):
    return struct.pack(">h", len(s)) + s

def plain(user, pw):
    tok = b"\0" + user + b"\0" + pw
    return struct.pack(">i", len(tok)) + tok

s = conn()
r = call(s, 18, 0, b"")
ec, n = struct.unpack(">hi", r[:6])
keys = {struct.unpack(">hhh", r[6 + 6 * i:12 + 6 * i])[0]: struct.unpack(">hhh", r[6 + 6 * i:12 + 6 * i])[1:] for i in range(n)}
assert ec == 0 and keys.get(17) == (0, 1) and keys.get(36) == (0, 1), keys
r = call(s, 17, 1, string(b"SCRAM-SHA-256"))
assert struct.unpack(">h", r[:2])[0] == 33, "unsupported mechanism: %r" % r
r = call(s, 17, 1, string(b"PLAIN"))
ec, n = struct.unpack(">hi", r[:6])
assert ec == 0 and r[6:] == string(b"PLAIN"), r
r = call(s, 36, 1, plain(b"alice", b"wrong-pw-5521"))
ec, mlen = struct.unpack(">hh", r[:4])
msg = r[4:4 + mlen].decode()
assert ec == 58 and "Authentication failed" in msg, (ec, msg)
print("ok: SaslAuthenticate with a wrong password -> error 58 (SASL_AUTHENTICATION_FAILED): " + msg, file=sys.stderr)
assert call(s, 3, 1, struct.pack(">i", -1)) is None, "a request after a failed authentication was answered"
print("ok: a request after a failed authentication closes the connection", file=sys.stderr)

s = conn()
assert call(s, 3, 1, struct.pack(">i", -1)) is None, "Metadata before authentication was answered"
print("ok: Metadata before authentication closes the connection", file=sys.stderr)

s = conn()
r = call(s, 36, 1, plain(b"alice", b"Al1ce-sasl-4410"))
assert struct.unpack(">h", r[:2])[0] == 34, "SaslAuthenticate before SaslHandshake: %r" % r
assert struct.unpack(">h", call(s, 17, 1, string(b"PLAIN"))[:2])[0] == 0
r = call(s, 36, 1, plain(b"alice", b"Al1ce-sasl-4410"))
assert struct.unpack(">h", r[:2])[0] == 0, r
r = call(s, 3, 1, struct.pack(">i", -1))
assert r is not None and len(r) > 8, "Metadata after authentication"
print("ok: SaslAuthenticate before SaslHandshake -> 34; after it, the right password -> 0 and Metadata answers", file=sys.stderr)
PY
pass "raw SASL exchange: codes 33, 58, 34 and 0 where Kafka gives them"

# ---- 3. a client that does not authenticate --------------------------------------
if timeout 30 kcat -L -b "$BOOTSTRAP" -m 3 >"$T/kcat.out" 2>"$T/kcat.err"; then
    fail "kcat without SASL read metadata: $(cat "$T/kcat.out")"
fi
grep -q "before SASL authentication (SASL_PLAINTEXT listener); closing" "$T/b/broker.log" ||
    fail "the broker did not log the unauthenticated request"
pass "a client without SASL gets nothing but ApiVersions (logged)"

# ---- 6. idle connections: connections.max.idle.ms ---------------------------------
stop_broker
start_broker "$T/b2" --set "listeners=SASL_PLAINTEXT://127.0.0.1:$PORT" \
    --set "sasl.users.file=$T/users" --set connections.max.idle.ms=1000
# prints each connection's local port and the stage its log line must name
PYTHONPATH="$(dirname "$0")" python3 - "$PORT" >"$T/idle.expect" <<'PY' || fail "idle SASL connections (see above)"
import socket, struct, sys
from idle_conn import call, closed
port = int(sys.argv[1])

s = socket.create_connection(("127.0.0.1", port), timeout=10)
call(s, 18, 0, 1)
assert struct.unpack(">h", call(s, 17, 1, 2, struct.pack(">h", 5) + b"PLAIN")[:2])[0] == 0
closed(s, "SaslHandshake, then nothing", "before SASL authentication")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
call(s, 17, 1, 1, struct.pack(">h", 5) + b"PLAIN")
tok = b"\0alice\0Al1ce-sasl-4410"
assert struct.unpack(">h", call(s, 36, 1, 2, struct.pack(">i", len(tok)) + tok)[:2])[0] == 0
call(s, 3, 1, 3, struct.pack(">i", -1))
closed(s, "authenticated, Metadata, then nothing", "(connections.max.idle.ms=1000)")
PY
while read -r lport stage; do
    want="closing connection from 127.0.0.1:$lport on SASL_PLAINTEXT listener 127.0.0.1:$PORT: idle for [0-9]* ms $stage"
    n="$(grep -c "$want" "$T/b2/broker.log")"
    [ "$n" = 1 ] || fail "expected one line '$want' in the broker log, found $n"
done <"$T/idle.expect"
pass "idle SASL connections are closed, one line each: $(grep -m1 'idle for' "$T/b2/broker.log" | sed 's/.*\] //')"
# shellcheck disable=SC2046
(sleep 3 && seq 1 5 | sed 's/^/after-idle-/') | kcat -E -P -b "$BOOTSTRAP" -t idle-rt $(sasl alice Al1ce-sasl-4410) \
    2>"$T/kcat.err" || fail "a kcat producer quiet for 3 s could not produce: $(cat "$T/kcat.err")"
[ "$(grep -c 'SASL_PLAINTEXT listener.*: idle for' "$T/b2/broker.log")" -gt 2 ] ||
    fail "the quiet kcat producer's connection was not closed"
# shellcheck disable=SC2046
got="$(kcat -C -b "$BOOTSTRAP" -t idle-rt -e -q $(sasl bob b0b:sasl-7781) 2>"$T/kcat.err" | grep -c '^after-idle-')"
[ "$got" = 5 ] || fail "consumed $got of the 5 records produced after the idle close: $(cat "$T/kcat.err")"
pass "a kcat producer quiet for 3 s is cut, authenticates again on reconnecting and delivers"
stop_broker

# ---- 5. no password in the log ------------------------------------------------------
for s in "${SECRETS[@]}"; do
    grep -qF -- "$s" "$T/b/broker.log" "$T/b2/broker.log" && fail "a broker log holds the password '$s'"
done
pass "no password in the broker's log"

finish
