#!/usr/bin/env bash
# kafkajs.sh - two client implementations in two groups on one topic:
#
#   1. kcat produces M keyed messages into a 3-partition topic.
#   2. at the same time a kafkajs consumer group (js-group) and a kcat -G
#      balanced consumer (kcat-group) read it: both must see every message,
#      each exactly once (values compared, not just counted).
#   3. kafkajs produces K more (acks=-1); kcat-group gets them too.
#   4. a new kafkajs process in js-group starts: it resumes from the offsets
#      the first one committed and gets exactly the K new messages, nothing
#      it had already read (it lingers 3 s to catch any extra one).
#   5. the broker restarts and a third kafkajs run in js-group gets nothing
#      but the M2 messages kcat adds after the restart.
#
# Needs node and node_modules/kafkajs (scripts/install-deps.sh); NODE_PATH
# points there (set by groups.cmake).
. "$(dirname "$0")/lib.sh"
test_init kafkajs
JS="$(dirname "$0")/kafkajs_group.js"
if ! command -v node >/dev/null || ! NODE_PATH="${NODE_PATH:-}" node -e 'require("kafkajs")' 2>/dev/null; then
    echo "kafkajs: node or kafkajs missing (scripts/install-deps.sh installs them); skipped"
    echo "kafkajs: 0 passed, 0 failed"
    exit 0
fi
M=2000
K=500
M2=300
TOPIC=js-topic
start_broker "$T/b" --set group.initial.rebalance.delay.ms=0 --set num.partitions=3
B="$BOOTSTRAP"
KC=(kcat -b "$B" -X socket.timeout.ms=10000)
"$SLUICE" topics create --topic "$TOPIC" --partitions 3 -b "$B" >/dev/null || fail "create $TOPIC"

js() { node "$JS" "$@" --brokers "$B" --topic "$TOPIC"; }

# 1 + 2: kcat produces while both groups read -------------------------------------
js consume --group js-group --count "$M" --out "$T/js1" >"$T/js1.out" 2>"$T/js1.err" &
JS1=$!
track_pid $JS1
"${KC[@]}" -G kcat-group -X auto.offset.reset=earliest -c $((M + K)) -q -f '%p %o %s\n' "$TOPIC" \
    >"$T/kc" 2>"$T/kc.err" &
KCG=$!
track_pid $KCG
sleep 2
seq 0 $((M - 1)) | awk '{ print "k" ($1 % 7) ":kcat-" $1 }' >"$T/in1"
"${KC[@]}" -P -t "$TOPIC" -K: -X acks=all -l "$T/in1" 2>"$T/p1.err" || fail "kcat -P: $(cat "$T/p1.err")"
wait $JS1 || { cat "$T/js1.err" >&2; fail "kafkajs consumer (see its error above)"; }
cut -d' ' -f3 "$T/js1" | sort >"$T/js1.vals"
diff <(cut -d: -f2 "$T/in1" | sort) "$T/js1.vals" >/dev/null \
    || fail "kafkajs group did not get exactly the $M kcat messages ($(wc -l <"$T/js1") lines)"
pass "kafkajs group js-group read all $M messages produced by kcat, once each"

# 3: kafkajs produces more ---------------------------------------------------------
js produce --count "$K" --from "$M" >"$T/jsp.out" 2>"$T/jsp.err" \
    || { cat "$T/jsp.err" >&2; fail "kafkajs producer"; }
pass "kafkajs produced $K messages with acks=-1"
for i in $(seq 1 150); do
    kill -0 $KCG 2>/dev/null || break
    sleep 0.2
done
kill -0 $KCG 2>/dev/null && fail "kcat -G got $(wc -l <"$T/kc") of $((M + K)) messages within 30 s"
wait $KCG || { cat "$T/kc.err" >&2; fail "kcat -G exited with an error"; }
{ cut -d: -f2 "$T/in1"; seq "$M" $((M + K - 1)) | sed 's/^/js-/'; } | sort >"$T/all.vals"
diff "$T/all.vals" <(cut -d' ' -f3 "$T/kc" | sort) >/dev/null \
    || fail "kcat -G group did not get exactly the $((M + K)) messages"
pass "kcat -G group kcat-group read all $((M + K)) messages (kcat's and kafkajs's), once each"

# 4: kafkajs resumes from its commits ------------------------------------------------
js consume --group js-group --count "$K" --linger 3000 --out "$T/js2" >"$T/js2.out" 2>"$T/js2.err" \
    || { cat "$T/js2.err" >&2; fail "second kafkajs consumer"; }
diff <(seq "$M" $((M + K - 1)) | sed 's/^/js-/' | sort) <(cut -d' ' -f3 "$T/js2" | sort) >/dev/null \
    || fail "restarted kafkajs consumer got $(wc -l <"$T/js2") messages, not exactly the $K new ones"
pass "a restarted kafkajs consumer resumed at its committed offsets: exactly the $K new messages"

# 5: across a broker restart ---------------------------------------------------------
stop_broker
restart_broker
seq 0 $((M2 - 1)) | awk '{ print "r" ($1 % 5) ":after-restart-" $1 }' >"$T/in3"
"${KC[@]}" -P -t "$TOPIC" -K: -X acks=all -l "$T/in3" 2>"$T/p3.err" || fail "kcat -P after restart"
js consume --group js-group --count "$M2" --linger 3000 --out "$T/js3" >"$T/js3.out" 2>"$T/js3.err" \
    || { cat "$T/js3.err" >&2; fail "third kafkajs consumer"; }
diff <(cut -d: -f2 "$T/in3" | sort) <(cut -d' ' -f3 "$T/js3" | sort) >/dev/null \
    || fail "after a broker restart kafkajs got $(wc -l <"$T/js3") messages, not exactly the $M2 new ones"
pass "after a broker restart kafkajs resumed: exactly the $M2 new messages"
"$SLUICE" groups describe --group js-group -b "$B" >"$T/desc" 2>&1
sed 's/^/    /' "$T/desc" >&2
awk -v t="$TOPIC" '$2 == t && $6 != 0 { bad = 1 } END { exit bad }' "$T/desc" || fail "js-group has lag"
stop_broker
finish
