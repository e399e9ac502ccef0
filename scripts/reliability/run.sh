#!/usr/bin/env bash
# The reliability suite: every script of scripts/reliability against the real jobqd, each on a
# temporary socket and state directory of its own, each bounded in time and printing
# "N passed, N failed"; then the whole suite's line.
#
#   scripts/reliability/run.sh           the long variants (docs/reliability.md has their figures)
#   scripts/reliability/run.sh --quick   the quick variants, run by `make test` (a few minutes)
#
# The binaries: $JOBQ_BIN_DIR, else the debug build (`swift build`). `make reliability` builds
# the release binaries and runs the long variants on them. Mounting a tmpfs, attaching loop
# devices and creating accounts need root; without it those scripts are skipped (and say so).
set -uo pipefail
cd "$(dirname "$0")"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

if [ $quick = 1 ]; then
    runs=(
        "crash_loop.py --cycles 10"
        "power_cut.py --cycles 4 --control-cycles 0"
        "full_disk.py"
        "db_faults.py"
        "fuzz_http.py --seconds 20"
        # 10 cases per operation and phase, at most 90 s; the floor only says that it ran (a
        # loaded CI machine made 180 requests in 60 s, an idle one about 400)
        "schemathesis_run.py --max-examples 10 --max-time 90 --min-requests 150"
        # no latency bound here: CI machines are noisy and the build is a debug one
        "load.py --connections 1000 --seconds 10 --p99-ms 0"
        "other_users.py"
        "run_as.py"
        "misbehaving_jobs.py"
        "consumers.py --cycles 12"
        "node_crash_loop.py --cycles 6"
    )
else
    runs=(
        "crash_loop.py --cycles 50"
        "power_cut.py --cycles 20 --control-cycles 3"
        "full_disk.py"
        "db_faults.py"
        "fuzz_http.py --seconds 300"
        "schemathesis_run.py --max-time 300 --min-requests 2000"
        "load.py --connections 1000 --seconds 60"
        "other_users.py"
        "run_as.py"
        "misbehaving_jobs.py"
        "consumers.py --cycles 60"
        "node_crash_loop.py --cycles 30"
    )
fi
needs_root="power_cut.py full_disk.py other_users.py run_as.py"

passed=0
failed=0
skipped=()
for run in "${runs[@]}"; do
    script=${run%% *}
    if [ "$(id -u)" != 0 ] && [[ " $needs_root " == *" $script "* ]]; then
        skipped+=("$script")
        continue
    fi
    echo "== $run"
    started=$(date +%s)
    # shellcheck disable=SC2086 # the run's arguments are words
    if timeout 1800 python3 ./$run </dev/null; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
    echo "   ($(( $(date +%s) - started )) s)"
done
[ ${#skipped[@]} -gt 0 ] && echo "skipped (they need root): ${skipped[*]}"
echo "reliability: $passed passed, $failed failed"
[ $failed = 0 ]
