#!/usr/bin/env bash
# rk_roundtrip.sh - librdkafka round trip through the sluice broker, once per
# compression codec: rk_roundtrip produces N keyed messages of ~100 bytes
# into a 4-partition topic with acks=all, reads every partition back with the
# legacy consumer and checks count, offsets 0..n-1 per partition without gaps,
# per-partition produce order, content and an order-independent checksum
# (see rk_roundtrip.c). One topic per codec, all on one broker.
#
# Budget: well under 5 minutes on 2 cores. 1,000,000 messages per codec by
# default; RT_N (uncompressed) and RT_N_CODEC (the codecs) change that. With
# the codecs the point is that compressed batches are stored and served
# intact, so fewer messages would do if the clients' CPU ever needs sparing.
# MOCK=1 uses small counts: the mock cluster drops old data.
. "$(dirname "$0")/lib.sh"
test_init rk_roundtrip

N_NONE="${RT_N:-1000000}"
N_CODEC="${RT_N_CODEC:-1000000}"
if [ "${MOCK:-0}" = 1 ]; then
    N_NONE=20000
    N_CODEC=20000
fi

start_broker "$T/b" --set num.partitions=4
for codec in none zstd lz4 gzip snappy; do
    n="$N_CODEC"
    [ "$codec" = none ] && n="$N_NONE"
    log "codec $codec: $n messages"
    if "$RK_TOOL" -b "$BOOTSTRAP" -t "rt-$codec" -n "$n" -p 4 -s 100 -z "$codec" \
        >"$T/rt-$codec.out" 2>"$T/rt-$codec.err"; then
        sed 's/^/    /' "$T/rt-$codec.out"
        pass "round trip of $n messages, codec $codec"
    else
        cat "$T/rt-$codec.out" "$T/rt-$codec.err" >&2
        soft_fail "round trip of $n messages, codec $codec"
    fi
    broker_alive || fail "broker died during codec $codec"
done
stop_broker
pass "broker stops on SIGTERM"
finish
