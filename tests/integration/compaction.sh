#!/usr/bin/env bash
# compaction.sh - a user's session with a compacted topic:
#
#   1. the broker runs with log.cleaner.backoff.ms=500; `sluice topics create`
#      makes topic "latest" with cleanup.policy=compact, segment.bytes=100000,
#      min.cleanable.dirty.ratio=0.01, delete.retention.ms=5000.
#   2. 200,000 updates over 1,000 keys go in, through kcat (uncompressed, lz4,
#      gzip) and `sluice produce` (zstd, snappy); in the middle, tombstones
#      for keys 900..999 (kcat -Z, empty value), after which only keys
#      0..899 are updated. A record's value names its own sequence number,
#      which is the offset it must be read back at.
#   3. while the cleaner works, a consumer from offset 0 (kcat -C -e) keeps
#      reading until the deleted keys are gone; then it checks what a user
#      would: offsets strictly increase and every record sits at its
#      original offset; every live key's newest value is there and is its
#      last occurrence; no deleted key is left; far fewer than 200,000
#      records remain.
#   4. after a restart the consumer reads exactly the same records.
. "$(dirname "$0")/lib.sh"

test_init compaction
start_broker "$T/b" --set log.cleaner.backoff.ms=500
B="$BOOTSTRAP"
TOPIC=latest
KC=(kcat -b "$B" -X socket.timeout.ms=10000)

"$SLUICE" topics create --topic "$TOPIC" --partitions 1 --bootstrap-server "$B" \
    --config cleanup.policy=compact --config segment.bytes=100000 \
    --config min.cleanable.dirty.ratio=0.01 --config delete.retention.ms=5000 \
    >"$T/create.out" 2>&1 || { cat "$T/create.out" >&2; fail "sluice topics create --config"; }
pass "created $TOPIC with cleanup.policy=compact"

# lines "k<key>:<seq>.<key>" for seq in [from, to), key = seq % nkeys
gen() { awk -v f="$1" -v t="$2" -v n="$3" 'BEGIN { for (s = f; s < t; s++) printf "k%d:%d.%d\n", s % n, s, s % n }'; }

# batches must fit in a segment (segment.bytes=100000), as with Kafka
produce_kcat() { "${KC[@]}" -X batch.size=50000 -P -t "$TOPIC" -p 0 -K: "$@"; }
produce_sluice() { "$SLUICE" produce -t "$TOPIC" -p 0 -K : -b "$B" -X batch.size=50000 "$@" >/dev/null; }

# a reader from offset 0 between the steps, while passes run: offsets ascend
read_ascending()
{
    "${KC[@]}" -C -t "$TOPIC" -p 0 -o beginning -e -q -f '%o\n' 2>/dev/null |
        awk 'NR > 1 && $1 <= p { bad = 1 } { p = $1 } END { exit bad }'
}
step() { sleep 0.7; read_ascending || fail "a reader during cleaning sees ascending offsets"; }

# phase A: 100,000 updates of keys 0..999 with every codec, passes in between
gen 0 30000 1000 | produce_kcat || fail "kcat -P (uncompressed)"
step
gen 30000 50000 1000 | produce_sluice -z zstd || fail "sluice produce -z zstd"
step
gen 50000 70000 1000 | produce_kcat -z lz4 || fail "kcat -P -z lz4"
step
gen 70000 85000 1000 | produce_kcat -z gzip || fail "kcat -P -z gzip"
step
gen 85000 100000 1000 | produce_sluice -z snappy || fail "sluice produce -z snappy"
# tombstones: offsets 100000..100099
awk 'BEGIN { for (k = 900; k < 1000; k++) printf "k%d:\n", k }' | produce_kcat -Z \
    || fail "kcat -P -Z (tombstones)"
# phase B: 99,900 updates of keys 0..899 (offsets 100100..199999)
awk 'BEGIN { for (s = 100100; s < 200000; s++) { k = (s - 100100) % 900; printf "k%d:%d.%d\n", k, s, k } }' \
    >"$T/phaseB"
head -n 50000 "$T/phaseB" | produce_kcat -z lz4 || fail "kcat -P phase B"
step
tail -n +50001 "$T/phaseB" | produce_sluice -z zstd || fail "sluice produce phase B"
pass "produced 200,000 updates (5 codecs) and 100 tombstones"

END="$("${KC[@]}" -C -t "$TOPIC" -p 0 -o -1 -e -q -f '%o\n' 2>/dev/null | tail -n 1)"
[ "$END" = 199999 ] || fail "last offset is 199999 (got '$END'): offsets are not the sequence numbers"

consume() { "${KC[@]}" -C -t "$TOPIC" -p 0 -o beginning -e -q -Z -f '%o %k %S %s\n' 2>"$T/c.err"; }

# expected newest seq per live key (keys 0..899 from phase B; none for 900..999)
awk 'BEGIN { for (s = 100100; s < 200000; s++) last[(s - 100100) % 900] = s;
             for (k = 0; k < 900; k++) print "k" k, last[k] }' >"$T/expect"

deleted_left() { awk '$2 ~ /^k9[0-9][0-9]$/' "$T/out" | wc -l; }
ok=0
for i in $(seq 1 90); do
    consume >"$T/out" || { cat "$T/c.err" >&2; fail "kcat -C from offset 0"; }
    n="$(wc -l <"$T/out")"
    d="$(deleted_left)"
    # what stays: 900 live keys plus the active segment, never cleaned (up to
    # 100,000 bytes of compressed batches: some 18,000 records)
    if [ "$d" -eq 0 ] && [ "$n" -lt 40000 ]; then
        ok=1
        break
    fi
    sleep 1
done
log "after ${i}s: $n records, $d of deleted keys"
[ "$ok" = 1 ] || fail "cleaning did not remove the deleted keys and the old values within 90 s ($n records, $d of deleted keys)"
pass "consumer from offset 0 sees $n records (of 200,100) and no deleted key"

# offsets strictly increase; each record is at its original offset
bad="$(awk '{ if (NR > 1 && $1 <= prev) { print "offset " $1 " after " prev; exit }
             prev = $1
             if ($3 == -1) { if ($1 < 100000 || $1 > 100099) { print "tombstone at " $1; exit } }
             else { split($4, a, "."); if (a[1] != $1 || "k" a[2] != $2) { print "record " $0; exit } } }' "$T/out")"
[ -z "$bad" ] || fail "records keep their offsets and ascend: $bad"
pass "offsets strictly increase and every record sits at its original offset"

# every live key: its newest value is there and is its last occurrence
bad="$(awk 'NR == FNR { want[$1] = $2; next }
            { last[$2] = $4 }
            END { for (k in want) { split(last[k], a, "."); if (a[1] != want[k]) { print k " last " last[k] " want " want[k]; exit } } }' \
        "$T/expect" "$T/out")"
[ -z "$bad" ] || fail "newest value of every live key is its last occurrence: $bad"
pass "all 900 live keys end with their newest value"

grep -q 'cleaned up to offset' "$T/b/broker.log" || fail "the broker log shows cleaning passes"
passes="$(grep -c 'cleaned up to offset' "$T/b/broker.log")"
pass "broker ran $passes cleaning passes"

# a restart reads back the same records
stop_broker
restart_broker
sleep 1
consume >"$T/out2" || { cat "$T/c.err" >&2; fail "kcat -C after restart"; }
# the cleaner may have run once more after the restart: compare the live view
awk '{ last[$2] = $4 } END { for (k in last) print k, last[k] }' "$T/out" | sort >"$T/view1"
awk '{ last[$2] = $4 } END { for (k in last) print k, last[k] }' "$T/out2" | sort >"$T/view2"
cmp -s "$T/view1" "$T/view2" || fail "after a restart every key reads the same newest value"
pass "after a restart every key reads the same newest value ($(wc -l <"$T/out2") records)"

finish
