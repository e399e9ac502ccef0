#!/usr/bin/env bash
# jobqd's HTTP path and single durable submits under a client that costs almost nothing
# (httpload.c: one C thread, poll(), kept-alive connections, or a new connection per request as
# one `jobq` command per request makes), so that jobqd's own cost shows: requests/s and jobqd's
# CPU per request. peers.py's rows use Python clients, which spend about as much CPU per
# request as jobqd, on the same two cores.
#
#   Benchmarks/api-load.sh [--rounds N] [--seconds S] [BIN...]
#
# BIN: folders with jobqd and jobq (default .build/release); with several, their rounds
# alternate (order reversed every other round), for an A/B of two builds in one run. Each
# measurement starts a fresh jobqd (durability full, its queue paused, state under /var/tmp),
# and after the submits checks that the store holds every acknowledged job.
set -euo pipefail
shopt -s inherit_errexit  # a failed check inside measure() stops the run
cd "$(dirname "$0")/.."
ROUNDS=3
SECONDS_EACH=5
BINS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --seconds) SECONDS_EACH=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) BINS+=("$1"); shift ;;
    esac
done
[ ${#BINS[@]} -gt 0 ] || BINS=(.build/release)
for bin in "${BINS[@]}"; do
    [ -x "$bin/jobqd" ] && [ -x "$bin/jobq" ] || { echo "api-load: no jobqd and jobq in $bin (make release)" >&2; exit 2; }
done
LOAD=Benchmarks/.build-httpload/httpload
mkdir -p "$(dirname "$LOAD")"
if [ ! -x "$LOAD" ] || [ Benchmarks/httpload.c -nt "$LOAD" ]; then
    CC=$(command -v cc || command -v gcc || command -v clang) || { echo "api-load: no C compiler (cc, gcc or clang)" >&2; exit 2; }
    "$CC" -O2 -Wall -Wextra -Werror -o "$LOAD" Benchmarks/httpload.c
fi
WORK=$(mktemp -d /var/tmp/jobq-api-load.XXXXXX)
DAEMON=
cleanup() {
    [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# One measurement: prints "<req/s> <us of jobqd CPU per request>".
measure() {  # bin connections keep|new path [body]
    local bin=$1 connections=$2 mode=$3 path=$4 body=${5:-} state out t0 t1 count flags=()
    [ "$mode" = new ] && flags=(--new-connections)
    state=$(mktemp -d "$WORK/d.XXXXXX")
    "$bin/jobqd" --state-dir "$state/state" --socket "$state/sock" --log-level warning >"$state/log" 2>&1 &
    DAEMON=$!
    # measure() runs in a command substitution's subshell: a failed check or load ends that
    # subshell, whose own trap stops this daemon (the script's cleanup cannot see its pid).
    trap '[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null' EXIT
    for _ in $(seq 200); do [ -S "$state/sock" ] && break; sleep 0.025; done
    "$bin/jobq" --socket "$state/sock" pause >/dev/null
    t0=$(cut -d' ' -f14,15 "/proc/$DAEMON/stat")
    if [ -n "$body" ]; then
        out=$("$LOAD" "${flags[@]}" "$state/sock" "$connections" "$SECONDS_EACH" "$path" "$body")
    else
        out=$("$LOAD" "${flags[@]}" "$state/sock" "$connections" "$SECONDS_EACH" "$path")
    fi
    t1=$(cut -d' ' -f14,15 "/proc/$DAEMON/stat")
    count=$(echo "$out" | sed -n 's/.*(\([0-9]*\) in .*/\1/p')
    if [ -n "$body" ]; then
        # Every acknowledged submit is stored; requests still in flight at the end may be too.
        "$bin/jobq" --socket "$state/sock" status --json | python3 -c "
import json, sys
queued = json.load(sys.stdin)['states']['queued']
if not $count <= queued <= $count + $connections:
    sys.exit(f'api-load: {queued} jobs stored after $count acknowledged submits')"
    fi
    kill "$DAEMON"; wait "$DAEMON" || true; DAEMON=
    rm -rf "$state"
    python3 -c "import sys; t0=sum(map(int,'$t0'.split())); t1=sum(map(int,'$t1'.split())); \
print(f\"{float('$out'.split()[0]):.0f} {(t1 - t0) * 1e6 / $(getconf CLK_TCK) / $count:.1f}\")"
}

# connections, kept alive or new per request, path
SCENARIOS=("1 keep /healthz" "32 keep /healthz" "1 keep /v1/jobs" "32 keep /v1/jobs" "1 new /healthz" "1 new /v1/jobs")
declare -A RESULTS
for round in $(seq "$ROUNDS"); do
    order=("${BINS[@]}")
    if [ $((round % 2)) -eq 0 ]; then
        order=(); for ((i = ${#BINS[@]} - 1; i >= 0; i--)); do order+=("${BINS[$i]}"); done
    fi
    for scenario in "${SCENARIOS[@]}"; do
        read -r connections mode path <<<"$scenario"
        for bin in "${order[@]}"; do
            body=; [ "$path" = /v1/jobs ] && body='{"argv":["true"]}'
            result=$(measure "$bin" "$connections" "$mode" "$path" "$body")
            echo "round $round, $bin, $connections connection(s) ($mode) $path: $result (req/s, us of jobqd CPU per request)" >&2
            RESULTS["$bin|$scenario"]+="$result;"
        done
    done
done

echo "| build | request | connections | req/s (median of $ROUNDS) | jobqd CPU per request (median) | rounds |"
echo "|---|---|---:|---:|---:|---|"
for bin in "${BINS[@]}"; do
    for scenario in "${SCENARIOS[@]}"; do
        read -r connections mode path <<<"$scenario"
        what=$([ "$path" = /v1/jobs ] && echo 'POST /v1/jobs `{"argv":["true"]}` (durable)' || echo "GET $path")
        [ "$mode" = new ] && connections="$connections, a new one per request"
        python3 - "$bin" "$what" "$connections" "${RESULTS["$bin|$scenario"]}" <<'PY'
import statistics, sys
bin, what, connections, raw = sys.argv[1:]
pairs = [tuple(map(float, item.split())) for item in raw.split(";") if item]
rates = [p[0] for p in pairs]; cpus = [p[1] for p in pairs]
print(f"| {bin} | {what} | {connections} | {statistics.median(rates):,.0f} | {statistics.median(cpus):.0f} us | "
      + ", ".join(f"{r:,.0f}" for r in rates) + " |")
PY
    done
done
