#!/usr/bin/env bash
# idempotence.sh - an idempotent producer gets every message into the log
# exactly once even when acknowledgements are lost and the broker dies.
#
# A user's session, made hostile:
#   1. the broker advertises a proxy (faultproxy) as its address, so every
#      client connection goes through it; the proxy cuts both sockets in the
#      middle of every K-th response chunk, so produce requests that the
#      broker applied go unanswered and librdkafka retries them;
#   2. rk_idem writes N sequence-numbered messages (enable.idempotence=true,
#      acks=all) into a 3-partition topic through the proxy; part-way
#      through, the broker is killed with SIGKILL and restarted on the same
#      data (producer state must come back from the log);
#   3. with the proxy's faults switched off, rk_idem verify reads everything
#      back: per partition exactly the expected values, in order, no
#      duplicate, no gap;
#   4. the broker log shows that duplicates were in fact detected and
#      answered, and that no batch was refused as out of order, stale or
#      from an unknown producer; producer id blocks never repeat across
#      restarts.
. "$(dirname "$0")/lib.sh"
test_init idempotence
if [ "${MOCK:-0}" = 1 ]; then
    echo "idempotence: needs the real broker (kill -9 and restart)"
    echo "idempotence: 0 passed, 0 failed"
    exit 0
fi
for tool in "${IDEM_TOOL:-}" "${PROXY_TOOL:-}"; do
    [ -x "$tool" ] || { echo "idempotence: IDEM_TOOL and PROXY_TOOL must be set" >&2; exit 1; }
done

TOPIC=idem
N="${IDEM_MESSAGES:-200000}"
EVERY="${IDEM_CUT_EVERY:-20}"
PROXY_PORT="$(free_port)"
PROXY="127.0.0.1:$PROXY_PORT"
PROXY_PID=""

start_proxy()
{
    "$PROXY_TOOL" -l "$PROXY_PORT" -u "127.0.0.1:$BROKER_PORT" -k "$EVERY" -s 7 \
        2>>"$T/proxy.log" &
    PROXY_PID=$!
    track_pid "$PROXY_PID"
    wait_for 10 port_open "$PROXY_PORT" || fail "faultproxy did not listen on $PROXY_PORT"
    log "faultproxy pid $PROXY_PID on $PROXY, cutting every $EVERY-th response chunk"
}

# seconds a partition file takes to reach BYTES (the producer's progress)
log_bytes() { stat -c %s "$BROKER_DIR/data/$TOPIC-0/00000000000000000000.log" 2>/dev/null || echo 0; }
past_bytes() { [ "$(log_bytes)" -ge "$1" ]; }

start_broker "$T/b" --set num.partitions=3 --set "advertised.listeners=PLAINTEXT://$PROXY"
start_proxy

# ---- 1+2: produce through the proxy, kill -9 the broker part-way
"$IDEM_TOOL" produce -b "$PROXY" -t "$TOPIC" -n "$N" -p 3 >"$T/produce.out" 2>"$T/produce.err" &
PROD=$!
track_pid "$PROD"
# a third of partition 0 is ~ N/9 records of ~20 bytes in the log
if wait_for 120 past_bytes $((N * 20 / 9)); then
    log "partition 0 has $(log_bytes) bytes: kill -9 the broker"
    kill9_broker
    sleep 1
    restart_broker
    pass "broker killed with SIGKILL mid-stream and restarted"
else
    soft_fail "the producer made no progress within 120 s: $(tail -n 3 "$T/produce.err")"
fi
for i in $(seq 1 300); do
    kill -0 "$PROD" 2>/dev/null || break
    sleep 1
done
if kill -0 "$PROD" 2>/dev/null; then
    kill -TERM "$PROD"
    fail "producer still running after 300 s: $(tail -n 5 "$T/produce.err")"
fi
if wait "$PROD"; then
    pass "idempotent producer delivered all $N messages: $(cat "$T/produce.out")"
else
    cat "$T/produce.err" >&2
    fail "idempotent producer failed: $(tail -n 3 "$T/produce.err")"
fi

# ---- the faults really happened and were handled as duplicates
kill -USR1 "$PROXY_PID" # no more cuts
sleep 5.5 # let the proxy write its counters
cuts="$(grep -o '[0-9]* cut' "$T/proxy.log" | tail -n 1 | cut -d' ' -f1)"
[ "${cuts:-0}" -gt 0 ] && pass "faultproxy cut $cuts connections mid-response" \
    || soft_fail "faultproxy cut no connection ($(tail -n 1 "$T/proxy.log"))"
dups="$(grep -c 'a duplicate of offsets' "$BROKER_DIR/broker.log")"
[ "$dups" -gt 0 ] && pass "the broker answered $dups retried batches as duplicates" \
    || soft_fail "no duplicate was detected: the test did not exercise retries"
refused="$(grep -E 'rejected \(error (45|47|59)\)' "$BROKER_DIR/broker.log" | head -n 3)"
[ -z "$refused" ] && pass "no batch refused as out of order, stale epoch or unknown producer" \
    || soft_fail "batches refused: $refused"

# ---- 3: read everything back
if "$IDEM_TOOL" verify -b "$PROXY" -t "$TOPIC" -n "$N" -p 3 >"$T/verify.out" 2>&1; then
    sed 's/^/    /' "$T/verify.out" >&2
    pass "every message exactly once, in order, in every partition"
else
    cat "$T/verify.out" >&2
    fail "log contents wrong after idempotent produce"
fi

# ---- a clean restart keeps the data, a new producer gets a fresh id block
stop_broker
restart_broker
"$IDEM_TOOL" produce -b "$PROXY" -t idem2 -n 3000 -p 3 >"$T/produce2.out" 2>&1 \
    || fail "second producer after restart: $(tail -n 3 "$T/produce2.out")"
"$IDEM_TOOL" verify -b "$PROXY" -t idem2 -n 3000 -p 3 >"$T/verify2.out" 2>&1 \
    || { cat "$T/verify2.out" >&2; fail "second topic wrong"; }
"$IDEM_TOOL" verify -b "$PROXY" -t "$TOPIC" -n "$N" -p 3 >"$T/verify3.out" 2>&1 \
    || { cat "$T/verify3.out" >&2; fail "first topic changed by the restart"; }
pass "after a clean restart: old data intact, a new idempotent producer works"
blocks="$(grep -o 'reserved producer ids [0-9]*' "$BROKER_DIR/broker.log" | awk '{print $4}')"
nblocks="$(echo "$blocks" | grep -c .)"
if [ "$nblocks" -ge 2 ] && [ "$(echo "$blocks" | sort -n | uniq | wc -l)" -eq "$nblocks" ] &&
    [ "$(echo "$blocks" | sort -n | tr '\n' ' ')" = "$(echo "$blocks" | tr '\n' ' ')" ]; then
    pass "producer id blocks grow across restarts: $(echo "$blocks" | tr '\n' ' ')"
else
    soft_fail "producer id blocks repeat or shrink across restarts: $(echo "$blocks" | tr '\n' ' ')"
fi
stop_broker
finish
