# lib.sh - shared helpers for the broker integration scripts. Source it:
#
#   . "$(dirname "$0")/lib.sh"
#   test_init kcat_roundtrip        # temp dir, trap, counters
#   start_broker "$T/b" --set num.partitions=3
#   check "kcat lists the broker" kcat -L -b "$BOOTSTRAP"
#   finish                          # prints "kcat_roundtrip: N passed, M failed"
#
# Environment (set by tests/integration/CMakeLists.txt, or by hand):
#   SLUICE     the sluice binary (required unless MOCK=1)
#   RK_TOOL    rk_roundtrip; with MOCK=1 start_broker runs its in-memory mock
#              cluster (librdkafka rdkafka_mock) instead of sluice, so scripts
#              can be developed before the broker exists. The mock forgets
#              everything on restart: kill9.sh refuses MOCK=1.
#   KEEP=1     keep the temporary directory (its path is printed)
#
# Design: every process a script starts is registered with track_pid, and the
# EXIT trap kills each of them by its own pid (never by name) and removes the
# temp dir. The broker's port is chosen once per script and kept across
# restarts, so clients see the same bootstrap address before and after a
# crash. fail prints the tail of the broker log: that is the first thing
# anyone debugging a red test wants to see.

set -u

T=""              # the script's temporary directory
TEST_NAME=""
PASSED=0
FAILED=0
PIDS=()           # every background process started by the script
BROKER_PID=""
BROKER_DIR=""
BROKER_ARGS=()
BROKER_PORT=""
ADMIN_PORT=""
BOOTSTRAP=""

log() { printf '[%s] %s\n' "$TEST_NAME" "$*" >&2; }

track_pid() { PIDS+=("$1"); }

cleanup()
{
    local pid
    for pid in "${PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    if [ -n "$T" ] && [ -d "$T" ]; then
        if [ "${KEEP:-0}" = 1 ]; then
            log "kept $T"
        else
            rm -rf "$T"
        fi
    fi
}

# test_init NAME: create the temp dir and install the cleanup trap.
test_init()
{
    TEST_NAME="$1"
    T="$(mktemp -d "${TMPDIR:-/tmp}/sluice-$1.XXXXXX")" || exit 1
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    if [ "${MOCK:-0}" != 1 ] && [ ! -x "${SLUICE:-}" ]; then
        echo "$TEST_NAME: SLUICE is not set to an executable sluice binary" >&2
        exit 1
    fi
}

# free_port: print a loopback TCP port nobody listens on (best effort: the
# port could be taken between this check and its use; the range is wide).
# The port is drawn from outside the kernel's ephemeral range: a port a test
# keeps for later (a server that starts late) could otherwise be taken as the
# source port of some outgoing connection, or be connected to itself by a
# client retrying it, and the server could then not listen there.
free_port()
{
    local p i lo=32768 hi=60999
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    for i in $(seq 1 200); do
        p=$((10000 + RANDOM % 55000))
        [ "$p" -ge "$lo" ] && [ "$p" -le "$hi" ] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# port_open PORT: true if something accepts TCP connections on it.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

broker_log_tail()
{
    if [ -n "$BROKER_DIR" ] && [ -f "$BROKER_DIR/broker.log" ]; then
        echo "---- last 40 lines of $BROKER_DIR/broker.log ----" >&2
        tail -n 40 "$BROKER_DIR/broker.log" >&2
        echo "----" >&2
    fi
}

# start_broker DIR [--set k=v ...]: start the broker with data in DIR/data and
# its stderr in DIR/broker.log (appended to across restarts). Waits up to 20 s
# for the Kafka port; fails the script if the broker exits or never listens.
# Sets BROKER_PID, BROKER_PORT, ADMIN_PORT, BOOTSTRAP. Extra arguments are
# remembered so restart_broker repeats them.
start_broker()
{
    BROKER_DIR="$1"
    shift
    BROKER_ARGS=("$@")
    mkdir -p "$BROKER_DIR/data"
    [ -n "$BROKER_PORT" ] || BROKER_PORT="$(free_port)"
    [ -n "$ADMIN_PORT" ] || ADMIN_PORT="$(free_port)"
    if [ "${MOCK:-0}" = 1 ]; then
        start_mock
        return
    fi
    echo "==== start $(date +%T.%N) port $BROKER_PORT" >>"$BROKER_DIR/broker.log"
    "$SLUICE" broker --set "listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT" \
        --set "log.dirs=$BROKER_DIR/data" \
        --set "admin.listeners=http://127.0.0.1:$ADMIN_PORT" \
        "${BROKER_ARGS[@]}" 2>>"$BROKER_DIR/broker.log" >/dev/null &
    BROKER_PID=$!
    track_pid "$BROKER_PID"
    BOOTSTRAP="127.0.0.1:$BROKER_PORT"
    local i
    for i in $(seq 1 200); do
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            wait "$BROKER_PID"
            local rc=$?
            BROKER_PID=""
            fail "broker exited with status $rc during start-up"
        fi
        if port_open "$BROKER_PORT"; then
            log "broker pid $BROKER_PID listening on $BOOTSTRAP"
            return 0
        fi
        sleep 0.1
    done
    fail "broker did not listen on $BROKER_PORT within 20 s"
}

# The mock cluster picks its own port; rk_roundtrip --serve-mock prints it.
start_mock()
{
    : >"$BROKER_DIR/mock.out"
    "$RK_TOOL" --serve-mock >"$BROKER_DIR/mock.out" 2>>"$BROKER_DIR/broker.log" &
    BROKER_PID=$!
    track_pid "$BROKER_PID"
    local i
    for i in $(seq 1 100); do
        BOOTSTRAP="$(head -n 1 "$BROKER_DIR/mock.out")"
        if [ -n "$BOOTSTRAP" ]; then
            BROKER_PORT="${BOOTSTRAP##*:}"
            log "mock cluster pid $BROKER_PID at $BOOTSTRAP"
            return 0
        fi
        sleep 0.1
    done
    fail "mock cluster did not start"
}

# stop_broker: SIGTERM, wait up to 20 s for a clean exit with status 0 (a
# sanitizer report at exit, such as a leak, makes the status nonzero and
# fails the script); past 20 s, SIGKILL and fail.
stop_broker()
{
    [ -n "$BROKER_PID" ] || return 0
    kill -TERM "$BROKER_PID" 2>/dev/null
    local i rc
    for i in $(seq 1 200); do
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            wait "$BROKER_PID" 2>/dev/null
            rc=$?
            BROKER_PID=""
            [ "$rc" = 0 ] || [ "${MOCK:-0}" = 1 ] || fail "broker exited with status $rc after SIGTERM"
            return 0
        fi
        sleep 0.1
    done
    kill -9 "$BROKER_PID" 2>/dev/null
    wait "$BROKER_PID" 2>/dev/null
    BROKER_PID=""
    fail "broker did not exit within 20 s of SIGTERM"
}

# kill9_broker: SIGKILL, no chance to flush anything.
kill9_broker()
{
    [ -n "$BROKER_PID" ] || return 0
    kill -9 "$BROKER_PID" 2>/dev/null
    wait "$BROKER_PID" 2>/dev/null
    echo "==== kill -9 $(date +%T.%N)" >>"$BROKER_DIR/broker.log"
    BROKER_PID=""
}

# restart_broker: start again on the same dir, port and arguments.
restart_broker() { start_broker "$BROKER_DIR" "${BROKER_ARGS[@]}"; }

# broker_alive: true while the broker process runs.
broker_alive() { [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; }

# fail MSG: print MSG and the broker log tail, exit 1 (the trap cleans up).
fail()
{
    FAILED=$((FAILED + 1))
    echo "FAIL: $TEST_NAME: $*" >&2
    broker_log_tail
    echo "$TEST_NAME: $PASSED passed, $FAILED failed"
    exit 1
}

pass()
{
    PASSED=$((PASSED + 1))
    echo "ok: $*" >&2
}

# soft_fail MSG: count a failure but keep going (finish exits 1).
soft_fail()
{
    FAILED=$((FAILED + 1))
    echo "FAIL: $TEST_NAME: $*" >&2
}

# check MSG CMD...: pass if CMD succeeds, else fail (stops the script).
check()
{
    local msg="$1"
    shift
    if "$@"; then
        pass "$msg"
    else
        fail "$msg (command: $*)"
    fi
}

# finish: print the summary line; exit status says whether all passed.
finish()
{
    if [ "$FAILED" -gt 0 ]; then
        broker_log_tail
    fi
    echo "$TEST_NAME: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}

# lines FILE: its line count (0 while it does not exist); have_lines FILE N:
# it has at least N (a sink's output growing as records arrive)
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
have_lines() { [ "$(lines "$1")" -ge "$2" ]; }

# req METHOD PATH [BODY]: a REST call to the base URL $U (a worker's
# listener); the answer's status in CODE, its body in $T/body.
req()
{
    local m="$1" p="$2"
    shift 2
    if [ $# -gt 0 ]; then
        CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' \
            --data-binary "$1" "$U$p")
    else
        CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$U$p")
    fi
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
wait_for()
{
    local secs="$1" i
    shift
    for i in $(seq 1 $((secs * 5))); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

# ---- benchmarks: memory the hypervisor has backed ---------------------------
# The hypervisor of a fresh VM backs guest memory on first touch and takes
# back what the guest frees (virtio free page reporting). Page-cache writes on
# such memory cost up to 8x the copy here (perf: copy_folio_from_iter_atomic;
# dd into the page cache: about 540 MB/s the first time, 4,400 MB/s right
# after), which made the third run of one pipeline on one broker 1.7x slower
# than the first: the broker's writes slow, and the worker's librdkafka
# producer, polling without a pause while its five requests are out, took
# 3.4x the CPU. A host that has been up a while recycles page cache it
# already holds. To measure that,
# a bench calls warm_memory before each timed run: it writes and deletes
# about as many bytes as the run will leave in the page cache, so the run
# gets memory that is backed.

# warm_memory_init MB: sets WARM_MB and WARM_NOTE (what the first write and
# the one right after it cost, to print with the figures).
warm_memory_init()
{
    WARM_MB="$1"
    local t0 t1 t2
    t0=$(date +%s.%N); warm_memory; t1=$(date +%s.%N); warm_memory; t2=$(date +%s.%N)
    WARM_NOTE=$(printf 'page cache writes of %d MB: %s MB/s the first time, %s MB/s right after' \
        "$WARM_MB" "$(echo "$WARM_MB / ($t1 - $t0)" | bc)" "$(echo "$WARM_MB / ($t2 - $t1)" | bc)")
}

# Also writes back what earlier phases left dirty first: PostgreSQL runs
# with fsync off in the benches, and the kernel writing back its setup's
# data 30 s later (dirty_expire_centisecs) stalled the broker's fsyncs for
# 200 ms in the middle of a later phase.
warm_memory()
{
    sync
    dd if=/dev/zero of="$T/warm" bs=1M count="$WARM_MB" status=none
    rm -f "$T/warm"
}

# ---- test certificates --------------------------------------------------------

# test_ca DIR: a test CA (DIR/ca.pem, DIR/ca.key) and another one that signs
# nothing a server trusts (DIR/other-ca.pem); openssl's messages go to
# DIR/openssl.log. Then signed NAME CA CN: DIR/NAME.key (unencrypted) and
# DIR/NAME.pem for CN, subjectAltName localhost and 127.0.0.1, signed by
# DIR/CA.pem.
test_ca()
{
    CERT_DIR="$1"
    mkdir -p "$CERT_DIR"
    command -v openssl >/dev/null || fail "openssl is not installed (scripts/install-deps.sh)"
    ossl req -x509 -newkey rsa:2048 -nodes -keyout "$CERT_DIR/ca.key" -out "$CERT_DIR/ca.pem" \
        -days 2 -subj "/CN=sluice test CA"
    ossl req -x509 -newkey rsa:2048 -nodes -keyout "$CERT_DIR/other-ca.key" \
        -out "$CERT_DIR/other-ca.pem" -days 2 -subj "/CN=some other CA"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$CERT_DIR/san.cnf"
}
ossl() { openssl "$@" 2>>"$CERT_DIR/openssl.log" || fail "openssl $1 failed: $(tail -3 "$CERT_DIR/openssl.log")"; }
signed()
{
    ossl req -newkey rsa:2048 -nodes -keyout "$CERT_DIR/$1.key" -out "$CERT_DIR/$1.csr" -subj "/CN=$3"
    ossl x509 -req -in "$CERT_DIR/$1.csr" -CA "$CERT_DIR/$2.pem" -CAkey "$CERT_DIR/$2.key" \
        -CAcreateserial -out "$CERT_DIR/$1.pem" -days 2 -extfile "$CERT_DIR/san.cnf"
}

# ---- the worker's companions ------------------------------------------------

# start_registry: `sluice registry` on a free port over $BOOTSTRAP (start the
# broker first). Sets REG_PORT and REGISTRY (its URL); logs to
# $T/registry.log.
start_registry()
{
    REG_PORT="$(free_port)"
    REGISTRY="http://127.0.0.1:$REG_PORT"
    "$SLUICE" registry --set "listeners=$REGISTRY" --set "kafkastore.bootstrap.servers=$BOOTSTRAP" \
        2>>"$T/registry.log" &
    track_pid $!
    wait_for 30 port_open "$REG_PORT" || fail "the schema registry did not listen on $REG_PORT"
}

# stop_worker / kill9_worker: end the worker started as $worker_pid, with
# SIGTERM (it must exit 0) or SIGKILL.
stop_worker()
{
    kill -TERM "$worker_pid"
    wait "$worker_pid"
    local rc=$?
    [ "$rc" = 0 ] || fail "worker exited with $rc after SIGTERM"
}
kill9_worker()
{
    kill -9 "$worker_pid"
    wait "$worker_pid" 2>/dev/null
    [ -z "${T:-}" ] || echo "==== worker kill -9 $(date +%T.%N)" >>"$T/worker.log"
}

# ---- s3rver (npm) and awscli, for the S3 sink --------------------------------

# s3_init: checks that s3rver and awscli are installed and exports the AWS_*
# environment awscli needs to talk to s3rver. Sets S3RVER (the program).
s3_init()
{
    S3RVER="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/node_modules/.bin/s3rver"
    [ -x "$S3RVER" ] || { echo "$TEST_NAME: $S3RVER missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
    command -v aws >/dev/null || { echo "$TEST_NAME: awscli missing" >&2; exit 1; }
    export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
    export AWS_EC2_METADATA_DISABLED=true
}

# start_s3rver PORT DIR [s3rver options]: s3rver on PORT with its data in DIR
# (S3RVER_PID); logs to $T/s3rver.log.
start_s3rver()
{
    local port="$1" dir="$2"
    shift 2
    mkdir -p "$dir"
    "$S3RVER" -d "$dir" -a 127.0.0.1 -p "$port" --silent "$@" >>"$T/s3rver.log" 2>&1 &
    S3RVER_PID=$!
    track_pid "$S3RVER_PID"
    wait_for 20 port_open "$port" || fail "s3rver did not listen on $port"
}

# s3 ARGS...: awscli against the s3rver at $S3URL.
s3() { aws --endpoint-url "$S3URL" "$@"; }

# s3_records CONNECTOR: how many records the S3 sink's tasks logged in
# complete objects ("[<connector>/<task>] object ... complete: N records").
s3_records()
{
    grep "\[$1/[0-9]*\] object .* complete: " "$T/worker.log" | grep -o 'complete: [0-9]*' |
        awk '{s += $2} END {print s + 0}'
}

# refused ROLE WANT ARGS...: `sluice ROLE ARGS` must exit non-zero at once
# (not by a signal or the 20 s timeout), its output holding WANT and none
# of the strings in the caller's SECRETS array (a refusal never shows a
# password). The output is kept in $T/refused.log.
refused()
{
    local role="$1" want="$2" out rc s
    shift 2
    out="$(timeout 20 "$SLUICE" "$role" "$@" 2>&1)"
    rc=$?
    echo "$out" >>"$T/refused.log"
    [ "$rc" != 0 ] && [ "$rc" -lt 124 ] || fail "$role $*: expected a refusal, exit status $rc"
    case "$out" in *"$want"*) ;; *) fail "$role: expected '$want' in: $out" ;; esac
    for s in ${SECRETS[@]+"${SECRETS[@]}"}; do
        case "$out" in *"$s"*) fail "the refusal shows the password '$s': $out" ;; esac
    done
    pass "$role refuses: $want"
}
