#!/usr/bin/env bash
# jobq beside task-spooler, nq, batch and beanstalkd, and on PostgreSQL beside pgqueuer and
# procrastinate, in one run on this machine: installs the peers from Debian (and greenstalk,
# beanstalkd's Python client, pgqueuer and procrastinate from PyPI) when missing, builds
# jobq's release binaries, then runs Benchmarks/peers/peers.py and prints its table.
#
#   Benchmarks/peers/run.sh [--quick] [peers.py options...]     (peers.py --help lists them)
#
# --quick runs tiny sizes (a check that every scenario works; its figures mean nothing).
# Needs root to install packages; the state directories go under /var/tmp.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

missing=()
for package in task-spooler nq beanstalkd at python3-venv postgresql; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
venv="${JOBQ_PEERS_VENV:-/var/cache/jobq-peers/venv}"
if ! "$venv/bin/python" -c "import greenstalk, pgqueuer, procrastinate, asyncpg, psycopg" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q greenstalk pgqueuer procrastinate asyncpg "psycopg[binary]"
fi

# the binaries make install installs: jobqd, jobq (static) with jobq-cli beside it
echo "building jobq's release binaries (make release)..." >&2
make --no-print-directory release >/dev/null
bin="$(mktemp -d /var/tmp/jobq-peers-bin.XXXXXX)"
trap 'rm -rf "$bin"' EXIT
cp .build/release/jobqd .build/release/jobq-cli .build/static-jobq/release/jobq "$bin/"

quick=()
if [[ "${1:-}" == "--quick" ]]; then
    shift
    quick=(--rounds 2 --cli-jobs 40 --api-jobs 2000 --batch 100 --e2e-jobs 200 --consumer-jobs 400 --round-trips 20 --memory-jobs 2000 4000
           --pg-single 50 --pg-batched 1000 --pg-consume 300 --pg-e2e 60 --pg-sleep 48)
fi
"$venv/bin/python" Benchmarks/peers/peers.py --bin "$bin" "${quick[@]}" "$@"
