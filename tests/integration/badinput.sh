#!/usr/bin/env bash
# badinput.sh - malformed requests must not hurt the broker. badinput (raw
# sockets, see badinput.c for each case and its expected outcome) sends
# truncated frames, absurd sizes, garbage, unknown APIs and versions, strings
# and arrays that run past their frame, and Produce v3 batches with bad CRC,
# wrong magic and lying lengths, next to one good batch. Afterwards the broker
# must still be running and serving as a user sees it:
#   - kcat -L answers and /health answers;
#   - partition 0 holds exactly seed, good batch, good batch again (the
#     rejected batches were not stored), readable with CRC checks on;
#   - the good batch is at the offset the Produce response gave;
#   - a normal kcat produce/consume round trip works.
. "$(dirname "$0")/lib.sh"
test_init badinput
start_broker "$T/b" --set num.partitions=1
B="$BOOTSTRAP"
KC=(kcat -b "$B" -X socket.timeout.ms=10000)
TOPIC=badinput

echo seed | "${KC[@]}" -P -t "$TOPIC" -p 0 2>"$T/seed.err" || { cat "$T/seed.err" >&2; fail "seed produce"; }
pass "seed message written (topic $TOPIC exists)"

"$BAD_TOOL" 127.0.0.1 "$BROKER_PORT" "$TOPIC" >"$T/bad.out" 2>&1
rc=$?
sed 's/^/    /' "$T/bad.out" >&2
broker_alive || fail "broker died under malformed input"
pass "broker survived malformed input"
if [ "$rc" = 0 ]; then
    pass "every malformed-input case answered as expected"
else
    soft_fail "badinput cases: $(grep -c '^FAIL' "$T/bad.out") failed (see above)"
fi

"${KC[@]}" -L >"$T/L" 2>&1 && grep -q "broker .* at 127.0.0.1:$BROKER_PORT" "$T/L" \
    || { cat "$T/L" >&2; fail "kcat -L after malformed input"; }
pass "kcat -L still answers"
if [ "${MOCK:-0}" != 1 ] && command -v curl >/dev/null; then
    if curl -fsS -m 5 "http://127.0.0.1:$ADMIN_PORT/health" >"$T/health" 2>&1; then
        pass "/health still answers"
    else
        soft_fail "/health on admin port $ADMIN_PORT: $(cat "$T/health")"
    fi
fi

good_offset="$(sed -n 's/^good_offset=\([-0-9]*\) .*/\1/p' "$T/bad.out")"
good_value="$(sed -n 's/^good_offset=[-0-9]* good_value=\(.*\)/\1/p' "$T/bad.out")"
if [ -n "$good_offset" ] && [ "$good_offset" -ge 0 ]; then
    "${KC[@]}" -C -t "$TOPIC" -p 0 -e -q -X check.crcs=true -f '%o|%k|%s\n' >"$T/p0" 2>"$T/p0.err" \
        || { cat "$T/p0.err" >&2; fail "read partition 0 with CRC checks"; }
    want="$(printf '0||seed\n%s|bk|%s\n%s|bk|%s' "$good_offset" "$good_value" \
        "$((good_offset + 1))" "$good_value")"
    if [ "$(cat "$T/p0")" = "$want" ]; then
        pass "partition 0 holds seed + the good batch twice, nothing rejected was stored"
    else
        printf 'want:\n%s\ngot:\n%s\n%s\n' "$want" "$(cat "$T/p0")" "$(cat "$T/p0.err")" >&2
        soft_fail "partition 0 content after malformed produces"
    fi
else
    soft_fail "the good Produce v3 batch was not accepted"
fi

echo "after-$$" | "${KC[@]}" -P -t roundtrip-after 2>/dev/null || fail "produce after malformed input"
got="$("${KC[@]}" -C -t roundtrip-after -e -q -f '%s\n' 2>/dev/null)"
[ "$got" = "after-$$" ] || fail "consume after malformed input gave '$got'"
pass "normal produce/consume round trip still works"
stop_broker
pass "broker stops on SIGTERM"
finish
