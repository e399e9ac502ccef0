#!/usr/bin/env bash
# End to end, 10,000 `true` jobs with 2 workers: jobq's engine (in-process submits, durable)
# beside task-spooler with 2 slots (one `tsp` client process per submit) and the raw spawn rate
# of the job runner. Installs task-spooler from Debian when missing.
#   Benchmarks/engine-vs-tsp.sh [JOBS]
set -euo pipefail
cd "$(dirname "$0")"
JOBS="${1:-10000}"
if ! command -v tsp >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq task-spooler >/dev/null
fi
swift build -c release --product engine-bench >/dev/null
swift build -c release --product runner-bench >/dev/null

.build/release/runner-bench --jobs "$JOBS" --concurrency 2
.build/release/engine-bench --jobs "$JOBS" --workers 2

export TS_SOCKET="/tmp/jobq-bench-tsp.$$"
export TS_MAXFINISHED=$((JOBS + 10))
export TS_SAVELIST=""
tsp -K >/dev/null 2>&1 || true
tsp -S 2
start=$(date +%s.%N)
for _ in $(seq "$JOBS"); do tsp -n true >/dev/null; done
tsp -w >/dev/null 2>&1 || true
# -w waits for the last job; the one before may still run in the other slot: wait for all.
while tsp | grep -qE ' (running|queued) '; do tsp -w >/dev/null 2>&1 || true; done
end=$(date +%s.%N)
tsp -K >/dev/null 2>&1 || true
python3 -c "print(f'task-spooler: $JOBS jobs of true, 2 slots: {$JOBS / ($end - $start):.0f} jobs/s from first submit to last finish')"
