# pg_lib.sh - a throw-away PostgreSQL 15 server for the postgres source's
# tests and benchmark. Source it after lib.sh (it uses T, log, fail):
#
#   start_pg NAME [postgresql.conf lines...]   # sets PG_PORT_<NAME>, dir $T/pg-NAME
#   pg_sql NAME DB "SQL"                        # psql as the superuser, -XAtq
#   pg_worker DIR                               # `sluice worker` on DIR's pipelines
#   check_py "what" <<'PY' ... PY               # python asserts over $OUT's records
#   stop_pgs                                    # in the EXIT trap (pg_trap does it)
#
# PostgreSQL refuses to run as root, so the cluster belongs to the `postgres`
# user (runuser). Authentication: the superuser `postgres` is trusted on
# loopback; every other user (the connector's `sluice`) needs its password
# (scram-sha-256), so a wrong password is a real authentication failure.

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
export PG_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" # pg_expect.py
PG_NAMES=()

# pg_trap: stop every server started here, then lib.sh's cleanup.
pg_trap() { trap 'stop_pgs; cleanup' EXIT; }

stop_pgs()
{
    local n
    for n in "${PG_NAMES[@]}"; do
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T/pg-$n/data" -m immediate stop >/dev/null 2>&1
    done
}

pg_port() { eval echo "\${PG_PORT_$1}"; }

start_pg()
{
    local name="$1" port dir="$T/pg-$1"
    shift
    port="$(free_port)"
    chmod o+x "$T"
    mkdir -p "$dir"
    chown postgres "$dir"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
        --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; fail "initdb $name"; }
    {
        echo "port = $port"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir'"
        echo "max_replication_slots = 10"
        echo "max_wal_senders = 10"
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
        echo "shared_buffers = 64MB"
        local line
        for line in "$@"; do echo "$line"; done
    } >>"$dir/data/postgresql.conf"
    cat >"$dir/data/pg_hba.conf" <<EOF
local all all trust
host all postgres 127.0.0.1/32 trust
host replication postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
host replication all 127.0.0.1/32 scram-sha-256
EOF
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        >/dev/null || { tail -20 "$dir/server.log" >&2; fail "PostgreSQL $name did not start"; }
    PG_NAMES+=("$name")
    eval "PG_PORT_$name=$port"
    log "PostgreSQL $name listening on 127.0.0.1:$port"
}

pg_sql()
{
    local name="$1" db="$2"
    shift 2
    psql -h 127.0.0.1 -p "$(pg_port "$name")" -U postgres -d "$db" -XAtq -v ON_ERROR_STOP=1 -c "$*"
}

# pg_sql_file NAME DB FILE
pg_sql_file()
{
    psql -h 127.0.0.1 -p "$(pg_port "$1")" -U postgres -d "$2" -XAtq -v ON_ERROR_STOP=1 -f "$3"
}

# pg_worker PIPELINES_DIR: `sluice worker` running the pipelines there against
# the broker and the registry (start_broker, start_registry), offsets stored
# every 500 ms, its log in $T/worker.log; sets W (its REST URL) and worker_pid.
pg_worker()
{
    local pp=()
    W="http://127.0.0.1:$(free_port)"
    [ -n "${PLUGIN_PATH:-}" ] && pp=(--set "plugin.path=$PLUGIN_PATH")
    "$SLUICE" worker --set "bootstrap.servers=$BOOTSTRAP" --set "pipelines.dir=$1" --set "listeners=$W" \
        --set "schema.registry.url=$REGISTRY" --set offset.flush.interval.ms=500 "${pp[@]}" \
        2>"$T/worker.log" &
    worker_pid=$!
    track_pid $worker_pid
}

# check_py "what" [ARGS...] <<'PY' ... PY: python3 asserts over the records
# of the file $OUT (a file sink's JSON lines): `recs` holds them (dicts),
# `of(topic, op)` picks some, `expect(cond, msg)` records a failure, ROW1 is
# pg_expect.py's, sys.argv[3:] are ARGS. Any failure fails "what", and so
# does the check itself failing (an exception, its traceback shown): a
# check that cannot run has not passed.
check_py()
{
    local what="$1" out rc
    out=$(python3 - "$OUT" "$@" 2>&1 <<PYEOF
import json, sys
sys.path.insert(0, "$PG_LIB_DIR")
from pg_expect import ROW1
recs = [json.loads(l) for l in open(sys.argv[1])]
fails = []
def expect(cond, msg):
    if not cond:
        fails.append(msg)
def of(topic, op=None):
    return [r for r in recs if r["topic"] == topic and (op is None or (r["value"] or {}).get("op") == op)]
$(cat)
for f in fails:
    print(f)
PYEOF
)
    rc=$?
    if [ -n "$out" ] || [ "$rc" != 0 ]; then
        echo "$out" | tail -30 >&2
        fail "$what (python3 exited with $rc)"
    fi
    pass "$what"
}
