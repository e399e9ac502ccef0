#!/usr/bin/env bash
# A private PostgreSQL cluster for jobq's tests and benchmarks: made by initdb in a directory of
# its own, run by an unprivileged user, reachable only through a Unix socket in that directory.
# Nothing here touches a system-wide cluster.
#
#   scripts/postgres-cluster.sh start DIR [ADDRESSES]
#                                           make (when new) and start a cluster in DIR; prints its URL.
#                                           With ADDRESSES (comma-separated IPs), it also listens on
#                                           TCP there, trusting every client that reaches it: for
#                                           tests on private addresses (a veth pair) only
#   scripts/postgres-cluster.sh stop DIR    stop it and remove DIR
#   scripts/postgres-cluster.sh restart DIR stop it (fast: every connection is cut) and start it again
#   scripts/postgres-cluster.sh url DIR     the URL of the cluster in DIR
#   scripts/postgres-cluster.sh createdb DIR NAME
#                                           a new, empty database NAME in the cluster in DIR
#   scripts/postgres-cluster.sh run -- COMMAND...
#                                           a cluster in a new temporary directory for COMMAND, which
#                                           finds it in JOBQ_TEST_POSTGRES; stopped and removed after
#
# The cluster runs as the invoking user, or as `postgres` when invoked as root (initdb refuses
# root). Its database `jobq` belongs to the role `jobq`; local connections are trusted, which the
# socket's directory (mode 0700 but for its owner and root) keeps to that user and root.
# PG_BIN names PostgreSQL's programs (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

fail() { echo "postgres-cluster: $*" >&2; exit 1; }

pg_bin() {
    if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
    local newest
    newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$newest" ] || fail "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)"
    echo "$newest"
}

# The user that runs the cluster, and a prefix that runs a command as that user.
owner() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || fail "no user 'postgres' to run the cluster as (apt-get install postgresql)"
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        "$@"
    fi
}

url() { echo "postgresql://jobq@localhost/jobq?host=$(cd "$1" && pwd)/socket"; }

# The server's options: a socket in the directory, TCP only on the addresses given at start
# (kept in DIR/listen for a restart), fsync as in production (the store's durability is tested).
server_options() {
    local dir=$1 listen=""
    [ -f "$dir/listen" ] && listen=$(cat "$dir/listen")
    echo "-c listen_addresses='$listen' -c unix_socket_directories='$dir/socket' -c max_connections=200"
}

start() {
    local dir=$1 listen=${2:-} bin
    bin=$(pg_bin)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        mkdir -p "$dir/data" "$dir/socket"
        chown "$(owner):" "$dir" "$dir/data" "$dir/socket"
        chmod 0700 "$dir/data" "$dir/socket"
        as_owner "$bin/initdb" --pgdata="$dir/data" --username=jobq --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; fail "initdb failed"; }
    fi
    if [ -n "$listen" ]; then
        echo "$listen" >"$dir/listen"
        grep -q '^host all all 0.0.0.0/0 trust' "$dir/data/pg_hba.conf" \
            || echo 'host all all 0.0.0.0/0 trust' | as_owner tee -a "$dir/data/pg_hba.conf" >/dev/null
    fi
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/postgresql.log" --wait --silent \
        -o "$(server_options "$dir")" start \
        || { cat "$dir/postgresql.log" >&2; fail "the cluster in $dir did not start"; }
    if ! as_owner "$bin/psql" --host="$dir/socket" --username=jobq --dbname=postgres --quiet --no-psqlrc \
        --tuples-only --command="SELECT 1 FROM pg_database WHERE datname = 'jobq'" | grep -q 1; then
        as_owner "$bin/createdb" --host="$dir/socket" --username=jobq --owner=jobq jobq
    fi
    url "$dir"
}

stop() {
    local dir=$1 bin
    bin=$(pg_bin)
    [ -d "$dir" ] || return 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" --pgdata="$dir/data" --wait --silent --mode=fast stop || true
    fi
    rm -rf "$dir"
}

restart() {
    local dir bin
    dir=$(cd "$1" && pwd)
    bin=$(pg_bin)
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --wait --silent --mode=fast stop
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/postgresql.log" --wait --silent \
        -o "$(server_options "$dir")" start \
        || { cat "$dir/postgresql.log" >&2; fail "the cluster in $dir did not start again"; }
}

case "${1:-}" in
    createdb)
        [ $# = 3 ] || fail "usage: $0 createdb DIR NAME"
        as_owner "$(pg_bin)/createdb" --host="$(cd "$2" && pwd)/socket" --username=jobq --owner=jobq "$3"
        ;;
    start) [ $# = 2 ] || [ $# = 3 ] || fail "usage: $0 start DIR [ADDRESSES]"; start "$2" "${3:-}" ;;
    stop) [ $# = 2 ] || fail "usage: $0 stop DIR"; stop "$2" ;;
    restart) [ $# = 2 ] || fail "usage: $0 restart DIR"; restart "$2" ;;
    url) [ $# = 2 ] || fail "usage: $0 url DIR"; url "$2" ;;
    run)
        shift
        [ "${1:-}" = "--" ] && shift
        [ $# -ge 1 ] || fail "usage: $0 run -- COMMAND..."
        dir=$(mktemp -d /tmp/jobq-postgres.XXXXXX)
        chmod 0755 "$dir"
        trap 'stop "$dir"' EXIT
        trap 'exit 130' INT TERM
        JOBQ_TEST_POSTGRES=$(start "$dir")
        export JOBQ_TEST_POSTGRES
        status=0
        "$@" || status=$?
        exit "$status"
        ;;
    *) fail "usage: $0 start DIR [ADDRESSES] | stop DIR | restart DIR | url DIR | createdb DIR NAME | run -- COMMAND..." ;;
esac
