#!/usr/bin/env bash
# groups.sh - a consumer group under churn, as a user runs one:
#
#   1. a producer writes N (300,000) keyed messages with acks=all into a
#      6-partition topic at RATE msgs/s, while three librdkafka consumers of
#      one group (rk_group consume: explicit synchronous commits of processed
#      offsets every 200 ms and on revoke) come and go: c1 and c2 start with
#      it, c3 joins late, c2 is killed with SIGKILL (the coordinator must
#      notice through the 6 s session timeout), c1 leaves cleanly (SIGTERM ->
#      rd_kafka_consumer_close -> LeaveGroup). c3 runs until it is idle.
#      rk_group check then proves: every message processed at least once; no
#      partition owned by two members in one generation; each owner resumed
#      from the committed offset; duplicates only in the killed member's
#      uncommitted tail.
#   2. sluice groups describe shows the group Empty with lag 0 everywhere and
#      committed offsets summing to N.
#   3. the broker restarts; 1,000 more messages; a new consumer of the group
#      gets exactly those 1,000 (offsets reloaded from __consumer_offsets).
#   4. sluice groups reset-offsets --to-earliest: a dry run changes nothing,
#      --execute does, and a consumer then re-reads all N + 1,000; a group with
#      members is refused. groups list / delete.
#
# GROUPS_N and GROUPS_RATE shrink the run by hand (defaults 300000 / 10000).
. "$(dirname "$0")/lib.sh"
test_init groups
[ -x "${GROUP_TOOL:-}" ] || fail "GROUP_TOOL is not set to the rk_group binary"

N="${GROUPS_N:-300000}"
RATE="${GROUPS_RATE:-10000}"
TOPIC=orders
GROUP=workers
start_broker "$T/b" --set group.initial.rebalance.delay.ms=0 --set auto.create.topics.enable=false
B="$BOOTSTRAP"
sg() { "$SLUICE" groups "$@" -b "$B"; } # sluice groups ACTION ... against our broker

# start_consumer NAME [rk_group options]: a group member logging to $T/NAME.log
start_consumer()
{
    local name="$1"
    shift
    "$GROUP_TOOL" consume -b "$B" -t "$TOPIC" -g "$GROUP" -o "$T/$name.log" -c "$name" "$@" \
        >"$T/$name.out" 2>"$T/$name.err" &
    track_pid $!
    eval "PID_$name=$!"
}

processed() { grep -c '^M' "$T/$1.log" 2>/dev/null || true; }

# 1. churn under load ---------------------------------------------------------
t0=$(date +%s)
"$GROUP_TOOL" produce -b "$B" -t "$TOPIC" -n "$N" -p 6 -r "$RATE" >"$T/produce.out" \
    2>"$T/produce.err" &
PROD=$!
track_pid $PROD
wait_for 20 bash -c "'$SLUICE' topics describe --topic $TOPIC -b $B 2>/dev/null | grep -q PartitionCount" \
    || fail "topic $TOPIC not created within 20 s: $(cat "$T/produce.err")"
start_consumer c1
start_consumer c2
wait_for 30 test -s "$T/c2.log" || fail "c2 got no assignment within 30 s"
sleep 5
start_consumer c3 -i 8
wait_for 30 grep -qs '^A' "$T/c3.log" || fail "c3 got no assignment within 30 s"
sleep 5
[ "$(processed c2)" -gt 0 ] || fail "c2 processed nothing before being killed"
kill -9 "$PID_c2"
kill_at=$(date +%s.%N)
log "killed c2 (pid $PID_c2) after $(processed c2) messages"
wait_for 30 grep -q "member c2-[^ ]* left: session timeout" "$T/b/broker.log" \
    || fail "the coordinator did not expire c2 within 30 s"
noticed=$(awk -v at="$kill_at" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - at }')
grep "member c2-" "$T/b/broker.log" | tail -n 1 | sed 's/^/    /' >&2
awk -v s="$noticed" 'BEGIN { exit !(s >= 5.5 && s <= 15) }' \
    || fail "c2 expired ${noticed} s after SIGKILL, expected about the 6 s session timeout"
pass "the coordinator noticed the killed member after ${noticed} s (session.timeout.ms=6000)"
wait_for 30 bash -c "grep '^A' '$T/c3.log' | tail -n 1 | awk 'NF > 2' | grep -q ." \
    || fail "c3 has no partitions after c2's expiry"
sleep 3
kill -TERM "$PID_c1"
wait "$PID_c1" || fail "c1 exited with status $? on SIGTERM: $(cat "$T/c1.err")"
grep -q "member c1-[^ ]* left: LeaveGroup" "$T/b/broker.log" || fail "c1 did not send LeaveGroup"
pass "c1 left cleanly: $(cat "$T/c1.out")"
wait "$PROD" || fail "producer failed: $(cat "$T/produce.err")"
log "$(cat "$T/produce.out")"
wait "$PID_c3" || fail "c3 exited with status $?: $(cat "$T/c3.err")"
log "$(cat "$T/c3.out")"
if "$GROUP_TOOL" check -n "$N" "$T/c1.log" "killed:$T/c2.log" "$T/c3.log" >"$T/check1" 2>&1; then
    sed 's/^/    /' "$T/check1" >&2
    pass "$N messages, 3 members (late join, SIGKILL, clean leave): all processed," \
        "no concurrent owners, duplicates only from the killed member's tail"
else
    cat "$T/check1" >&2
    fail "consumer group guarantees broken (see above)"
fi
log "phase 1 took $(($(date +%s) - t0)) s"

# 2. describe: lag 0 ------------------------------------------------------------
sg describe --group "$GROUP" >"$T/describe1" 2>&1 || { cat "$T/describe1" >&2; fail "groups describe"; }
sed 's/^/    /' "$T/describe1" >&2
grep -q "has no active members" "$T/describe1" || fail "describe should say the group has no members"
rows=$(awk -v t="$TOPIC" '$2 == t' "$T/describe1")
[ "$(wc -l <<<"$rows")" = 6 ] || fail "describe shows 6 partitions of $TOPIC"
awk '$6 != 0 { bad = 1 } END { exit bad }' <<<"$rows" || fail "lag is not 0 on every partition"
sum=$(awk '{ s += $4 } END { print s }' <<<"$rows")
[ "$sum" = "$N" ] || fail "committed offsets sum to $sum, expected $N"
pass "groups describe: 6 partitions, lag 0, committed offsets sum to $sum"

# 3. restart: resume from the committed offsets ---------------------------------
stop_broker
restart_broker
grep -q "loaded [1-9][0-9]* group(s)" "$T/b/broker.log" || fail "broker did not reload any group"
"$GROUP_TOOL" produce -b "$B" -t "$TOPIC" -n 1000 -S "$N" >"$T/produce2.out" 2>&1 \
    || fail "produce 1000 more: $(cat "$T/produce2.out")"
start_consumer c4 -i 4
wait "$PID_c4" || fail "c4 exited with status $?: $(cat "$T/c4.err")"
# c4 alone: exactly the 1000 new ones; with the earlier logs: every partition
# started exactly at the offset committed before the restart
if "$GROUP_TOOL" check -x -R -S "$N" -n 1000 "$T/c4.log" >"$T/check2" 2>&1 &&
    "$GROUP_TOOL" check -n $((N + 1000)) "$T/c1.log" "killed:$T/c2.log" "$T/c3.log" \
        "$T/c4.log" >"$T/check2b" 2>&1; then
    sed 's/^/    /' "$T/check2" >&2
    pass "after a broker restart the group resumed at its committed offsets:" \
        "exactly the 1000 new messages, once each"
else
    cat "$T/check2" "$T/check2b" >&2
    fail "after restart the group did not resume from its committed offsets"
fi

# 4. reset-offsets ------------------------------------------------------------------
TOTAL=$((N + 1000))
sg reset-offsets --group "$GROUP" --topic "$TOPIC" --to-earliest >"$T/dry" 2>&1 \
    || { cat "$T/dry" >&2; fail "reset-offsets dry run"; }
[ "$(grep -c "^$GROUP  *$TOPIC  *[0-9]  *0$" "$T/dry")" = 6 ] || { cat "$T/dry" >&2; fail "dry run plans offset 0 on 6 partitions"; }
sg describe --group "$GROUP" >"$T/describe2" 2>&1
sum=$(awk -v t="$TOPIC" '$2 == t { s += $4 } END { print s }' "$T/describe2")
[ "$sum" = "$TOTAL" ] || { cat "$T/describe2" >&2; fail "a dry run changed the offsets (sum $sum)"; }
pass "reset-offsets without --execute is a dry run"

start_consumer busy
wait_for 30 grep -qs '^A' "$T/busy.log" || fail "busy consumer got no assignment"
if sg reset-offsets --group "$GROUP" --topic "$TOPIC" --to-earliest --execute >"$T/refused" 2>&1; then
    fail "reset-offsets --execute accepted while the group has a member"
fi
grep -q "active member" "$T/refused" || { cat "$T/refused" >&2; fail "refusal should say why"; }
sg delete --group "$GROUP" >"$T/del1" 2>&1 && fail "delete accepted a group with a member"
pass "reset-offsets and delete refuse a group with members: $(head -n 1 "$T/refused")"
kill -TERM "$PID_busy"
wait "$PID_busy"

sg reset-offsets --group "$GROUP" --topic "$TOPIC" --to-earliest --execute >"$T/exec" 2>&1 \
    || { cat "$T/exec" >&2; fail "reset-offsets --execute"; }
sg describe --group "$GROUP" >"$T/describe3" 2>&1
lag=$(awk -v t="$TOPIC" '$2 == t { s += $6; c += $4 } END { print c " " s }' "$T/describe3")
[ "$lag" = "0 $TOTAL" ] || { cat "$T/describe3" >&2; fail "after reset: committed sum 0, lag $TOTAL expected, got '$lag'"; }
pass "reset-offsets --to-earliest --execute: committed 0, lag $TOTAL"
start_consumer c5 -i 5
wait "$PID_c5" || fail "c5 exited with status $?: $(cat "$T/c5.err")"
if "$GROUP_TOOL" check -x -R -n "$TOTAL" "$T/c5.log" >"$T/check3" 2>&1; then
    sed 's/^/    /' "$T/check3" >&2
    pass "after the reset a consumer re-read all $TOTAL messages, once each"
else
    cat "$T/check3" >&2
    fail "re-read after reset-offsets"
fi

# list and delete --------------------------------------------------------------------
sg list >"$T/list1" 2>&1 || fail "groups list: $(cat "$T/list1")"
grep -qx "$GROUP" "$T/list1" || { cat "$T/list1" >&2; fail "groups list shows $GROUP"; }
sg delete --group "$GROUP" >"$T/del2" 2>&1 || { cat "$T/del2" >&2; fail "groups delete"; }
sg list >"$T/list2" 2>&1
grep -qx "$GROUP" "$T/list2" && fail "deleted group still listed"
stop_broker
restart_broker
sg list >"$T/list3" 2>&1
grep -qx "$GROUP" "$T/list3" && fail "deleted group came back after a restart"
pass "groups list shows the group; delete removes it, also across a restart"

stop_broker
finish
