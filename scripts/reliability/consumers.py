#!/usr/bin/env python3
"""Leased consumers under fire: consumer processes lease payload jobs and complete them while
a producer keeps putting; consumers are killed with SIGKILL mid-job and jobqd is killed with
SIGKILL, at random moments, --cycles times; some consumers stall past their lease without a
heartbeat, so that their jobs are leased again while they still work. Then, with everything up
for good and well-behaved consumers:

- every acknowledged put is in the store and ends succeeded (the queue joins);
- no completion is lost once acknowledged: each job a consumer saw completed (200) is
  succeeded, by that run;
- a job is worked on by two consumers at once only after a lease expired: of two overlapping
  runs, the earlier one's completion is refused (409 lease_lost), never accepted; a job is
  completed by one run only;
- the stale consumers' completions were refused at least once (fencing was exercised);
- PRAGMA integrity_check says ok.

    scripts/reliability/consumers.py [--cycles 20] [--consumers 4] [--seed N]
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir, integrity  # noqa: E402

QUEUE = "work"
LEASE = 2.0


def consume(socket_path, journal_path, stall_every):
    """A consumer process: lease, work, complete; its first job and every `stall_every`th after
    (0: none) it works for twice the lease without a heartbeat, so that the lease expires under it. Each event is
    appended to the journal: start, done (completion answered 200) or refused (409)."""
    journal = open(journal_path, "a", buffering=1)
    client = Client(socket_path, timeout=60)
    taken = 0
    while True:
        try:
            status, answer = client.request("POST", f"/v1/queues/{QUEUE}/lease",
                                            {"max": 1, "wait_seconds": 5, "lease_seconds": LEASE, "consumer": f"pid {os.getpid()}"})
        except OSError:
            time.sleep(0.05)  # jobqd is restarting: its socket comes back
            continue
        if status != 200 or not answer["jobs"]:
            continue
        job = answer["jobs"][0]
        token = job["lease"]["token"]
        taken += 1
        journal.write(f"start {job['id']} {job['runs']} {time.time()} {os.getpid()}\n")
        if stall_every and taken % stall_every == 1:
            time.sleep(LEASE * 2)
        else:
            time.sleep(random.uniform(0, 0.05))
        while True:
            try:
                status, answer = client.request("POST", f"/v1/leases/{token}/complete", {"result": {"by": os.getpid()}})
                break
            except OSError:
                time.sleep(0.05)
        outcome = "done" if status == 200 else ("refused" if status == 409 else f"status-{status}")
        journal.write(f"{outcome} {job['id']} {job['runs']} {time.time()} {os.getpid()}\n")


class Producer(threading.Thread):
    def __init__(self, socket_path, stop):
        super().__init__(daemon=True)
        self.socket_path, self.stop = socket_path, stop
        self.acknowledged = set()

    def run(self):
        client = Client(self.socket_path, timeout=60)
        n = 0
        while not self.stop.is_set():
            n += 1
            # Retries: a consumer killed mid-job, or a lease answer lost with jobqd, costs an attempt.
            spec = {"queue": QUEUE, "payload": {"n": n}, "retry": {"max_attempts": 100, "backoff_seconds": 0}}
            try:
                status, answer = client.request("POST", "/v1/jobs", spec)
                if status == 201:
                    self.acknowledged.add(answer["jobs"][0]["id"])
            except OSError:
                time.sleep(0.05)
            time.sleep(0.005)


def main(results):
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--consumers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.randrange(1 << 30)
    print(f"  seed {seed}", flush=True)
    chaos = random.Random(seed)

    with Workdir("consumers") as work:
        daemon = work.daemon()
        daemon.start()
        journal = os.path.join(work.path, "journal")

        def spawn(stall_every):
            return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--consume", daemon.socket, journal, str(stall_every)],
                                    stdin=subprocess.DEVNULL, start_new_session=True)

        consumers = [spawn(2 if i == 0 else 0) for i in range(options.consumers)]
        stop = threading.Event()
        producer = Producer(daemon.socket, stop)
        producer.start()
        daemon_kills = consumer_kills = 0
        for cycle in range(options.cycles):
            time.sleep(chaos.uniform(0.2, 0.8))
            if cycle % 4 == 3:
                daemon.kill9()
                daemon_kills += 1
                daemon.start()
            else:
                index = chaos.randrange(1, len(consumers))  # the stalling one keeps its count
                consumers[index].send_signal(signal.SIGKILL)
                consumers[index].wait()
                consumer_kills += 1
                consumers[index] = spawn(0)
        stop.set()
        producer.join()
        # The stalling consumer goes; the others finish the queue.
        consumers[0].send_signal(signal.SIGKILL)
        consumers[0].wait()
        consumers[0] = spawn(0)
        client = Client(daemon.socket, timeout=600)
        status, joined = client.request("POST", f"/v1/queues/{QUEUE}/join", {"timeout_seconds": 300})
        for consumer in consumers:
            consumer.send_signal(signal.SIGKILL)
            consumer.wait()
        print(f"  {len(producer.acknowledged)} puts acknowledged; {consumer_kills} consumers and jobqd {daemon_kills} times killed",
              flush=True)
        results.check("the queue joined (every job terminal)", status == 200 and joined.get("done") is True, f"{status} {joined}")

        jobs = {}
        cursor = None
        while True:
            _, page = client.request("GET", f"/v1/jobs?queue={QUEUE}&limit=1000" + (f"&after={cursor}" if cursor else ""))
            for job in page["jobs"]:
                jobs[job["id"]] = job
            if not page.get("next_cursor"):
                break
            cursor = page["next_cursor"]
        missing = producer.acknowledged - set(jobs)
        results.check("every acknowledged put is in the store", not missing, f"{sorted(missing)[:5]}")
        unfinished = [job_id for job_id in producer.acknowledged if jobs.get(job_id, {}).get("state") != "succeeded"]
        results.check("every acknowledged put ended succeeded", not unfinished,
                      f"{[(i, jobs.get(i, {}).get('state'), jobs.get(i, {}).get('error')) for i in unfinished[:5]]}")

        events = [line.split() for line in open(journal) if line.strip()]
        starts = {}
        ends = {}
        done = {}
        refused = 0
        for kind, job_id, run_number, at, _ in events:
            key = (int(job_id), int(run_number))
            if kind == "start":
                starts[key] = float(at)
            else:
                ends[key] = float(at)
            if kind == "done":
                done.setdefault(int(job_id), set()).add(int(run_number))
            elif kind == "refused":
                refused += 1
        lost = [(job_id, runs) for job_id, runs in done.items()
                if jobs.get(job_id, {}).get("state") != "succeeded" or jobs[job_id]["runs"] < max(runs)]
        results.check("no acknowledged completion is lost", not lost, f"{lost[:5]}")
        twice = {job_id: runs for job_id, runs in done.items() if len(runs) > 1}
        results.check("each job was completed by one run only", not twice, f"{list(twice.items())[:5]}")
        overlapping_accepted = []
        overlaps = 0
        by_job = {}
        for (job_id, run_number), started in starts.items():
            by_job.setdefault(job_id, []).append((started, ends.get((job_id, run_number), float("inf")), run_number))
        for job_id, runs in by_job.items():
            runs.sort()
            for (start_a, end_a, run_a), (start_b, _, _) in zip(runs, runs[1:]):
                if start_b < end_a:
                    overlaps += 1
                    if run_a in done.get(job_id, set()):
                        overlapping_accepted.append((job_id, run_a))
        print(f"  {len(starts)} runs; {overlaps} overlapping pairs (a consumer killed or stalled past its lease); {refused} stale completions refused",
              flush=True)
        results.check("of two runs at once, the earlier run's completion was never accepted", not overlapping_accepted,
                      f"{overlapping_accepted[:5]}")
        results.check("stale completions were refused (fencing exercised)", refused > 0, f"{refused}")
        daemon.stop()
        check = integrity(daemon.state_dir)
        results.check("PRAGMA integrity_check", check == ["ok"], f"{check[:3]}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--consume":
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        run("consumers", main)
