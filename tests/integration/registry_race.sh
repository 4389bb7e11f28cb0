#!/usr/bin/env bash
# registry_race.sh - two `sluice registry` instances on one broker, both
# writing at once, must still agree on every id and every subject version.
# There is no leader: each instance appends to _schemas and the log order
# decides (store.h, first claim wins), so this is where the rule is tested.
#
#   1. a broker with an eager log cleaner; _schemas made beforehand with small
#      segments so that compaction actually runs over it (the registry finds
#      the topic and keeps its settings); global compatibility NONE.
#   2. 80 different schemas POSTed all at once with curl, even ones to
#      registry 1 and odd ones to registry 2: pairs (2k, 2k+1) go to the same
#      subject shared-(k mod 12) at the same moment (4 versions each), the
#      other 32 to subjects of their own. Each instance allocates ids and
#      versions from its own view, so without the rule two schemas get one
#      id, or one version two schemas.
#   3. every POST answers 200; the 80 ids are all different; on both
#      instances GET /schemas/ids/N gives back the schema that got N, the
#      subject lists it under that id, and the whole state (every subject,
#      version, id, schema; every id 1..max+5) is the same on both.
#   4. the cleaner compacts _schemas past the race; a third instance started
#      afterwards replays what is left and answers exactly as the others.
#
#   SLUICE=build/sluice bash tests/integration/registry_race.sh
. "$(dirname "$0")/lib.sh"

test_init registry_race
CT='Content-Type: application/vnd.schemaregistry.v1+json'
N=80
REG_PORTS=()

# start_registry N: registry N on a port of its own; waits until it listens.
start_registry()
{
    local n="$1" i pid
    REG_PORTS[$n]="$(free_port)"
    "$SLUICE" registry --set "listeners=http://127.0.0.1:${REG_PORTS[$n]}" \
        --set "kafkastore.bootstrap.servers=$BOOTSTRAP" 2>>"$T/registry-$n.log" &
    pid=$!
    track_pid "$pid"
    for i in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$T/registry-$n.log" >&2; fail "registry $n exited during start-up"; }
        port_open "${REG_PORTS[$n]}" && { log "registry $n on port ${REG_PORTS[$n]}"; return 0; }
        sleep 0.2
    done
    fail "registry $n did not listen within 30 s"
}

url() { echo "http://127.0.0.1:${REG_PORTS[$1]}$2"; }
get() { curl -s --max-time 20 "$(url "$1" "$2")"; }

schema_of() { printf '{"type":"record","name":"R%d","fields":[{"name":"f%d","type":"int"}]}' "$1" "$1"; }
subject_of() { if [ "$1" -lt 48 ]; then echo "shared-$(($1 / 2 % 12))"; else echo "solo-$1"; fi; }

# dump N MAXID: the instance's whole answer, one line per subject version
# ("v SUBJECT VERSION ID SCHEMA") and per id ("i ID SCHEMA-or-error-code").
dump()
{
    local n="$1" max="$2" s v id
    for s in $(get "$n" /subjects | jq -r '.[]' | sort); do
        for v in $(get "$n" "/subjects/$s/versions" | jq -r '.[]'); do
            get "$n" "/subjects/$s/versions/$v" | jq -r '"v \(.subject) \(.version) \(.id) \(.schema)"'
        done
    done
    for id in $(seq 1 "$max"); do
        get "$n" "/schemas/ids/$id" | jq -r --arg id "$id" '"i \($id) \(.schema // .error_code)"'
    done
}

start_broker "$T/b" --set log.cleaner.backoff.ms=500
"$SLUICE" topics create --topic _schemas --partitions 1 --bootstrap-server "$BOOTSTRAP" \
    --config cleanup.policy=compact --config segment.bytes=2048 \
    --config min.cleanable.dirty.ratio=0.01 --config delete.retention.ms=2000 \
    >"$T/create.out" 2>&1 || { cat "$T/create.out" >&2; fail "sluice topics create _schemas"; }
start_registry 1
start_registry 2
[ "$(curl -s -X PUT -H "$CT" --data-binary '{"compatibility":"NONE"}' "$(url 1 /config)")" = \
    '{"compatibility":"NONE"}' ] || fail "PUT /config NONE"

# 2. all POSTs at once: bodies and URLs first, then 80 curls started together
mkdir -p "$T/post"
for i in $(seq 0 $((N - 1))); do
    jq -cn --arg s "$(schema_of "$i")" '{schema: $s}' >"$T/post/$i.json"
    echo "$i $(url $((1 + i % 2)) "/subjects/$(subject_of "$i")/versions")"
done >"$T/post/list"
post() { curl -s --max-time 60 -o "$T/post/$1.body" -w '%{http_code}' -X POST -H "$CT" \
    --data-binary "@$T/post/$1.json" "$2" >"$T/post/$1.code"; }
export -f post
export T CT
xargs -P "$N" -L 1 bash -c 'post "$0" "$1"' <"$T/post/list"
wait_posts() { [ "$(find "$T/post" -name '*.code' -size +0 | wc -l)" -eq "$N" ]; }
wait_for 120 wait_posts || fail "all $N POSTs answered within 120 s"

# 3. answers, uniqueness, agreement
bad=0
: >"$T/ids"
for i in $(seq 0 $((N - 1))); do
    code="$(cat "$T/post/$i.code")"
    id="$(jq -r '.id // empty' "$T/post/$i.body" 2>/dev/null)"
    if [ "$code" != 200 ] || [ -z "$id" ]; then
        log "POST schema $i to $(subject_of "$i") on registry $((1 + i % 2)): $code $(cat "$T/post/$i.body")"
        bad=$((bad + 1))
        continue
    fi
    echo "$i $id" >>"$T/ids"
done
[ "$bad" = 0 ] && pass "all $N concurrent POSTs answered 200 with an id" ||
    soft_fail "$bad of $N concurrent POSTs failed"
dups="$(awk '{ print $2 }' "$T/ids" | sort -n | uniq -d | tr '\n' ' ')"
[ -z "$dups" ] && pass "$(wc -l <"$T/ids") different schemas got $(wc -l <"$T/ids") different ids" ||
    soft_fail "different schemas were given the same id: $dups"
MAXID=$(($(awk '$2 > m { m = $2 } END { print m + 0 }' "$T/ids") + 5))

dump 1 "$MAXID" >"$T/dump1"
dump 2 "$MAXID" >"$T/dump2"
if diff "$T/dump1" "$T/dump2" >"$T/diff12"; then
    pass "registries 1 and 2 give the same answer for every subject version and id 1..$MAXID"
else
    soft_fail "registries 1 and 2 disagree: $(head -n 6 "$T/diff12" | tr '\n' '|')"
fi

# every client's answer holds on both instances: the id names its schema,
# and its subject lists exactly that schema under exactly that id
for n in 1 2; do
    wrong=0
    while read -r i id; do
        s="$(schema_of "$i")"
        grep -qxF "i $id $s" "$T/dump$n" || { log "registry $n: id $id is not schema $i"; wrong=$((wrong + 1)); continue; }
        [ "$(awk -v s="$(subject_of "$i")" -v id="$id" -v sc="$s" \
            '$1 == "v" && $2 == s && $4 == id && $5 == sc' "$T/dump$n" | wc -l)" = 1 ] ||
            { log "registry $n: $(subject_of "$i") does not hold schema $i as id $id"; wrong=$((wrong + 1)); }
    done <"$T/ids"
    [ "$wrong" = 0 ] && pass "registry $n: every id returned names its schema, under its subject" ||
        soft_fail "registry $n: $wrong returned ids do not name their schema under their subject"
done
wrong=0
for k in $(seq 0 11); do
    vs="$(awk -v s="shared-$k" '$1 == "v" && $2 == s { print $3 }' "$T/dump1" | tr '\n' ' ')"
    [ "$vs" = "1 2 3 4 " ] || { log "shared-$k holds versions $vs"; wrong=$((wrong + 1)); }
done
[ "$wrong" = 0 ] && pass "each shared subject holds versions 1..4" ||
    soft_fail "$wrong shared subjects do not hold exactly versions 1..4"
log "conflicting records registry 1 ignored while reading: $(grep -c 'ignored: the' "$T/registry-1.log"),"\
    "registrations that lost at least once: $(cat "$T"/registry-[12].log | grep -c 'attempt(s) lost')"

# 4. compaction, then a third instance replays what is left
for j in $(seq 1 20); do # roll the race out of the active segment
    curl -s -o /dev/null -X PUT -H "$CT" --data-binary "{\"compatibility\":\"$([ $((j % 2)) = 0 ] && echo FULL || echo NONE)\"}" \
        "$(url 1 /config/filler)"
done
END="$(kcat -b "$BOOTSTRAP" -C -t _schemas -p 0 -o -1 -e -q -f '%o\n' 2>/dev/null | tail -n 1)"
cleaned_past() {
    grep -o 'partition _schemas-0: cleaned up to offset [0-9]*' "$T/b/broker.log" |
        awk -v e="$((END - 20))" '$NF >= e { ok = 1 } END { exit !ok }'
}
if wait_for 60 cleaned_past; then
    kept="$(kcat -b "$BOOTSTRAP" -C -t _schemas -p 0 -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l)"
    pass "the cleaner compacted _schemas past the race: $kept records left of $((END + 1))"
else
    soft_fail "the cleaner did not compact _schemas up to offset $((END - 20)) within 60 s"
fi
start_registry 3
dump 3 "$MAXID" >"$T/dump3"
dump 1 "$MAXID" >"$T/dump1b"
if diff "$T/dump1b" "$T/dump3" >"$T/diff13"; then
    pass "registry 3, started after compaction, answers as registry 1 for every subject version and id"
else
    soft_fail "registry 3 (after compaction) disagrees with registry 1: $(head -n 6 "$T/diff13" | tr '\n' '|')"
fi
cmp -s "$T/dump1" "$T/dump1b" || soft_fail "registry 1 changed its answers during compaction"
finish
