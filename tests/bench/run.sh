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
#
# Environment: SLUICE, BENCH (the cmake `bench` target sets them; otherwise
# build/sluice and build/tests/bench/bench_broker, as `make bench` leaves
# them); BENCH_N100 (default 400000), BENCH_N1K (60000), BENCH_RATE (10000
# msgs/s), BENCH_SECS (5). Larger counts overflow what the mock retains
# (about 5 MB per partition), which bench_broker then warns about.
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SLUICE="${SLUICE:-$ROOT/build/sluice}"
BENCH="${BENCH:-$ROOT/build/tests/bench/bench_broker}"
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

row()
{
    local name="$1" kind="$2" filt="$3" key="$4" s m
    s="$(value sluice "$kind" "$filt" "$key")"
    m="$(value mock "$kind" "$filt" "$key")"
    printf '%-28s %14s %14s %10s\n' "$name" "${s:--}" "${m:--}" "$(ratio "$s" "$m")"
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
printf '%-28s %14s %14s %10s\n' "broker peak RSS (VmHWM)" \
    "$( [ -n "$HWM_KB" ] && awk -v k="$HWM_KB" 'BEGIN{printf "%.1f MiB", k/1024}' || echo -)" "(in-process)" "-"
if [ -n "${DISK_MBS:-}" ]; then
    printf '%-28s %14s\n' "produce 1 KiB MB/s / disk" \
        "$(ratio "$(value sluice produce size=1024 mb_per_s)" "$DISK_MBS")"
fi
echo
