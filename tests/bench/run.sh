#!/usr/bin/env bash
# run.sh - the broker benchmark (make bench). Measures, in one run on this
# machine:
#   disk    fsynced sequential write bandwidth of the temp dir's disk right
#           now (dd, 1 MiB blocks, oflag=dsync): the ceiling for acks=all
#   sluice  bench_broker against build/sluice on a loopback port
#   mock    bench_broker against librdkafka's in-memory mock cluster, in the
#           bench process itself (no disk, no fsync: an upper baseline)
# and prints one table: msgs/s and MB/s both ways for 100 B and 1 KiB
# messages, p50/p99 produce latency at a fixed rate, the broker's peak RSS
# (VmHWM), and each sluice figure as a ratio of the mock's. Absolute numbers
# depend on the machine; compare ratios between commits. Never fails on time.
# Then bench_group, against a fresh broker (group.initial.rebalance.delay.ms=0)
# and the mock: end-to-end latency through a group consumer at BENCH_RATE on
# 6 partitions, and the time a group takes to go from 3 to 4 members (see
# bench_group.c; the mock's rebalance runs on fixed timers, so that ratio only
# shows how far from them sluice is). The issue's targets are printed beside.
#
# Environment: SLUICE, BENCH, BENCH_GROUP (the cmake `bench` target sets
# them; otherwise build/sluice, build/tests/bench/bench_broker and
# bench_group beside it, as `make bench` leaves them; without bench_group the
# group figures are skipped); BENCH_N100 (default 400000), BENCH_N1K (60000),
# BENCH_RATE (10000 msgs/s), BENCH_SECS (5). Larger counts overflow what the
# mock retains (about 5 MB per partition), which bench_broker then warns about.
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SLUICE="${SLUICE:-$ROOT/build/sluice}"
BENCH="${BENCH:-$ROOT/build/tests/bench/bench_broker}"
BENCH_GROUP="${BENCH_GROUP:-$(dirname "$BENCH")/bench_group}"
. "$ROOT/tests/integration/lib.sh"
test_init bench
[ -x "${BENCH:-}" ] || { echo "bench: BENCH must point at bench_broker" >&2; exit 1; }
ARGS=(-n "${BENCH_N100:-400000}" -N "${BENCH_N1K:-60000}" -r "${BENCH_RATE:-10000}"
      -d "${BENCH_SECS:-5}")

# disk: 64 MiB in 1 MiB blocks, each write synced
dd if=/dev/zero of="$T/dd.test" bs=1M count=64 oflag=dsync 2>"$T/dd.out" >/dev/null
# "67108864 bytes (67 MB, 64 MiB) copied, 0.52 s, 129 MB/s": bytes / seconds
DISK_MBS="$(awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") s = $(i - 1)
                           if (s > 0) printf "%.0f", $1 / s / 1e6 }' "$T/dd.out")"
rm -f "$T/dd.test"
log "disk fsynced sequential write: ${DISK_MBS:-unknown} MB/s"

start_broker "$T/b" --set num.partitions=16
"$BENCH" -b "$BOOTSTRAP" -l sluice "${ARGS[@]}" >"$T/sluice.out" 2>"$T/sluice.err" \
    || { log "bench against sluice reported an error:"; cat "$T/sluice.err" >&2; }
HWM_KB="$(awk '/^VmHWM/ {print $2}' "/proc/$BROKER_PID/status" 2>/dev/null)"
stop_broker
"$BENCH" -M -l mock "${ARGS[@]}" >"$T/mock.out" 2>"$T/mock.err" \
    || { log "bench against the mock reported an error:"; cat "$T/mock.err" >&2; }
grep -h 'pruned' "$T/mock.err" "$T/sluice.err" | head -n 3 >&2

# consumer groups: appended to the same .out files, read by the same row()
GARGS=(-r "${BENCH_RATE:-10000}" -d "${BENCH_SECS:-5}")
if [ -x "$BENCH_GROUP" ]; then
    start_broker "$T/g" --set group.initial.rebalance.delay.ms=0
    "$BENCH_GROUP" -b "$BOOTSTRAP" -l sluice "${GARGS[@]}" >>"$T/sluice.out" 2>"$T/gsluice.err" \
        || { log "bench_group against sluice reported an error:"; cat "$T/gsluice.err" >&2; }
    stop_broker
    "$BENCH_GROUP" -M -l mock "${GARGS[@]}" >>"$T/mock.out" 2>"$T/gmock.err" \
        || { log "bench_group against the mock reported an error:"; cat "$T/gmock.err" >&2; }
else
    log "no bench_group at $BENCH_GROUP: consumer-group figures skipped"
fi

# value LABEL KIND SIZE/RATE-FILTER KEY
value()
{
    awk -v kind="$2" -v filt="$3" -v key="$4" '
        $1 == "RESULT" && $3 == kind {
            ok = (filt == ""); for (i = 4; i <= NF; i++) if ($i == filt) ok = 1
            if (!ok) next
            for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] }
        }' "$T/$1.out"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

# row NAME KIND FILTER KEY [TARGET]: TARGET is printed after the ratio
row()
{
    local name="$1" kind="$2" filt="$3" key="$4" s m
    s="$(value sluice "$kind" "$filt" "$key")"
    m="$(value mock "$kind" "$filt" "$key")"
    printf '%-28s %14s %14s %10s%s\n' "$name" "${s:--}" "${m:--}" "$(ratio "$s" "$m")" \
        "${5:+   target $5}"
}

echo
echo "sluice broker benchmark, $(date -u +%FT%TZ), $(nproc) cores, acks=all"
echo "disk fsynced sequential write (dd 1 MiB oflag=dsync): ${DISK_MBS:-unknown} MB/s"
printf '%-28s %14s %14s %10s\n' "" "sluice" "mock" "sluice/mock"
row "produce 100 B  msgs/s" produce size=100 msgs_per_s
row "produce 100 B  MB/s" produce size=100 mb_per_s
row "consume 100 B  msgs/s" consume size=100 msgs_per_s
row "consume 100 B  MB/s" consume size=100 mb_per_s
row "produce 1 KiB  msgs/s" produce size=1024 msgs_per_s
row "produce 1 KiB  MB/s" produce size=1024 mb_per_s
row "consume 1 KiB  msgs/s" consume size=1024 msgs_per_s
row "consume 1 KiB  MB/s" consume size=1024 mb_per_s
rate="$(value sluice latency "" rate)"
row "latency p50 ms @${rate:-?}/s" latency "" p50_ms
row "latency p99 ms @${rate:-?}/s" latency "" p99_ms
row "latency max ms @${rate:-?}/s" latency "" max_ms
grate="$(value sluice group_latency "" rate)"
row "group e2e p50 ms @${grate:-?}/s" group_latency "" p50_ms
row "group e2e p99 ms @${grate:-?}/s" group_latency "" p99_ms "< 10"
row "group e2e max ms @${grate:-?}/s" group_latency "" max_ms
hb="$(value sluice rebalance "" heartbeat_ms)"
row "rebalance 3->4 ms (hb ${hb:-?})" rebalance "" ms "< 1000"
row "  after last revoke ms" rebalance "" after_revoke_ms
printf '%-28s %14s %14s %10s\n' "broker peak RSS (VmHWM)" \
    "$( [ -n "$HWM_KB" ] && awk -v k="$HWM_KB" 'BEGIN{printf "%.1f MiB", k/1024}' || echo -)" "(in-process)" "-"
if [ -n "${DISK_MBS:-}" ]; then
    printf '%-28s %14s\n' "produce 1 KiB MB/s / disk" \
        "$(ratio "$(value sluice produce size=1024 mb_per_s)" "$DISK_MBS")"
fi
echo

# The worker and connector benchmarks: each script prints its own table
# against the baseline it measures in the same run.
for b in bench_worker.sh bench_postgres.sh bench_s3.sh; do
    if [ -f "$ROOT/tests/bench/$b" ]; then
        echo "==== $b"
        SLUICE="$SLUICE" bash "$ROOT/tests/bench/$b" || log "$b reported an error"
        echo
    fi
done
