#!/usr/bin/env python3
"""Crash loop: submitters on several connections keep submitting while jobqd is killed with
SIGKILL at random moments and restarted, --cycles times. Then, with the daemon up for good:

- every acknowledged job is in the store, once: gated submitters retry a submit whose answer
  was lost with the same idempotency key (their jobs wait behind a gate job, so the key stays
  live), and each key must name exactly one job, the one acknowledged;
- every job reaches a terminal state (POST /v1/join drains);
- no job started after the store recorded it as succeeded, and no job started more often than
  its recorded runs (each start appends a line to a file);
- no process of a killed daemon's jobs outlives the restart (their jobs run again: two copies
  of one job must not run at once);
- PRAGMA integrity_check says ok.

    scripts/reliability/crash_loop.py [--cycles 50] [--submitters 6] [--seed N]
"""

import argparse
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir, all_jobs, join, integrity, read_run_journal, check_run_journal, overlapping_runs  # noqa: E402


class Submitter(threading.Thread):
    """Submits until told to stop. A gated submitter sends each job with an idempotency key and
    resends the same key until it gets an answer; a free one sends without key and counts an
    unanswered submit as lost (the job may or may not exist)."""

    def __init__(self, number, socket_path, up, stop, gate, runs, gated):
        super().__init__(daemon=True)
        self.number, self.socket_path, self.up, self.stop, self.gate = number, socket_path, up, stop, gate
        self.runs, self.gated = runs, gated
        self.acknowledged = {}  # id -> key (or None)
        self.unanswered = 0
        self.refused = []
        self.errors = 0

    def spec(self, key):
        # JOBQ_RUN numbers every start (JOBQ_ATTEMPT repeats after an interrupted attempt).
        script = ('echo "start $JOBQ_JOB_ID $JOBQ_RUN $(date +%s.%N)" >> "$0"; sleep 0.05; '
                  'echo "end $JOBQ_JOB_ID $JOBQ_RUN $(date +%s.%N)" >> "$0"')
        spec = {"argv": ["sh", "-c", script, self.runs], "queue": "gated" if self.gated else "free"}
        if self.gated:
            spec.update({"idempotency_key": key, "after": [self.gate]})
        return spec

    def run(self):
        client = Client(self.socket_path, timeout=60)
        n = 0
        while not self.stop.is_set():
            n += 1
            batch = 1 if n % 3 else 4  # singles and small all-or-nothing batches
            keys = [f"s{self.number}-{n}-{i}" for i in range(batch)]
            body = self.spec(keys[0]) if batch == 1 else {"jobs": [self.spec(k) for k in keys]}
            while True:
                self.up.wait()
                try:
                    status, answer = client.request("POST", "/v1/jobs", body)
                except OSError:
                    self.errors += 1
                    if self.gated:
                        self.up.wait()
                        time.sleep(0.01)
                        continue  # same keys again: the store must not create them twice
                    self.unanswered += batch
                    break
                if status in (200, 201):
                    for key, item in zip(keys, answer["jobs"]):
                        self.acknowledged[item["id"]] = key if self.gated else None
                elif status == 503:  # shutting_down: not stored, try again
                    continue
                else:
                    self.refused.append((status, answer))
                break
        client.close()


def main(results):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=50, help="kill -9 and restart this many times")
    parser.add_argument("--submitters", type=int, default=6, help="concurrent connections submitting")
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    parser.add_argument("--workers", type=int, default=8, help="jobs run at once in each queue")
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"crash loop: {options.cycles} cycles, {options.submitters} submitters, seed {seed}", flush=True)

    with Workdir("crash") as work:
        runs = os.path.join(work.path, "runs")
        gate_file = os.path.join(work.path, "open")
        daemon = work.daemon(args=["--workers", str(options.workers)])
        daemon.start()
        client = Client(daemon.socket)
        status, answer = client.request("POST", "/v1/jobs", {
            "argv": ["sh", "-c", 'while [ ! -e "$0" ]; do sleep 0.05; done', gate_file], "queue": "gate"})
        assert status == 201, answer
        gate = answer["jobs"][0]["id"]
        client.close()

        up, stop = threading.Event(), threading.Event()
        up.set()
        submitters = [Submitter(i, daemon.socket, up, stop, gate, runs, gated=(i % 2 == 0))
                      for i in range(options.submitters)]
        for s in submitters:
            s.start()
        started = time.monotonic()
        for cycle in range(options.cycles):
            time.sleep(rng.uniform(0.05, 0.6))  # a random moment in the daemon's life
            up.clear()
            daemon.kill9()
            daemon.start()
            up.set()
        crash_seconds = time.monotonic() - started
        stop.set()
        for s in submitters:
            s.join(120)
        open(gate_file, "w").close()

        client = Client(daemon.socket, timeout=600)
        drained = join(client, timeout=600)
        jobs = {job["id"]: job for job in all_jobs(client)}
        client.close()
        exit_status = daemon.stop()

        acknowledged = {}
        for s in submitters:
            acknowledged.update(s.acknowledged)
        gated_ack = {i: k for i, k in acknowledged.items() if k is not None}
        unanswered = sum(s.unanswered for s in submitters)
        print(f"  {options.cycles} kills in {crash_seconds:.1f} s; {len(acknowledged)} jobs acknowledged "
              f"({len(gated_ack)} gated with keys), {unanswered} free submits unanswered, "
              f"{len(jobs) - 1} jobs in the store", flush=True)

        results.check("every submit was acknowledged or cut by a kill (none refused)",
                      not any(s.refused for s in submitters),
                      "; ".join(str(r) for s in submitters for r in s.refused[:3]))
        missing = [i for i in acknowledged if i not in jobs]
        results.check("every acknowledged job is in the store", not missing, f"missing {missing[:10]}")
        by_key = {}
        for job in jobs.values():
            key = job["spec"].get("idempotency_key")
            if key:
                by_key.setdefault(key, []).append(job["id"])
        twice = {k: v for k, v in by_key.items() if len(v) > 1}
        results.check("each idempotency key names one job (a resent submit is not stored twice)",
                      not twice, f"{list(twice.items())[:5]}")
        mismatched = [i for i, k in gated_ack.items() if by_key.get(k) != [i]]
        results.check("each gated job is the one its key's answer acknowledged", not mismatched,
                      f"{mismatched[:10]}")
        extra = len(jobs) - 1 - len(acknowledged)
        results.check("the store holds no more jobs than acknowledged plus unanswered submits",
                      0 <= extra <= unanswered, f"{extra} unacknowledged of {unanswered} unanswered")
        results.check("every job reached a terminal state", drained and all(
            j["state"] in ("succeeded", "failed", "cancelled") for j in jobs.values()),
            f"{sorted({j['state'] for j in jobs.values()})}")
        failed = [j["id"] for j in jobs.values() if j["state"] != "succeeded"]
        results.check("every job succeeded", not failed, f"{len(failed)}: {failed[:10]}")

        starts, ends = read_run_journal(runs)
        reruns = check_run_journal(results, jobs, starts, skip=(gate,))
        print(f"  {sum(len(r) for r in starts.values())} starts recorded, {reruns} jobs ran more than once "
              "(interrupted by a kill: at least once)", flush=True)
        overlaps = overlapping_runs(starts, ends)
        results.check("no two runs of one job overlapped (a killed daemon's job is stopped before its rerun)",
                      not overlaps, f"{len(overlaps)}: {overlaps[:5]}")
        results.check("the daemon stopped cleanly at the end", exit_status == 0, f"exit {exit_status}")
        check = integrity(daemon.state_dir)
        results.check("PRAGMA integrity_check", check == ["ok"], f"{check[:3]}")


if __name__ == "__main__":
    run("crash-loop", main)
