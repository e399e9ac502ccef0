#!/usr/bin/env python3
"""jobq beside the tools people use today, on the same machine, in one run.

Run through Benchmarks/peers/run.sh, which installs the peers and builds jobq first. Scenarios
(each tool's rounds alternate with the others'; the table gives the median of the rounds):

  cli      N `true` jobs, one process per submit: `jobq submit -- true` vs `tsp -n true`,
           `nq -q true` and `echo true | batch`; submits/s and p50/p99 latency.
  api      durable submits over each daemon's socket, from 1 and from 32 client processes,
           single and batched: jobq (HTTP on its Unix socket, durability=full: the answer comes
           after the fsync) vs beanstalkd with a binlog (`-b`, default fsync window of 50 ms)
           and with `-b -f0` (fsync before each answer). beanstalkd's single puts go through
           greenstalk; it has no batch command, so its batched rows pipeline the puts (all the
           commands of a batch sent before the answers are read), jobq's send {"jobs": [...]}.
           The single rows also time GET /healthz from the same clients (jobq's HTTP path
           alone, no store): the bound of a single request.
  e2e      N `true` jobs with 2 workers, from the first submit to the last finish: jobq (one
           `jobq submit --stdin --split` batch, whose jobs exec `true` as tsp's and nq's do; one
           `jobq submit --stdin` batch, whose jobs are `/bin/sh -c true`; and one
           `jobq submit -- true` per job) vs tsp with 2 slots
           (one `tsp` per job) vs nq (one `nq` per job; nq runs one job at a time).
  consumers  N prefilled jobs leased and completed by 1 and 16 consumer processes, single and
           batched (lease max 100, then one POST /v1/leases/complete) vs beanstalkd's reserve +
           delete (greenstalk for single; pipelined reserve-with-timeout 0 and delete for
           batched), default binlog and -f0; jobq also with each lease's completions carried by
           its next lease request (one request and one transaction a lease); then put → get → task_done round trips on an idle
           queue (a long-polling lease vs a blocking reserve), p50/p99.
  postgres jobq nodes on a private PostgreSQL (scripts/postgres-cluster.sh) beside pgqueuer and
           procrastinate (pg_peer.py, their documented APIs) on the same server, a database
           each: enqueue single and batched (jobq over its API, its queue paused; the peers'
           enqueue / defer calls), dequeue + complete (jobq's leases of 100 by one consumer;
           one peer worker, batches of 100 for pgqueuer, concurrency 10 for procrastinate),
           `true` end to end with 1 and 3 nodes of 2 workers (jobqd nodes; peer worker
           processes running `true` as a subprocess), and `sleep 0.05` jobs on 1 and 3 nodes of
           8 workers; jobs/s, the peers' enqueue counted, their workers' start-up not.
  memory   jobqd's RSS idle, with 100,000 and with 1,000,000 queued jobs (its queue paused),
           and the time from start to READY=1 with them; beanstalkd's beside it.
  machine  what bounds the rows: 4 KiB pwrite+fdatasync rate in the state directory's
           file system, posix_spawn+waitpid rate of /bin/true.
  budget   where the time of one CLI submit goes, part by part, in alternating rounds: a
           static C and a static Swift program that do nothing (a client process's start),
           `jobq submit -- true` with no daemon (jobq's start), a static C client that makes
           jobq's very request (the daemon's durable answer on a new connection, for a client
           as cheap as C), and `jobq submit -- true`, each with jobqd's queue paused and
           running, beside `tsp -n true`. Needs a C compiler (cc, or the Swift toolchain's
           clang) and swiftc.

Every client is Python, the same for jobq and for the peers, and runs on the same two cores
as the daemons. Results: a table on stdout; --json FILE also writes them as JSON.
"""
import argparse
import json
import os
import time

from bench import BenchBase
from consumer_scenarios import ConsumerScenarios
from postgres_scenarios import PostgresScenarios
from daemon_scenarios import DaemonScenarios
from process_scenarios import ProcessScenarios
from tools import SCENARIOS


class Bench(BenchBase, ProcessScenarios, DaemonScenarios, ConsumerScenarios, PostgresScenarios):
    """Every scenario, on one state."""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="folder with jobqd and jobq (and jobq-cli beside jobq)")
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="run this scenario (repeatable); default all")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per scenario row (default 4)")
    parser.add_argument("--cli-jobs", type=int, default=2000, help="submits per tool in the CLI scenario")
    parser.add_argument("--api-jobs", type=int, default=100_000, help="jobs per tool and API row")
    parser.add_argument("--batch", type=int, default=1000, help="jobs per batch in the batched API rows")
    parser.add_argument("--e2e-jobs", type=int, default=10_000, help="jobs per tool end to end")
    parser.add_argument("--consumer-jobs", type=int, default=20_000, help="jobs per tool and round in the consumers rows")
    parser.add_argument("--round-trips", type=int, default=500, help="put → get → task_done round trips per tool")
    parser.add_argument("--pg-single", type=int, default=2000, help="jobs per tool, enqueued one at a time, on PostgreSQL")
    parser.add_argument("--pg-batched", type=int, default=50_000, help="jobs per tool, enqueued in batches, on PostgreSQL")
    parser.add_argument("--pg-consume", type=int, default=10_000, help="jobs per tool dequeued and completed on PostgreSQL")
    parser.add_argument("--pg-e2e", type=int, default=2000, help="`true` jobs per tool end to end on PostgreSQL")
    parser.add_argument("--pg-sleep", type=int, default=1200, help="`sleep 0.05` jobs per tool on PostgreSQL")
    parser.add_argument("--memory-jobs", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="queued sizes for the memory rows, ascending")
    parser.add_argument("--workdir", default="/var/tmp", help="where the state directories go (a disk, not a tmpfs)")
    parser.add_argument("--json", help="also write the results to this file")
    options = parser.parse_args()
    bench = Bench(options)
    started = time.time()
    try:
        for scenario in options.only or SCENARIOS:
            getattr(bench, scenario)()
    finally:
        bench.close()
    print(f"\njobq beside its peers, {time.strftime('%Y-%m-%d %H:%M', time.gmtime(started))} UTC, "
          f"{os.cpu_count()} cores, {time.time() - started:.0f} s\n")
    print(bench.table())
    if options.json:
        with open(options.json, "w") as f:
            json.dump(bench.results, f, indent=2)


if __name__ == "__main__":
    main()
