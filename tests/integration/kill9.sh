#!/usr/bin/env bash
# kill9.sh - acknowledged means durable: a producer writes with acks=all into
# a 2-partition topic and logs every acknowledgement (rk_killtest), the broker
# is killed with SIGKILL mid-stream, the producer is stopped, the broker is
# restarted on the same data directory, and rk_killtest --verify checks that
#   - every acknowledged (partition, offset) is there with the same seq,
#   - offsets run 0,1,2,... with no gap, seq increases along each partition.
# Three kill/restart cycles; each producer run numbers its messages from
# cycle * 1e9 so runs never reuse a seq and order holds across runs.
. "$(dirname "$0")/lib.sh"
test_init kill9
if [ "${MOCK:-0}" = 1 ]; then
    echo "kill9: the mock cluster keeps nothing across a restart; needs the real broker"
    echo "kill9: 0 passed, 0 failed"
    exit 0
fi

TOPIC=crash
CYCLES="${KILL_CYCLES:-3}"
RUN_SECS="${KILL_RUN_SECS:-3}"
# small segments so a kill can land near a segment roll as well
start_broker "$T/b" --set num.partitions=2 --set log.segment.bytes=1048576

for cycle in $(seq 1 "$CYCLES"); do
    ack="$T/acks.$cycle"
    : >"$ack"
    "$KILL_TOOL" -b "$BOOTSTRAP" -t "$TOPIC" -p 2 -o "$ack" -S "$((cycle * 1000000000))" \
        2>"$T/producer.$cycle.err" &
    PROD=$!
    track_pid "$PROD"
    # let acknowledgements flow, then kill the broker under load
    wait_for 20 test -s "$ack" || fail "cycle $cycle: no acknowledgement within 20 s"
    sleep "$RUN_SECS"
    kill -0 "$PROD" 2>/dev/null || fail "cycle $cycle: producer died early: $(cat "$T/producer.$cycle.err")"
    before="$(wc -l <"$ack")"
    kill9_broker
    sleep 0.5
    kill -TERM "$PROD"
    wait "$PROD"
    log "cycle $cycle: $(wc -l <"$ack") acks ($before when killed); $(tail -n 1 "$T/producer.$cycle.err")"
    restart_broker
    if "$KILL_TOOL" --verify -b "$BOOTSTRAP" -t "$TOPIC" "$T"/acks.* >"$T/verify.$cycle" 2>&1; then
        sed 's/^/    /' "$T/verify.$cycle" >&2
        pass "cycle $cycle: every acknowledged message survived kill -9"
    else
        cat "$T/verify.$cycle" >&2
        fail "cycle $cycle: acknowledged messages lost or damaged after kill -9"
    fi
done

# a clean stop and start must keep everything too
stop_broker
restart_broker
"$KILL_TOOL" --verify -b "$BOOTSTRAP" -t "$TOPIC" "$T"/acks.* >"$T/verify.final" 2>&1 \
    || { cat "$T/verify.final" >&2; fail "data intact after a clean restart"; }
pass "data intact after a clean restart"
stop_broker
finish
