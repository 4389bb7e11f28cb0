#!/usr/bin/env bash
# registry.sh - the schema registry as a user meets it: a sluice broker, two
# `sluice registry` instances on it, curl against every endpoint and error
# code, Confluent's Node client (@kafkajs/confluent-schema-registry)
# registering, evolving, being refused and round-tripping the wire format,
# then a restart of both the registries and the broker after which every
# subject, version, id and config is found again (the registry keeps no state
# but the _schemas topic), and HTTP basic authentication.
#
#   SLUICE=build/sluice bash tests/integration/registry.sh
. "$(dirname "$0")/lib.sh"

test_init registry
CT='Content-Type: application/vnd.schemaregistry.v1+json'
REG_PIDS=()
REG_PORTS=()

# start_registry N [--set k=v ...]: registry N on its own port (kept across
# restarts), log in $T/registry-N.log; waits until GET / answers.
start_registry()
{
    local n="$1"
    shift
    [ -n "${REG_PORTS[$n]:-}" ] || REG_PORTS[$n]="$(free_port)"
    "$SLUICE" registry --set "listeners=http://127.0.0.1:${REG_PORTS[$n]}" \
        --set "kafkastore.bootstrap.servers=PLAINTEXT://$BOOTSTRAP" "$@" \
        2>>"$T/registry-$n.log" &
    REG_PIDS[$n]=$!
    track_pid "${REG_PIDS[$n]}"
    local i
    for i in $(seq 1 150); do
        if ! kill -0 "${REG_PIDS[$n]}" 2>/dev/null; then
            tail -n 20 "$T/registry-$n.log" >&2
            fail "registry $n exited during start-up"
        fi
        if port_open "${REG_PORTS[$n]}"; then
            log "registry $n pid ${REG_PIDS[$n]} on port ${REG_PORTS[$n]}"
            return 0
        fi
        sleep 0.2
    done
    fail "registry $n did not listen within 30 s"
}

# stop_registry N: SIGTERM; it must exit within 20 s (even with the broker down)
stop_registry()
{
    local n="$1" i
    kill -TERM "${REG_PIDS[$n]}" 2>/dev/null
    for i in $(seq 1 100); do
        if ! kill -0 "${REG_PIDS[$n]}" 2>/dev/null; then
            wait "${REG_PIDS[$n]}" 2>/dev/null
            pass "registry $n stopped on SIGTERM"
            return 0
        fi
        sleep 0.2
    done
    kill -9 "${REG_PIDS[$n]}" 2>/dev/null
    wait "${REG_PIDS[$n]}" 2>/dev/null
    soft_fail "registry $n did not exit within 20 s of SIGTERM"
}

# req N METHOD PATH [BODY] -> $STATUS and $BODY (curl against registry N)
req()
{
    local n="$1" m="$2" p="$3" out
    shift 3
    if [ $# -gt 0 ]; then
        out="$(curl -s -X "$m" -H "$CT" --data-binary "$1" -w '\n%{http_code}' \
            "http://127.0.0.1:${REG_PORTS[$n]}$p")"
    else
        out="$(curl -s -X "$m" -w '\n%{http_code}' "http://127.0.0.1:${REG_PORTS[$n]}$p")"
    fi
    STATUS="${out##*$'\n'}"
    BODY="${out%$'\n'*}"
}

# expect DESC STATUS EXPECTED-BODY-SUBSTRING METHOD PATH [BODY] (registry 1)
expect()
{
    local desc="$1" st="$2" want="$3"
    shift 3
    req 1 "$@"
    if [ "$STATUS" = "$st" ] && [[ "$BODY" == *"$want"* ]]; then
        pass "$desc"
    else
        soft_fail "$desc: $* -> HTTP $STATUS $BODY (wanted $st and '$want')"
    fi
}

# seen N PATH WANT: GET PATH on registry N answers 200 with WANT in the body
seen()
{
    req "$1" GET "$2"
    [ "$STATUS" = 200 ] && [[ "$BODY" == *"$3"* ]]
}

# a schema JSON string literal for request bodies
S_V1='"{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"app\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"name\",\"type\":\"string\"}]}"'
S_V1_SPACED='"{ \"namespace\" : \"app\", \"type\":\"record\", \"name\":\"User\", \"doc\":\"a user\", \"fields\":[ {\"name\":\"id\",\"type\":\"long\"}, {\"type\":\"string\",\"name\":\"name\"} ] }"'
S_V2='"{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"app\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null}]}"'
S_BAD='"{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"app\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null},{\"name\":\"age\",\"type\":\"int\"}]}"'
S_ENUM='"{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\",\"GREEN\"]}"'
S_ADDR='"{\"type\":\"record\",\"name\":\"Address\",\"namespace\":\"app\",\"fields\":[{\"name\":\"city\",\"type\":\"string\"}]}"'
S_CUST='"{\"type\":\"record\",\"name\":\"Customer\",\"namespace\":\"app\",\"fields\":[{\"name\":\"home\",\"type\":\"Address\"}]}"'

start_broker "$T/b"
start_registry 1
start_registry 2 --set kafkastore.timeout.ms=3000

# ---- basics -------------------------------------------------------------
expect "GET / answers {}" 200 '{}' GET /
expect "GET /schemas/types lists AVRO" 200 '["AVRO"]' GET /schemas/types
req 1 GET /
check "responses are application/vnd.schemaregistry.v1+json" \
    bash -c "curl -sI http://127.0.0.1:${REG_PORTS[1]}/ | grep -qi 'content-type: application/vnd.schemaregistry.v1+json'"
expect "GET /subjects is empty at first" 200 '[]' GET /subjects

# ---- register -----------------------------------------------------------
expect "register users-value v1 gets id 1" 200 '{"id":1}' POST /subjects/users-value/versions "{\"schema\":$S_V1}"
expect "the same schema again keeps id 1" 200 '{"id":1}' POST /subjects/users-value/versions "{\"schema\":$S_V1}"
expect "same canonical form (spacing, order, doc) keeps id 1" 200 '{"id":1}' POST /subjects/users-value/versions "{\"schema\":$S_V1_SPACED}"
expect "the same schema under another subject gets the same id" 200 '{"id":1}' POST /subjects/copy-value/versions "{\"schema\":$S_V1}"
expect "a compatible v2 (optional field) gets id 2" 200 '{"id":2}' POST /subjects/users-value/versions "{\"schema\":$S_V2}"
expect "an incompatible v3 is refused with 409 naming the field" 409 "/fields/3: reader field 'age' has no default" POST /subjects/users-value/versions "{\"schema\":$S_BAD}"
expect "an enum gets id 3" 200 '{"id":3}' POST /subjects/color/versions "{\"schema\":$S_ENUM}"
expect "?normalize=true stores the normalized form" 200 '{"id":' POST '/subjects/norm/versions?normalize=true' "{\"schema\":$S_V1_SPACED}"
expect "the normalized form is stored" 200 '"schema":"{\"name\":\"app.User\",\"type\":\"record\"' GET /subjects/norm/versions/1

# ---- reads --------------------------------------------------------------
expect "GET /subjects lists all" 200 '["color","copy-value","norm","users-value"]' GET /subjects
expect "GET /subjects?subjectPrefix=c filters" 200 '["color","copy-value"]' GET '/subjects?subjectPrefix=c'
expect "GET versions" 200 '[1,2]' GET /subjects/users-value/versions
expect "GET version 1" 200 '{"subject":"users-value","version":1,"id":1,"schema":"{\"type\":\"record\",\"name\":\"User\"' GET /subjects/users-value/versions/1
expect "GET latest is version 2" 200 '"version":2,"id":2' GET /subjects/users-value/versions/latest
expect "GET version -1 is latest" 200 '"version":2,"id":2' GET /subjects/users-value/versions/-1
expect "GET version's raw schema" 200 '{"type":"enum","name":"Color","symbols":["RED","GREEN"]}' GET /subjects/color/versions/1/schema
expect "GET /schemas/ids/1" 200 '{"schema":"{\"type\":\"record\",\"name\":\"User\"' GET /schemas/ids/1
expect "GET /schemas/ids/3/schema" 200 '{"type":"enum"' GET /schemas/ids/3/schema
expect "GET /schemas/ids/1/subjects" 200 '"copy-value"' GET /schemas/ids/1/subjects
expect "GET /schemas/ids/1/versions" 200 '{"subject":"users-value","version":1}' GET /schemas/ids/1/versions
expect "POST /subjects/{s} finds a registered schema" 200 '"subject":"users-value","version":1,"id":1' POST /subjects/users-value "{\"schema\":$S_V1}"
expect "POST /subjects/{s} with an unknown schema: 40403" 404 '"error_code":40403' POST /subjects/users-value "{\"schema\":$S_ENUM}"
expect "POST /subjects/{s} for an unknown subject: 40401" 404 '"error_code":40401' POST /subjects/nobody "{\"schema\":$S_V1}"

# ---- references ---------------------------------------------------------
expect "register a referenced schema" 200 '{"id":' POST /subjects/address/versions "{\"schema\":$S_ADDR}"
expect "a schema using a reference registers" 200 '{"id":' POST /subjects/customer/versions \
    "{\"schema\":$S_CUST,\"references\":[{\"name\":\"app.Address\",\"subject\":\"address\",\"version\":1}]}"
CUST_ID="$(echo "$BODY" | sed 's/[^0-9]//g')"
expect "without the reference it is an unknown type" 422 "unknown type name 'Address'" POST /subjects/customer2/versions "{\"schema\":$S_CUST}"
expect "referencedby lists the user of a schema" 200 "[$CUST_ID]" GET /subjects/address/versions/1/referencedby
expect "a referenced version cannot be deleted: 42206" 422 '"error_code":42206' DELETE /subjects/address/versions/1
expect "nor its subject: 42206" 422 '"error_code":42206' DELETE /subjects/address
expect "the referencing version shows its references" 200 '"references":[{"name":"app.Address","subject":"address","version":1}]' GET /subjects/customer/versions/1

# ---- compatibility ------------------------------------------------------
expect "compatibility with latest: compatible" 200 '{"is_compatible":true}' POST /compatibility/subjects/users-value/versions/latest "{\"schema\":$S_V2}"
expect "compatibility with latest: incompatible, verbose says why" 200 "reader field 'age' has no default" POST '/compatibility/subjects/users-value/versions/latest?verbose=true' "{\"schema\":$S_BAD}"
expect "compatibility against all versions" 200 '{"is_compatible":false}' POST /compatibility/subjects/users-value/versions "{\"schema\":$S_BAD}"
expect "compatibility with an unknown version: 40402" 404 '"error_code":40402' POST /compatibility/subjects/users-value/versions/9 "{\"schema\":$S_V2}"
expect "compatibility with an unknown subject: 40401" 404 '"error_code":40401' POST /compatibility/subjects/nobody/versions/1 "{\"schema\":$S_V2}"

# ---- config and mode ----------------------------------------------------
expect "GET /config is BACKWARD" 200 '{"compatibilityLevel":"BACKWARD"}' GET /config
expect "PUT /config/users-value FULL_TRANSITIVE" 200 '{"compatibility":"FULL_TRANSITIVE"}' PUT /config/users-value '{"compatibility":"FULL_TRANSITIVE"}'
expect "GET /config/users-value" 200 '{"compatibilityLevel":"FULL_TRANSITIVE"}' GET /config/users-value
expect "GET /config of a subject without one: 40408" 404 '"error_code":40408' GET /config/color
expect "?defaultToGlobal=true falls back to the global level" 200 '{"compatibilityLevel":"BACKWARD"}' GET '/config/color?defaultToGlobal=true'
expect "an invalid level: 42203" 422 '"error_code":42203' PUT /config '{"compatibility":"SIDEWAYS"}'
expect "PUT /config NONE" 200 '{"compatibility":"NONE"}' PUT /config '{"compatibility":"NONE"}'
expect "color under NONE accepts anything" 200 '{"id":' POST /subjects/color/versions "{\"schema\":\"\\\"string\\\"\"}"
expect "DELETE /config returns the old level" 200 '{"compatibilityLevel":"NONE"}' DELETE /config
expect "the global level is the default again" 200 '{"compatibilityLevel":"BACKWARD"}' GET /config
expect "PUT /config/color FORWARD" 200 '{"compatibility":"FORWARD"}' PUT /config/color '{"compatibility":"forward"}'
expect "DELETE /config/color" 200 '{"compatibilityLevel":"FORWARD"}' DELETE /config/color
expect "DELETE /config of an unknown subject: 40401" 404 '"error_code":40401' DELETE /config/nobody
expect "GET /mode is READWRITE" 200 '{"mode":"READWRITE"}' GET /mode
expect "PUT /mode/color READONLY" 200 '{"mode":"READONLY"}' PUT /mode/color '{"mode":"READONLY"}'
expect "GET /mode/color" 200 '{"mode":"READONLY"}' GET /mode/color
expect "a read-only subject refuses registration: 42205" 422 '"error_code":42205' POST /subjects/color/versions "{\"schema\":$S_V1}"
expect "an invalid mode: 42204" 422 '"error_code":42204' PUT /mode '{"mode":"SOMETIMES"}'
expect "GET /mode of a subject without one: 40409" 404 '"error_code":40409' GET /mode/users-value
expect "DELETE /mode/color" 200 '{"mode":"READONLY"}' DELETE /mode/color
expect "IMPORT mode with subjects present needs force: 42205" 422 '"error_code":42205' PUT /mode '{"mode":"IMPORT"}'

# ---- bad input ----------------------------------------------------------
expect "invalid JSON body: 400" 400 '"error_code":400' POST /subjects/bad/versions '{"schema": '
expect "schema text that is not JSON: 42201" 422 '"error_code":42201' POST /subjects/bad/versions '{"schema":"{nope"}'
expect "invalid Avro (record without fields): 42201" 422 'needs a \"fields\" array' POST /subjects/bad/versions '{"schema":"{\"type\":\"record\",\"name\":\"X\"}"}'
expect "unknown type name: 42201 naming it" 422 "/fields/0/type: unknown type name 'Strin'" POST /subjects/bad/versions '{"schema":"{\"type\":\"record\",\"name\":\"X\",\"fields\":[{\"name\":\"a\",\"type\":\"Strin\"}]}"}'
expect "a bad default: 42201" 422 'invalid default value' POST /subjects/bad/versions '{"schema":"{\"type\":\"record\",\"name\":\"X\",\"fields\":[{\"name\":\"a\",\"type\":\"int\",\"default\":\"x\"}]}"}'
expect "missing schema field: 42201" 422 '"error_code":42201' POST /subjects/bad/versions '{"schemaz":"x"}'
expect "unsupported schemaType: 42201" 422 '"error_code":42201' POST /subjects/bad/versions '{"schema":"{}","schemaType":"PROTOBUF"}'
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T/big"
STATUS="$(curl -s -o "$T/big.out" -w '%{http_code}' -X POST -H "$CT" --data-binary @"$T/big" \
    "http://127.0.0.1:${REG_PORTS[1]}/subjects/big/versions")"
check "a 10 MB body is refused with 413" [ "$STATUS" = 413 ]
STATUS="$(curl -s -o "$T/big.out" -w '%{http_code}' -X POST -H "$CT" -H 'Transfer-Encoding: chunked' \
    --data-binary @"$T/big" "http://127.0.0.1:${REG_PORTS[1]}/subjects/big/versions")"
check "a 10 MB chunked body is refused with 413" [ "$STATUS" = 413 ]
STATUS="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: text/plain' \
    --data-binary "{\"schema\":$S_V1}" "http://127.0.0.1:${REG_PORTS[1]}/subjects/users-value/versions")"
check "a text/plain body is refused with 415" [ "$STATUS" = 415 ]
expect "unknown subject: 40401" 404 '"error_code":40401' GET /subjects/nobody/versions
expect "unknown subject version: 40401" 404 '"error_code":40401' GET /subjects/nobody/versions/1
expect "unknown version: 40402" 404 '"error_code":40402' GET /subjects/users-value/versions/99
expect "non-numeric version: 42202" 422 '"error_code":42202' GET /subjects/users-value/versions/one
expect "version 0: 42202" 422 '"error_code":42202' GET /subjects/users-value/versions/0
expect "unknown schema id: 40403" 404 '"error_code":40403' GET /schemas/ids/9999
expect "non-numeric schema id: 404" 404 '"error_code":404' GET /schemas/ids/abc
expect "unknown route: 404" 404 '"error_code":404' GET /nothing/here
expect "wrong method: 405" 405 '"error_code":405' PUT /subjects

# ---- deletes ------------------------------------------------------------
expect "soft-delete version 1" 200 '1' DELETE /subjects/users-value/versions/1
expect "a soft-deleted version is hidden" 200 '[2]' GET /subjects/users-value/versions
expect "?deleted=true shows it" 200 '[1,2]' GET '/subjects/users-value/versions?deleted=true'
expect "GET the soft-deleted version: 40402" 404 '"error_code":40402' GET /subjects/users-value/versions/1
expect "GET it with ?deleted=true" 200 '"version":1,"id":1' GET '/subjects/users-value/versions/1?deleted=true'
expect "soft-delete it again: 40406" 404 '"error_code":40406' DELETE /subjects/users-value/versions/1
expect "permanent delete of a live version: 40407" 404 '"error_code":40407' DELETE '/subjects/users-value/versions/2?permanent=true'
expect "delete a bad version: 42202" 422 '"error_code":42202' DELETE /subjects/users-value/versions/x
expect "permanent delete of the soft-deleted version" 200 '1' DELETE '/subjects/users-value/versions/1?permanent=true'
expect "it is gone even with ?deleted=true" 200 '[2]' GET '/subjects/users-value/versions?deleted=true'
expect "permanent delete of a live subject: 40405" 404 '"error_code":40405' DELETE '/subjects/copy-value?permanent=true'
expect "soft-delete subject copy-value" 200 '[1]' DELETE /subjects/copy-value
expect "soft-delete it again: 40404" 404 '"error_code":40404' DELETE /subjects/copy-value
expect "a soft-deleted subject is not listed" 200 '["address","color","customer","norm","users-value"]' GET /subjects
expect "?deleted=true lists it" 200 '"copy-value"' GET '/subjects?deleted=true'
expect "permanent delete of the subject" 200 '[1]' DELETE '/subjects/copy-value?permanent=true'
expect "delete an unknown subject: 40401" 404 '"error_code":40401' DELETE /subjects/nobody
expect "id 1 stays readable (users-value v1 was deleted, ids are global)" 200 '"schema"' GET /schemas/ids/2

# ---- the _schemas topic holds Confluent's records -------------------------
kcat -C -b "$BOOTSTRAP" -t _schemas -e -q -f '%k\t%s\n' >"$T/topic.txt" 2>/dev/null
check "SCHEMA keys are Confluent's" grep -qF '{"keytype":"SCHEMA","subject":"users-value","version":2,"magic":1}' "$T/topic.txt"
check "SCHEMA values are Confluent's" grep -qF '{"subject":"users-value","version":2,"id":2,"schema":' "$T/topic.txt"
check "CONFIG records are Confluent's" grep -qF '{"keytype":"CONFIG","subject":"users-value","magic":0}	{"compatibilityLevel":"FULL_TRANSITIVE"}' "$T/topic.txt"

# ---- a second instance agrees -------------------------------------------
# Another instance sees a write once its reader's next fetch returns (~50 ms).
check "registry 2 sees the same subjects" \
    wait_for 5 seen 2 /subjects '["address","color","customer","norm","users-value"]'
req 2 POST /subjects/from-two/versions "{\"schema\":$S_ENUM}"
check "registry 2 registers the enum with its existing id 3" [ "$BODY" = '{"id":3}' ]
req 2 POST /subjects/from-two-b/versions '{"schema":"{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}"}'
TWO_ID="$(echo "$BODY" | sed 's/[^0-9]//g')"
check "registry 2 gives a new schema a new id" [ "$BODY" = "{\"id\":$TWO_ID}" ]
check "registry 1 sees what registry 2 wrote" wait_for 5 seen 1 /subjects/from-two-b/versions/1 "\"id\":$TWO_ID"
expect "registry 1 continues the id sequence" 200 "{\"id\":$((TWO_ID + 1))}" POST /subjects/from-one/versions '{"schema":"{\"type\":\"fixed\",\"name\":\"G\",\"size\":4}"}'

# ---- Confluent's Node client ---------------------------------------------
if REGISTRY="http://127.0.0.1:${REG_PORTS[1]}" node "$(dirname "$0")/registry_client.js" >"$T/node.out" 2>&1; then
    pass "@kafkajs/confluent-schema-registry: register, encode/decode, evolve, refuse ($(grep -c '^ok:' "$T/node.out") checks)"
else
    cat "$T/node.out" >&2
    soft_fail "@kafkajs/confluent-schema-registry session"
fi

# ---- sluice schemas (the command-line client) -------------------------------
export SLUICE_REGISTRY="http://127.0.0.1:${REG_PORTS[1]}"
printf '%s' '{"type":"record","name":"Cli","fields":[{"name":"a","type":"int"}]}' >"$T/cli1.avsc"
printf '%s' '{"type":"record","name":"Cli","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}' >"$T/cli2.avsc"
CLI_ID="$("$SLUICE" schemas register cli-value "$T/cli1.avsc")"
check "sluice schemas register prints the id" [ -n "$CLI_ID" ]
check "sluice schemas list shows the subject" bash -c '"$SLUICE" schemas list | grep -qx cli-value'
"$SLUICE" schemas get cli-value 1 >"$T/cli.get"
check "sluice schemas get shows the version" grep -q "\"id\": $CLI_ID" "$T/cli.get"
if "$SLUICE" schemas check cli-value "$T/cli2.avsc" >"$T/cli.out"; then
    soft_fail "sluice schemas check: an incompatible schema exits 0"
else
    check "sluice schemas check: incompatible, says why" grep -q "reader field 'b' has no default" "$T/cli.out"
fi
check "sluice schemas config sets a level" bash -c '[ "$("$SLUICE" schemas config cli-value FORWARD)" = FORWARD ]'
check "sluice schemas check: now compatible" "$SLUICE" schemas check cli-value "$T/cli2.avsc"
check "sluice schemas register under FORWARD" "$SLUICE" schemas register cli-value "$T/cli2.avsc"

# ---- restart everything; nothing is forgotten ---------------------------
snapshot()
{
    local p
    for p in /subjects '/subjects?deleted=true' /subjects/users-value/versions \
        /subjects/users-value/versions/latest /subjects/customer/versions/1 /schemas/ids/1 \
        /schemas/ids/3/subjects /config /config/users-value /subjects/kjs-orders-value/versions \
        /subjects/from-one/versions/1 '/subjects/norm/versions/1'; do
        req 1 GET "$p"
        echo "$p $STATUS $BODY"
    done
}
req 1 POST /subjects/before-restart/versions '{"schema":"{\"type\":\"fixed\",\"name\":\"I\",\"size\":4}"}'
LAST_ID="$(echo "$BODY" | sed 's/[^0-9]//g')"
snapshot >"$T/before"
stop_registry 1
stop_broker
req 2 GET /subjects/users-value/versions/latest
check "with the broker down, reads still answer from the view" [ "$STATUS" = 200 ]
req 2 POST /subjects/down/versions '{"schema":"{\"type\":\"fixed\",\"name\":\"Down\",\"size\":1}"}'
if [ "$STATUS" = 500 ] && [[ "$BODY" == *'"error_code":5000'* ]]; then
    pass "with the broker down, a write fails with a store error ($BODY)"
else
    soft_fail "write with the broker down: HTTP $STATUS $BODY"
fi
stop_registry 2
restart_broker
start_registry 1
snapshot >"$T/after"
if diff "$T/before" "$T/after" >&2; then
    pass "after restarting broker and registry every subject, version, id and config is back"
else
    soft_fail "state differs after restart"
fi
expect "ids continue after the restart, never reused" 200 "{\"id\":$((LAST_ID + 1))}" POST /subjects/after-restart/versions '{"schema":"{\"type\":\"fixed\",\"name\":\"H\",\"size\":4}"}'

# ---- basic authentication -------------------------------------------------
start_registry 3 --set authentication.method=BASIC --set 'authentication.users=alice:s3cret,bob:pw'
STATUS="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${REG_PORTS[3]}/subjects")"
check "BASIC: no credentials -> 401" [ "$STATUS" = 401 ]
STATUS="$(curl -s -o /dev/null -w '%{http_code}' -u alice:wrong "http://127.0.0.1:${REG_PORTS[3]}/subjects")"
check "BASIC: wrong password -> 401" [ "$STATUS" = 401 ]
STATUS="$(curl -s -o /dev/null -w '%{http_code}' -u alice:s3cret "http://127.0.0.1:${REG_PORTS[3]}/subjects")"
check "BASIC: alice -> 200" [ "$STATUS" = 200 ]
STATUS="$(curl -s -o /dev/null -w '%{http_code}' -u bob:pw "http://127.0.0.1:${REG_PORTS[3]}/subjects")"
check "BASIC: bob -> 200" [ "$STATUS" = 200 ]

finish
